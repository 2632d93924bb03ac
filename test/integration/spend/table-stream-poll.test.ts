/**
 * The local poller (infra/local/table-stream.ts): it polls again at once while a pass reads
 * records, but a batch a consumer keeps failing is retried at the poll period, not in a busy loop.
 */
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startTableStream, type TableStream } from '../../../infra/local/table-stream.js';
import { documentClient } from '../../../lib/app/index.js';
import { tableName } from '../../../lib/store/client.js';
import { type TestTable, useTestTable } from '../../support/table.js';

let table: TestTable;
let stream: TableStream | undefined;

beforeAll(async () => {
  table = await useTestTable({}, { stream: true });
});
afterAll(async () => {
  await stream?.stop();
});

it('retries a failing batch every poll period, not at once', async () => {
  await documentClient().send(
    new PutCommand({
      TableName: tableName(),
      Item: { PK: 'REQ#poll-1', SK: 'SETTLEMENT', kind: 'settlement', state: 'settled', request_id: 'poll-1' },
    }),
  );
  let calls = 0;
  stream = await startTableStream({
    endpoint: table.endpoint,
    tableName: table.tableName,
    consumers: [
      async (records) => {
        calls++;
        return { failedAt: records[0]?.dynamodb?.SequenceNumber };
      },
    ],
    everyMs: 200,
  });
  await new Promise((r) => setTimeout(r, 1_500));
  await stream.stop();
  stream = undefined;
  // About 1,500 / 200 passes; a busy loop makes hundreds.
  expect(calls).toBeGreaterThan(0);
  expect(calls).toBeLessThanOrEqual(10);
});
