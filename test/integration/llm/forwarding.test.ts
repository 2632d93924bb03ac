/**
 * Forwarding: what the upstream receives (its own key, the upstream model id, none of the
 * caller's credentials), what the caller gets back (status and body, OpenAI's SSE framing),
 * streaming chunk by chunk, and upstream failures mapped to OpenAI-shaped 502/504.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../../infra/local/dynamodb.js';
import { MOCK_UPSTREAM_KEY, MOCK_UPSTREAM_SECRET, mockLocalSecrets, mockModels } from '../../../infra/local/mock-models.js';
import { type MockUpstream, startMockUpstream } from '../../../infra/local/mock-upstream.js';
import { configureApp } from '../../../lib/app/index.js';
import { type Config, config } from '../../../lib/config.js';
import type { ModelRecord } from '../../../lib/domain/records.js';
import { bearer } from '../../support/authorizer.js';
import { seedKey } from '../../support/seed.js';
import { reconfigure, type TestTable, useTestTable } from '../../support/table.js';
import { call, chat, seedModels, sseData } from './harness.js';

const MASTER = 'sk-master-llm-forwarding';
let mock: MockUpstream;
let table: TestTable;
let key: string;

const model = (name: string, upstreamModel: string, extra: Partial<ModelRecord> = {}): ModelRecord => ({
  model_name: name,
  upstream_base_url: mock.url,
  upstream_model: upstreamModel,
  api_key_secret: MOCK_UPSTREAM_SECRET,
  input_cost_per_million: 1,
  output_cost_per_million: 2,
  created_at: '2025-01-01T00:00:00.000Z',
  ...extra,
});

beforeAll(async () => {
  mock = await startMockUpstream({ apiKey: MOCK_UPSTREAM_KEY });
  table = await useTestTable({
    TOLLGATE_MASTER_KEY: MASTER,
    TOLLGATE_LOCAL_SECRETS: JSON.stringify({ ...mockLocalSecrets(), 'wrong-key': 'sk-not-the-upstream-key' }),
  });
  const closedPort = await freePort();
  await seedModels([
    ...mockModels(mock.url),
    model('house-model', 'gpt-4o-mini'),
    model('slow-stream', 'gpt-4o-mini+delay=80'),
    model('rate-limited', 'gpt-4o-mini+status=429'),
    model('broken', 'gpt-4o-mini+status=500'),
    model('html-error', 'gpt-4o-mini+status=503+html'),
    model('hanging', 'gpt-4o-mini+hang'),
    model('stalls-mid-stream', 'gpt-4o-mini+hang_after=3'),
    model('drops-mid-stream', 'gpt-4o-mini+drop_after=3'),
    model('wrong-credentials', 'gpt-4o-mini', { api_key_secret: 'wrong-key' }),
    model('missing-secret', 'gpt-4o-mini', { api_key_secret: 'not-among-local-secrets' }),
    model('unreachable', 'gpt-4o-mini', { upstream_base_url: `http://127.0.0.1:${closedPort}/v1` }),
  ]);
  key = (await seedKey({})).key;
});
afterAll(async () => {
  await mock.close();
});
let configBefore: Config | undefined;
/** A shorter upstream timeout for one test; afterEach puts the configuration back. */
const upstreamTimeout = (ms: number) => {
  configBefore ??= config();
  configureApp({ config: { ...config(), upstreamTimeoutMs: ms } });
};
afterEach(() => {
  if (configBefore) configureApp({ config: configBefore });
  configBefore = undefined;
});

describe('what the upstream receives', () => {
  it("gets the model's upstream id, its own key, and none of the caller's credentials", async () => {
    const res = await call({
      path: '/v1/chat/completions',
      headers: { ...bearer(key), 'x-api-key': key, 'x-litellm-api-key': key, cookie: 'session=abc', 'openai-beta': 'assistants=v2' },
      body: chat('house-model', 'forward me', { temperature: 0.5 }),
    });
    expect(res.status).toBe(200);
    const seen = mock.requests.at(-1)!;
    expect(seen.path).toBe('/chat/completions');
    expect(seen.body).toEqual({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'forward me' }], temperature: 0.5 });
    expect(seen.headers.authorization).toBe(`Bearer ${MOCK_UPSTREAM_KEY}`);
    expect(seen.headers['openai-beta']).toBe('assistants=v2');
    expect(JSON.stringify(seen.headers)).not.toContain(key);
    expect(seen.headers.cookie).toBeUndefined();
  });

  it('strips the /v1 prefix either way and reads a base64 body', async () => {
    const res = await call({
      path: '/completions',
      headers: bearer(key),
      body: JSON.stringify({ model: 'gpt-4o-mini', prompt: 'one two' }),
      base64: true,
    });
    expect(res.status).toBe(200);
    expect(res.json.choices[0].text).toBe('Mock answer: one two');
    expect(mock.requests.at(-1)?.path).toBe('/completions');
  });

  it('passes the status and body of an answer back unchanged', async () => {
    const res = await call({
      path: '/v1/embeddings',
      headers: bearer(key),
      body: { model: 'text-embedding-3-small', input: ['a b c', 'd'] },
    });
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toContain('application/json');
    expect(res.json.usage).toEqual({ prompt_tokens: 4, total_tokens: 4 });
    expect(res.json.data).toHaveLength(2);
  });
});

