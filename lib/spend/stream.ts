/**
 * The table's stream, off the request path: every settlement that lands with a spend log is
 * indexed for `/spend/logs` and added to the daily rollups the reports read (lib/store/spend-logs).
 * Consumers are plain functions of a batch of stream records, so the Lambda (functions/table-stream)
 * and local mode's poller (infra/local/table-stream.ts) run the very same code.
 *
 * A batch is processed in order; the first record that fails stops it and is reported, so the
 * stream hands it (and those after it) back: redelivered records are harmless (index writes are
 * idempotent, rollups count a request once).
 */
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { DynamoDBRecord } from 'aws-lambda';
import { withoutSecrets } from '../domain/secrets.js';
import { MAX_TAGS, type SpendLog, unpackLog } from '../domain/spend-log.js';
import type { Item } from '../store/codec.js';
import { type LedgerRecord, ledgerRecordOfItem, type RollupAdd } from '../store/counter-ledger.js';
import { SPEND_LOG_ATTR } from '../store/spend-ledger.js';
import { rollupAddsOf, type SpendLogStore } from '../store/spend-logs.js';
import { logger } from '../telemetry.js';

export type StreamConsumer = (records: readonly DynamoDBRecord[]) => Promise<{ failedAt?: string | undefined }>;

const image = (i: unknown): Record<string, unknown> | undefined =>
  i && typeof i === 'object' ? unmarshall(i as Record<string, AttributeValue>) : undefined;

/** The spend log a record brings, when it is a settlement that just landed with one. */
export function settledLogOf(record: DynamoDBRecord): SpendLog | undefined {
  if (record.eventName !== 'INSERT' && record.eventName !== 'MODIFY') return undefined;
  const next = image(record.dynamodb?.NewImage);
  if (next?.kind !== 'settlement' || next.state !== 'settled' || typeof next[SPEND_LOG_ATTR] !== 'string') return undefined;
  const prior = image(record.dynamodb?.OldImage);
  if (prior && prior.state === 'settled' && typeof prior[SPEND_LOG_ATTR] === 'string') return undefined;
  return unpackLog(next[SPEND_LOG_ATTR] as string);
}

/**
 * A record that would fail every time: said, with its item, and passed over. Thrown, it would
 * hold the stream, and every counter behind it, until the stream drops it.
 */
function passOver(r: DynamoDBRecord, message: string, e: unknown): [] {
  logger().error(message, { item: r.dynamodb?.NewImage?.PK?.S, sequenceNumber: r.dynamodb?.SequenceNumber, error: (e as Error).message });
  return [];
}

/**
 * A consumer's failure at a record, said (the consumer, the record, the error without a secret)
 * and where the stream resumes: the stream's retry and a later give-up carry no reason.
 */
export function failedOn(record: DynamoDBRecord | undefined, consumer: string, e: unknown): { failedAt: string | undefined } {
  const sequenceNumber = record?.dynamodb?.SequenceNumber;
  logger().error(`table stream: ${consumer} failed; the stream retries from this record`, {
    item: record?.dynamodb?.NewImage?.PK?.S,
    sequenceNumber,
    error: e instanceof Error ? `${e.name}: ${withoutSecrets(e.message)}` : 'not an Error',
  });
  return { failedAt: sequenceNumber };
}

/**
 * The spend log a record brings (settledLogOf), for a consumer of logs (index and rollups,
 * alerts, export): one that cannot be read is said and passed over by each, never thrown.
 */
/**
 * When a settlement record counted (its `created_at`: the settlement's own moment, which picks its
 * budget windows; its log's `startTime` names the same moment); undefined when the record does
 * not say.
 */
export function settledAtOf(record: DynamoDBRecord): number | undefined {
  const at = image(record.dynamodb?.NewImage)?.created_at;
  const t = typeof at === 'string' ? Date.parse(at) : Number.NaN;
  return Number.isFinite(t) ? t : undefined;
}

export function readableLogOf(record: DynamoDBRecord, consumer: string): SpendLog | undefined {
  try {
    return settledLogOf(record);
  } catch (e) {
    passOver(record, `spend log unreadable: passed over by ${consumer}`, e);
    return undefined;
  }
}

/**
 * Indexes and rolls up the spend logs of a batch, together (the rollup rows summed over the
 * batch); the rows of a record whose counters came from it were added with them. On failure the
 * batch is written record by record up to the one that fails, where the stream resumes: what was
 * written before changes nothing when written again, and each request is rolled up once (markers).
 */
