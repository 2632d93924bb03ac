/**
 * A hot key's rpm_limit changed through the admin API, in the minute it was being used: the llm
 * function admits no call beyond the new limit, counting what the old limit's shards admitted
 * (lib/store/rate-limits layouts). Small shard sizes make 50 requests a minute five shards, the
 * path a limit of 150,000 takes with the default sizes. Admin writes in this process reach its
 * entity cache at once, so the new limit applies from the next call.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { handler as keys } from '../../../functions/keys/handler.js';
import { MOCK_UPSTREAM_KEY, mockLocalSecrets, mockModels } from '../../../infra/local/mock-models.js';
import { type MockUpstream, startMockUpstream } from '../../../infra/local/mock-upstream.js';
import { configureApp, documentClient } from '../../../lib/app/index.js';
import { MINUTE_MS } from '../../../lib/domain/rate-limits.js';
import type { ModelRecord } from '../../../lib/domain/records.js';
import { tableName } from '../../../lib/store/client.js';
import { DynamoRateLimiter } from '../../../lib/store/rate-limits.js';
import { callApi } from '../../support/admin.js';
import { bearer } from '../../support/authorizer.js';
import { useTestTable } from '../../support/table.js';
import { type CallResult, call, chat, seedModels } from './harness.js';

let mock: MockUpstream;
// Early in a minute that is now: the admin's stamp (real time) falls in it.
const now = Math.floor(Date.now() / MINUTE_MS) * MINUTE_MS + 1_000;

beforeAll(async () => {
  mock = await startMockUpstream({ apiKey: MOCK_UPSTREAM_KEY });
  await useTestTable({ TOLLGATE_LOCAL_SECRETS: JSON.stringify(mockLocalSecrets()), TOLLGATE_STORE_TIMEOUT_MS: '10000' });
  configureApp({
    clock: () => now,
    rateLimiter: new DynamoRateLimiter(documentClient(), tableName(), () => now, { rpm: 10, tpm: 1000, leases: 2 }, 10_000),
  });
  await seedModels([mockModels(mock.url).find((m) => m.model_name === 'gpt-4o-mini') as ModelRecord]);
});
afterAll(() => {
  configureApp({ rateLimiter: undefined });
  return mock.close();
});

const ask = (key: string): Promise<CallResult> =>
  call({ path: '/v1/chat/completions', headers: bearer(key), body: chat('gpt-4o-mini', 'Hi') });
const admitted = (results: CallResult[]) => results.filter((r) => r.status === 200).length;

describe('rpm_limit changed in the minute it is used', () => {
  it('lowered from 50 (5 shards) to 10 (one item) after 10 calls: none more this minute', async () => {
    const made = await callApi(keys, 'POST', '/key/generate', { rpm_limit: 50 });
    const key = made.body.key as string;
    expect(admitted(await Promise.all(Array.from({ length: 10 }, () => ask(key))))).toBe(10);
    expect((await callApi(keys, 'POST', '/key/update', { key, rpm_limit: 10 })).status).toBe(200);
    const after = await Promise.all(Array.from({ length: 20 }, () => ask(key)));
    expect(admitted(after)).toBe(0);
    expect(after[0]?.json.error).toMatchObject({ code: 'key_rpm_exceeded' });
  });

  it('raised from 10 (one item, full) to 11 (2 shards): exactly 1 more', async () => {
    const made = await callApi(keys, 'POST', '/key/generate', { rpm_limit: 10 });
    const key = made.body.key as string;
    expect(admitted(await Promise.all(Array.from({ length: 12 }, () => ask(key))))).toBe(10);
    expect((await callApi(keys, 'POST', '/key/update', { key, rpm_limit: 11 })).status).toBe(200);
    expect(admitted(await Promise.all(Array.from({ length: 20 }, () => ask(key))))).toBe(1);
  });
});
