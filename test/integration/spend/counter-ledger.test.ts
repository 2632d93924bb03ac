/**
 * Counters from the ledger (TOLLGATE_SPEND_COUNTERS=stream, issue 11): a fast settlement writes its
 * REQ# record alone, with its moves; the table's stream consumer adds them into the counters,
 * exactly once each, summed per item. Read here from DynamoDB Local's own stream.
 */
import { randomUUID } from 'node:crypto';
import { DeleteCommand, DynamoDBDocumentClient, GetCommand, type NumberValue, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import type { DynamoDBRecord } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MOCK_UPSTREAM_KEY, mockLocalSecrets, mockModels } from '../../../infra/local/mock-models.js';
import { type MockUpstream, startMockUpstream } from '../../../infra/local/mock-upstream.js';
import { matchesFilter, startTableStream, type TableStream } from '../../../infra/local/table-stream.js';
import { documentClient, entityReader, spendLogStore, spendSettler, tableStreamConsumers } from '../../../lib/app/index.js';
import { applyLedgerRecords } from '../../../lib/app/spend.js';
import type { Caller } from '../../../lib/domain/caller.js';
import { MAX_COST_NANOS } from '../../../lib/domain/cost.js';
import { packLog, type SpendLog } from '../../../lib/domain/spend-log.js';
import { counterConsumer, ledgerRecordOf, settledLogOf } from '../../../lib/spend/stream.js';
import { spendTargets } from '../../../lib/spend/targets.js';
import { createDocumentClient, tableName } from '../../../lib/store/client.js';
import { applyLedger, COUNTER_MARKER_PREFIX, COUNTER_MOVES_ATTR, packMoves } from '../../../lib/store/counter-ledger.js';
import { refs } from '../../../lib/store/keys.js';
import type { Settlement } from '../../../lib/store/spend-ledger.js';
import { SETTLED_RECORD_FILTER, SPEND_LOG_ATTR } from '../../../lib/store/spend-ledger.js';
import { ROLLED_MARKER, rollupAddsOf } from '../../../lib/store/spend-logs.js';
import { bearer } from '../../support/authorizer.js';
import { seedKey, seedTeam } from '../../support/seed.js';
import { countersOf, spendNanos } from '../../support/spend.js';
import { spendLogFixture } from '../../support/spend-log.js';
import { drainOnce } from '../../support/stream.js';
import { type TestTable, useTestTable } from '../../support/table.js';
import { call, chat, seedModels } from '../llm/harness.js';

let mock: MockUpstream;
let table: TestTable;
let stream: TableStream;

beforeAll(async () => {
  mock = await startMockUpstream({ apiKey: MOCK_UPSTREAM_KEY });
  table = await useTestTable(
    {
      TOLLGATE_LOCAL_SECRETS: JSON.stringify(mockLocalSecrets()),
      TOLLGATE_SPEND_COUNTERS: 'stream',
      TOLLGATE_SPEND_SHARDS: 'team=4,key=2',
    },
    { stream: true },
  );
  await seedModels(mockModels(mock.url));
  stream = await startTableStream({ endpoint: table.endpoint, tableName: table.tableName, consumers: tableStreamConsumers(), everyMs: 0 });
});
afterAll(async () => {
  await stream?.stop();
  await mock?.close();
});

async function keyTargets(token: string) {
  const key = await entityReader().key(token);
  const team = key?.team_id ? await entityReader().team(key.team_id) : undefined;
  const caller = { principal: 'virtual_key', role: 'internal_user', keyHash: token, teamId: key?.team_id, state: { key, team } } as Caller;
  return spendTargets(caller, { now: Date.now() }).filter((t) => t.entity === 'key' || t.entity === 'team');
}

/** A settled ledger record with its moves and log, as the table's stream delivers its insert. */
function ledgerStreamRecord(
  requestId: string,
  at: number,
  moves: Parameters<typeof packMoves>[0],
  log: SpendLog,
  seq: string,
): DynamoDBRecord {
  const item = {
    ...refs.settlement(requestId),
    kind: 'settlement',
    state: 'settled',
    created_at: new Date(at).toISOString(),
    [COUNTER_MOVES_ATTR]: packMoves(moves, at),
    [SPEND_LOG_ATTR]: packLog(log),
  };
  return { eventName: 'INSERT', dynamodb: { SequenceNumber: seq, NewImage: marshall(item) } } as unknown as DynamoDBRecord;
}

