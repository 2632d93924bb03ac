/** The llm function's dependencies (lib/app/wiring.ts is the seam). */
import { SqsSettlementJournal } from '../aws/settlement-queue.js';
import { ModelRegistry } from '../registry/registry.js';
import { FileSettlementJournal } from '../spend/file-journal.js';
import { DynamoModelSource } from '../store/models.js';
import { DynamoSettler, followMoves } from '../store/spend-ledger.js';
import { dependency, documentClient, entityReader } from './wiring.js';

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
      // This instance's cache follows its own settlements: the next request reads nothing.
      onChanged: (moved) => followMoves(entityReader().loader, moved),
    }),
);

/** Where a settlement that could not be written waits for its replay (lib/store/settlement-journal). */
export const settlementJournal = /* @__PURE__ */ dependency('settlementJournal', (c) => {
  const j = c.settlementJournal;
  if (!j) return undefined;
  return 'queueUrl' in j ? new SqsSettlementJournal(j.queueUrl, c.region) : new FileSettlementJournal(j.dir);
});
