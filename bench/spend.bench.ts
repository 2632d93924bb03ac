/**
 * What spend control costs a request, per mode, against DynamoDB Local on loopback:
 *  - the settler alone: a fast settlement, a strict reservation and a strict settlement of a
 *    full chain (key, team, member, organization, end user, proxy), p50/p99;
 *  - through the llm handler (in process, mock upstream, warm cache): fast versus strict, so
 *    the added latency of the reservation is seen where a caller sees it;
 *  - DynamoDB writes per request in each mode: transactions and items written, counted on the
 *    document client.
 * Starts its own DynamoDB Local and mock upstream; touches no network.
 */
import { cpus, loadavg } from 'node:os';
import { BatchWriteCommand, type DynamoDBDocumentClient, GetCommand, PutCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { invokeStreaming } from '../infra/local/awslambda.js';
import { configureApp, documentClient, entityReader } from '../lib/app/index.js';
import { callerContext } from '../lib/authorizer/context.js';
import { config } from '../lib/config.js';
import type { Caller } from '../lib/domain/caller.js';
import { unpackLog } from '../lib/domain/spend-log.js';
import { ledgerRecordWithRollups } from '../lib/spend/stream.js';
import { spendTargets } from '../lib/spend/targets.js';
import { applyLedger, type LedgerRecord, ledgerRecordOfItem } from '../lib/store/counter-ledger.js';
import { TABLE_SCHEMA } from '../lib/store/schema.js';
import { DynamoSettler, followMoves, SPEND_LOG_ATTR } from '../lib/store/spend-ledger.js';
import { SpendLogStore } from '../lib/store/spend-logs.js';
import { seedEndUser, seedKey, seedMember, seedOrg, seedTeam, seedUser } from '../test/support/seed.js';
import type { BenchSection } from './run.js';
import { added, chatEvent, itemBytes, ms, p50p99 as p, startLlmBenchStack, stats } from './support.js';

const RUNS = 300;
const WARMUP = 40;

/** DynamoDB on-demand price per million write request units (us-east-1, since November 2024). */
const DOLLARS_PER_MILLION_WRITE_UNITS = 0.625;

/** One Put or Update part of a spend transaction, as sent. */
interface TxWrite {
  key: { PK: string; SK: string };
  /** A Put's item (its size is known as sent); an Update's item is read after the run. */
  put?: Record<string, unknown>;
  /** Indexes whose keys the write sets or removes (the item enters or leaves them). */
  movesIndexKeys: readonly string[];
  /** A single PutItem (1 unit per KB) rather than part of a transaction (2 per KB). */
  single?: boolean;
}

/** The document client, counting transactions and recording the items they wrote. */
function counting(real: DynamoDBDocumentClient) {
  const count = { transactions: 0, items: 0, puts: 0 };
  const writes: TxWrite[] = [];
  const client = {
    send: async (command: unknown) => {
      const out = await real.send(command as TransactWriteCommand);
      if (command instanceof BatchWriteCommand) {
        for (const requests of Object.values(command.input.RequestItems ?? {}))
          for (const r of requests) {
            const item = r.PutRequest?.Item;
            if (!item) continue;
            count.items++;
            writes.push({ key: { PK: String(item.PK), SK: String(item.SK) }, put: item, movesIndexKeys: [], single: true });
          }
      }
      if (command instanceof PutCommand) {
        count.puts++;
        count.items++;
        const item = command.input.Item ?? {};
        writes.push({
          key: { PK: String(item.PK), SK: String(item.SK) },
          put: item,
          movesIndexKeys: TABLE_SCHEMA.indexes.map((x) => x.name),
          single: true,
        });
      }
      if (command instanceof TransactWriteCommand) {
        count.transactions++;
        for (const i of command.input.TransactItems ?? []) {
          if (i.Put)
            writes.push({
              key: { PK: String(i.Put.Item?.PK), SK: String(i.Put.Item?.SK) },
              put: i.Put.Item,
              movesIndexKeys: TABLE_SCHEMA.indexes.map((x) => x.name),
            });
          if (i.Update)
            writes.push({
              key: i.Update.Key as TxWrite['key'],
              movesIndexKeys: TABLE_SCHEMA.indexes
                .filter((x) => (i.Update?.UpdateExpression ?? '').includes(x.partitionKey))
                .map((x) => x.name),
            });
        }
        count.items += (command.input.TransactItems ?? []).filter((i) => i.Put || i.Update).length;
      }
      return out;
    },
  } as unknown as DynamoDBDocumentClient;
  return { client, count, writes };
}

/**
 * Write units of the recorded writes by AWS's rules: a transactional write costs 2 units per KB
 * (the larger of the item before and after: here its size after the run) on the table, and the
 * same on every index it writes. An index is written when an update changes what it projects:
 * with keys-only projection only when the item enters or leaves it; with every attribute
 * projected whenever a counter moves on an item in it. DynamoDB Local's own ConsumedCapacity for
 * transactions is not a sum over items (three updates report 2 units), so it is not used.
 */
async function writeUnits(client: DynamoDBDocumentClient, tableName: string, writes: readonly TxWrite[]) {
  const units = (bytes: number, single = false) => (single ? 1 : 2) * Math.max(1, Math.ceil(bytes / 1024));
  const items = new Map<string, Record<string, unknown> | undefined>();
  for (const w of writes) {
    const k = `${w.key.PK}|${w.key.SK}`;
    if (w.put || items.has(k)) continue;
    items.set(k, (await client.send(new GetCommand({ TableName: tableName, Key: w.key }))).Item);
  }
  const out = { table: 0, keysOnly: 0, all: 0 };
  for (const w of writes) {
    const item: Record<string, unknown> = w.put ?? items.get(`${w.key.PK}|${w.key.SK}`) ?? w.key;
    out.table += units(itemBytes(item), w.single);
    for (const index of TABLE_SCHEMA.indexes) {
      const inIndex = item[index.partitionKey] !== undefined;
      // A Put enters the indexes whose keys it has; an Update naming an index's keys enters or leaves it.
      const moved = w.movesIndexKeys.includes(index.name) && (inIndex || !w.put);
      const keys = { ...w.key, [index.partitionKey]: item[index.partitionKey] ?? '', [index.sortKey]: item[index.sortKey] ?? '' };
      if (moved) out.keysOnly += units(itemBytes(keys), w.single);
      if (moved || inIndex) out.all += units(itemBytes(item), w.single);
    }
  }
  return out;
}

export default async function spendBench(): Promise<BenchSection[]> {
  const stack = await startLlmBenchStack('bench-spend');
  const { llm, tableName } = stack;
  try {
    // One chain per mode, every entity budgeted (strict reserves on all of them).
    const chain = async (mode: 'fast' | 'strict') => {
      const org = await seedOrg({ organization_id: `o-${mode}`, max_budget: 1000, budget_duration: '1mo' });
      const team = await seedTeam({
        team_id: `t-${mode}`,
        organization_id: org.organization_id,
        max_budget: 1000,
        budget_duration: '1d',
        enforcement: mode,
      });
      const user = await seedUser({ user_id: `u-${mode}` });
      const member = await seedMember({ team_id: team.team_id, user_id: user.user_id, max_budget: 1000 });
      const endUser = await seedEndUser({ user_id: `eu-${mode}`, max_budget: 1000 });
      const { record: key } = await seedKey({
        team_id: team.team_id,
        user_id: user.user_id,
        organization_id: org.organization_id,
        max_budget: 1000,
      });
      const caller: Caller = {
        principal: 'virtual_key',
        role: 'internal_user',
        userId: user.user_id,
        teamId: team.team_id,
        orgId: org.organization_id,
        endUserId: endUser.user_id,
        keyHash: key.token,
        keyName: key.key_name,
        state: { key, user, team, member, org, endUser, global: {} },
      };
      return { caller, context: callerContext(caller, Date.now()) };
    };
    const fast = await chain('fast');
    const strict = await chain('strict');

    // The settler alone, on the strict chain (every entity budgeted), timed call by call.
    const c = config();
    const settler = new DynamoSettler(documentClient(), tableName, { ttlSeconds: 3600, shards: c.spendShards });
    const targets = spendTargets(strict.caller, { budgetDuration: c.budgetDuration, maxBudget: c.maxBudget, now: Date.now() });
    const settleMs: number[] = [];
    const reserveMs: number[] = [];
    const settleHeldMs: number[] = [];
    for (let i = 0; i < WARMUP + RUNS; i++) {
      const at = Date.now();
      let t = performance.now();
      await settler.settle({ requestId: `direct-fast-${i}`, at, costNanos: 12_345, model: 'gpt-4o-mini', targets });
      if (i >= WARMUP) settleMs.push(performance.now() - t);
      t = performance.now();
      const reserved = await settler.reserve({
        requestId: `direct-strict-${i}`,
        at,
        estimateNanos: 99_999,
        model: 'gpt-4o-mini',
        targets,
        expiresAt: at + 60_000,
      });
      if (reserved.status !== 'reserved' || !reserved.hold) throw new Error(`the reservation was ${reserved.status}`);
      if (i >= WARMUP) reserveMs.push(performance.now() - t);
      t = performance.now();
      await settler.settle({ requestId: `direct-strict-${i}`, at, costNanos: 12_345, model: 'gpt-4o-mini', targets, hold: reserved.hold });
      if (i >= WARMUP) settleHeldMs.push(performance.now() - t);
    }

    // Through the handler, interleaved, each mode's writes counted.
    type Mode = 'fast' | 'strict' | 'ledger';
    const counters = { fast: counting(documentClient()), strict: counting(documentClient()), ledger: counting(documentClient()) };
    const body = JSON.stringify({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'benchmark this short prompt please' }],
      max_tokens: 16,
    });
    const event = (mode: Mode, i: number) => chatEvent(`bench-${mode}-${i}`, (mode === 'strict' ? strict : fast).context, body);
    const settlers = Object.fromEntries(
      (['fast', 'strict', 'ledger'] as const).map((mode) => [
        mode,
        new DynamoSettler(counters[mode].client, tableName, {
          ttlSeconds: 3600,
          shards: c.spendShards,
          counters: mode === 'ledger' ? 'stream' : 'transaction',
          onChanged: (moved) => followMoves(entityReader().loader, moved),
        }),
      ]),
    ) as Record<Mode, DynamoSettler>;
    const through = async (mode: Mode, i: number) => {
      configureApp({ spendSettler: settlers[mode] });
      const t = performance.now();
      const res = await invokeStreaming(llm, event(mode, i));
      for await (const _ of res.body);
      await res.done;
      if (res.statusCode !== 200) throw new Error(`the handler answered ${res.statusCode} in ${mode} mode`);
      return performance.now() - t;
    };
    for (let i = 0; i < WARMUP; i++) {
      await through('fast', 1_000_000 + i);
      await through('strict', 1_000_000 + i);
      await through('ledger', 1_000_000 + i);
    }
    for (const { count, writes } of Object.values(counters)) {
      Object.assign(count, { transactions: 0, items: 0, puts: 0 });
      writes.length = 0;
    }
    const readsBefore = entityReader().loader.stats.batches;
    const load = loadavg()[0] ?? 0;
    const hf: number[] = [];
    const hs: number[] = [];
    const hl: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      hf.push(await through('fast', i));
      hs.push(await through('strict', i));
      hl.push(await through('ledger', i));
    }
    const reads = (entityReader().loader.stats.batches - readsBefore) / (3 * RUNS);
    const perRequest = (mode: Mode) => {
      const { transactions, items, puts } = counters[mode].count;
      return `${(transactions / RUNS).toFixed(2)} transactions${puts > 0 ? `, ${(puts / RUNS).toFixed(2)} PutItem` : ''}, ${(items / RUNS).toFixed(2)} items written`;
    };
    const wu = {
      fast: await writeUnits(documentClient(), tableName, counters.fast.writes),
      strict: await writeUnits(documentClient(), tableName, counters.strict.writes),
      ledger: await writeUnits(documentClient(), tableName, counters.ledger.writes),
    };
    // The ledger's counters, as the table-stream function adds them: the same records in stream
    // batches of 100, 10 and 1 (fresh request ids each time, so none is a duplicate).
    const recorded: LedgerRecord[] = counters.ledger.writes.flatMap((w) => {
      const r = w.put && ledgerRecordOfItem(w.put);
      return r ? [r] : [];
    });
    const recordBytes = counters.ledger.writes.flatMap((w) => (w.put ? [itemBytes(w.put)] : []));
    const streamUnits = new Map<number | string, { units: number; transactions: number }>();
    const addAll = async (name: number | string, batch: number, records: readonly LedgerRecord[]) => {
      const counted = counting(documentClient());
      for (let i = 0; i < records.length; i += batch) {
        const slice = records.slice(i, i + batch).map((r) => ({ ...r, requestId: `${r.requestId}-b${name}` }));
        await applyLedger(counted.client, tableName, slice, { markerTtlSeconds: 3600 });
      }
      const u = await writeUnits(documentClient(), tableName, counted.writes);
      streamUnits.set(name, { units: u.table + u.keysOnly, transactions: counted.count.transactions });
    };
    for (const batch of [100, 10, 1]) await addAll(batch, batch, recorded);
    // Every record from a different key, user and membership (same team, organization, end user, proxy).
    const own = (i: number) => (m: LedgerRecord['moves'][number]) =>
      m.ref.PK.startsWith('KEY#') || m.ref.PK.startsWith('USER#') || m.ref.SK.startsWith('MEMBER#')
        ? { ...m, ref: { PK: `${m.ref.PK}-${i}`, SK: m.ref.SK }, mustExist: false }
        : m;
    await addAll(
      'distinct',
      100,
      recorded.map((r, i) => ({ ...r, moves: r.moves.map(own(i)) })),
    );
    // With counters from the stream, a record's spend-log rollup rows ride with its counters, under
    // its one marker (lib/spend/stream): the same records with their rows, the difference is the rows'.
    const withRollups: LedgerRecord[] = counters.ledger.writes.flatMap((w) => {
      const r = w.put && ledgerRecordWithRollups(w.put);
      return r ? [r] : [];
    });
    for (const batch of [100, 1]) await addAll(`rollups-${batch}`, batch, withRollups);
    const rollupsWithCounters = (batch: number) =>
      (streamUnits.get(`rollups-${batch}`)?.units ?? Number.NaN) - (streamUnits.get(batch)?.units ?? Number.NaN);
    // The spend log of each request, as the table-stream function writes it: its index items (one
    // per scope, BatchWriteItem) and, with counters in the transaction, its daily rollups (summed
    // over the batch, a marker per request).
    const logs = counters.ledger.writes.flatMap((w) =>
      typeof w.put?.[SPEND_LOG_ATTR] === 'string' ? [unpackLog(w.put[SPEND_LOG_ATTR] as string)] : [],
    );
    const logUnits = new Map<string, number>();
    for (const batch of [100, 1])
      for (const rollUp of [true, false]) {
        const counted = counting(documentClient());
        const store = new SpendLogStore(counted.client, tableName, 86_400);
        for (let i = 0; i < logs.length; i += batch) {
          const slice = logs.slice(i, i + batch).map((l) => ({ ...l, request_id: `${l.request_id}-log${batch}${rollUp}` }));
          await store.applyMany(slice, rollUp ? slice : []);
        }
        const u = await writeUnits(documentClient(), tableName, counted.writes);
        logUnits.set(`${batch}${rollUp}`, u.table + u.keysOnly);
      }
    // Without the index (spendLogIndex: false): the rollups alone, with their own markers.
    const unindexed = counting(documentClient());
    const rollupsOnly = new SpendLogStore(unindexed.client, tableName, 86_400, { index: false });
    for (let i = 0; i < logs.length; i += 100)
      await rollupsOnly.applyMany(logs.slice(i, i + 100).map((l) => ({ ...l, request_id: `${l.request_id}-unindexed` })));
    const unindexedUnits = await writeUnits(documentClient(), tableName, unindexed.writes);
    const logOf = (batch: number, layout: 'transaction' | 'stream') =>
      layout === 'transaction'
        ? (logUnits.get(`${batch}true`) ?? Number.NaN)
        : (logUnits.get(`${batch}false`) ?? Number.NaN) + rollupsWithCounters(batch);
    const perReq = (n: number) => (n / RUNS).toFixed(1);
    const unitsRow = (mode: Mode) => {
      const u = wu[mode];
      return `${perReq(u.table + u.keysOnly)} (table ${perReq(u.table)}, indexes ${perReq(u.keysOnly)}); with every attribute projected, as before: ${perReq(u.table + u.all)}`;
    };
    const ledgerInline = wu.ledger.table + wu.ledger.keysOnly;
    const ledgerTotal = (batch: number) => ledgerInline + (streamUnits.get(batch)?.units ?? Number.NaN);
    const ledgerRow = [100, 10, 1]
      .map(
        (b) =>
          `${perReq(ledgerTotal(b))} in batches of ${b} (record ${perReq(ledgerInline)} + counters ${perReq(streamUnits.get(b)?.units ?? 0)})`,
      )
      .join('; ');
    const distinctRow = `${perReq(ledgerInline + (streamUnits.get('distinct')?.units ?? Number.NaN))} in batches of 100 (record ${perReq(ledgerInline)} + counters ${perReq(streamUnits.get('distinct')?.units ?? 0)})`;
    const dollarsOf = (units: number) => `$${((units / RUNS) * DOLLARS_PER_MILLION_WRITE_UNITS).toFixed(2)}`;
    const dollars = (mode: 'fast' | 'strict') => dollarsOf(wu[mode].table + wu[mode].keysOnly);
    const dollarsBefore = (mode: 'fast' | 'strict') => dollarsOf(wu[mode].table + wu[mode].all);
    const [f, s, l] = [stats(hf), stats(hs), stats(hl)];
    const shards = Object.entries(c.spendShards)
      .map(([k, n]) => `${k}=${n}`)
      .join(', ');

    return [
      {
        title: 'Spend: enforcement modes',
        method: `DynamoDB Local on loopback, sequential. The settler alone: ${RUNS} fast settlements, strict reservations and strict settlements of a chain of six counters (key, team, member, organization, end user, proxy), every one budgeted. Through the llm handler: ${RUNS} chat completions per mode, interleaved, warm cache, zero-latency mock upstream. Counter shards: ${shards}.`,
        rows: [
          { metric: 'fast settlement p50 / p99 (settler)', value: p(settleMs) },
          { metric: 'strict reservation p50 / p99 (settler)', value: p(reserveMs) },
          { metric: 'strict settlement p50 / p99 (settler)', value: p(settleHeldMs) },
          { metric: 'request through the handler, fast, p50 / p99', value: `${ms(f.p50)} / ${ms(f.p99)}` },
          { metric: 'request through the handler, strict, p50 / p99', value: `${ms(s.p50)} / ${ms(s.p99)}` },
          { metric: 'request through the handler, fast with counters from the stream, p50 / p99', value: `${ms(l.p50)} / ${ms(l.p99)}` },
          { metric: 'added by strict mode p50', value: added(s, f) },
          { metric: 'DynamoDB writes per request, fast', value: perRequest('fast') },
          { metric: 'DynamoDB writes per request, strict', value: perRequest('strict') },
          { metric: 'DynamoDB writes per request on the request path, fast with counters from the stream', value: perRequest('ledger') },
          { metric: 'write units per request, fast (counters in the settlement transaction)', value: unitsRow('fast') },
          {
            metric: 'write units per request, fast with counters from the stream (spendCounters: stream)',
            value: ledgerRow,
            target: '≤ 6',
          },
          { metric: 'the same, every request from a different key, user and membership of one team', value: distinctRow },
          {
            metric:
              'write units per request of the spend log with counters in the transaction (index items; daily rollups with a marker per request), batches of 100 / 1',
            value: `${perReq(logOf(100, 'transaction'))} / ${perReq(logOf(1, 'transaction'))}`,
          },
          {
            metric:
              'write units per request of the spend log with counters from the stream (index items; rollup rows in the counters’ transactions, under their marker), batches of 100 / 1',
            value: `${perReq(logOf(100, 'stream'))} / ${perReq(logOf(1, 'stream'))}`,
          },
          {
            metric:
              'the same without the index (spendLogIndex: false: rollups only), counters in the transaction / from the stream, batches of 100',
            value: `${perReq(unindexedUnits.table + unindexedUnits.keysOnly)} / ${perReq(rollupsWithCounters(100))}`,
          },
          {
            metric: 'ledger record size (REQ# with its moves and spend log), median / max',
            value: `${stats(recordBytes).p50} / ${Math.max(...recordBytes)} bytes`,
          },
          { metric: 'write units per request, strict', value: unitsRow('strict') },
          { metric: 'read round trips per request (warm, both modes)', value: reads.toFixed(2), target: '0' },
          {
            metric: 'DynamoDB $ per million requests (writes), fast / strict',
            value: `${dollars('fast')} / ${dollars('strict')} (every attribute projected: ${dollarsBefore('fast')} / ${dollarsBefore('strict')})`,
          },
          {
            metric: 'DynamoDB $ per million requests (writes), fast with counters from the stream, batches of 100 / 10 / 1',
            value: `${[100, 10, 1].map((b) => dollarsOf(ledgerTotal(b))).join(' / ')}; every request from a different key: ${dollarsOf(ledgerInline + (streamUnits.get('distinct')?.units ?? Number.NaN))}`,
          },
        ],
        notes: [
          "The spend log's writes come on top of either layout's: one index item per scope the log is listed under (the day, key, user, team, end user: 1 unit each per KB, BatchWriteItem; none by organization, which no listing reads) and its daily rollup rows (per group and model), summed over the stream batch (2 units per item, transactional). With counters in the transaction the rows are written with a marker per request of their own (`SPENDROLLED#`, 2 units); with counters from the stream they are added in the counters' transactions, under the counters' marker, so they cost only the rows.",
          'Items written count the REQ# record and every counter item a transaction changed (Put and Update parts). A strict request writes twice: the reservation (the record and each budgeted counter, on shard 0) before the call, the settlement after it.',
          "Counters from the stream: the request writes its REQ# record alone (one PutItem, 1 unit per KB); the table-stream function adds a batch of records in one transaction per 100 items: a marker per record (2 units) and each distinct counter item once (2 units per KB). A ledger record moves each entity's own item (shard 0): the consumer writes it once per batch, so shards would only split a batch's sum over more items. In the first row every record is the same chain, so a batch of 100 writes 93 markers and 7 counter items; in the second every record has its own key, user and membership (3 counter items each, created on first use here, as the table would already hold them), sharing only team, organization, end user and proxy. DynamoDB Streams reads by Lambda cost nothing. Lambda's batching window (5 s, up to 100 records) fills batches when traffic is steady.",
          `Write units counted from the items each TransactWriteItems wrote, by AWS's rules: 2 units per KB of item for a transactional write, on the table and on every index the write changes (keys-only indexes change only when an item enters or leaves them: a reservation's record, and its settlement). The "as before" figure prices the same writes with every attribute projected into the indexes (each counter move rewrites the item in each index it is in). DynamoDB Local's own ConsumedCapacity for transactions is not a sum over the items (three updates report 2 units), so it is not used. Dollars at $${DOLLARS_PER_MILLION_WRITE_UNITS} per million write request units (on-demand, us-east-1). Reads: none on a warm instance.`,
          'The reservation happens before the upstream is called, so it adds to the time to first byte; the settlement happens after the answer (after the last event of a stream) and delays only its end.',
          'DynamoDB Local is slower per transaction than DynamoDB in a region seen from Lambda (single-digit ms); read the settler rows as relative costs.',
          `Machine load when the handler runs started (1-minute load average): ${load.toFixed(2)} on ${cpus().length} cores.`,
        ],
      },
    ];
  } finally {
    await stack.stop();
  }
}
