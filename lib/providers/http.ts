/**
 * One HTTP exchange with an upstream that speaks HTTP+JSON (OpenAI-compatible, Azure OpenAI,
 * Anthropic), over Node's fetch. Providers build the target (URL and headers: each upstream
 * authenticates its own way); this sends it under one deadline that covers the wait for the
 * headers and every silence after that (reset by each chunk, so a long stream that keeps
 * talking is never cut), and maps network trouble to Tollgate's upstream errors.
 * The same contract as lib/llm/upstream's UpstreamCall, for any target.
 */

import { isObject, parseJson } from '../domain/json.js';
import { type TollgateError, UpstreamFailedError } from '../errors.js';
import { Deadline, upstreamFailure } from '../llm/deadline.js';
import { framedEvents, type SseEvent } from '../llm/sse.js';
import { isRedirect, readWhole, withoutSecret } from '../llm/upstream.js';
import { isStreamError, unshapedUpstreamError } from './errors.js';
import type { JsonAnswer, StreamAnswer, TokenUsage } from './types.js';
import { mergeUsage, serviceTierOfPayload, usageOfPayload } from './usage.js';

export type FetchLike = (input: string, init: RequestInit) => Promise<Response>;

/**
 * Why a string cannot be an upstream's base URL, or undefined when it can. Paths are appended to
 * a base, so it holds no query or fragment; and a credential in it (`user:pass@`, `?api-key=`)
 * would be shown wherever the model is, so it belongs in a secret (`api_key_secret`).
 */
export function baseUrlProblem(u: unknown): string | undefined {
  if (typeof u !== 'string' || !URL.canParse(u)) return 'must be an http(s) URL';
  const url = new URL(u);
  if (!/^https?:$/.test(url.protocol)) return 'must be an http(s) URL';
  if (url.username || url.password) return 'must not carry credentials (user:password@); name a secret in `api_key_secret`';
  if (u.includes('?') || u.includes('#'))
    return 'must have no query or fragment: paths are appended to it, and a key belongs in a secret (`api_key_secret`)';
  return undefined;
}

export interface HttpTarget {
  url: string;
  headers: Headers;
}

export interface ExchangeOptions {
  fetch: FetchLike;
  timeoutMs: number;
  /** The public model name, for error messages. */
  model: string;
  signal?: AbortSignal | undefined;
  /** The invocation's end (lib/llm/deadline): the call ends as timed out. */
  endSignal?: AbortSignal | undefined;
  /** The credential the target carries: redacted from every body read whole, whatever its status. */
  secret: string | undefined;
}

/** Headers of an upstream answer a caller may see; content-length/encoding are recomputed on the way back. */
export const RETURNED_HEADERS = [
  'content-type',
  'x-request-id',
  'request-id',
  'openai-processing-ms',
  'openai-version',
  'apim-request-id',
  'retry-after',
  'retry-after-ms',
] as const;

/**
 * What relayStream reads: an upstream's answer as complete server-sent events, and how it fails
 * and stops. An HttpExchange (the providers), and the passthrough's UpstreamCall (lib/llm/handle).
 */
export interface EventSource {
  /** The public model name, for error messages. */
  readonly model: string;
  /** Errors are the upstream's (mapped by failure()); the source stops when they are done. */
  events(): AsyncIterable<SseEvent>;
  failure(e: unknown): TollgateError;
  cancel(): void;
  returnedHeaders(): Record<string, string>;
}

export class HttpExchange implements EventSource {
  private readonly deadline: Deadline;
  response: Response | undefined;

  constructor(
    readonly target: HttpTarget,
    private readonly opts: ExchangeOptions,
  ) {
    this.deadline = new Deadline(opts.timeoutMs, opts.signal, opts.endSignal);
  }

