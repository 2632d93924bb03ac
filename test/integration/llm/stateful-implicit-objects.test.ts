/**
 * Objects an upstream makes inside a call, with no route of their own through Tollgate (found by
 * review): a code interpreter's container (a sandbox holding the files its code wrote), a vector
 * store made with a thread. A body naming one (`container`, `vector_store_ids`, `conversation`)
 * reaches only its maker's; one Tollgate never saw made is nobody's, as for any stored object.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { beforeAll, describe, expect, it } from 'vitest';
import { MOCK_ANTHROPIC_SECRET, mockLocalSecrets, mockModels } from '../../../infra/local/mock-models.js';
import { refs } from '../../../lib/store/keys.js';
import { bearer } from '../../support/authorizer.js';
import { seedKey, seedTeam } from '../../support/seed.js';
import { spendNanos } from '../../support/spend.js';
import { useTestTable } from '../../support/table.js';
import { call, seedModels } from './harness.js';

let server: Server;
const received: { method: string; path: string; body: string }[] = [];
let n = 0;

beforeAll(async () => {
  server = createServer((req, res) => {
    let raw = '';
    req.on('data', (c) => {
      raw += c;
    });
    req.on('end', () => {
      received.push({ method: req.method ?? '', path: req.url ?? '', body: raw });
      const url = new URL(req.url ?? '/', 'http://x');
      n++;
      if (req.method === 'POST' && url.pathname === '/v1/threads/runs' && raw.includes('"stream":true')) {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        const run = { id: `run_${n}`, object: 'thread.run', thread_id: `thread_${n}`, status: 'queued', usage: null };
        const done = { ...run, status: 'completed', usage: { prompt_tokens: 2, completion_tokens: 4, total_tokens: 6 } };
        return res.end(
          `event: thread.run.created\ndata: ${JSON.stringify(run)}\n\nevent: thread.run.completed\ndata: ${JSON.stringify(done)}\n\nevent: done\ndata: [DONE]\n\n`,
        );
      }
      if (req.method === 'POST' && url.pathname === '/v1/responses' && raw.includes('"stream":true')) {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        const response = { id: `resp_${n}`, object: 'response', status: 'in_progress', output: [], usage: null };
        const item = { type: 'code_interpreter_call', id: `ci_${n}`, container_id: `cntr_${n}`, status: 'completed' };
        const usage = { input_tokens: 2, output_tokens: 4, total_tokens: 6 };
        const event = (data: unknown) => `data: ${JSON.stringify(data)}\n\n`;
        return res.end(
          event({ type: 'response.created', response }) +
            event({ type: 'response.output_item.done', item }) +
            event({ type: 'response.completed', response: { ...response, status: 'completed', output: [item], usage } }),
        );
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      if (req.method === 'POST' && url.pathname === '/v1/responses') {
        const usage = { input_tokens: 2, output_tokens: 4, total_tokens: 6 };
        const output = [
          { type: 'code_interpreter_call', id: `ci_${n}`, container_id: `cntr_${n}`, code: 'print(1)', status: 'completed' },
          { type: 'message', id: `msg_${n}`, role: 'assistant', content: [{ type: 'output_text', text: 'ok' }] },
        ];
        return res.end(JSON.stringify({ id: `resp_${n}`, object: 'response', status: 'completed', output, usage }));
      }
      if (req.method === 'POST' && url.pathname === '/v1/messages') {
        const usage = { input_tokens: 2, output_tokens: 4 };
        const container = { id: `container_${n}`, expires_at: '2030-01-01T00:00:00Z' };
        const content = [{ type: 'text', text: 'ok' }];
        return res.end(JSON.stringify({ id: `msg_${n}`, type: 'message', role: 'assistant', content, container, usage }));
      }
      const runOn = /^\/v1\/threads\/(thread_\d+)\/runs(?:\/(run_\d+))?(\/\w+)?$/.exec(url.pathname);
      if (runOn) {
        // A run under way when made or given tool outputs; completed, with its whole usage, when read.
        const [, thread, runId, tail] = runOn;
        const usage = { prompt_tokens: 100000, completion_tokens: 50000, total_tokens: 150000 };
        const run = { id: runId ?? `run_${n}`, object: 'thread.run', thread_id: thread };
        if (req.method === 'GET' && runId && !tail) return res.end(JSON.stringify({ ...run, status: 'completed', usage }));
        return res.end(JSON.stringify({ ...run, status: 'queued', usage: null }));
      }
      if (req.method === 'POST' && url.pathname === '/v1/threads/runs') {
        const usage = { prompt_tokens: 2, completion_tokens: 4, total_tokens: 6 };
        return res.end(JSON.stringify({ id: `run_${n}`, object: 'thread.run', thread_id: `thread_${n}`, status: 'queued', usage }));
      }
      if (req.method === 'GET' && /^\/v1\/threads\/thread_\d+/.test(url.pathname))
        return res.end(JSON.stringify({ id: 'x', object: 'thread' }));
      if (req.method === 'POST' && url.pathname === '/v1/threads') {
        const tool_resources = { file_search: { vector_store_ids: [`vs_${n}`] } };
        return res.end(JSON.stringify({ id: `thread_${n}`, object: 'thread', tool_resources }));
      }
      res.end('{}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  await useTestTable({
    TOLLGATE_MASTER_KEY: 'sk-master-implicit-0123456789abcdef',
    TOLLGATE_LOCAL_SECRETS: JSON.stringify(mockLocalSecrets()),
    TOLLGATE_PASSTHROUGH_MODEL: 'gpt-4o-mini',
  });
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  await seedModels([
    ...mockModels(`${base}/v1`),
    {
      model_name: 'claude',
      provider: 'anthropic',
      upstream_model: 'claude-sonnet-4-5',
      upstream_base_url: base,
      api_key_secret: MOCK_ANTHROPIC_SECRET,
      input_cost_per_million: 3,
      output_cost_per_million: 15,
      created_at: '2025-01-01T00:00:00.000Z',
    },
  ]);
  await seedTeam({ team_id: 'team-a' });
  await seedTeam({ team_id: 'team-b' });
  return () => new Promise<void>((r) => server.close(() => r()));
});

const respond = (key: string, extra: Record<string, unknown>) =>
  call({ path: '/v1/responses', headers: bearer(key), body: { model: 'gpt-4o-mini', input: 'x', ...extra } });

describe('a container a code interpreter made', () => {
  it("is reused by its maker's team; another team naming it gets 404, nothing forwarded", async () => {
    const a = await seedKey({ team_id: 'team-a' });
    const a2 = await seedKey({ team_id: 'team-a' });
    const b = await seedKey({ team_id: 'team-b' });
    const made = await respond(a.key, { tools: [{ type: 'code_interpreter', container: { type: 'auto' } }] });
    const container = made.json.output[0].container_id as string;
    const tools = [{ type: 'code_interpreter', container }];
    const before = received.length;
    const theirs = await respond(b.key, { tools });
    expect([theirs.status, theirs.json.error?.type, received.length - before]).toEqual([404, 'not_found_error', 0]);
    expect((await respond(a2.key, { tools })).status).toBe(200);
  });

  it('made in a streamed response: its maker reuses it, another team gets 404', async () => {
    const a = await seedKey({ team_id: 'team-a' });
    const b = await seedKey({ team_id: 'team-b' });
    const made = await respond(a.key, { stream: true, tools: [{ type: 'code_interpreter', container: { type: 'auto' } }] });
    const container = /"container_id":"(cntr_\d+)"/.exec(made.text)?.[1] as string;
    const tools = [{ type: 'code_interpreter', container }];
    expect((await respond(b.key, { tools })).status).toBe(404);
    expect((await respond(a.key, { tools })).status).toBe(200);
  });
});

describe("a container Anthropic's code execution made", () => {
  const ask = (key: string, extra: Record<string, unknown> = {}) =>
    call({
      path: '/v1/messages',
      headers: { ...bearer(key), 'anthropic-beta': 'code-execution-2025-08-25' },
      body: { model: 'claude', max_tokens: 50, messages: [{ role: 'user', content: 'run it' }], ...extra },
    });
  it('is reused by its maker; another team naming it gets 404, nothing forwarded', async () => {
    const a = await seedKey({ team_id: 'team-a' });
    const b = await seedKey({ team_id: 'team-b' });
    const made = await ask(a.key, { tools: [{ type: 'code_execution_20250825', name: 'code_execution' }] });
    const container = made.json.container.id as string;
    const before = received.length;
    const theirs = await ask(b.key, { container });
    expect([theirs.status, theirs.json.error?.type, received.length - before]).toEqual([404, 'not_found_error', 0]);
    expect((await ask(a.key, { container })).status).toBe(200);
  });
});

describe('a vector store made with a thread', () => {
  it("is searched by its maker's team; another team naming it gets 404, nothing forwarded", async () => {
    const a = await seedKey({ team_id: 'team-a' });
    const b = await seedKey({ team_id: 'team-b' });
    const thread = await call({
      path: '/v1/threads',
      headers: bearer(a.key),
      body: { tool_resources: { file_search: { vector_stores: [{ file_ids: [] }] } } },
    });
    const store = thread.json.tool_resources.file_search.vector_store_ids[0] as string;
    const tools = [{ type: 'file_search', vector_store_ids: [store] }];
    const before = received.length;
    const theirs = await respond(b.key, { tools });
    expect([theirs.status, theirs.json.error?.type, received.length - before]).toEqual([404, 'not_found_error', 0]);
    expect((await respond(a.key, { tools })).status).toBe(200);
  });
});

describe('a thread made and run at once (`POST /threads/runs`)', () => {
  it("is its maker's (not the run's id taken for a thread): its maker reads it and its run, another team gets 404", async () => {
    const a = await seedKey({ team_id: 'team-a' });
    const b = await seedKey({ team_id: 'team-b' });
    const run = await call({ path: '/v1/threads/runs', headers: bearer(a.key), body: { assistant_id: undefined, model: 'gpt-4o-mini' } });
    expect(run.status).toBe(200);
    const thread = run.json.thread_id as string;
    for (const path of [`/v1/threads/${thread}`, `/v1/threads/${thread}/runs/${run.json.id}`])
      expect([path, (await call({ method: 'GET', path, headers: bearer(a.key) })).status]).toEqual([path, 200]);
    expect((await call({ method: 'GET', path: `/v1/threads/${thread}`, headers: bearer(b.key) })).status).toBe(404);
  });
});

describe('a run on a thread (found by review)', () => {
  it('is billed once, by its whole usage, when a read finds it completed (tool outputs submitted bill nothing by themselves)', async () => {
    const { key, record } = await seedKey({ team_id: 'team-a' });
    const thread = (await call({ path: '/v1/threads', headers: bearer(key), body: {} })).json.id as string;
    const run = await call({ path: `/v1/threads/${thread}/runs`, headers: bearer(key), body: {} });
    expect(run.json.status).toBe('queued');
    const outputs = `/v1/threads/${thread}/runs/${run.json.id}/submit_tool_outputs`;
    expect((await call({ path: outputs, headers: bearer(key), body: { tool_outputs: [] } })).status).toBe(200);
    expect(await spendNanos(refs.key(record.token))).toBe(0);
    for (let i = 0; i < 2; i++) await call({ method: 'GET', path: `/v1/threads/${thread}/runs/${run.json.id}`, headers: bearer(key) });
    // gpt-4o-mini: 100000 input and 50000 output tokens.
    expect(await spendNanos(refs.key(record.token))).toBe(100000 * 0.15 * 1000 + 50000 * 0.6 * 1000);
  });
});

describe('a thread made and run at once, as a stream (found by review)', () => {
  it("is its maker's: its maker reads it, another team gets 404", async () => {
    const a = await seedKey({ team_id: 'team-a' });
    const b = await seedKey({ team_id: 'team-b' });
    const made = await call({ path: '/v1/threads/runs', headers: bearer(a.key), body: { model: 'gpt-4o-mini', stream: true } });
    const thread = /"thread_id":"(thread_\d+)"/.exec(made.text)?.[1] as string;
    expect((await call({ method: 'GET', path: `/v1/threads/${thread}`, headers: bearer(a.key) })).status).toBe(200);
    expect((await call({ method: 'GET', path: `/v1/threads/${thread}`, headers: bearer(b.key) })).status).toBe(404);
  });
});

describe('ids Tollgate never saw made', () => {
  it.each([
    ['a container', { tools: [{ type: 'code_interpreter', container: 'cntr_elsewhere' }] }],
    ['a vector store', { tools: [{ type: 'file_search', vector_store_ids: ['vs_elsewhere'] }] }],
    ['a conversation', { conversation: 'conv_elsewhere' }],
    ['a conversation, as an object', { conversation: { id: 'conv_elsewhere' } }],
  ])('%s: 404 before any upstream call', async (_, extra) => {
    const a = await seedKey({ team_id: 'team-a' });
    const before = received.length;
    const res = await respond(a.key, extra);
    expect([res.status, res.json.error?.type, received.length - before]).toEqual([404, 'not_found_error', 0]);
  });
});
