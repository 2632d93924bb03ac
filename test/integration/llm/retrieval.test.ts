/**
 * Retrieving never bills again (issue 11): `GET /v1/responses/{id}` answers a stored response
 * with the usage it was billed for when it was made; polling it costs nothing, however often.
 * The upstream here is a fetch that serves one stored response (the mock upstream stores none).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MOCK_UPSTREAM_KEY, mockLocalSecrets, mockModels } from '../../../infra/local/mock-models.js';
import { type MockUpstream, startMockUpstream } from '../../../infra/local/mock-upstream.js';
import { configureApp } from '../../../lib/app/index.js';
import { refs } from '../../../lib/store/keys.js';
import { bearer } from '../../support/authorizer.js';
import { seedKey, seedTeam } from '../../support/seed.js';
import { readItem, spendNanos } from '../../support/spend.js';
import { useTestTable } from '../../support/table.js';
import { call, seedModels } from './harness.js';

let mock: MockUpstream;
const stored = {
  id: 'resp_stored_1',
  object: 'response',
  status: 'completed',
  output: [{ type: 'message', role: 'assistant', content: [{ type: 'output_text', text: 'stored answer' }] }],
  usage: { input_tokens: 1000, output_tokens: 2000, total_tokens: 3000 },
};

beforeAll(async () => {
  mock = await startMockUpstream({ apiKey: MOCK_UPSTREAM_KEY });
  await useTestTable({ TOLLGATE_LOCAL_SECRETS: JSON.stringify(mockLocalSecrets()), TOLLGATE_PASSTHROUGH_MODEL: 'gpt-4o-mini' });
  await seedModels(mockModels(mock.url));
  configureApp({
    fetch: async (input: string, init: RequestInit) => {
      if ((init.method ?? 'GET') === 'GET' && new URL(input).pathname.endsWith('/responses/resp_stored_1'))
        return new Response(JSON.stringify(stored), { status: 200, headers: { 'content-type': 'application/json' } });
      return fetch(input, init);
    },
  });
});
afterAll(async () => {
  configureApp({ fetch: undefined });
  await mock.close();
});

describe('retrieving a stored response', () => {
  it.each(['fast', 'strict'] as const)('never bills again, however often it is polled (%s)', async (enforcement) => {
    await seedTeam({ team_id: `t-poll-${enforcement}`, max_budget: 10, enforcement });
    const { key, record } = await seedKey({ team_id: `t-poll-${enforcement}` });
    for (let i = 0; i < 3; i++) {
      const requestId = `req-poll-${enforcement}-${i}`;
      const res = await call({ method: 'GET', path: '/v1/responses/resp_stored_1', headers: bearer(key), requestId });
      expect(res.status).toBe(200);
      expect(res.json.usage.output_tokens).toBe(2000);
      expect((await readItem(refs.settlement(requestId)))?.cost ?? 0).toBe(0);
    }
    expect(await spendNanos(refs.key(record.token))).toBe(0);
    expect(await spendNanos(refs.team(`t-poll-${enforcement}`))).toBe(0);
  });
});
