/**
 * Strict mode's estimate of what a call may cost, before it is made: an upper bound for text.
 *  - input: the request body's size in bytes. Every BPE token of a text covers at least one
 *    byte, and the JSON around the text (quotes, keys) outweighs the few tokens a chat template
 *    adds, so text prompts never tokenize to more. Images, audio and files can: their tokens
 *    are not bounded by their bytes, and what they cost beyond the estimate is the overshoot.
 *  - output: the largest of `max_tokens`, `max_completion_tokens` and `max_output_tokens` (else the
 *    configured default, TOLLGATE_STRICT_DEFAULT_MAX_TOKENS) times `n` times `best_of`: OpenAI
 *    generates `best_of` candidates and returns `n` of them, but an upstream may read them otherwise
 *    (one `n` per candidate), and an upper bound must hold for every reading; none for embeddings. Limits out of range never get here: they are a 400 (lib/llm/request).
 *    A strict call naming no limit is sent the default (withOutputLimit), so the upstream is held
 *    to it. An image: the larger of the limit and OpenAI's tokens for the quality and size asked
 *    (imageBound; neither asked: `auto`, the dearest), plus its partial images; a form's `n` counts as a JSON body's.
 *  - web searches (billed per search): at most what the request's web search tools allow, their
 *    `max_uses` (Anthropic) or the call's `max_tool_calls` (the Responses API); a search tool with
 *    neither has no bound, and a strict call carrying one is refused (webSearchBound); plus the
 *    one search of a chat call with `web_search_options` (askedSearches).
 *  - file search calls (billed per call, the Responses API's `file_search` tool): at most the
 *    call's `max_tool_calls`; a file search tool without it has no bound, and a strict call
 *    carrying one is refused (fileSearchBound).
 *  - the image generation tool's tokens (billed at its image model's prices): not bounded, and a
 *    strict call carrying the tool is refused (imageGenerationTool).
 *  - code interpreter sessions (billed per container, the Responses API's `code_interpreter` tool):
 *    one container of its `memory_limit` for each tool whose container is made for the call
 *    (codeInterpreterBound); one it names by id was made (and billed) before.
 */
import { type PricedServiceTier, type Prices, serviceTierPrices, type Usage } from '../domain/cost.js';
import { isObject } from '../domain/json.js';
import type { ModelRecord } from '../domain/records.js';
import { InvalidRequestError } from '../errors.js';
import { takesStreamOptions } from '../providers/azure.js';
import { servedByOpenAiOrAzure } from '../providers/tool-prices.js';
// A count of tool uses is read as the usage reader reads a token count: a non-negative safe integer.
import { tokens } from '../providers/usage.js';
import { imageOutputTokens, inImageTable, PARTIAL_IMAGE_TOKENS } from './count.js';
import { formField, type LlmRequest, OUTPUT_LIMIT_FIELDS, toolsOfType } from './request.js';

const positiveInt = (v: unknown): number | undefined => (typeof v === 'number' && Number.isSafeInteger(v) && v > 0 ? v : undefined);

/** Estimates made, by request body: a strict call with rate limits asks twice (admission, then reservation). */
const made = new WeakMap<
  LlmRequest['body'],
  { generates: boolean | undefined; hosted: boolean | undefined; defaultMaxTokens: number; usage: Readonly<Usage> }
>();

export function estimateUsage(req: Pick<LlmRequest, 'body' | 'route'>, defaultMaxTokens: number): Readonly<Usage> {
  const seen = made.get(req.body);
  const { generates, runsHostedTools: hosted } = req.route;
  if (seen && seen.generates === generates && seen.hosted === hosted && seen.defaultMaxTokens === defaultMaxTokens) return seen.usage;
  const usage = Object.freeze(estimate(req, defaultMaxTokens));
  made.set(req.body, { generates, hosted, defaultMaxTokens, usage });
  return usage;
}

