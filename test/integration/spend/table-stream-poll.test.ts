/**
 * The local poller (infra/local/table-stream.ts) batches as the deployed mapping does: batches of
 * at most the batch size, gathered over GetRecords calls, a short one handed over once its window
 * ends; it polls again at once while a shard has a backlog, but a batch a consumer keeps failing
 * is retried at the poll period, not in a busy loop.
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
    windowMs: 0,
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

it('hands a backlog over in full batches, gathered over several reads, and the rest once its window ends', async () => {
  // 230 records of which 115 pass the filter, after the one of the test above: three reads of
  // 100 hold what the first two full batches need.
  await settled('backlog', 115);
  const batches: (string | undefined)[][] = [];
  const handed: number[] = [];
  const started = Date.now();
  stream = await startTableStream({
    endpoint: table.endpoint,
    tableName: table.tableName,
    consumers: [
      async (records) => {
        batches.push(idsOf(records));
        handed.push(Date.now());
        return {};
      },
    ],
    everyMs: 50,
    batchSize: 40,
    windowMs: 1_500,
  });
  await expect.poll(() => batches.flat().length, { timeout: 10_000, interval: 50 }).toBe(116);
  await stream.stop();
  stream = undefined;
  // In stream order, each once; full batches of 40 at once, then the 36 left over in one, once the window ended.
  expect(batches.flat()).toEqual(['poll-1', ...Array.from({ length: 115 }, (_, i) => `backlog-${i}`)]);
  expect(batches.map((b) => b.length)).toEqual([40, 40, 36]);
  expect((handed[1] as number) - started).toBeLessThan(1_500);
  expect((handed[2] as number) - started).toBeGreaterThanOrEqual(1_500);
});

it('holds a short batch for its window; drain() hands it over at once', async () => {
  const seen: (string | undefined)[] = [];
  stream = await startTableStream({
    endpoint: table.endpoint,
    tableName: table.tableName,
    consumers: [
      async (records) => {
        seen.push(...idsOf(records).filter((id) => id?.startsWith('held-')));
        return {};
      },
    ],
    everyMs: 50,
    windowMs: 60_000,
  });
  await settled('held', 3);
  await new Promise((r) => setTimeout(r, 1_000));
  expect(seen).toEqual([]);
  await stream.drain();
  expect(seen).toEqual(['held-0', 'held-1', 'held-2']);
  await stream.stop();
  stream = undefined;
});
