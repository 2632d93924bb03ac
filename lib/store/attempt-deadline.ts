/**
 * A deadline for every attempt of an AWS SDK call, the whole attempt: connecting, the response's
 * headers and its body. The Node HTTP handler's `requestTimeout` (with `throwOnRequestTimeout`)
 * runs only until the headers arrive (@smithy/node-http-handler 4.x clears it then), so an
 * endpoint that answers the headers and then stalls held the call for the idle socket timeout
 * (300 s), and again on each retry. The middleware here destroys the response (and its socket)
 * when the body has not ended by the attempt's deadline, with a `TimeoutError` the SDK retries
 * like any other timeout; a call thus fails after about `timeoutMs` x `maxAttempts`.
 * Only for calls whose answer is read whole (DynamoDB, Secrets Manager): a streamed answer
 * (Bedrock's ConverseStream) is bounded by the caller's own deadline instead.
 */
import { Readable } from 'node:stream';

export interface AttemptTimeouts {
  /** Each attempt (connection, headers and body) fails after this long. */
  timeoutMs: number;
  /** Attempts per call (the first and its retries). */
  maxAttempts: number;
}

/** Client settings: the attempts, and the handler's bounds on connecting and on the headers. */
export const boundedClientConfig = ({ timeoutMs, maxAttempts }: AttemptTimeouts) => ({
  maxAttempts,
  requestHandler: { connectionTimeout: Math.ceil(timeoutMs / 2), requestTimeout: timeoutMs, throwOnRequestTimeout: true },
});

/** The error a stalled body ends with; named as the SDK's own timeouts, so it is retried. */
function bodyTimeout(timeoutMs: number): Error {
  return Object.assign(new Error(`the response body did not arrive within the ${timeoutMs} ms attempt deadline`), {
    name: 'TimeoutError',
    code: 'ETIMEDOUT',
  });
}

interface StackOwner {
  middlewareStack: {
    add(
      mw: (next: (args: never) => Promise<{ response: unknown }>) => (args: never) => Promise<{ response: unknown }>,
      opts: { step: 'deserialize'; priority: 'low'; name: string },
    ): void;
  };
}

/**
 * Bounds the response body of each attempt of `client`'s calls by what is left of `timeoutMs`.
 * Added in the deserialize step at low priority: inside the retry loop (each attempt has its
 * own deadline) and next to the handler, before the deserializer reads the body.
 */
export function boundAttempts<C extends StackOwner>(client: C, timeoutMs: number): C {
  client.middlewareStack.add(
    (next) => async (args) => {
      const started = performance.now();
      const out = await next(args);
      const body = (out.response as { body?: unknown } | undefined)?.body;
      if (body instanceof Readable && !body.readableEnded && !body.destroyed) {
        const left = Math.max(0, timeoutMs - (performance.now() - started));
        // Destroying the IncomingMessage destroys its socket: a stalled connection is never
        // handed back to the agent's pool.
        const timer = setTimeout(() => body.destroy(bodyTimeout(timeoutMs)), left);
        body.once('close', () => clearTimeout(timer));
        // The reader (the deserializer) gets the error through its own listener; this one only
        // keeps a body nobody reads from crashing the process when it is destroyed.
        body.on('error', () => {});
      }
      return out;
    },
    { step: 'deserialize', priority: 'low', name: 'tollgateAttemptDeadline' },
  );
  return client;
}