export function spendLogConsumer(store: () => SpendLogStore): StreamConsumer {
  return async (records) => {
    const found = records.flatMap((r) => {
      const log = readableLogOf(r, 'the spend-log index and rollups');
      return log ? [{ record: r, log, rolledUp: rolledUpWithCounters(r) }] : [];
    });
    if (found.length === 0) return {};
    try {
      await store().applyMany(
        found.map((f) => f.log),
        found.filter((f) => !f.rolledUp).map((f) => f.log),
      );
      return {};
    } catch {
      // Which record fails: those before it are written one by one (writing again changes
      // nothing), so the stream resumes at it, and a record given up on later is that one, not
      // the batch's first.
      for (const f of found) {
        try {
          await store().applyMany([f.log], f.rolledUp ? [] : [f.log]);
        } catch (e) {
          return failedOn(f.record, 'the spend-log index and rollups', e);
        }
      }
      return {};
    }
  };
}

/**
 * A ledger settlement item's counter moves (lib/store/counter-ledger) and its spend log's daily
 * rollup rows: added together, in the counters' transactions, under the one marker
 * of the counters (a second marker per request for the rollups cost 2 write units).
 * A log that cannot be read leaves the moves alone, without rollups: the counters never wait on
 * the log.
 */
export function ledgerRecordWithRollups(item: Item): LedgerRecord | undefined {
  const record = ledgerRecordOfItem(item);
  if (!record || typeof item[SPEND_LOG_ATTR] !== 'string') return record;
  let rollups: RollupAdd[];
  try {
    rollups = rollupAddsOf(unpackLog(item[SPEND_LOG_ATTR] as string));
  } catch {
    return record;
  }
  return rollups.length <= MAX_ROLLUP_ROWS && rollups.every(saneRollup) ? { ...record, rollups } : record;
}

/**
 * The most rows a settlement's log makes (model, key, user, team, organization, end user, and its
 * tags), so a record's moves, rows and marker always fit one transaction of 100 items.
 */
const MAX_ROLLUP_ROWS = 6 + MAX_TAGS;

/**
 * A row the counters' transaction can carry: whole non-negative amounts, on a real day, under a
 * key DynamoDB takes (a sort key of at most 1,024 bytes, a partition key of 2,048: the row's key
 * holds ids and the model, an end user's id is the caller's own `user`), else the transaction
 * would be refused every time and hold the counters.
 */
const saneRollup = (a: RollupAdd): boolean =>
  Buffer.byteLength(a.ref.PK, 'utf8') <= 2048 &&
  Buffer.byteLength(a.ref.SK, 'utf8') <= 1024 &&
  [a.spendNanos, a.promptTokens, a.completionTokens, a.requests, a.failedRequests].every((n) => Number.isSafeInteger(n) && n >= 0) &&
  /^\d{4}-\d{2}-\d{2}$/.test(a.labels.day ?? '') &&
  Object.values(a.labels).every((v) => typeof v === 'string' && v.length > 0);

/** What a record brings to the counters, when it is a ledger settlement that just landed. */
export function ledgerRecordOf(record: DynamoDBRecord): LedgerRecord | undefined {
  if (record.eventName !== 'INSERT') return undefined;
  const next = image(record.dynamodb?.NewImage);
  return next ? ledgerRecordWithRollups(next) : undefined;
}

/** Whether the counters' consumer rolled this record's log up (so the spend logs' must not). */
function rolledUpWithCounters(record: DynamoDBRecord): boolean {
  try {
    return ledgerRecordOf(record)?.rollups !== undefined;
  } catch {
    return false;
  }
}

/**
 * Adds a batch's ledger settlements into the counters, exactly once each (markers), summed per
 * counter item. On failure the batch is added record by record up to the one that fails, where
 * the stream resumes: a record the store refuses every time (an item it cannot add to) holds
 * itself and those behind it, not the records before it, which a retry of the whole batch would
 * hold with it until the stream drops them. Those already added find their markers.
 */
