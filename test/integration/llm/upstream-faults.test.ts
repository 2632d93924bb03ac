/**
 * Upstream faults found by review: a redirect is never followed (the prompt and Tollgate's
 * upstream key stay under the model's base URL; fetch strips only Authorization on a change of
 * origin, so Anthropic's `x-api-key` and Azure's `api-key` went along), and a streaming client
 * that goes away leaves the call unanswered however its connection ends.
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { ModelRecord } from '../../../lib/domain/records.js';
import { settlementsOf } from '../../../lib/llm/handle.js';
import { refs } from '../../../lib/store/keys.js';
import { bearer } from '../../support/authorizer.js';
import { roomInMinute } from '../../support/rate.js';
import { seedKey } from '../../support/seed.js';
import { readItem, settledSpendNanos } from '../../support/spend.js';
import { useTestTable } from '../../support/table.js';
import { call, chat, seedModels, startStream } from './harness.js';

const SECRET = 'tollgate/upstream-faults';
const UPSTREAM_KEY = 'sk-upstream-faults-SECRET';
const prices = { input_cost_per_million: 1, output_cost_per_million: 10 };
const created_at = '2025-01-01T00:00:00.000Z';
let server: Server;
let elsewhere: Server;
const seenElsewhere: IncomingHttpHeaders[] = [];
const endlessClosed: string[] = [];
/** When the paused upstream saw its connection close. */
const pausedClosedAt: number[] = [];
const THROTTLES = ['seconds', 'date', 'junk', 'huge', 'json'] as const;

const listen = (s: Server) =>
  new Promise<string>((r) => s.listen(0, '127.0.0.1', () => r(`http://127.0.0.1:${(s.address() as AddressInfo).port}`)));

