/**
 * Rate limits in the llm function (lib/domain/rate-limits, lib/store/rate-limits). They run here,
 * not in the authorizer: the authorizer cannot see the model of a JSON body, nor tokens, and API
 * Gateway may cache its decision; the llm function sees every call and its usage. A call is
 * admitted before its strict reservation and its upstream call; its tokens are counted and its
 * parallel lease released with its settlement, after the answer.
 */

import { aliasesOf, type ModelCatalog } from '../checks/models.js';
import type { Caller } from '../domain/caller.js';
import { allInputTokens, type Usage } from '../domain/cost.js';
import {
  denialCode,
  denialHeaders,
  denialMessage,
  type RateHeaderInput,
  rateHeaders,
  rateLimitsOf,
  tightest,
} from '../domain/rate-limits.js';
import type { EnforcementMode, ModelRecord } from '../domain/records.js';
import { RateLimitedError } from '../errors.js';
import type { RateTicket } from '../store/rate-limits.js';
import type { LlmDeps } from './deps.js';
import { estimateUsage } from './estimate.js';
import type { LlmRequest } from './request.js';

export interface Admitted {
  /** Undefined when no limit governs the call (nothing was written). */
  ticket: RateTicket | undefined;
  /** OpenAI's x-ratelimit-* headers for the answer. */
  headers: Record<string, string>;
  /** The counts behind them (a request naming several models reports the tightest of all). */
  counts: RateHeaderInput[];
}

export interface AdmittingCall {
  caller: Caller;
  /** The registry's aliases: a per-model limit set under an alias of the model called applies. */
  catalog: ModelCatalog;
  req: Pick<LlmRequest, 'body' | 'route'>;
  now: number;
  mode: EnforcementMode;
  deps: Pick<LlmDeps, 'rateLimiter' | 'strictDefaultMaxTokens' | 'reservationTtlMs' | 'clock'>;
}

/**
 * Every token a call used, as an OpenAI upstream's `total_tokens` counts them: input, cache reads
 * and writes (Usage keeps them apart from `inputTokens` only to price them apart) and output.
 */
export const tokensOf = (usage: Usage | undefined): number => (usage ? allInputTokens(usage) + usage.outputTokens : 0);

/** Admits the call under every rate limit that governs it, or throws the tightest one's 429. */
export async function admitCall(call: AdmittingCall, model: ModelRecord, requestId: string): Promise<Admitted> {
  const limits = rateLimitsOf(call.caller, { ...model, resolvedAliases: aliasesOf(model.model_name, call.catalog) });
  if (limits.length === 0) return { ticket: undefined, headers: {}, counts: [] };
  const { deps } = call;
  const estimateTokens = call.mode === 'strict' ? tokensOf(estimateUsage(call.req, deps.strictDefaultMaxTokens)) : 0;
  const out = await deps.rateLimiter.admit({
    requestId,
    at: call.now,
    limits,
    estimateTokens,
    leaseUntil: call.now + deps.reservationTtlMs,
  });
  if (!out.admitted) {
    const d = tightest(out.denials);
    if (!d) throw new Error('a refused admission names no limit');
    throw new RateLimitedError(denialCode(d), denialMessage(d), denialHeaders(out.denials, deps.clock()));
  }
  return { ticket: out.ticket, headers: rateHeaders(out.counts, call.now), counts: out.counts };
}

/**
 * The answer for admissions refused together (several models in `model`): a failure that is not
 * a rate limit's (the store) first; else the refusal that waits longest, since the request is
 * admitted only once every model's limits would admit it.
 */
export function refusalOf(refusals: readonly unknown[]): unknown {
  const other = refusals.find((e) => !(e instanceof RateLimitedError));
  if (other !== undefined) return other;
  const wait = (e: unknown) => Number((e as RateLimitedError).headers['retry-after-ms'] ?? 0);
  return refusals.reduce((a, b) => (wait(b) > wait(a) ? b : a));
}

/**
 * The tokens of a call billed after it ended (a background response or a batch, by the read that
 * found it done) join the tpm windows of whoever made it, in this minute, as a call's settled
 * tokens do: usage that comes later is still usage.
 */
export function countLaterTokens(
  call: Pick<AdmittingCall, 'catalog' | 'deps'>,
  maker: Caller,
  model: ModelRecord,
  usage: Usage,
  countedAlready = 0,
): Promise<void> {
  const limits = rateLimitsOf(maker, { ...model, resolvedAliases: aliasesOf(model.model_name, call.catalog) });
  const tokens = Math.max(0, tokensOf(usage) - countedAlready);
  if (tokens === 0 || !limits.some((l) => l.tpm !== undefined)) return Promise.resolve();
  return call.deps.rateLimiter.countTokens(limits, tokens);
}
