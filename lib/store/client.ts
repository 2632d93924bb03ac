/**
 * The DynamoDB document client (lib/app builds one per instance), traced by the Powertools tracer
 * (every SDK call becomes a subsegment). Every store call fails within its deadline, so a frozen
 * or unreachable DynamoDB answers 503 `store_unavailable` instead of holding the request until the
 * Lambda times out: each attempt ends after `timeoutMs` (connecting after at most half of it) and
 * a call makes at most `maxAttempts`, so with the defaults (2000 ms, 2) a call fails after about
 * 4.1 s. The installed HTTP handler only warns when a request times out unless
 * `throwOnRequestTimeout` is set.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { config } from '../config.js';
import { instrumented } from '../telemetry.js';

export interface StoreTimeouts {
  timeoutMs: number;
  maxAttempts: number;
}

export function createDocumentClient(opts: {
  endpoint?: string | undefined;
  region: string;
  timeouts?: StoreTimeouts;
}): DynamoDBDocumentClient {
  const { timeoutMs, maxAttempts } = opts.timeouts ?? config().store;
  const base = new DynamoDBClient({
    region: opts.region,
    maxAttempts,
    requestHandler: { connectionTimeout: Math.ceil(timeoutMs / 2), requestTimeout: timeoutMs, throwOnRequestTimeout: true },
    ...(opts.endpoint ? { endpoint: opts.endpoint, credentials: { accessKeyId: 'local', secretAccessKey: 'local' } } : {}),
  });
  return DynamoDBDocumentClient.from(instrumented(base), {
    marshallOptions: { removeUndefinedValues: true, convertClassInstanceToMap: false },
  });
}

export const tableName = (): string => config().tableName;
