/**
 * Token usage as upstreams report it, split the way prices are (see TokenUsage):
 *  - OpenAI (chat, completions, embeddings): `prompt_tokens` include `prompt_tokens_details.cached_tokens`;
 *  - OpenAI Responses: `input_tokens` include `input_tokens_details.cached_tokens`;
 *  - Anthropic: `input_tokens` exclude `cache_read_input_tokens` and `cache_creation_input_tokens`,
 *    of which `cache_creation.ephemeral_1h_input_tokens` were written for an hour (priced apart);
 *  - Bedrock Converse: `inputTokens` exclude `cacheReadInputTokens` and `cacheWriteInputTokens`.
 * Figures are read at the top level or under `response` / `message` (stream events). Beside tokens:
 *  - web searches: Anthropic's `server_tool_use.web_search_requests`; the Responses API's
 *    `tool_usage.web_search.num_requests`, else its `web_search_call` items that searched (each one
 *    search, as OpenAI bills them: opening a page is none);
 *  - file searches: the Responses API's `file_search_call` items in its `output` (each one call,
 *    as OpenAI bills the `file_search` tool);
 *  - the image generation tool's tokens: the Responses API's `tool_usage.image_gen` beside its
 *    `usage` (the tool's image model, billed apart from the call's model);
 *  - of the input and output, the audio and image tokens (`audio_tokens`, `image_tokens` details),
 *    priced at a model's audio and image prices;
 *  - the `service_tier` the answer reports (OpenAI chat and Responses, Azure), next to its usage
 *    (a stream's other events too: serviceTierOfPayload, which the relay reads).
 */

import type { ToolTokens } from '../domain/cost.js';
import { isObject } from '../domain/json.js';
import type { TokenUsage } from './types.js';

export const tokens = (v: unknown): number | undefined => (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? v : undefined);

export const ZERO_USAGE: TokenUsage = Object.freeze({ inputTokens: 0, outputTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 0 });

/** Figures a usage object may carry (OpenAI's, Anthropic's, and their details). */
const FIGURES = [
  'prompt_tokens',
  'input_tokens',
  'completion_tokens',
  'output_tokens',
  'cache_read_input_tokens',
  'cache_creation_input_tokens',
];

/** A figure given (not absent, not null) that is no token count: negative, fractional, a string, "NaN". */
export const badFigure = (v: unknown): boolean => v !== undefined && v !== null && tokens(v) === undefined;

/**
 * OpenAI's and Anthropic's usage objects, whichever this is; undefined when it holds no figure,
 * or when any figure it gives is not a token count (the call is then counted, not billed from a
 * usage that reads some of its figures as 0).
 */
