/**
 * Strict mode's reservation is an upper bound at every price a call can be charged (found by
 * review): the estimate bounds the input by the body's bytes, but priced it at the plain input
 * price and the base tier, while the settlement charges cache writes at 1.25x or 2x (1 hour) and a
 * call past a long-context threshold at the tier's prices. A call whose input was 1-hour cache
 * writes settled at twice its reservation, so a strict budget that admitted it was overspent.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { costNanos, dollarsToNanos } from '../../../lib/domain/cost.js';
import type { ModelRecord } from '../../../lib/domain/records.js';
import { refs } from '../../../lib/store/keys.js';
import { bearer } from '../../support/authorizer.js';
import { seedKey, seedTeam } from '../../support/seed.js';
import { countersOf, readItem } from '../../support/spend.js';
import { useTestTable } from '../../support/table.js';
import { jsonUpstream, type TestUpstream } from '../../support/upstream.js';
import { call, seedModels } from './harness.js';

const SECRET = 'tollgate/strict-estimate';
const MAX_TOKENS = 100;
let upstream: TestUpstream | undefined;

/** Reports every input token the request may hold (one per byte of its body: the estimate's bound) as a 1-hour cache write. */
async function start(): Promise<string> {
  upstream = await jsonUpstream<{ stream?: boolean; metadata?: { user_id?: string } }>((body, res) => {
    const written = Number(body.metadata?.user_id ?? 0);
    if (body.stream === true) {
      // Cut after the first words: no message_delta, no message_stop (a broken stream).
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      const ev = (name: string, data: unknown) => res.write(`event: ${name}\ndata: ${JSON.stringify(data)}\n\n`);
      ev('message_start', {
        type: 'message_start',
        message: {
          id: 'msg_1',
          type: 'message',
          role: 'assistant',
          model: 'claude-sonnet-4-5',
          content: [],
          stop_reason: null,
          stop_sequence: null,
          usage: {
            input_tokens: 0,
            output_tokens: 1,
            cache_read_input_tokens: 0,
            cache_creation_input_tokens: written,
            cache_creation: { ephemeral_5m_input_tokens: 0, ephemeral_1h_input_tokens: written },
          },
        },
      });
      ev('content_block_start', { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } });
      ev('content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'the first words' } });
      res.end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify({
        id: 'msg_1',
        type: 'message',
        role: 'assistant',
        model: 'claude-sonnet-4-5',
        content: [{ type: 'text', text: 'ok' }],
        stop_reason: 'end_turn',
        stop_sequence: null,
        usage: {
          input_tokens: 0,
          output_tokens: MAX_TOKENS,
          cache_read_input_tokens: 0,
          cache_creation_input_tokens: written,
          cache_creation: { ephemeral_5m_input_tokens: 0, ephemeral_1h_input_tokens: written },
        },
      }),
    );
  });
  return upstream.url;
}

// Claude Sonnet 4.5 as the price library prices it.
const prices = {
  input_cost_per_million: 3,
  output_cost_per_million: 15,
  cache_read_cost_per_million: 0.3,
  cache_write_cost_per_million: 3.75,
  cache_write_1h_cost_per_million: 6,
  price_tiers: [
    {
      above_input_tokens: 200_000,
      input_cost_per_million: 6,
      output_cost_per_million: 22.5,
      cache_read_cost_per_million: 0.6,
      cache_write_cost_per_million: 7.5,
      cache_write_1h_cost_per_million: 12,
    },
  ],
};

beforeAll(async () => {
  const base = await start();
  await useTestTable({ TOLLGATE_LOCAL_SECRETS: JSON.stringify({ [SECRET]: 'k' }) });
  const sonnet: ModelRecord = {
    model_name: 'sonnet-strict',
    provider: 'anthropic',
    upstream_model: 'claude-sonnet-4-5',
    upstream_base_url: base,
    api_key_secret: SECRET,
    ...prices,
    created_at: '2025-01-01T00:00:00.000Z',
  };
  await seedModels([sonnet]);
});
afterAll(() => upstream?.close());

/** A body of about `bytes` bytes whose upstream reports as many 1-hour cache writes as it has bytes, less a margin. */
function body(bytes: number) {
  const shell = {
    model: 'sonnet-strict',
    max_tokens: MAX_TOKENS,
    metadata: { user_id: '0000000' },
    messages: [{ role: 'user', content: '' }],
  };
  const pad = bytes - Buffer.byteLength(JSON.stringify(shell));
  const b = { ...shell, messages: [{ role: 'user', content: 'x'.repeat(pad) }] };
  b.metadata.user_id = String(Buffer.byteLength(JSON.stringify(b)) - 10).padStart(7, '0');
  return b;
}

async function strictCall(teamId: string, bytes: number, maxBudget = 100, stream = false) {
  await seedTeam({ team_id: teamId, max_budget: maxBudget, enforcement: 'strict' });
  const { key } = await seedKey({ team_id: teamId });
  const requestId = `req-${teamId}`;
  const b = body(bytes);
  const res = await call({ path: '/v1/messages', headers: bearer(key), body: stream ? { ...b, stream: true } : b, requestId });
  return { res, settlement: await readItem(refs.settlement(requestId)) };
}

describe('the strict reservation bounds the settled cost', () => {
  it('input written to the cache for an hour (2x the input price)', async () => {
    const { res, settlement } = await strictCall('t-1h', 10_000);
    expect(res.status).toBe(200);
    expect(Number(settlement?.cost)).toBeGreaterThan(0);
    expect(Number(settlement?.estimate)).toBeGreaterThanOrEqual(Number(settlement?.cost));
  });

  it('input past the long-context threshold, written for an hour (the tier: 4x the base input price)', async () => {
    const { res, settlement } = await strictCall('t-tier', 250_000);
    expect(res.status).toBe(200);
    const written = 250_000 - 10;
    expect(Number(settlement?.cost)).toBe(
      costNanos({ inputTokens: 0, outputTokens: MAX_TOKENS, cacheWriteTokens: written, cacheWrite1hTokens: written }, prices) / 1e9,
    );
    expect(Number(settlement?.estimate)).toBeGreaterThanOrEqual(Number(settlement?.cost));
  });

  it('a broken stream: the prompt reported as cache writes is not counted again as input (found by review)', async () => {
    const { res, settlement } = await strictCall('t-broken', 10_000, 100, true);
    expect(res.status).toBe(200);
    const written = 10_000 - 10;
    const reported = costNanos({ inputTokens: 0, outputTokens: 1, cacheWriteTokens: written, cacheWrite1hTokens: written }, prices) / 1e9;
    expect(Number(settlement?.cost)).toBeGreaterThanOrEqual(reported);
    // The counted prompt is within what was reported (as cache writes): only the words sent add to it.
    expect(Number(settlement?.cost)).toBeLessThan(reported + (100 * 15) / 1e6);
    expect(Number(settlement?.estimate)).toBeGreaterThanOrEqual(Number(settlement?.cost));
  });

  it('a strict budget the call could overspend refuses it', async () => {
    // Room for the call at the plain input price, not at the 1-hour write price it is charged.
    const atInputPrice = (10_000 * 3 + MAX_TOKENS * 15) / 1e6;
    const { res } = await strictCall('t-tight', 10_000, atInputPrice * 1.2);
    expect(res.status).toBe(403);
    expect(res.json?.error?.code).toBe('team_budget_exceeded');
    const counters = await countersOf(refs.team('t-tight'));
    expect(counters.spend).toBeLessThanOrEqual(dollarsToNanos(atInputPrice * 1.2));
  });
});