describe('bad requests', () => {
  it('answers 400 for a body that is not JSON', async () => {
    const res = await call({
      path: '/v1/chat/completions',
      headers: { ...bearer(key), 'content-type': 'application/json' },
      body: '{"model": ',
    });
    expect(res.status).toBe(400);
    expect(res.json.error).toEqual({
      message: 'the request body is not valid JSON',
      type: 'invalid_request_error',
      param: null,
      code: 'invalid_body',
    });
  });

  it('answers 400 for a `model` that is not a string', async () => {
    const res = await call({ path: '/v1/chat/completions', headers: bearer(key), body: { model: ['gpt-4o'], messages: [] } });
    expect(res.status).toBe(400);
    expect(res.json.error).toMatchObject({ code: 'invalid_body', param: 'model' });
  });

  it('answers 400 model_required when no model is named and no default upstream is set', async () => {
    const res = await call({ method: 'GET', path: '/v1/files', headers: bearer(key) });
    expect(res.status).toBe(400);
    expect(res.json.error.code).toBe('model_required');
  });

  it('sends model-less routes to the passthrough model when one is configured', async () => {
    reconfigure(table.config, {
      TOLLGATE_MASTER_KEY: MASTER,
      TOLLGATE_LOCAL_SECRETS: JSON.stringify(mockLocalSecrets()),
      TOLLGATE_PASSTHROUGH_MODEL: 'gpt-4o-mini',
    });
    try {
      const res = await call({ method: 'GET', path: '/v1/files', headers: bearer(key), query: { purpose: 'batch' } });
      // The mock's file list, narrowed to this caller's files (it made none: lib/llm/objects).
      expect(res.status).toBe(200);
      expect(res.json).toMatchObject({ object: 'list', data: [] });
      expect(mock.requests.at(-1)?.path).toBe('/files?purpose=batch');
    } finally {
      reconfigure(table.config, {
        TOLLGATE_MASTER_KEY: MASTER,
        TOLLGATE_LOCAL_SECRETS: JSON.stringify({ ...mockLocalSecrets(), 'wrong-key': 'sk-not-the-upstream-key' }),
      });
    }
  });
});

describe('streaming', () => {
  it('passes chunks through as they arrive: the first reaches the caller before the upstream wrote its last', async () => {
    const res = await call({
      path: '/v1/chat/completions',
      headers: bearer(key),
      body: chat('slow-stream', 'one two three four five', { stream: true }),
    });
    const upstream = mock.requests.at(-1)!;
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('text/event-stream; charset=utf-8');
    expect(res.chunks.length).toBeGreaterThan(5);
    // With 80 ms between upstream chunks, buffering would deliver everything after the last one.
    expect(res.chunks[0]!.at).toBeLessThan(upstream.lastChunkAt!);
    expect(upstream.lastChunkAt! - res.chunks[0]!.at).toBeGreaterThan(300);
  });

  it('frames events as OpenAI does and hides the usage chunk the client did not ask for', async () => {
    const res = await call({ path: '/v1/chat/completions', headers: bearer(key), body: chat('gpt-4o-mini', 'a b', { stream: true }) });
    expect(mock.requests.at(-1)?.body).toMatchObject({ stream: true, stream_options: { include_usage: true } });
    expect(res.text).toMatch(/^(data: [^\n]+\n\n)+$/);
    const data = sseData(res.text);
    expect(data.at(-1)).toBe('[DONE]');
    const chunks = data.slice(0, -1).map((d) => JSON.parse(d));
    expect(chunks.every((c) => c.choices.length === 1)).toBe(true);
    expect(chunks.map((c) => c.choices[0].delta.content ?? '').join('')).toBe('Mock answer: a b');
  });

  it('keeps the usage chunk when the client asked for it', async () => {
    const res = await call({
      path: '/v1/chat/completions',
      headers: bearer(key),
      body: chat('gpt-4o-mini', 'a b', { stream: true, stream_options: { include_usage: true } }),
    });
    const chunks = sseData(res.text)
      .slice(0, -1)
      .map((d) => JSON.parse(d));
    expect(chunks.at(-1)).toMatchObject({ choices: [], usage: { prompt_tokens: 2, completion_tokens: 4, total_tokens: 6 } });
  });

  it('streams completions too', async () => {
    const res = await call({ path: '/v1/completions', headers: bearer(key), body: { model: 'gpt-4o-mini', prompt: 'x y', stream: true } });
    const chunks = sseData(res.text)
      .slice(0, -1)
      .map((d) => JSON.parse(d));
    expect(chunks.map((c) => c.choices[0].text).join('')).toBe('Mock answer: x y');
  });
});