export function usageFromObject(u: unknown): TokenUsage | undefined {
  if (!isObject(u)) return undefined;
  const detailed = [u.prompt_tokens_details, u.input_tokens_details, u.input_token_details].filter(isObject);
  const cachedDetails = detailed.map((d) => d.cached_tokens_details).filter(isObject);
  const outputDetailed = [u.completion_tokens_details, u.output_tokens_details, u.output_token_details].filter(isObject);
  const creation = isObject(u.cache_creation) ? u.cache_creation : undefined;
  const serverTools = isObject(u.server_tool_use) ? u.server_tool_use : undefined;
  if (
    FIGURES.some((f) => badFigure(u[f])) ||
    detailed.some((d) => badFigure(d.cached_tokens)) ||
    // The audio and image parts set prices too (found by review: an image count of "NaN" read as
    // none, and an edit's images were charged at the text price).
    [...detailed, ...cachedDetails, ...outputDetailed].some((d) => badFigure(d.audio_tokens) || badFigure(d.image_tokens)) ||
    badFigure(creation?.ephemeral_1h_input_tokens) ||
    badFigure(serverTools?.web_search_requests)
  )
    return undefined;
  const searches = tokens(serverTools?.web_search_requests) ?? 0;
  const withSearches = (t: TokenUsage): TokenUsage => (searches > 0 ? { ...t, webSearches: searches } : t);
  const prompt = tokens(u.prompt_tokens);
  const input = tokens(u.input_tokens);
  const output = tokens(u.completion_tokens) ?? tokens(u.output_tokens);
  const cacheRead = tokens(u.cache_read_input_tokens);
  const cacheWrite = tokens(u.cache_creation_input_tokens);
  if (prompt === undefined && input === undefined && output === undefined && cacheRead === undefined && cacheWrite === undefined)
    return undefined;
  if (prompt === undefined && (cacheRead !== undefined || cacheWrite !== undefined)) {
    // Anthropic's shape: input excludes the cache figures.
    const writes = cacheWrite ?? 0;
    const hour = Math.min(tokens(creation?.ephemeral_1h_input_tokens) ?? 0, writes);
    return withSearches({
      inputTokens: input ?? 0,
      outputTokens: output ?? 0,
      cacheReadTokens: cacheRead ?? 0,
      cacheWriteTokens: writes,
      ...(hour > 0 ? { cacheWrite1hTokens: hour } : {}),
    });
  }
  // OpenAI's shapes: the total input includes what was read from (and, LiteLLM-style, written to) the cache.
  const total = prompt ?? input ?? 0;
  // Transcription and realtime usage names it `input_token_details`.
  const details = [u.prompt_tokens_details, u.input_tokens_details, u.input_token_details].find(isObject);
  const read = Math.min(tokens(details?.cached_tokens) ?? cacheRead ?? 0, total);
  const written = Math.min(cacheWrite ?? 0, total - read);
  const outputs = outputWithReasoning(u, output, total);
  return withSearches({
    inputTokens: total - read - written,
    outputTokens: outputs,
    cacheReadTokens: read,
    cacheWriteTokens: written,
    ...media(mediaOf('audio', details, outputDetails(u), total - read - written, outputs)),
    ...media(mediaOf('image', details, outputDetails(u), total - read - written, outputs)),
    ...media({
      // Of the cache reads, the image ones (at most the reads): priced apart.
      cacheReadImageTokens: isObject(details?.cached_tokens_details)
        ? Math.min(tokens(details.cached_tokens_details.image_tokens) ?? 0, read)
        : 0,
    }),
  });
}

/** The details of an OpenAI-shaped usage's output: `completion_tokens_details` (chat) or `output_tokens_details` (Responses). */
const outputDetails = (u: Record<string, unknown>): Record<string, unknown> | undefined =>
  [u.completion_tokens_details, u.output_tokens_details, u.output_token_details].find(isObject);

/**
 * The audio or image tokens among the (uncached) input and the output (`audio_tokens`,
 * `image_tokens` details), each at most that many. Those read from the cache are cached input,
 * priced as such (realtime's `cached_tokens_details`).
 */
function mediaOf(
  kind: 'audio' | 'image',
  input: Record<string, unknown> | undefined,
  output: Record<string, unknown> | undefined,
  inputTokens: number,
  outputTokens: number,
): Partial<Record<MediaFigure, number>> {
  const field = `${kind}_tokens`;
  const cached = isObject(input?.cached_tokens_details) ? (tokens(input.cached_tokens_details[field]) ?? 0) : 0;
  return {
    [`${kind}InputTokens`]: Math.min(Math.max(0, (tokens(input?.[field]) ?? 0) - cached), inputTokens),
    [`${kind}OutputTokens`]: Math.min(tokens(output?.[field]) ?? 0, outputTokens),
  };
}

/**
 * The output tokens of an OpenAI-shaped usage, reasoning included. OpenAI counts reasoning inside
 * `completion_tokens`; some compatible upstreams leave it out, reporting it only in
 * `completion_tokens_details.reasoning_tokens` or only in `total_tokens` (found by review: a Gemini
 * gateway's `{prompt_tokens: 21, completion_tokens: 0, total_tokens: 81, reasoning_tokens: 60}`
 * was charged no output, and `{prompt_tokens: 20, completion_tokens: 151, total_tokens: 553}` 151
 * of its 533). So the output is the largest of: the output given; that plus the reasoning, when
 * the reasoning is larger (it was left out); and the total less the input. Figures that are not
 * token counts are ignored here.
 */
