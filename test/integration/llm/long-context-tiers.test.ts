/**
 * Long-context prices (found by review): above a model's threshold of input tokens (Claude
 * Sonnet 4.5: 200k, cache reads and writes included) the whole call is priced at the tier's
 * prices; Tollgate billed every call at the base price. The tiers come from the price library
 * when `/model/new` fills a model's prices (admin/model-providers.test.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ModelRecord } from '../../../lib/domain/records.js';
import { refs } from '../../../lib/store/keys.js';
import { bearer } from '../../support/authorizer.js';
import { seedKey } from '../../support/seed.js';
import { settledSpendNanos } from '../../support/spend.js';
import { useTestTable } from '../../support/table.js';
import { jsonUpstream, type TestUpstream } from '../../support/upstream.js';
import { call, seedModels } from './harness.js';

const SECRET = 'tollgate/long-context';
let upstream: TestUpstream | undefined;

async function start(): Promise<string> {
  upstream = await jsonUpstream<{ metadata?: { user_id?: string } }>((body, res) => {
    // The input size the test wants reported rides in metadata.user_id.
    const input = Number(body.metadata?.user_id ?? 10);
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify({
        id: 'msg_1',
        type: 'message',
        role: 'assistant',
        model: 'claude-sonnet-4-5',
        content: [{ type: 'text', text: 'long' }],
        stop_reason: 'end_turn',
        stop_sequence: null,
        usage: { input_tokens: input, output_tokens: 1000, cache_read_input_tokens: 0, cache_creation_input_tokens: 0 },
      }),
    );
  });
  return upstream.url;
}

beforeAll(async () => {
  const base = await start();
  await useTestTable({ TOLLGATE_LOCAL_SECRETS: JSON.stringify({ [SECRET]: 'k' }) });
  const sonnet: ModelRecord = {
    model_name: 'sonnet-45',
    provider: 'anthropic',
    upstream_model: 'claude-sonnet-4-5',
    upstream_base_url: base,
    api_key_secret: SECRET,
    input_cost_per_million: 3,
    output_cost_per_million: 15,
    price_tiers: [{ above_input_tokens: 200_000, input_cost_per_million: 6, output_cost_per_million: 22.5 }],
    created_at: '2025-01-01T00:00:00.000Z',
  };
  await seedModels([sonnet]);
});
afterAll(() => upstream?.close());

const costOf = async (input: number) => {
  const { key, record } = await seedKey({});
  const res = await call({
    path: '/v1/messages',
    headers: bearer(key),
    body: { model: 'sonnet-45', max_tokens: 1000, metadata: { user_id: String(input) }, messages: [{ role: 'user', content: 'hi' }] },
  });
  expect(res.status).toBe(200);
  return settledSpendNanos(refs.key(record.token));
};

describe('long-context tiers', () => {
  it('200k input tokens: the base price', async () => {
    expect(await costOf(200_000)).toBe((200_000 * 3 + 1000 * 15) * 1000);
  });
  it('250k input tokens: the whole call at the tier', async () => {
    expect(await costOf(250_000)).toBe((250_000 * 6 + 1000 * 22.5) * 1000);
  });
});
