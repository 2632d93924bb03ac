/**
 * Known prices from a maintained price database, @pydantic/genai-prices (bundled data, no
 * network), so a model needs no prices typed in when its price is known. The registry's own
 * prices override these; a model whose price is not known stays unpriced, and the caller refuses
 * it as it does today.
 *
 * What the library gives, per model: input, output, cache read and cache write prices per 1M
 * tokens (and 1-hour cache writes for Anthropic); audio input and output prices where audio is priced apart; long-context tiers (above a number of input
 * tokens the whole call is priced at the tier's price); prices that change on a date (the one in
 * effect at `at` is taken). It has no batch prices. Guards on top of it:
 *  - a model id's version (`-v2`) must be the version the library priced: its matching is by
 *    substring, and Titan Text Embeddings v2 would otherwise get v1's price (5x);
 *  - prices that depend on the time of day cannot be one registry price: unknown;
 *  - a model without a text input price is not priced for text: unknown.
 */

import { calcPrice, type Provider as LibraryProvider, type ModelPrice } from '@pydantic/genai-prices';
import { costNanos } from '../domain/cost.js';
import type { ProviderName, TokenUsage } from './types.js';

/** The price source `/model/info` names. Kept equal to the installed version by a unit test. */
export const PRICE_SOURCE = Object.freeze({ name: '@pydantic/genai-prices', version: '0.1.8' });

/** Dollars per 1M tokens, in the registry's field names. */
export interface TokenPrices {
  input_cost_per_million: number;
  output_cost_per_million: number;
  /** Absent: the source has none (a cache read is then charged at the input price). */
  cache_read_cost_per_million?: number;
  /** Absent: the source has none (a cache write is then charged at the input price). */
  cache_write_cost_per_million?: number;
}

export interface KnownPrice extends TokenPrices {
  /** Anthropic's 1-hour cache writes, where the source has them. */
  cache_write_1h_cost_per_million?: number;
  /** Batch prices, where the source has them (none in this source's data). */
  batch_input_cost_per_million?: number;
  batch_output_cost_per_million?: number;
  /** Dollars per web search (the library's `web_searches_kcount` per 1,000), LiteLLM's name for it. */
  search_context_cost_per_query?: number;
  /** Dollars per 1,000 file search calls (the library's `storage_searches_kcount`), LiteLLM's name for it. */
  file_search_cost_per_1k_calls?: number;
  /** Audio tokens, where the source prices them apart (gpt-4o-transcribe, gpt-audio, gpt-realtime). */
  input_audio_cost_per_million?: number;
  output_audio_cost_per_million?: number;
  /** Image tokens, where the source prices them apart (gpt-image-1 input images, gpt-image-1.5 images, gemini image output). */
  input_image_cost_per_million?: number;
  output_image_cost_per_million?: number;
  /** Image tokens read from the cache (the library's `cache_image_read_mtok`: gpt-image-1 $2.50). */
  cache_read_image_cost_per_million?: number;
  /** Above `above_input_tokens` input tokens in a call, the whole call is priced at the tier, ascending. */
  tiers?: (TokenPrices & { above_input_tokens: number; cache_write_1h_cost_per_million?: number })[];
  source: { name: string; version: string; provider: string; model: string };
}

/** Tollgate's providers as the library names them. */
const LIBRARY_PROVIDER: Readonly<Record<ProviderName, string>> = {
  openai: 'openai',
  azure: 'azure',
  bedrock: 'aws',
  anthropic: 'anthropic',
};