function outputWithReasoning(u: Record<string, unknown>, output: number | undefined, input: number): number {
  const reasoning = tokens(outputDetails(u)?.reasoning_tokens) ?? 0;
  const given = output ?? 0;
  const withReasoning = reasoning > given ? given + reasoning : given;
  // No total stands for output beside a cache figure (found by review: a gateway's total of
  // Anthropic usage counts cache reads, which are input).
  const cached = u.cache_read_input_tokens !== undefined || u.cache_creation_input_tokens !== undefined;
  // Nor without an input figure beside it (found by review: `{completion_tokens: 5, total_tokens:
  // 105}` charged the whole total as output), unless no output figure is given either.
  const inputGiven = tokens(u.prompt_tokens) !== undefined || tokens(u.input_tokens) !== undefined;
  const total = cached || (output !== undefined && !inputGiven) ? 0 : (tokens(u.total_tokens) ?? 0);
  return Math.max(withReasoning, total - input);
}

/** A chat stream's usage-only chunk (`choices: []`), which a client that did not ask for it never sees. */
export const isUsageOnlyChunk = (p: unknown): boolean =>
  isObject(p) && Array.isArray(p.choices) && p.choices.length === 0 && isObject(p.usage);

/** The usage an answer or a stream event carries, with its web and file searches and service tier, or undefined. */
export function usageOfPayload(payload: unknown): TokenUsage | undefined {
  if (!isObject(payload)) return undefined;
  let found: TokenUsage | undefined;
  for (const holder of [payload, payload.response, payload.message]) {
    if (!isObject(holder)) continue;
    const u = usageFromObject(holder.usage);
    if (!u) continue;
    const searches = webSearchCalls(holder);
    const fileSearches = fileSearchCalls(holder.output);
    const tier = serviceTierOf(holder);
    const imageGen = isObject(holder.tool_usage) ? imageGenOf(holder.tool_usage.image_gen) : undefined;
    found = mergeUsage(found, {
      ...u,
      ...(searches > (u.webSearches ?? 0) ? { webSearches: searches } : {}),
      ...(fileSearches > (u.fileSearches ?? 0) ? { fileSearches } : {}),
      ...(imageGen ? { imageGen } : {}),
      ...(tier ? { serviceTier: tier } : {}),
    });
  }
  return found;
}

/**
 * The image generation tool's tokens (the Responses API's `tool_usage.image_gen`): `input_tokens`
 * include its `cached_tokens`, as the call's own do, split out to be priced as cache reads; of
 * the rest, the input images (`input_tokens_details.image_tokens`: an edit's) at the image input
 * price. Its output is the images it made, unless its details say how much is text.
 * Undefined when it counts none, or when a figure given is no token count: the figures are then
 * not trusted at all (as usageFromObject does), and the call is charged its own usage.
 */
function imageGenOf(u: unknown): ToolTokens | undefined {
  if (!isObject(u) || [u.input_tokens, u.output_tokens, u.cached_tokens].some(badFigure)) return undefined;
  const input = tokens(u.input_tokens) ?? 0;
  const output = tokens(u.output_tokens) ?? 0;
  const cached = Math.min(tokens(u.cached_tokens) ?? 0, input);
  if (input + output === 0) return undefined;
  const inDetails = isObject(u.input_tokens_details) ? u.input_tokens_details : undefined;
  const outDetails = isObject(u.output_tokens_details) ? u.output_tokens_details : undefined;
  // A split that is no token count is not trusted: all of that side is images, the dearer reading.
  const imagesIn = badFigure(inDetails?.image_tokens)
    ? input - cached
    : (mediaOf('image', inDetails, undefined, input - cached, 0).imageInputTokens ?? 0);
  const imagesOut =
    badFigure(outDetails?.image_tokens) || badFigure(outDetails?.text_tokens)
      ? output
      : Math.min(tokens(outDetails?.image_tokens) ?? Math.max(0, output - (tokens(outDetails?.text_tokens) ?? 0)), output);
  return imageTokens(input - cached, cached, output, imagesIn, imagesOut);
}

const imageTokens = (
  inputTokens: number,
  cacheReadTokens: number,
  outputTokens: number,
  imagesIn: number,
  imagesOut: number,
): ToolTokens => ({
  inputTokens,
  ...(cacheReadTokens > 0 ? { cacheReadTokens } : {}),
  outputTokens,
  ...media({ imageInputTokens: imagesIn, imageOutputTokens: imagesOut }),
});

