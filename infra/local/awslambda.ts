/**
 * The Lambda runtime's `awslambda` global, for running response-streaming handlers outside
 * Lambda (local gateway, tests). It behaves as the Node.js runtime does: `streamifyResponse`
 * marks a handler `(event, responseStream, context)`, and `HttpResponseStream.from` writes the
 * HTTP metadata prelude (JSON) followed by 8 NUL bytes before the body, which is what API
 * Gateway's REST response streaming reads. Install it before importing a streaming handler.
 */
import { PassThrough, Writable } from 'node:stream';

export const STREAMING = Symbol.for('tollgate.streamingHandler');
const DELIMITER = Buffer.alloc(8, 0);

export interface HttpResponseMetadata {
  statusCode: number;
  headers?: Record<string, string>;
  cookies?: string[];
}

export type StreamingHandler = ((event: unknown, responseStream: Writable, context: unknown) => Promise<void>) & {
  [STREAMING]?: true;
};

interface AwsLambdaGlobal {
  streamifyResponse(fn: StreamingHandler): StreamingHandler;
  HttpResponseStream: { from(stream: Writable, metadata: HttpResponseMetadata): Writable };
}

// @types/aws-lambda declares the runtime's global; this is the part we provide.
const runtime = globalThis as unknown as { awslambda?: AwsLambdaGlobal };

/** Defines `globalThis.awslambda` unless the real runtime already did. */
export function installAwsLambdaGlobal(): void {
  const existing = runtime.awslambda as Partial<AwsLambdaGlobal> | undefined;
  if (existing?.streamifyResponse) return;
  // Powertools' invoke store creates `awslambda` holding only its own member: add ours beside it.
  runtime.awslambda = Object.assign(existing ?? {}, {
    streamifyResponse(fn) {
      fn[STREAMING] = true;
      return fn;
    },
    HttpResponseStream: {
      from(stream, metadata) {
        stream.write(Buffer.concat([Buffer.from(JSON.stringify(metadata)), DELIMITER]));
        return stream;
      },
    },
  } satisfies AwsLambdaGlobal);
}

export const isStreamingHandler = (h: unknown): h is StreamingHandler =>
  typeof h === 'function' && (h as StreamingHandler)[STREAMING] === true;

export interface StreamedResponse {
  statusCode: number;
  headers: Record<string, string>;
  /** The body as it arrives, chunk by chunk, after the prelude. */
  body: AsyncIterable<Buffer>;
  /** Resolves when the handler has finished (rejects with its error). */
  done: Promise<void>;
}

/**
 * Invokes a streaming handler and resolves as soon as its metadata prelude is written, so the
 * body can be relayed while the handler is still producing it.
 */
export function invokeStreaming(handler: StreamingHandler, event: unknown, context: unknown = {}): Promise<StreamedResponse> {
  const body = new PassThrough();
  let prelude: Buffer = Buffer.alloc(0);
  let headerDone = false;
  return new Promise<StreamedResponse>((resolve, reject) => {
    let settled = false;
    const sink = new Writable({
      write(chunk: Buffer, _enc, cb) {
        const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk);
        if (headerDone) {
          body.write(buf, cb);
          return;
        }
        prelude = Buffer.concat([prelude, buf]);
        const at = prelude.indexOf(DELIMITER);
        if (at === -1) return cb();
        headerDone = true;
        let meta: HttpResponseMetadata;
        try {
          meta = JSON.parse(prelude.subarray(0, at).toString('utf8')) as HttpResponseMetadata;
        } catch (e) {
          return cb(e as Error);
        }
        const rest = prelude.subarray(at + DELIMITER.length);
        settled = true;
        // A handler may write its prelude before its first await, i.e. before `done` below is assigned.
        queueMicrotask(() => resolve({ statusCode: meta.statusCode, headers: meta.headers ?? {}, body, done }));
        if (rest.length > 0) body.write(rest, cb);
        else cb();
      },
      final(cb) {
        body.end();
        cb();
      },
    });
    const done = handler(event, sink, context).then(
      () => {
        if (!sink.writableEnded) sink.end();
        if (!settled) {
          // A handler that never wrote a prelude answered with a bare body: Lambda treats that as 200.
          settled = true;
          const raw = prelude;
          const single = new PassThrough();
          single.end(raw);
          resolve({ statusCode: 200, headers: {}, body: single, done });
        }
      },
      (e: unknown) => {
        body.destroy(e as Error);
        if (!settled) {
          settled = true;
          reject(e);
        }
        throw e;
      },
    );
    done.catch(() => undefined);
  });
}
