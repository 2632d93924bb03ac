/**
 * A settled record whose spend log cannot be read is passed over by every consumer of logs
 * (index and rollups, alerts, export), its counters added all the same; and a consumer that
 * throws fails its batch from the first record instead of failing the invocation, so the stream
 * retries it and, in time, passes it over (found by review: the alert and export consumers threw,
 * which held the stream and every counter behind the record).
 */
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import type { DynamoDBRecord } from 'aws-lambda';
import { beforeAll, describe, expect, it } from 'vitest';
import { startTableStream } from '../../../infra/local/table-stream.js';
import { alertConsumer } from '../../../lib/alerts/consume.js';
import { alertDeps, spendLogStore, tableStreamConsumers } from '../../../lib/app/index.js';
import { packLog } from '../../../lib/domain/spend-log.js';
import { exportConsumer } from '../../../lib/spend/export.js';
import { afterward, consumeAll, type StreamConsumer, spendLogConsumer } from '../../../lib/spend/stream.js';
import { packMoves } from '../../../lib/store/counter-ledger.js';
import { refs } from '../../../lib/store/keys.js';
import { put, seedTeam } from '../../support/seed.js';
import { spendNanos } from '../../support/spend.js';
import { spendLogFixture } from '../../support/spend-log.js';
import { useTestTable } from '../../support/table.js';

/** Spend logs no consumer can read: not JSON, JSON of no log. */
const UNREADABLE = ['{not json', 'null', '[]', '"text"'];

let seq = 1000;
/** A settled ledger record adding `nanos` to a team, with the spend log given, written `agoS` seconds ago. */
function settled(requestId: string, teamId: string, nanos: number, spendLog: string, agoS = 0): DynamoDBRecord {
  const at = Date.now() - agoS * 1000;
  const item = {
    PK: `REQ#${requestId}`,
    SK: 'SETTLEMENT',
    kind: 'settlement',
    state: 'settled',
    created_at: new Date(at).toISOString(),
    counter_moves: packMoves([{ ref: refs.team(teamId), spendNanos: nanos, committedNanos: nanos, mustExist: true }], at),
    spend_log: spendLog,
  };
  return {
    eventName: 'INSERT',
    dynamodb: { SequenceNumber: String(seq++), ApproximateCreationDateTime: Math.floor(at / 1000), NewImage: marshall(item) as never },
  } as DynamoDBRecord;
}

beforeAll(async () => {
  await useTestTable({ TOLLGATE_SPEND_COUNTERS: 'stream' }, { stream: true });
  await seedTeam({ team_id: 't-unreadable' });
});

describe('an unreadable spend log', () => {
  const consumers: [string, () => StreamConsumer][] = [
    ['the spend-log index and rollups', () => spendLogConsumer(spendLogStore)],
    ['budget alerts', () => alertConsumer(alertDeps())],
    ['the export', () => exportConsumer(() => async () => undefined)],
  ];
  it.each(consumers.flatMap(([name, make]) => UNREADABLE.map((log) => [name, log, make] as const)))(
    '%s passes over a log of %j',
    async (_, log, make) => {
      await expect(make()([settled(`unreadable-${seq}`, 't-unreadable', 1, log)])).resolves.toEqual({});
    },
  );

  it('the whole table-stream function: the counters added, nothing failed', async () => {
    const before = await spendNanos(refs.team('t-unreadable'));
    for (const log of UNREADABLE)
      expect(await consumeAll(tableStreamConsumers(), [settled(`whole-${seq}`, 't-unreadable', 1_000, log)])).toBeUndefined();
    expect((await spendNanos(refs.team('t-unreadable'))) - before).toBe(1_000 * UNREADABLE.length);
  });
});

describe('a consumer that throws', () => {
  const boom: StreamConsumer = async () => {
    throw new Error('consumer defect');
  };

  it('fails the batch from its first record; it does not fail the invocation', async () => {
    const records = [settled(`boom-${seq}`, 't-unreadable', 1, '{}'), settled(`boom-${seq}`, 't-unreadable', 1, '{}')];
    await expect(consumeAll([boom], records)).resolves.toBe(records[0]?.dynamodb?.SequenceNumber);
  });

  it('after the counters: retried, then passed over once it has failed them for the give-up (an hour)', async () => {
    const record = settled(`failing-${seq}`, 't-unreadable', 1, '{}', 7_200);
    const counted: string[] = [];
    const counters: StreamConsumer = async (records) => {
      counted.push(...records.map((r) => String(r.dynamodb?.SequenceNumber)));
      return {};
    };
    let now = Date.now();
    const consumer = afterward(counters, [boom], { now: () => now });
    // Two hours old, failing for the first time: retried (found by review: it was passed over at once).
    expect(await consumeAll([consumer], [record])).toBe(record.dynamodb?.SequenceNumber);
    now += 61 * 60_000;
    expect(await consumeAll([consumer], [record])).toBeUndefined();
    expect(counted).toEqual([record.dynamodb?.SequenceNumber, record.dynamodb?.SequenceNumber]);
  });
});

it('with the local poller, the settlements behind an unreadable log are all counted', async () => {
  const t = await useTestTable({ TOLLGATE_SPEND_COUNTERS: 'stream' }, { stream: true });
  await seedTeam({ team_id: 't-behind' });
  const itemOf = (r: DynamoDBRecord) => unmarshall(r.dynamodb?.NewImage as never);
  await put(itemOf(settled('behind-bad', 't-behind', 1, '{not json')));
  // More than one GetRecords page (100) behind it.
  for (let i = 0; i < 120; i++)
    await put(itemOf(settled(`behind-${i}`, 't-behind', 1_000, packLog(spendLogFixture({ request_id: `behind-${i}` })))));
  const reader = await startTableStream({ endpoint: t.endpoint, tableName: t.tableName, consumers: tableStreamConsumers(), everyMs: 0 });
  try {
    await reader.drain();
  } finally {
    await reader.stop();
  }
  expect(await spendNanos(refs.team('t-behind'))).toBe(1 + 120 * 1_000);
}, 60_000);
