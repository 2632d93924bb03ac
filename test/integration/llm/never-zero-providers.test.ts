/**
 * Never $0, across the provider layer and every usage figure (issue 11): a usage object with any
 * figure that is not a token count is not usable (the call is counted, never billed as 0 tokens);
 * an answer with no usage is counted from the prompt and the answer (JSON and streams, OpenAI-,
 * Anthropic-, Azure- and Bedrock-shaped); any truthy `stream` streams on every provider, and a
 * streamed Azure chat asks for its usage.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ConverseCommandOutput, ConverseStreamOutput } from '@aws-sdk/client-bedrock-runtime';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ModelRecord } from '../../../lib/domain/records.js';
import { llmDeps } from '../../../lib/llm/deps.js';
import { handleLlmEvent, settlementsOf } from '../../../lib/llm/handle.js';
import type { BedrockRuntime } from '../../../lib/providers/bedrock/client.js';
import { refs } from '../../../lib/store/keys.js';
import { authorize, bearer } from '../../support/authorizer.js';
import { authorizerEvent, seedKey } from '../../support/seed.js';
import { readItem, settledSpendNanos } from '../../support/spend.js';
import { useTestTable } from '../../support/table.js';
import { call, chat, proxyEvent, seedModels } from './harness.js';

const SECRET = 'tollgate/never-zero-providers';
const created_at = '2025-01-01T00:00:00.000Z';
const prices = { input_cost_per_million: 1, output_cost_per_million: 10 };
/** 200 words: at least 200 tokens, so at least 2,000,000 nanos at the output price when the answer is counted. */
const LONG = Array.from({ length: 200 }, (_, i) => `word${i}`).join(' ');
const ANSWER_NANOS = 2_000_000;

/** Usage figures an upstream might send that are no token counts. */
const BAD_VALUES: readonly unknown[] = [-5, 1.5, '12', 'NaN', true];
/** Where a figure sits in a usage object: OpenAI's and Anthropic's fields, and the cached-token detail. */
const FIGURES = [
  'prompt_tokens',
  'completion_tokens',
  'input_tokens',
  'output_tokens',
  'cache_read_input_tokens',
  'cache_creation_input_tokens',
  'prompt_tokens_details.cached_tokens',
] as const;

const GOOD_USAGE = { prompt_tokens: 10, completion_tokens: 200, total_tokens: 210 };
/** A usage object with one figure set to a bad value (the case is named in the upstream model id). */
function usageOf(upstreamModel: string): Record<string, unknown> | undefined {
  const m = /^bad:(.+):(\d+)$/.exec(upstreamModel);
  if (!m) return upstreamModel === 'no-usage' ? undefined : GOOD_USAGE;
  const [field, value] = [m[1] as string, BAD_VALUES[Number(m[2])]];
  const [top, detail] = field.split('.');
  return detail ? { ...GOOD_USAGE, [top as string]: { [detail]: value } } : { ...GOOD_USAGE, [field]: value };
}

const truthy = (v: unknown) => v !== undefined && v !== null && v !== false && v !== 0 && v !== '' && v !== 'false';
let server: Server;
let base: string;
/** What the last request to each upstream path asked for. */
const asked = new Map<string, Record<string, unknown>>();