function estimate(req: Pick<LlmRequest, 'body' | 'route'>, defaultMaxTokens: number): Usage {
  const inputTokens = bodyBytes(req.body);
  if (req.route.generates === false) return { inputTokens, outputTokens: 0 };
  const json = req.body.kind === 'json' ? req.body.value : undefined;
  const field = (name: string) => fieldOf(req.body, name);
  const searches = webSearchBound(json);
  const fileSearches = req.route.runsHostedTools === true ? fileSearchBound(json) : 0;
  const sessions = req.route.runsHostedTools === true ? codeInterpreterBound(json) : 0;
  // An upper bound: the largest of every output limit given (an upstream may honour any of them),
  // times every choice it may generate (`n` answers of `best_of` candidates each, at most).
  const limits = OUTPUT_LIMIT_FIELDS.map((f) => positiveInt(json?.[f])).filter((v): v is number => v !== undefined);
  const limit = limits.length > 0 ? Math.max(...limits) : defaultMaxTokens;
  // A form's too (an image edit's `n`): found by review, ten images were held, and charged, as one.
  const choices = (positiveInt(field('n')) ?? 1) * (positiveInt(field('best_of')) ?? 1);
  const perChoice = req.route.outputNotText === 'image' ? imageBound(field, limit) : limit;
  return {
    inputTokens,
    outputTokens: perChoice * choices,
    ...(typeof searches === 'number' && searches > 0 ? { webSearches: searches * choices } : {}),
    ...(typeof fileSearches === 'number' && fileSearches > 0 ? { fileSearches: fileSearches * choices } : {}),
    ...(sessions > 0 ? { codeInterpreterSessions: sessions } : {}),
  };
}

/** A field as the upstream reads it: a JSON body's value, a form's (formField: a whole number as one). */
function fieldOf(body: LlmRequest['body'], name: string): unknown {
  if (body.kind === 'json') return body.value[name];
  return body.kind === 'form' ? formField(body.value, name) : undefined;
}

/**
 * One image's output at most: the larger of the output limit and OpenAI's tokens for the quality
 * and size asked, where its gpt-image table prices them (`auto`: the dearest, 6,240 tokens; found
 * by review: a high-quality 1536x1024 image was held at 4,096 and made 6,208), plus 100 tokens a
 * partial image. Neither given (or null) is `auto`, the gpt-image models' default, so the dearest
 * too (found by review: held at 4,096, it could make 6,240). A quality or size of another model's
 * (dall-e's `hd`, `1792x1024`) is held at the limit.
 */
function imageBound(field: (name: string) => unknown, limit: number): number {
  const quality = field('quality');
  const size = field('size');
  const unsaid = (quality ?? null) === null && (size ?? null) === null;
  const made = unsaid || inImageTable(quality) || inImageTable(size) ? imageOutputTokens({ quality, size }) : 0;
  return Math.max(limit, made) + (positiveInt(field('partial_images')) ?? 0) * PARTIAL_IMAGE_TOKENS;
}

type OutputLimitField = (typeof OUTPUT_LIMIT_FIELDS)[number];
type LimitedModel = Pick<ModelRecord, 'provider' | 'upstream_base_url' | 'api_version'>;

/** The output limits a route's upstreams read: chat's two (OpenAI, Azure and compatible servers read both), one elsewhere. */
const ROUTE_LIMITS: Readonly<Record<string, readonly OutputLimitField[]>> = {
  '/chat/completions': ['max_tokens', 'max_completion_tokens'],
  '/completions': ['max_tokens'],
  '/messages': ['max_tokens'],
  '/responses': ['max_output_tokens'],
};

/**
 * The field a limit is sent in, where the request names none its route reads: chat's
 * `max_completion_tokens` on OpenAI and on Azure API versions that take it (their reasoning models
 * refuse `max_tokens`; Azure before 2024-09-01-preview refuses `max_completion_tokens`, found by
 * review) and `max_tokens` on every other upstream (compatible servers and Bedrock read it);
 * `max_tokens` for completions and Anthropic's messages; `max_output_tokens` for responses.
 * Undefined: the route has none (images, speech).
 */
