/**
 * Code interpreter sessions are billed beside tokens (found by review: never charged, though
 * OpenAI bills $0.03 for each 1 GB container its `code_interpreter` tool makes). A container the
 * answer shows the tool ran in is billed once, by the call it was made for, at the model's
 * `code_interpreter_cost_per_session` times its size in GB: JSON, streamed, and in a background
 * response's bill. A later call that runs in the same container is not billed it again. A model
 * without the price logs and counts the sessions; a strict caller's reservation holds them, and a
 * strict call on such a model is refused.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { handler as models } from '../../../functions/models/handler.js';
import { costNanos } from '../../../lib/domain/cost.js';
import type { ModelRecord } from '../../../lib/domain/records.js';
import { unpackLog } from '../../../lib/domain/spend-log.js';
import { refs } from '../../../lib/store/keys.js';
import { SPEND_LOG_ATTR } from '../../../lib/store/spend-ledger.js';
import { logger } from '../../../lib/telemetry.js';
import { callApi } from '../../support/admin.js';
import { bearer } from '../../support/authorizer.js';
import { metricValues } from '../../support/metrics.js';
import { seedKey, seedTeam } from '../../support/seed.js';
import { readItem, settledSpendNanos } from '../../support/spend.js';
import { useTestTable } from '../../support/table.js';
import { jsonUpstream, type TestUpstream } from '../../support/upstream.js';
import { call, seedModels, sseData } from './harness.js';

const SECRET = 'tollgate/code-interpreter';
const calls: Record<string, unknown>[] = [];
let upstream: TestUpstream | undefined;
let made = 0;

/** The container a call runs in: the one its tool names, its previous response's, else a new one. */
const containers = new Map<string, string>();
function containerFor(body: Record<string, unknown>): string {
  const tool = (body.tools as { container?: unknown }[] | undefined)?.[0];
  if (typeof tool?.container === 'string') return tool.container;
  const previous = typeof body.previous_response_id === 'string' ? containers.get(body.previous_response_id) : undefined;
  return previous ?? `cntr_${randomUUID()}`;
}

async function start(): Promise<string> {
  upstream = await jsonUpstream((body, res, req) => {
    calls.push(body);
    const read = req.method === 'GET' ? (req.url ?? '').split('/').at(-1) : undefined;
    const id = read ?? `resp_${++made}`;
    const container = read ? (containers.get(read) as string) : containerFor(body);
    containers.set(id, container);
    const item = { type: 'code_interpreter_call', id: `ci_${id}`, status: 'completed', code: 'print(1)', container_id: container };
    const second = { ...item, id: `ci2_${id}`, container_id: `cntr_${randomUUID()}` };
    const message = { type: 'message', id: `msg_${id}`, role: 'assistant', content: [{ type: 'output_text', text: '1' }] };
    const usage = { input_tokens: 100, output_tokens: 50 };
    const items = body.input === 'two containers' ? [item, second] : [item];
    const response = { id, object: 'response', model: body.model ?? 'gpt-4.1', status: 'completed', output: [...items, message], usage };
    if (body.background === true) {
      res.writeHead(200, { 'content-type': 'application/json' });
      return void res.end(JSON.stringify({ ...response, status: 'queued', output: [], usage: null }));
    }
    if (body.stream !== true) {
      res.writeHead(200, { 'content-type': 'application/json' });
      return void res.end(JSON.stringify(response));
    }
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    const ev = (type: string, data: Record<string, unknown>) => res.write(`event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`);
    ev('response.created', { response: { ...response, status: 'in_progress', output: [], usage: null } });
    ev('response.output_item.added', { output_index: 0, item: { ...item, status: 'in_progress' } });
    ev('response.output_item.done', { output_index: 0, item });
    ev('response.completed', { response });
    res.end();
  });
  return upstream.url;
}

const prices = { input_cost_per_million: 3, output_cost_per_million: 15 };
const tokens = costNanos({ inputTokens: 100, outputTokens: 50 }, prices);
const SESSION_NANOS = 30_000_000; // $0.03 a 1 GB container

beforeAll(async () => {
  // Metrics on, to see CodeInterpreterUnpriced (before the first metric is made).
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
  // The price /model/new gives an OpenAI model the library knows; a record made before it was kept.
  await seedModels([gpt('gpt-code', { code_interpreter_cost_per_session: 0.03 }), gpt('gpt-code-old')]);
  await seedTeam({ team_id: 'team-strict-code', max_budget: 0.1, enforcement: 'strict' });
});
afterAll(async () => {
  vi.unstubAllEnvs();
  await upstream?.close();
});