/** One upstream for every HTTP shape: OpenAI-compatible, an Azure deployment, Anthropic's Messages. */
function start(): Promise<string> {
  server = createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => {
      const body = JSON.parse(Buffer.concat(parts).toString('utf8') || '{}') as Record<string, unknown>;
      const url = req.url ?? '';
      asked.set(url.split('?')[0] as string, body);
      const json = (v: unknown) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify(v));
      };
      const sse = (events: string[]) => {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        for (const e of events) res.write(e);
        res.end();
      };
      if (url.startsWith('/v1/messages') && body.model === 'claude-broken')
        // Anthropic's stream: its input counted in message_start, then the answer, then its own error event (overloaded).
        return sse([
          `event: message_start\ndata: ${JSON.stringify({ type: 'message_start', message: { id: 'msg_2', type: 'message', role: 'assistant', content: [], model: body.model, usage: { input_tokens: 10, output_tokens: 1 } } })}\n\n`,
          `event: content_block_start\ndata: ${JSON.stringify({ type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } })}\n\n`,
          `event: content_block_delta\ndata: ${JSON.stringify({ type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: LONG } })}\n\n`,
          `event: error\ndata: ${JSON.stringify({ type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } })}\n\n`,
        ]);
      if (url.startsWith('/v1/messages') && body.model === 'claude-cut')
        // Anthropic's stream ending cleanly before its end: no message_delta (the output count), no message_stop.
        return sse([
          `event: message_start\ndata: ${JSON.stringify({ type: 'message_start', message: { id: 'msg_3', type: 'message', role: 'assistant', content: [], model: body.model, usage: { input_tokens: 10, output_tokens: 1 } } })}\n\n`,
          `event: content_block_start\ndata: ${JSON.stringify({ type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } })}\n\n`,
          `event: content_block_delta\ndata: ${JSON.stringify({ type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: LONG } })}\n\n`,
        ]);
      if (url.startsWith('/v1/messages')) {
        // Anthropic's shape, without usage, as JSON or as a stream.
        if (body.stream === true)
          return sse([
            `event: message_start\ndata: ${JSON.stringify({ type: 'message_start', message: { id: 'msg_1', type: 'message', role: 'assistant', content: [], model: body.model } })}\n\n`,
            `event: content_block_start\ndata: ${JSON.stringify({ type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } })}\n\n`,
            `event: content_block_delta\ndata: ${JSON.stringify({ type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: LONG } })}\n\n`,
            `event: content_block_stop\ndata: ${JSON.stringify({ type: 'content_block_stop', index: 0 })}\n\n`,
            `event: message_delta\ndata: ${JSON.stringify({ type: 'message_delta', delta: { stop_reason: 'end_turn' } })}\n\n`,
            `event: message_stop\ndata: ${JSON.stringify({ type: 'message_stop' })}\n\n`,
          ]);
        return json({
          id: 'msg_1',
          type: 'message',
          role: 'assistant',
          model: body.model,
          content: [{ type: 'text', text: LONG }],
          stop_reason: 'end_turn',
        });
      }
      if (url.includes('/chat/completions') && body.model === 'oai-broken') {
        // vLLM-style running usage in every chunk, then the upstream's own error event.
        const chunk = (o: unknown) => `data: ${JSON.stringify(o)}\n\n`;
        const running = { prompt_tokens: 10, completion_tokens: 1, total_tokens: 11 };
        return sse([
          chunk({
            id: 'c',
            object: 'chat.completion.chunk',
            choices: [{ index: 0, delta: { role: 'assistant', content: '' } }],
            usage: running,
          }),
          chunk({ id: 'c', object: 'chat.completion.chunk', choices: [{ index: 0, delta: { content: LONG } }], usage: running }),
          chunk({ error: { message: 'the model crashed', type: 'server_error', code: null } }),
        ]);
      }
      if (url.includes('/chat/completions')) {
        const usage = usageOf(String(body.model));
        if (truthy(body.stream)) {
          // A coercing upstream (vLLM-style): streams for any truthy value; usage only when asked.
          const chunk = (o: unknown) => `data: ${JSON.stringify(o)}\n\n`;
          const options = body.stream_options as { include_usage?: unknown } | undefined;
          return sse([
            chunk({ id: 'c', object: 'chat.completion.chunk', choices: [{ index: 0, delta: { role: 'assistant', content: LONG } }] }),
            chunk({ id: 'c', object: 'chat.completion.chunk', choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] }),
            ...(options?.include_usage === true && usage ? [chunk({ id: 'c', object: 'chat.completion.chunk', choices: [], usage })] : []),
            'data: [DONE]\n\n',
          ]);
        }
        return json({
          id: 'x',
          object: 'chat.completion',
          model: body.model,
          choices: [{ index: 0, message: { role: 'assistant', content: LONG }, finish_reason: 'stop' }],
          ...(usage ? { usage } : {}),
        });
      }
      res.writeHead(404).end();
    });
  });
  return new Promise((r) => server.listen(0, '127.0.0.1', () => r(`http://127.0.0.1:${(server.address() as AddressInfo).port}`)));
}

