/**
 * The spend sweeper's passes, run by functions/spend-sweeper on a schedule (and by local mode on
 * a timer). None ever decides a budget. The third (settleKeyCopies, below) settles the counter
 * copy of a regenerated key whose regeneration died before it did (lib/store/key-copy).
 *
 * 1. Releasing strict reservations whose call never settled (its Lambda was killed between
 *    reserving and settling). Every reservation record carries `expires_at`, later than any llm
 *    invocation can run, and is listed under GSI1 `RESERVATION#<0..15>` sorted by it until it is
 *    settled. The sweeper releases each expired one in one transaction: the record goes
 *    `reserved -> expired` and the estimate leaves the committed counters it was added to. A
 *    settlement that still arrives afterwards counts in full (lib/store/spend-ledger). It only returns
 *    headroom that a dead call held, so a sweeper that does not run makes budgets stricter,
 *    never looser.
 *
 * 2. Tidying window counters. Each budget window has its own attributes on every counter item
 *    (`ws#<window id>`, `wc#<window id>`, lib/store/codec) and nothing else ever removes them: an
 *    hourly budget would add ~17,500 a year and reach DynamoDB's 400 KB item limit. The tidy
 *    pass REMOVEs the counters of windows that ended more than one full window ago, judging
 *    each id (`<duration>@<ISO start>`) by its own duration: the current and the previous
 *    window stay (a call settles into the window it started in), as does any id it cannot parse,
 *    and lifetime `spend`/`committed` are never touched. Removing names that no settlement adds
 *    to any more is idempotent and safe beside concurrent settlements and other sweeps; the
 *    update is conditioned on the item existing, so an item deleted meanwhile is not re-created.
 *    A late settlement for an old window (one that arrives after its reservation expired) may
 *    re-create that window's counter: the next run removes it again; lifetime spend has it.
 *
 *    What it visits: the proxy's partition (`GLOBAL`: its item and counter shards), then every
 *    item listed under GSI1 `KEY`, `USER`, `TEAM`, `ORG`, `END_USER`. A team's whole partition is
 *    queried (the team, its members `MEMBER#<user>` and its shards `SPEND#<n>`); so are the
 *    shards of keys and organizations when TOLLGATE_SPEND_SHARDS gives their kind more than one
 *    (shards beyond the configured count are never written, so they cannot grow). One UpdateItem
 *    per item that has something to remove (one per 100 names on an item with a long backlog),
 *    none for the others. No Scan.
 *
 *    Bounded work: GSI1 is read 100 items a page; a run stops at a page boundary once its budget
 *    (the Lambda's remaining time, or `maxItems`) is spent and saves where it stopped in the item
 *    `SWEEP/TIDY`; the next run continues from there, and a run that completes a pass it
 *    resumed starts the next one from the beginning. A table small enough for one run never
 *    gets that item. Reads per pass: the entity items once (GSI1) plus one Query per team, per
 *    sharded key or organization, and the proxy's partition.
 */
