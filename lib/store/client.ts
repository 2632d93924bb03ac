/**
 * The DynamoDB document client, one per process, traced by the Powertools tracer (every SDK
 * call becomes a subsegment). Timeouts are short: the authorizer must fail fast and closed.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { config } from '../config.js';
import { tracer } from '../telemetry.js';

let client: DynamoDBDocumentClient | undefined;

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

export function documentClient(): DynamoDBDocumentClient {
  if (!client) {
    const c = config();
    client = createDocumentClient({ endpoint: c.dynamoEndpoint, region: c.region });
  }
  return client;
}

/** Tests and the local gateway point the process at another client. */
export function setDocumentClient(next: DynamoDBDocumentClient | undefined): void {
  client = next;
}

export const tableName = (): string => config().tableName;