const openai = (name: string, upstream = name): ModelRecord => ({
  model_name: name,
  upstream_model: upstream,
  upstream_base_url: `${base}/v1`,
  api_key_secret: SECRET,
  ...prices,
  created_at,
});
const badCases = FIGURES.flatMap((field) =>
  BAD_VALUES.map((value, i) => ({ field, value, model: `bad-${field}-${i}`, upstream: `bad:${field}:${i}` })),
);

beforeAll(async () => {
  base = await start();
  await useTestTable({ TOLLGATE_LOCAL_SECRETS: JSON.stringify({ [SECRET]: 'k' }) });
  await seedModels([
    openai('good'),
    openai('no-usage'),
    openai('oai-broken'),
    ...badCases.map((c) => openai(c.model, c.upstream)),
    {
      model_name: 'azure-dep',
      provider: 'azure',
      upstream_model: 'dep',
      upstream_base_url: base,
      api_version: '2024-10-21',
      api_key_secret: SECRET,
      ...prices,
      created_at,
    },
    {
      model_name: 'claude',
      provider: 'anthropic',
      upstream_model: 'claude-x',
      upstream_base_url: base,
      api_key_secret: SECRET,
      ...prices,
      created_at,
    },
    {
      model_name: 'claude-cut',
      provider: 'anthropic',
      upstream_model: 'claude-cut',
      upstream_base_url: base,
      api_key_secret: SECRET,
      ...prices,
      created_at,
    },
    {
      model_name: 'claude-broken',
      provider: 'anthropic',
      upstream_model: 'claude-broken',
      upstream_base_url: base,
      api_key_secret: SECRET,
      ...prices,
      created_at,
    },
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

interface Cost {
  status: number;
  contentType: string;
  nanos: number;
  source: unknown;
  text?: string;
}

async function costOf(path: string, body: Record<string, unknown>): Promise<Cost> {
  const { key, record } = await seedKey({});
  const requestId = `req-${Math.random().toString(36).slice(2)}`;
  const res = await call({ path, headers: bearer(key), body, requestId });
  return {
    status: res.status,
    contentType: String(res.headers['content-type']),
    nanos: await settledSpendNanos(refs.key(record.token)),
    source: (await readItem(refs.settlement(requestId)))?.usage_source,
  };
}

/** Bedrock through the handler with a runtime of the test's own (no network). */
async function bedrockCostOf(path: string, body: Record<string, unknown>, runtime: Partial<BedrockRuntime>): Promise<Cost> {
  const deps = llmDeps();
  const { key, record } = await seedKey({});
  const opts = { path, headers: bearer(key), body, requestId: `req-br-${Math.random().toString(36).slice(2)}` };
  const auth = await authorize(authorizerEvent({ path: opts.path, headers: opts.headers }));
  if (auth.effect !== 'allow') throw new Error('not authorized');
  const event = proxyEvent(opts, (auth as { context: Record<string, unknown> }).context);
  const fake: BedrockRuntime = {
    converse: async () => {
      throw new Error('converse not expected');
    },
    converseStream: async () => {
      throw new Error('converseStream not expected');
    },
    invokeModel: async () => {
      throw new Error('invokeModel not expected');
    },
    ...runtime,
  };
  const res = await handleLlmEvent(event, { ...deps, providers: { ...deps.providers, bedrock: async () => fake } });
  let text = typeof res.body === 'string' ? res.body : '';
  if (res.body && typeof res.body !== 'string') for await (const chunk of res.body as AsyncIterable<Buffer>) text += chunk.toString('utf8');
  await settlementsOf(event);
  return {
    text,
    status: res.statusCode,
    contentType: String(res.headers?.['content-type']),
    nanos: await settledSpendNanos(refs.key(record.token)),
    source: (await readItem(refs.settlement(opts.requestId)))?.usage_source,
  };
}

const converseAnswer = (usage: unknown): ConverseCommandOutput =>
  ({
    output: { message: { role: 'assistant', content: [{ text: LONG }] } },
    stopReason: 'end_turn',
    usage,
    $metadata: {},
  }) as ConverseCommandOutput;

async function* converseEvents(usage?: unknown): AsyncIterable<ConverseStreamOutput> {
  yield { messageStart: { role: 'assistant' } } as ConverseStreamOutput;
  yield { contentBlockDelta: { contentBlockIndex: 0, delta: { text: LONG } } } as ConverseStreamOutput;
  if (usage === 'cut') return;
  yield { contentBlockStop: { contentBlockIndex: 0 } } as ConverseStreamOutput;
  yield { messageStop: { stopReason: 'end_turn' } } as ConverseStreamOutput;
  if (usage) yield { metadata: { usage, metrics: { latencyMs: 1 } } } as ConverseStreamOutput;
}

describe('a usage figure that is no token count makes the usage unusable: counted, never billed as 0', () => {
  it.each(badCases)('$field: $value', async ({ model }) => {
    const cost = await costOf('/v1/chat/completions', chat(model, 'hello there'));
    expect({ status: cost.status, source: cost.source, billed: cost.nanos >= ANSWER_NANOS }).toEqual({
      status: 200,
      source: 'counted',
      billed: true,
    });
  });

  it('a valid usage is billed as reported, and a missing one counted (controls)', async () => {
    expect((await costOf('/v1/chat/completions', chat('good', 'hi'))).source).toBe('reported');
    const none = await costOf('/v1/chat/completions', chat('no-usage', 'hi'));
    expect([none.source, none.nanos >= ANSWER_NANOS]).toEqual(['counted', true]);
  });

  it.each([
    ['negative', { inputTokens: -1, outputTokens: 200, totalTokens: 199 }],
    ['"NaN"', { inputTokens: 10, outputTokens: 'NaN', totalTokens: 10 }],
    ['fractional cache reads', { inputTokens: 10, outputTokens: 200, totalTokens: 210, cacheReadInputTokens: 0.5 }],
    ['empty', {}],
  ])('Bedrock Converse usage %s: counted, not billed as 0 tokens', async (_, usage) => {
    const json = await bedrockCostOf('/v1/chat/completions', chat('br', 'hello there'), { converse: async () => converseAnswer(usage) });
    expect([json.status, json.source, json.nanos >= ANSWER_NANOS]).toEqual([200, 'counted', true]);
    const streamed = await bedrockCostOf('/v1/chat/completions', chat('br', 'hello there', { stream: true }), {
      converseStream: async () => converseEvents(usage),
    });
    expect([streamed.status, streamed.source, streamed.nanos >= ANSWER_NANOS]).toEqual([200, 'counted', true]);
  });
});

describe('a provider answer without usage is counted, the answer as well as the prompt', () => {
  it('Anthropic, JSON and stream', async () => {
    const body = { model: 'claude', max_tokens: 1000, messages: [{ role: 'user', content: 'hi' }] };
    const json = await costOf('/v1/messages', body);
    expect([json.status, json.source, json.nanos >= ANSWER_NANOS]).toEqual([200, 'counted', true]);
    const streamed = await costOf('/v1/messages', { ...body, stream: true });
    expect(streamed.contentType).toContain('text/event-stream');
    expect([streamed.status, streamed.source, streamed.nanos >= ANSWER_NANOS]).toEqual([200, 'counted', true]);
  });

  it.each([
    ['chat', '/v1/chat/completions', chat('br', 'hi', { stream: true })],
    ['messages', '/v1/messages', { model: 'br', max_tokens: 1000, stream: true, messages: [{ role: 'user', content: 'hi' }] }],
    ['responses', '/v1/responses', { model: 'br', stream: true, input: 'hi' }],
  ])('Bedrock %s stream without its metadata event', async (_, path, body) => {
    const cost = await bedrockCostOf(path, body, { converseStream: async () => converseEvents() });
    expect([cost.status, cost.source, cost.nanos >= ANSWER_NANOS]).toEqual([200, 'counted', true]);
  });
});

describe("an upstream's own error event ends its stream broken: what was sent is counted, not only what was reported", () => {
  it('Anthropic: message_start reported the input, the answer came, then `event: error`', async () => {
    const body = { model: 'claude-broken', max_tokens: 1000, stream: true, messages: [{ role: 'user', content: 'hi' }] };
    const cost = await costOf('/v1/messages', body);
    expect(cost.contentType).toContain('text/event-stream');
    expect([cost.status, cost.nanos >= ANSWER_NANOS]).toEqual([200, true]);
  });

  it('Anthropic: a stream that ends before message_stop is cut: what was sent is counted, and it ends with an error event', async () => {
    const body = { model: 'claude-cut', max_tokens: 1000, stream: true, messages: [{ role: 'user', content: 'hi' }] };
    const { key, record } = await seedKey({});
    const res = await call({ path: '/v1/messages', headers: bearer(key), body });
    expect(res.text.trimEnd().split('\n\n').at(-1)).toMatch(/^event: error\n/);
    expect((await settledSpendNanos(refs.key(record.token))) >= ANSWER_NANOS).toBe(true);
  });

  it.each([
    ['chat', '/v1/chat/completions', chat('br', 'hi', { stream: true }), /^data: \{"error"/],
    [
      'messages',
      '/v1/messages',
      { model: 'br', max_tokens: 1000, stream: true, messages: [{ role: 'user', content: 'hi' }] },
      /^event: error\n/,
    ],
    ['responses', '/v1/responses', { model: 'br', stream: true, input: 'hi' }, /^event: error\n/],
  ])(
    'Bedrock %s: a ConverseStream that ends before messageStop ends with an error event, never as complete',
    async (_, path, body, last) => {
      const cost = await bedrockCostOf(path, body, { converseStream: async () => converseEvents('cut') });
      expect(cost.text?.trimEnd().split('\n\n').at(-1)).toMatch(last);
      expect(cost.text).not.toContain('response.completed');
      expect([cost.status, cost.nanos >= ANSWER_NANOS]).toEqual([200, true]);
    },
  );

  it('OpenAI-compatible (the passthrough): running usage in each chunk, the answer, then `data: {"error": ...}`', async () => {
    const cost = await costOf('/v1/chat/completions', chat('oai-broken', 'hi', { stream: true }));
    expect(cost.contentType).toContain('text/event-stream');
    expect([cost.status, cost.nanos >= ANSWER_NANOS]).toEqual([200, true]);
  });
});

describe('any truthy `stream` streams on every provider, and is metered', () => {
  it.each(['true', 1, 'yes'])('Azure, stream %j: streams and asks the upstream for its usage', async (stream) => {
    const cost = await costOf('/v1/chat/completions', chat('azure-dep', 'hi', { stream }));
    expect(cost.contentType).toContain('text/event-stream');
    expect(asked.get('/openai/deployments/dep/chat/completions')?.stream_options).toEqual({ include_usage: true });
    expect([cost.source, cost.nanos >= ANSWER_NANOS]).toEqual(['reported', true]);
  });

  it.each([
    ['chat', '/v1/chat/completions', chat('br', 'hi', { stream: 'true' })],
    ['messages', '/v1/messages', { model: 'br', max_tokens: 1000, stream: 'true', messages: [{ role: 'user', content: 'hi' }] }],
    ['responses', '/v1/responses', { model: 'br', stream: 1, input: 'hi' }],
  ])('Bedrock %s: streams', async (_, path, body) => {
    const usage = { inputTokens: 5, outputTokens: 200, totalTokens: 205 };
    const cost = await bedrockCostOf(path, body, { converseStream: async () => converseEvents(usage) });
    expect(cost.contentType).toContain('text/event-stream');
    expect([cost.source, cost.nanos >= ANSWER_NANOS]).toEqual(['reported', true]);
  });
});
