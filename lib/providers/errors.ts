/**
 * Errors of the provider layer, in Tollgate's one family (lib/errors). Upstream failures keep
 * honest statuses: the upstream throttled (429), refused the request's content (400), refused
 * Tollgate's identity (403), failed (502) or went quiet (504). Messages name the model and what
 * happened, never a key; an upstream's own message is kept only where it speaks about the
 * request (a validation message), and shortened.
 */

import { isObject } from '../domain/json.js';
import { InvalidRequestError, PermissionDeniedError, TollgateError, UpstreamFailedError } from '../errors.js';

/** 429 `rate_limit_error`: the upstream throttles (its own limit, not a Tollgate one); its wait, when it said one, goes on. */
export class UpstreamRateLimitError extends TollgateError {
  readonly headers: Readonly<Record<string, string>>;

  constructor(model: string, upstreamHeaders?: Headers, now = Date.now()) {
    super(429, 'rate_limit_error', 'upstream_rate_limited', `the upstream for \`${model}\` is throttling requests; retry later`);
    this.headers = upstreamHeaders ? retryHeaders(upstreamHeaders, now) : {};
  }
}

/** Longest wait relayed: a day. An upstream's larger figure, or a date further off, is cut to it. */
const MAX_RETRY_AFTER_S = 86_400;

/**
 * An upstream's `retry-after` (seconds or an HTTP date, as RFC 9110 has it) as seconds, and its
 * `retry-after-ms` (OpenAI's), when they are well formed; anything else is dropped, not relayed.
 */
export function retryHeaders(h: Headers, now: number): Record<string, string> {
  const out: Record<string, string> = {};
  const after = h.get('retry-after')?.trim();
  if (after && /^\d{1,10}$/.test(after)) out['retry-after'] = String(Math.min(Number(after), MAX_RETRY_AFTER_S));
  else if (after && /[a-z]/i.test(after) && Number.isFinite(Date.parse(after)))
    out['retry-after'] = String(Math.min(Math.max(0, Math.ceil((Date.parse(after) - now) / 1000)), MAX_RETRY_AFTER_S));
  const ms = h.get('retry-after-ms')?.trim();
  if (ms && /^\d{1,12}(\.\d{1,6})?$/.test(ms)) out['retry-after-ms'] = String(Math.min(Number(ms), MAX_RETRY_AFTER_S * 1000));
  return out;
}

/**
 * An upstream's error answer without an error body Tollgate can relay (`shape`: "an OpenAI" or
 * "an Anthropic"): a 429 stays a 429 (a client waits and retries it, with the upstream's
 * `retry-after`), anything else is a 502 naming the status.
 */
export function unshapedUpstreamError(model: string, res: Pick<Response, 'status' | 'headers'>, shape: string): TollgateError {
  if (res.status === 429) return new UpstreamRateLimitError(model, res.headers);
  return new UpstreamFailedError(`the upstream for \`${model}\` answered HTTP ${res.status} without ${shape} error body`);
}

/** A request field the upstream cannot express (`n > 1` on Bedrock, an image URL it cannot fetch). */
export class UnsupportedParameterError extends InvalidRequestError {
  constructor(param: string, why: string) {
    super(`\`${param}\` ${why}`, 'unsupported_parameter', param);
  }
}

/** The upstream rejected the request's content; its message is kept (shortened): it speaks about the request. */
export class UpstreamInvalidRequestError extends InvalidRequestError {
  constructor(model: string, upstreamMessage: string | undefined) {
    super(
      `the upstream for \`${model}\` rejected the request${upstreamMessage ? `: ${shorten(upstreamMessage)}` : ''}`,
      'upstream_invalid_request',
    );
  }
}

/** Tollgate's own identity may not use the model upstream (Bedrock: the role, or model access not granted). */
export class UpstreamAccessDeniedError extends PermissionDeniedError {
  constructor(model: string, detail: string) {
    super('upstream_access_denied', `Tollgate may not call the upstream for \`${model}\`: ${detail}`, 'model');
  }
}

/** The model timed out while answering (Bedrock's ModelTimeoutException). */
export class UpstreamModelTimeoutError extends TollgateError {
  constructor(model: string) {
    super(504, 'upstream_error', 'upstream_timeout', `the upstream for \`${model}\` timed out while the model was answering`);
  }
}

export class UpstreamModelNotFoundError extends TollgateError {
  constructor(model: string, detail: string) {
    super(404, 'not_found_error', 'upstream_model_not_found', `the upstream for \`${model}\` does not know its model: ${detail}`, 'model');
  }
}

const MAX_UPSTREAM_MESSAGE = 300;

/** An upstream message, one line, at most 300 characters. */
export function shorten(message: string): string {
  const line = message.replace(/\s+/g, ' ').trim();
  return line.length > MAX_UPSTREAM_MESSAGE ? `${line.slice(0, MAX_UPSTREAM_MESSAGE - 1)}…` : line;
}

/** Anthropic's error types by status, for answers on Anthropic's own routes (`/v1/messages`). */
const ANTHROPIC_ERROR_TYPES: ReadonlyMap<number, string> = new Map([
  [400, 'invalid_request_error'],
  [401, 'authentication_error'],
  [403, 'permission_error'],
  [404, 'not_found_error'],
  [413, 'request_too_large'],
  [429, 'rate_limit_error'],
  [529, 'overloaded_error'],
]);

/**
 * A Tollgate error in Anthropic's shape, `{"type":"error","error":{"type","message"}}`, as
 * Anthropic's clients read it (in a stream's `error` event too); Tollgate's code rides along.
 */
export function anthropicErrorBody(e: TollgateError): { type: 'error'; error: { type: string; message: string; code: string } } {
  return { type: 'error', error: { type: ANTHROPIC_ERROR_TYPES.get(e.status) ?? 'api_error', message: e.message, code: e.code } };
}

/**
 * An upstream's own error event in a stream that had begun: OpenAI's `data: {"error": {...}}`,
 * Anthropic's and the Responses API's `{"type": "error", ...}`. The stream broke off there: the
 * usage reported before it (Anthropic's input count in message_start) is short of what was sent.
 */
export const isStreamError = (payload: unknown): boolean => isObject(payload) && (isObject(payload.error) || payload.type === 'error');