const settlementOf = (targets: Settlement['targets'], costNanos: number): Settlement => ({
  requestId: `req-ledger-${randomUUID()}`,
  at: Date.now(),
  costNanos,
  model: 'gpt-4o',
  targets,
});

describe('a fast settlement writes its record alone; the stream adds the counters, exactly once', () => {
  it('300 concurrent settlements over three keys of one team: nothing in the counters until the stream runs, then every counter exact', async () => {
    await seedTeam({ team_id: 't-ledger', max_budget: 1000, budget_duration: '1d' });
    const keys = await Promise.all([0, 1, 2].map(() => seedKey({ team_id: 't-ledger' })));
    const targets = await Promise.all(keys.map((k) => keyTargets(k.record.token)));
    const expected = [0, 0, 0];
    const all = Array.from({ length: 300 }, (_, i) => {
      const cost = 1_000 + i * 7;
      expected[i % 3] = (expected[i % 3] as number) + cost;
      return settlementOf(targets[i % 3] as Settlement['targets'], cost);
    });
    for (let i = 0; i < all.length; i += 32) {
      const outcomes = await Promise.all(all.slice(i, i + 32).map((s) => spendSettler().settle(s)));
      expect(outcomes.every((o) => o.status === 'settled')).toBe(true);
    }
    const total = expected.reduce((a, b) => a + b, 0);
    // The table's counters have not moved; this instance's cache followed its own settlements.
    expect(await countersOf(refs.team('t-ledger'))).toEqual({ spend: 0, committed: 0 });
    expect(Math.round(((await entityReader().team('t-ledger'))?.spend ?? 0) * 1e9)).toBe(total);
    const record = await documentClient().send(
      new GetCommand({ TableName: tableName(), Key: refs.settlement(all[0]?.requestId as string) }),
    );
    expect(typeof record.Item?.[COUNTER_MOVES_ATTR]).toBe('string');

    await stream.drain();
    expect(await countersOf(refs.team('t-ledger'))).toEqual({ spend: total, committed: total });
    expect((await countersOf(refs.team('t-ledger'), '1d')).window).toEqual({ spend: total, committed: total });
    for (const [i, k] of keys.entries()) expect(await spendNanos(refs.key(k.record.token))).toBe(expected[i]);

    // Every record delivered again (a new reader from the stream's start): nothing moves twice.
    await drainOnce(table, tableStreamConsumers());
    expect(await countersOf(refs.team('t-ledger'))).toEqual({ spend: total, committed: total });
    for (const [i, k] of keys.entries()) expect(await spendNanos(refs.key(k.record.token))).toBe(expected[i]);
  }, 120_000);

  it('a batch touching more items than a transaction holds is split, and every counter is still exact', async () => {
    // 40 teams with one key each: 40 markers and 80 counter items, more than the 100 of one transaction.
    const seeded = await Promise.all(
      Array.from({ length: 40 }, async (_, i) => {
        await seedTeam({ team_id: `t-wide-${i}` });
        return (await seedKey({ team_id: `t-wide-${i}` })).record.token;
      }),
    );
    const settlements = await Promise.all(seeded.map(async (token, i) => settlementOf(await keyTargets(token), 2_000 + i)));
    await Promise.all(settlements.map((s) => spendSettler().settle(s)));
    await stream.drain();
    for (const [i, token] of seeded.entries()) {
      expect(await spendNanos(refs.key(token))).toBe(2_000 + i);
      expect(await spendNanos(refs.team(`t-wide-${i}`))).toBe(2_000 + i);
    }
  }, 60_000);

  it('a batch whose transaction lands but whose answer is lost is delivered again and counts once', async () => {
    await seedTeam({ team_id: 't-ledger-lost' });
    const { record } = await seedKey({ team_id: 't-ledger-lost' });
    const targets = await keyTargets(record.token);
    for (const cost of [1_000, 2_000, 3_000]) await spendSettler().settle(settlementOf(targets, cost));
    const real = documentClient();
    let lost = 0;
    // The first transaction commits, then its answer is lost (a timeout after the commit).
    const lossy = {
      send: async (command: unknown) => {
        const out = await real.send(command as never);
        if (lost++ === 0) throw new Error('socket hang up');
        return out;
      },
    } as unknown as typeof real;
    await drainOnce(table, [counterConsumer((records) => applyLedger(lossy, tableName(), records, { markerTtlSeconds: 3600 }))]);
    expect(lost).toBeGreaterThanOrEqual(1);
    expect(await spendNanos(refs.key(record.token))).toBe(6_000);
    expect(await spendNanos(refs.team('t-ledger-lost'))).toBe(6_000);
  });

  it('a settlement retried with its request id is a duplicate and counts once', async () => {
    await seedTeam({ team_id: 't-ledger-dup' });
    const { record } = await seedKey({ team_id: 't-ledger-dup' });
    const s = settlementOf(await keyTargets(record.token), 5_000);
    expect((await spendSettler().settle(s)).status).toBe('settled');
    expect(await spendSettler().settle(s)).toEqual({ status: 'duplicate' });
    await stream.drain();
    expect(await spendNanos(refs.key(record.token))).toBe(5_000);
    expect(await spendNanos(refs.team('t-ledger-dup'))).toBe(5_000);
  });

  it('a key deleted before the stream adds its record is skipped, never re-created; its team still counts', async () => {
    await seedTeam({ team_id: 't-ledger-gone' });
    const { record } = await seedKey({ team_id: 't-ledger-gone' });
    const s = settlementOf(await keyTargets(record.token), 9_000);
    await spendSettler().settle(s);
    await documentClient().send(new DeleteCommand({ TableName: tableName(), Key: refs.key(record.token) }));
    await stream.drain();
    expect((await documentClient().send(new GetCommand({ TableName: tableName(), Key: refs.key(record.token) }))).Item).toBeUndefined();
    expect(await spendNanos(refs.team('t-ledger-gone'))).toBe(9_000);
  });

  it('a call through the llm function: the answer, its record, then its counters from the stream', async () => {
    await seedTeam({ team_id: 't-ledger-call' });
    const { key, record } = await seedKey({ team_id: 't-ledger-call' });
    const res = await call({ path: '/v1/chat/completions', headers: bearer(key), body: chat('gpt-4o-mini', 'hello ledger') });
    expect(res.status).toBe(200);
    expect(await spendNanos(refs.key(record.token))).toBe(0);
    await stream.drain();
    const spent = await spendNanos(refs.key(record.token));
    expect(spent).toBeGreaterThan(0);
    expect(await spendNanos(refs.team('t-ledger-call'))).toBe(spent);
  });

  it('the local poller reads a backlog batch after batch without waiting its idle period, as an event source mapping does', async () => {
    // The stream holds every record of the tests above (hundreds): counted by a drain first.
    const counting = () => {
      const seen = { records: 0, batches: 0 };
      const consumer = async (records: readonly unknown[]) => {
        seen.records += records.length;
        seen.batches++;
        return {};
      };
      return { seen, consumer };
    };
    const all = counting();
    await drainOnce(table, [all.consumer], null);
    expect(all.seen.records).toBeGreaterThan(500);

    // A polling reader whose idle period is long: after its first poll, the rest of the backlog
    // (five batches and more) comes before a second idle period has passed. Waiting the idle period
    // between batches, it would take more than a minute.
    const idleMs = 6_000;
    const polled = counting();
    const started = Date.now();
    const poller = await startTableStream({
      endpoint: table.endpoint,
      tableName: table.tableName,
      consumers: [polled.consumer],
      everyMs: idleMs,
      windowMs: 0,
      filter: null,
    });
    try {
      while (polled.seen.records < all.seen.records && Date.now() - started < 2 * idleMs - 500) await new Promise((r) => setTimeout(r, 50));
    } finally {
      await poller.stop();
    }
    expect(polled.seen.batches).toBeGreaterThan(5);
    expect(polled.seen.records).toBe(all.seen.records);
  }, 60_000);

  it("the event source mapping's filter lets through every record a consumer reads, strict settlements included, and drops the rest", async () => {
    // A strict call (its record inserted reserved, then modified to settled) and a fast one.
    await seedTeam({ team_id: 't-filter-strict', max_budget: 10, enforcement: 'strict' });
    const strict = await seedKey({ team_id: 't-filter-strict' });
    await seedTeam({ team_id: 't-filter-fast' });
    const fast = await seedKey({ team_id: 't-filter-fast' });
    for (const key of [strict.key, fast.key]) {
      const res = await call({ path: '/v1/chat/completions', headers: bearer(key), body: chat('gpt-4o-mini', 'hello filter') });
      expect(res.status).toBe(200);
    }
    // Every record of this table's stream so far: admin writes, counters, index items, markers,
    // and the key deleted above (a REMOVE).
    const records: DynamoDBRecord[] = [];
    await drainOnce(
      table,
      [
        async (batch) => {
          records.push(...batch);
          return {};
        },
      ],
      null,
    );
    const read = records.filter((r) => settledLogOf(r) !== undefined || ledgerRecordOf(r) !== undefined);
    const passed = records.filter((r) => matchesFilter(SETTLED_RECORD_FILTER, r));
    // Nothing a consumer reads is dropped: the strict call's MODIFY to settled among them.
    expect(read.length).toBeGreaterThan(300);
    expect(read.filter((r) => !matchesFilter(SETTLED_RECORD_FILTER, r))).toEqual([]);
    expect(read.some((r) => r.eventName === 'MODIFY' && r.dynamodb?.Keys?.PK?.S?.startsWith('REQ#'))).toBe(true);
    // What passes is settled settlements only; the rest (most of the stream) never reaches the function.
    for (const r of passed) {
      expect(r.dynamodb?.NewImage?.kind?.S).toBe('settlement');
      expect(r.dynamodb?.NewImage?.state?.S).toBe('settled');
    }
    expect(records.some((r) => r.eventName === 'REMOVE')).toBe(true);
    expect(passed.length).toBeLessThan(records.length / 2);
  });

  it("a ledger record's spend-log rollups are added with its counters, under its one marker, once however often it comes", async () => {
    await seedTeam({ team_id: 't-ledger-rollup' });
    const { key, record } = await seedKey({ team_id: 't-ledger-rollup' });
    const day = new Date().toISOString().slice(0, 10);
    const teamRow = async () => (await spendLogStore().rollups([day])).find((r) => r.group === 'team' && r.id === 't-ledger-rollup');
    const res = await call({ path: '/v1/chat/completions', headers: bearer(key), body: chat('gpt-4o-mini', 'hello rollups') });
    expect(res.status).toBe(200);
    await stream.drain();
    const spent = await spendNanos(refs.key(record.token));
    expect(spent).toBeGreaterThan(0);
    const row = await teamRow();
    expect([row?.requests, Math.round((row?.spend ?? 0) * 1e9)]).toEqual([1, spent]);
    // One marker for both: the counters' (SPENDAPPLIED#); none of the rollups' own (SPENDROLLED#).
    const [log] = (await spendLogStore().list({ scope: 'key', id: record.token, limit: 5 })).data;
    const requestId = log?.request_id as string;
    const marker = async (prefix: string, sk?: string) =>
      (
        await documentClient().send(
          new GetCommand({ TableName: tableName(), Key: { PK: prefix + requestId, SK: sk ?? prefix + requestId } }),
        )
      ).Item;
    expect(await marker(COUNTER_MARKER_PREFIX)).toBeDefined();
    expect(await marker(ROLLED_MARKER.prefix, ROLLED_MARKER.sk)).toBeUndefined();

    // Every record again, from the stream's start: the row does not grow.
    await drainOnce(table, tableStreamConsumers());
    const after = await teamRow();
    expect([after?.requests, Math.round((after?.spend ?? 0) * 1e9)]).toEqual([1, spent]);
  });

  it('a batch whose sums pass 2^53 (a call capped at MAX_COST_NANOS beside any other): added exactly, never an error that holds the shard (found by review)', async () => {
    await seedTeam({ team_id: 't-ledger-huge' });
    const { record } = await seedKey({ team_id: 't-ledger-huge' });
    const at = Date.now();
    const recordOf = (costNanos: number, tokens: number, seq: string) => {
      const requestId = `req-ledger-${randomUUID()}`;
      const log = spendLogFixture({
        request_id: requestId,
        api_key: record.token,
        team_id: 't-ledger-huge',
        prompt_tokens: tokens,
        completion_tokens: tokens,
        total_tokens: tokens,
        spend: 0.000001,
        startTime: new Date(at).toISOString(),
      });
      const moves = [refs.key(record.token), refs.team('t-ledger-huge')].map((ref) => ({
        ref,
        spendNanos: costNanos,
        committedNanos: costNanos,
        mustExist: true,
      }));
      return ledgerStreamRecord(requestId, at, moves, log, seq);
    };
    const batch = [recordOf(MAX_COST_NANOS, Number.MAX_SAFE_INTEGER, '1'), recordOf(1, Number.MAX_SAFE_INTEGER, '2')];
    expect(await counterConsumer(applyLedgerRecords)(batch)).toEqual({});
    // Read as DynamoDB holds them (decimal text), not as a JavaScript number would round them.
    const exact = DynamoDBDocumentClient.from(createDocumentClient({ endpoint: table.endpoint, region: 'us-east-1' }), {
      unmarshallOptions: { wrapNumbers: true },
    });
    const text = (v: unknown) => (v as NumberValue | undefined)?.value;
    for (const key of [refs.key(record.token), refs.team('t-ledger-huge')])
      expect(text((await exact.send(new GetCommand({ TableName: tableName(), Key: key }))).Item?.spend)).toBe('9007199.254740992');
    const teamRow = rollupAddsOf(spendLogFixture({ team_id: 't-ledger-huge', startTime: new Date(at).toISOString() })).find(
      (a) => a.labels.group === 'team',
    );
    const row = (await exact.send(new GetCommand({ TableName: tableName(), Key: teamRow?.ref }))).Item ?? {};
    expect([text(row.requests), text(row.prompt_tokens), text(row.completion_tokens)]).toEqual([
      '2',
      String(2n * BigInt(Number.MAX_SAFE_INTEGER)),
      String(2n * BigInt(Number.MAX_SAFE_INTEGER)),
    ]);
  });

  it("a record whose counter the store refuses every time (a spend that is not a number) holds itself and those behind it, never the batch's records before it; mended, the rest land once", async () => {
    await seedTeam({ team_id: 't-ledger-poison' });
    const good = (await seedKey({ team_id: 't-ledger-poison' })).record.token;
    const poisoned = (await seedKey({ team_id: 't-ledger-poison' })).record.token;
    await documentClient().send(
      new UpdateCommand({
        TableName: tableName(),
        Key: refs.key(poisoned),
        UpdateExpression: 'SET spend = :s',
        ExpressionAttributeValues: { ':s': 'lots' },
      }),
    );
    const at = Date.now();
    const recordOf = (token: string, costNanos: number, seq: string) => {
      const requestId = `req-ledger-${randomUUID()}`;
      const log = spendLogFixture({
        request_id: requestId,
        api_key: token,
        team_id: 't-ledger-poison',
        startTime: new Date(at).toISOString(),
      });
      return ledgerStreamRecord(
        requestId,
        at,
        [{ ref: refs.key(token), spendNanos: costNanos, committedNanos: costNanos, mustExist: true }],
        log,
        seq,
      );
    };
    const batch = [recordOf(good, 1_000, '1'), recordOf(poisoned, 20_000, '2'), recordOf(good, 300_000, '3')];
    const consume = counterConsumer(applyLedgerRecords);
    expect(await consume(batch)).toEqual({ failedAt: '2' });
    expect(await spendNanos(refs.key(good))).toBe(1_000);
    // The item mended, the stream hands back the batch from the record that failed.
    await documentClient().send(
      new UpdateCommand({
        TableName: tableName(),
        Key: refs.key(poisoned),
        UpdateExpression: 'SET spend = :s',
        ExpressionAttributeValues: { ':s': 0 },
      }),
    );
    expect(await consume(batch.slice(1))).toEqual({});
    expect(await consume(batch)).toEqual({});
    expect([await spendNanos(refs.key(good)), await spendNanos(refs.key(poisoned))]).toEqual([301_000, 20_000]);
  });

  it("a log whose rollup row's key would be over the 1,024 bytes DynamoDB takes: the row is keyed by a digest and added with the counters, its id intact", async () => {
    await seedTeam({ team_id: 't-ledger-bigkey' });
    const { record } = await seedKey({ team_id: 't-ledger-bigkey' });
    const requestId = `req-ledger-${randomUUID()}`;
    const at = Date.now();
    // An end user id as a caller may send it (the body's `user`, 256 characters, each written
    // 3 bytes in UTF-8): with a long model name its rollup row's sort key is over 1,024 bytes.
    const log = spendLogFixture({
      request_id: requestId,
      model: 'm'.repeat(256),
      model_group: 'm'.repeat(256),
      api_key: record.token,
      team_id: 't-ledger-bigkey',
      end_user: '\u754c'.repeat(256),
      spend: 0.000004,
      startTime: new Date(at).toISOString(),
    });
    const moves = [{ ref: refs.key(record.token), spendNanos: 4_000, committedNanos: 4_000, mustExist: true }];
    const rec = ledgerStreamRecord(requestId, at, moves, log, '1');
    expect(await counterConsumer(applyLedgerRecords)([rec])).toEqual({});
    expect(await spendNanos(refs.key(record.token))).toBe(4_000);
    const rows = await spendLogStore().rollups([new Date(at).toISOString().slice(0, 10)]);
    const customer = rows.filter((r) => r.group === 'customer' && r.id === log.end_user);
    expect(customer.map((r) => [r.model, Math.round(r.spend * 1e9), r.requests])).toEqual([['m'.repeat(256), 4_000, 1]]);
  });
});
