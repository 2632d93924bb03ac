/**
 * File search calls are billed per call, beside tokens (found by review: a Responses answer's
 * `file_search_call` items cost only their tokens, though OpenAI bills $2.50 per 1,000 calls).
 * Each item in the response's `output` is one call, charged at the model's
 * `file_search_cost_per_1k_calls` (which /model/new takes from the price library), JSON and
 * streamed, and the spend log says how many were billed. A record without that price charges the
 * tokens and logs and counts the calls. A strict caller's reservation holds `max_tool_calls` calls;
 * a file search tool nothing bounds, or on a model with no file search price, is refused.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { costNanos } from '../../../lib/domain/cost.js';
import type { ModelRecord } from '../../../lib/domain/records.js';
import { unpackLog } from '../../../lib/domain/spend-log.js';
import { refs } from '../../../lib/store/keys.js';
import { SPEND_LOG_ATTR } from '../../../lib/store/spend-ledger.js';
import { logger } from '../../../lib/telemetry.js';
import { bearer } from '../../support/authorizer.js';
import { metricValues } from '../../support/metrics.js';
import { seedKey, seedTeam } from '../../support/seed.js';
import { readItem, settledSpendNanos } from '../../support/spend.js';
import { useTestTable } from '../../support/table.js';
import { jsonUpstream, type TestUpstream } from '../../support/upstream.js';
import { call, seedModels, sseData } from './harness.js';

const SECRET = 'tollgate/file-search';
/** File search calls the upstream runs, fewer when the call's `max_tool_calls` says so. */
const CALLS = 3;
const received: string[] = [];
let upstream: TestUpstream | undefined;

const fileSearchCall = (i: number, status = 'completed') => ({
  type: 'file_search_call',
  id: `fs_${i}`,
  status,
  queries: [`q${i}`],
  results: null,
});

async function start(): Promise<string> {
  upstream = await jsonUpstream((body, res, req) => {
    received.push(`${req.method} ${req.url}`);
    const calls = Math.min(CALLS, typeof body.max_tool_calls === 'number' ? body.max_tool_calls : CALLS);
    const items = Array.from({ length: calls }, (_, i) => fileSearchCall(i + 1));
    const message = { type: 'message', id: 'msg_1', role: 'assistant', content: [{ type: 'output_text', text: 'found' }] };
    const usage = { input_tokens: 100, output_tokens: 50 };
    const response = { id: 'resp_1', object: 'response', model: body.model, status: 'completed', output: [...items, message], usage };
    if (body.stream !== true) {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(response));
      return;
    }
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    const ev = (type: string, data: Record<string, unknown>) => res.write(`event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`);
    ev('response.created', { response: { ...response, status: 'in_progress', output: [], usage: null } });
    items.forEach((item, index) => {
      ev('response.output_item.added', { output_index: index, item: { ...item, status: 'in_progress' } });
      ev('response.file_search_call.searching', { output_index: index, item_id: item.id });
      ev('response.output_item.done', { output_index: index, item });
    });
    ev('response.output_item.added', { output_index: calls, item: { ...message, content: [] } });
    ev('response.output_text.delta', { output_index: calls, content_index: 0, item_id: 'msg_1', delta: 'found' });
    // Cut before the event that carries the usage (a broken stream).
    if (body.input === 'cut') return void setTimeout(() => res.destroy(), 50);
    ev('response.output_item.done', { output_index: calls, item: message });
    ev('response.completed', { response });
    res.end();
  });
  return upstream.url;
}

const prices = { input_cost_per_million: 3, output_cost_per_million: 15 };
const tokens = costNanos({ inputTokens: 100, outputTokens: 50 }, prices);
const PER_CALL_NANOS = 2_500_000; // $2.50 per 1,000 calls