beforeAll(async () => {
  elsewhere = createServer((req, res) => {
    seenElsewhere.push(req.headers);
    req.resume();
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ id: 'x', object: 'chat.completion', choices: [], usage: { prompt_tokens: 1, completion_tokens: 1 } }));
  });
  const other = await listen(elsewhere);
  server = createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => {
      const body = JSON.parse(Buffer.concat(parts).toString('utf8') || '{}') as Record<string, unknown>;
      if (String(body.model).includes('endless')) {
        // A body that never ends: Tollgate must stop reading it, however it is framed.
        const event = String(body.model).includes('endlessevent');
        res.writeHead(200, { 'content-type': event ? 'text/event-stream' : 'application/json' });
        const piece = Buffer.alloc(1024 * 1024, event ? 'x' : ' ');
        res.write(event ? 'data: ' : '{"choices": [');
        const more = () => {
          while (!res.destroyed && res.write(piece));
        };
        res.on('drain', more);
        res.on('close', () => endlessClosed.push(String(body.model)));
        return more();
      }
      const throttled = /throttled-(\w+)/.exec(String(body.model))?.[1];
      if (throttled) {
        // A 429 without an error body Tollgate can relay (a load balancer's, a gateway's).
        const after: Record<string, Record<string, string>> = {
          seconds: { 'retry-after': '7', 'retry-after-ms': '6500' },
          date: { 'retry-after': new Date(Date.now() + 30_000).toUTCString() },
          junk: { 'retry-after': 'soon', 'retry-after-ms': '-1' },
          huge: { 'retry-after': '99999999' },
          json: { 'retry-after': '3' },
        };
        if (throttled === 'json') {
          // The upstream's own error body: relayed as it came, its retry-after with it.
          const error = { type: 'rate_limit_error', code: 'rate_limit_exceeded', message: 'slow down' };
          res.writeHead(429, { 'content-type': 'application/json', ...after.json });
          return res.end(JSON.stringify((req.url ?? '').includes('/messages') ? { type: 'error', error } : { error }));
        }
        res.writeHead(429, { 'content-type': 'text/plain', ...after[throttled] });
        return res.end('slow down');
      }
      if (String(body.model).includes('garbled')) {
        res.writeHead(200, { 'content-type': 'application/json' });
        return res.end('<html>oops</html>');
      }
      if (String(body.model).includes('echostream')) {
        // A stream whose error event repeats the credential it got.
        const got = `${req.headers.authorization ?? ''} ${req.headers['x-api-key'] ?? ''} ${req.headers['api-key'] ?? ''}`;
        const error = { type: 'server_error', message: `failed for ${got}` };
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        const anthropic = (req.url ?? '').includes('/messages');
        return res.end(
          anthropic ? `event: error\ndata: ${JSON.stringify({ type: 'error', error })}\n\n` : `data: ${JSON.stringify({ error })}\n\n`,
        );
      }
      if (String(body.model).includes('echo200')) {
        // The same, answered with HTTP 200: some OpenAI-compatible servers and gateways answer errors so.
        const got = `${req.headers.authorization ?? ''} ${req.headers['x-api-key'] ?? ''} ${req.headers['api-key'] ?? ''}`;
        const error = { type: 'invalid_request_error', message: `bad request from ${got}` };
        res.writeHead(200, { 'content-type': 'application/json' });
        return res.end(JSON.stringify((req.url ?? '').includes('/messages') ? { type: 'error', error } : { error }));
      }
      if (String(body.model).includes('echo')) {
        // An upstream that repeats the credential it got in its error message.
        const got = `${req.headers.authorization ?? ''} ${req.headers['x-api-key'] ?? ''} ${req.headers['api-key'] ?? ''}`;
        const error = { type: 'invalid_request_error', message: `bad request from ${got}` };
        res.writeHead(400, { 'content-type': 'application/json' });
        return res.end(JSON.stringify((req.url ?? '').includes('/messages') ? { type: 'error', error } : { error }));
      }
      if (String(body.model).includes('redirect')) {
        res.writeHead(307, { location: `${other}${req.url}` });
        return res.end();
      }
      // A slow stream: a chunk every 30 ms; paused: one at once, then one every 3 s.
      const paused = String(body.model).includes('paused');
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      let i = 0;
      const chunk = () => res.write(`data: {"id":"c","choices":[{"index":0,"delta":{"content":"word${i} "}}]}\n\n`);
      if (paused) chunk();
      const t = setInterval(
        () => {
          if (res.destroyed || i++ > 30) {
            clearInterval(t);
            return res.end();
          }
          chunk();
        },
        paused ? 3000 : 30,
      );
      res.on('close', () => {
        clearInterval(t);
        if (paused) pausedClosedAt.push(performance.now());
      });
    });
  });
  const base = await listen(server);
  await useTestTable({ TOLLGATE_LOCAL_SECRETS: JSON.stringify({ [SECRET]: UPSTREAM_KEY }) });
  const model = (name: string, extra: Partial<ModelRecord>): ModelRecord => ({
    model_name: name,
    upstream_model: name,
    upstream_base_url: `${base}/v1`,
    api_key_secret: SECRET,
    ...prices,
    created_at,
    ...extra,
  });
  await seedModels([
    model('oa-redirect', {}),
    model('oa-slow', {}),
    model('oa-paused', {}),
    model('anthropic-redirect', { provider: 'anthropic', upstream_base_url: base }),
    model('oa-echo', {}),
    model('oa-echostream', {}),
    model('anthropic-echostream', { provider: 'anthropic', upstream_base_url: base }),
    model('anthropic-garbled', { provider: 'anthropic', upstream_base_url: base }),
    model('azure-garbled', { provider: 'azure', upstream_base_url: base, api_version: '2024-10-21' }),
    model('anthropic-echo', { provider: 'anthropic', upstream_base_url: base }),
    model('azure-echo', { provider: 'azure', upstream_base_url: base, api_version: '2024-10-21' }),
    model('oa-echo200', {}),
    model('azure-echo200', { provider: 'azure', upstream_base_url: base, api_version: '2024-10-21' }),
    model('anthropic-echo200', { provider: 'anthropic', upstream_base_url: base }),
    model('azure-redirect', { provider: 'azure', upstream_base_url: base, api_version: '2024-10-21' }),
    model('oa-endless', {}),
    model('oa-endlessevent', {}),
    model('azure-endless', { provider: 'azure', upstream_base_url: base, api_version: '2024-10-21' }),
    model('azure-endlessevent', { provider: 'azure', upstream_base_url: base, api_version: '2024-10-21' }),
    model('anthropic-endless', { provider: 'anthropic', upstream_base_url: base }),
    model('anthropic-endlessevent', { provider: 'anthropic', upstream_base_url: base }),
    ...THROTTLES.flatMap((t) => [
      model(`oa-throttled-${t}`, {}),
      model(`azure-throttled-${t}`, { provider: 'azure', upstream_base_url: base, api_version: '2024-10-21' }),
      model(`anthropic-throttled-${t}`, { provider: 'anthropic', upstream_base_url: base }),
    ]),
  ]);
});
afterAll(() => {
  server?.close();
  elsewhere?.close();
});

