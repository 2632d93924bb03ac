export * from './client.js';
export * from './codec.js';
export * from './entities.js';
export * from './keys.js';
export * from './loader.js';
