/**
 * Web searches are billed per search, beside tokens (found by review: Tollgate charged only
 * tokens, so Anthropic's $10 per 1,000 searches went unbilled). Anthropic reports them in
 * `usage.server_tool_use.web_search_requests`, the Responses API as `web_search_call` output
 * items; each is charged at the model's `search_context_cost_per_query` (which /model/new takes
 * from the price library), JSON and streamed, and the spend log says how many were billed. A
 * record made before it kept that price charges the tokens and logs the searches (the llm function
 * never loads the price library). A strict caller's reservation holds `max_uses` searches; a
 * search tool nothing bounds, or on a model with no per-search price, is refused.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { costNanos } from '../../../lib/domain/cost.js';
import type { ModelRecord } from '../../../lib/domain/records.js';
import { unpackLog } from '../../../lib/domain/spend-log.js';
import { refs } from '../../../lib/store/keys.js';
import { SPEND_LOG_ATTR } from '../../../lib/store/spend-ledger.js';
import { bearer } from '../../support/authorizer.js';
import { seedKey, seedTeam } from '../../support/seed.js';
import { readItem, settledSpendNanos } from '../../support/spend.js';
import { useTestTable } from '../../support/table.js';
import { jsonUpstream, type TestUpstream } from '../../support/upstream.js';
import { call, seedModels, sseData } from './harness.js';

const SECRET = 'tollgate/web-search';
const SEARCHES = 3;
const usage = { input_tokens: 100, output_tokens: 50, server_tool_use: { web_search_requests: SEARCHES } };
const received: string[] = [];
const SEARCH_BLOCKS = [1, 2, 3].map((i) => ({
  type: 'server_tool_use',
  id: `srvtoolu_${i}`,
  name: 'web_search',
  input: { query: `q${i}` },
}));
let upstream: TestUpstream | undefined;

async function start(): Promise<string> {
  upstream = await jsonUpstream((body, res, req) => {
    received.push(`${req.method} ${req.url}`);
    if (req.url?.startsWith('/v1/chat/completions')) {
      // A search-preview model's answer: its search shows only as url_citation annotations.
      const message = {
        role: 'assistant',
        content: 'found',
        annotations: [{ type: 'url_citation', url_citation: { url: 'https://example.com', title: 'e', start_index: 0, end_index: 5 } }],
      };
      const base = { id: 'chatcmpl-1', created: 1, model: body.model };
      const chatUsage = { prompt_tokens: 100, completion_tokens: 50, total_tokens: 150 };
      if (body.stream === true) {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        const data = (d: unknown) => res.write(`data: ${JSON.stringify(d)}\n\n`);
        data({ ...base, object: 'chat.completion.chunk', choices: [{ index: 0, delta: message, finish_reason: 'stop' }] });
        data({ ...base, object: 'chat.completion.chunk', choices: [], usage: chatUsage });
        res.end('data: [DONE]\n\n');
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({ ...base, object: 'chat.completion', choices: [{ index: 0, message, finish_reason: 'stop' }], usage: chatUsage }),
      );
      return;
    }
    if (req.url?.startsWith('/v1/responses')) {
      res.writeHead(200, { 'content-type': 'application/json' });
      const output = [
        { type: 'web_search_call', id: 'ws_1', status: 'completed', action: { type: 'search', query: 'a' } },
        { type: 'web_search_call', id: 'ws_2', status: 'completed', action: { type: 'search', query: 'b' } },
        { type: 'message', id: 'msg_1', role: 'assistant', content: [{ type: 'output_text', text: 'found' }] },
      ];
      res.end(
        JSON.stringify({
          id: 'resp_1',
          object: 'response',
          status: 'completed',
          output,
          usage: { input_tokens: 100, output_tokens: 50 },
        }),
      );
      return;
    }
    const message = { id: 'msg_1', type: 'message', role: 'assistant', model: body.model, stop_reason: 'end_turn', stop_sequence: null };
    if (body.stream === true) {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      const ev = (name: string, data: unknown) => res.write(`event: ${name}\ndata: ${JSON.stringify(data)}\n\n`);
      ev('message_start', {
        type: 'message_start',
        message: {
          ...message,
          content: [],
          stop_reason: null,
          usage: { ...usage, output_tokens: 1, server_tool_use: { web_search_requests: 0 } },
        },
      });
      SEARCH_BLOCKS.forEach((block, index) => {
        ev('content_block_start', { type: 'content_block_start', index, content_block: block });
        ev('content_block_stop', { type: 'content_block_stop', index });
      });
      ev('content_block_start', { type: 'content_block_start', index: 3, content_block: { type: 'text', text: '' } });
      ev('content_block_delta', { type: 'content_block_delta', index: 3, delta: { type: 'text_delta', text: 'found' } });
      // Cut before the usage that counts the searches (a broken stream).
      if ((body.metadata as { user_id?: string } | undefined)?.user_id === 'cut') return void setTimeout(() => res.destroy(), 50);
      ev('content_block_stop', { type: 'content_block_stop', index: 3 });
      ev('message_delta', {
        type: 'message_delta',
        delta: { stop_reason: 'end_turn' },
        usage: { output_tokens: 50, server_tool_use: { web_search_requests: SEARCHES } },
      });
      ev('message_stop', { type: 'message_stop' });
      res.end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ ...message, content: [...SEARCH_BLOCKS, { type: 'text', text: 'found' }], usage }));
  });
  return upstream.url;
}

const prices = { input_cost_per_million: 3, output_cost_per_million: 15 };
const tokens = costNanos({ inputTokens: 100, outputTokens: 50 }, prices);
const PER_SEARCH_NANOS = 10_000_000; // $0.01

beforeAll(async () => {
  const base = await start();
  await useTestTable({ TOLLGATE_LOCAL_SECRETS: JSON.stringify({ [SECRET]: 'k' }) });
  const claude = (name: string, extra: Partial<ModelRecord> = {}): ModelRecord => ({
    model_name: name,
    provider: 'anthropic',
    upstream_model: 'claude-sonnet-4-20250514',
    upstream_base_url: base,
    api_key_secret: SECRET,
    ...prices,
    ...extra,
    created_at: '2025-01-01T00:00:00.000Z',
  });
  await seedModels([
    claude('claude-search', { search_context_cost_per_query: 0.01 }),
    // A record made before the per-search price was kept.
    claude('claude-old'),
    {
      model_name: 'gpt-search',
      upstream_model: 'gpt-4.1',
      upstream_base_url: `${base}/v1`,
      api_key_secret: SECRET,
      ...prices,
      // The price library's for gpt-4.1, as /model/new fills it.
      search_context_cost_per_query: 0.01,
      created_at: '2025-01-01T00:00:00.000Z',
    },
  ]);
  await seedTeam({ team_id: 'team-strict-search', max_budget: 0.01, enforcement: 'strict' });
  await seedTeam({ team_id: 'team-fast-search', max_budget: 0.01 });
});
afterAll(() => upstream?.close());

const search = (max_uses?: number) => ({
  type: 'web_search_20250305',
  name: 'web_search',
  ...(max_uses === undefined ? {} : { max_uses }),
});
const body = (model: string, extra: Record<string, unknown> = {}) => ({
  model,
  max_tokens: 100,
  messages: [{ role: 'user', content: 'what happened today?' }],
  tools: [search(5)],
  ...extra,
});
const logOf = async (requestId: string) => unpackLog((await readItem(refs.settlement(requestId)))?.[SPEND_LOG_ATTR] as string);

describe('web searches are billed per search', () => {
  it.each([
    ['JSON', 'claude-search', {}],
    ['streamed', 'claude-search', { stream: true }],
  ])('%s: tokens plus 3 searches at $0.01, and the spend log says 3 searches were billed', async (_what, model, extra) => {
    const { key, record } = await seedKey({});
    const requestId = randomUUID();
    const res = await call({ path: '/v1/messages', headers: bearer(key), body: body(model, extra), requestId });
    expect(res.status).toBe(200);
    if ('stream' in extra) expect(sseData(res.text).length).toBeGreaterThan(0);
    expect(await settledSpendNanos(refs.key(record.token))).toBe(tokens + SEARCHES * PER_SEARCH_NANOS);
    expect(await logOf(requestId)).toMatchObject({ web_search_requests: SEARCHES, spend: (tokens + SEARCHES * PER_SEARCH_NANOS) / 1e9 });
  });

  it.each([
    ['JSON', {}],
    ['streamed', { stream: true }],
  ])('%s, a record without a per-search price: its tokens charged, its 3 searches on the spend log', async (_what, extra) => {
    const { key, record } = await seedKey({});
    const requestId = randomUUID();
    expect((await call({ path: '/v1/messages', headers: bearer(key), body: body('claude-old', extra), requestId })).status).toBe(200);
    expect(await settledSpendNanos(refs.key(record.token))).toBe(tokens);
    expect(await logOf(requestId)).toMatchObject({ web_search_requests: SEARCHES });
  });

  it('a stream cut before its usage event: charged the 3 searches it shows started, never none', async () => {
    const { key, record } = await seedKey({});
    const requestId = randomUUID();
    const res = await call({
      path: '/v1/messages',
      headers: bearer(key),
      body: body('claude-search', { stream: true, metadata: { user_id: 'cut' } }),
      requestId,
    });
    expect(res.status).toBe(200);
    const spent = await settledSpendNanos(refs.key(record.token));
    expect(spent).toBeGreaterThanOrEqual(SEARCHES * PER_SEARCH_NANOS);
    expect(await logOf(requestId)).toMatchObject({ web_search_requests: SEARCHES, usage_source: 'counted' });
  });

  it("the Responses API's web_search_call items, at the price library's OpenAI web search price", async () => {
    const { key, record } = await seedKey({});
    const requestId = randomUUID();
    const res = await call({
      path: '/v1/responses',
      headers: bearer(key),
      body: { model: 'gpt-search', input: 'news', tools: [{ type: 'web_search' }] },
      requestId,
    });
    expect(res.status).toBe(200);
    expect(await settledSpendNanos(refs.key(record.token))).toBe(tokens + 2 * PER_SEARCH_NANOS);
    expect(await logOf(requestId)).toMatchObject({ web_search_requests: 2 });
  });
});

describe("a chat call with web_search_options (OpenAI's search-preview models): one search a call, as LiteLLM charges it", () => {
  // Found by review: nothing but tokens was charged, the search call (OpenAI bills it per call) was free.
  const chatBody = (extra: Record<string, unknown> = {}) => ({
    model: 'gpt-search',
    max_tokens: 100,
    messages: [{ role: 'user', content: 'what happened today?' }],
    ...extra,
  });

  it.each([
    ['JSON', {}],
    ['streamed', { stream: true }],
  ])('%s: tokens plus one search, and the spend log says one search was billed', async (_what, extra) => {
    const { key, record } = await seedKey({});
    const requestId = randomUUID();
    const res = await call({
      path: '/v1/chat/completions',
      headers: bearer(key),
      body: chatBody({ ...extra, web_search_options: {} }),
      requestId,
    });
    expect(res.status).toBe(200);
    expect(await settledSpendNanos(refs.key(record.token))).toBe(tokens + PER_SEARCH_NANOS);
    expect(await logOf(requestId)).toMatchObject({ web_search_requests: 1 });
  });

  it('without web_search_options: its tokens only', async () => {
    const { key, record } = await seedKey({});
    expect((await call({ path: '/v1/chat/completions', headers: bearer(key), body: chatBody() })).status).toBe(200);
    expect(await settledSpendNanos(refs.key(record.token))).toBe(tokens);
  });

  it('strict: the reservation holds the search ($0.01 budget: refused with it, served without)', async () => {
    const { key } = await seedKey({ team_id: 'team-strict-search' });
    const before = received.length;
    const refused = await call({ path: '/v1/chat/completions', headers: bearer(key), body: chatBody({ web_search_options: {} }) });
    expect(refused.status).toBe(403);
    expect(refused.json.error.code).toBe('team_budget_exceeded');
    expect(received.length).toBe(before);
    expect((await call({ path: '/v1/chat/completions', headers: bearer(key), body: chatBody() })).status).toBe(200);
  });
});

describe('a strict caller and web search tools', () => {
  it.each([
    ['/v1/messages', body('claude-search', { tools: [search()] }), 'web_search_20250305'],
    ['/v1/messages', body('claude-search', { tools: [search(2), search()] }), 'web_search_20250305'],
    ['/v1/responses', { model: 'gpt-search', input: 'news', tools: [{ type: 'web_search' }] }, 'web_search'],
  ])(
    '%s with a search tool nothing bounds: 403 unbounded_server_tool naming it, no upstream call, nothing charged',
    async (path, req, tool) => {
      const { key, record } = await seedKey({ team_id: 'team-strict-search' });
      const before = received.length;
      const res = await call({ path, headers: bearer(key), body: req });
      expect(res.status).toBe(403);
      // Anthropic's error shape (/v1/messages) has no `param`; OpenAI's names the field.
      expect(res.json.error).toMatchObject({ type: 'permission_error', code: 'unbounded_server_tool' });
      if (path === '/v1/responses') expect(res.json.error.param).toBe('tools');
      expect(res.json.error.message).toContain(`\`${tool}\``);
      expect(received.length).toBe(before);
      expect(await settledSpendNanos(refs.key(record.token))).toBe(0);
    },
  );

  it('a search tool with max_uses on a model with no per-search price: 403 unbounded_server_tool, no upstream call', async () => {
    const { key } = await seedKey({ team_id: 'team-strict-search' });
    const before = received.length;
    const res = await call({ path: '/v1/messages', headers: bearer(key), body: body('claude-old', { tools: [search(2)] }) });
    expect(res.status).toBe(403);
    expect(res.json.error.code).toBe('unbounded_server_tool');
    expect(res.json.error.message).toContain('claude-old');
    expect(received.length).toBe(before);
  });

  it('max_uses bounds the reservation: 5 searches ($0.05) do not fit a $0.01 budget (403 team_budget_exceeded), 0 searches do', async () => {
    const { key } = await seedKey({ team_id: 'team-strict-search' });
    const before = received.length;
    const refused = await call({ path: '/v1/messages', headers: bearer(key), body: body('claude-search', { tools: [search(5)] }) });
    expect(refused.status).toBe(403);
    expect(refused.json.error.code).toBe('team_budget_exceeded');
    expect(received.length).toBe(before);
    const fits = await call({ path: '/v1/messages', headers: bearer(key), body: body('claude-search', { tools: [search(0)] }) });
    expect(fits.status).toBe(200);
  });

  it('a fast caller is unchanged: a search tool without max_uses is served, and charged its searches', async () => {
    const { key, record } = await seedKey({ team_id: 'team-fast-search' });
    const res = await call({ path: '/v1/messages', headers: bearer(key), body: body('claude-search', { tools: [search()] }) });
    expect(res.status).toBe(200);
    expect(await settledSpendNanos(refs.key(record.token))).toBe(tokens + SEARCHES * PER_SEARCH_NANOS);
  });
});