beforeAll(async () => {
  // Metrics on, to see FileSearchesUnpriced (before the first metric is made).
  vi.stubEnv('POWERTOOLS_METRICS_DISABLED', 'false');
  const base = await start();
  await useTestTable({ TOLLGATE_LOCAL_SECRETS: JSON.stringify({ [SECRET]: 'k' }) });
  const gpt = (name: string, extra: Partial<ModelRecord> = {}): ModelRecord => ({
    model_name: name,
    upstream_model: 'gpt-4.1',
    upstream_base_url: `${base}/v1`,
    api_key_secret: SECRET,
    ...prices,
    ...extra,
    created_at: '2025-01-01T00:00:00.000Z',
  });
  await seedModels([
    // The price library's for gpt-4.1, as /model/new fills it.
    gpt('gpt-files', { file_search_cost_per_1k_calls: 2.5 }),
    // A record made before the file search price was kept.
    gpt('gpt-files-old'),
  ]);
  await seedTeam({ team_id: 'team-strict-files', max_budget: 0.01, enforcement: 'strict' });
  await seedTeam({ team_id: 'team-fast-files', max_budget: 0.01 });
});
afterAll(async () => {
  vi.unstubAllEnvs();
  await upstream?.close();
});

// It names no vector store: a store's owner is checked before any call (guardReferences), a matter of its own tests.
const fileSearch = { type: 'file_search', max_num_results: 5 };
const body = (model: string, extra: Record<string, unknown> = {}) => ({
  model,
  input: 'what does the handbook say?',
  max_output_tokens: 100,
  tools: [fileSearch],
  ...extra,
});
const logOf = async (requestId: string) => unpackLog((await readItem(refs.settlement(requestId)))?.[SPEND_LOG_ATTR] as string);

describe('file search calls are billed per call', () => {
  it.each([
    ['JSON', {}],
    ['streamed', { stream: true }],
  ])('%s: tokens plus 3 calls at $2.50 per 1,000, and the spend log says 3 calls were billed', async (_what, extra) => {
    const { key, record } = await seedKey({});
    const requestId = randomUUID();
    const res = await call({ path: '/v1/responses', headers: bearer(key), body: body('gpt-files', extra), requestId });
    expect(res.status).toBe(200);
    if ('stream' in extra) expect(sseData(res.text).length).toBeGreaterThan(0);
    expect(await settledSpendNanos(refs.key(record.token))).toBe(tokens + CALLS * PER_CALL_NANOS);
    expect(await logOf(requestId)).toMatchObject({
      file_search_calls: CALLS,
      usage_source: 'reported',
      spend: (tokens + CALLS * PER_CALL_NANOS) / 1e9,
    });
    expect(await logOf(requestId)).not.toHaveProperty('web_search_requests');
  });

  it('a stream cut before its usage: charged the 3 calls it shows started, never none', async () => {
    const { key, record } = await seedKey({});
    const requestId = randomUUID();
    const res = await call({
      path: '/v1/responses',
      headers: bearer(key),
      body: body('gpt-files', { stream: true, input: 'cut' }),
      requestId,
    });
    expect(res.status).toBe(200);
    expect(await settledSpendNanos(refs.key(record.token))).toBeGreaterThanOrEqual(CALLS * PER_CALL_NANOS);
    expect(await logOf(requestId)).toMatchObject({ file_search_calls: CALLS, usage_source: 'counted' });
  });

  it.each([
    ['JSON', {}],
    ['streamed', { stream: true }],
  ])(
    '%s, a record without a file search price: its tokens charged, its 3 calls logged, on the spend log and counted',
    async (_what, extra) => {
      const { key, record } = await seedKey({});
      const requestId = randomUUID();
      const warn = vi.spyOn(logger(), 'warn');
      try {
        const { values: counted } = await metricValues('FileSearchesUnpriced', async () => {
          expect((await call({ path: '/v1/responses', headers: bearer(key), body: body('gpt-files-old', extra), requestId })).status).toBe(
            200,
          );
          expect(await settledSpendNanos(refs.key(record.token))).toBe(tokens);
        });
        expect(counted).toEqual([CALLS]);
        expect(warn).toHaveBeenCalledWith('file searches unpriced', { requestId, model: 'gpt-files-old', fileSearches: CALLS });
      } finally {
        warn.mockRestore();
      }
      expect(await logOf(requestId)).toMatchObject({ file_search_calls: CALLS });
    },
  );

  it('a fast caller is unchanged: a file search tool without max_tool_calls is served, and charged its calls', async () => {
    const { key, record } = await seedKey({ team_id: 'team-fast-files' });
    expect((await call({ path: '/v1/responses', headers: bearer(key), body: body('gpt-files') })).status).toBe(200);
    expect(await settledSpendNanos(refs.key(record.token))).toBe(tokens + CALLS * PER_CALL_NANOS);
  });
});

