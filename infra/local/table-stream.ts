/**
 * Local mode's stand-in for the table stream's event source mapping: reads DynamoDB Local's
 * stream (every shard, from the start) and hands each batch to the consumers the deployed
 * table-stream function runs (lib/spend/stream.ts). Batches gather as the mapping's do
 * (TABLE_STREAM_BATCH: up to 100 records of one shard, or fewer once the first has waited the
 * batching window). A batch that fails is read again from the failed record on the next poll, as
 * Lambda retries it.
 */
import { DescribeTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  DescribeStreamCommand,
  DynamoDBStreamsClient,
  GetRecordsCommand,
  GetShardIteratorCommand,
  type _Record as StreamRecord,
} from '@aws-sdk/client-dynamodb-streams';
import type { DynamoDBRecord } from 'aws-lambda';
import { consumeAll, type StreamConsumer } from '../../lib/spend/stream.js';
import { SETTLED_RECORD_FILTER, TABLE_STREAM_BATCH } from '../../lib/store/spend-ledger.js';
import { logger } from '../../lib/telemetry.js';

/**
 * An event source mapping's filter pattern, in the part of Lambda's syntax Tollgate uses: nested
 * objects, and at the leaves the list of values allowed (exact match). An operator (`prefix`,
 * `numeric`, `exists`...) is refused rather than misread.
 */
export type FilterPattern = { readonly [field: string]: FilterPattern | readonly (string | number)[] };

/** Whether a record passes the pattern, as Lambda's event filtering decides it. */
export function matchesFilter(pattern: FilterPattern, value: unknown): boolean {
  if (!value || typeof value !== 'object') return false;
  return Object.entries(pattern).every(([field, rule]) => {
    const v = (value as Record<string, unknown>)[field];
    if (!Array.isArray(rule)) return matchesFilter(rule as FilterPattern, v);
    if (rule.some((allowed) => typeof allowed !== 'string' && typeof allowed !== 'number'))
      throw new Error(`filter pattern on ${field}: only lists of exact values are supported locally`);
    return rule.includes(v as string | number);
  });
}

interface Pass {
  read: boolean;
  failed: boolean;
  /** Some read returned a full page: more is waiting. */
  backlog: boolean;
  /** Records are held for a batch still gathering. */
  holding: boolean;
}

export interface TableStream {
  /** Reads until every shard is caught up (tests, and a clean stop). */
  drain(): Promise<void>;
  stop(): Promise<void>;
}

const LOCAL = { region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } };

/** How often a shard is read while a batch gathers (Lambda polls a stream's shard four times a second). */
const GATHER_POLL_MS = 250;

/** How long a pass trusts the shard list it read. */
const SHARD_LIST_TTL_MS = 10_000;

type DescribeStream = (input: { StreamArn: string; ExclusiveStartShardId?: string }) => Promise<{
  StreamDescription?: { Shards?: { ShardId?: string }[]; LastEvaluatedShardId?: string };
}>;

/** Every shard of a stream, page after page (DescribeStream returns up to 100 at a time). */
export async function listShards(describe: DescribeStream, streamArn: string): Promise<string[]> {
  const ids: string[] = [];
  let after: string | undefined;
  do {
    const out = await describe({ StreamArn: streamArn, ...(after ? { ExclusiveStartShardId: after } : {}) });
    for (const s of out.StreamDescription?.Shards ?? []) if (s.ShardId) ids.push(s.ShardId);
    after = out.StreamDescription?.LastEvaluatedShardId;
  } while (after);
  return ids;
}

/** What a reader of the stream (the gateway's, `npm run table-stream`) says in the log: a poll that failed, a table made again. */
export const loggedStreamEvents = {
  onError: (e: unknown) => logger().warn('table stream poll failed', { error: (e as Error)?.name }),
  onFollow: (streamArn: string) => logger().warn('table made again: reading its new stream from the start', { streamArn }),
};