  /** Sends the JSON body; resolves once the answer's headers arrive. */
  async send(body: unknown): Promise<Response> {
    this.touch();
    try {
      const headers = new Headers(this.target.headers);
      headers.set('content-type', 'application/json');
      this.response = await this.opts.fetch(this.target.url, {
        method: 'POST',
        headers,
        body: JSON.stringify(body),
        signal: this.deadline.signal,
        // Never followed: fetch strips only Authorization when a redirect changes origin, so
        // `x-api-key` (Anthropic) and `api-key` (Azure) would go to the other host.
        redirect: 'manual',
      });
      this.touch();
    } catch (e) {
      this.stop();
      throw this.failure(e);
    }
    if (isRedirect(this.response.status)) {
      this.stop();
      throw new UpstreamFailedError(`the upstream answered a redirect (HTTP ${this.response.status}), which Tollgate does not follow`);
    }
    return this.response;
  }

  /** The whole body, under the same deadline. */
  async text(): Promise<string> {
    const body = this.response?.body;
    if (!body) return '';
    try {
      // An upstream may repeat the credential it got in any answer, a 200 too (some answer errors so).
      return withoutSecret((await readWhole(body, () => this.touch(), this.opts.model)).toString('utf8'), this.opts.secret);
    } catch (e) {
      throw this.failure(e);
    } finally {
      this.stop();
    }
  }

  /** The body as complete server-sent events, as they arrive; errors mapped like send()'s. */
  async *events(): AsyncGenerator<SseEvent> {
    const body = this.response?.body;
    if (!body) return;
    const self = this;
    async function* chunks(): AsyncGenerator<Uint8Array> {
      for await (const chunk of body as AsyncIterable<Uint8Array>) {
        self.touch();
        yield chunk;
      }
    }
    try {
      yield* framedEvents(chunks(), this.opts.model);
    } catch (e) {
      throw this.failure(e);
    } finally {
      this.cancel();
    }
  }

  /** The public model name, for error messages. */
  get model(): string {
    return this.opts.model;
  }

  /** Gives up on the exchange (the caller went away, or we are done). */
  cancel(): void {
    this.deadline.abort();
  }

  /**
   * The upstream's own error (in the route's shape), relayed with its status; read through text(),
   * it holds no copy of the credential Tollgate sent.
   */
  errorAnswer(status: number, body: unknown): JsonAnswer {
    return { kind: 'json', status, body, usage: undefined, headers: this.returnedHeaders() };
  }

  /**
   * A JSON answer read whole: with a failing status, the upstream's own error when it has the
   * route's shape (`isError`), else the upstream failing (`shape` names what was expected); with a
   * good status, the answer and the usage it reports. A body that is no JSON is a failure.
   */
  async jsonAnswer(res: Response, modelName: string, shape: string, isError: (json: unknown) => boolean): Promise<JsonAnswer> {
    const json = parseJson(await this.text());
    if (!res.ok) {
      if (isError(json)) return this.errorAnswer(res.status, json);
      throw unshapedUpstreamError(modelName, res, shape);
    }
    if (json === undefined) throw new UpstreamFailedError(`the upstream for \`${modelName}\` answered with a body that is not JSON`, true);
    return {
      kind: 'json',
      status: res.status,
      body: json,
      usage: usageOfPayload(json),
      headers: { ...this.returnedHeaders(), 'content-type': 'application/json' },
    };
  }

  returnedHeaders(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const name of RETURNED_HEADERS) {
      const v = this.response?.headers.get(name);
      if (v) out[name] = v;
    }
    return out;
  }

  /** Network trouble and timeouts as Tollgate's upstream errors, never a raw fetch error. */
  failure(e: unknown): TollgateError {
    return upstreamFailure(e, this.deadline, this.opts.model);
  }

  private touch(): void {
    this.deadline.touch();
  }

  private stop(): void {
    this.deadline.stop();
  }
}

/** One event on the wire: its lines, then the blank line that ends it. */
export const sseFrame = (raw: string): string => `${raw}\n\n`;
/** A `data:` event holding JSON (OpenAI's chunks). */
export const sseData = (value: unknown): string => sseFrame(`data: ${JSON.stringify(value)}`);
/** A named event holding JSON (Anthropic's and the Responses API's events). */
export const sseNamed = (event: string, value: unknown): string => sseFrame(`event: ${event}\ndata: ${JSON.stringify(value)}`);
export const SSE_DONE = sseFrame('data: [DONE]');

