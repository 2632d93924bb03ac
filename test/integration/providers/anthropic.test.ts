/**
 * Anthropic's Messages API with the official Anthropic SDK: against the mock Anthropic directly,
 * through the gateway to Anthropic (forwarded), and through the gateway to a Claude model on
 * Bedrock (translated to Converse, on the mock Bedrock runtime). Usage, cache reads and writes
 * included, is metered exactly in every case.
 */
import Anthropic from '@anthropic-ai/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type MockAnthropic, startMockAnthropic } from '../../../infra/local/mock-anthropic.js';
import { type MockBedrock, startMockBedrock } from '../../../infra/local/mock-bedrock.js';
import type { ProviderModel } from '../../../lib/providers/index.js';
import { type ProviderGateway, startProviderGateway } from './gateway.js';

const UPSTREAM_KEY = 'sk-ant-upstream-key';
const CLAUDE_ON_BEDROCK = 'us.anthropic.claude-sonnet-4-20250514-v1:0';
const anthropicModel = (name: string, upstream: string, base: string): ProviderModel => ({
  model_name: name,
  provider: 'anthropic',
  upstream_model: upstream,
  upstream_base_url: base,
});

let upstream: MockAnthropic;
let mockBedrock: MockBedrock;
let gateway: ProviderGateway;
let client: Anthropic;

beforeAll(async () => {
  upstream = await startMockAnthropic({ apiKey: UPSTREAM_KEY });
  mockBedrock = await startMockBedrock();
  gateway = await startProviderGateway({
    bedrockEndpoint: mockBedrock.url,
    keys: {
      sonnet: UPSTREAM_KEY,
      'sonnet-v1-base': UPSTREAM_KEY,
      'sonnet-busy': UPSTREAM_KEY,
      'sonnet-overloaded': UPSTREAM_KEY,
      'sonnet-dropped': UPSTREAM_KEY,
      'sonnet-bad-key': 'sk-ant-wrong',
    },
    models: [
      anthropicModel('sonnet', 'claude-sonnet-4-5', upstream.url),
      anthropicModel('sonnet-v1-base', 'claude-sonnet-4-5', `${upstream.url}/v1`),
      anthropicModel('sonnet-busy', 'claude-sonnet-4-5+status=429', upstream.url),
      anthropicModel('sonnet-overloaded', 'claude-sonnet-4-5+status=529', upstream.url),
      anthropicModel('sonnet-dropped', 'claude-sonnet-4-5+drop_after=4', upstream.url),
      anthropicModel('sonnet-bad-key', 'claude-sonnet-4-5', upstream.url),
      { model_name: 'claude-bedrock', provider: 'bedrock', upstream_model: CLAUDE_ON_BEDROCK, aws_region_name: 'us-east-1' },
      { model_name: 'nova', provider: 'bedrock', upstream_model: 'amazon.nova-pro-v1:0', aws_region_name: 'us-east-1' },
    ],
  });
  client = new Anthropic({ baseURL: gateway.url, apiKey: 'tollgate-virtual-key', maxRetries: 0 });
});

afterAll(async () => {
  await gateway?.close();
  await upstream?.close();
  await mockBedrock?.close();
});

const lastMetered = () => gateway.metered.at(-1);
const text = (m: Anthropic.Message) => m.content.flatMap((b) => (b.type === 'text' ? [b.text] : [])).join('');

describe('the mock Anthropic answers the Anthropic SDK', () => {
  it('messages.create and messages.stream', async () => {
    const direct = new Anthropic({ baseURL: upstream.url, apiKey: UPSTREAM_KEY, maxRetries: 0 });
    const m = await direct.messages.create({
      model: 'claude-sonnet-4-5',
      max_tokens: 50,
      messages: [{ role: 'user', content: 'hello mock' }],
    });
    expect(text(m)).toBe('Mock answer: hello mock');
    expect(m.usage).toMatchObject({ input_tokens: 2, output_tokens: 4 });
    const final = await direct.messages
      .stream({ model: 'claude-sonnet-4-5', max_tokens: 50, messages: [{ role: 'user', content: 'stream it' }] })
      .finalMessage();
    expect(text(final)).toBe('Mock answer: stream it');
    expect(final.usage).toMatchObject({ input_tokens: 2, output_tokens: 4 });
  });
});