/** Two image generation tool usages as `pick` joins each figure (the larger for stream events, the sum for separate calls). */
function joinImageGen(a: TokenUsage, b: TokenUsage, pick: (x: number, y: number) => number): Pick<TokenUsage, 'imageGen'> {
  const [x, y] = [a.imageGen, b.imageGen];
  if (!x || !y) {
    const one = x ?? y;
    return one ? { imageGen: one } : {};
  }
  return {
    imageGen: imageTokens(
      pick(x.inputTokens, y.inputTokens),
      pick(x.cacheReadTokens ?? 0, y.cacheReadTokens ?? 0),
      pick(x.outputTokens, y.outputTokens),
      pick(x.imageInputTokens ?? 0, y.imageInputTokens ?? 0),
      pick(x.imageOutputTokens ?? 0, y.imageOutputTokens ?? 0),
    ),
  };
}

/**
 * The `service_tier` an answer or event reports serving the call at: OpenAI beside the usage (on
 * every chat chunk, usage or not), Anthropic inside it; `auto` (a request's echo, not a tier) is none.
 */
function serviceTierOf(holder: Record<string, unknown>): string | undefined {
  const reported = holder.service_tier ?? (isObject(holder.usage) ? holder.usage.service_tier : undefined);
  return typeof reported === 'string' && reported.length > 0 && reported.length <= 32 && reported !== 'auto' ? reported : undefined;
}

/** The tier a payload reports, at the top level or under `response` / `message` (stream events). */
export function serviceTierOfPayload(payload: unknown): string | undefined {
  if (!isObject(payload)) return undefined;
  let tier: string | undefined;
  for (const holder of [payload, payload.response, payload.message]) if (isObject(holder)) tier = serviceTierOf(holder) ?? tier;
  return tier;
}

/**
 * One web search an answer shows: a Responses `web_search_call` item whose action is a search
 * (opening a page or finding in it is no billed search; an item not yet showing its action, as a
 * stream's first event of it, counts), or an Anthropic `server_tool_use` block named `web_search`
 * (what a stream cut before its usage is charged: lib/llm/count).
 */
export const isWebSearchItem = (v: unknown): boolean =>
  isObject(v) &&
  ((v.type === 'web_search_call' && (!isObject(v.action) || v.action.type === undefined || v.action.type === 'search')) ||
    (v.type === 'server_tool_use' && v.name === 'web_search'));

/**
 * The Responses API's billed web searches: `tool_usage.web_search.num_requests` when the answer
 * reports it (OpenAI's count of billable searches: discounted ones and page actions left out),
 * else its `web_search_call` output items that searched (one search each).
 */
function webSearchCalls(holder: Record<string, unknown>): number {
  const reported =
    isObject(holder.tool_usage) && isObject(holder.tool_usage.web_search) ? tokens(holder.tool_usage.web_search.num_requests) : undefined;
  if (reported !== undefined) return reported;
  return Array.isArray(holder.output) ? holder.output.filter(isWebSearchItem).length : 0;
}

/** The container a Responses `code_interpreter_call` item shows its code ran in, or undefined. */
export const containerOfItem = (v: unknown): string | undefined =>
  isObject(v) && v.type === 'code_interpreter_call' && typeof v.container_id === 'string' && v.container_id.length > 0
    ? v.container_id
    : undefined;

/** One file search call an answer shows: a Responses `file_search_call` item (the `file_search` tool's). */
export const isFileSearchItem = (v: unknown): boolean => isObject(v) && v.type === 'file_search_call';

/** The Responses API's file searches: its `file_search_call` output items (one call each). */
const fileSearchCalls = (output: unknown): number => (Array.isArray(output) ? output.filter(isFileSearchItem).length : 0);

/** Searches and tier of merged usage: the searches given (each the larger or the sum), the tier the later event reports. */
function extras(
  a: TokenUsage,
  b: TokenUsage,
  searches: number,
  fileSearches: number,
): Pick<TokenUsage, 'webSearches' | 'fileSearches' | 'serviceTier'> {
  const tier = b.serviceTier ?? a.serviceTier;
  return {
    ...(searches > 0 ? { webSearches: searches } : {}),
    ...(fileSearches > 0 ? { fileSearches } : {}),
    ...(tier ? { serviceTier: tier } : {}),
  };
}

