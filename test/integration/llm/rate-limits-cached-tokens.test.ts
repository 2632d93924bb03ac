/**
 * Tokens per minute count every token a call used: input (cached or not, cache writes too) and
 * output, as `total_tokens` has it. Usage keeps cache reads and writes apart from `inputTokens`
 * (they are priced apart); the rate limit must still count them.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { MOCK_UPSTREAM_KEY, mockLocalSecrets, mockModels } from '../../../infra/local/mock-models.js';
import { type MockUpstream, startMockUpstream } from '../../../infra/local/mock-upstream.js';
import { configureApp } from '../../../lib/app/index.js';
import { MINUTE_MS } from '../../../lib/domain/rate-limits.js';
import { rateRefs } from '../../../lib/store/rate-limits.js';
import { bearer } from '../../support/authorizer.js';
import { seedKey } from '../../support/seed.js';
import { readItem } from '../../support/spend.js';
import { useTestTable } from '../../support/table.js';
import { call, chat, seedModels } from './harness.js';

let mock: MockUpstream;
let now = Math.floor(Date.now() / MINUTE_MS) * MINUTE_MS + 5_000;

/** A chat answer whose prompt was mostly read from the upstream's cache. */
const cachedAnswer = () =>
  new Response(
    JSON.stringify({
      id: 'chatcmpl-cached',
      object: 'chat.completion',
      created: 1,
      model: 'gpt-4o-mini',
      choices: [{ index: 0, message: { role: 'assistant', content: 'ok' }, finish_reason: 'stop' }],
      usage: { prompt_tokens: 1000, completion_tokens: 5, total_tokens: 1005, prompt_tokens_details: { cached_tokens: 900 } },
    }),
    { status: 200, headers: { 'content-type': 'application/json' } },
  );

beforeAll(async () => {
  mock = await startMockUpstream({ apiKey: MOCK_UPSTREAM_KEY });
  await useTestTable({ TOLLGATE_LOCAL_SECRETS: JSON.stringify(mockLocalSecrets()) });
  configureApp({ clock: () => now, fetch: async () => cachedAnswer() });
  await seedModels(mockModels(mock.url));
});
afterAll(() => {
  configureApp({ clock: undefined, fetch: undefined });
  return mock.close();
});
beforeEach(() => {
  now += MINUTE_MS;
});

describe('tpm_limit counts cached input', () => {
  it('a call of 1000 prompt tokens (900 cached) and 5 completion tokens counts 1005', async () => {
    const { key, record } = await seedKey({ tpm_limit: 500 });
    const ask = () => call({ path: '/v1/chat/completions', headers: bearer(key), body: chat('gpt-4o-mini', 'Hello') });
    expect((await ask()).status).toBe(200);
    const window = await readItem(rateRefs.window({ owner: 'key', id: record.token }, Math.floor(now / MINUTE_MS)));
    expect(window?.tokens).toBe(1005);
    const next = await ask();
    expect([next.status, next.json.error?.code]).toEqual([429, 'key_tpm_exceeded']);
  });
});
