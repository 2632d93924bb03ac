/**
 * What a call cost, exactly. Registry prices are dollars per 1M tokens; a cost is an integer
 * number of nano-dollars: tokens × price × 1000. Any price with up to three decimals per 1M
 * tokens (all published ones: $0.075, $2.50, $0.02) gives an integer, so per-call costs are
 * exact, their sums are exact, and the decimal written to DynamoDB (a decimal number type,
 * summed exactly by `ADD`) is exact too. Money never goes through a binary fraction on the way in.
 */
import type { ModelRecord, PriceTier } from './records.js';

export const NANOS_PER_DOLLAR = 1_000_000_000;

/** Tokens a call consumed, as the upstream reported them. */
export interface Usage {
  /** Input tokens at the input price: cache reads and writes are counted apart, never inside. */
  inputTokens: number;
  outputTokens: number;
  cacheReadTokens?: number;
  /** Every cache write, whatever its lifetime. */
  cacheWriteTokens?: number;
  /** Of `cacheWriteTokens`, those written for an hour (Anthropic's `ttl: "1h"`), priced apart. */
  cacheWrite1hTokens?: number;
  /**
   * Web searches the upstream ran for the call (Anthropic's `server_tool_use.web_search_requests`,
   * the Responses API's `web_search_call` items), each charged at the model's per-search price.
   */
  webSearches?: number;
  /**
   * File search calls the upstream ran for the call (the Responses API's `file_search_call` items),
   * each charged at the model's price per 1,000 calls.
   */
  fileSearches?: number;
  /**
   * Code interpreter sessions the call started (containers the Responses API's `code_interpreter`
   * tool made for it, each counted in GB: a 4 GB container is 4), charged at the model's price per session.
   */
  codeInterpreterSessions?: number;
  /**
   * Tokens of the image model the Responses API's `image_generation` tool ran (its
   * `tool_usage.image_gen`), which OpenAI reports apart from the call's own: priced at the tool
   * model's prices (ToolPrices), never at the call model's.
   */
  imageGen?: ToolTokens;
  /** The `service_tier` the upstream says served the call (`priority`, `flex`, `default`...), as it said it. */
  serviceTier?: string;
  /**
   * Of `inputTokens` and `outputTokens`, the audio tokens (OpenAI's `audio_tokens` details: audio
   * models, transcription, realtime), priced at the model's audio prices when it has them.
   */
  audioInputTokens?: number;
  audioOutputTokens?: number;
  /**
   * Of `inputTokens` and `outputTokens`, the image tokens (OpenAI's `image_tokens` details: the
   * gpt-image models, on the images routes and as the image generation tool), priced at the
   * model's image prices when it has them. Counted after the audio ones: the two never overlap.
   */
  imageInputTokens?: number;
  imageOutputTokens?: number;
  /** Of `cacheReadTokens`, the image ones (`cached_tokens_details.image_tokens`), at the model's cached image price when it has one. */
  cacheReadImageTokens?: number;
}

/** Tokens a hosted tool's own model ran (input excludes the cache reads, as Usage's does), with their image tokens. */
export interface ToolTokens {
  inputTokens: number;
  cacheReadTokens?: number;
  outputTokens: number;
  imageInputTokens?: number;
  imageOutputTokens?: number;
}

/**
 * The prices of the models a call's hosted tools run, apart from the call model's: the
 * `image_generation` tool's model (the registry record its `model` names, by default gpt-image-1).
 * Absent: the path does not know it (recordSpend logs and counts the tokens left uncharged).
 */
export interface ToolPrices {
  imageGen?: Prices | undefined;
}

/** The service tiers with prices of their own. */
export const PRICED_SERVICE_TIERS = ['priority', 'flex'] as const;
export type PricedServiceTier = (typeof PRICED_SERVICE_TIERS)[number];

/** A model's prices per priced tier, in the registry's names (LiteLLM's `input_cost_per_token_priority` per 1M). */
export const TIER_PRICE_FIELDS = [
  'input_cost_per_million_priority',
  'output_cost_per_million_priority',
  'cache_read_cost_per_million_priority',
  'input_cost_per_million_flex',
  'output_cost_per_million_flex',
  'cache_read_cost_per_million_flex',
] as const satisfies readonly `${string}_${PricedServiceTier}`[];

export type Prices = Pick<ModelRecord, 'input_cost_per_million' | 'output_cost_per_million'> &
  Partial<
    Pick<
      ModelRecord,
      | 'cache_read_cost_per_million'
      | 'cache_write_cost_per_million'
      | 'cache_write_1h_cost_per_million'
      | 'price_tiers'
      | 'search_context_cost_per_query'
      | 'file_search_cost_per_1k_calls'
      | 'code_interpreter_cost_per_session'
      | 'input_audio_cost_per_million'
      | 'output_audio_cost_per_million'
      | 'input_image_cost_per_million'
      | 'output_image_cost_per_million'
      | 'cache_read_image_cost_per_million'
      | `${'input' | 'output' | 'cache_read'}_cost_per_million_${PricedServiceTier}`
    >
  >;