import {
  type DynamoDBDocumentClient,
  QueryCommand,
  type QueryCommandInput,
  type QueryCommandOutput,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import type { BudgetEntity } from '../domain/budget-entity.js';
import { dollarsToNanos } from '../domain/cost.js';
import { isDuration, windowEndedBefore } from '../domain/periods.js';
import { type ShardCounts, shardCount } from '../domain/sharding.js';
import { StoreUnavailableError } from '../errors.js';
import { logger } from '../telemetry.js';
import { type Item, WINDOW_COMMITTED_PREFIX, WINDOW_SPEND_PREFIX } from './codec.js';
import { isConditionalCheckFailed } from './errors.js';
import { hydrate } from './hydrate.js';
import { INDEX, type ItemRef, refs } from './keys.js';
import { KEY_COPY_PARTITION } from './listings.js';
import { SHARD_SK_PREFIX } from './shards.js';
import { type CounterMove, commitSpend, RESERVATION_PARTITIONS, reservationPartition } from './spend-ledger.js';

/** How often the sweeper runs (the deployed schedule, and local mode's timer). */
export const SWEEP_EVERY_MINUTES = 5;

export interface SweepResult {
  /** Reservations released. */
  released: number;
  /** Expired records that were settled meanwhile (nothing to release). */
  raced: number;
}

interface ReservedRecord {
  request_id: string;
  state: string;
  estimate: number;
  holds?: { PK: string; SK: string; window?: string }[];
}

/** Pass 1: releases every reservation whose `expires_at` is before `now`. */
export async function releaseExpiredReservations(
  client: DynamoDBDocumentClient,
  tableName: string,
  now: number,
  opts: { maxConflictRetries?: number } = {},
): Promise<SweepResult> {
  const out: SweepResult = { released: 0, raced: 0 };
  const cutoff = new Date(now).toISOString();
  for (let p = 0; p < RESERVATION_PARTITIONS; p++) {
    let start: Record<string, unknown> | undefined;
    do {
      let page: QueryCommandOutput;
      try {
        page = await client.send(
          new QueryCommand({
            TableName: tableName,
            IndexName: INDEX.byKind,
            KeyConditionExpression: 'GSI1PK = :p AND GSI1SK < :cutoff',
            ExpressionAttributeValues: { ':p': reservationPartition(p), ':cutoff': cutoff },
            ExclusiveStartKey: start,
          }),
        );
      } catch (e) {
        logger().error('reservation sweep failed', { error: (e as Error).name });
        throw new StoreUnavailableError();
      }
      let records: ReservedRecord[];
      try {
        records = (await hydrate(client, tableName, page.Items ?? [])) as unknown as ReservedRecord[];
      } catch (e) {
        logger().error('reservation sweep failed', { error: (e as Error).name });
        throw new StoreUnavailableError();
      }
      // Settled since the index was read: nothing to release (the release's condition says so too).
      for (const item of records.filter((r) => r.state === 'reserved')) {
        if (await release(client, tableName, item, opts.maxConflictRetries ?? 8)) out.released++;
        else out.raced++;
      }
      start = page.LastEvaluatedKey;
    } while (start);
  }
  if (out.released > 0) logger().warn('released expired reservations', { ...out });
  return out;
}

async function release(client: DynamoDBDocumentClient, tableName: string, r: ReservedRecord, maxConflictRetries: number): Promise<boolean> {
  const estimate = dollarsToNanos(Number(r.estimate));
  const moves: CounterMove[] = (r.holds ?? []).map((h) => ({
    ref: { PK: h.PK, SK: h.SK },
    spendNanos: 0,
    committedNanos: -estimate,
    windowId: h.window,
    mustExist: true,
  }));
  const result = await commitSpend(client, tableName, {
    head: {
      Update: {
        TableName: tableName,
        Key: refs.settlement(r.request_id),
        UpdateExpression: 'SET #state = :expired REMOVE GSI1PK, GSI1SK',
        ConditionExpression: '#state = :reserved',
        ExpressionAttributeNames: { '#state': 'state' },
        ExpressionAttributeValues: { ':expired': 'expired', ':reserved': 'reserved' },
      },
    },
    moves,
    // An entity deleted since has nothing to release.
    skipGone: true,
    maxConflictRetries,
    requestId: r.request_id,
  });
  return result.ok;
}

// ---------------------------------------------------------------------------------------------
// Pass 2: tidying the counters of ended windows.

/** Where an unfinished tidy pass continues (never listed in an index). */
export const TIDY_CURSOR: ItemRef = { PK: 'SWEEP', SK: 'TIDY' };
/** GSI1 partitions the tidy pass lists, in order (after the proxy's partition). */
export const TIDY_KINDS = ['KEY', 'USER', 'TEAM', 'ORG', 'END_USER'] as const;
/** The partitions the tidy pass queries on the base table (IAM `dynamodb:LeadingKeys` patterns). */
export const TIDY_PARTITIONS = [refs.globalSpend().PK, TIDY_CURSOR.PK, 'TEAM#*', 'KEY#*', 'ORG#*'] as const;

/** The partitions of the items the sweeper reads by key after listing them on GSI1 (keys only). */
export const SWEEP_READ_PARTITIONS = ['REQ#*', 'KEY#*', 'USER#*', 'TEAM#*', 'ORG#*', 'END_USER#*'] as const;

const TIDY_PAGE = 100;
const TIDY_CONCURRENCY = 8;
const REMOVE_PER_UPDATE = 100;
/** GSI1 kinds whose counters may be spread over shards in their partition (lib/store/shards). */
const SHARDED_BY_GSI1: Partial<Record<(typeof TIDY_KINDS)[number], BudgetEntity>> = { KEY: 'key', ORG: 'organization' };

export interface TidyOptions {
  /** The counter shards per kind (TOLLGATE_SPEND_SHARDS): which partitions hold shards to visit. */
  shards: ShardCounts;
  /** Stop at the first page boundary after examining this many items (the next run continues). */
  maxItems?: number | undefined;
  /** Likewise once the clock (Date.now()) passes this. */
  deadline?: number | undefined;
  /** Items per GSI1 page (100; tests use less). */
  pageSize?: number | undefined;
}

export interface TidyResult {
  /** Items looked at. */
  examined: number;
  /** Items written (each had ended windows). */
  updated: number;
  /** Window attributes removed. */
  removed: number;
  /** Items deleted between listing and updating: left alone. */
  gone: number;
  /** Items whose update failed (logged; retried on the next pass). */
  failed: number;
  /** False when the run stopped early and saved a cursor. */
  complete: boolean;
}

const WINDOW_START = /^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{3})?Z$/;