describe('a redirect is never followed', () => {
  it.each([
    ['OpenAI-compatible', '/v1/chat/completions', chat('oa-redirect', 'my secret prompt'), 'upstream_failed'],
    ['Azure', '/v1/chat/completions', chat('azure-redirect', 'my secret prompt'), 'upstream_failed'],
    [
      'Anthropic',
      '/v1/messages',
      { model: 'anthropic-redirect', max_tokens: 5, messages: [{ role: 'user', content: 'my secret prompt' }] },
      'api_error',
    ],
  ])('%s: a 502 naming the redirect; the other host sees nothing, no key, no prompt; nothing billed', async (_, path, body, shape) => {
    const { key, record } = await seedKey({});
    const res = await call({ path, headers: bearer(key), body });
    expect(res.status).toBe(502);
    expect(res.text).toContain('redirect (HTTP 307)');
    expect(res.text).not.toContain(UPSTREAM_KEY);
    expect(JSON.stringify(res.json)).toContain(shape);
    expect(seenElsewhere).toEqual([]);
    expect(await settledSpendNanos(refs.key(record.token))).toBe(0);
  });
});

describe("an upstream's error never hands the caller Tollgate's upstream key (found by review)", () => {
  // Answered with HTTP 200 too: some OpenAI-compatible servers and gateways answer errors so.
  const routes = [
    ['OpenAI-compatible', '/v1/chat/completions', (m: string) => chat(`oa-${m}`, 'x')],
    ['Azure', '/v1/chat/completions', (m: string) => chat(`azure-${m}`, 'x')],
    ['Anthropic', '/v1/messages', (m: string) => ({ model: `anthropic-${m}`, max_tokens: 5, messages: [{ role: 'user', content: 'x' }] })],
  ] as const;
  it.each(routes.flatMap(([name, path, body]) => [[name, 400, path, body('echo')] as const, [name, 200, path, body('echo200')] as const]))(
    '%s, an error answered with HTTP %s: relayed with the key redacted',
    async (_, status, path, body) => {
      const { key } = await seedKey({});
      const res = await call({ path, headers: bearer(key), body });
      expect(res.status).toBe(status);
      expect(res.text).toContain('bad request from');
      expect(res.text).toContain('[redacted]');
      expect(res.text).not.toContain(UPSTREAM_KEY);
    },
  );
});

describe("an upstream's error event mid-stream never hands the caller Tollgate's upstream key", () => {
  it.each([
    ['OpenAI-compatible', '/v1/chat/completions', chat('oa-echostream', 'x', { stream: true })],
    [
      'Anthropic',
      '/v1/messages',
      { model: 'anthropic-echostream', max_tokens: 5, stream: true, messages: [{ role: 'user', content: 'x' }] },
    ],
  ])('%s: relayed with the key redacted', async (_, path, body) => {
    const { key } = await seedKey({});
    const res = await call({ path, headers: bearer(key), body });
    expect(res.text).toContain('failed for');
    expect(res.text).toContain('[redacted]');
    expect(res.text).not.toContain(UPSTREAM_KEY);
  });
});

