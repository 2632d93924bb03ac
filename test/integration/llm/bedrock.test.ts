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
const nova: ModelRecord = { ...claude, model_name: 'nova', upstream_model: 'amazon.nova-pro-v1:0' };

let mock: MockBedrock;
let gateway: Gateway;
let client: OpenAI;
let keyToken: string;
let key: string;

const keySpend = () => settledSpendNanos(refs.key(keyToken));

beforeAll(async () => {
  mock = await startMockBedrock();
  await useTestTable({ TOLLGATE_BEDROCK_ENDPOINT: mock.url });
  await seedModels([claude, titan, throttled, denied, secret, slow, nova]);
  const seeded = await seedKey({ models: ['claude', 'titan-embed', 'claude-throttled', 'claude-denied', 'claude-slow', 'nova'] });
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

describe("Claude's extended thinking through chat completions (reasoning_effort, LiteLLM's thinking_blocks)", () => {
  type Thinking = { reasoning_content?: string; thinking_blocks?: { type: string; thinking?: string; signature?: string }[] };
  const weather: OpenAI.ChatCompletionTool = {
    type: 'function',
    function: { name: 'get_weather', parameters: { type: 'object', properties: { query: { type: 'string' } } } },
  };

  it('asks Bedrock for a thinking budget; the answer shows the thinking, signed, and its tokens are charged as output', async () => {
    const before = await keySpend();
    const answer = await client.chat.completions.create({
      model: 'claude',
      messages: [{ role: 'user', content: 'why is the sky blue' }],
      reasoning_effort: 'medium',
      max_tokens: 4000,
    });
    expect(mock.requests.at(-1)?.body).toMatchObject({
      additionalModelRequestFields: { thinking: { type: 'enabled', budget_tokens: 2048 } },
    });
    const message = answer.choices[0]?.message as OpenAI.ChatCompletionMessage & Thinking;
    expect(message.content).toBe('Mock answer: why is the sky blue');
    expect(message.reasoning_content).toBe('Thinking about: why is the sky blue');
    expect(message.thinking_blocks).toEqual([
      { type: 'thinking', thinking: 'Thinking about: why is the sky blue', signature: expect.stringMatching(/^mock-signature-/) },
    ]);
    // 7 answer words and 7 of thinking.
    expect(answer.usage?.completion_tokens).toBe(14);
    expect((await keySpend()) - before).toBe(costNanos(usageOf(answer.usage), claude));
  });

  it('a tool call answered with its thinking_blocks sent back goes on (Claude needs them); without them Bedrock refuses', async () => {
    const messages: OpenAI.ChatCompletionMessageParam[] = [{ role: 'user', content: 'use get_weather for Paris' }];
    const first = await client.chat.completions.create({
      model: 'claude',
      messages,
      tools: [weather],
      reasoning_effort: 'low',
      max_tokens: 2000,
    });
    const call = first.choices[0]?.message as OpenAI.ChatCompletionMessage & Thinking;
    expect(call.tool_calls).toHaveLength(1);
    expect(call.thinking_blocks?.[0]?.signature).toMatch(/^mock-signature-/);
    const id = (call.tool_calls?.[0] as OpenAI.ChatCompletionMessageToolCall).id;
    const result: OpenAI.ChatCompletionMessageParam = { role: 'tool', tool_call_id: id, content: 'Sunny, 21 C' };
    const goOn = (assistant: Record<string, unknown>) =>
      client.chat.completions.create({
        model: 'claude',
        tools: [weather],
        reasoning_effort: 'low',
        max_tokens: 2000,
        messages: [...messages, assistant as unknown as OpenAI.ChatCompletionMessageParam, result],
      });
    const answer = await goOn({
      role: 'assistant',
      content: call.content,
      tool_calls: call.tool_calls,
      thinking_blocks: call.thinking_blocks,
    });
    expect(answer.choices[0]?.message.content).toBe('Mock answer: Sunny, 21 C');
    expect((mock.requests.at(-1)?.body as { messages: { content: unknown[] }[] }).messages[1]?.content[0]).toEqual({
      reasoningContent: { reasoningText: { text: call.thinking_blocks?.[0]?.thinking, signature: call.thinking_blocks?.[0]?.signature } },
    });
    const refused = await goOn({ role: 'assistant', content: call.content, tool_calls: call.tool_calls }).catch((e) => e);
    expect(refused).toBeInstanceOf(OpenAI.BadRequestError);
    expect(String(refused.message)).toMatch(/Expected `thinking` or `redacted_thinking`/);
  });

  it('streams the thinking as reasoning_content deltas, then the signed block in thinking_blocks; metered from the stream usage', async () => {
    const before = await keySpend();
    const stream = await client.chat.completions.create({
      model: 'claude',
      messages: [{ role: 'user', content: 'a b c' }],
      reasoning_effort: 'low',
      max_tokens: 2000,
      stream: true,
      stream_options: { include_usage: true },
    });
    let reasoning = '';
    let text = '';
    const blocks: unknown[] = [];
    let usage: OpenAI.CompletionUsage | undefined;
    for await (const chunk of stream) {
      const delta = chunk.choices[0]?.delta as (OpenAI.ChatCompletionChunk.Choice.Delta & Thinking) | undefined;
      reasoning += delta?.reasoning_content ?? '';
      text += delta?.content ?? '';
      blocks.push(...(delta?.thinking_blocks ?? []));
      usage = chunk.usage ?? usage;
    }
    expect({ reasoning, text }).toEqual({ reasoning: 'Thinking about: a b c', text: 'Mock answer: a b c' });
    expect(blocks).toEqual([{ type: 'thinking', thinking: 'Thinking about: a b c', signature: expect.stringMatching(/^mock-signature-/) }]);
    expect(usage?.completion_tokens).toBe(10);
    expect((await keySpend()) - before).toBe(costNanos(usageOf(usage), claude));
  });

  it('is a 400 naming the field before any upstream call: a model that is not Claude, or max_tokens not above the budget', async () => {
    const calls = mock.requests.length;
    const notClaude = await client.chat.completions
      .create({ model: 'nova', messages: [{ role: 'user', content: 'x' }], reasoning_effort: 'low', max_tokens: 2000 })
      .catch((e) => e);
    expect(notClaude).toBeInstanceOf(OpenAI.BadRequestError);
    expect(notClaude.param).toBe('reasoning_effort');
    const tooSmall = await client.chat.completions
      .create({ model: 'claude', messages: [{ role: 'user', content: 'x' }], reasoning_effort: 'high', max_tokens: 1000 })
      .catch((e) => e);
    expect(tooSmall).toBeInstanceOf(OpenAI.BadRequestError);
    expect(tooSmall.param).toBe('max_tokens');
    expect(mock.requests.length).toBe(calls);
  });
});
