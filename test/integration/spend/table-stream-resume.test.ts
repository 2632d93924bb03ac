/**
 * The local poller (infra/local/table-stream.ts) resumes where it was when its shard iterator
 * fails: found with DynamoDB Local, an iterator unused for 15 minutes (a reader paused, a laptop
 * asleep) answers ExpiredIteratorException (measured: 16 minutes), and the poller kept asking
 * with it, adding nothing for good. Here one iterator is made to answer so, as DynamoDB Local does.
 */
import { DynamoDBStreamsClient, GetRecordsCommand } from '@aws-sdk/client-dynamodb-streams';
import { BatchWriteCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
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
  vi.restoreAllMocks();
  await stream?.stop();
});

async function settled(ids: string[]): Promise<void> {
  await documentClient().send(
    new BatchWriteCommand({
      RequestItems: {
        [tableName()]: ids.map((id) => ({
          PutRequest: { Item: { PK: `REQ#${id}`, SK: 'SETTLEMENT', kind: 'settlement', state: 'settled', request_id: id } },
        })),
      },
    }),
  );
}

it('an iterator that fails is dropped: the poller resumes after the last record it read, nothing skipped, nothing read twice', async () => {
  const expired = new Set<string>();
  let expireNext = false;
  const send = DynamoDBStreamsClient.prototype.send;
  vi.spyOn(DynamoDBStreamsClient.prototype, 'send').mockImplementation(function (this: DynamoDBStreamsClient, command: unknown) {
    if (command instanceof GetRecordsCommand) {
      const iterator = command.input.ShardIterator as string;
      if (expireNext) {
        expireNext = false;
        expired.add(iterator);
      }
      if (expired.has(iterator)) return Promise.reject(Object.assign(new Error('Iterator expired'), { name: 'ExpiredIteratorException' }));
    }
    return (send as (c: unknown) => Promise<unknown>).call(this, command);
  } as never);
  const seen: string[] = [];
  const errors: string[] = [];
  stream = await startTableStream({
    endpoint: table.endpoint,
    tableName: table.tableName,
    consumers: [
      async (records) => {
        seen.push(...records.map((r) => r.dynamodb?.NewImage?.request_id?.S as string));
        return {};
      },
    ],
    everyMs: 100,
    windowMs: 0,
    onError: (e) => errors.push((e as Error).name),
  });
  await settled(['before-0', 'before-1']);
  await expect.poll(() => seen, { timeout: 15_000 }).toEqual(['before-0', 'before-1']);
  expireNext = true;
  await expect.poll(() => errors.length, { timeout: 15_000 }).toBeGreaterThan(0);
  await settled(['after-0', 'after-1']);
  await expect.poll(() => seen, { timeout: 15_000 }).toEqual(['before-0', 'before-1', 'after-0', 'after-1']);
  expect(errors[0]).toBe('ExpiredIteratorException');
});
