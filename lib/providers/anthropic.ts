/**
 * Anthropic's own API: `POST /v1/messages` (Claude Code, the Anthropic SDKs) forwarded to
 * Anthropic with Tollgate's key (`x-api-key`) and the caller's `anthropic-version` and
 * `anthropic-beta` (defaults: 2023-06-01, none). Streams are relayed event by event; the usage is
 * metered from the answer (`usage`) or the stream (`message_start`'s message usage, then
 * `message_delta`'s running totals): input, output, cache reads and cache writes.
 *
 * Upstream answers: 2xx is relayed; 401/403 means Tollgate's key was refused (a 502, not the
 * caller's 401); other errors with Anthropic's error body pass through with their status
 * (429 and 529 included); an error without one is a 502, but a 429 stays a 429 (errors.ts).
 */

import { isObject } from '../domain/json.js';
import { UpstreamFailedError } from '../errors.js';
import { upstreamUrl } from '../llm/upstream.js';
import { anthropicErrorBody, UnsupportedParameterError } from './errors.js';
import { HttpExchange, type HttpTarget, relayStream, sseNamed } from './http.js';
import type { JsonAnswer, Provider, ProviderModel, ProviderRequest, StreamAnswer } from './types.js';

export const ANTHROPIC_BASE_URL = 'https://api.anthropic.com';
export const DEFAULT_ANTHROPIC_VERSION = '2023-06-01';

/** Caller headers Anthropic may see; credentials never are. */
const FORWARDED = ['anthropic-version', 'anthropic-beta'] as const;

/** The messages URL for a base given with or without `/v1`. */
export function anthropicMessagesUrl(base: string | null | undefined): string {
  const root = (base ?? ANTHROPIC_BASE_URL).replace(/\/+$/, '');
  return root.endsWith('/v1')
    ? upstreamUrl(root, '/messages', new URLSearchParams())
    : upstreamUrl(root, '/v1/messages', new URLSearchParams());
}

export function anthropicTarget(
  model: ProviderModel,
  apiKey: string | undefined,
  callerHeaders: ProviderRequest['callerHeaders'],
): HttpTarget {
  const headers = new Headers({ accept: 'application/json, text/event-stream', 'anthropic-version': DEFAULT_ANTHROPIC_VERSION });
  for (const name of FORWARDED) {
    const v = callerHeaders?.get(name)?.[0];
    if (v) headers.set(name, v);
  }
  if (apiKey) headers.set('x-api-key', apiKey);
  return { url: anthropicMessagesUrl(model.upstream_base_url), headers };
}

const isAnthropicError = (v: unknown): boolean => isObject(v) && v.type === 'error' && isObject(v.error);

export const anthropicProvider: Provider = {
  name: 'anthropic',
  supports: (operation) => operation === 'messages',
  async call(req, clients): Promise<JsonAnswer | StreamAnswer> {
    if (req.operation !== 'messages')
      throw new UnsupportedParameterError('model', `is an Anthropic model: it serves /v1/messages, not ${req.operation}`);
    const exchange = new HttpExchange(anthropicTarget(req.model, req.apiKey, req.callerHeaders), {
      fetch: clients.fetch,
      timeoutMs: clients.timeoutMs,
      model: req.model.model_name,
      signal: req.signal,
      endSignal: req.endSignal,
      secret: req.apiKey,
    });
    const res = await exchange.send({ ...req.body, model: req.model.upstream_model });
    if (res.status === 401 || res.status === 403) {
      exchange.cancel();
      throw new UpstreamFailedError(`the upstream for \`${req.model.model_name}\` refused Tollgate's credentials (HTTP ${res.status})`);
    }
    if (res.ok && (res.headers.get('content-type') ?? '').includes('text/event-stream'))
      return relayMessages(exchange, res.status, req.onPayload);
    return exchange.jsonAnswer(res, req.model.model_name, 'an Anthropic', isAnthropicError);
  },
};

/**
 * Relays Anthropic's stream as it comes, metering message_start and message_delta usage, each
 * event parsed once for the meter and the watch (`onPayload`: containers); a break ends with an
 * `error` event.
 */
const relayMessages = (exchange: HttpExchange, status: number, onPayload: ProviderRequest['onPayload']): StreamAnswer =>
  relayStream(exchange, status, (failure) => sseNamed('error', anthropicErrorBody(failure)), {
    // Its output count comes in message_delta, just before message_stop: a stream without it was cut.
    last: { name: '`message_stop`', is: (p) => isObject(p) && p.type === 'message_stop' },
    onPayload,
  });
