/**
 * A call refused by several limits at once is told to retry when every one of them would admit
 * it: `retry-after` is the latest of their waits (a parallel slot frees within a second, a full
 * minute window only when the minute ends), and each exceeded window kind reports 0 remaining.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MOCK_UPSTREAM_KEY, mockLocalSecrets, mockModels } from '../../../infra/local/mock-models.js';
import { type MockUpstream, startMockUpstream } from '../../../infra/local/mock-upstream.js';
import { configureApp } from '../../../lib/app/index.js';
import { MINUTE_MS } from '../../../lib/domain/rate-limits.js';
import type { ModelRecord } from '../../../lib/domain/records.js';
import { rateRefs } from '../../../lib/store/rate-limits.js';
import { bearer } from '../../support/authorizer.js';
import { putItem } from '../../support/rate.js';
import { seedKey, seedTeam } from '../../support/seed.js';
import { readItem } from '../../support/spend.js';
import { useTestTable } from '../../support/table.js';
import { call, chat, seedModels } from './harness.js';

let mock: MockUpstream;
const now = Math.floor(Date.now() / MINUTE_MS) * MINUTE_MS + 5_000;

beforeAll(async () => {
  mock = await startMockUpstream({ apiKey: MOCK_UPSTREAM_KEY });
  await useTestTable({ TOLLGATE_LOCAL_SECRETS: JSON.stringify(mockLocalSecrets()) });
  configureApp({ clock: () => now });
  const base = mockModels(mock.url).find((m) => m.model_name === 'gpt-4o-mini') as ModelRecord;
  await seedModels([
    { ...base, aliases: [], access_groups: [] },
    { ...base, model_name: 'other', aliases: [], access_groups: [] },
    { ...base, model_name: 'slow', upstream_model: 'gpt-4o-mini+delay=3000', aliases: [], access_groups: [] },
  ]);
});
afterAll(() => mock.close());

describe('retry-after of a call several limits refuse', () => {
  it('a parallel slot (1 s) and a full minute window: retry when the minute ends', async () => {
    await seedTeam({ team_id: 't-retry', rpm_limit: 1 });
    const { key, record } = await seedKey({ team_id: 't-retry', max_parallel_requests: 1 });
    const ask = () => call({ path: '/v1/chat/completions', headers: bearer(key), body: chat('slow', 'Hello there') });
    const first = ask();
    await expect
      .poll(async () => (await readItem(rateRefs.parallel({ owner: 'key', id: record.token })))?.inflight, { timeout: 5000 })
      .toBe(1);
    const refused = await ask();
    expect(refused.status).toBe(429);
    const untilMinuteEnds = Math.ceil((MINUTE_MS - (now % MINUTE_MS)) / 1000);
    expect(refused.headers['retry-after']).toBe(String(untilMinuteEnds));
    expect(refused.headers['x-ratelimit-remaining-requests']).toBe('0');
    expect((await first).status).toBe(200);
  });
});

describe('retry-after of several models in `model`', () => {
  it('each refused: the answer waits for the model whose limits free last', async () => {
    const { key, record } = await seedKey({ max_parallel_requests: 1, model_rpm_limit: { other: 0 } });
    // The key's one slot is held by a live call: both models are refused it (1 s); `other` also by its rpm (the minute).
    await putItem({ ...rateRefs.parallel({ owner: 'key', id: record.token }), inflight: 1, 'lease#live': now + 60_000 });
    const refused = await call({ path: '/v1/chat/completions', headers: bearer(key), body: chat('gpt-4o-mini,other', 'Hello') });
    expect(refused.status).toBe(429);
    expect(refused.headers['retry-after']).toBe(String(Math.ceil((MINUTE_MS - (now % MINUTE_MS)) / 1000)));
  });
});
