/**
 * A table on a DynamoDB Local of the test file's own (one it may pause, kill or restart without
 * stalling the other files, which share one), with the app configured to use it.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { LocalDynamo } from '../../infra/local/dynamodb.js';
import { configureApp, resetApp } from '../../lib/app/index.js';
import { ensureTable } from '../../lib/store/schema.js';

export async function useOwnTable(dynamo: LocalDynamo, tableName: string, env: Record<string, string>): Promise<void> {
  resetApp();
  configureApp({
    config: { TOLLGATE_TABLE_NAME: tableName, TOLLGATE_DYNAMODB_ENDPOINT: dynamo.endpoint, TOLLGATE_LOG_LEVEL: 'SILENT', ...env },
  });
  const raw = new DynamoDBClient({
    endpoint: dynamo.endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'l', secretAccessKey: 'l' },
  });
  await ensureTable(raw, tableName);
  raw.destroy();
}
