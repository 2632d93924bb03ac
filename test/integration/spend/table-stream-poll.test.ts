/**
 * The local poller (infra/local/table-stream.ts): it polls again at once while a pass reads
 * records, but a batch a consumer keeps failing is retried at the poll period, not in a busy loop.
 */
import { BatchWriteCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import type { DynamoDBRecord } from 'aws-lambda';
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

/** Settled settlement items `REQ#<prefix>-<i>`, with other writes between them (the filter drops those). */
async function settled(prefix: string, n: number): Promise<void> {
  const items = Array.from({ length: n }, (_, i) => [
    { PK: `REQ#${prefix}-${i}`, SK: 'SETTLEMENT', kind: 'settlement', state: 'settled', request_id: `${prefix}-${i}` },
    { PK: `OTHER#${prefix}-${i}`, SK: 'X', kind: 'other' },
  ]).flat();
  for (let i = 0; i < items.length; i += 25)
    await documentClient().send(
      new BatchWriteCommand({ RequestItems: { [tableName()]: items.slice(i, i + 25).map((Item) => ({ PutRequest: { Item } })) } }),
    );
}

const idsOf = (batch: readonly DynamoDBRecord[]) => batch.map((r) => r.dynamodb?.NewImage?.request_id?.S);

it('a consumer that throws fails its batch, which is handed over again, nothing skipped', async () => {
  const seen: (string | undefined)[] = [];
  let throws = 1;
  stream = await startTableStream({
    endpoint: table.endpoint,
    tableName: table.tableName,
    consumers: [
      async (records) => {
        const ids = idsOf(records).filter((id) => id?.startsWith('thrown-'));
        if (ids.length > 0 && throws-- > 0) throw new Error('consumer down');
        seen.push(...ids);
        return {};
      },
    ],
    everyMs: 0,
  });
  await settled('thrown', 3);
  // The batch fails from its first record (the poller's drain does not fail), and is read again.
  await stream.drain();
  expect(seen).toEqual(['thrown-0', 'thrown-1', 'thrown-2']);
  await stream.stop();
  stream = undefined;
});