describe('a 200 whose body is not JSON (found by review)', () => {
  it.each([
    ['Azure', '/v1/chat/completions', chat('azure-garbled', 'hello there'), 'upstream_failed'],
    [
      'Anthropic',
      '/v1/messages',
      { model: 'anthropic-garbled', max_tokens: 5, messages: [{ role: 'user', content: 'hello there' }] },
      'api_error',
    ],
  ])("%s: a 502 in the route's shape, and the call is charged: the upstream answered", async (_, path, body, shape) => {
    const { key, record } = await seedKey({});
    const res = await call({ path, headers: bearer(key), body });
    expect(res.status).toBe(502);
    expect(res.text).toContain(shape);
    expect(await settledSpendNanos(refs.key(record.token))).toBeGreaterThan(0);
  });
});

describe('a streaming client that goes away', () => {
  const open = (key: string, model = 'oa-slow') =>
    startStream({
      path: '/v1/chat/completions',
      headers: bearer(key),
      body: chat(model, 'hi', { stream: true }),
      requestId: `req-${Math.random()}`,
    });

  it.each([
    ['closed', undefined],
    ['reset (destroyed with an error, as a pipeline does)', new Error('client went away')],
  ])('%s once the answer began: charged what it was sent, counted (found by review: it was free)', async (_, error) => {
    const { key, record } = await seedKey({});
    const { event, body } = await open(key);
    await new Promise((r) => body.once('data', r));
    body.pause();
    body.destroy(error);
    await settlementsOf(event);
    expect(await settledSpendNanos(refs.key(record.token))).toBeGreaterThan(0);
    const settled = await readItem(refs.settlement(event.requestContext.requestId));
    expect(settled?.usage_source).toBe('counted');
  });

  it.each([
    ['closed', undefined],
    ['reset', new Error('client went away')],
  ])(
    '%s while the upstream pauses mid-answer: settled before the invocation ends, the upstream cancelled at once (found by review: settled after, or never)',
    async (_, error) => {
      const { key, record } = await seedKey({});
      const { event, body } = await open(key, 'oa-paused');
      await new Promise((r) => body.once('data', r));
      body.pause();
      const closes = pausedClosedAt.length;
      body.destroy(error);
      await settlementsOf(event);
      // Settled when settlementsOf returns (the invocation's end), not when the next chunk comes 3 s later.
      expect(await settledSpendNanos(refs.key(record.token))).toBeGreaterThan(0);
      expect((await readItem(refs.settlement(event.requestContext.requestId)))?.usage_source).toBe('counted');
      // The upstream's connection was closed, not left generating until its next chunk.
      await vi.waitFor(() => expect(pausedClosedAt.length).toBe(closes + 1), { timeout: 2000 });
    },
  );

  it('before the answer began: released, nothing charged', async () => {
    const { key, record } = await seedKey({});
    const { event, body } = await open(key);
    body.destroy();
    await settlementsOf(event);
    expect(await settledSpendNanos(refs.key(record.token))).toBe(0);
  });
});

