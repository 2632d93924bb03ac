import { TollgateError, UpstreamFailedError, UpstreamTimeoutError } from '../errors.js';

/**
 * How long before the function's own timeout an upstream call still under way is ended, so that
 * it settles (its answer charged as a cut one) before Lambda stops the invocation; a tenth of the
 * time left when that is less (a short timeout, functions/llm/handler).
 */
export const SETTLE_BEFORE_TIMEOUT_MS = 10_000;

/**
 * When upstream calls still under way are ended, with `remainingMs` left before the function's
 * timeout: SETTLE_BEFORE_TIMEOUT_MS before it, or a tenth of the time left when that is less, so a
 * short timeout still leaves calls most of it (found by review: with 10 s or less, every call ended
 * at once). So each settles before Lambda stops the invocation (found by review: a stream that
 * outlived the timeout was never settled, and its strict reservation waited for the sweeper).
 */
export const callsEndAt = (remainingMs: number, now = Date.now()): number =>
  now + remainingMs - Math.min(SETTLE_BEFORE_TIMEOUT_MS, remainingMs / 10);

/**
 * One deadline for an upstream call: it covers the wait for the first answer and every silence
 * after it. Each sign of life (headers, a chunk, a stream event) resets it, so a long answer that
 * keeps talking is never cut and one that goes quiet is. The caller's own signal (the client went
 * away) aborts the call too; the invocation's end (`endSignal`: the function's time limit is near)
 * ends it as the deadline does (found by review: a stream that outlived the function's timeout
 * was never settled).
 */
export class Deadline {
  private timer: NodeJS.Timeout | undefined;
  private readonly controller = new AbortController();
  /** Whether the deadline (not the caller) ended the call. */
  expired = false;
  /** Whether it was the invocation's end, not a silence. */
  atTimeLimit = false;

  /** Takes its listeners off the caller's and the invocation's signals (they outlive the call). */
  private readonly unlisten: () => void;

  constructor(
    readonly timeoutMs: number,
    callerSignal?: AbortSignal,
    endSignal?: AbortSignal,
  ) {
    const onCaller = () => this.abort();
    const onEnd = () => this.end();
    this.unlisten = () => {
      callerSignal?.removeEventListener('abort', onCaller);
      endSignal?.removeEventListener('abort', onEnd);
    };
    if (callerSignal?.aborted) this.abort();
    else callerSignal?.addEventListener('abort', onCaller, { once: true });
    if (endSignal?.aborted) this.end();
    else endSignal?.addEventListener('abort', onEnd, { once: true });
  }

  private end(): void {
    if (this.controller.signal.aborted) return;
    this.expired = true;
    this.atTimeLimit = true;
    this.abort();
  }

  /** Aborted when the deadline passes, the caller goes away or the call is cancelled. */
  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** Starts or restarts the clock. */
  touch(): void {
    clearTimeout(this.timer);
    if (this.controller.signal.aborted) return;
    this.timer = setTimeout(() => {
      this.expired = true;
      this.controller.abort();
    }, this.timeoutMs);
  }

  /**
   * Stops the clock (the call is done), and stops listening to the caller and the invocation's end:
   * found by review, their signals (an invocation's lives until its time limit) kept every call's
   * deadline, and at the limit aborted calls long done.
   */
  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.unlisten();
  }

  /** Stops the clock and aborts the call. */
  abort(): void {
    this.stop();
    if (!this.controller.signal.aborted) this.controller.abort();
  }
}

/**
 * Network trouble and timeouts of an upstream call as Tollgate's upstream errors, never a raw
 * fetch error: the deadline's expiry or undici's own timeouts are a timeout, the rest a failure
 * named by undici's code (ECONNREFUSED, UND_ERR_SOCKET, ...) when it has one.
 */
export function upstreamFailure(e: unknown, deadline: Deadline, model: string): TollgateError {
  if (e instanceof TollgateError) return e;
  const code = causeCode(e);
  if (deadline.expired || code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT')
    return new UpstreamTimeoutError(model, deadline.timeoutMs, deadline.atTimeLimit);
  return new UpstreamFailedError(`the upstream for \`${model}\` failed${code ? ` (${code})` : ''}`);
}

/** undici reports the reason under `cause` (ECONNREFUSED, UND_ERR_SOCKET, ...). */
export function causeCode(e: unknown): string | undefined {
  const cause = (e as { cause?: { code?: unknown } } | null)?.cause;
  const code = cause?.code ?? (e as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^[A-Z0-9_]{2,40}$/.test(code) ? code : undefined;
}