/** Every input token of a call, cache reads and writes included (as long-context tiers and tpm count them). */
export const allInputTokens = (u: Pick<Usage, 'inputTokens' | 'cacheReadTokens' | 'cacheWriteTokens'>): number =>
  u.inputTokens + (u.cacheReadTokens ?? 0) + (u.cacheWriteTokens ?? 0);

/** A price must be a finite number >= 0; anything else would make spend move backwards or vanish. */
export const isValidPrice = (p: unknown): p is number => typeof p === 'number' && Number.isFinite(p) && p >= 0;

/**
 * The most one call can cost, in nano-dollars (about $9M): the largest integer doubles hold
 * exactly. A larger product (absurd usage or prices) is capped here, never an error that would
 * leave the call unrecorded.
 */
export const MAX_COST_NANOS = Number.MAX_SAFE_INTEGER;

/**
 * The call's cost in nano-dollars (an integer, at most MAX_COST_NANOS): its tokens at the prices
 * of the service tier that served it (chargedServiceTier), its web searches at the per-search price,
 * its file search calls at the price per 1,000 calls, its code interpreter sessions at the price
 * per session, its image generation tool's tokens at that
 * tool model's prices (`tools.imageGen`; unknown: not charged, and never at the call model's).
 */
export function costNanos(usage: Usage, base: Prices, tools: ToolPrices = {}): number {
  const tier = chargedServiceTier(usage, base);
  const standard = tokenNanos(usage, pricesForCall(base, usage));
  // A priority call is never charged below the standard price (a long-context tier may be dearer).
  const tokens =
    tier === 'default'
      ? standard
      : Math.max(tier === 'priority' ? standard : 0, tokenNanos(usage, serviceTierPrices(base, tier) as Prices));
  return capped(tokens + toolNanos(usage, base) + imageGenNanos(usage.imageGen, tools.imageGen));
}

/** The image generation tool's tokens at its model's standard prices (uncapped: the caller caps the sum). */
function imageGenNanos(used: ToolTokens | undefined, prices: Prices | undefined): number {
  if (!used || !prices) return 0;
  const usage: Usage = {
    inputTokens: used.inputTokens,
    outputTokens: used.outputTokens,
    cacheReadTokens: used.cacheReadTokens ?? 0,
    ...(used.imageInputTokens ? { imageInputTokens: used.imageInputTokens } : {}),
    ...(used.imageOutputTokens ? { imageOutputTokens: used.imageOutputTokens } : {}),
  };
  return tokenNanos(usage, pricesForCall(prices, usage));
}

/**
 * The tier whose prices a call is charged at: the one the upstream reports when the model has
 * prices for it, else `default` (standard prices: for flex the dearer, for an unpriced priority
 * the only price there is; the spend log then shows the reported and the charged tier apart).
 */
export function chargedServiceTier(usage: Pick<Usage, 'serviceTier'>, prices: Prices): PricedServiceTier | 'default' {
  const tier = PRICED_SERVICE_TIERS.find((t) => t === usage.serviceTier);
  return tier && serviceTierPrices(prices, tier) ? tier : 'default';
}

/** A model's prices at a service tier; undefined when it lacks the tier's input or output price. */
export function serviceTierPrices(prices: Prices, tier: PricedServiceTier): Prices | undefined {
  const input = prices[`input_cost_per_million_${tier}`];
  const output = prices[`output_cost_per_million_${tier}`];
  if (!isValidPrice(input) || !isValidPrice(output)) return undefined;
  return {
    input_cost_per_million: input,
    output_cost_per_million: output,
    // A cached read without its tier's price is charged at the tier's input price, never below it.
    cache_read_cost_per_million: validOr(prices[`cache_read_cost_per_million_${tier}`], input),
    ...(prices.cache_write_cost_per_million !== undefined ? { cache_write_cost_per_million: prices.cache_write_cost_per_million } : {}),
    ...(prices.cache_write_1h_cost_per_million !== undefined
      ? { cache_write_1h_cost_per_million: prices.cache_write_1h_cost_per_million }
      : {}),
    ...mediaPrices(prices),
  };
}

/** The prices of a model's audio and image tokens. */
const MEDIA_PRICES = [
  'input_audio_cost_per_million',
  'output_audio_cost_per_million',
  'input_image_cost_per_million',
  'output_image_cost_per_million',
  'cache_read_image_cost_per_million',
] as const satisfies readonly (keyof Prices)[];

