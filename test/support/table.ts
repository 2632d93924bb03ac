/**
 * A fresh table per test file on the shared DynamoDB Local, with the process configured to use
 * it through the app's wiring (lib/app): everything is rebuilt from the new configuration.
 */
import { randomUUID } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { inject } from 'vitest';
import { configureApp, resetApp } from '../../lib/app/index.js';
import type { Config } from '../../lib/config.js';
import { ensureTable } from '../../lib/store/schema.js';

export interface TestTable {
  endpoint: string;
  tableName: string;
  config: Config;
}

/** `stream`: the table gets its stream (tests of spend logs and alerts read it); off otherwise, as it slows DynamoDB Local. */
export async function useTestTable(env: Record<string, string | undefined> = {}, opts: { stream?: boolean } = {}): Promise<TestTable> {
  const endpoint = inject('dynamoEndpoint');
  const tableName = `t-${randomUUID().slice(0, 8)}`;
  resetApp();
  const config = configureApp({
    // One DynamoDB Local serves every test file at once: a deadline for a busy machine, not the
    // production one (tests of the deadline itself set theirs: store-frozen, never-lost).
    config: {
      TOLLGATE_TABLE_NAME: tableName,
      TOLLGATE_DYNAMODB_ENDPOINT: endpoint,
      TOLLGATE_LOG_LEVEL: 'SILENT',
      TOLLGATE_STORE_TIMEOUT_MS: '8000',
      ...env,
    },
  });
  const raw = new DynamoDBClient({ endpoint, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
  await ensureTable(raw, tableName, undefined, { stream: opts.stream ?? false });
  raw.destroy();
  return { endpoint, tableName, config };
}

/** Re-reads the configuration with changes (and drops the cached reader and deps). */
export function reconfigure(base: Config, env: Record<string, string | undefined>): Config {
  return configureApp({
    config: { TOLLGATE_TABLE_NAME: base.tableName, TOLLGATE_DYNAMODB_ENDPOINT: base.dynamoEndpoint, TOLLGATE_LOG_LEVEL: 'SILENT', ...env },
  });
}
