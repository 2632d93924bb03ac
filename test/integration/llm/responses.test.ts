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
  await seedModels([...mockModels(upstream.url), nova]);
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
