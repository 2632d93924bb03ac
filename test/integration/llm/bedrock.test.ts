/**
 * Bedrock models through the whole path: the local gateway (authorizer, then the llm function),
 * the provider layer, the AWS SDK's Bedrock runtime client against the mock Bedrock runtime
 * (TOLLGATE_BEDROCK_ENDPOINT), the official openai client in front. Each call is metered
 * exactly: the key's spend is the answer's tokens times the registry's prices, cache tokens
 * included; a model the key may not use is refused before any upstream call.
 */
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { invokeStreaming } from '../../../infra/local/awslambda.js';
import { type Gateway, startGateway } from '../../../infra/local/gateway.js';
import { type MockBedrock, startMockBedrock } from '../../../infra/local/mock-bedrock.js';
import { costNanos, type Usage } from '../../../lib/domain/cost.js';
import type { ModelRecord } from '../../../lib/domain/records.js';
import { refs } from '../../../lib/store/keys.js';
import { authorize, bearer } from '../../support/authorizer.js';
import { authorizerEvent, seedKey } from '../../support/seed.js';
import { settledSpendNanos } from '../../support/spend.js';
import { useTestTable } from '../../support/table.js';
import { llmHandler, proxyEvent, seedModels } from './harness.js';

const CLAUDE = 'anthropic.claude-3-5-sonnet-20240620-v1:0';
const created_at = '2025-01-01T00:00:00.000Z';
const claude: ModelRecord = {
  model_name: 'claude',
  provider: 'bedrock',
  upstream_model: CLAUDE,
  aws_region_name: 'eu-central-1',
  input_cost_per_million: 3,
  output_cost_per_million: 15,
  cache_read_cost_per_million: 0.3,
  cache_write_cost_per_million: 3.75,
  created_at,
};
const titan: ModelRecord = {
  model_name: 'titan-embed',
  provider: 'bedrock',
  upstream_model: 'amazon.titan-embed-text-v2:0',
  input_cost_per_million: 0.02,
  output_cost_per_million: 0,
  created_at,
};
const throttled: ModelRecord = { ...claude, model_name: 'claude-throttled', upstream_model: `${CLAUDE}+error=ThrottlingException` };
const denied: ModelRecord = { ...claude, model_name: 'claude-denied', upstream_model: `${CLAUDE}+error=AccessDeniedException` };
const secret: ModelRecord = { ...claude, model_name: 'claude-secret' };
const slow: ModelRecord = { ...claude, model_name: 'claude-slow', upstream_model: `${CLAUDE}+delay=200` };

let mock: MockBedrock;
let gateway: Gateway;
let client: OpenAI;
let keyToken: string;
let key: string;

const keySpend = () => settledSpendNanos(refs.key(keyToken));

beforeAll(async () => {
  mock = await startMockBedrock();
  await useTestTable({ TOLLGATE_BEDROCK_ENDPOINT: mock.url });
  await seedModels([claude, titan, throttled, denied, secret, slow]);
  const seeded = await seedKey({ models: ['claude', 'titan-embed', 'claude-throttled', 'claude-denied', 'claude-slow'] });
  keyToken = seeded.record.token;
  key = seeded.key;
  gateway = await startGateway({ port: 0 });
  client = new OpenAI({ apiKey: key, baseURL: `${gateway.url}/v1`, maxRetries: 0 });
});
afterAll(async () => {
  await gateway?.close();
  await mock?.close();
});

const usageOf = (u: OpenAI.CompletionUsage | undefined | null): Usage => {
  const cached = u?.prompt_tokens_details?.cached_tokens ?? 0;
  return { inputTokens: (u?.prompt_tokens ?? 0) - cached, outputTokens: u?.completion_tokens ?? 0, cacheReadTokens: cached };
};

