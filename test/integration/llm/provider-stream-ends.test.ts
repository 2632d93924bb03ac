/**
 * How a provider-path stream (Anthropic, Bedrock) ends, found by review:
 *  - a stream whose first event is the upstream's error (Anthropic's 200 then `event: error`, a
 *    Bedrock exception event) is a refusal, not an answer: it costs nothing and counts no tokens
 *    against the rate limits, as a refused call does;
 *  - a client that leaves while the upstream is silent stops the upstream at once, and the call
 *    settles then (charged what it was sent), not at the upstream's next event.
 */

import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { Readable } from 'node:stream';
import type { ConverseStreamOutput } from '@aws-sdk/client-bedrock-runtime';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { costNanos } from '../../../lib/domain/cost.js';
import { MINUTE_MS } from '../../../lib/domain/rate-limits.js';
import type { ModelRecord } from '../../../lib/domain/records.js';
import { llmDeps } from '../../../lib/llm/deps.js';
import { handleLlmEvent, settlementsOf } from '../../../lib/llm/handle.js';
import type { BedrockRuntime } from '../../../lib/providers/bedrock/client.js';
import { refs } from '../../../lib/store/keys.js';
import { rateRefs } from '../../../lib/store/rate-limits.js';
import { bearer } from '../../support/authorizer.js';
import { seedKey } from '../../support/seed.js';
import { readItem, settledSpendNanos } from '../../support/spend.js';
import { useTestTable } from '../../support/table.js';
import { allowedEvent, chat, seedModels } from './harness.js';

const SECRET = 'tollgate/provider-stream-ends';
const created_at = '2025-01-01T00:00:00.000Z';
const prices = { input_cost_per_million: 1, output_cost_per_million: 10 };
const TPM = 100_000;
/** How long a paused upstream stays silent: far beyond what a test waits. */
const PAUSE_MS = 20_000;
const LONG = Array.from({ length: 200 }, (_, i) => `word${i}`).join(' ');

const named = (event: string, data: unknown) => `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
const messageStart = (model: unknown) =>
  named('message_start', {
    type: 'message_start',
    message: { id: 'msg_1', type: 'message', role: 'assistant', content: [], model, usage: { input_tokens: 10, output_tokens: 1 } },
  });
const overloaded = named('error', { type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } });

let server: Server;
let base: string;
/** When the paused Anthropic upstream saw its request closed (performance.now()). */
const anthropicClosedAt: number[] = [];
/** When the paused Bedrock stream saw its signal abort. */
const bedrockAbortedAt: number[] = [];

function start(): Promise<string> {
  server = createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => {
      const body = JSON.parse(Buffer.concat(parts).toString('utf8') || '{}') as Record<string, unknown>;
      if (body.model === 'claude-529') {
        // A refused call, for comparison: Anthropic's overloaded answer as an error status.
        res.writeHead(529, { 'content-type': 'application/json' });
        return res.end(JSON.stringify({ type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } }));
      }
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      if (body.model === 'claude-overloaded') return res.end(overloaded);
      // An OpenAI-compatible stream (the passthrough): its error first, or after a chunk of the answer.
      const oaError = `data: ${JSON.stringify({ error: { message: 'The server is overloaded', type: 'server_error' } })}\n\n`;
      if (body.model === 'oa-error-first') return res.end(oaError);
      if (body.model === 'oa-error-after')
        return res.end(
          `data: ${JSON.stringify({ id: 'c1', object: 'chat.completion.chunk', choices: [{ index: 0, delta: { content: LONG } }] })}\n\n${oaError}`,
        );
      if (body.model === 'claude-ping-overloaded') return res.end(named('ping', { type: 'ping' }) + overloaded);
      if (body.model === 'claude-start-overloaded') return res.end(messageStart(body.model) + named('ping', { type: 'ping' }) + overloaded);
      // The Responses API (the passthrough): its lifecycle events, then its error.
      const created = { id: 'resp_1', object: 'response', status: 'in_progress', output: [], usage: null };
      if (body.model === 'oa-responses-error')
        return res.end(
          named('response.created', { type: 'response.created', response: created }) +
            named('response.in_progress', { type: 'response.in_progress', response: created }) +
            named('error', { type: 'error', code: 'server_error', message: 'The server had an error', param: null }),
        );
      // Paused: the start of an answer at once, then silence.
      res.write(messageStart(body.model));
      res.write(named('content_block_start', { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } }));
      res.write(named('content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: LONG } }));
      const t = setTimeout(() => res.end(), PAUSE_MS);
      res.on('close', () => {
        clearTimeout(t);
        anthropicClosedAt.push(performance.now());
      });
    });
  });
  return new Promise((r) => server.listen(0, '127.0.0.1', () => r(`http://127.0.0.1:${(server.address() as AddressInfo).port}`)));
}

