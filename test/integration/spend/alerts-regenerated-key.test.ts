/**
 * A regenerated key is the same key (found by review): it keeps its spend, budget and rate
 * limits under a new hash, but its alert markers were named by the hash, so the first request on
 * the new key announced again every level the key had already reached in the window. Markers
 * follow the key's lasting identity (its `rate_id`, kept across regenerations).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { handler as keysHandler } from '../../../functions/keys/handler.js';
import { startTableStream, type TableStream } from '../../../infra/local/table-stream.js';
import { alertConsumer } from '../../../lib/alerts/consume.js';
import { alertDeps, configureApp, documentClient, spendSettler } from '../../../lib/app/index.js';
import { hashKey } from '../../../lib/auth/keys.js';
import type { BudgetAlert } from '../../../lib/domain/alerts.js';
import type { Caller } from '../../../lib/domain/caller.js';
import { spendTargets } from '../../../lib/spend/targets.js';
import { EntityReader } from '../../../lib/store/entities.js';
import { CachedLoader, DynamoBatchSource } from '../../../lib/store/loader.js';
import { callApi } from '../../support/admin.js';
import { seedKey } from '../../support/seed.js';
import { spendLogFixture } from '../../support/spend-log.js';
import { type TestTable, useTestTable } from '../../support/table.js';

let table: TestTable;
let stream: TableStream;
const seen: BudgetAlert[] = [];

beforeAll(async () => {
  table = await useTestTable({}, { stream: true });
  configureApp({ alertSinks: [async (a) => void seen.push(a)] });
  stream = await startTableStream({
    endpoint: table.endpoint,
    tableName: table.tableName,
    consumers: [alertConsumer(alertDeps())],
    everyMs: 0,
  });
});
afterAll(async () => {
  await stream?.stop();
});

/** Settles `dollars` on the key's chain, with its spend log. */
async function spend(keyToken: string, dollars: number, requestId: string) {
  const reader = new EntityReader(
    new CachedLoader(new DynamoBatchSource(documentClient(), table.tableName, true), { ttlMs: 1, negativeTtlMs: 1, maxEntries: 10 }),
  );
  const key = await reader.key(keyToken);
  const caller: Caller = { principal: 'virtual_key', role: 'internal_user', keyHash: keyToken, state: { key } };
  const at = Date.now();
  const startTime = new Date(at).toISOString();
  await spendSettler().settle({
    requestId,
    at,
    costNanos: Math.round(dollars * 1e9),
    model: 'gpt-4o-mini',
    targets: spendTargets(caller, { now: at }),
    log: spendLogFixture({ request_id: requestId, api_key: keyToken, spend: dollars, startTime, endTime: startTime }),
  });
}

describe('a regenerated key', () => {
  it('does not announce again the levels the key reached before', async () => {
    const { record } = await seedKey({ max_budget: 10, alert_thresholds: [50, 80, 100] });
    await spend(record.token, 8.5, 'before-1');
    await stream.drain();
    expect(seen.map((a) => a.percent)).toEqual([50, 80]);

    const res = await callApi(keysHandler, 'POST', '/key/regenerate', { key: record.token });
    expect(res.status).toBe(200);
    const renewed = hashKey(res.body.key);
    await spend(renewed, 0.5, 'after-1');
    await stream.drain();
    expect(seen.map((a) => a.percent)).toEqual([50, 80]);
    // A level it had not reached is announced, for the key as it is now.
    await spend(renewed, 1, 'after-2');
    await stream.drain();
    expect(seen.map((a) => a.percent)).toEqual([50, 80, 100]);
    expect(seen[2]?.key_hash).toBe(renewed);
  });
});