export function counterConsumer(apply: (records: LedgerRecord[]) => Promise<unknown>): StreamConsumer {
  return async (records) => {
    const found = records.flatMap((r) => {
      try {
        const l = ledgerRecordOf(r);
        return l ? [{ record: r, l }] : [];
      } catch (e) {
        return passOver(r, 'ledger record unreadable: its counters are not added', e);
      }
    });
    if (found.length === 0) return {};
    try {
      await apply(found.map((f) => f.l));
      return {};
    } catch (batchError) {
      if (found.length === 1) return failedOn(found[0]?.record, 'the counters', batchError);
      for (const f of found) {
        try {
          await apply([f.l]);
        } catch (e) {
          return failedOn(f.record, 'the counters', e);
        }
      }
      // Each went through alone (the batch's failure passed): nothing is held.
      return {};
    }
  };
}

/** How long `afterward`'s later consumers hold the stream on a record that keeps failing them. */
const GIVE_UP_AFTER_MS = 3_600_000;

/** Records whose first failure `afterward` remembers, at most (the oldest forgotten first). */
const MAX_FAILING = 1_000;

/**
 * `first` over the batch, then `then` over what `first` got through: the counters are added
 * before alerts judge them. The earliest failure is where the stream resumes. The stream retries
 * a failed batch until it lands (the counters must), so a record that keeps failing a later
 * consumer (an alert webhook gone for good) would hold every record behind it, and their
 * counters: once it has failed them for `giveUpAfterMs` (since this instance first saw it fail)
 * it is logged and passed over by them. Not sooner for being old: a record the counters held for
 * an hour (an outage) is not passed over on its first failure after (found by review).
 */
export function afterward(
  first: StreamConsumer,
  then: readonly StreamConsumer[],
  opts: { giveUpAfterMs?: number; now?: () => number } = {},
): StreamConsumer {
  /** Since when each record (by sequence number) has failed the later consumers, as this instance saw. */
  const failingSince = new Map<string, number>();
  return async (records) => {
    const r = await safely(first, records);
    const upTo = r.failedAt ? records.findIndex((x) => x.dynamodb?.SequenceNumber === r.failedAt) : records.length;
    let rest = records.slice(0, upTo < 0 ? records.length : upTo);
    for (;;) {
      const failedAt = await consumeAll(then, rest);
      const i = failedAt === undefined ? rest.length : rest.findIndex((x) => x.dynamodb?.SequenceNumber === failedAt);
      // Those before the failure went through: forgotten.
      for (const x of rest.slice(0, Math.max(0, i))) failingSince.delete(x.dynamodb?.SequenceNumber as string);
      if (failedAt === undefined) return { failedAt: r.failedAt };
      if (i < 0) return { failedAt };
      const now = (opts.now ?? Date.now)();
      const since = failingSince.get(failedAt);
      if (since === undefined) {
        if (failingSince.size >= MAX_FAILING) failingSince.delete(failingSince.keys().next().value as string);
        failingSince.set(failedAt, now);
      }
      if (since === undefined || now - since <= (opts.giveUpAfterMs ?? GIVE_UP_AFTER_MS)) return { failedAt };
      logger().error('table stream: spend logs, alerts or export given up on for a record', {
        sequenceNumber: failedAt,
        failingForMs: now - since,
      });
      failingSince.delete(failedAt);
      // The others that went through it see the rest again: their writes are idempotent.
      rest = rest.slice(i + 1);
    }
  };
}

/**
 * A consumer over a batch, whatever it does: one that throws (a defect, a record no one foresaw)
 * fails the batch from its first record, said, instead of failing the whole invocation. So the
 * stream retries it as any failed batch, and `afterward` passes the record over in time, where a
 * thrown invocation would be retried until the stream drops it, holding every counter behind it.
 */
async function safely(consumer: StreamConsumer, records: readonly DynamoDBRecord[]): Promise<{ failedAt?: string | undefined }> {
  try {
    return await consumer(records);
  } catch (e) {
    logger().error('table stream: a consumer threw; the batch is retried from its first record', {
      sequenceNumber: records[0]?.dynamodb?.SequenceNumber,
      error: (e as Error)?.message,
    });
    return { failedAt: records[0]?.dynamodb?.SequenceNumber };
  }
}

/** Runs every consumer over a batch; the earliest failure is where the stream resumes. */
export async function consumeAll(consumers: readonly StreamConsumer[], records: readonly DynamoDBRecord[]): Promise<string | undefined> {
  const results = await Promise.all(consumers.map((c) => safely(c, records)));
  const failed = results.flatMap((r) => (r.failedAt ? [r.failedAt] : []));
  if (failed.length === 0) return undefined;
  const order = records.map((r) => r.dynamodb?.SequenceNumber);
  return failed.sort((a, b) => order.indexOf(a) - order.indexOf(b))[0];
}
