/** The llm function's dependencies (lib/app/wiring.ts is the seam). */
import { SqsSettlementJournal } from '../aws/settlement-queue.js';
import { SHARD_SIZES } from '../domain/rate-limits.js';
import { KeptObjectOwners } from '../llm/spend.js';
import { ModelRegistry } from '../registry/registry.js';
import { FileSettlementJournal } from '../spend/file-journal.js';
import { DynamoModelSource } from '../store/models.js';
import { DynamoObjectOwners } from '../store/objects.js';
import { DynamoRateLimiter } from '../store/rate-limits.js';
import { DynamoSettler, followMoves } from '../store/spend-ledger.js';
import { clock, dependency, documentClient, entityReader } from './wiring.js';

/** The model registry (one cached list per instance, kept for the cache TTL). */
export const modelRegistry = /* @__PURE__ */ dependency(
  'modelRegistry',
  (c) => new ModelRegistry(new DynamoModelSource(documentClient(), c.tableName), { ttlMs: c.cache.ttlMs }),
);

/** The settler, built once per instance; what it wrote is forgotten by this instance's cache. */
export const spendSettler = /* @__PURE__ */ dependency(
  'spendSettler',
  (c) =>
    new DynamoSettler(documentClient(), c.tableName, {
      ttlSeconds: c.settlementTtlSeconds,
      shards: c.spendShards,
      counters: c.spendCounters,
      // This instance's cache follows its own settlements: the next request reads nothing.
      onChanged: (moved) => followMoves(entityReader().loader, moved),
      onUncertain: (refs) => {
        for (const ref of refs) entityReader().loader.invalidate(ref);
      },
    }),
);

/** Rate-limit counters (lib/store/rate-limits): touched only by callers that have a limit. */
export const rateLimiter = /* @__PURE__ */ dependency(
  'rateLimiter',
  // The cache TTL: how long an instance may go on using a limit that changed (its old layout's counts still count).
  (c) => new DynamoRateLimiter(documentClient(), c.tableName, clock(), SHARD_SIZES, c.cache.ttlMs),
);

/** Who made each upstream object (stored responses, files, batches): lib/llm/objects. The store itself (the journal's replay writes to it). */
export const objectOwners = /* @__PURE__ */ dependency('objectOwners', (c) => new DynamoObjectOwners(documentClient(), c.tableName));

/** Where a settlement that could not be written waits for its replay (lib/store/settlement-journal). */
export const settlementJournal = /* @__PURE__ */ dependency('settlementJournal', (c) => {
  const j = c.settlementJournal;
  if (!j) return undefined;
  return 'queueUrl' in j ? new SqsSettlementJournal(j.queueUrl, c.region, c.store) : new FileSettlementJournal(j.dir);
});

/** The llm function's owner records: a record the store refuses waits in the journal for its replay (KeptObjectOwners). */
export const keptObjectOwners = /* @__PURE__ */ dependency(
  'keptObjectOwners',
  () => new KeptObjectOwners(objectOwners(), settlementJournal()),
);
