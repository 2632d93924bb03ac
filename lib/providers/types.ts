/**
 * The provider layer: one interface behind which every upstream kind sits. A provider takes the
 * caller's request as the route defines it (OpenAI chat or embeddings, Anthropic messages), the
 * model's registry record and the clients it may use, and returns the answer in the route's own
 * shape (JSON, or server-sent events ready to write) with the usage it metered. It throws only
 * TollgateErrors; a stream that breaks after it started ends with an error event in the route's
 * shape instead.
 *
 * Usage is split the way prices are: `inputTokens` are the input tokens charged at the input
 * price, cache reads and writes are counted apart (never inside `inputTokens`), so a call costs
 * input x input price + cache reads x read price + cache writes x write price + output x output
 * price. OpenAI's `prompt_tokens` (which include cached tokens) are split on the way in.
 */

import type { ToolTokens } from '../domain/cost.js';
import type { BedrockRuntime } from './bedrock/client.js';
import type { FetchLike } from './http.js';

/** The upstream kinds, as LiteLLM prefixes them in `litellm_params.model` (`bedrock/...`, `azure/...`). */
export type ProviderName = 'openai' | 'azure' | 'bedrock' | 'anthropic';

/** The registry record's fields a provider reads (a subset of the model record, plus the per-provider settings). */
export interface ProviderModel {
  /** Public name (errors, the `model` of a translated answer). */
  model_name: string;
  provider: ProviderName;
  /** The upstream's id: OpenAI model, Azure deployment, Bedrock model id/inference profile/ARN, Anthropic model. */
  upstream_model: string;
  /** OpenAI-compatible base URL (with `/v1`), Azure `api_base`, Anthropic base (default https://api.anthropic.com). */
  upstream_base_url?: string | null;
  /** Azure `api_version`. */
  api_version?: string | null;
  /** Bedrock `aws_region_name`. */
  aws_region_name?: string | null;
}

export interface TokenUsage {
  /** Input tokens at the input price: cache reads and writes excluded. */
  inputTokens: number;
  outputTokens: number;
  cacheReadTokens: number;
  /** Every cache write, whatever its lifetime. */
  cacheWriteTokens: number;
  /** Of `cacheWriteTokens`, those written for an hour (Anthropic's `cache_creation.ephemeral_1h_input_tokens`). */
  cacheWrite1hTokens?: number;
  /** Web searches run upstream (Anthropic's `server_tool_use.web_search_requests`, Responses `web_search_call` items). */
  webSearches?: number;
  /** File search calls run upstream (the Responses API's `file_search_call` items). */
  fileSearches?: number;
  /** The Responses API's image generation tool's own tokens (`tool_usage.image_gen`), priced at its model's prices. */
  imageGen?: ToolTokens;
  /** The `service_tier` the answer reports (OpenAI's `priority`, `flex`, `default`...). */
  serviceTier?: string;
  /** Of the input and output tokens, the audio ones (OpenAI's `audio_tokens` details). */
  audioInputTokens?: number;
  audioOutputTokens?: number;
  /** Of the input and output tokens, the image ones (OpenAI's `image_tokens` details). */
  imageInputTokens?: number;
  imageOutputTokens?: number;
  /** Of the cache reads, the image ones (`cached_tokens_details.image_tokens`). */
  cacheReadImageTokens?: number;
}

/** What the route asks for, whatever the upstream speaks. */
export type Operation = 'chat' | 'embeddings' | 'messages' | 'responses';

export interface ProviderRequest {
  operation: Operation;
  /** The caller's JSON body, as parsed (untrusted: providers validate what they read). */
  body: Record<string, unknown>;
  model: ProviderModel;
  /** The upstream key (Azure, Anthropic, OpenAI-compatible); Bedrock uses the function's role. */
  apiKey?: string | undefined;
  /** Lowercase caller headers; only a provider's short allow-list is passed on (`anthropic-version`, ...). */
  callerHeaders?: ReadonlyMap<string, readonly string[]>;
  /** The request id: ids of translated answers derive from it. */
  requestId: string;
  /** When the call started (ms): `created` of translated answers. */
  now: number;
  /** Aborts the upstream call (the client went away). */
  signal?: AbortSignal | undefined;
  /** Ends the upstream call as timed out: the invocation's time limit is near (lib/llm/deadline). */
  endSignal?: AbortSignal | undefined;
  /**
   * Sees the JSON of each event of a streamed answer (undefined for `[DONE]` or what is not JSON)
   * as the provider parsed or made it, once, before the event goes out: what the answer made (an
   * Anthropic container), and the text to count should its usage be missing or cut short.
   */
  onPayload?: ((payload: unknown) => void) | undefined;
}

export interface JsonAnswer {
  kind: 'json';
  status: number;
  body: unknown;
  /** Undefined when the upstream reported none (an error answer, or a malformed one). */
  usage: TokenUsage | undefined;
  headers: Record<string, string>;
}

export interface StreamAnswer {
  kind: 'stream';
  status: number;
  headers: Record<string, string>;
  /** Complete server-sent events, each ending with its blank line, in the route's shape. */
  events: AsyncIterable<string>;
  /** The usage seen so far; final once `events` is done. */
  usage(): TokenUsage | undefined;
  /**
   * The stream broke off (cut, stalled, an error in it) and ended with an error event: the usage
   * seen so far may be short of what was sent (Anthropic reports the output in its last event).
   */
  broken(): boolean;
  /**
   * The upstream's own error event came before any of the answer (Anthropic's `event: error`
   * after its 200, a Bedrock exception event, OpenAI's `{"error"}`): a refusal, which costs
   * nothing, as a refused JSON answer (found by review: charged the whole prompt, counted). A
   * stream Tollgate broke off (too large, stalled, cut) is never one.
   */
  refused(): boolean;
}

export type ProviderAnswer = JsonAnswer | StreamAnswer;

/** What a provider may use to reach its upstream; the wiring builds it from the configuration. */
export interface ProviderClients {
  fetch: FetchLike;
  /** A Bedrock runtime client for the model's `aws_region_name`, or the function's own region when it has none (the SDK is loaded on first use). */
  bedrock(region: string | undefined): Promise<BedrockRuntime>;
  /** Deadline for each silence of the upstream, ms (TOLLGATE_UPSTREAM_TIMEOUT_MS). */
  timeoutMs: number;
}

export interface Provider {
  readonly name: ProviderName;
  /** Whether this provider can serve the operation for this model (a 400 names it otherwise). */
  supports(operation: Operation, model: ProviderModel): boolean;
  call(request: ProviderRequest, clients: ProviderClients): Promise<ProviderAnswer>;
}