export function outputLimitField(upstreamPath: string, model: LimitedModel): OutputLimitField | undefined {
  if (upstreamPath === '/chat/completions') {
    const takesIt = model.provider === 'azure' ? takesStreamOptions(model.api_version) : servedByOpenAiOrAzure(model);
    return takesIt ? 'max_completion_tokens' : 'max_tokens';
  }
  return ROUTE_LIMITS[upstreamPath]?.[0];
}

/**
 * The JSON body a strict call is sent with: one that names no limit its route reads is given the
 * estimate's (the largest limit it names in any field, else `limit`: TOLLGATE_STRICT_DEFAULT_MAX_TOKENS)
 * in its route's field, so the estimate bounds what the upstream generates. Found by review: a
 * call naming no limit held 4,096 output tokens and was answered 60,000; one naming
 * `max_output_tokens: 1` on chat, which a compatible server ignores, held 1. A body naming a limit
 * its route reads is sent as it is; so is every body when `limit` is undefined (fast calls).
 */
export function withOutputLimit(
  body: Record<string, unknown>,
  upstreamPath: string,
  model: LimitedModel,
  limit: number | undefined,
): Record<string, unknown> {
  const read = ROUTE_LIMITS[upstreamPath];
  if (limit === undefined || !read || read.some((f) => body[f] !== undefined && body[f] !== null)) return body;
  const field = outputLimitField(upstreamPath, model);
  if (!field) return body;
  const named = OUTPUT_LIMIT_FIELDS.map((f) => positiveInt(body[f])).filter((v): v is number => v !== undefined);
  return { ...body, [field]: named.length > 0 ? Math.max(...named) : limit };
}

/** A code interpreter container's size in 1 GB sessions, by its `memory_limit` (OpenAI's: 1 GB by default). */
const CONTAINER_GB: Readonly<Record<string, number>> = { '1g': 1, '4g': 4, '16g': 16, '64g': 64 };
/** The largest container: what one of a size no table knows may be (the upstream refuses it, or bills it so). */
const LARGEST_CONTAINER_GB = 64;

/** One code interpreter tool's container size in 1 GB sessions (its `container.memory_limit`), or 0 when it names a container made before. */
export function containerSessions(tool: Record<string, unknown>): number {
  const container = tool.container;
  if (typeof container === 'string') return 0;
  const limit = isObject(container) ? container.memory_limit : undefined;
  if (limit === undefined || limit === null) return 1;
  return typeof limit === 'string' && Object.hasOwn(CONTAINER_GB, limit) ? (CONTAINER_GB[limit] as number) : LARGEST_CONTAINER_GB;
}

/**
 * The most code interpreter sessions a Responses request's tools can start, in 1 GB sessions: one
 * container for each tool that has one made for the call (`{type: "auto"}`), of its size. OpenAI
 * bills a container when it is made, whatever runs in it while it lives.
 */
export const codeInterpreterBound = (json: Record<string, unknown> | undefined): number =>
  codeInterpreterTools(json).reduce((n, t) => n + containerSessions(t), 0);

/** A request's code interpreter tools. */
export const codeInterpreterTools = (json: Record<string, unknown> | undefined): Record<string, unknown>[] =>
  toolsOfType(json, 'code_interpreter');

/** A tool that runs web searches upstream, billed per search: Anthropic's `web_search_2025…`, OpenAI's `web_search`, `web_search_preview…`. */
const isWebSearchTool = (t: unknown): t is Record<string, unknown> =>
  isObject(t) && typeof t.type === 'string' && t.type.startsWith('web_search');

/**
 * The searches a request is billed whatever its answer shows: a chat completion with
 * `web_search_options` (OpenAI's search-preview models) is one web search call, billed per call
 * at the model's per-search price, as LiteLLM charges it; its answer reports no count.
 */
