/**
 * Anthropic's 1-hour cache writes are priced as such (found by review): a prompt cached with
 * `cache_control: {type: "ephemeral", ttl: "1h"}` is reported in `cache_creation_input_tokens`
 * and split in `cache_creation.ephemeral_1h_input_tokens`; Anthropic charges it 2x the input
 * price (5-minute writes 1.25x), and Tollgate charged every write at the 5-minute price.
 * (`/model/new` fills the 1-hour price from the price library: admin/model-providers.test.ts.)
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { costNanos } from '../../../lib/domain/cost.js';
import type { ModelRecord } from '../../../lib/domain/records.js';
import { refs } from '../../../lib/store/keys.js';
import { bearer } from '../../support/authorizer.js';
import { seedKey } from '../../support/seed.js';
import { settledSpendNanos } from '../../support/spend.js';
import { useTestTable } from '../../support/table.js';
import { jsonUpstream, type TestUpstream } from '../../support/upstream.js';
import { call, seedModels, sseData } from './harness.js';

const SECRET = 'tollgate/anthropic-1h';
const usage = {
  input_tokens: 10,
  output_tokens: 20,
  cache_read_input_tokens: 0,
  cache_creation_input_tokens: 3000,
  cache_creation: { ephemeral_5m_input_tokens: 1000, ephemeral_1h_input_tokens: 2000 },
};
let upstream: TestUpstream | undefined;
let base: string;

async function start(): Promise<string> {
  upstream = await jsonUpstream((body, res) => {
    const message = { id: 'msg_1', type: 'message', role: 'assistant', model: body.model, stop_reason: 'end_turn', stop_sequence: null };
    if (body.stream === true) {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      const ev = (name: string, data: unknown) => res.write(`event: ${name}\ndata: ${JSON.stringify(data)}\n\n`);
      ev('message_start', {
        type: 'message_start',
        message: { ...message, content: [], stop_reason: null, usage: { ...usage, output_tokens: 1 } },
      });
      ev('content_block_start', { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } });
      ev('content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'cached' } });
      ev('content_block_stop', { type: 'content_block_stop', index: 0 });
      ev('message_delta', { type: 'message_delta', delta: { stop_reason: 'end_turn' }, usage: { output_tokens: 20 } });
      ev('message_stop', { type: 'message_stop' });
      res.end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ ...message, content: [{ type: 'text', text: 'cached' }], usage }));
  });
  return upstream.url;
}

const prices = {
  input_cost_per_million: 3,
  output_cost_per_million: 15,
  cache_read_cost_per_million: 0.3,
  cache_write_cost_per_million: 3.75,
  cache_write_1h_cost_per_million: 6,
};
const expected = costNanos({ inputTokens: 10, outputTokens: 20 }, prices) + 1000 * 3.75 * 1000 + 2000 * 6 * 1000;

beforeAll(async () => {
  base = await start();
  await useTestTable({ TOLLGATE_LOCAL_SECRETS: JSON.stringify({ [SECRET]: 'k' }) });
  const claude: ModelRecord = {
    model_name: 'claude-1h',
    provider: 'anthropic',
    upstream_model: 'claude-sonnet-4-20250514',
    upstream_base_url: base,
    api_key_secret: SECRET,
    ...prices,
    created_at: '2025-01-01T00:00:00.000Z',
  };
  await seedModels([claude]);
});
afterAll(() => upstream?.close());

const body = (extra: Record<string, unknown> = {}) => ({
  model: 'claude-1h',
  max_tokens: 100,
  system: [{ type: 'text', text: 'a long prompt', cache_control: { type: 'ephemeral', ttl: '1h' } }],
  messages: [{ role: 'user', content: 'hi' }],
  ...extra,
});

describe("Anthropic's 1-hour cache writes", () => {
  it('JSON: 1-hour writes at the 1-hour price, 5-minute writes at the write price', async () => {
    const { key, record } = await seedKey({});
    const res = await call({ path: '/v1/messages', headers: bearer(key), body: body() });
    expect(res.status).toBe(200);
    expect(await settledSpendNanos(refs.key(record.token))).toBe(expected);
  });

  it('stream: the same', async () => {
    const { key, record } = await seedKey({});
    const res = await call({ path: '/v1/messages', headers: bearer(key), body: body({ stream: true }) });
    expect(sseData(res.text).length).toBeGreaterThan(0);
    expect(await settledSpendNanos(refs.key(record.token))).toBe(expected);
  });
});
