/**
 * `POST /v1/messages` (Anthropic's Messages API) through the local gateway with the official
 * Anthropic SDK: forwarded to an Anthropic model (the mock Anthropic API) or to a Claude model on
 * Bedrock (the mock Bedrock runtime), plain and streamed, metered exactly from the answer's usage
 * (input, output, cache reads and writes), every check applied, errors in Anthropic's shape.
 */
import Anthropic from '@anthropic-ai/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Gateway, startGateway } from '../../../infra/local/gateway.js';
import { type MockAnthropic, startMockAnthropic } from '../../../infra/local/mock-anthropic.js';
import { type MockBedrock, startMockBedrock } from '../../../infra/local/mock-bedrock.js';
import { mockModels } from '../../../infra/local/mock-models.js';
import { type MockUpstream, startMockUpstream } from '../../../infra/local/mock-upstream.js';
import { costNanos } from '../../../lib/domain/cost.js';
import type { ModelRecord } from '../../../lib/domain/records.js';
import { refs } from '../../../lib/store/keys.js';
import { seedKey } from '../../support/seed.js';
import { settledSpendNanos } from '../../support/spend.js';
import { useTestTable } from '../../support/table.js';
import { seedModels } from './harness.js';

const ANTHROPIC_KEY = 'sk-ant-mock-local-only-0000000000';
const created_at = '2025-01-01T00:00:00.000Z';
const prices = {
  input_cost_per_million: 0.8,
  output_cost_per_million: 4,
  cache_read_cost_per_million: 0.08,
  cache_write_cost_per_million: 1,
};
const haiku: ModelRecord = {
  model_name: 'haiku',
  provider: 'anthropic',
  upstream_model: 'claude-3-5-haiku-20241022',
  api_key_secret: 'tollgate/anthropic',
  ...prices,
  created_at,
};
const bedrockHaiku: ModelRecord = {
  model_name: 'haiku-bedrock',
  provider: 'bedrock',
  upstream_model: 'us.anthropic.claude-3-5-haiku-20241022-v1:0',
  aws_region_name: 'us-west-2',
  ...prices,
  created_at,
};

let anthropicMock: MockAnthropic;
let bedrockMock: MockBedrock;
let openaiMock: MockUpstream;
let gateway: Gateway;
let client: Anthropic;
let token: string;

const spent = () => settledSpendNanos(refs.key(token));

beforeAll(async () => {
  anthropicMock = await startMockAnthropic({ apiKey: ANTHROPIC_KEY });
  bedrockMock = await startMockBedrock();
  openaiMock = await startMockUpstream({});
  await useTestTable({
    TOLLGATE_BEDROCK_ENDPOINT: bedrockMock.url,
    TOLLGATE_LOCAL_SECRETS: JSON.stringify({ 'tollgate/anthropic': ANTHROPIC_KEY }),
  });
  await seedModels([
    { ...haiku, upstream_base_url: anthropicMock.url },
    { ...haiku, model_name: 'haiku-secret', upstream_base_url: anthropicMock.url },
    {
      ...haiku,
      model_name: 'haiku-overloaded',
      upstream_model: `${haiku.upstream_model}+status=529`,
      upstream_base_url: anthropicMock.url,
    },
    bedrockHaiku,
    ...mockModels(openaiMock.url),
  ]);
  const { key, record } = await seedKey({ models: ['haiku', 'haiku-bedrock', 'haiku-overloaded', 'gpt-4o-mini'] });
  token = record.token;
  gateway = await startGateway({ port: 0 });
  client = new Anthropic({ apiKey: key, baseURL: gateway.url, maxRetries: 0 });
});
afterAll(async () => {
  await gateway?.close();
  await anthropicMock?.close();
  await bedrockMock?.close();
  await openaiMock?.close();
});

const usageNanos = (u: Anthropic.Usage | Anthropic.MessageDeltaUsage, input = u.input_tokens ?? 0) =>
  costNanos(
    {
      inputTokens: input,
      outputTokens: u.output_tokens,
      cacheReadTokens: u.cache_read_input_tokens ?? 0,
      cacheWriteTokens: u.cache_creation_input_tokens ?? 0,
    },
    prices,
  );