export const askedSearches = (json: Record<string, unknown> | undefined): number => (isObject(json?.web_search_options) ? 1 : 0);

/**
 * The most web searches a request's tools can run: the sum of their `max_uses` when each has one,
 * the call's `max_tool_calls` (it bounds every built-in tool call), the smaller of the two when
 * both bound it; 0 without a web search tool. An unbounded tool: `{ unbounded }`, its type and
 * the limit that would bound it.
 */
export function webSearchBound(json: Record<string, unknown> | undefined): number | { unbounded: string; why: string } {
  const asked = askedSearches(json);
  const tools = Array.isArray(json?.tools) ? json.tools.filter(isWebSearchTool) : [];
  if (tools.length === 0) return asked;
  const uses = tools.map((t) => tokens(t.max_uses));
  const byUses = uses.every((n) => n !== undefined) ? uses.reduce<number>((a, n) => a + (n as number), 0) : undefined;
  const byCalls = tokens(json?.max_tool_calls);
  const bounds = [byUses, byCalls].filter((n): n is number => n !== undefined);
  if (bounds.length > 0) return Math.min(...bounds) + asked;
  const tool = tools[uses.indexOf(undefined)] as Record<string, unknown>;
  return {
    // Named as given only when shaped like a tool type (`web_search_20250305`): never a key glued to it.
    unbounded: /^web_search[a-z0-9_]{0,30}$/.test(String(tool.type)) ? String(tool.type) : 'web_search',
    why: 'each use is billed, and nothing bounds how many it runs; give it `max_uses` (or the call `max_tool_calls` on /v1/responses)',
  };
}

/**
 * The most file search calls a Responses request's tools can run: 0 without a `file_search` tool
 * (OpenAI's hosted file search, `{type: "file_search", vector_store_ids}`, billed per call),
 * else the call's `max_tool_calls` (it bounds every built-in tool call). The tool has no bound of
 * its own: its `max_num_results` is the results one call returns, not how many calls run. So
 * without `max_tool_calls` it is unbounded (`{ unbounded }`), as a web search tool without
 * `max_uses` is: no default count is assumed for either, since a guess the upstream may pass is
 * no upper bound. Beside a web search tool, each is bounded by `max_tool_calls` alone: together
 * they hold more than the calls can cost (an over-reservation, never an under-one).
 */
export function fileSearchBound(json: Record<string, unknown> | undefined): number | { unbounded: string; why: string } {
  if (toolsOfType(json, 'file_search').length === 0) return 0;
  return (
    tokens(json?.max_tool_calls) ?? {
      unbounded: 'file_search',
      why: 'each call is billed, and nothing bounds how many it runs; give the call `max_tool_calls`',
    }
  );
}

/**
 * The Responses API's image generation tool, unbounded: its image model's tokens are billed apart
 * from the call's, and the request bounds none of them soundly. The output of one image depends on
 * its `size` and `quality`, both `auto` by default and read by the upstream, as are the images it
 * may take as input (edits: their tokens are not bounded by the body's bytes); `max_tool_calls`
 * bounds the calls, but not the partial images each may stream nor what a later image model's
 * table says. A guess the upstream may pass is no upper bound, so a strict caller is refused it.
 */
export function imageGenerationTool(json: Record<string, unknown> | undefined): { unbounded: string; why: string } | undefined {
  if (toolsOfType(json, 'image_generation').length === 0) return undefined;
  return {
    unbounded: 'image_generation',
    why: "its image model's tokens are billed apart from the call's, and the request bounds none of them (image sizes, qualities, input images)",
  };
}

/**
 * The first tool of a call that is billed per use and that nothing bounds (webSearchBound,
 * fileSearchBound, imageGenerationTool, or any a stored prompt brings): a strict caller is refused
 * it. Undefined when every such tool is bounded.
 */
