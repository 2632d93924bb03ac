/**
 * The table stream's consumers together (lib/spend/stream): counters first, then spend logs,
 * alerts and the export over what the counters got through.
 */
import { marshall } from '@aws-sdk/util-dynamodb';
import type { DynamoDBRecord } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import type { SpendLog } from '../../../lib/domain/spend-log.js';
import { afterward, counterConsumer, ledgerRecordOf, type StreamConsumer, spendLogConsumer } from '../../../lib/spend/stream.js';
import { SPEND_LOG_ATTR } from '../../../lib/store/spend-ledger.js';
import type { SpendLogStore } from '../../../lib/store/spend-logs.js';
import { spendLogFixture } from '../../support/spend-log.js';

const NOW = Date.parse('2026-12-05T12:00:00.000Z');
const record = (seq: string, ageMs: number): DynamoDBRecord => ({
  eventName: 'INSERT',
  dynamodb: { SequenceNumber: seq, ApproximateCreationDateTime: (NOW - ageMs) / 1000 },
});

/** A consumer that fails at every record in `failing`, and notes what it went through. */
function consumer(failing: ReadonlySet<string>, seen: string[]): StreamConsumer {
  return async (records) => {
    for (const r of records) {
      const seq = r.dynamodb?.SequenceNumber as string;
      if (failing.has(seq)) return { failedAt: seq };
      seen.push(seq);
    }
    return {};
  };
}

describe('counters first, then the rest', () => {
  /** A clock the test moves. */
  const clock = () => {
    let t = NOW;
    return { now: () => t, pass: (ms: number) => (t += ms) };
  };

  it('a failure after the counters is retried from its record', async () => {
    const counted: string[] = [];
    const logged: string[] = [];
    const run = afterward(consumer(new Set(), counted), [consumer(new Set(['2']), logged)], { now: () => NOW });
    const out = await run([record('1', 60_000), record('2', 60_000), record('3', 60_000)]);
    expect(out.failedAt).toBe('2');
    expect(counted).toEqual(['1', '2', '3']);
    expect(logged).toEqual(['1']);
  });

  it('a record an alert or a spend log keeps failing on does not hold the counters of every later record: given up on after a while, the rest go on', async () => {
    // A Slack webhook deleted: every alert delivery fails, for good. The stream retries a failed
    // batch until it lands (counters), so without giving up the shard would wait 24 hours, and
    // the counters of everything behind it with it.
    const counted: string[] = [];
    const logged: string[] = [];
    const c = clock();
    const run = afterward(consumer(new Set(), counted), [consumer(new Set(['2']), logged)], { now: c.now });
    const batch = [record('1', 60_000), record('2', 60_000), record('3', 60_000)];
    expect((await run(batch)).failedAt).toBe('2');
    c.pass(61 * 60_000);
    expect((await run(batch)).failedAt).toBeUndefined();
    expect(logged).toEqual(['1', '1', '3']);
  });

  it('"after a while" is an hour of failing (docs/spend.md): retried at 59 minutes, passed over at 61', async () => {
    const c = clock();
    const run = afterward(consumer(new Set(), []), [consumer(new Set(['1']), [])], { now: c.now });
    expect((await run([record('1', 0)])).failedAt).toBe('1');
    c.pass(59 * 60_000);
    expect((await run([record('1', 0)])).failedAt).toBe('1');
    c.pass(2 * 60_000);
    expect((await run([record('1', 0)])).failedAt).toBeUndefined();
  });

  it('an old record failing for the first time (the counters held it through an outage) is retried, not passed over (found by review)', async () => {
    const c = clock();
    const run = afterward(consumer(new Set(), []), [consumer(new Set(['1']), [])], { now: c.now });
    expect((await run([record('1', 20 * 3_600_000)])).failedAt).toBe('1');
    c.pass(30 * 60_000);
    expect((await run([record('1', 20 * 3_600_000)])).failedAt).toBe('1');
  });

  it('a record that went through is forgotten: failing again later, it has its hour again', async () => {
    const c = clock();
    const failing = new Set(['1']);
    const run = afterward(consumer(new Set(), []), [consumer(failing, [])], { now: c.now });
    expect((await run([record('1', 0)])).failedAt).toBe('1');
    c.pass(50 * 60_000);
    failing.clear();
    expect((await run([record('1', 0)])).failedAt).toBeUndefined();
    failing.add('1');
    c.pass(20 * 60_000);
    expect((await run([record('1', 0)])).failedAt).toBe('1');
  });

  it('the counters themselves are never given up on, however long they fail', async () => {
    const counted: string[] = [];
    const logged: string[] = [];
    const c = clock();
    const run = afterward(consumer(new Set(['2']), counted), [consumer(new Set(), logged)], { now: c.now });
    const batch = [record('1', 20 * 3_600_000), record('2', 20 * 3_600_000), record('3', 20 * 3_600_000)];
    expect((await run(batch)).failedAt).toBe('2');
    c.pass(3 * 3_600_000);
    expect((await run(batch)).failedAt).toBe('2');
    expect(logged).toEqual(['1', '1']);
  });
});