describe('upstream failures', () => {
  it('passes an OpenAI-shaped upstream error through with its status', async () => {
    for (const [name, status] of [
      ['rate-limited', 429],
      ['broken', 500],
    ] as const) {
      const res = await call({ path: '/v1/chat/completions', headers: bearer(key), body: chat(name, 'x') });
      expect(res.status).toBe(status);
      expect(res.json.error).toMatchObject({ message: `mock upstream error ${status}`, code: `mock_${status}` });
    }
  });

  it('passes an upstream error through on a streaming request too', async () => {
    const res = await call({ path: '/v1/chat/completions', headers: bearer(key), body: chat('rate-limited', 'x', { stream: true }) });
    expect(res.status).toBe(429);
    expect(res.json.error.code).toBe('mock_429');
  });

  it('turns a non-OpenAI error page into 502 upstream_failed', async () => {
    const res = await call({ path: '/v1/chat/completions', headers: bearer(key), body: chat('html-error', 'x') });
    expect(res.status).toBe(502);
    expect(res.json.error).toEqual({
      message: 'the upstream for `html-error` answered HTTP 503 without an OpenAI error body',
      type: 'upstream_error',
      param: null,
      code: 'upstream_failed',
    });
  });

  it('answers 502 when the upstream cannot be reached', async () => {
    const res = await call({ path: '/v1/chat/completions', headers: bearer(key), body: chat('unreachable', 'x') });
    expect(res.status).toBe(502);
    expect(res.json.error).toMatchObject({
      type: 'upstream_error',
      code: 'upstream_failed',
      message: 'the upstream for `unreachable` failed (ECONNREFUSED)',
    });
  });

  it("answers 502, not the caller's 401, when the upstream refuses Tollgate's key", async () => {
    const res = await call({ path: '/v1/chat/completions', headers: bearer(key), body: chat('wrong-credentials', 'x') });
    expect(res.status).toBe(502);
    expect(res.json.error.message).toBe("the upstream for `wrong-credentials` refused Tollgate's credentials (HTTP 401)");
    expect(res.text).not.toContain('sk-not-the-upstream-key');
  });

  it('answers 502 when the upstream key cannot be read', async () => {
    const res = await call({ path: '/v1/chat/completions', headers: bearer(key), body: chat('missing-secret', 'x') });
    expect(res.status).toBe(502);
    expect(res.json.error.message).toBe('the upstream key for model `missing-secret` could not be read');
  });

  it('answers 504 upstream_timeout when the upstream does not answer in time', async () => {
    upstreamTimeout(250);
    const started = Date.now();
    const res = await call({ path: '/v1/chat/completions', headers: bearer(key), body: chat('hanging', 'x') });
    expect(res.status).toBe(504);
    expect(res.json.error).toEqual({
      message: 'the upstream for `hanging` did not answer within 250 ms',
      type: 'upstream_error',
      param: null,
      code: 'upstream_timeout',
    });
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('ends a stream that goes silent with an error event the client raises', async () => {
    upstreamTimeout(250);
    const res = await call({
      path: '/v1/chat/completions',
      headers: bearer(key),
      body: chat('stalls-mid-stream', 'a b c d', { stream: true }),
    });
    expect(res.status).toBe(200);
    const data = sseData(res.text);
    expect(data).toHaveLength(4);
    expect(JSON.parse(data.at(-1)!)).toEqual({
      error: {
        message: 'the upstream for `stalls-mid-stream` did not answer within 250 ms',
        type: 'upstream_error',
        param: null,
        code: 'upstream_timeout',
      },
    });
  });

  it('ends a stream whose connection drops with an upstream_failed error event', async () => {
    const res = await call({
      path: '/v1/chat/completions',
      headers: bearer(key),
      body: chat('drops-mid-stream', 'a b c d', { stream: true }),
    });
    const data = sseData(res.text);
    expect(data).toHaveLength(4);
    expect(JSON.parse(data.at(-1)!).error).toMatchObject({ type: 'upstream_error', code: 'upstream_failed' });
  });
});