export async function startTableStream(opts: {
  endpoint: string;
  tableName: string;
  consumers: readonly StreamConsumer[];
  /** Poll period when idle (default 500 ms); 0: no polling, drain() only. */
  everyMs?: number;
  /**
   * How long a batch gathers records once it holds one (default: the mapping's batching window,
   * TABLE_STREAM_BATCH); 0: each pass hands over what it read. drain() and stop() never wait.
   */
  windowMs?: number;
  /**
   * The records handed to the consumers, as the deployed mapping filters them (default: the
   * table-stream function's, lib/store/spend-ledger); null: every record.
   */
  filter?: FilterPattern | null;
  onError?: (e: unknown) => void;
  /** The table was made again: its new stream is read from now on. */
  onFollow?: (streamArn: string) => void;
}): Promise<TableStream> {
  const tables = new DynamoDBClient({ endpoint: opts.endpoint, ...LOCAL });
  const streams = new DynamoDBStreamsClient({ endpoint: opts.endpoint, ...LOCAL });
  const described = await tables.send(new DescribeTableCommand({ TableName: opts.tableName }));
  const latest = described.Table?.LatestStreamArn;
  if (!latest) throw new Error(`table ${opts.tableName} has no stream`);
  let streamArn: string = latest;
  // Per shard: the next iterator (null: the shard ended), and where a new one starts: at a failed
  // batch's record, else after the last record read, else the shard's start. An iterator that
  // fails (DynamoDB Local expires one after 15 minutes unused: a reader paused, a laptop asleep;
  // a DynamoDB Local restarted on its data folder) is dropped, and the next pass resumes there.
  const iterators = new Map<string, string | null>();
  const resumeAt = new Map<string, { type: 'AT_SEQUENCE_NUMBER' | 'AFTER_SEQUENCE_NUMBER'; seq: string }>();
  let running: Promise<Pass> | undefined;

  // The shard list, read again once a shard has ended (its child holds what follows) or after
  // SHARD_LIST_TTL_MS; not before every pass: the mapping does not describe the stream per batch.
  // The table is described then too: a table made again has another stream (the old one stays
  // readable, its shards closed).
  let shards: { ids: string[]; at: number } | undefined;
  async function shardsOf(): Promise<string[]> {
    if (shards && Date.now() - shards.at < SHARD_LIST_TTL_MS) return shards.ids;
    await follow();
    const ids = await listShards((input) => streams.send(new DescribeStreamCommand(input)), streamArn);
    shards = { ids, at: Date.now() };
    return ids;
  }

  async function iteratorOf(shardId: string): Promise<string | undefined> {
    const from = resumeAt.get(shardId);
    const out = await streams.send(
      new GetShardIteratorCommand({
        StreamArn: streamArn,
        ShardId: shardId,
        ...(from ? { ShardIteratorType: from.type, SequenceNumber: from.seq } : { ShardIteratorType: 'TRIM_HORIZON' }),
      }),
    );
    return out.ShardIterator;
  }

  const windowMs = opts.windowMs ?? TABLE_STREAM_BATCH.windowSeconds * 1000;
  const filter = opts.filter === undefined ? SETTLED_RECORD_FILTER : opts.filter;
  /** Per shard: the records read for the batch gathering, and when its first was read. */
  const held = new Map<string, { records: DynamoDBRecord[]; since: number }>();

  /** Shards whose last batch failed: what is read again from the failed record is handed over at once, as Lambda retries a batch. */
  const retrying = new Set<string>();

  /** Hands a shard's batch to the consumers; a failure is read again from the record that failed. */
  async function handOver(shardId: string, records: DynamoDBRecord[]): Promise<boolean> {
    retrying.delete(shardId);
    const failedAt = await consumeAll(opts.consumers, records);
    if (!failedAt) return true;
    resumeAt.set(shardId, { type: 'AT_SEQUENCE_NUMBER', seq: failedAt });
    iterators.delete(shardId);
    retrying.add(shardId);
    return false;
  }

  /**
   * One pass over every shard: reads what follows each one's batch (up to a full batch), and
   * hands the batch over once it is full, its window has passed, its shard has ended, or `flush`.
   */
  async function pass(flush: boolean): Promise<Pass> {
    const result: Pass = { read: false, failed: false, backlog: false, holding: false };
    for (const shardId of await shardsOf()) {
      let ended = iterators.get(shardId) === null;
      const batch = held.get(shardId) ?? { records: [], since: 0 };
      if (!ended) {
        const iterator = iterators.get(shardId) ?? (await iteratorOf(shardId));
        if (!iterator) continue;
        const limit = TABLE_STREAM_BATCH.records - batch.records.length;
        const out = await streams.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: limit })).catch((e: unknown) => {
          iterators.delete(shardId);
          throw e;
        });
        const all = out.Records ?? [];
        const last = all.at(-1)?.dynamodb?.SequenceNumber;
        if (last) resumeAt.set(shardId, { type: 'AFTER_SEQUENCE_NUMBER', seq: last });
        if (all.length > 0) result.read = true;
        if (all.length >= limit) result.backlog = true;
        const records = all.map(lambdaRecord).filter((r) => !filter || matchesFilter(filter, r));
        if (records.length > 0 && batch.records.length === 0) batch.since = Date.now();
        batch.records.push(...records);
        iterators.set(shardId, out.NextShardIterator ?? null);
        if (!out.NextShardIterator) {
          shards = undefined;
          ended = true;
        }
      }
      if (batch.records.length === 0) continue;
      const due =
        flush ||
        ended ||
        retrying.has(shardId) ||
        batch.records.length >= TABLE_STREAM_BATCH.records ||
        Date.now() - batch.since >= windowMs;
      if (!due) {
        held.set(shardId, batch);
        result.holding = true;
        continue;
      }
      held.delete(shardId);
      if (!(await handOver(shardId, batch.records))) result.failed = true;
    }
    return result;
  }

  /**
   * The table's stream now: another one when the table was made again (DynamoDB Local restarted
   * in memory, the table deleted and created), read from its start, as the mapping of a new
   * table would. What was read of the old one goes with its table.
   */
  async function follow(): Promise<void> {
    const now = (await tables.send(new DescribeTableCommand({ TableName: opts.tableName }))).Table?.LatestStreamArn;
    if (!now || now === streamArn) return;
    streamArn = now;
    shards = undefined;
    for (const state of [iterators, resumeAt, held, retrying]) state.clear();
    opts.onFollow?.(now);
  }

  const once = (flush: boolean): Promise<Pass> => {
    running ??= pass(flush).finally(() => {
      running = undefined;
    });
    return running;
  };

  let stopped = false;
  const every = opts.everyMs ?? 500;
  let timer: NodeJS.Timeout | undefined;
  /**
   * Polls again at once while a read fills its page, as Lambda's event source mapping reads a
   * shard with a backlog without waiting; every GATHER_POLL_MS while a batch gathers; and `every`
   * ms once a pass finds nothing, or fails, or a consumer fails a batch (retried then, whole or
   * not, without waiting for a window again; not in a busy loop).
   */
  const poll = (): void => {
    if (stopped) return;
    once(false).then(
      ({ failed, backlog, holding }) =>
        schedule(failed ? every : backlog ? 0 : holding ? Math.min(every, GATHER_POLL_MS, Math.max(windowMs, 1)) : every),
      (e: unknown) => {
        opts.onError?.(e);
        follow()
          .catch(() => undefined) // the table not there (yet): the next pass fails and asks again
          .finally(() => schedule(every));
      },
    );
  };
  const schedule = (delay: number): void => {
    if (stopped) return;
    timer = setTimeout(poll, delay);
    timer.unref();
  };
  if (every > 0) schedule(every);

  return {
    async drain() {
      // Until a pass reads nothing, twice (a record written during a pass is read by the next),
      // and holds nothing back (a pass already running when drain began may gather).
      for (let quiet = 0; quiet < 2; ) {
        const { read, holding } = await once(true);
        quiet = read || holding ? 0 : quiet + 1;
      }
    },
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await running?.catch(() => undefined);
      try {
        // The batches gathering are handed over, as the mapping would at their window's end.
        for (const [shardId, batch] of held)
          if (!(await handOver(shardId, batch.records)))
            opts.onError?.(new Error(`a batch of shard ${shardId} failed as the stream stopped`));
      } finally {
        held.clear();
        tables.destroy();
        streams.destroy();
      }
    },
  };
}

/** The SDK's stream record in the shape Lambda hands an event source mapping's function. */
const lambdaRecord = (r: StreamRecord): DynamoDBRecord => r as unknown as DynamoDBRecord;