export function unboundedServerTool(
  req: Pick<LlmRequest, 'body' | 'route'>,
): { unbounded: string; why: string; param?: string } | undefined {
  if (req.body.kind !== 'json') return undefined;
  // A stored prompt runs the tools stored with it, which the request does not show (found by
  // review: its image generation, file or web searches ran unbounded and unreserved).
  const prompt = req.body.value.prompt;
  if (req.route.runsHostedTools === true && prompt !== undefined && prompt !== null)
    return {
      unbounded: 'prompt',
      why: 'a stored prompt runs the tools stored with it (web and file searches, image generation), which the request does not show; send its instructions and tools in the request',
      param: 'prompt',
    };
  const searches = webSearchBound(req.body.value);
  if (typeof searches === 'object') return searches;
  const fileSearches = req.route.runsHostedTools === true ? fileSearchBound(req.body.value) : 0;
  if (typeof fileSearches === 'object') return fileSearches;
  return imageGenerationTool(req.body.value);
}

/**
 * Input the upstream keeps and bills that the request does not show: a Responses call continuing a
 * stored response (`previous_response_id`), a conversation (`conversation`) or naming stored items
 * (`item_reference` input items) is billed every stored turn as input, which the body's size does
 * not bound (found by review: a 100-byte body continuing a 120,000-token chain reserved $0.001 and
 * settled $0.24). A strict caller is refused it, as a stored `prompt` is; undefined: none.
 */
export function unboundedStoredInput(req: Pick<LlmRequest, 'body'>): { param: string; why: string } | undefined {
  if (req.body.kind !== 'json') return undefined;
  const body = req.body.value;
  const given = (v: unknown) => v !== undefined && v !== null && v !== '';
  if (given(body.previous_response_id))
    return { param: 'previous_response_id', why: 'it continues a stored response, whose every turn is billed as input' };
  if (given(body.conversation))
    return { param: 'conversation', why: 'it continues a stored conversation, whose every item is billed as input' };
  if (Array.isArray(body.input) && body.input.some((item) => isObject(item) && item.type === 'item_reference'))
    return { param: 'input', why: 'it names stored items (`item_reference`), billed as input' };
  return undefined;
}

function bodyBytes(body: LlmRequest['body']): number {
  switch (body.kind) {
    case 'none':
      return 0;
    case 'json':
      return Buffer.byteLength(JSON.stringify(body.value));
    case 'raw':
      return body.bytes.length;
    case 'form': {
      let n = 0;
      for (const [, v] of body.value) n += typeof v === 'string' ? Buffer.byteLength(v) : v.size;
      return n;
    }
  }
}

/**
 * The priced service tiers a call may be served at, beside the standard one (the strict bound
 * prices each): the one it asks for; asking none or `auto`, priority too, which a project's
 * default tier may be.
 */
export function reachableTiers(req: Pick<LlmRequest, 'body'>): PricedServiceTier[] {
  const asked = req.body.kind === 'json' ? req.body.value.service_tier : undefined;
  if (asked === 'flex') return ['flex'];
  if (asked === 'default') return [];
  return ['priority'];
}

/**
 * A call asking `service_tier: "priority"` of a model with no priority price is refused (400):
 * it would be served at priority and could only be charged the cheaper standard price.
 */
export function requirePricedTier(req: Pick<LlmRequest, 'body'>, model: Prices & { model_name: string }): void {
  if (req.body.kind !== 'json' || req.body.value.service_tier !== 'priority' || serviceTierPrices(model, 'priority')) return;
  throw new InvalidRequestError(
    `\`service_tier\`: model \`${model.model_name}\` has no priority price (\`input_cost_per_million_priority\` and \`output_cost_per_million_priority\`), so a priority call cannot be charged what it costs; ask \`default\` or \`auto\`, or have an admin set its priority prices`,
    'invalid_field',
    'service_tier',
  );
}