describe('a 429 stays a 429, with the wait the upstream asked for, with or without an error body (found by review)', () => {
  const relayed: Record<(typeof THROTTLES)[number], (h: Record<string, string>) => void> = {
    seconds: (h) => expect(h).toMatchObject({ 'retry-after': '7', 'retry-after-ms': '6500' }),
    date: (h) => expect(Number(h['retry-after'])).toBeGreaterThanOrEqual(28),
    junk: (h) => {
      expect(h['retry-after']).toBeUndefined();
      expect(h['retry-after-ms']).toBeUndefined();
    },
    huge: (h) => expect(h['retry-after']).toBe('86400'),
    json: (h) => expect(h['retry-after']).toBe('3'),
  };
  const routes = [
    ['OpenAI-compatible', 'oa', '/v1/chat/completions', 'rate_limit_error'],
    ['Azure', 'azure', '/v1/chat/completions', 'rate_limit_error'],
    ['Anthropic', 'anthropic', '/v1/messages', 'rate_limit_error'],
  ] as const;
  it.each(routes.flatMap(([name, prefix, path, type]) => THROTTLES.map((t) => [name, t, prefix, path, type] as const)))(
    "%s, retry-after given as %s: a 429 in the route's shape, nothing billed",
    async (_, throttle, prefix, path, type) => {
      const { key, record } = await seedKey({});
      const model = `${prefix}-throttled-${throttle}`;
      const body = prefix === 'anthropic' ? { model, max_tokens: 5, messages: [{ role: 'user', content: 'x' }] } : chat(model, 'x');
      for (const stream of [false, true]) {
        const res = await call({ path, headers: bearer(key), body: { ...body, stream } });
        expect(res.status).toBe(429);
        expect(res.text).toContain(type);
        expect(res.text).toContain(throttle === 'json' ? 'slow down' : 'upstream_rate_limited');
        relayed[throttle](res.headers);
      }
      expect(await settledSpendNanos(refs.key(record.token))).toBe(0);
    },
  );

  it("Tollgate's own 429 on Anthropic's route carries retry-after as on OpenAI's", async () => {
    const { key } = await seedKey({ rpm_limit: 1 });
    await roomInMinute(5_000);
    const body = { model: 'anthropic-echo', max_tokens: 5, messages: [{ role: 'user', content: 'x' }] };
    await call({ path: '/v1/messages', headers: bearer(key), body });
    const res = await call({ path: '/v1/messages', headers: bearer(key), body });
    expect(res.status).toBe(429);
    expect(res.json).toMatchObject({ type: 'error', error: { type: 'rate_limit_error' } });
    expect(Number(res.headers['retry-after'])).toBeGreaterThanOrEqual(1);
  });
});

describe('an answer that never ends is cut at 64 MiB: memory stays bounded (found by review)', () => {
  it.each([
    ['OpenAI-compatible, a JSON answer', '/v1/chat/completions', chat('oa-endless', 'hello there'), false],
    ['OpenAI-compatible, one stream event', '/v1/chat/completions', chat('oa-endlessevent', 'hello there', { stream: true }), true],
    ['Azure, a JSON answer', '/v1/chat/completions', chat('azure-endless', 'hello there'), false],
    ['Azure, one stream event', '/v1/chat/completions', chat('azure-endlessevent', 'hello there', { stream: true }), true],
    [
      'Anthropic, a JSON answer',
      '/v1/messages',
      { model: 'anthropic-endless', max_tokens: 5, messages: [{ role: 'user', content: 'hello there' }] },
      false,
    ],
    [
      'Anthropic, one stream event',
      '/v1/messages',
      { model: 'anthropic-endlessevent', max_tokens: 5, stream: true, messages: [{ role: 'user', content: 'hello there' }] },
      true,
    ],
  ])('%s: the upstream is cut off, the caller told, the call charged (it answered)', async (_, path, body, streamed) => {
    const { key, record } = await seedKey({});
    const model = (body as { model: string }).model;
    const res = await call({ path, headers: bearer(key), body });
    if (streamed) expect(res.status).toBe(200);
    else expect(res.status).toBe(502);
    expect(res.text).toContain('over 64 MiB, which Tollgate does not relay');
    expect(res.text.length).toBeLessThan(10_000);
    await expect.poll(() => endlessClosed.includes(model)).toBe(true);
    expect(await settledSpendNanos(refs.key(record.token))).toBeGreaterThan(0);
  });
});
