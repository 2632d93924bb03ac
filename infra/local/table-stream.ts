/**
 * Local mode's stand-in for the table stream's event source mapping: reads DynamoDB Local's
 * stream (every shard, from the start) and hands each batch to the consumers the deployed
 * table-stream function runs (lib/spend/stream.ts). A batch that fails is read again from the
 * failed record on the next poll, as Lambda retries it.
 */
import { DescribeTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  DescribeStreamCommand,
  DynamoDBStreamsClient,
  GetRecordsCommand,
  type GetRecordsCommandOutput,
  GetShardIteratorCommand,
  type _Record as StreamRecord,
} from '@aws-sdk/client-dynamodb-streams';
import type { DynamoDBRecord } from 'aws-lambda';
import { consumeAll, type StreamConsumer } from '../../lib/spend/stream.js';
import { SETTLED_RECORD_FILTER, TABLE_STREAM_BATCH } from '../../lib/store/spend-ledger.js';

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
  /** Some records were read from a shard, or handed to the consumers. */
  read: boolean;
  failed: boolean;
  /** A shard holds more than was read: a full batch was handed over. */
  backlog: boolean;
  /** The soonest a held batch's window ends (ms from now), when some records are held. */
  holdMs: number | undefined;
}

export interface TableStream {
  /** Reads and hands over everything, held batches too, until every shard is caught up (tests, and a clean stop). */
  drain(): Promise<void>;
  stop(): Promise<void>;
}

const LOCAL = { region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } };

export async function startTableStream(opts: {
  endpoint: string;
  tableName: string;
  consumers: readonly StreamConsumer[];
  /** Poll period when idle (default 500 ms); 0: no polling, drain() only. */
  everyMs?: number;
  /**
   * The records handed to the consumers, as the deployed mapping filters them (default: the
   * table-stream function's, lib/store/spend-ledger); null: every record.
   */
  filter?: FilterPattern | null;
  /** Records a batch holds at most (default: the deployed mapping's, TABLE_STREAM_BATCH). */
  batchSize?: number;
  /**
   * How long records that pass the filter are gathered before a batch short of `batchSize` is
   * handed over (default: the deployed mapping's batching window); 0: at once.
   */
  windowMs?: number;
  onError?: (e: unknown) => void;
}): Promise<TableStream> {
  const tables = new DynamoDBClient({ endpoint: opts.endpoint, ...LOCAL });
  const streams = new DynamoDBStreamsClient({ endpoint: opts.endpoint, ...LOCAL });
  const described = await tables.send(new DescribeTableCommand({ TableName: opts.tableName }));
  const streamArn = described.Table?.LatestStreamArn;
  if (!streamArn) throw new Error(`table ${opts.tableName} has no stream`);
  const filter = opts.filter === undefined ? SETTLED_RECORD_FILTER : opts.filter;
  const batchSize = opts.batchSize ?? TABLE_STREAM_BATCH.size;
  const windowMs = opts.windowMs ?? TABLE_STREAM_BATCH.windowSeconds * 1000;
  // Per shard: the next iterator (past the records held), or the sequence number to start at (a failed batch).
  const iterators = new Map<string, string | null>();
  const retryAt = new Map<string, string>();
  // Per shard: records read that passed the filter, not yet handed over, and since when the first waits.
  const held = new Map<string, { records: DynamoDBRecord[]; since: number }>();
  let running: Promise<Pass> | undefined;

  async function shardsOf(): Promise<string[]> {
    const out = await streams.send(new DescribeStreamCommand({ StreamArn: streamArn }));
    return (out.StreamDescription?.Shards ?? []).flatMap((s) => (s.ShardId ? [s.ShardId] : []));
  }

  async function iteratorOf(shardId: string): Promise<string | undefined> {
    const from = retryAt.get(shardId);
    const out = await streams.send(
      new GetShardIteratorCommand({
        StreamArn: streamArn,
        ShardId: shardId,
        ...(from ? { ShardIteratorType: 'AT_SEQUENCE_NUMBER', SequenceNumber: from } : { ShardIteratorType: 'TRIM_HORIZON' }),
      }),
    );
    retryAt.delete(shardId);
    return out.ShardIterator;
  }

  /**
   * One pass over every shard, as the deployed mapping batches: reads what a shard holds until a
   * batch is full, hands over full batches, and a short one once its first record has waited the
   * window (`force`: at once). A batch a consumer fails is read again from the failed record.
   */
  async function pass(force: boolean): Promise<Pass> {
    const result: Pass = { read: false, failed: false, backlog: false, holdMs: undefined };
    for (const shardId of await shardsOf()) {
      const hold = held.get(shardId) ?? { records: [], since: 0 };
      let iterator = iterators.get(shardId);
      if (iterator !== null) iterator ??= (await iteratorOf(shardId)) ?? null;
      while (iterator && hold.records.length < batchSize) {
        const out: GetRecordsCommandOutput = await streams.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: 100 }));
        iterator = out.NextShardIterator ?? null;
        const all = out.Records ?? [];
        if (all.length === 0) break;
        result.read = true;
        const passing = all.map(lambdaRecord).filter((r) => !filter || matchesFilter(filter, r));
        if (passing.length > 0 && hold.records.length === 0) hold.since = Date.now();
        hold.records.push(...passing);
      }
      iterators.set(shardId, iterator ?? null);
      if (hold.records.length >= batchSize) result.backlog = true;
      while (hold.records.length >= batchSize || (hold.records.length > 0 && (force || Date.now() - hold.since >= windowMs))) {
        const batch = hold.records.splice(0, batchSize);
        result.read = true;
        const failedAt = await consumeAll(opts.consumers, batch);
        if (failedAt) {
          result.failed = true;
          retryAt.set(shardId, failedAt);
          iterators.delete(shardId);
          hold.records = [];
          break;
        }
      }
      if (hold.records.length === 0) held.delete(shardId);
      else {
        held.set(shardId, hold);
        const left = Math.max(0, hold.since + windowMs - Date.now());
        result.holdMs = Math.min(result.holdMs ?? left, left);
      }
    }
    return result;
  }

  const once = (force = false): Promise<Pass> => {
    running ??= pass(force).finally(() => {
      running = undefined;
    });
    return running;
  };

  let stopped = false;
  const every = opts.everyMs ?? 500;
  let timer: NodeJS.Timeout | undefined;
  /**
   * Polls again at once while a shard has a backlog (full batches), as Lambda's event source
   * mapping reads a shard behind without waiting; else waits `every` ms, or less when a held
   * batch's window ends sooner. A failed batch is retried `every` ms later, not in a busy loop.
   */
  const poll = (): void => {
    if (stopped) return;
    once().then(
      ({ failed, backlog, holdMs }) => schedule(failed ? every : backlog ? 0 : Math.min(every, holdMs ?? every)),
      (e: unknown) => {
        opts.onError?.(e);
        schedule(every);
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
      // Until a pass reads nothing and holds nothing, twice (a record written during a pass is read by the next).
      for (let quiet = 0; quiet < 2; ) {
        const p = await once(true);
        quiet = p.read || p.holdMs !== undefined ? 0 : quiet + 1;
      }
    },
    async stop() {
      // Records held are not handed over: a poller started again reads the stream from its start,
      // and what was handed over before changes nothing when handed again.
      stopped = true;
      if (timer) clearTimeout(timer);
      await running?.catch(() => undefined);
      tables.destroy();
      streams.destroy();
    },
  };
}

/** The SDK's stream record in the shape Lambda hands an event source mapping's function. */
const lambdaRecord = (r: StreamRecord): DynamoDBRecord => r as unknown as DynamoDBRecord;
