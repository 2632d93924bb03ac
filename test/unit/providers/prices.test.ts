import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { costNanosOfUsage, PRICE_SOURCE, priceOf, pricesForCall } from '../../../lib/providers/prices.js';

const AT = new Date('2026-12-01T12:00:00Z');
const source = (provider: string, model: string) => ({ name: '@pydantic/genai-prices', version: PRICE_SOURCE.version, provider, model });

describe('known prices', () => {
  it('the source named for /model/info is the installed library and version', () => {
    const entry = createRequire(import.meta.url).resolve('@pydantic/genai-prices');
    const pkg = JSON.parse(readFileSync(join(dirname(entry), '..', 'package.json'), 'utf8')) as { name: string; version: string };
    expect(PRICE_SOURCE).toEqual({ name: pkg.name, version: pkg.version });
  });

  it('gpt-4o on OpenAI: input, output and cached input', () => {
    expect(priceOf('openai', 'gpt-4o', AT)).toEqual({
      input_cost_per_million: 2.5,
      output_cost_per_million: 10,
      cache_read_cost_per_million: 1.25,
      // The library's web_searches_kcount ($10 per 1,000) as dollars per search.
      search_context_cost_per_query: 0.01,
      // The library's storage_searches_kcount, as LiteLLM keeps it: dollars per 1,000 file search calls.
      file_search_cost_per_1k_calls: 2.5,
      source: source('openai', 'gpt-4o'),
    });
  });

  it("OpenAI models carry the file search price: $2.50 per 1,000 calls (LiteLLM's file_search_cost_per_1k_calls); Claude has none", () => {
    expect(priceOf('openai', 'gpt-4.1', AT)).toMatchObject({ file_search_cost_per_1k_calls: 2.5 });
    expect(priceOf('azure', 'gpt-4o', AT)).toMatchObject({ file_search_cost_per_1k_calls: 2.5 });
    expect(priceOf('anthropic', 'claude-sonnet-4-20250514', AT)).not.toHaveProperty('file_search_cost_per_1k_calls');
  });

  it("Claude on Anthropic carries its web search price: $10 per 1,000 searches, 0.01 a search (LiteLLM's search_context_cost_per_query)", () => {
    expect(priceOf('anthropic', 'claude-sonnet-4-20250514', AT)).toMatchObject({ search_context_cost_per_query: 0.01 });
  });

  it('audio models carry their audio prices (gpt-audio: $32 in, $64 out; gpt-4o-transcribe: $6 in)', () => {
    expect(priceOf('openai', 'gpt-audio', AT)).toMatchObject({ input_audio_cost_per_million: 32, output_audio_cost_per_million: 64 });
    expect(priceOf('openai', 'gpt-4o-transcribe', AT)).toMatchObject({ input_cost_per_million: 2.5, input_audio_cost_per_million: 6 });
    expect(priceOf('openai', 'gpt-4o', AT)).not.toHaveProperty('input_audio_cost_per_million');
  });

  it('image models carry their image prices (gpt-image-1: $10 per 1M input image tokens; gpt-image-1.5: $32 per 1M images made)', () => {
    expect(priceOf('openai', 'gpt-image-1', AT)).toMatchObject({
      input_cost_per_million: 5,
      input_image_cost_per_million: 10,
      cache_read_image_cost_per_million: 2.5,
    });
    expect(priceOf('openai', 'gpt-image-1.5', AT)).toMatchObject({
      output_cost_per_million: 10,
      input_image_cost_per_million: 8,
      output_image_cost_per_million: 32,
    });
    expect(priceOf('openai', 'gpt-4o', AT)).not.toHaveProperty('input_image_cost_per_million');
  });

  it('a dated OpenAI snapshot reads as its model', () => {
    expect(priceOf('openai', 'gpt-4o-2024-08-06', AT)).toMatchObject({ input_cost_per_million: 2.5, output_cost_per_million: 10 });
  });

  it('gpt-4o on Azure (the deployment named for its model)', () => {
    expect(priceOf('azure', 'gpt-4o', AT)).toMatchObject({
      input_cost_per_million: 2.5,
      output_cost_per_million: 10,
      source: { provider: 'azure' },
    });
  });

  it('a Claude model on Bedrock: cache reads and writes priced', () => {
    expect(priceOf('bedrock', 'anthropic.claude-3-5-sonnet-20240620-v1:0', AT)).toEqual({
      input_cost_per_million: 3,
      output_cost_per_million: 15,
      cache_read_cost_per_million: 0.3,
      cache_write_cost_per_million: 3.75,
      source: source('aws', 'regional.anthropic.claude-3-5-sonnet-20240620-v1:0'),
    });
  });

  it('a Claude inference profile, by id or by ARN', () => {
    const byId = priceOf('bedrock', 'us.anthropic.claude-sonnet-4-20250514-v1:0', AT);
    expect(byId).toMatchObject({ input_cost_per_million: 3, output_cost_per_million: 15 });
    expect(
      priceOf('bedrock', 'arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-sonnet-4-20250514-v1:0', AT),
    ).toEqual(byId);
  });

  it('Titan Text Embeddings v1: input only, output free', () => {
    expect(priceOf('bedrock', 'amazon.titan-embed-text-v1', AT)).toEqual({
      input_cost_per_million: 0.1,
      output_cost_per_million: 0,
      source: source('aws', 'amazon.titan-embed-text-v1'),
    });
  });

  it('Titan Text Embeddings v2 is unknown: the source would price it as v1 (5x its price), so it stays unpriced', () => {
    expect(priceOf('bedrock', 'amazon.titan-embed-text-v2:0', AT)).toBeUndefined();
  });

  it('Claude on Anthropic: long-context tiers come with it, 1-hour writes too (found by review: dropped, so charged the tier’s 5-minute price)', () => {
    const p = priceOf('anthropic', 'claude-sonnet-4-5-20250929', AT);
    expect(p).toMatchObject({
      input_cost_per_million: 3,
      output_cost_per_million: 15,
      cache_read_cost_per_million: 0.3,
      cache_write_cost_per_million: 3.75,
      cache_write_1h_cost_per_million: 6,
    });
    expect(p?.tiers).toEqual([
      {
        above_input_tokens: 200000,
        input_cost_per_million: 6,
        output_cost_per_million: 22.5,
        cache_read_cost_per_million: 0.6,
        cache_write_cost_per_million: 7.5,
        cache_write_1h_cost_per_million: 12,
      },
    ]);
    expect(pricesForCall(p!, 200000)).toMatchObject({ input_cost_per_million: 3 });
    expect(pricesForCall(p!, 200001)).toMatchObject({ input_cost_per_million: 6, output_cost_per_million: 22.5 });
  });

  it('no batch prices in this source', () => {
    for (const [provider, model] of [
      ['openai', 'gpt-4o'],
      ['anthropic', 'claude-sonnet-4-5'],
      ['bedrock', 'anthropic.claude-3-5-sonnet-20240620-v1:0'],
    ] as const) {
      expect(priceOf(provider, model, AT)).not.toHaveProperty('batch_input_cost_per_million');
    }
  });

  it.each([
    ['openai', 'nonexistent-model-xyz'],
    ['bedrock', 'cohere.embed-english-v3'],
    ['bedrock', 'arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/abc123'],
    ['anthropic', 'constructor'],
    ['azure', 'my-custom-deployment'],
    ['openai', ''],
  ] as const)('%s %s is unknown (the caller keeps its 400)', (provider, model) => {
    expect(priceOf(provider, model, AT)).toBeUndefined();
  });
});

describe('cost with cache figures', () => {
  const claude = {
    input_cost_per_million: 3,
    output_cost_per_million: 15,
    cache_read_cost_per_million: 0.3,
    cache_write_cost_per_million: 3.75,
  };

  it('each kind of token at its price, exactly', () => {
    // 1000 x 3 + 200 x 15 + 10000 x 0.3 + 2000 x 3.75 = 3000 + 3000 + 3000 + 7500 micro-dollars
    expect(costNanosOfUsage({ inputTokens: 1000, outputTokens: 200, cacheReadTokens: 10_000, cacheWriteTokens: 2000 }, claude)).toBe(
      16_500_000,
    );
  });

  it('cache tokens without a cache price are charged at the input price, never at zero', () => {
    expect(
      costNanosOfUsage(
        { inputTokens: 0, outputTokens: 0, cacheReadTokens: 1000, cacheWriteTokens: 1000 },
        { input_cost_per_million: 2, output_cost_per_million: 8 },
      ),
    ).toBe(4_000_000);
  });
});