describe('a strict caller and the file search tool', () => {
  it('without max_tool_calls (max_num_results bounds results, not calls): 403 unbounded_server_tool naming it, no upstream call, nothing charged', async () => {
    const { key, record } = await seedKey({ team_id: 'team-strict-files' });
    const before = received.length;
    const res = await call({ path: '/v1/responses', headers: bearer(key), body: body('gpt-files') });
    expect(res.status).toBe(403);
    expect(res.json.error).toMatchObject({ type: 'permission_error', code: 'unbounded_server_tool', param: 'tools' });
    expect(res.json.error.message).toContain('`file_search`');
    expect(res.json.error.message).toContain('max_tool_calls');
    expect(received.length).toBe(before);
    expect(await settledSpendNanos(refs.key(record.token))).toBe(0);
  });

  it('a stored prompt (its tools unseen: searches, image generation): 403 unbounded_server_tool naming `prompt`, no upstream call (found by review)', async () => {
    const { key, record } = await seedKey({ team_id: 'team-strict-files' });
    const before = received.length;
    const prompt = { id: 'pmpt_123', version: '2' };
    const res = await call({
      path: '/v1/responses',
      headers: bearer(key),
      body: { model: 'gpt-files', prompt, input: 'hi', max_output_tokens: 10 },
    });
    expect(res.status).toBe(403);
    expect(res.json.error).toMatchObject({ type: 'permission_error', code: 'unbounded_server_tool', param: 'prompt' });
    expect(received.length).toBe(before);
    expect(await settledSpendNanos(refs.key(record.token))).toBe(0);
    // A fast caller may (its tools are charged as the answer reports them).
    const fast = await seedKey({});
    expect(
      (await call({ path: '/v1/responses', headers: bearer(fast.key), body: { model: 'gpt-files', prompt, input: 'hi' } })).status,
    ).toBe(200);
  });

  it('with max_tool_calls on a model with no file search price: 403 unbounded_server_tool naming the model, no upstream call', async () => {
    const { key } = await seedKey({ team_id: 'team-strict-files' });
    const before = received.length;
    const res = await call({ path: '/v1/responses', headers: bearer(key), body: body('gpt-files-old', { max_tool_calls: 2 }) });
    expect(res.status).toBe(403);
    expect(res.json.error.code).toBe('unbounded_server_tool');
    expect(res.json.error.message).toContain('gpt-files-old');
    expect(res.json.error.message).toContain('file_search_cost_per_1k_calls');
    expect(received.length).toBe(before);
  });

  it('max_tool_calls bounds the reservation: 4 calls ($0.01) beside the tokens do not fit a $0.01 budget, 1 call does and is charged', async () => {
    const { key, record } = await seedKey({ team_id: 'team-strict-files' });
    const before = received.length;
    const refused = await call({ path: '/v1/responses', headers: bearer(key), body: body('gpt-files', { max_tool_calls: 4 }) });
    expect(refused.status).toBe(403);
    expect(refused.json.error.code).toBe('team_budget_exceeded');
    expect(received.length).toBe(before);
    const requestId = randomUUID();
    const fits = await call({ path: '/v1/responses', headers: bearer(key), body: body('gpt-files', { max_tool_calls: 1 }), requestId });
    expect(fits.status).toBe(200);
    expect(await settledSpendNanos(refs.key(record.token))).toBe(tokens + PER_CALL_NANOS);
    expect(await logOf(requestId)).toMatchObject({ file_search_calls: 1 });
  });
});