describe('/v1/messages with the official Anthropic SDK', () => {
  it('an Anthropic model answers, with prompt caching metered at the cache prices', async () => {
    const system: Anthropic.TextBlockParam[] = [
      { type: 'text', text: 'you are a careful assistant who answers in few words', cache_control: { type: 'ephemeral' } },
    ];
    let before = await spent();
    const first = await client.messages.create({
      model: 'haiku',
      max_tokens: 50,
      system,
      messages: [{ role: 'user', content: 'hello there' }],
    });
    expect(first.content[0]).toMatchObject({ type: 'text', text: 'Mock answer: hello there' });
    expect(first.usage.cache_creation_input_tokens).toBeGreaterThan(0);
    expect((await spent()) - before).toBe(usageNanos(first.usage));
    before = await spent();
    const second = await client.messages.create({
      model: 'haiku',
      max_tokens: 50,
      system,
      messages: [{ role: 'user', content: 'hello again' }],
    });
    expect(second.usage.cache_read_input_tokens).toBe(first.usage.cache_creation_input_tokens);
    expect((await spent()) - before).toBe(usageNanos(second.usage));
    expect(anthropicMock.requests.at(-1)?.headers['x-api-key']).toBe(ANTHROPIC_KEY);
  });

  it('streams from Anthropic, metered from the stream usage', async () => {
    const before = await spent();
    const stream = client.messages.stream({ model: 'haiku', max_tokens: 50, messages: [{ role: 'user', content: 'a b c' }] });
    let text = '';
    stream.on('text', (t) => {
      text += t;
    });
    const final = await stream.finalMessage();
    expect(text).toBe('Mock answer: a b c');
    expect(final.usage).toMatchObject({ input_tokens: 3, output_tokens: 5 });
    expect((await spent()) - before).toBe(usageNanos(final.usage));
  });

  it('streams from a Claude model on Bedrock (ConverseStream, answered as Anthropic events), metered', async () => {
    const before = await spent();
    const stream = client.messages.stream({ model: 'haiku-bedrock', max_tokens: 50, messages: [{ role: 'user', content: 'x y z w' }] });
    const final = await stream.finalMessage();
    expect(final.content[0]).toMatchObject({ type: 'text', text: 'Mock answer: x y z w' });
    expect(final.usage).toMatchObject({ input_tokens: 4, output_tokens: 6 });
    expect(bedrockMock.requests.at(-1)?.modelId).toBe('us.anthropic.claude-3-5-haiku-20241022-v1:0');
    expect((await spent()) - before).toBe(costNanos({ inputTokens: 4, outputTokens: 6 }, prices));
  });

  it('a model the key may not use: refused before any upstream call, in Anthropic error shape', async () => {
    const calls = anthropicMock.requests.length;
    const e = await client.messages
      .create({ model: 'haiku-secret', max_tokens: 5, messages: [{ role: 'user', content: 'x' }] })
      .catch((x) => x);
    expect(e).toBeInstanceOf(Anthropic.PermissionDeniedError);
    expect(e.error).toMatchObject({ type: 'error', error: { type: 'permission_error', code: 'model_not_allowed' } });
    expect(anthropicMock.requests.length).toBe(calls);
  });

  it('an OpenAI-compatible model cannot serve /v1/messages: a 400 naming the model', async () => {
    const calls = openaiMock.requests.length;
    const e = await client.messages
      .create({ model: 'gpt-4o-mini', max_tokens: 5, messages: [{ role: 'user', content: 'x' }] })
      .catch((x) => x);
    expect(e).toBeInstanceOf(Anthropic.BadRequestError);
    expect(e.error.error).toMatchObject({ type: 'invalid_request_error', code: 'unsupported_parameter' });
    expect(openaiMock.requests.length).toBe(calls);
  });

  it("an upstream's error keeps its status (529 overloaded), nothing charged", async () => {
    const before = await spent();
    const e = await client.messages
      .create({ model: 'haiku-overloaded', max_tokens: 5, messages: [{ role: 'user', content: 'x' }] })
      .catch((x) => x);
    expect(e).toBeInstanceOf(Anthropic.APIError);
    expect(e.status).toBe(529);
    expect(await spent()).toBe(before);
  });
});
