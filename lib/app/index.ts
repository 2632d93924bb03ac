/** The whole wiring, for tests, bench and local mode (functions import only the parts they use). */
export * from './admin.js';
export * from './authorizer.js';
export * from './llm.js';
export * from './spend.js';
export * from './wiring.js';