/**
 * Whether a counter attribute (`ws#<id>`, `wc#<id>`) belongs to a window that ended more than one
 * full window before `now`, i.e. is neither the current window of its duration nor the previous
 * one (nor a later one). Anything else, and any id that does not parse, is kept.
 */
export function endedWindowTest(now: number): (attribute: string) => boolean {
  return (attribute) => {
    const prefix = attribute.startsWith(WINDOW_SPEND_PREFIX)
      ? WINDOW_SPEND_PREFIX
      : attribute.startsWith(WINDOW_COMMITTED_PREFIX)
        ? WINDOW_COMMITTED_PREFIX
        : undefined;
    if (!prefix) return false;
    const id = attribute.slice(prefix.length);
    const at = id.indexOf('@');
    if (at < 0) return false;
    const label = id.slice(0, at);
    if (label !== label.trim() || !isDuration(label) || !WINDOW_START.test(id.slice(at + 1))) return false;
    // Judged by the id alone (its length and start), so windows anchored anywhere are judged alike.
    return windowEndedBefore(id, now) === true;
  };
}

/** The window attributes of an item that the tidy pass removes at `now`. */
export const endedWindowAttributes = (item: Item, now: number): string[] => Object.keys(item).filter(endedWindowTest(now));

type TidyOutcome = { removed: number; gone: boolean; failed: boolean };

/**
 * REMOVEs an item's ended window attributes (as judged by `isEnded`), if it has any and still
 * exists. Never writes an item that has nothing to remove.
 */
export async function tidyItem(
  client: DynamoDBDocumentClient,
  tableName: string,
  item: Item,
  isEnded: (attribute: string) => boolean,
): Promise<TidyOutcome> {
  const names = Object.keys(item).filter(isEnded);
  const out: TidyOutcome = { removed: 0, gone: false, failed: false };
  for (let i = 0; i < names.length; i += REMOVE_PER_UPDATE) {
    const chunk = names.slice(i, i + REMOVE_PER_UPDATE);
    try {
      await client.send(
        new UpdateCommand({
          TableName: tableName,
          Key: { PK: item.PK, SK: item.SK },
          UpdateExpression: `REMOVE ${chunk.map((_, j) => `#w${j}`).join(', ')}`,
          ConditionExpression: 'attribute_exists(PK)',
          ExpressionAttributeNames: Object.fromEntries(chunk.map((name, j) => [`#w${j}`, name])),
        }),
      );
      out.removed += chunk.length;
    } catch (e) {
      if (isConditionalCheckFailed(e)) out.gone = true;
      else {
        logger().error('window tidy failed', { error: (e as Error).name, PK: String(item.PK), SK: String(item.SK) });
        out.failed = true;
      }
      break;
    }
  }
  return out;
}

interface Cursor {
  /** 0: the proxy's partition; 1..: TIDY_KINDS[step - 1]. */
  step: number;
  start?: Record<string, unknown> | undefined;
}

async function query(client: DynamoDBDocumentClient, input: QueryCommandInput, pass = 'window tidy') {
  try {
    return await client.send(new QueryCommand(input));
  } catch (e) {
    logger().error(`${pass} failed`, { error: (e as Error).name });
    throw new StoreUnavailableError();
  }
}