/**
 * Usage seen across stream events. Upstreams report once at the end or as running totals
 * (Anthropic's message_start, then message_delta), so the largest figure per field is the total.
 */
export function mergeUsage(a: TokenUsage | undefined, b: TokenUsage | undefined): TokenUsage | undefined {
  if (!a) return b;
  if (!b) return a;
  const hour = Math.max(a.cacheWrite1hTokens ?? 0, b.cacheWrite1hTokens ?? 0);
  return {
    inputTokens: Math.max(a.inputTokens, b.inputTokens),
    outputTokens: Math.max(a.outputTokens, b.outputTokens),
    cacheReadTokens: Math.max(a.cacheReadTokens, b.cacheReadTokens),
    cacheWriteTokens: Math.max(a.cacheWriteTokens, b.cacheWriteTokens),
    ...(hour > 0 ? { cacheWrite1hTokens: hour } : {}),
    ...extras(a, b, Math.max(a.webSearches ?? 0, b.webSearches ?? 0), Math.max(a.fileSearches ?? 0, b.fileSearches ?? 0)),
    ...joinImageGen(a, b, Math.max),
    ...joinMedia(a, b, Math.max),
  };
}

/** Sums usage of separate calls (one InvokeModel per embedded text). */
export function addUsage(a: TokenUsage, b: TokenUsage): TokenUsage {
  const hour = (a.cacheWrite1hTokens ?? 0) + (b.cacheWrite1hTokens ?? 0);
  return {
    inputTokens: a.inputTokens + b.inputTokens,
    outputTokens: a.outputTokens + b.outputTokens,
    cacheReadTokens: a.cacheReadTokens + b.cacheReadTokens,
    cacheWriteTokens: a.cacheWriteTokens + b.cacheWriteTokens,
    ...(hour > 0 ? { cacheWrite1hTokens: hour } : {}),
    ...extras(a, b, (a.webSearches ?? 0) + (b.webSearches ?? 0), (a.fileSearches ?? 0) + (b.fileSearches ?? 0)),
    ...joinImageGen(a, b, (x, y) => x + y),
    ...joinMedia(a, b, (x, y) => x + y),
  };
}

/** The figures of a usage that split its tokens by kind (audio, images), each priced apart; absent when 0. */
export const MEDIA_FIGURES = [
  'audioInputTokens',
  'audioOutputTokens',
  'imageInputTokens',
  'imageOutputTokens',
  'cacheReadImageTokens',
] as const satisfies readonly (keyof TokenUsage)[];
type MediaFigure = (typeof MEDIA_FIGURES)[number];

/** The media figures given that are above 0 (a usage keeps none of 0). */
export const media = (figures: Partial<Record<MediaFigure, number>>): Partial<Record<MediaFigure, number>> =>
  Object.fromEntries(MEDIA_FIGURES.flatMap((f) => ((figures[f] ?? 0) > 0 ? [[f, figures[f]]] : [])));

/** Two usages' media figures as `pick` joins each (the larger for stream events, the sum for separate calls). */
const joinMedia = (a: TokenUsage, b: TokenUsage, pick: (x: number, y: number) => number): Partial<Record<MediaFigure, number>> =>
  media(Object.fromEntries(MEDIA_FIGURES.map((f) => [f, pick(a[f] ?? 0, b[f] ?? 0)])));

/** What an upstream billed before a call failed: the calls of a fan-out that succeeded (lib/providers/bedrock embeddings). */
const spentBeforeFailure = new WeakMap<object, TokenUsage>();

/**
 * Marks `error` (a call's failure) with the usage its upstream billed before it failed, so the
 * call is charged that usage though it answers an error (found by review: a Bedrock embedding of
 * many texts failing at one was charged $0, its other texts billed by AWS). Returns the error.
 */
export function withSpentUsage<E>(error: E, usage: TokenUsage): E {
  if (typeof error === 'object' && error !== null) spentBeforeFailure.set(error, usage);
  return error;
}

/** The usage a failure's upstream billed before it (withSpentUsage), or undefined. */
export const spentUsageOf = (error: unknown): TokenUsage | undefined =>
  typeof error === 'object' && error !== null ? spentBeforeFailure.get(error) : undefined;