const anthropic = (name: string): ModelRecord => ({
  model_name: name,
  provider: 'anthropic',
  upstream_model: name,
  upstream_base_url: base,
  api_key_secret: SECRET,
  ...prices,
  created_at,
});

beforeAll(async () => {
  base = await start();
  await useTestTable({ TOLLGATE_LOCAL_SECRETS: JSON.stringify({ [SECRET]: 'k' }) });
  await seedModels([
    anthropic('claude-overloaded'),
    anthropic('claude-ping-overloaded'),
    anthropic('claude-529'),
    anthropic('claude-paused'),
    anthropic('claude-start-overloaded'),
    ...['oa-error-first', 'oa-error-after', 'oa-responses-error'].map((name) => ({ ...anthropic(name), provider: 'openai' as const })),
    {
      model_name: 'br',
      provider: 'bedrock',
      upstream_model: 'anthropic.claude-3-5-sonnet-20240620-v1:0',
      aws_region_name: 'us-east-1',
      ...prices,
      created_at,
    },
  ]);
});
afterAll(() => server?.close());

const messages = (model: string) => ({ model, max_tokens: 1000, stream: true, messages: [{ role: 'user', content: 'hello there' }] });

/** The fake Bedrock runtime a test gives, over the handler's own deps. */
function depsWith(runtime: Partial<BedrockRuntime> | undefined) {
  const deps = llmDeps();
  if (!runtime) return deps;
  const fake = { ...runtime } as BedrockRuntime;
  return { ...deps, providers: { ...deps.providers, bedrock: async () => fake } };
}

interface Opened {
  event: Awaited<ReturnType<typeof allowedEvent>>;
  status: number;
  body: Readable;
  token: string;
}

async function open(path: string, body: Record<string, unknown>, runtime?: Partial<BedrockRuntime>): Promise<Opened> {
  const { key, record } = await seedKey({ tpm_limit: TPM });
  const event = await allowedEvent({ path, headers: bearer(key), body, requestId: `req-${Math.random().toString(36).slice(2)}` });
  const res = await handleLlmEvent(event, depsWith(runtime));
  const out = typeof res.body === 'string' || Buffer.isBuffer(res.body) ? Readable.from([res.body]) : (res.body as Readable);
  out.on('error', () => undefined);
  return { event, status: res.statusCode, body: out, token: record.token };
}

/** Tokens the key's rate-limit windows counted this minute and the last. */
async function windowTokens(token: string): Promise<number> {
  const minute = Math.floor(Date.now() / MINUTE_MS);
  const items = await Promise.all([minute - 1, minute].map((m) => readItem(rateRefs.window({ owner: 'key', id: token, tpm: TPM }, m))));
  return items.reduce((sum, item) => sum + Number(item?.tokens ?? 0), 0);
}

interface Ended {
  status: number;
  text: string;
  nanos: number;
  tokens: number;
}

