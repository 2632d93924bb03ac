import { config } from '../config.js';
import { documentClient } from './client.js';
import { EntityReader } from './entities.js';
import { CachedLoader, DynamoBatchSource } from './loader.js';

export * from './client.js';
export * from './codec.js';
export * from './entities.js';
export * from './keys.js';
export * from './loader.js';

let reader: EntityReader | undefined;

/** The process's cached entity reader (one cache per Lambda instance). */
export function entityReader(): EntityReader {
  if (!reader) {
    const c = config();
    reader = new EntityReader(
      new CachedLoader(new DynamoBatchSource(documentClient(), c.tableName, c.consistentReads), {
        ttlMs: c.cache.ttlMs,
        negativeTtlMs: c.cache.negativeTtlMs,
        maxEntries: c.cache.maxEntries,
      }),
      c.spendShards,
    );
  }
  return reader;
}

/** Drops the process's reader and its cache (tests, and the local gateway on reconfiguration). */
export function resetEntityReader(): void {
  reader = undefined;
}
