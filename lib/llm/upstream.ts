/**
 * One call to a model's OpenAI-compatible upstream, over Node's fetch (undici keeps connections
 * alive per origin). The caller's headers are not copied: only a short list of content
 * negotiation headers goes through, plus the model's own upstream key.
 *
 * One deadline (TOLLGATE_UPSTREAM_TIMEOUT_MS) covers the wait for the answer's headers and every
 * silence after that: it is reset by each chunk of the body, so a long stream that keeps
 * talking is never cut, and one that goes quiet is.
 */

import type { ModelRecord } from '../domain/records.js';
import { InvalidPathError, type TollgateError, UpstreamFailedError } from '../errors.js';
import { logger } from '../telemetry.js';
import { causeCode, Deadline, upstreamFailure } from './deadline.js';

/** Caller headers an upstream may see. Credentials, cookies and hop-by-hop headers never are. */
const FORWARDED_HEADERS = ['accept', 'openai-beta', 'anthropic-version', 'anthropic-beta'] as const;
/** Upstream headers the caller may see; content-length/encoding are recomputed on the way back. */
const RETURNED_HEADERS = [
  'content-type',
  'content-disposition',
  'openai-processing-ms',
  'openai-version',
  'x-request-id',
  'retry-after',
  'retry-after-ms',
] as const;

export type FetchLike = (input: string, init: RequestInit) => Promise<Response>;

/**
 * The largest answer read whole (not an event stream), and the largest single event of a stream.
 * An upstream that sends more (a fault, or a body that never ends) is cut there: a 502, charged,
 * since it answered. Memory stays bounded whatever the upstream does.
 */
export const MAX_ANSWER_BYTES = 64 * 1024 * 1024;

/** An answer past MAX_ANSWER_BYTES: the upstream answered (so the call is charged), but not one Tollgate relays. */
export const oversizedAnswer = (model: string, what: string): UpstreamFailedError =>
  new UpstreamFailedError(
    `the upstream for \`${model}\` sent ${what} over ${MAX_ANSWER_BYTES / 1024 / 1024} MiB, which Tollgate does not relay`,
    true,
  );

/** A whole body, each chunk a sign of life (`touch`); past `max` bytes it stops reading and throws oversizedAnswer. */
export async function readWhole(
  body: AsyncIterable<Uint8Array>,
  touch: () => void,
  model: string,
  max = MAX_ANSWER_BYTES,
): Promise<Buffer> {
  const parts: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    touch();
    size += chunk.byteLength;
    if (size > max) throw oversizedAnswer(model, 'an answer');
    parts.push(Buffer.from(chunk));
  }
  return Buffer.concat(parts, size);
}

export interface UpstreamRequest {
  model: ModelRecord;
  method: string;
  /** Joined to the model's base URL, e.g. `/chat/completions`. */
  path: string;
  query: URLSearchParams;
  callerHeaders: Map<string, string[]>;
  apiKey: string | undefined;
  body: { bytes: Uint8Array; contentType: string | undefined } | { form: FormData } | undefined;
  timeoutMs: number;
  /** Aborted when the invocation must end (its time limit is near): the call ends as timed out. */
  endSignal?: AbortSignal | undefined;
  /**
   * Where the call goes and the header that carries the key, when not `{base URL}{path}` with a
   * bearer key: an Azure resource's stored responses (`/openai/responses/{id}`, `api-key`).
   */
  target?: { url: string; keyHeader: 'api-key' } | undefined;
}

export class UpstreamCall {
  private readonly deadline: Deadline;
  response: Response | undefined;
  /** Some of the body arrived (read by chunks()): the answer began. */
  began = false;

  constructor(readonly req: UpstreamRequest) {
    this.deadline = new Deadline(req.timeoutMs, undefined, req.endSignal);
  }

  /** Sends the request; resolves with the response once its headers arrive. */
  async start(fetchImpl: FetchLike): Promise<Response> {
    // The registry keeps no OpenAI-compatible model without one; other providers never come here.
    const base = this.req.model.upstream_base_url;
    const url = this.req.target?.url ?? (base ? upstreamUrl(base, this.req.path, this.req.query) : undefined);
    if (!url) throw new UpstreamFailedError(`model \`${this.req.model.model_name}\` has no upstream URL to pass this call to`);
    this.touch();
    try {
      this.response = await fetchImpl(url, {
        method: this.req.method,
        headers: this.headers(),
        body: requestBody(this.req.body),
        signal: this.deadline.signal,
        // A redirect is answered, never followed (the caller's prompt stays under the base URL).
        redirect: 'manual',
      });
      this.touch();
      return this.response;
    } catch (e) {
      this.stop();
      throw this.failure(e);
    }
  }

  /** The whole body (for answers that are not streamed), under the same deadline, at most MAX_ANSWER_BYTES. */
  async readAll(): Promise<Buffer> {
    const body = this.response?.body;
    if (!body) return Buffer.alloc(0);
    try {
      // An upstream may repeat the credential it got in any answer, a 200 too (some answer errors so).
      return bytesWithoutSecret(await readWhole(body, () => this.touch(), this.req.model.model_name), this.req.apiKey);
    } catch (e) {
      throw this.failure(e);
    } finally {
      this.stop();
    }
  }

