/** The admin API's dependencies (lib/app/wiring.ts is the seam). */
import { DynamoAdminStore } from '../store/admin-store.js';
import { dependency, documentClient, entityReader } from './wiring.js';

export const adminStore = /* @__PURE__ */ dependency(
  'adminStore',
  (c) =>
    new DynamoAdminStore(documentClient(), c.tableName, {
      shards: c.spendShards,
      invalidate: (ref) => entityReader().loader.invalidate(ref),
      settlementTtlSeconds: c.settlementTtlSeconds,
    }),
);