const tool = (container: unknown = { type: 'auto' }) => ({ type: 'code_interpreter', container });
const body = (extra: Record<string, unknown> = {}) => ({
  model: 'gpt-code',
  input: 'what is 1?',
  max_output_tokens: 100,
  tools: [tool()],
  ...extra,
});
const logOf = async (requestId: string) => unpackLog((await readItem(refs.settlement(requestId)))?.[SPEND_LOG_ATTR] as string);

describe('code interpreter sessions', () => {
  it.each([
    ['JSON', {}],
    ['streamed', { stream: true }],
  ])('%s: the container made for the call is one session, beside its tokens, on the spend log', async (_what, extra) => {
    const { key, record } = await seedKey({});
    const requestId = randomUUID();
    const res = await call({ path: '/v1/responses', headers: bearer(key), body: body(extra), requestId });
    expect(res.status).toBe(200);
    if ('stream' in extra) expect(sseData(res.text).length).toBeGreaterThan(0);
    expect(await settledSpendNanos(refs.key(record.token))).toBe(tokens + SESSION_NANOS);
    expect(await logOf(requestId)).toMatchObject({ code_interpreter_sessions: 1, spend: (tokens + SESSION_NANOS) / 1e9 });
  });

  it('a container of 4 GB is 4 sessions', async () => {
    const { key, record } = await seedKey({});
    const res = await call({
      path: '/v1/responses',
      headers: bearer(key),
      body: body({ tools: [tool({ type: 'auto', memory_limit: '4g' })] }),
    });
    expect(res.status).toBe(200);
    expect(await settledSpendNanos(refs.key(record.token))).toBe(tokens + 4 * SESSION_NANOS);
  });

  it('a later call in the same container (its previous response’s, or named by id) is not billed it again', async () => {
    const { key, record } = await seedKey({});
    const first = await call({ path: '/v1/responses', headers: bearer(key), body: body() });
    expect(first.status).toBe(200);
    const { id } = JSON.parse(first.text) as { id: string };
    const again = await call({ path: '/v1/responses', headers: bearer(key), body: body({ previous_response_id: id }) });
    expect(again.status).toBe(200);
    const named = await call({ path: '/v1/responses', headers: bearer(key), body: body({ tools: [tool(containers.get(id))] }) });
    expect(named.status).toBe(200);
    expect(await settledSpendNanos(refs.key(record.token))).toBe(3 * tokens + SESSION_NANOS);
  });

  it('a background response: its bill, when a read finds it done, holds the container made for it', async () => {
    const { key, record } = await seedKey({});
    const started = await call({ path: '/v1/responses', headers: bearer(key), body: body({ background: true }) });
    expect(started.status).toBe(200);
    const { id } = JSON.parse(started.text) as { id: string };
    expect(await settledSpendNanos(refs.key(record.token))).toBe(0);
    const read = await call({ method: 'GET', path: `/v1/responses/${id}`, headers: bearer(key), requestId: randomUUID() });
    expect(read.status).toBe(200);
    expect(await settledSpendNanos(refs.key(record.token))).toBe(tokens + SESSION_NANOS);
    expect(await logOf(`object:${id}`)).toMatchObject({ code_interpreter_sessions: 1 });
    // Read again: billed once.
    await call({ method: 'GET', path: `/v1/responses/${id}`, headers: bearer(key), requestId: randomUUID() });
    expect(await settledSpendNanos(refs.key(record.token))).toBe(tokens + SESSION_NANOS);
  });

  it('a background response chained before anyone read it: its container is billed once, to the response shown it first (review)', async () => {
    const { key, record } = await seedKey({});
    const started = await call({ path: '/v1/responses', headers: bearer(key), body: body({ background: true }) });
    const { id } = JSON.parse(started.text) as { id: string };
    // A webhook told the client it ended; it chains without reading it (the upstream reuses its container).
    const chained = await call({ path: '/v1/responses', headers: bearer(key), body: body({ previous_response_id: id }) });
    expect(chained.status).toBe(200);
    expect(await settledSpendNanos(refs.key(record.token))).toBe(tokens + SESSION_NANOS);
    const read = await call({ method: 'GET', path: `/v1/responses/${id}`, headers: bearer(key), requestId: randomUUID() });
    expect(read.status).toBe(200);
    expect(await settledSpendNanos(refs.key(record.token))).toBe(2 * tokens + SESSION_NANOS);
  });

  it('two code interpreter tools (1 GB and 4 GB), two containers: 5 sessions, as reserved (review: 8)', async () => {
    const { key, record } = await seedKey({});
    const tools = [tool({ type: 'auto' }), tool({ type: 'auto', memory_limit: '4g' })];
    const res = await call({ path: '/v1/responses', headers: bearer(key), body: body({ tools, input: 'two containers' }) });
    expect(res.status).toBe(200);
    expect(await settledSpendNanos(refs.key(record.token))).toBe(tokens + 5 * SESSION_NANOS);
  });

  it('a model with no session price: its tokens charged, the session logged and counted', async () => {
    const { key, record } = await seedKey({});
    const requestId = randomUUID();
    const warn = vi.spyOn(logger(), 'warn');
    try {
      const { values } = await metricValues('CodeInterpreterUnpriced', async () => {
        const res = await call({ path: '/v1/responses', headers: bearer(key), body: body({ model: 'gpt-code-old' }), requestId });
        expect(res.status).toBe(200);
        expect(await settledSpendNanos(refs.key(record.token))).toBe(tokens);
      });
      expect(values).toEqual([1]);
      expect(warn).toHaveBeenCalledWith('code interpreter sessions unpriced', { requestId, model: 'gpt-code-old', sessions: 1 });
    } finally {
      warn.mockRestore();
    }
  });
});

