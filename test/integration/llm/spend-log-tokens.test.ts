/**
 * A spend log's `prompt_tokens` is LiteLLM's, for every provider: every input token, cache reads
 * and writes included, as the tpm limit counts them. OpenAI's `prompt_tokens` already include its
 * cached tokens; Anthropic and Bedrock report cache reads and writes apart from `input_tokens`,
 * and LiteLLM adds them back (its Anthropic `calculate_usage`, its Bedrock `_transform_usage`).
 * What is charged does not change: the cache tokens are still priced apart.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type MockAnthropic, startMockAnthropic } from '../../../infra/local/mock-anthropic.js';
import { type MockBedrock, startMockBedrock } from '../../../infra/local/mock-bedrock.js';
import { configureApp } from '../../../lib/app/index.js';
import { costNanos, type Usage } from '../../../lib/domain/cost.js';
import type { ModelRecord } from '../../../lib/domain/records.js';
import type { SpendLog } from '../../../lib/domain/spend-log.js';
import { refs } from '../../../lib/store/keys.js';
import { SPEND_LOG_ATTR } from '../../../lib/store/spend-ledger.js';
import { bearer } from '../../support/authorizer.js';
import { seedKey } from '../../support/seed.js';
import { readItem, settledSpendNanos } from '../../support/spend.js';
import { useTestTable } from '../../support/table.js';
import { call, seedModels } from './harness.js';

const ANTHROPIC_KEY = 'sk-ant-mock-spend-log-tokens';
const created_at = '2025-01-01T00:00:00.000Z';
const prices = {
  input_cost_per_million: 0.8,
  output_cost_per_million: 4,
  cache_read_cost_per_million: 0.08,
  cache_write_cost_per_million: 1,
};

let anthropicMock: MockAnthropic;
let bedrockMock: MockBedrock;

beforeAll(async () => {
  anthropicMock = await startMockAnthropic({ apiKey: ANTHROPIC_KEY });
  bedrockMock = await startMockBedrock();
  await useTestTable({
    TOLLGATE_BEDROCK_ENDPOINT: bedrockMock.url,
    TOLLGATE_LOCAL_SECRETS: JSON.stringify({ 'tollgate/anthropic': ANTHROPIC_KEY, 'tollgate/openai': 'sk-upstream' }),
  });
  const model = (m: Partial<ModelRecord> & Pick<ModelRecord, 'model_name' | 'upstream_model'>): ModelRecord => ({
    ...prices,
    created_at,
    ...m,
  });
  await seedModels([
    model({
      model_name: 'haiku',
      provider: 'anthropic',
      upstream_model: 'claude-3-5-haiku-20241022',
      upstream_base_url: anthropicMock.url,
      api_key_secret: 'tollgate/anthropic',
    }),
    model({
      model_name: 'haiku-bedrock',
      provider: 'bedrock',
      upstream_model: 'us.anthropic.claude-3-5-haiku-20241022-v1:0',
      aws_region_name: 'us-west-2',
    }),
    model({
      model_name: 'azure-cached',
      provider: 'azure',
      upstream_model: 'gpt-4o-mini',
      upstream_base_url: 'http://azure.invalid',
      api_version: '2024-10-21',
      api_key_secret: 'tollgate/openai',
    }),
    model({
      model_name: 'gpt-cached',
      upstream_model: 'gpt-4o-mini',
      upstream_base_url: 'http://openai.invalid/v1',
      api_key_secret: 'tollgate/openai',
    }),
  ]);
});
afterAll(async () => {
  await anthropicMock?.close();
  await bedrockMock?.close();
});

interface AnthropicUsage {
  input_tokens: number;
  output_tokens: number;
  cache_creation_input_tokens?: number;
  cache_read_input_tokens?: number;
}

/** The spend log a call's settlement carries. */
async function spendLogOf(requestId: string): Promise<SpendLog> {
  const settlement = await readItem(refs.settlement(requestId));
  return JSON.parse(String(settlement?.[SPEND_LOG_ATTR])) as SpendLog;
}

