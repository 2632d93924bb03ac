import { TollgateError, UpstreamFailedError, UpstreamTimeoutError } from '../errors.js';

/**
 * One deadline for an upstream call: it covers the wait for the first answer and every silence
 * after it. Each sign of life (headers, a chunk, a stream event) resets it, so a long answer that
 * keeps talking is never cut and one that goes quiet is. The caller's own signal (the client went
 * away) aborts the call too.
 */
export class Deadline {
  private timer: NodeJS.Timeout | undefined;
  private readonly controller = new AbortController();
  /** Whether the deadline (not the caller) ended the call. */
  expired = false;

  constructor(
    readonly timeoutMs: number,
    callerSignal?: AbortSignal,
  ) {
    if (callerSignal?.aborted) this.abort();
    else callerSignal?.addEventListener('abort', () => this.abort(), { once: true });
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

  /** Stops the clock (the call is done). */
  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
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
    return new UpstreamTimeoutError(model, deadline.timeoutMs);
  return new UpstreamFailedError(`the upstream for \`${model}\` failed${code ? ` (${code})` : ''}`);
}

/** undici reports the reason under `cause` (ECONNREFUSED, UND_ERR_SOCKET, ...). */
export function causeCode(e: unknown): string | undefined {
  const cause = (e as { cause?: { code?: unknown } } | null)?.cause;
  const code = cause?.code ?? (e as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^[A-Z0-9_]{2,40}$/.test(code) ? code : undefined;
}