describe('/v1/messages forwarded to Anthropic', () => {
  it('answers with Tollgate’s key and the caller’s version and beta headers; meters the usage', async () => {
    const m = await client.messages.create(
      { model: 'sonnet', max_tokens: 50, messages: [{ role: 'user', content: 'hi there' }] },
      { headers: { 'anthropic-version': '2023-06-01', 'anthropic-beta': 'prompt-caching-2024-07-31' } },
    );
    expect(text(m)).toBe('Mock answer: hi there');
    const sent = upstream.requests.at(-1);
    expect(sent?.headers['x-api-key']).toBe(UPSTREAM_KEY);
    expect(sent?.headers['anthropic-version']).toBe('2023-06-01');
    expect(sent?.headers['anthropic-beta']).toBe('prompt-caching-2024-07-31');
    expect(sent?.headers.authorization).toBeUndefined();
    expect(sent?.body).toMatchObject({ model: 'claude-sonnet-4-5' });
    expect(lastMetered()?.usage).toEqual({ inputTokens: 2, outputTokens: 4, cacheReadTokens: 0, cacheWriteTokens: 0 });
  });

  it('an api_base given with /v1 reaches the same endpoint', async () => {
    const m = await client.messages.create({ model: 'sonnet-v1-base', max_tokens: 50, messages: [{ role: 'user', content: 'same' }] });
    expect(text(m)).toBe('Mock answer: same');
  });

  it('streams, and meters message_start and message_delta usage with cache writes, then reads', async () => {
    const system: Anthropic.TextBlockParam[] = [
      { type: 'text', text: 'a long stable system prompt of ten words here ok', cache_control: { type: 'ephemeral' } },
    ];
    const first = await client.messages
      .stream({ model: 'sonnet', max_tokens: 50, system, messages: [{ role: 'user', content: 'first question' }] })
      .finalMessage();
    expect(first.usage).toMatchObject({ input_tokens: 2, cache_creation_input_tokens: 10, cache_read_input_tokens: 0, output_tokens: 4 });
    expect(lastMetered()?.usage).toEqual({ inputTokens: 2, outputTokens: 4, cacheReadTokens: 0, cacheWriteTokens: 10 });
    const second = await client.messages
      .stream({ model: 'sonnet', max_tokens: 50, system, messages: [{ role: 'user', content: 'second question asked' }] })
      .finalMessage();
    expect(text(second)).toBe('Mock answer: second question asked');
    expect(lastMetered()?.usage).toEqual({ inputTokens: 3, outputTokens: 5, cacheReadTokens: 10, cacheWriteTokens: 0 });
  });

  it('tool use round trip', async () => {
    const tools: Anthropic.Tool[] = [
      { name: 'lookup', description: 'Look up', input_schema: { type: 'object', properties: { query: { type: 'string' } } } },
    ];
    const first = await client.messages.create({
      model: 'sonnet',
      max_tokens: 50,
      tools,
      messages: [{ role: 'user', content: 'please use lookup now' }],
    });
    const use = first.content.find((b) => b.type === 'tool_use') as Anthropic.ToolUseBlock;
    expect(first.stop_reason).toBe('tool_use');
    const second = await client.messages.create({
      model: 'sonnet',
      max_tokens: 50,
      tools,
      messages: [
        { role: 'user', content: 'please use lookup now' },
        { role: 'assistant', content: first.content },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: use.id, content: 'found it' }] },
      ],
    });
    expect(text(second)).toBe('Mock answer: found it');
  });

  it('Anthropic’s 429 and 529 pass through with their status and body', async () => {
    const busy = await client.messages
      .create({ model: 'sonnet-busy', max_tokens: 5, messages: [{ role: 'user', content: 'x' }] })
      .catch((e: unknown) => e);
    expect(busy).toBeInstanceOf(Anthropic.RateLimitError);
    const overloaded = await client.messages
      .create({ model: 'sonnet-overloaded', max_tokens: 5, messages: [{ role: 'user', content: 'x' }] })
      .catch((e: unknown) => e);
    expect((overloaded as InstanceType<typeof Anthropic.APIError>).status).toBe(529);
    expect((overloaded as InstanceType<typeof Anthropic.APIError>).error).toMatchObject({
      type: 'error',
      error: { type: 'overloaded_error' },
    });
    expect(lastMetered()?.usage).toBeUndefined();
  });

  it('a key Anthropic refuses is Tollgate’s problem: a 502, not the caller’s 401', async () => {
    const err = await client.messages
      .create({ model: 'sonnet-bad-key', max_tokens: 5, messages: [{ role: 'user', content: 'x' }] })
      .catch((e: unknown) => e);
    expect((err as InstanceType<typeof Anthropic.APIError>).status).toBe(502);
    expect(JSON.stringify((err as InstanceType<typeof Anthropic.APIError>).error)).not.toContain('sk-ant-wrong');
  });

  it('a stream cut mid-answer ends with an error event the SDK raises; what was seen is metered', async () => {
    const err = await client.messages
      .stream({ model: 'sonnet-dropped', max_tokens: 50, messages: [{ role: 'user', content: 'a b c d e' }] })
      .finalMessage()
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect(lastMetered()?.usage?.inputTokens).toBe(5);
  });
});