/** Every item of a partition (whose SK begins with `skPrefix`, if given), read consistently. */
async function partition(client: DynamoDBDocumentClient, tableName: string, pk: string, skPrefix?: string): Promise<Item[]> {
  const out: Item[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const page = await query(client, {
      TableName: tableName,
      KeyConditionExpression: skPrefix ? 'PK = :pk AND begins_with(SK, :sk)' : 'PK = :pk',
      ExpressionAttributeValues: { ':pk': pk, ...(skPrefix ? { ':sk': skPrefix } : {}) },
      ConsistentRead: true,
      ExclusiveStartKey: start,
    });
    out.push(...((page.Items ?? []) as Item[]));
    start = page.LastEvaluatedKey;
  } while (start);
  return out;
}

async function readCursor(client: DynamoDBDocumentClient, tableName: string): Promise<Cursor> {
  const page = await query(client, {
    TableName: tableName,
    KeyConditionExpression: 'PK = :pk AND SK = :sk',
    ExpressionAttributeValues: { ':pk': TIDY_CURSOR.PK, ':sk': TIDY_CURSOR.SK },
    ConsistentRead: true,
  });
  const item = page.Items?.[0];
  const step = item?.step;
  const start = item?.start_key;
  if (typeof step !== 'number' || !Number.isInteger(step) || step < 0 || step > TIDY_KINDS.length) return { step: 0 };
  return { step, start: start && typeof start === 'object' ? (start as Record<string, unknown>) : undefined };
}

async function writeCursor(client: DynamoDBDocumentClient, tableName: string, c: Cursor, now: number): Promise<void> {
  try {
    await client.send(
      new UpdateCommand({
        TableName: tableName,
        Key: TIDY_CURSOR,
        UpdateExpression: `SET #kind = :kind, #step = :step, #at = :at ${c.start ? ', #start = :start' : 'REMOVE #start'}`,
        ExpressionAttributeNames: { '#kind': 'kind', '#step': 'step', '#at': 'updated_at', '#start': 'start_key' },
        ExpressionAttributeValues: {
          ':kind': 'tidy_cursor',
          ':step': c.step,
          ':at': new Date(now).toISOString(),
          ...(c.start ? { ':start': c.start } : {}),
        },
      }),
    );
  } catch (e) {
    // The next run starts over from wherever the cursor last was: more reads, same result.
    logger().error('window tidy cursor not saved', { error: (e as Error).name });
  }
}

async function eachLimited<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++] as T);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

/** Pass 2: removes the counters of ended windows from every counter item (see the top of this file). */
export async function tidyWindowCounters(
  client: DynamoDBDocumentClient,
  tableName: string,
  now: number,
  opts: TidyOptions,
): Promise<TidyResult> {
  const out: TidyResult = { examined: 0, updated: 0, removed: 0, gone: 0, failed: 0, complete: false };
  const isEnded = endedWindowTest(now);
  const tidy = async (item: Item) => {
    out.examined++;
    const r = await tidyItem(client, tableName, item, isEnded);
    if (r.removed > 0) out.updated++;
    out.removed += r.removed;
    if (r.gone) out.gone++;
    if (r.failed) out.failed++;
  };
  const budgetLeft = () =>
    (opts.maxItems === undefined || out.examined < opts.maxItems) && (opts.deadline === undefined || Date.now() < opts.deadline);

  const resumed = await readCursor(client, tableName);
  const at: Cursor = { ...resumed };
  let pages = 0;
  while (at.step <= TIDY_KINDS.length) {
    if (pages > 0 && !budgetLeft()) {
      await writeCursor(client, tableName, at, now);
      logger().info('window tidy continues next run', { ...out, step: at.step });
      return out;
    }
    pages++;
    if (at.step === 0) {
      for (const item of await partition(client, tableName, refs.globalSpend().PK)) await tidy(item);
      at.step++;
      continue;
    }
    const kind = TIDY_KINDS[at.step - 1] as (typeof TIDY_KINDS)[number];
    const sharded = SHARDED_BY_GSI1[kind];
    const withShards = sharded !== undefined && shardCount(opts.shards, sharded) > 1;
    const page = await query(client, {
      TableName: tableName,
      IndexName: INDEX.byKind,
      KeyConditionExpression: 'GSI1PK = :k',
      ExpressionAttributeValues: { ':k': kind },
      Limit: opts.pageSize ?? TIDY_PAGE,
      ExclusiveStartKey: at.start,
    });
    await eachLimited(await hydrate(client, tableName, page.Items ?? []), TIDY_CONCURRENCY, async (item) => {
      const pk = String(item.PK);
      if (kind === 'TEAM') {
        // The team item (read again, consistently), its members and its shards.
        for (const i of await partition(client, tableName, pk)) await tidy(i);
        return;
      }
      await tidy(item);
      if (withShards) for (const shard of await partition(client, tableName, pk, SHARD_SK_PREFIX)) await tidy(shard);
    });
    at.start = page.LastEvaluatedKey;
    if (!at.start) at.step++;
  }
  out.complete = true;
  // A pass that resumed from a cursor leaves the next run to start from the beginning.
  if (resumed.step !== 0 || resumed.start) await writeCursor(client, tableName, { step: 0 }, now);
  if (out.removed > 0 || out.failed > 0) logger().info('window counters tidied', { ...out });
  return out;
}

