/**
 * The local poller (infra/local/table-stream.ts): it polls again at once while a pass reads
 * records, but a batch a consumer keeps failing is retried at the poll period, not in a busy loop;
 * a table made again is followed to its new stream.
 */
import { DeleteTableCommand, DescribeTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { BatchWriteCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import type { DynamoDBRecord } from 'aws-lambda';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startTableStream, type TableStream } from '../../../infra/local/table-stream.js';
import { documentClient } from '../../../lib/app/index.js';
import { tableName } from '../../../lib/store/client.js';
import { ensureTable } from '../../../lib/store/schema.js';
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

it('gathers batches as the mapping does: a full batch at once, the rest once the window has passed since its first record', async () => {
  await settled('gather', 230);
  const windowMs = 1_500;
  const batches: { ids: (string | undefined)[]; at: number }[] = [];
  stream = await startTableStream({
    endpoint: table.endpoint,
    tableName: table.tableName,
    consumers: [
      async (records) => {
        batches.push({ ids: idsOf(records), at: Date.now() });
        return {};
      },
    ],
    everyMs: 100,
    windowMs,
  });
  await expect.poll(() => batches.flatMap((b) => b.ids).filter((id) => id?.startsWith('gather-')).length, { timeout: 15_000 }).toBe(230);
  await stream.stop();
  stream = undefined;
  // Everything on the stream so far (the earlier tests' records too), in order, each once.
  const ids = batches.flatMap((b) => b.ids);
  expect(new Set(ids).size).toBe(ids.length);
  expect(ids.filter((id) => id?.startsWith('gather-'))).toEqual(Array.from({ length: 230 }, (_, i) => `gather-${i}`));
  // Full batches while the backlog lasts, then the remainder, held for the window.
  const last = batches.at(-1) as { ids: unknown[]; at: number };
  expect(batches.slice(0, -1).map((b) => b.ids.length)).toEqual(Array(batches.length - 1).fill(100));
  expect(last.ids.length).toBeLessThan(100);
  expect(last.at - (batches.at(-2) as { at: number }).at).toBeGreaterThanOrEqual(windowMs);
});

it('drain hands over a gathering batch at once, and stop hands over what it holds', async () => {
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
    everyMs: 100,
    windowMs: 600_000,
  });
  // The backlog of the earlier tests comes in full batches; what follows is held for the window.
  await settled('held', 3);
  await new Promise((r) => setTimeout(r, 1_000));
  expect(seen).toEqual([]);
  await stream.drain();
  expect(seen).toEqual(['held-0', 'held-1', 'held-2']);

  await settled('held-late', 2);
  await new Promise((r) => setTimeout(r, 1_000));
  expect(seen).toHaveLength(3);
  await stream.stop();
  stream = undefined;
  expect(seen).toEqual(['held-0', 'held-1', 'held-2', 'held-late-0', 'held-late-1']);
});

it('a batch that failed is handed over again from its failed record at the next poll, without waiting for a window again', async () => {
  const windowMs = 3_000;
  let failedAt = 0;
  let passedAt = 0;
  stream = await startTableStream({
    endpoint: table.endpoint,
    tableName: table.tableName,
    consumers: [
      async (records) => {
        const ids = idsOf(records).filter((id) => id?.startsWith('again-'));
        if (ids.length === 0) return {};
        if (!failedAt) {
          failedAt = Date.now();
          return { failedAt: records.find((r) => idsOf([r])[0] === 'again-0')?.dynamodb?.SequenceNumber };
        }
        passedAt ||= Date.now();
        return {};
      },
    ],
    everyMs: 100,
    windowMs,
  });
  await settled('again', 3);
  await expect.poll(() => passedAt, { timeout: 15_000 }).toBeGreaterThan(0);
  await stream.stop();
  stream = undefined;
  // Gathered once for the window; read again and handed over at the next poll, not a window later.
  expect(passedAt - failedAt).toBeLessThan(windowMs);
});

it('a table deleted and made again is followed: its new stream is read from its start, the old one left', async () => {
  const seen: (string | undefined)[] = [];
  const followed: string[] = [];
  stream = await startTableStream({
    endpoint: table.endpoint,
    tableName: table.tableName,
    consumers: [
      async (records) => {
        seen.push(...idsOf(records));
        return {};
      },
    ],
    everyMs: 100,
    windowMs: 0,
    onFollow: (arn) => followed.push(arn),
  });
  await settled('before', 2);
  await expect.poll(() => seen.filter((id) => id?.startsWith('before-')), { timeout: 15_000 }).toEqual(['before-0', 'before-1']);
  const raw = new DynamoDBClient({
    endpoint: table.endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  const old = (await raw.send(new DescribeTableCommand({ TableName: table.tableName }))).Table?.LatestStreamArn;
  await raw.send(new DeleteTableCommand({ TableName: table.tableName }));
  await ensureTable(raw, table.tableName, undefined, { stream: true });
  raw.destroy();
  seen.length = 0;
  await settled('after', 2);
  await expect.poll(() => seen, { timeout: 15_000 }).toEqual(['after-0', 'after-1']);
  expect(followed).toHaveLength(1);
  expect(followed[0]).not.toBe(old);
  await stream.stop();
  stream = undefined;
});
