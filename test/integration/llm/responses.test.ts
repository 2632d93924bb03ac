/**
 * The Responses API (`POST /v1/responses`), which current OpenAI SDKs and agent frameworks call by
 * default: the official openai client's `responses.create`, plain and streamed, through the local
 * gateway to the OpenAI-compatible mock upstream (passed through) and to a Bedrock model
 * (translated to Converse by the provider layer), each metered exactly from the answer's usage.
 */
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Gateway, startGateway } from '../../../infra/local/gateway.js';
import { type MockBedrock, startMockBedrock } from '../../../infra/local/mock-bedrock.js';
import { MOCK_UPSTREAM_KEY, mockLocalSecrets, mockModels } from '../../../infra/local/mock-models.js';
import { type MockUpstream, startMockUpstream } from '../../../infra/local/mock-upstream.js';
import { costNanos, type Prices } from '../../../lib/domain/cost.js';
import type { ModelRecord } from '../../../lib/domain/records.js';
import { refs } from '../../../lib/store/keys.js';
import { seedKey } from '../../support/seed.js';
import { settledSpendNanos } from '../../support/spend.js';
import { useTestTable } from '../../support/table.js';
import { seedModels } from './harness.js';

const mini: Prices = { input_cost_per_million: 0.15, output_cost_per_million: 0.6 };
const nova: ModelRecord = {
  model_name: 'nova-lite',
  provider: 'bedrock',
  upstream_model: 'amazon.nova-lite-v1:0',
  input_cost_per_million: 0.06,
  output_cost_per_million: 0.24,
  created_at: '2025-01-01T00:00:00.000Z',
};

const claude: ModelRecord = {
  ...nova,
  model_name: 'claude-bedrock',
  upstream_model: 'anthropic.claude-3-7-sonnet-20250219-v1:0',
  input_cost_per_million: 3,
  output_cost_per_million: 15,
};

let upstream: MockUpstream;
let bedrock: MockBedrock;
let gateway: Gateway;
let client: OpenAI;
let token: string;

const spent = () => settledSpendNanos(refs.key(token));

const cost = (u: OpenAI.Responses.ResponseUsage | undefined, prices: Prices) => {
  const cached = u?.input_tokens_details?.cached_tokens ?? 0;
  return costNanos({ inputTokens: (u?.input_tokens ?? 0) - cached, outputTokens: u?.output_tokens ?? 0, cacheReadTokens: cached }, prices);
};

beforeAll(async () => {
  upstream = await startMockUpstream({ apiKey: MOCK_UPSTREAM_KEY });
  bedrock = await startMockBedrock();
  await useTestTable({ TOLLGATE_LOCAL_SECRETS: JSON.stringify(mockLocalSecrets()), TOLLGATE_BEDROCK_ENDPOINT: bedrock.url });
  await seedModels([...mockModels(upstream.url), nova, claude]);
  const { key, record } = await seedKey({});
  token = record.token;
  gateway = await startGateway({ port: 0 });
  client = new OpenAI({ apiKey: key, baseURL: `${gateway.url}/v1`, maxRetries: 0 });
});
afterAll(async () => {
  await gateway?.close();
  await upstream?.close();
  await bedrock?.close();
});

