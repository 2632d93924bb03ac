/**
 * OpenAI-compatible upstreams (OpenAI itself, vLLM, Ollama, another gateway), and the forwarding
 * Azure OpenAI shares: the caller's body with `model` set to the upstream's id, the answer passed
 * back as it came. This is what the llm function does today (lib/llm/handle), behind the provider
 * interface: a streamed chat always asks the upstream for usage (`stream_options.include_usage`,
 * the only way a stream is counted) and hides the usage-only chunk from a client that did not
 * ask; the Responses API reports usage in its `response.completed` event.
 *
 * Upstream answers: 2xx is relayed with its usage; 401/403 means Tollgate's key was refused
 * (a 502, not the caller's 401); any other error with OpenAI's error body passes through with
 * its status (a 429 stays a 429); an error without one is a 502, but a 429 stays a 429 (errors.ts).
 */

import { isObject } from '../domain/json.js';
import { UpstreamFailedError } from '../errors.js';
import { streamRequested } from '../llm/request.js';
import { upstreamUrl } from '../llm/upstream.js';
import { UnsupportedParameterError } from './errors.js';
import { HttpExchange, type HttpTarget, relayStream, sseFrame } from './http.js';
import type { JsonAnswer, Operation, Provider, ProviderClients, ProviderModel, ProviderRequest, StreamAnswer } from './types.js';
import { isUsageOnlyChunk } from './usage.js';

export const OPENAI_BASE_URL = 'https://api.openai.com/v1';

/** The upstream path of each operation an OpenAI-compatible upstream serves. */
export const OPENAI_PATHS: ReadonlyMap<Operation, string> = new Map([
  ['chat', '/chat/completions'],
  ['embeddings', '/embeddings'],
  ['responses', '/responses'],
]);

export function openaiPath(operation: Operation): string {
  const path = OPENAI_PATHS.get(operation);
  if (!path) throw new UnsupportedParameterError('model', `is an OpenAI-compatible model: it cannot serve ${operation}`);
  return path;
}

/** URL and headers for an OpenAI-compatible upstream: the model's base URL (confined), a bearer key. */
export function openaiTarget(model: ProviderModel, operation: Operation, apiKey: string | undefined): HttpTarget {
  const headers = new Headers({ accept: 'application/json, text/event-stream' });
  if (apiKey) headers.set('authorization', `Bearer ${apiKey}`);
  return { url: upstreamUrl(model.upstream_base_url ?? OPENAI_BASE_URL, openaiPath(operation), new URLSearchParams()), headers };
}

export const openaiProvider: Provider = {
  name: 'openai',
  supports: (operation) => OPENAI_PATHS.has(operation),
  call: (req, clients) => forwardOpenAiShaped(req, clients, openaiTarget(req.model, req.operation, req.apiKey)),
};

/** The caller's body as the upstream gets it, and whether the client asked for the usage chunk. */
export function openaiBody(
  req: Pick<ProviderRequest, 'body' | 'operation' | 'model'>,
  /** The upstream takes `stream_options` (Azure before api-version 2024-09-01 refuses it: the stream is then counted). */
  streamOptions = true,
): {
  body: Record<string, unknown>;
  clientWantsUsage: boolean;
} {
  const body: Record<string, unknown> = { ...req.body, model: req.model.upstream_model };
  let clientWantsUsage = true;
  if (streamOptions && req.operation === 'chat' && streamRequested(body.stream)) {
    const asked = isObject(body.stream_options) ? body.stream_options : {};
    clientWantsUsage = asked.include_usage === true;
    body.stream_options = { ...asked, include_usage: true };
  }
  return { body, clientWantsUsage };
}

const isOpenAiError = (v: unknown): boolean => isObject(v) && isObject(v.error);

/** Forwards to an OpenAI-shaped upstream (OpenAI-compatible, Azure OpenAI) and relays the answer with its usage. */
export async function forwardOpenAiShaped(
  req: ProviderRequest,
  clients: ProviderClients,
  target: HttpTarget,
  streamOptions = true,
): Promise<JsonAnswer | StreamAnswer> {
  const { body, clientWantsUsage } = openaiBody(req, streamOptions);
  const exchange = new HttpExchange(target, {
    fetch: clients.fetch,
    timeoutMs: clients.timeoutMs,
    model: req.model.model_name,
    signal: req.signal,
    endSignal: req.endSignal,
    secret: req.apiKey,
  });
  const res = await exchange.send(body);
  if (res.status === 401 || res.status === 403) {
    exchange.cancel();
    throw new UpstreamFailedError(`the upstream for \`${req.model.model_name}\` refused Tollgate's credentials (HTTP ${res.status})`);
  }
  const streamed = (res.headers.get('content-type') ?? '').includes('text/event-stream');
  if (res.ok && streamed) return relayOpenAiStream(exchange, res.status, !clientWantsUsage, req.onPayload);
  return exchange.jsonAnswer(res, req.model.model_name, 'an OpenAI', isOpenAiError);
}

/**
 * Relays an upstream's SSE stream event by event, noting usage (chat's usage chunk, the
 * Responses API's `response.completed`); a stream that breaks ends with an error event.
 */
function relayOpenAiStream(
  exchange: HttpExchange,
  status: number,
  stripUsage: boolean,
  onPayload: ProviderRequest['onPayload'],
): StreamAnswer {
  return relayStream(exchange, status, (failure) => sseFrame(`data: ${JSON.stringify(failure.toBody())}`), {
    skip: (payload) => stripUsage && isUsageOnlyChunk(payload),
    onPayload,
  });
}