/** The known price of a model at a time, or undefined when the source does not know it. */
export function priceOf(provider: ProviderName, model: string, at: Date): KnownPrice | undefined {
  const id = provider === 'bedrock' ? bedrockModelId(model) : model;
  if (id.length === 0) return undefined;
  const found = calcPrice({ input_tokens: 0, output_tokens: 0 }, id, { providerId: LIBRARY_PROVIDER[provider], timestamp: at });
  if (!found || !sameVersion(id, found.model.id) || dependsOnTimeOfDay(found.model.prices)) return undefined;
  const p = found.model_price;
  const input = base(p.input_mtok);
  if (input === undefined) return undefined;
  const price: KnownPrice = {
    input_cost_per_million: input,
    output_cost_per_million: base(p.output_mtok) ?? 0,
    ...optional('cache_read_cost_per_million', base(p.cache_read_mtok)),
    ...optional('cache_write_cost_per_million', base(p.cache_write_mtok)),
    ...optional('cache_write_1h_cost_per_million', base(p.cache_write_1h_mtok)),
    ...optional('batch_input_cost_per_million', base(p.batch_input_mtok)),
    ...optional('batch_output_cost_per_million', base(p.batch_output_mtok)),
    ...optional('search_context_cost_per_query', perSearch(base(p.web_searches_kcount))),
    ...optional('file_search_cost_per_1k_calls', base(p.storage_searches_kcount)),
    ...optional('input_audio_cost_per_million', base(p.input_audio_mtok)),
    ...optional('output_audio_cost_per_million', base(p.output_audio_mtok)),
    ...optional('input_image_cost_per_million', base(p.input_image_mtok)),
    ...optional('output_image_cost_per_million', base(p.output_image_mtok)),
    ...optional('cache_read_image_cost_per_million', base(p.cache_image_read_mtok)),
    source: { ...PRICE_SOURCE, provider: found.provider.id, model: found.model.id },
  };
  const tiers = tiersOf(p);
  return tiers.length > 0 ? { ...price, tiers } : price;
}

/** The prices that apply to a call with this many input tokens (all kinds), its tier if it reaches one. */
export function pricesForCall(price: KnownPrice, inputTokens: number): TokenPrices {
  let applied: TokenPrices = price;
  for (const tier of price.tiers ?? []) if (inputTokens > tier.above_input_tokens) applied = tier;
  return applied;
}

/**
 * A call's cost in nano-dollars with cache figures: cache reads and writes at their prices, or at
 * the input price where there is none (never at zero). The domain's costNanos, which the settlement uses.
 */
export function costNanosOfUsage(usage: TokenUsage, prices: TokenPrices): number {
  return costNanos(usage, prices);
}

/** Dollars per 1,000 searches as dollars per search, exact to the nano-dollar ($10 -> 0.01). */
const perSearch = (kcount: number | undefined): number | undefined =>
  kcount === undefined ? undefined : Math.round(kcount * 1_000_000) / 1_000_000_000;

/** A Bedrock model id from what LiteLLM and Bedrock accept: a foundation-model or inference-profile ARN ends with the id. */
function bedrockModelId(model: string): string {
  return model.startsWith('arn:') ? (model.split('/').at(-1) ?? '') : model;
}

/** Every version marker (`-v2`, `.v1:0`) of the requested id must be in the priced model's id. */
function sameVersion(requested: string, priced: string): boolean {
  const versions = (s: string) => new Set([...s.toLowerCase().matchAll(/(?:^|[-._:])(v\d+)(?=$|[-._:])/g)].map((m) => m[1]));
  const have = versions(priced);
  return [...versions(requested)].every((v) => have.has(v));
}

function dependsOnTimeOfDay(prices: LibraryProvider['models'][number]['prices']): boolean {
  return Array.isArray(prices) && prices.some((c) => c.constraint?.type === 'time_of_date');
}

type PriceValue = ModelPrice[string];

/** A price's base figure: the number, or a tiered price's base. */
function base(v: PriceValue): number | undefined {
  if (typeof v === 'number') return Number.isFinite(v) && v >= 0 ? v : undefined;
  return v && typeof v === 'object' && typeof v.base === 'number' ? v.base : undefined;
}

const optional = <K extends string>(key: K, value: number | undefined): { [P in K]?: number } =>
  value === undefined ? {} : ({ [key]: value } as { [P in K]: number });

/** The long-context tiers, one per threshold, each with every token price at that threshold. */
function tiersOf(p: ModelPrice): NonNullable<KnownPrice['tiers']> {
  const starts = new Set<number>();
  for (const v of Object.values(p)) if (v && typeof v === 'object') for (const t of v.tiers) starts.add(t.start);
  const at = (v: PriceValue, start: number): number | undefined => {
    if (typeof v === 'number') return v;
    if (!v || typeof v !== 'object') return undefined;
    let price = v.base;
    for (const t of v.tiers) if (start >= t.start) price = t.price;
    return price;
  };
  return [...starts]
    .sort((a, b) => a - b)
    .map((start) => ({
      above_input_tokens: start,
      input_cost_per_million: at(p.input_mtok, start) ?? 0,
      output_cost_per_million: at(p.output_mtok, start) ?? 0,
      ...optional('cache_read_cost_per_million', at(p.cache_read_mtok, start)),
      ...optional('cache_write_cost_per_million', at(p.cache_write_mtok, start)),
      ...optional('cache_write_1h_cost_per_million', at(p.cache_write_1h_mtok, start)),
    }));
}