describe('responses.create with the official openai client', () => {
  it('plain, through the OpenAI-compatible upstream, metered', async () => {
    const before = await spent();
    const res = await client.responses.create({ model: 'gpt-4o-mini', input: 'hello responses' });
    expect(res.output_text).toBe('Mock answer: hello responses');
    expect(res.usage?.input_tokens).toBe(2);
    expect((await spent()) - before).toBe(cost(res.usage, mini));
    expect((await spent()) - before).toBeGreaterThan(0);
  });

  it('streamed, through the OpenAI-compatible upstream, metered from response.completed', async () => {
    const before = await spent();
    const stream = await client.responses.create({ model: 'gpt-4o-mini', input: 'a b c', stream: true });
    let text = '';
    let usage: OpenAI.Responses.ResponseUsage | undefined;
    for await (const event of stream) {
      if (event.type === 'response.output_text.delta') text += event.delta;
      if (event.type === 'response.completed') usage = event.response.usage;
    }
    expect(text).toBe('Mock answer: a b c');
    expect(usage?.output_tokens).toBeGreaterThan(0);
    expect((await spent()) - before).toBe(cost(usage, mini));
  });

  it('plain and streamed on a Bedrock model (translated to Converse), metered', async () => {
    let before = await spent();
    const res = await client.responses.create({ model: 'nova-lite', input: 'hello nova' });
    expect(res.output_text).toBe('Mock answer: hello nova');
    expect(res.usage).toMatchObject({ input_tokens: 2, output_tokens: 4 });
    expect(bedrock.requests.at(-1)).toMatchObject({ operation: 'converse', modelId: 'amazon.nova-lite-v1:0' });
    expect((await spent()) - before).toBe(cost(res.usage, nova));

    before = await spent();
    const stream = await client.responses.create({ model: 'nova-lite', input: 'x y z', stream: true });
    let usage: OpenAI.Responses.ResponseUsage | undefined;
    let text = '';
    for await (const event of stream) {
      if (event.type === 'response.output_text.delta') text += event.delta;
      if (event.type === 'response.completed') usage = event.response.usage;
    }
    expect(text).toBe('Mock answer: x y z');
    expect(usage).toMatchObject({ input_tokens: 3, output_tokens: 5 });
    expect((await spent()) - before).toBe(cost(usage, nova));
  });
});

describe("Claude's extended thinking on Bedrock through responses.create", () => {
  const search: OpenAI.Responses.FunctionTool = {
    type: 'function',
    name: 'get_weather',
    parameters: { type: 'object', properties: { query: { type: 'string' } } },
    strict: false,
  };

  it('reasoning.effort thinks: a signed reasoning item first; sent back with the call, Claude goes on after the tool; metered', async () => {
    const before = await spent();
    const input: OpenAI.Responses.ResponseInput = [{ role: 'user', content: 'use get_weather for Paris' }];
    const first = await client.responses.create({
      model: 'claude-bedrock',
      input,
      tools: [search],
      reasoning: { effort: 'low' },
      max_output_tokens: 2000,
    });
    expect(bedrock.requests.at(-1)?.body).toMatchObject({
      additionalModelRequestFields: { thinking: { type: 'enabled', budget_tokens: 1024 } },
    });
    expect(first.output.map((i) => i.type)).toEqual(['reasoning', 'function_call']);
    const reasoning = first.output[0] as OpenAI.Responses.ResponseReasoningItem;
    expect(reasoning.content?.[0]?.text).toBe('Thinking about: use get_weather for Paris');
    expect(reasoning.encrypted_content).toMatch(/^mock-signature-/);
    const call = first.output[1] as OpenAI.Responses.ResponseFunctionToolCall;

    // The whole output goes back, as agent frameworks send it, with the tool's result.
    const next = await client.responses.create({
      model: 'claude-bedrock',
      tools: [search],
      reasoning: { effort: 'low' },
      max_output_tokens: 2000,
      input: [
        ...input,
        ...(first.output as OpenAI.Responses.ResponseInputItem[]),
        { type: 'function_call_output', call_id: call.call_id, output: 'Sunny' },
      ],
    });
    expect(next.output_text).toBe('Mock answer: Sunny');
    expect((await spent()) - before).toBe(cost(first.usage, claude) + cost(next.usage, claude));
  });

  it('streamed: reasoning_text deltas, then the item done with its signature, then the text', async () => {
    const stream = await client.responses.create({
      model: 'claude-bedrock',
      input: 'why',
      reasoning: { effort: 'low' },
      max_output_tokens: 2000,
      stream: true,
    });
    let thinking = '';
    let text = '';
    const done: OpenAI.Responses.ResponseOutputItem[] = [];
    for await (const event of stream) {
      if (event.type === 'response.reasoning_text.delta') thinking += event.delta;
      if (event.type === 'response.output_text.delta') text += event.delta;
      if (event.type === 'response.output_item.done') done.push(event.item);
    }
    expect({ thinking, text }).toEqual({ thinking: 'Thinking about: why', text: 'Mock answer: why' });
    expect(done[0]).toMatchObject({ type: 'reasoning', encrypted_content: expect.stringMatching(/^mock-signature-/) });
  });
});
