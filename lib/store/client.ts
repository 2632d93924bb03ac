/**
 * The DynamoDB document client (lib/app builds one per instance), traced by the Powertools tracer (every SDK
 * call becomes a subsegment). Timeouts are short: the authorizer must fail fast and closed.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { config } from '../config.js';
import { tracer } from '../telemetry.js';

export function createDocumentClient(opts: { endpoint?: string | undefined; region: string }): DynamoDBDocumentClient {
  const base = new DynamoDBClient({
    region: opts.region,
    maxAttempts: 3,
    requestHandler: { connectionTimeout: 1000, requestTimeout: 3000 },
    ...(opts.endpoint ? { endpoint: opts.endpoint, credentials: { accessKeyId: 'local', secretAccessKey: 'local' } } : {}),
  });
  return DynamoDBDocumentClient.from(tracer.captureAWSv3Client(base), {
    marshallOptions: { removeUndefinedValues: true, convertClassInstanceToMap: false },
  });
}

export const tableName = (): string => config().tableName;
