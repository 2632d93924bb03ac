/**
 * A fresh table per test file on the shared DynamoDB Local, with the process configured to use
 * it: config, document client and a new cached reader.
 */
import { randomUUID } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { inject } from 'vitest';
import { setConfig, type Config } from '../../lib/config.js';
import { createDocumentClient, setDocumentClient } from '../../lib/store/client.js';
import { resetEntityReader } from '../../lib/store/index.js';
import { ensureTable } from '../../lib/store/schema.js';
import { setAuthorizerDeps } from '../../lib/authorizer/deps.js';

export interface TestTable {
  endpoint: string;
  tableName: string;
  config: Config;
}

export async function useTestTable(env: Record<string, string | undefined> = {}): Promise<TestTable> {
  const endpoint = inject('dynamoEndpoint');
  const tableName = `t-${randomUUID().slice(0, 8)}`;
  const config = setConfig({
    TOLLGATE_TABLE_NAME: tableName,
    TOLLGATE_DYNAMODB_ENDPOINT: endpoint,
    TOLLGATE_LOG_LEVEL: 'SILENT',
    ...env,
  });
  const raw = new DynamoDBClient({ endpoint, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
  await ensureTable(raw, tableName);
  raw.destroy();
  setDocumentClient(createDocumentClient({ endpoint, region: 'us-east-1' }));
  resetEntityReader();
  setAuthorizerDeps(undefined);
  return { endpoint, tableName, config };
}

/** Re-reads the configuration with changes (and drops the cached reader and deps). */
export function reconfigure(base: Config, env: Record<string, string | undefined>): Config {
  const c = setConfig({
    TOLLGATE_TABLE_NAME: base.tableName,
    TOLLGATE_DYNAMODB_ENDPOINT: base.dynamoEndpoint,
    TOLLGATE_LOG_LEVEL: 'SILENT',
    ...env,
  });
  resetEntityReader();
  setAuthorizerDeps(undefined);
  return c;
}
