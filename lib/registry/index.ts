export * from './registry.js';
export * from './upstream-key.js';