/** A model's audio and image prices, which its service and long-context tiers keep (they have none of their own). */
const mediaPrices = (p: Prices): Pick<Prices, (typeof MEDIA_PRICES)[number]> =>
  Object.fromEntries(MEDIA_PRICES.flatMap((f) => (p[f] !== undefined ? [[f, p[f]]] : [])));

/** A call's tokens at one set of prices, in nano-dollars (uncapped). */
function tokenNanos(usage: Usage, prices: Prices): number {
  // A cache read or write without its own price is charged at the input price, never at zero;
  // an hour's write without its own price at the write price.
  const input = prices.input_cost_per_million;
  const output = prices.output_cost_per_million;
  const write = validOr(prices.cache_write_cost_per_million, input);
  const writes = usage.cacheWriteTokens ?? 0;
  const hour = Math.min(usage.cacheWrite1hTokens ?? 0, writes);
  // Audio tokens at the audio prices; without one, at the text price (found by review: audio
  // was always charged at the text price, a sixth of gpt-audio's).
  const audioIn = Math.min(usage.audioInputTokens ?? 0, usage.inputTokens);
  const audioOut = Math.min(usage.audioOutputTokens ?? 0, usage.outputTokens);
  // Image tokens at the image prices, likewise (found by review: gpt-image-1 edits were charged
  // their input images at the text price, half of it; gpt-image-1.5 its images at under a third).
  const imageIn = Math.min(usage.imageInputTokens ?? 0, usage.inputTokens - audioIn);
  const imageOut = Math.min(usage.imageOutputTokens ?? 0, usage.outputTokens - audioOut);
  const reads = usage.cacheReadTokens ?? 0;
  const read = validOr(prices.cache_read_cost_per_million, input);
  const imageReads = Math.min(usage.cacheReadImageTokens ?? 0, reads);
  // Rounded once, for the whole: rounded part by part, a call split into more parts (cache,
  // audio, images) could cost a nano-dollar or two above strict mode's bound (found by review).
  const nanos =
    nanosFor(usage.inputTokens - audioIn - imageIn, input) +
    nanosFor(audioIn, validOr(prices.input_audio_cost_per_million, input)) +
    nanosFor(imageIn, validOr(prices.input_image_cost_per_million, input)) +
    nanosFor(usage.outputTokens - audioOut - imageOut, output) +
    nanosFor(audioOut, validOr(prices.output_audio_cost_per_million, output)) +
    nanosFor(imageOut, validOr(prices.output_image_cost_per_million, output)) +
    nanosFor(reads - imageReads, read) +
    nanosFor(imageReads, validOr(prices.cache_read_image_cost_per_million, read)) +
    nanosFor(writes - hour, write) +
    nanosFor(hour, validOr(prices.cache_write_1h_cost_per_million, write));
  return Math.round(nanos);
}

const capped = (nanos: number): number => (Number.isFinite(nanos) ? Math.min(nanos, MAX_COST_NANOS) : MAX_COST_NANOS);

/** Uses of a tool (web searches, code interpreter sessions) at a price in dollars each (no price: nothing to charge; recordSpend logs and counts them). */
const perUseNanos = (uses: number, perUse: number | undefined): number =>
  uses > 0 && isValidPrice(perUse) ? Math.round(uses * perUse * NANOS_PER_DOLLAR) : 0;

/**
 * File search calls at a price in dollars per 1,000 calls, exact to the nano-dollar for a price
 * of up to six decimals (no price: nothing to charge; recordSpend logs and counts them).
 */
const fileSearchNanos = (calls: number, perThousand: number | undefined): number =>
  calls > 0 && isValidPrice(perThousand) ? Math.round(calls * perThousand * (NANOS_PER_DOLLAR / 1000)) : 0;

/** The hosted tools a call ran, at their per-call prices (uncapped: the caller caps the sum). */
const toolNanos = (usage: Pick<Usage, 'webSearches' | 'fileSearches' | 'codeInterpreterSessions'>, base: Prices): number =>
  perUseNanos(usage.webSearches ?? 0, base.search_context_cost_per_query) +
  fileSearchNanos(usage.fileSearches ?? 0, base.file_search_cost_per_1k_calls) +
  perUseNanos(usage.codeInterpreterSessions ?? 0, base.code_interpreter_cost_per_session);

/**
 * The prices a call is charged at: its long-context tier when its input tokens (cache reads and
 * writes included, as Anthropic counts them) pass the tier's threshold, the whole call at that
 * tier; else the base prices (a tier without a 1-hour write price: tierPrices).
 */
export function pricesForCall(prices: Prices, usage: Usage): Prices {
  const input = allInputTokens(usage);
  let tier: PriceTier | undefined;
  for (const t of prices.price_tiers ?? [])
    if (input > t.above_input_tokens && (!tier || t.above_input_tokens > tier.above_input_tokens)) tier = t;
  return tier ? tierPrices(prices, tier) : prices;
}