  /** The body chunk by chunk, each one resetting the deadline. Errors are mapped like start()'s. */
  async *chunks(): AsyncGenerator<Uint8Array> {
    const body = this.response?.body;
    if (!body) return;
    try {
      for await (const chunk of body) {
        this.touch();
        this.began = true;
        yield chunk;
      }
    } catch (e) {
      throw this.failure(e);
    } finally {
      this.stop();
    }
  }

  /** Gives up on the call (the caller went away, or we are done with it). */
  cancel(): void {
    this.deadline.abort();
  }

  /** Headers to hand back to the caller. */
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
    const failure = upstreamFailure(e, this.deadline, this.req.model.model_name);
    if (failure instanceof UpstreamFailedError && failure !== e)
      logger().warn('upstream call failed', { model: this.req.model.model_name, code: causeCode(e) ?? (e as Error)?.name });
    return failure;
  }

  private headers(): Headers {
    const h = new Headers();
    for (const name of FORWARDED_HEADERS) {
      const v = this.req.callerHeaders.get(name)?.[0];
      if (v) h.set(name, v);
    }
    const body = this.req.body;
    if (body && 'bytes' in body && body.contentType) h.set('content-type', body.contentType);
    if (this.req.apiKey) {
      if (this.req.target) h.set(this.req.target.keyHeader, this.req.apiKey);
      else h.set('authorization', `Bearer ${this.req.apiKey}`);
    }
    return h;
  }

  private touch(): void {
    this.deadline.touch();
  }

  private stop(): void {
    this.deadline.stop();
  }
}

/** The model's base URL joined to `path` and the query; throws InvalidPathError for anything that would leave the base. */
export function upstreamUrl(base: string, path: string, query: URLSearchParams): string {
  assertUpstreamPath(path);
  const root = base.replace(/\/+$/, '');
  const q = query.toString();
  const url = `${root}${path}${q ? `?${q}` : ''}`;
  // The URL as fetch will resolve it, compared with its base: the rule above, proved on the result.
  const [u, b] = [new URL(url), new URL(root)];
  if (u.origin !== b.origin || !`${u.pathname}/`.startsWith(`${b.pathname.replace(/\/$/, '')}/`))
    throw new InvalidPathError('the upstream path leaves the base URL of the model');
  return url;
}

/** Decoding passes a path is checked through: a proxy or server in front of the upstream may decode it again. */
const DECODE_PASSES = 3;

/**
 * Path parameters are joined to an upstream's base URL, with Tollgate's upstream key. Whatever
 * they hold, the path must name something under that base however often it is decoded on the
 * way: one leading `/`, no `?` or `#`, and, as given and once to three times percent-decoded,
 * no `.` or `..` segment, no backslash (a separator to WHATWG URLs and Windows servers), no `//`.
 * The authorizer refuses dot segments too (lib/authorizer/decide); this holds without it.
 */
export function assertUpstreamPath(path: string): void {
  if (!path.startsWith('/') || /[?#]/.test(path))
    throw new InvalidPathError('the upstream path must start with `/` and hold no `?` or `#`');
  let p = path;
  for (let pass = 0; pass <= DECODE_PASSES; pass++) {
    if (p.includes('\\') || p.includes('//') || p.split('/').some((seg) => seg === '.' || seg === '..')) {
      throw new InvalidPathError('the path holds a `.` or `..` segment, a backslash or `//`, as given or decoded');
    }
    const next = decodeEscapes(p);
    if (next === p) return;
    p = next;
  }
  throw new InvalidPathError(`the path is still percent-encoded after ${DECODE_PASSES} decodings`);
}

/** Each `%XX` as its byte, leniently (one bad escape does not hide the others, as it would from decodeURIComponent). */
const decodeEscapes = (p: string): string => p.replace(/%([0-9a-f]{2})/gi, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));

function requestBody(body: UpstreamRequest['body']): RequestInit['body'] {
  if (!body) return undefined;
  return 'form' in body ? body.form : body.bytes;
}

/** A 3xx: an upstream is never followed away from its model's base URL. */
export const isRedirect = (status: number): boolean => status >= 300 && status < 400;

/**
 * A text an upstream wrote, without the credential Tollgate sent it: an upstream that repeats the
 * key it was given (in an error's message, say) must not hand it to the caller.
 */
export function withoutSecret(text: string, secret: string | undefined): string {
  return secret && secret.length >= 8 && text.includes(secret) ? text.split(secret).join('[redacted]') : text;
}

/** The same for a body as bytes, looked at as text only when it holds the secret. */
export function bytesWithoutSecret(bytes: Buffer, secret: string | undefined): Buffer {
  if (!secret || secret.length < 8 || !bytes.includes(secret)) return bytes;
  // Byte by byte: a body that is not UTF-8 text (a file) keeps every other byte as it was.
  const needle = Buffer.from(secret);
  const parts: Buffer[] = [];
  let from = 0;
  for (let at = bytes.indexOf(needle); at !== -1; at = bytes.indexOf(needle, from)) {
    parts.push(bytes.subarray(from, at), REDACTED);
    from = at + needle.length;
  }
  parts.push(bytes.subarray(from));
  return Buffer.concat(parts);
}
const REDACTED = Buffer.from('[redacted]');
