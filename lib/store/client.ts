/**
 * The DynamoDB document client (lib/app builds one per instance), traced by the Powertools tracer
 * (every SDK call becomes a subsegment). Every store call fails within its deadline, so a frozen
 * or unreachable DynamoDB answers 503 `store_unavailable` instead of holding the request until the
 * Lambda times out: each attempt ends after `timeoutMs` (connecting after at most half of it),
 * its response body included (lib/store/attempt-deadline: the HTTP handler's own timeout stops at
 * the headers), and a call makes at most `maxAttempts`, so with the defaults (2000 ms, 2) a call
 * fails after about 4.1 s.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { config } from '../config.js';
import { instrumented } from '../telemetry.js';
import { type AttemptTimeouts, boundAttempts, boundedClientConfig } from './attempt-deadline.js';

export type StoreTimeouts = AttemptTimeouts;

export function createDocumentClient(opts: {
  endpoint?: string | undefined;
  region: string;
  timeouts?: StoreTimeouts;
}): DynamoDBDocumentClient {
  const timeouts = opts.timeouts ?? config().store;
  const base = new DynamoDBClient({
    region: opts.region,
    ...boundedClientConfig(timeouts),
    ...(opts.endpoint ? { endpoint: opts.endpoint, credentials: { accessKeyId: 'local', secretAccessKey: 'local' } } : {}),
  });
  boundAttempts(base, timeouts.timeoutMs);
  return DynamoDBDocumentClient.from(instrumented(base), {
    marshallOptions: { removeUndefinedValues: true, convertClassInstanceToMap: false },
  });
}

export const tableName = (): string => config().tableName;