/** An event a provider makes: as it goes on the wire, and the JSON it carries (so nothing parses it again). */
/**
 * Events that open a stream or keep it alive and hold nothing of an answer: an error after only
 * these is the upstream refusing, as an error first is (found by review: the Responses API's
 * `response.created` and `response.in_progress`, then `error`, was charged the prompt). Anthropic's
 * `message_start` is not one: it reports the input's usage, which is charged.
 */
const OPENING_EVENTS: ReadonlySet<string> = new Set(['ping', 'response.created', 'response.in_progress', 'response.queued']);

export interface WireEvent {
  wire: string;
  payload: unknown;
}
export const wireData = (value: unknown): WireEvent => ({ wire: sseData(value), payload: value });
export const wireNamed = (event: string, value: unknown): WireEvent => ({ wire: sseNamed(event, value), payload: value });
export const WIRE_DONE: WireEvent = Object.freeze({ wire: SSE_DONE, payload: undefined });

export const SSE_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-cache',
});

export interface RelayOptions {
  /** Leaves an event out (it is still metered and seen). */
  skip?: (payload: unknown) => boolean;
  /** The event that ends a whole stream (Anthropic's `message_stop`): a stream that ends without it was cut. */
  last?: { name: string; is: (payload: unknown) => boolean };
  /** Sees each event's JSON, parsed here once (ProviderRequest's `onPayload`). */
  onPayload?: ((payload: unknown) => void) | undefined;
}

/**
 * Relays an upstream's server-sent events as they come, each framed and parsed once: its usage
 * noted, its payload shown to `onPayload`. A stream that breaks ends with the route's error event
 * (`errorEvent`), or the upstream's own, and says so (`broken`): its usage may be short of what
 * was sent.
 */
export function relayStream(
  exchange: EventSource,
  status: number,
  errorEvent: (failure: TollgateError) => string,
  { skip, last, onPayload }: RelayOptions = {},
): StreamAnswer {
  let usage: TokenUsage | undefined;
  // The tier an event reports, whichever it is: OpenAI's chat chunks each carry it, a usage chunk may not.
  let tier: string | undefined;
  let broken = false;
  // Some of the answer came (a payload that is no error and no keep-alive), or the upstream's error first.
  let began = false;
  let refused = false;
  async function* events(): AsyncGenerator<string> {
    try {
      let whole = last === undefined;
      for await (const ev of exchange.events()) {
        const payload = ev.data === undefined || ev.data === '[DONE]' ? undefined : parseJson(ev.data);
        usage = mergeUsage(usage, usageOfPayload(payload));
        tier = serviceTierOfPayload(payload) ?? tier;
        // The upstream's own error event: relayed, and the stream is broken (its usage may be short).
        if (isStreamError(payload)) {
          broken = true;
          refused ||= !began;
        } else if (isObject(payload) && !(typeof payload.type === 'string' && OPENING_EVENTS.has(payload.type))) began = true;
        if (last?.is(payload)) whole = true;
        onPayload?.(payload);
        if (skip?.(payload)) continue;
        yield sseFrame(ev.raw);
      }
      if (!whole && !broken) {
        // Ended cleanly but short of its end (found by review): billed as a cut stream, and the client told.
        broken = true;
        yield errorEvent(new UpstreamFailedError(`the upstream for \`${exchange.model}\` ended its stream before ${last?.name}`, true));
      }
    } catch (e) {
      broken = true;
      yield errorEvent(exchange.failure(e));
    } finally {
      exchange.cancel();
    }
  }
  return {
    kind: 'stream',
    status,
    headers: { ...exchange.returnedHeaders(), ...SSE_HEADERS },
    events: events(),
    usage: () => (usage && !usage.serviceTier && tier ? { ...usage, serviceTier: tier } : usage),
    broken: () => broken,
    refused: () => refused,
  };
}
