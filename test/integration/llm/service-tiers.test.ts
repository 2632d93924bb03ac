/**
 * OpenAI's `service_tier` prices (found by review: a priority call, billed by OpenAI at about 2x,
 * was charged the standard price). A call is charged at the tier its answer reports, JSON and
 * streamed, when the model has prices for it. Asking `priority` of a model with none is a 400
 * naming `service_tier`, before any upstream call; an answer that reports priority anyway (a
 * project whose default tier is priority, asked `auto`) is charged standard and its spend log
 * marked (`service_tier: priority`, `service_tier_charged: default`). Flex without flex prices is
 * charged standard. The strict reservation prices the dearest tier the request can reach.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ModelRecord } from '../../../lib/domain/records.js';
import { unpackLog } from '../../../lib/domain/spend-log.js';
import { refs } from '../../../lib/store/keys.js';
import { SPEND_LOG_ATTR } from '../../../lib/store/spend-ledger.js';
import { bearer } from '../../support/authorizer.js';
import { seedKey, seedTeam } from '../../support/seed.js';
import { readItem, settledSpendNanos } from '../../support/spend.js';
import { useTestTable } from '../../support/table.js';
import { jsonUpstream, type TestUpstream } from '../../support/upstream.js';
import { call, chat, seedModels, sseData } from './harness.js';

const SECRET = 'tollgate/service-tiers';
const received: string[] = [];
let upstream: TestUpstream | undefined;

/** Answers at the tier asked; `auto` at priority (a project whose default tier is priority). */
async function start(): Promise<string> {
  upstream = await jsonUpstream((body, res, req) => {
    received.push(`${req.method} ${req.url}`);
    const tier = body.service_tier === 'auto' ? 'priority' : (body.service_tier ?? 'default');
    // Asked "no usage": an answer (or stream) that reports none, counted then.
    const reportsUsage = JSON.stringify(body.messages) !== JSON.stringify([{ role: 'user', content: 'no usage' }]);
    const usage = reportsUsage ? { prompt_tokens: 1000, completion_tokens: 100, total_tokens: 1100 } : undefined;
    const base = { id: 'chatcmpl-1', created: 1, model: body.model, service_tier: tier };
    if (body.stream === true) {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      const data = (d: unknown) => res.write(`data: ${JSON.stringify(d)}\n\n`);
      data({ ...base, object: 'chat.completion.chunk', choices: [{ index: 0, delta: { content: 'hi' }, finish_reason: null }] });
      data({ ...base, object: 'chat.completion.chunk', choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] });
      // Asked "tier early": the usage chunk does not repeat the tier the chunks before it said.
      const { service_tier: _, ...untiered } = base;
      const tierEarly = JSON.stringify(body.messages).includes('tier early');
      if (usage) data({ ...(tierEarly ? untiered : base), object: 'chat.completion.chunk', choices: [], usage });
      res.end('data: [DONE]\n\n');
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify({
        ...base,
        object: 'chat.completion',
        choices: [{ index: 0, message: { role: 'assistant', content: 'hi' }, finish_reason: 'stop' }],
        usage,
      }),
    );
  });
  return upstream.url;
}

const standard = { input_cost_per_million: 1.25, output_cost_per_million: 10 };
const tiers = {
  input_cost_per_million_priority: 2.5,
  output_cost_per_million_priority: 20,
  input_cost_per_million_flex: 0.625,
  output_cost_per_million_flex: 5,
};
const nanos = (input: number, output: number) => 1000 * input * 1000 + 100 * output * 1000;
const STANDARD = nanos(1.25, 10);
const PRIORITY = nanos(2.5, 20);
const FLEX = nanos(0.625, 5);

beforeAll(async () => {
  const base = `${await start()}/v1`;
  await useTestTable({ TOLLGATE_LOCAL_SECRETS: JSON.stringify({ [SECRET]: 'k' }) });
  const model = (name: string, extra: Partial<ModelRecord> = {}): ModelRecord => ({
    model_name: name,
    upstream_model: 'gpt-5',
    upstream_base_url: base,
    api_key_secret: SECRET,
    ...standard,
    ...extra,
    created_at: '2025-01-01T00:00:00.000Z',
  });
  await seedModels([model('gpt-tiered', tiers), model('gpt-plain')]);
  // Room for a standard estimate (about $0.04 for max_tokens 4000; priority $0.08), not for a priority one.
  await seedTeam({ team_id: 'team-strict-tier', max_budget: 0.05, enforcement: 'strict' });
});
afterAll(() => upstream?.close());

const logOf = async (requestId: string) => unpackLog((await readItem(refs.settlement(requestId)))?.[SPEND_LOG_ATTR] as string);

async function charged(model: string, extra: Record<string, unknown>, content = 'hello') {
  const { key, record } = await seedKey({});
  const requestId = randomUUID();
  const res = await call({ path: '/v1/chat/completions', headers: bearer(key), body: chat(model, content, extra), requestId });
  expect(res.status).toBe(200);
  if (extra.stream) expect(sseData(res.text).length).toBeGreaterThan(0);
  return { spent: await settledSpendNanos(refs.key(record.token)), log: await logOf(requestId) };
}