export interface SweepRunResult extends SweepResult {
  tidy: TidyResult;
  /** Regenerated keys' counter copies settled (pass 3), and those that could not be. */
  keyCopies: KeyCopyResult;
}

// ---------------------------------------------------------------------------------------------
// Pass 3: settling regenerated keys' counter copies their regeneration left.

/** A copy younger than this is left to the regeneration that made it, which settles it before answering. */
export const KEY_COPY_SETTLE_AFTER_MS = 60_000;
/** Attempts per copy and run: one that keeps failing is tried again next run, not for the whole run. */
const KEY_COPY_ATTEMPTS = 2;

export interface KeyCopyResult {
  settled: number;
  failed: number;
}

/**
 * Settles the counter copy of every key replaced more than a minute before `now` whose copy is
 * still listed (GSI1 `KEY_COPY`, lib/store/listings): its regeneration died, or the store refused
 * it, between its transaction and settling the copy (lib/store/key-copy). `settle` is the admin
 * store's, idempotent: a copy settled meanwhile is a no-op. Without this, the key-level share of
 * the settlements that landed in between was lost when the tombstone's TTL removed it.
 */
export async function settleKeyCopies(
  client: DynamoDBDocumentClient,
  tableName: string,
  now: number,
  settle: (oldToken: string, attempts: number) => Promise<boolean>,
  deadline?: number,
): Promise<KeyCopyResult> {
  const out: KeyCopyResult = { settled: 0, failed: 0 };
  const cutoff = new Date(now - KEY_COPY_SETTLE_AFTER_MS).toISOString();
  const keyPrefix = refs.key('').PK;
  let start: Record<string, unknown> | undefined;
  do {
    const page = await query(
      client,
      {
        TableName: tableName,
        IndexName: INDEX.byKind,
        KeyConditionExpression: 'GSI1PK = :p AND GSI1SK < :cutoff',
        ExpressionAttributeValues: { ':p': KEY_COPY_PARTITION, ':cutoff': cutoff },
        ExclusiveStartKey: start,
      },
      'key copy sweep',
    );
    for (const item of page.Items ?? []) {
      // Past the deadline the rest wait for the next run (the tidy pass still gets its turn).
      if (deadline !== undefined && Date.now() >= deadline) return logged(out);
      const pk = String(item.PK);
      if (!pk.startsWith(keyPrefix)) continue;
      if (await settle(pk.slice(keyPrefix.length), KEY_COPY_ATTEMPTS)) out.settled++;
      else out.failed++;
    }
    start = page.LastEvaluatedKey;
  } while (start);
  return logged(out);
}

function logged(out: KeyCopyResult): KeyCopyResult {
  if (out.settled + out.failed > 0) logger().warn('settled regenerated key copies', { ...out });
  return out;
}

/** One scheduled run: reservations first (a release may touch an old window's counter), key copies, then tidying. */
export async function runSweep(
  client: DynamoDBDocumentClient,
  tableName: string,
  now: number,
  opts: TidyOptions & {
    maxConflictRetries?: number;
    /** The admin store's settling of a regenerated key's copy (pass 3; skipped without it). */
    settleKeyCopy?: ((oldToken: string, attempts: number) => Promise<boolean>) | undefined;
  },
): Promise<SweepRunResult> {
  const released = await releaseExpiredReservations(client, tableName, now, opts);
  const keyCopies = opts.settleKeyCopy
    ? await settleKeyCopies(client, tableName, now, opts.settleKeyCopy, opts.deadline)
    : { settled: 0, failed: 0 };
  const tidy = await tidyWindowCounters(client, tableName, now, opts);
  return { ...released, keyCopies, tidy };
}