describe('/v1/messages on a Claude model on Bedrock (Converse)', () => {
  it('answers in Anthropic’s shape, metered from Converse’s usage', async () => {
    const m = await client.messages.create({
      model: 'claude-bedrock',
      max_tokens: 50,
      system: 'Be brief.',
      messages: [{ role: 'user', content: 'hello bedrock' }],
    });
    expect(m).toMatchObject({ type: 'message', role: 'assistant', model: 'claude-bedrock', stop_reason: 'end_turn', stop_sequence: null });
    expect(text(m)).toBe('Mock answer: hello bedrock');
    expect(m.usage).toMatchObject({ input_tokens: 4, output_tokens: 4 });
    expect(mockBedrock.requests.at(-1)).toMatchObject({
      operation: 'converse',
      modelId: CLAUDE_ON_BEDROCK,
      body: { system: [{ text: 'Be brief.' }], inferenceConfig: { maxTokens: 50 } },
    });
    expect(lastMetered()?.usage).toEqual({ inputTokens: 4, outputTokens: 4, cacheReadTokens: 0, cacheWriteTokens: 0 });
  });

  it('stop_sequence comes back as Claude reports it through Converse', async () => {
    const m = await client.messages.create({
      model: 'claude-bedrock',
      max_tokens: 50,
      stop_sequences: ['STOP'],
      messages: [{ role: 'user', content: 'go STOP now' }],
    });
    expect(m).toMatchObject({ stop_reason: 'stop_sequence', stop_sequence: 'STOP' });
    expect(text(m)).toBe('Mock answer: go');
  });

  it('streams with the SDK’s own accumulator: text, usage with cache write then read', async () => {
    const system: Anthropic.TextBlockParam[] = [
      { type: 'text', text: 'stable instructions of six words', cache_control: { type: 'ephemeral' } },
    ];
    const stream = client.messages.stream({
      model: 'claude-bedrock',
      max_tokens: 50,
      system,
      messages: [{ role: 'user', content: 'tell me' }],
    });
    const deltas: string[] = [];
    stream.on('text', (t) => deltas.push(t));
    const first = await stream.finalMessage();
    expect(deltas.join('')).toBe('Mock answer: tell me');
    expect(text(first)).toBe('Mock answer: tell me');
    expect(first.usage).toMatchObject({ input_tokens: 2, output_tokens: 4, cache_creation_input_tokens: 5, cache_read_input_tokens: 0 });
    expect(lastMetered()?.usage).toEqual({ inputTokens: 2, outputTokens: 4, cacheReadTokens: 0, cacheWriteTokens: 5 });
    const second = await client.messages
      .stream({ model: 'claude-bedrock', max_tokens: 50, system, messages: [{ role: 'user', content: 'and again' }] })
      .finalMessage();
    expect(second.usage).toMatchObject({ cache_read_input_tokens: 5, cache_creation_input_tokens: 0 });
    expect(lastMetered()?.usage).toEqual({ inputTokens: 2, outputTokens: 4, cacheReadTokens: 5, cacheWriteTokens: 0 });
    expect(mockBedrock.requests.at(-1)?.body).toMatchObject({
      system: [{ text: 'stable instructions of six words' }, { cachePoint: { type: 'default' } }],
    });
  });

  it('streamed tool use assembles in the SDK, and the result round trips', async () => {
    const tools: Anthropic.Tool[] = [{ name: 'lookup', input_schema: { type: 'object', properties: { query: { type: 'string' } } } }];
    const first = await client.messages
      .stream({
        model: 'claude-bedrock',
        max_tokens: 50,
        tools,
        tool_choice: { type: 'any' },
        messages: [{ role: 'user', content: 'find it' }],
      })
      .finalMessage();
    const use = first.content.find((b) => b.type === 'tool_use') as Anthropic.ToolUseBlock;
    expect(first.stop_reason).toBe('tool_use');
    expect(use).toMatchObject({ name: 'lookup', input: { query: 'find it' } });
    const second = await client.messages.create({
      model: 'claude-bedrock',
      max_tokens: 50,
      tools,
      messages: [
        { role: 'user', content: 'find it' },
        { role: 'assistant', content: first.content },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: use.id, content: 'here' }] },
      ],
    });
    expect(text(second)).toBe('Mock answer: here');
  });

  it('a model that is not Claude cannot serve /v1/messages: a 400 before any Bedrock call', async () => {
    const before = mockBedrock.requests.length;
    const err = await client.messages
      .create({ model: 'nova', max_tokens: 5, messages: [{ role: 'user', content: 'x' }] })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Anthropic.BadRequestError);
    expect(mockBedrock.requests.length).toBe(before);
  });
});