/** A messages call whose system prompt is marked for the cache: written the first time, read after. */
async function cachedMessages(model: string) {
  const { key, record } = await seedKey({});
  const system = [
    { type: 'text', text: 'you are a careful assistant who answers in very few words', cache_control: { type: 'ephemeral' } },
  ];
  const out: { log: SpendLog; usage: AnthropicUsage; charged: number }[] = [];
  for (const text of ['first question', 'second question']) {
    const requestId = `req-${model}-${Math.random().toString(36).slice(2)}`;
    const before = await settledSpendNanos(refs.key(record.token));
    const res = await call({
      path: '/v1/messages',
      headers: bearer(key),
      body: { model, max_tokens: 50, system, messages: [{ role: 'user', content: text }] },
      requestId,
    });
    expect(res.status).toBe(200);
    const charged = (await settledSpendNanos(refs.key(record.token))) - before;
    out.push({ log: await spendLogOf(requestId), usage: res.json.usage, charged });
  }
  return out;
}

describe("a spend log's prompt_tokens count cache tokens, as LiteLLM's do", () => {
  it.each(['haiku', 'haiku-bedrock'])('%s (Anthropic usage: cache reads and writes reported apart from input_tokens)', async (model) => {
    const [written, read] = await cachedMessages(model);
    expect(written?.usage.cache_creation_input_tokens).toBeGreaterThan(0);
    expect(read?.usage.cache_read_input_tokens).toBeGreaterThan(0);
    for (const { log, usage, charged } of [written, read] as NonNullable<typeof written>[]) {
      const all = usage.input_tokens + (usage.cache_creation_input_tokens ?? 0) + (usage.cache_read_input_tokens ?? 0);
      expect(log).toMatchObject({ prompt_tokens: all, completion_tokens: usage.output_tokens, total_tokens: all + usage.output_tokens });
      // Charged as before: cache tokens at the cache prices, not as input.
      const split: Usage = {
        inputTokens: usage.input_tokens,
        outputTokens: usage.output_tokens,
        cacheReadTokens: usage.cache_read_input_tokens ?? 0,
        cacheWriteTokens: usage.cache_creation_input_tokens ?? 0,
      };
      expect(charged).toBe(costNanos(split, prices));
    }
  });

  it.each(['gpt-cached', 'azure-cached'])(
    '%s (OpenAI usage: prompt_tokens already include its cached tokens): the upstream’s prompt_tokens',
    async (model) => {
      configureApp({
        fetch: async () =>
          new Response(
            JSON.stringify({
              id: 'chatcmpl-cached',
              object: 'chat.completion',
              created: 1,
              model: 'gpt-4o-mini',
              choices: [{ index: 0, message: { role: 'assistant', content: 'ok' }, finish_reason: 'stop' }],
              usage: { prompt_tokens: 1000, completion_tokens: 5, total_tokens: 1005, prompt_tokens_details: { cached_tokens: 900 } },
            }),
            { status: 200, headers: { 'content-type': 'application/json' } },
          ),
      });
      try {
        const { key, record } = await seedKey({});
        const requestId = `req-${model}-${Math.random().toString(36).slice(2)}`;
        const res = await call({
          path: '/v1/chat/completions',
          headers: bearer(key),
          body: { model, messages: [{ role: 'user', content: 'Hello' }] },
          requestId,
        });
        expect(res.status).toBe(200);
        expect(await spendLogOf(requestId)).toMatchObject({ prompt_tokens: 1000, completion_tokens: 5, total_tokens: 1005 });
        expect(await settledSpendNanos(refs.key(record.token))).toBe(
          costNanos({ inputTokens: 100, outputTokens: 5, cacheReadTokens: 900 }, prices),
        );
      } finally {
        configureApp({ fetch: undefined });
      }
    },
  );
});