async function runToEnd(path: string, body: Record<string, unknown>, runtime?: Partial<BedrockRuntime>): Promise<Ended> {
  const opened = await open(path, body, runtime);
  let text = '';
  for await (const chunk of opened.body) text += String(chunk);
  await settlementsOf(opened.event);
  return { status: opened.status, text, nanos: await settledSpendNanos(refs.key(opened.token)), tokens: await windowTokens(opened.token) };
}

async function* bedrockFirst(exception: ConverseStreamOutput): AsyncIterable<ConverseStreamOutput> {
  yield exception;
}

async function* bedrockAnswerThen(exception: ConverseStreamOutput): AsyncIterable<ConverseStreamOutput> {
  yield { messageStart: { role: 'assistant' } } as ConverseStreamOutput;
  yield { contentBlockDelta: { contentBlockIndex: 0, delta: { text: LONG } } } as ConverseStreamOutput;
  yield exception;
}

/** The start of an answer, then silence until the call is aborted (as the SDK's stream ends on its abortSignal). */
function bedrockPaused(signal: AbortSignal): AsyncIterable<ConverseStreamOutput> {
  signal.addEventListener('abort', () => bedrockAbortedAt.push(performance.now()), { once: true });
  const aborted = new Promise<never>((_, reject) =>
    signal.addEventListener('abort', () => reject(Object.assign(new Error('Request aborted'), { name: 'AbortError' })), { once: true }),
  );
  aborted.catch(() => undefined);
  return (async function* () {
    yield { messageStart: { role: 'assistant' } } as ConverseStreamOutput;
    yield { contentBlockDelta: { contentBlockIndex: 0, delta: { text: LONG } } } as ConverseStreamOutput;
    await Promise.race([aborted, new Promise((r) => setTimeout(r, PAUSE_MS).unref())]);
    yield { messageStop: { stopReason: 'end_turn' } } as ConverseStreamOutput;
  })();
}

describe('a stream whose first event is the upstream’s error is a refusal: nothing charged, no tokens counted (found by review)', () => {
  it('a refused call, for comparison (Anthropic 529): nothing charged, no tokens counted', async () => {
    const refused = await runToEnd('/v1/messages', { ...messages('claude-529'), stream: false });
    expect([refused.status, refused.nanos, refused.tokens]).toEqual([529, 0, 0]);
  });

  it.each([
    ['Anthropic: HTTP 200 then `event: error` (overloaded_error)', 'claude-overloaded'],
    ['Anthropic: a `ping`, then `event: error`', 'claude-ping-overloaded'],
  ])('%s', async (_, model) => {
    const ended = await runToEnd('/v1/messages', messages(model));
    expect(ended.status).toBe(200);
    expect(ended.text).toContain('overloaded_error');
    expect([ended.nanos, ended.tokens]).toEqual([0, 0]);
  });

  const exceptions: [string, ConverseStreamOutput][] = [
    ['throttlingException', { throttlingException: { message: 'Too many requests' } } as ConverseStreamOutput],
    ['modelStreamErrorException', { modelStreamErrorException: { message: 'The model failed' } } as ConverseStreamOutput],
  ];
  const routes = [
    ['chat', '/v1/chat/completions', chat('br', 'hello there', { stream: true })],
    ['messages', '/v1/messages', messages('br')],
  ] as const;
  it.each(exceptions.flatMap(([name, e]) => routes.map(([route, path, body]) => [name, route, e, path, body] as const)))(
    'Bedrock: %s as the first event (%s)',
    async (_, __, exception, path, body) => {
      const ended = await runToEnd(path, body, { converseStream: async () => bedrockFirst(exception) });
      expect(ended.status).toBe(200);
      expect(ended.text).toMatch(/error/);
      expect([ended.nanos, ended.tokens]).toEqual([0, 0]);
    },
  );

  it('OpenAI-compatible (the passthrough): `data: {"error"}` as the first event is a refusal; after a chunk of the answer it is charged', async () => {
    const first = await runToEnd('/v1/chat/completions', chat('oa-error-first', 'hello there', { stream: true }));
    expect(first.status).toBe(200);
    expect(first.text).toContain('overloaded');
    expect([first.nanos, first.tokens]).toEqual([0, 0]);
    const after = await runToEnd('/v1/chat/completions', chat('oa-error-after', 'hello there', { stream: true }));
    expect(after.nanos).toBeGreaterThan(0);
    expect(after.tokens).toBeGreaterThan(0);
  });

  it('Anthropic: `message_start`, then `event: error`: its reported usage is charged (the input it counted), nothing more', async () => {
    const ended = await runToEnd('/v1/messages', messages('claude-start-overloaded'));
    expect(ended.text).toContain('overloaded_error');
    expect(ended.nanos).toBe(costNanos({ inputTokens: 10, outputTokens: 1 }, prices));
  });

  it('OpenAI-compatible Responses (the passthrough): `response.created` and `response.in_progress`, then `error`, is a refusal', async () => {
    const ended = await runToEnd('/v1/responses', { model: 'oa-responses-error', input: 'hello there', stream: true });
    expect(ended.status).toBe(200);
    expect(ended.text).toContain('server_error');
    expect([ended.nanos, ended.tokens]).toEqual([0, 0]);
  });

  it('Bedrock: the same exception after the answer began is charged (control)', async () => {
    const ended = await runToEnd('/v1/messages', messages('br'), {
      converseStream: async () => bedrockAnswerThen({ modelStreamErrorException: { message: 'The model failed' } } as ConverseStreamOutput),
    });
    expect(ended.nanos).toBeGreaterThan(0);
    expect(ended.tokens).toBeGreaterThan(0);
  });
});

