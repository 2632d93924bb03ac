/**
 * Tracing and logging, one instance each per process. The tracer switches itself off outside
 * Lambda (no AWS_EXECUTION_ENV), so local mode and tests pay nothing for it.
 * Logs never carry credentials: callers log codes and hashes, never headers or bodies.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { Tracer } from '@aws-lambda-powertools/tracer';
import { config } from './config.js';

export const tracer = new Tracer({ serviceName: 'tollgate' });

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
  const parent = tracer.isTracingEnabled() ? tracer.getSegment() : undefined;
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
