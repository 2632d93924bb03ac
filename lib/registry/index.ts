import { config } from '../config.js';
import { documentClient } from '../store/client.js';
import { DynamoModelSource } from '../store/models.js';
import { ModelRegistry } from './registry.js';

export * from './registry.js';
export * from './upstream-key.js';

let registry: ModelRegistry | undefined;

/** The process's registry (one cached list per Lambda instance, kept for the cache TTL). */
export function modelRegistry(): ModelRegistry {
  if (!registry) {
    const c = config();
    registry = new ModelRegistry(new DynamoModelSource(documentClient(), c.tableName), { ttlMs: c.cache.ttlMs });
  }
  return registry;
}

/** Drops the process's registry and its cache (tests, and the local gateway on reconfiguration). */
export function resetModelRegistry(): void {
  registry = undefined;
}