describe('a strict caller and the code interpreter', () => {
  it('its reservation holds the container: a 64 GB one ($1.92) does not fit a $0.10 budget, a 1 GB one does and is charged', async () => {
    const { key, record } = await seedKey({ team_id: 'team-strict-code' });
    const before = calls.length;
    const refused = await call({
      path: '/v1/responses',
      headers: bearer(key),
      body: body({ tools: [tool({ type: 'auto', memory_limit: '64g' })] }),
    });
    expect(refused.status).toBe(403);
    expect(refused.json.error.code).toBe('team_budget_exceeded');
    expect(calls.length).toBe(before);
    const fits = await call({ path: '/v1/responses', headers: bearer(key), body: body() });
    expect(fits.status).toBe(200);
    expect(await settledSpendNanos(refs.key(record.token))).toBe(tokens + SESSION_NANOS);
  });

  it('on a model with no session price: 403 unbounded_server_tool naming the price, no upstream call', async () => {
    const { key } = await seedKey({ team_id: 'team-strict-code' });
    const before = calls.length;
    const res = await call({ path: '/v1/responses', headers: bearer(key), body: body({ model: 'gpt-code-old' }) });
    expect(res.status).toBe(403);
    expect(res.json.error.code).toBe('unbounded_server_tool');
    expect(res.json.error.message).toContain('code_interpreter_cost_per_session');
    expect(calls.length).toBe(before);
  });
});

describe('the code interpreter price', () => {
  it('/model/new gives an OpenAI model the library knows $0.03 a session; LiteLLM’s field is taken; a bad one is a 400 and changes nothing', async () => {
    const made = await callApi(models, 'POST', '/model/new', {
      model_name: 'gpt-4.1-coder',
      litellm_params: { model: 'gpt-4.1', api_base: 'https://api.openai.com/v1', api_key_secret: SECRET },
    });
    expect(made.status).toBe(200);
    const info = async () => (await callApi(models, 'GET', '/model/info', { model_name: 'gpt-4.1-coder' })).body.data[0].model_info;
    expect(await info()).toMatchObject({ code_interpreter_cost_per_session: 0.03 });
    expect(
      (
        await callApi(models, 'POST', '/model/update', {
          model_name: 'gpt-4.1-coder',
          model_info: { code_interpreter_cost_per_session: 0.05 },
        })
      ).status,
    ).toBe(200);
    expect(await info()).toMatchObject({ code_interpreter_cost_per_session: 0.05 });
    for (const bad of [-1, '0.03', null]) {
      const res = await callApi(models, 'POST', '/model/update', {
        model_name: 'gpt-4.1-coder',
        model_info: { code_interpreter_cost_per_session: bad },
      });
      expect([res.status, res.body.error.param]).toEqual([400, 'model_info.code_interpreter_cost_per_session']);
    }
    expect(await info()).toMatchObject({ code_interpreter_cost_per_session: 0.05 });
  });
});
