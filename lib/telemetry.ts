/**
 * Tracing and logging, one instance each per process. The tracer, and with it the X-Ray SDK, is
 * loaded only when tracing is on (in Lambda, unless the stack's tracing option set
 * POWERTOOLS_TRACE_ENABLED=false): local mode, tests and untraced functions never import it.
 * Logs never carry credentials: callers log codes and hashes, never headers or bodies.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import type { Tracer } from '@aws-lambda-powertools/tracer';
import type { captureLambdaHandler } from '@aws-lambda-powertools/tracer/middleware';
import type { MiddlewareObj } from '@middy/core';
import { config } from './config.js';

/** Powertools' own rule: on in Lambda, off under SAM or Amplify mocks or when switched off. */
export function tracingEnabled(env: NodeJS.ProcessEnv = process.env): boolean {
  if ((env.POWERTOOLS_TRACE_ENABLED ?? '').toLowerCase() === 'false') return false;
  if (env.AWS_SAM_LOCAL || env.AWS_EXECUTION_ENV === 'AWS_Lambda_amplify-mock') return false;
  return Boolean(env.AWS_EXECUTION_ENV);
}

/**
 * The tracer and its middleware when tracing is on, else undefined: nothing of them or of the X-Ray
 * SDK is evaluated, and in a deployed bundle not even parsed (infra/bundling LAZY_PACKAGES).
 */
const lazyTracer: { tracer: Tracer; capture: typeof captureLambdaHandler } | undefined = tracingEnabled()
  ? await Promise.all([import('@aws-lambda-powertools/tracer'), import('@aws-lambda-powertools/tracer/middleware')]).then(
      ([{ Tracer }, { captureLambdaHandler }]) => ({ tracer: new Tracer({ serviceName: 'tollgate' }), capture: captureLambdaHandler }),
    )
  : undefined;

export const tracer: Tracer | undefined = lazyTracer?.tracer;

/** An AWS SDK v3 client, traced when tracing is on. */
export const instrumented = <T>(client: T): T => (tracer ? (tracer.captureAWSv3Client(client as never) as T) : client);

/** The handler's tracing middleware (the invocation's segment) when tracing is on; none otherwise. */
export const tracing = (): MiddlewareObj[] => (lazyTracer ? [lazyTracer.capture(lazyTracer.tracer, { captureResponse: false })] : []);

let currentLogger: Logger | undefined;
export function logger(): Logger {
  if (!currentLogger) {
    const level = config().logLevel;
    currentLogger = new Logger({ serviceName: 'tollgate', logLevel: level });
  }
  return currentLogger;
}

/** Runs `fn` inside a named X-Ray subsegment when tracing is on; otherwise just runs it. */
export async function traced<T>(name: string, fn: () => Promise<T>): Promise<T> {
  const parent = tracer?.getSegment();
  if (!parent) return fn();
  const sub = parent.addNewSubsegment(name);
  try {
    return await fn();
  } catch (e) {
    sub.addError(e as Error);
    throw e;
  } finally {
    sub.close();
  }
}