/**
 * A tier's prices as a call is charged them. A tier stored without a 1-hour write price while its
 * model has one (tiers read from the price library before they carried it) takes the model's
 * ratio of 1-hour to 5-minute writes (Anthropic: 2x and 1.25x input), never the cheaper 5-minute price.
 */
function tierPrices(base: Prices, tier: PriceTier): Prices {
  const { above_input_tokens: _, ...own } = tier;
  const prices: Prices = { ...own, ...mediaPrices(base) };
  if (isValidPrice(prices.cache_write_1h_cost_per_million) || !isValidPrice(base.cache_write_1h_cost_per_million)) return prices;
  const baseWrite = validOr(base.cache_write_cost_per_million, base.input_cost_per_million);
  if (!(baseWrite > 0)) return prices;
  const write = validOr(prices.cache_write_cost_per_million, prices.input_cost_per_million);
  return { ...prices, cache_write_1h_cost_per_million: (write * base.cache_write_1h_cost_per_million) / baseWrite };
}

/**
 * The most a call can cost whose input is at most `usage.inputTokens` tokens of any kind and whose
 * output is at most `usage.outputTokens`: strict mode's reservation, an upper bound. The input is
 * priced at the dearest price an input token can have (plain, cache read, cache write, 1-hour
 * write, audio, image), the output at the dearest of text, audio and image, and at every price set such a call can reach (the base, each tier its input passes):
 * pricing the bound at the plain input and base price let a call of cache writes or one past a
 * tier settle above what it reserved.
 */
export function maxCostNanos(
  usage: Pick<Usage, 'inputTokens' | 'outputTokens' | 'webSearches' | 'fileSearches' | 'codeInterpreterSessions'>,
  base: Prices,
  /** The service tiers the call may be served at (beside the standard one): each with prices is priced too. */
  serviceTiers: readonly PricedServiceTier[] = [],
): number {
  let most = 0;
  const tiers = (base.price_tiers ?? []).filter((t) => usage.inputTokens > t.above_input_tokens).map((t) => tierPrices(base, t));
  const served = serviceTiers.flatMap((t) => serviceTierPrices(base, t) ?? []);
  for (const prices of [base, ...tiers, ...served]) {
    const input = prices.input_cost_per_million;
    const write = validOr(prices.cache_write_cost_per_million, input);
    const dearest = Math.max(
      input,
      validOr(prices.cache_read_cost_per_million, input),
      write,
      validOr(prices.cache_write_1h_cost_per_million, write),
      validOr(prices.input_audio_cost_per_million, input),
      validOr(prices.input_image_cost_per_million, input),
      validOr(prices.cache_read_image_cost_per_million, 0),
    );
    const output = Math.max(
      prices.output_cost_per_million,
      validOr(prices.output_audio_cost_per_million, 0),
      validOr(prices.output_image_cost_per_million, 0),
    );
    const nanos = Math.round(nanosFor(usage.inputTokens, dearest) + nanosFor(usage.outputTokens, output));
    most = Math.max(most, Number.isFinite(nanos) ? nanos : MAX_COST_NANOS);
  }
  // At most `webSearches` searches (a web search tool's `max_uses`), each at the per-search price,
  // `fileSearches` file search calls (the call's `max_tool_calls`), each at its per-call price, and
  // the code interpreter sessions its tools can start, each at the per-session price.
  return capped(most + toolNanos(usage, base));
}

const validOr = (price: number | undefined, fallback: number): number => (isValidPrice(price) ? price : fallback);

// Unrounded nano-dollars: each sum of them is rounded once (rounding bites only for prices with
// more than three decimals, and then by at most 0.5 n$ a call).
const nanosFor = (tokens: number, pricePerMillion: number): number => tokens * pricePerMillion * 1000;

/**
 * Nano-dollars as an exact decimal string of dollars: 1250 -> "0.00000125", 2_000_000_000 -> "2".
 * A number must be a safe integer; a BigInt (a batch's sum, lib/store/counter-ledger) may be any.
 */
export function nanosToDecimal(nanos: number | bigint): string {
  if (typeof nanos === 'number' && !Number.isSafeInteger(nanos)) throw new RangeError('nano-dollar amounts must be safe integers');
  const n = BigInt(nanos);
  const sign = n < 0n ? '-' : '';
  const abs = n < 0n ? -n : n;
  const per = BigInt(NANOS_PER_DOLLAR);
  const frac = String(abs % per)
    .padStart(9, '0')
    .replace(/0+$/, '');
  return `${sign}${abs / per}${frac ? `.${frac}` : ''}`;
}

/** Dollars as nano-dollars (for comparing stored spend with summed costs). */
export const dollarsToNanos = (dollars: number): number => Math.round(dollars * NANOS_PER_DOLLAR);
