export * from './checks.js';
export * from './models.js';
export * from './route-access.js';
