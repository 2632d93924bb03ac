/** The budget-alert consumer's dependencies over a test table, for tests that drive it record by record. */
import type { AlertDeps } from '../../lib/alerts/consume.js';
import { documentClient } from '../../lib/app/index.js';
import { config } from '../../lib/config.js';
import type { BudgetAlert } from '../../lib/domain/alerts.js';
import { AlertMarkers } from '../../lib/store/alerts.js';
import { EntityReader } from '../../lib/store/entities.js';
import { CachedLoader, DynamoBatchSource } from '../../lib/store/loader.js';

/** Counters read afresh (a 1 ms cache), markers on the table, one sink that collects into `seen`. */
export function alertTestDeps(tableName: string, opts: { clock: () => number; thresholds: number[]; seen: BudgetAlert[] }): AlertDeps {
  const reader = new EntityReader(
    new CachedLoader(new DynamoBatchSource(documentClient(), tableName, true), { ttlMs: 1, negativeTtlMs: 1, maxEntries: 10 }),
    config().spendShards,
  );
  const markers = new AlertMarkers(documentClient(), tableName, opts.clock);
  return {
    reader: () => reader,
    markers: () => markers,
    sinks: () => [async (a) => void opts.seen.push(a)],
    thresholds: () => opts.thresholds,
    clock: opts.clock,
  };
}