describe('a client that leaves while the upstream is silent: the upstream is aborted at once, and the call settles then (found by review)', () => {
  /** Reads until the answer's text came, leaves, and says whether the upstream was stopped at once and the call settled. */
  async function leaveDuringPause(opened: Opened, stoppedAt: number[]) {
    let text = '';
    await new Promise<void>((r) => {
      const read = (chunk: Buffer) => {
        text += String(chunk);
        if (!text.includes('word199')) return;
        opened.body.off('data', read);
        r();
      };
      opened.body.on('data', read);
    });
    opened.body.pause();
    const before = stoppedAt.length;
    const left = performance.now();
    opened.body.destroy();
    const settled = await Promise.race([
      settlementsOf(opened.event).then(() => true),
      new Promise<boolean>((r) => setTimeout(() => r(false), 3000).unref()),
    ]);
    const stopped = stoppedAt.length > before ? (stoppedAt.at(-1) as number) - left : undefined;
    return {
      settled,
      stoppedPromptly: stopped !== undefined && stopped < 1000,
      nanos: await settledSpendNanos(refs.key(opened.token)),
      source: (await readItem(refs.settlement(opened.event.requestContext.requestId)))?.usage_source,
    };
  }

  it('Anthropic (HTTP): the upstream request is closed, and what was sent is charged', async () => {
    const opened = await open('/v1/messages', messages('claude-paused'));
    const left = await leaveDuringPause(opened, anthropicClosedAt);
    expect(left.settled).toBe(true);
    expect(left.nanos).toBeGreaterThan(0);
    expect(left.source).toBe('counted');
    expect(left.stoppedPromptly).toBe(true);
  });

  it.each([
    ['chat', '/v1/chat/completions', chat('br', 'hello there', { stream: true })],
    ['messages', '/v1/messages', messages('br')],
  ])('Bedrock %s: the ConverseStream is aborted, and what was sent is charged', async (_, p, body) => {
    const opened = await open(p, body, { converseStream: async (_input, signal) => bedrockPaused(signal) });
    const left = await leaveDuringPause(opened, bedrockAbortedAt);
    expect(left.settled).toBe(true);
    expect(left.nanos).toBeGreaterThan(0);
    expect(left.source).toBe('counted');
    expect(left.stoppedPromptly).toBe(true);
  });
});
