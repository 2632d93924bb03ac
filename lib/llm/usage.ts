/**
 * Token usage as upstreams report it, in every shape we pass through: `prompt_tokens` /
 * `completion_tokens` (chat, completions, embeddings), `input_tokens` / `output_tokens`
 * (responses, messages), at the top level or under `response` / `message` (stream events).
 * Cached input is split out (OpenAI's `prompt_tokens_details.cached_tokens`, the Responses API's
 * `input_tokens_details.cached_tokens`) and charged at the model's cache-read price, or at the
 * input price when it has none: lib/providers/usage reads every shape for both paths.
 */
import { allInputTokens, type Usage } from '../domain/cost.js';
import type { TokenUsage } from '../providers/types.js';
import { type MEDIA_FIGURES, media, usageOfPayload } from '../providers/usage.js';

/** The usage an answer (or a stream event) carries, or undefined. */
export const usageOf = (payload: unknown): Usage | undefined => compact(usageOfPayload(payload));

/** A provider's usage (lib/providers: every figure given) as a Usage (cache figures only when there are some). */
export const fromTokenUsage = (u: TokenUsage | undefined): Usage | undefined => compact(u);

/**
 * A broken-off call's usage from what the upstream reported so far and what was counted: the
 * larger of each. Counted input is the whole prompt, with no cache split, so it is compared with
 * the reported input of every kind, and only what it counts beyond that is added as plain input:
 * taken field by field, a prompt reported as cache writes was charged again as input (past a
 * long-context threshold, at the tier), above what the strict estimate had reserved. Web and file
 * searches: the larger of those reported and those the answer shows started; the image
 * generation tool's tokens: those reported, else (none reported yet) the images the answer showed.
 */
export function brokenUsage(reported: Usage | undefined, counted: Usage | undefined): Usage | undefined {
  if (!reported || !counted) return reported ?? counted;
  const reportedInput = allInputTokens(reported);
  const searches = Math.max(reported.webSearches ?? 0, counted.webSearches ?? 0);
  const fileSearches = Math.max(reported.fileSearches ?? 0, counted.fileSearches ?? 0);
  const tier = reported.serviceTier ?? counted.serviceTier;
  return {
    ...reported,
    ...(tier ? { serviceTier: tier } : {}),
    inputTokens: reported.inputTokens + Math.max(0, counted.inputTokens - reportedInput),
    outputTokens: Math.max(reported.outputTokens, counted.outputTokens),
    ...(searches > 0 ? { webSearches: searches } : {}),
    ...(fileSearches > 0 ? { fileSearches } : {}),
    ...(!reported.imageGen && counted.imageGen ? { imageGen: counted.imageGen } : {}),
  };
}

/**
 * Reported usage that can be charged: one that counts no token (its image generation tool's
 * included) and no search is none (an upstream answering text with `usage: {prompt_tokens: 0,
 * completion_tokens: 0}`, as some self-hosted and caching servers do), so the answer is counted
 * instead, never charged $0.
 */
export const usableUsage = (u: Usage | undefined): Usage | undefined =>
  u && allInputTokens(u) + u.outputTokens + (u.webSearches ?? 0) + (u.fileSearches ?? 0) + imageGenTokens(u) > 0 ? u : undefined;

/** Every token the image generation tool's model ran for a call (input, cache reads and output). */
export const imageGenTokens = (u: Pick<Usage, 'imageGen'> | undefined): number =>
  u?.imageGen ? u.imageGen.inputTokens + (u.imageGen.cacheReadTokens ?? 0) + u.imageGen.outputTokens : 0;

/** Cache figures, searches and a tier only when there are some (most calls have none). */
function compact(
  u:
    | (Required<Pick<Usage, 'inputTokens' | 'outputTokens' | 'cacheReadTokens' | 'cacheWriteTokens'>> &
        Pick<Usage, 'cacheWrite1hTokens' | 'webSearches' | 'fileSearches' | 'imageGen' | 'serviceTier' | (typeof MEDIA_FIGURES)[number]>)
    | undefined,
): Usage | undefined {
  if (!u) return undefined;
  return {
    inputTokens: u.inputTokens,
    outputTokens: u.outputTokens,
    ...(u.cacheReadTokens > 0 ? { cacheReadTokens: u.cacheReadTokens } : {}),
    ...(u.cacheWriteTokens > 0 ? { cacheWriteTokens: u.cacheWriteTokens } : {}),
    ...((u.cacheWrite1hTokens ?? 0) > 0 ? { cacheWrite1hTokens: u.cacheWrite1hTokens } : {}),
    ...((u.webSearches ?? 0) > 0 ? { webSearches: u.webSearches } : {}),
    ...((u.fileSearches ?? 0) > 0 ? { fileSearches: u.fileSearches } : {}),
    ...(imageGenTokens(u) > 0 ? { imageGen: u.imageGen } : {}),
    ...(u.serviceTier ? { serviceTier: u.serviceTier } : {}),
    ...media(u),
  };
}

/**
 * The usage of a call whose output is audio (speech) or images (the images routes): output
 * tokens it does not split by kind are of that kind, at the model's audio or image output price
 * (found by review: gpt-image-1.5's images, reported as plain output tokens, were charged at its
 * text output price, under a third of its image price). A usage that splits them is taken as it says.
 */
export function withOutputKind(u: Usage | undefined, kind: 'audio' | 'image' | undefined): Usage | undefined {
  if (!u || !kind || u.outputTokens === 0 || (u.audioOutputTokens ?? 0) + (u.imageOutputTokens ?? 0) > 0) return u;
  return kind === 'audio' ? { ...u, audioOutputTokens: u.outputTokens } : { ...u, imageOutputTokens: u.outputTokens };
}