describe('ledger records from the stream', () => {
  const settled = (seq: string, requestId: string, moves: string, log?: string): DynamoDBRecord => ({
    eventName: 'INSERT',
    dynamodb: {
      SequenceNumber: seq,
      NewImage: marshall({
        PK: `REQ#${requestId}`,
        SK: 'SETTLEMENT',
        kind: 'settlement',
        state: 'settled',
        created_at: new Date(NOW).toISOString(),
        counter_moves: moves,
        ...(log === undefined ? {} : { [SPEND_LOG_ATTR]: log }),
      }) as never,
    },
  });
  const good = (n: number) => `{"s":${n},"c":${n},"m":[["KEY#k","KEY",0]]}`;

  it('one that cannot be read is a clear error naming it, and does not stop the batch (it would fail every time)', async () => {
    const applied: string[][] = [];
    const run = counterConsumer(async (records) => {
      applied.push(records.map((r) => r.requestId));
    });
    const out = await run([settled('1', 'a', good(5)), settled('2', 'b', '{"s":1,"c":1,"m":[["KEY#k"]]}'), settled('3', 'c', good(7))]);
    expect(out.failedAt).toBeUndefined();
    expect(applied).toEqual([['a', 'c']]);
  });

  it('a record the store refuses every time holds itself and those behind it, never the records before it (they are added alone)', async () => {
    const applied: string[] = [];
    const run = counterConsumer(async (records) => {
      if (records.some((r) => r.requestId === 'b')) throw new Error('ValidationError: an operand has the wrong type');
      applied.push(...records.map((r) => r.requestId));
    });
    const out = await run([settled('1', 'a', good(5)), settled('2', 'b', good(6)), settled('3', 'c', good(7))]);
    expect(out.failedAt).toBe('2');
    expect(applied).toEqual(['a']);
  });

  it('a batch refused whole and then taken record by record (the refusal passed) holds nothing; one refused alone is where the stream resumes', async () => {
    let calls = 0;
    const applied: string[] = [];
    const flaky = counterConsumer(async (records) => {
      if (calls++ === 0) throw new Error('throttled');
      applied.push(...records.map((r) => r.requestId));
    });
    expect(await flaky([settled('1', 'a', good(5)), settled('2', 'b', good(6))])).toEqual({});
    expect(applied).toEqual(['a', 'b']);
    const down = counterConsumer(async () => {
      throw new Error('store unavailable');
    });
    expect((await down([settled('1', 'a', good(5)), settled('2', 'b', good(6))])).failedAt).toBe('1');
    expect((await down([settled('4', 'd', good(5))])).failedAt).toBe('4');
  });

  it("brings its spend log's rollup rows with its moves (one marker for both); a log that cannot be read leaves the moves, and the spend logs roll nothing up twice", async () => {
    const log = JSON.stringify(
      spendLogFixture({
        request_id: 'a',
        api_key: 'k',
        team_id: 't',
        prompt_tokens: 3,
        completion_tokens: 4,
        total_tokens: 7,
        spend: 0.000005,
        startTime: new Date(NOW).toISOString(),
      }),
    );
    const withLog = ledgerRecordOf(settled('1', 'a', good(5000), log));
    expect(withLog?.moves).toHaveLength(1);
    expect(withLog?.rollups?.map((r) => r.labels.group).sort()).toEqual(['api_key', 'model', 'team']);
    expect(withLog?.rollups?.every((r) => r.spendNanos === 5000 && r.requests === 1)).toBe(true);
    for (const unreadable of [
      'not json',
      '{"request_id":5}',
      log.replace('0.000005', '"x"'),
      log.replace('"prompt_tokens":3', '"prompt_tokens":-3'),
      log.replace('"gpt-4o-mini"', '""'),
      log.replace('"request_tags":[]', `"request_tags":${JSON.stringify(Array.from({ length: 120 }, (_, i) => `t${i}`))}`),
    ]) {
      const r = ledgerRecordOf(settled('2', 'b', good(7), unreadable));
      expect([unreadable, r?.moves.length, r?.rollups]).toEqual([unreadable, 1, undefined]);
    }
    expect(ledgerRecordOf(settled('3', 'c', good(7)))?.rollups).toBeUndefined();
    // A caller's own `user` (an end user id, 256 characters), each lone surrogate written `\udxxx`
    // in JSON: its row's key would be over the 1,024 bytes DynamoDB takes, so it is a digest; the
    // row still names the id, and rides with the counters.
    const longId = '\ud800'.repeat(256);
    const long = ledgerRecordOf(settled('4', 'd', good(7), log.replace('"end_user":null', `"end_user":${JSON.stringify(longId)}`)));
    const customer = long?.rollups?.find((r) => r.labels.group === 'customer');
    expect(customer?.labels.id).toBe(longId);
    expect(customer?.ref.SK).toMatch(/^#sha256:[0-9a-f]{64}$/);
    expect(long?.rollups?.filter((r) => r.labels.group !== 'customer').every((r) => r.ref.SK.startsWith('['))).toBe(true);

    // The spend logs' consumer indexes every log, and rolls up only those the counters did not.
    const calls: [string[], string[]][] = [];
    const store = {
      applyMany: async (logs: readonly SpendLog[], rollUp: readonly SpendLog[] = logs) => {
        calls.push([logs.map((l) => l.request_id), rollUp.map((l) => l.request_id)]);
      },
    } as unknown as SpendLogStore;
    const transactionLayout: DynamoDBRecord = {
      eventName: 'INSERT',
      dynamodb: {
        SequenceNumber: '4',
        NewImage: marshall({
          PK: 'REQ#d',
          SK: 'SETTLEMENT',
          kind: 'settlement',
          state: 'settled',
          [SPEND_LOG_ATTR]: log.replace('"a"', '"d"'),
        }) as never,
      },
    };
    await spendLogConsumer(() => store)([settled('1', 'a', good(5000), log), transactionLayout]);
    expect(calls).toEqual([[['a', 'd'], ['d']]]);

    // A batch the store refuses: written one by one up to the record that fails, which is where
    // the stream resumes (and the one a give-up would pass over), not the batch's first.
    const written: string[] = [];
    const refusing = {
      applyMany: async (logs: readonly SpendLog[]) => {
        if (logs.some((l) => l.request_id === 'bad')) throw new Error('ValidationException');
        written.push(...logs.map((l) => l.request_id));
      },
    } as unknown as SpendLogStore;
    const plain = (seq: string, id: string): DynamoDBRecord => ({
      eventName: 'INSERT',
      dynamodb: {
        SequenceNumber: seq,
        NewImage: marshall({
          PK: `REQ#${id}`,
          SK: 'SETTLEMENT',
          kind: 'settlement',
          state: 'settled',
          [SPEND_LOG_ATTR]: log.replace('"a"', `"${id}"`),
        }) as never,
      },
    });
    const out = await spendLogConsumer(() => refusing)([plain('10', 'e'), plain('11', 'f'), plain('12', 'bad'), plain('13', 'g')]);
    expect(out).toEqual({ failedAt: '12' });
    expect(written).toEqual(['e', 'f']);
  });

  it('a settlement whose log cannot be read does not hold the stream: its counters are added, the other logs indexed', async () => {
    const applied: string[][] = [];
    const indexed: string[][] = [];
    const store = {
      applyMany: async (logs: readonly SpendLog[]) => {
        indexed.push(logs.map((l) => l.request_id));
      },
    } as unknown as SpendLogStore;
    const run = afterward(
      counterConsumer(async (records) => {
        applied.push(records.map((r) => r.requestId));
      }),
      [spendLogConsumer(() => store)],
    );
    const out = await run([
      settled('1', 'a', good(5), 'not json'),
      settled('2', 'b', good(7), '{"request_id":"b","startTime":"2026-01-01T00:00:00.000Z"}'),
    ]);
    expect(out.failedAt).toBeUndefined();
    expect(applied).toEqual([['a', 'b']]);
    expect(indexed).toEqual([['b']]);
  });
});