describe('a call is charged at the service tier its answer reports', () => {
  it.each([
    ['JSON', {}],
    ['streamed', { stream: true }],
  ])('%s: priority at the priority prices, flex at the flex prices, default at the standard ones', async (_what, stream) => {
    expect(await charged('gpt-tiered', { ...stream, service_tier: 'priority' })).toMatchObject({
      spent: PRIORITY,
      log: { service_tier: 'priority', service_tier_charged: 'priority' },
    });
    expect(await charged('gpt-tiered', { ...stream, service_tier: 'flex' })).toMatchObject({
      spent: FLEX,
      log: { service_tier: 'flex', service_tier_charged: 'flex' },
    });
    expect((await charged('gpt-tiered', { ...stream, service_tier: 'default' })).spent).toBe(STANDARD);
    // Asked auto, answered priority: the priority prices.
    expect((await charged('gpt-tiered', { ...stream, service_tier: 'auto' })).spent).toBe(PRIORITY);
  });

  it.each([
    ['JSON', {}],
    ['streamed', { stream: true }],
  ])('%s without usage (counted): at the tier the answer reports, as a stream cut before its usage chunk is', async (_what, stream) => {
    // Found by review: the counted usage carried no tier, so such a priority call was charged standard.
    const standardCount = await charged('gpt-tiered', { ...stream, service_tier: 'default' }, 'no usage');
    expect(standardCount.log.usage_source).toBe('counted');
    expect(standardCount.spent).toBeGreaterThan(0);
    expect(await charged('gpt-tiered', { ...stream, service_tier: 'priority' }, 'no usage')).toMatchObject({
      spent: 2 * standardCount.spent,
      log: { usage_source: 'counted', service_tier: 'priority', service_tier_charged: 'priority' },
    });
    expect((await charged('gpt-tiered', { ...stream, service_tier: 'flex' }, 'no usage')).spent).toBe(standardCount.spent / 2);
  });

  it('streamed, the tier on the chunks before the usage chunk only: at that tier', async () => {
    expect(await charged('gpt-tiered', { stream: true, service_tier: 'priority' }, 'tier early')).toMatchObject({
      spent: PRIORITY,
      log: { usage_source: 'reported', service_tier: 'priority', service_tier_charged: 'priority' },
    });
    expect((await charged('gpt-tiered', { stream: true, service_tier: 'flex' }, 'tier early')).spent).toBe(FLEX);
  });

  it('flex on a model without flex prices: the standard prices (dearer)', async () => {
    expect(await charged('gpt-plain', { service_tier: 'flex' })).toMatchObject({
      spent: STANDARD,
      log: { service_tier: 'flex', service_tier_charged: 'default' },
    });
  });

  it.each([
    ['JSON', {}],
    ['streamed', { stream: true }],
  ])('%s: answered priority on a model with no priority price: charged standard, the spend log marked', async (_what, stream) => {
    expect(await charged('gpt-plain', { ...stream, service_tier: 'auto' })).toMatchObject({
      spent: STANDARD,
      log: { service_tier: 'priority', service_tier_charged: 'default' },
    });
  });
});

describe('asking priority of a model with no priority price', () => {
  it.each([
    ['JSON', {}],
    ['streamed', { stream: true }],
  ])('%s: 400 naming service_tier, no upstream call, nothing charged', async (_what, stream) => {
    const { key, record } = await seedKey({});
    const before = received.length;
    const res = await call({
      path: '/v1/chat/completions',
      headers: bearer(key),
      body: chat('gpt-plain', 'hello', { ...stream, service_tier: 'priority' }),
    });
    expect(res.status).toBe(400);
    expect(res.json.error).toMatchObject({ type: 'invalid_request_error', code: 'invalid_field', param: 'service_tier' });
    expect(res.json.error.message).toContain('gpt-plain');
    expect(received.length).toBe(before);
    expect(await settledSpendNanos(refs.key(record.token))).toBe(0);
  });

  it('several models in `model`: refused the same, none called', async () => {
    const { key } = await seedKey({});
    const before = received.length;
    const res = await call({
      path: '/v1/chat/completions',
      headers: bearer(key),
      body: chat('gpt-tiered,gpt-plain', 'hello', { service_tier: 'priority' }),
    });
    expect(res.status).toBe(400);
    expect(res.json.error.param).toBe('service_tier');
    expect(received.length).toBe(before);
  });
});

describe('the strict reservation prices the dearest tier the request can reach', () => {
  it.each([
    ['priority', 403],
    ['auto', 403],
    ['default', 200],
    ['flex', 200],
  ])('service_tier %s on a model with priority prices: %i', async (tier, status) => {
    const { key } = await seedKey({ team_id: 'team-strict-tier' });
    const res = await call({
      path: '/v1/chat/completions',
      headers: bearer(key),
      body: chat('gpt-tiered', 'hello', { service_tier: tier, max_tokens: 4000 }),
    });
    expect(res.status).toBe(status);
    if (status === 403) expect(res.json.error.code).toBe('team_budget_exceeded');
  });
});
