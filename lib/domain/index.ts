/** The domain: records, the caller and its actor, budget entities and their chain, periods, cost. Pure. */
export * from './actor.js';
export * from './audit.js';
export * from './budget-entity.js';
export * from './caller.js';
export * from './chain.js';
export * from './cost.js';
export * from './enforcement.js';
export * from './periods.js';
export * from './rate-limits.js';
export * from './records.js';
export * from './sharding.js';
