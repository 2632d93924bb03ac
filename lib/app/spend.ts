/** The spend logs and rollups (lib/store/spend-logs): the table-stream consumer and the spend reports share them. */
import { SpendLogStore } from '../store/spend-logs.js';
import { dependency, documentClient } from './wiring.js';

export const spendLogStore = /* @__PURE__ */ dependency(
  'spendLogStore',
  (c) => new SpendLogStore(documentClient(), c.tableName, c.spendLogRetentionDays * 86_400),
);
