/**
 * Token usage as upstreams report it, in every shape we pass through: `prompt_tokens` /
 * `completion_tokens` (chat, completions, embeddings), `input_tokens` / `output_tokens`
 * (responses, messages), at the top level or under `response` / `message` (stream events).
 * Cached-input discounts are not applied: input is charged at the full price.
 */
import type { Usage } from '../domain/cost.js';

const tokens = (v: unknown): number | undefined => (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? v : undefined);
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The usage an answer (or a stream event) carries, or undefined. */
export function usageOf(payload: unknown): Usage | undefined {
  if (!isObject(payload)) return undefined;
  const candidates = [
    payload.usage,
    isObject(payload.response) ? payload.response.usage : undefined,
    isObject(payload.message) ? payload.message.usage : undefined,
  ];
  let found: Usage | undefined;
  for (const u of candidates) {
    if (!isObject(u)) continue;
    const input = tokens(u.prompt_tokens) ?? tokens(u.input_tokens);
    const output = tokens(u.completion_tokens) ?? tokens(u.output_tokens);
    if (input === undefined && output === undefined) continue;
    found = mergeUsage(found, { inputTokens: input ?? 0, outputTokens: output ?? 0 });
  }
  return found;
}

/**
 * Combines usage seen across stream events. Upstreams report either once at the end or as running
 * totals (Anthropic's message_start then message_delta), so the largest figure per field is the total.
 */
export function mergeUsage(a: Usage | undefined, b: Usage | undefined): Usage | undefined {
  if (!a) return b;
  if (!b) return a;
  return { inputTokens: Math.max(a.inputTokens, b.inputTokens), outputTokens: Math.max(a.outputTokens, b.outputTokens) };
}