describe('Bedrock through the llm function, with the official openai client', () => {
  it('chats: Converse in the model region, answered in OpenAI shape, metered exactly', async () => {
    const before = await keySpend();
    const answer = await client.chat.completions.create({ model: 'claude', messages: [{ role: 'user', content: 'hello bedrock' }] });
    expect(answer.choices[0]?.message.content).toBe('Mock answer: hello bedrock');
    expect(answer.model).toBe('claude');
    expect(answer.usage).toMatchObject({ prompt_tokens: 2, completion_tokens: 4 });
    const last = mock.requests.at(-1);
    expect(last).toMatchObject({ operation: 'converse', modelId: CLAUDE });
    expect(String(last?.headers.authorization)).toContain('/eu-central-1/bedrock/aws4_request');
    // 2 x $3/M + 4 x $15/M = 66 micro-dollars
    expect((await keySpend()) - before).toBe(costNanos(usageOf(answer.usage), claude));
    expect((await keySpend()) - before).toBe(66_000);
  });

  it('streams: ConverseStream as OpenAI chunks, metered from the stream usage', async () => {
    const before = await keySpend();
    const stream = await client.chat.completions.create({
      model: 'claude',
      messages: [{ role: 'user', content: 'a b c d' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = '';
    let usage: OpenAI.CompletionUsage | undefined;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? '';
      usage = chunk.usage ?? usage;
    }
    expect(text).toBe('Mock answer: a b c d');
    expect(usage).toMatchObject({ prompt_tokens: 4, completion_tokens: 6 });
    expect(mock.requests.at(-1)?.operation).toBe('converse-stream');
    expect((await keySpend()) - before).toBe(costNanos(usageOf(usage), claude));
  });

  it('a stream without include_usage is still metered (the chunk is not shown)', async () => {
    const before = await keySpend();
    const stream = await client.chat.completions.create({ model: 'claude', messages: [{ role: 'user', content: 'x y' }], stream: true });
    const chunks = [];
    for await (const chunk of stream) chunks.push(chunk);
    expect(chunks.every((c) => c.usage == null)).toBe(true);
    // 2 input + 4 output ("Mock answer: x y")
    expect((await keySpend()) - before).toBe(costNanos({ inputTokens: 2, outputTokens: 4 }, claude));
  });

  it('embeds through InvokeModel (Titan v2), metered from its input token count', async () => {
    const before = await keySpend();
    const res = await client.embeddings.create({ model: 'titan-embed', input: ['one two', 'three'] });
    expect(res.data).toHaveLength(2);
    expect(res.usage.prompt_tokens).toBe(3);
    expect(mock.requests.at(-1)).toMatchObject({ operation: 'invoke', modelId: 'amazon.titan-embed-text-v2:0' });
    expect((await keySpend()) - before).toBe(costNanos({ inputTokens: 3, outputTokens: 0 }, titan));
  });

  it('embeddings of many texts failing at one: an error, charged the texts Bedrock embedded (and billed) before it (found by review: $0)', async () => {
    const before = await keySpend();
    const failed = await client.embeddings
      .create({ model: 'titan-embed', input: ['one two', 'three', 'x'.repeat(50_001)] })
      .catch((e) => e);
    expect(failed).toBeInstanceOf(OpenAI.BadRequestError);
    // Its two texts that were embedded: 3 tokens, as the whole call's success would have been charged for them.
    expect((await keySpend()) - before).toBe(costNanos({ inputTokens: 3, outputTokens: 0 }, titan));
  });

  it('Bedrock errors are OpenAI errors with honest statuses; nothing is charged', async () => {
    const before = await keySpend();
    const throttle = await client.chat.completions
      .create({ model: 'claude-throttled', messages: [{ role: 'user', content: 'x' }] })
      .catch((e) => e);
    expect(throttle).toBeInstanceOf(OpenAI.RateLimitError);
    const forbidden = await client.chat.completions
      .create({ model: 'claude-denied', messages: [{ role: 'user', content: 'x' }] })
      .catch((e) => e);
    expect(forbidden).toBeInstanceOf(OpenAI.PermissionDeniedError);
    expect(await keySpend()).toBe(before);
  });

  it('a client that goes away cancels the Bedrock stream upstream (the mock sees its stream closed), and pays what it was sent', async () => {
    const spentBefore = await keySpend();
    // Through the handler as Lambda runs it: the response stream breaks when API Gateway's client leaves
    // (the local gateway drains instead, so the function is driven directly here).
    const outcome = await authorize(
      authorizerEvent({ method: 'POST', resource: '/v1/chat/completions', path: '/v1/chat/completions', headers: bearer(key) }),
    );
    expect(outcome.effect).toBe('allow');
    const event = proxyEvent(
      {
        path: '/v1/chat/completions',
        headers: bearer(key),
        body: { model: 'claude-slow', messages: [{ role: 'user', content: 'one two three four five six' }], stream: true },
      },
      outcome.effect === 'allow' ? outcome.context : null,
    );
    const res = await invokeStreaming(llmHandler, event);
    for await (const chunk of res.body) {
      if (String(chunk).includes('content')) break;
    }
    (res.body as unknown as NodeJS.ReadableStream & { destroy(): void }).destroy();
    const request = mock.requests.findLast((r) => r.modelId.endsWith('+delay=200'));
    for (let i = 0; i < 40 && !request?.cancelled; i++) await new Promise((r) => setTimeout(r, 50));
    expect(request?.operation).toBe('converse-stream');
    expect(request?.cancelled).toBe(true);
    await res.done.catch(() => undefined);
    // What it was sent is charged (counted): leaving before the usage event is not free.
    await vi.waitFor(async () => expect(await keySpend()).toBeGreaterThan(spentBefore), { timeout: 5000, interval: 50 });
  });

  it('a model the key may not use is refused before any upstream call', async () => {
    const calls = mock.requests.length;
    const refused = await client.chat.completions
      .create({ model: 'claude-secret', messages: [{ role: 'user', content: 'x' }] })
      .catch((e) => e);
    expect(refused).toBeInstanceOf(OpenAI.PermissionDeniedError);
    expect(refused.code).toBe('model_not_allowed');
    expect(mock.requests.length).toBe(calls);
  });

  it('a route Bedrock does not serve is a 400 naming the model, before any upstream call', async () => {
    const calls = mock.requests.length;
    const refused = await client.completions.create({ model: 'claude', prompt: 'x' }).catch((e) => e);
    expect(refused).toBeInstanceOf(OpenAI.BadRequestError);
    expect(refused.param).toBe('model');
    expect(mock.requests.length).toBe(calls);
  });
});
