/**
 * Spend logs and daily rollups in the table (lib/domain/spend-log). Written off the request path
 * by the table's stream consumer (lib/spend/stream.ts), from the settlement items that carry a
 * log; read by the spend reports (lib/admin/actions/spend.ts).
 *
 * - Index items, one per scope a log is listed under: `SPENDLOG#all#<day>`, `SPENDLOG#key#<hash>`,
 *   `SPENDLOG#user#<id>`, `SPENDLOG#team#<id>`, `SPENDLOG#end_user#<id>`,
 *   each `SK = <startTime>#<request id>` (newest last), holding the log and expiring after the
 *   retention. Writing them again changes nothing, so a redelivered stream batch is harmless.
 *   A partition takes about 1,000 writes a second and a time-ordered sort key defeats DynamoDB's
 *   split for heat, so each scope's partition is spread over `LOG_SHARDS[scope]` partitions by a
 *   hash of the request id: shard 0 is the partition above, shard n is `SPENDLOG#<n>#<scope>#<id>`
 *   (a scope name never starts with a digit). A listing merges the shards newest first.
 * - Rollups: `SPENDROLL#<day>` / one item per (group, id, model) with summed `spend`, tokens and
 *   `requests`. A stream batch's rows are summed and written in one transaction (per 100 items)
 *   with a marker `SPENDROLLED#<request id>` per request, put on the condition that it is new: a
 *   request is added once however often its record comes (lib/store/counter-ledger).
 */
import { createHash } from 'node:crypto';
import { BatchWriteCommand, type DynamoDBDocumentClient, GetCommand, QueryCommand, type QueryCommandInput } from '@aws-sdk/lib-dynamodb';
import { dollarsToNanos } from '../domain/cost.js';
import { dayOf, type ReportGroup, rollupRowsOf, type SpendLog, unpackLog } from '../domain/spend-log.js';
import { InvalidRequestError } from '../errors.js';
import { applyLedger, type LedgerMarker, type RollupAdd } from './counter-ledger.js';
import { isKeyValue, MAX_SORT_KEY_BYTES, refs } from './keys.js';
import { SPEND_LOG_ATTR } from './spend-ledger.js';

/**
 * The scopes `/spend/logs` lists by (lib/admin/actions/spend). None by organization: no route
 * reads one, so an index item there cost a write unit per request for nothing (found by review);
 * an organization's spend is in the reports (rollups by organization).
 */
export type LogScope = 'all' | 'key' | 'user' | 'team' | 'end_user';

/** Days of `all` a listing covers at once: the one it merges and, once that one cannot fill the page, the next two (their shards at once). */
const READ_AHEAD_GROUPS = 3;

/**
 * Index partitions per scope. Every settled call writes one item into one of its day's `all`
 * partitions and one into its team's, key's and user's: each spread takes about
 * 1,000 × N of them a second. An end user is one person. A listing page queries every shard.
 */
export const LOG_SHARDS: Readonly<Record<LogScope, number>> = { all: 8, team: 4, key: 4, user: 4, end_user: 1 };

const logPk = (scope: LogScope, id: string, shard = 0): string =>
  shard === 0 ? `SPENDLOG#${scope}#${id}` : `SPENDLOG#${shard}#${scope}#${id}`;

/** FNV-1a: a request's shard, the same on every delivery of its record. */
function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

/** Every index partition of a scope's id, shard 0 first. */
export const logPartitionsOf = (scope: LogScope, id: string): string[] =>
  Array.from({ length: LOG_SHARDS[scope] }, (_, n) => logPk(scope, id, n));

/** The index partition a request's log is written to, in a scope. */
export const logShardOf = (requestId: string, scope: LogScope): number => fnv1a(requestId) % LOG_SHARDS[scope];

/** The index item's key of a log in a scope (its shard from the request id). */
export const logIndexRef = (log: Pick<SpendLog, 'startTime' | 'request_id'>, scope: LogScope, id: string): { PK: string; SK: string } => ({
  PK: logPk(scope, id, logShardOf(log.request_id, scope)),
  SK: logSk(log),
});
const logSk = (log: Pick<SpendLog, 'startTime' | 'request_id'>): string => `${log.startTime}#${log.request_id}`;
const rollPk = (day: string): string => `SPENDROLL#${day}`;
const MARKER_KEEP_S = 3 * 86_400;
const BATCH_WRITE_MAX = 25;
/** A request added to the rollups: `SPENDROLLED#<request id>`. */
export const ROLLED_MARKER: LedgerMarker = { prefix: 'SPENDROLLED#', sk: 'SPENDROLLED', kind: 'spend_rolled' };

/** A rollup row's sort key when its group, id and model are too long for one (rollupSk). */
const ROLLUP_DIGEST_PREFIX = '#sha256:';
/** Days of rollups a report reads at once. */
const ROLLUP_DAYS_AT_ONCE = 8;

/**
 * A rollup row's sort key: its group, id and model as JSON; when that is longer than a sort key
 * may be (an end user id is the caller's own, up to 256 characters, and a model name is long),
 * a digest of it. The row still carries its id and model as labels, which the reports read.
 */
export function rollupSk(group: string, id: string, model: string): string {
  const json = JSON.stringify([group, id, model]);
  return Buffer.byteLength(json, 'utf8') <= MAX_SORT_KEY_BYTES
    ? json
    : `${ROLLUP_DIGEST_PREFIX}${createHash('sha256').update(json).digest('hex')}`;
}

/** What one request adds to each of its rollup rows of its day. */
export function rollupAddsOf(log: SpendLog): RollupAdd[] {
  const day = dayOf(log.startTime);
  return rollupRowsOf(log).map((row) => ({
    ref: { PK: rollPk(day), SK: rollupSk(row.group, row.id, row.model) },
    labels: { kind: 'spend_rollup', day, group: row.group, id: row.id, model: row.model },
    spendNanos: dollarsToNanos(log.spend),
    promptTokens: log.prompt_tokens,
    completionTokens: log.completion_tokens,
    requests: 1,
    failedRequests: log.status === 'failure' ? 1 : 0,
  }));
}

/** The partitions a log is listed under. */
export function logScopes(log: SpendLog): [LogScope, string][] {
  const out: [LogScope, string][] = [['all', dayOf(log.startTime)]];
  if (log.api_key) out.push(['key', log.api_key]);
  if (log.user) out.push(['user', log.user]);
  if (log.team_id) out.push(['team', log.team_id]);
  if (log.end_user) out.push(['end_user', log.end_user]);
  return out;
}

/** A rollup row as read: one (day, group, id, model). */
export interface RollupItem {
  day: string;
  group: ReportGroup;
  id: string;
  model: string;
  spend: number;
  prompt_tokens: number;
  completion_tokens: number;
  requests: number;
  /** Of `requests`, those that failed (rows written before this was counted: none). */
  failed_requests: number;
}

export interface LogQuery {
  scope: LogScope;
  /** The scope's id; for `all`, the days to read, newest first. */
  id?: string;
  days?: string[];
  /** Inclusive ISO bounds on startTime. */
  from?: string;
  to?: string;
  /** Equality filters on the log's own fields. */
  where?: Partial<Record<'api_key' | 'user' | 'team_id' | 'end_user', string>>;
  cursor?: string | undefined;
  limit: number;
}

export class SpendLogStore {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
    private readonly retentionSeconds: number,
    /** `index: false`: no index items are written (config spendLogIndex); listings are refused. */
    private readonly options: { index?: boolean } = {},
  ) {}

  /** Whether logs are indexed for listings. */
  get indexed(): boolean {
    return this.options.index !== false;
  }

  /** Indexes a settled request's log and adds it to the rollups (once). */
  apply(log: SpendLog): Promise<void> {
    return this.applyMany([log]);
  }

  /**
   * Indexes a batch of settled requests' logs (writing an index item again changes nothing) and
   * adds `rollUp` (by default all of them) to the rollups, each once: a batch's rows are summed
   * and written together with a marker per request (lib/store/counter-ledger), not one
   * transaction per request. Logs whose rows came with their ledger record's counters are left
   * out of `rollUp` (lib/spend/stream).
   */
  async applyMany(logs: readonly SpendLog[], rollUp: readonly SpendLog[] = logs): Promise<void> {
    const requests = (this.indexed ? logs : []).flatMap((log) => {
      const ttl = Math.floor(Date.parse(log.startTime) / 1000) + this.retentionSeconds;
      return logScopes(log).map(([scope, id]) => ({
        PutRequest: {
          Item: {
            ...logIndexRef(log, scope, id),
            kind: 'spend_log',
            [SPEND_LOG_ATTR]: JSON.stringify(log),
            request_id: log.request_id,
            api_key: log.api_key,
            user: log.user,
            team_id: log.team_id,
            end_user: log.end_user,
            ttl,
          },
        },
      }));
    });
    for (let i = 0; i < requests.length; i += BATCH_WRITE_MAX) await this.writeAll(requests.slice(i, i + BATCH_WRITE_MAX));
    if (rollUp.length === 0) return;
    await applyLedger(
      this.client,
      this.tableName,
      rollUp.map((log) => ({ requestId: log.request_id, moves: [], rollups: rollupAddsOf(log) })),
      { markerTtlSeconds: MARKER_KEEP_S, marker: ROLLED_MARKER },
    );
  }

  private async writeAll(batch: { PutRequest: { Item: Record<string, unknown> } }[]): Promise<void> {
    let pending = batch;
    for (let round = 0; pending.length > 0; round++) {
      if (round > 8) throw new Error('spend log index writes kept coming back unprocessed');
      const out = await this.client.send(new BatchWriteCommand({ RequestItems: { [this.tableName]: pending } }));
      pending = (out.UnprocessedItems?.[this.tableName] ?? []) as typeof pending;
      if (pending.length > 0) await new Promise((r) => setTimeout(r, 20 * 2 ** round));
    }
  }

  /** A settled request's log by its id (the settlement item carries it). */
  async byRequest(requestId: string): Promise<SpendLog | undefined> {
    const out = await this.client.send(
      new GetCommand({ TableName: this.tableName, Key: refs.settlement(requestId), ConsistentRead: true }),
    );
    const text = out.Item?.[SPEND_LOG_ATTR];
    if (typeof text !== 'string') return undefined;
    try {
      return unpackLog(text);
    } catch {
      return undefined; // a log that cannot be read is not listed either (lib/spend/stream)
    }
  }

  /**
   * One page of logs, newest first, with a cursor that only resumes this same query. A scope's
   * shards are merged: each is read newest first in chunks, as the merge needs them. The cursor
   * holds the group (a day of `all`) and the sort key of the last log returned; the partitions are
   * always this query's own, so a cursor cannot name another's.
   */
  async list(q: LogQuery): Promise<{ data: SpendLog[]; next_cursor: string | null }> {
    if (!this.indexed)
      throw new InvalidRequestError(
        'spend logs are not indexed on this deployment (spendLogIndex is off): ask for one by `request_id`, or read the spend-log export; the reports still count every request',
        'spend_logs_not_indexed',
        'request_id',
      );
    const groups: [LogScope, string][] = q.scope === 'all' ? (q.days ?? []).map((d) => ['all', d]) : [[q.scope, q.id ?? '']];
    const start = decodeLogCursor(
      q.cursor,
      groups.map(([scope, id]) => logPk(scope, id)),
      q.scope === 'all' ? groups.map(([, day]) => day) : undefined,
    );
    const data: SpendLog[] = [];
    // Each group's shard readers, made when first needed: the next days of `all` are read ahead,
    // so days with few or no logs do not cost a round trip each.
    const readers = new Map<number, ReturnType<SpendLogStore['shardReader']>[]>();
    const readersOf = (g: number) => {
      let made = readers.get(g);
      if (!made) {
        const [scope, id] = groups[g] as [LogScope, string];
        const before = g === start?.group ? start.before : undefined;
        // A filter drops most of what a query reads: then each shard reads a whole page at a time.
        const filtered = Object.values(q.where ?? {}).some((v) => v !== undefined);
        const chunk = filtered ? q.limit + 1 : Math.min(q.limit + 1, Math.ceil(q.limit / LOG_SHARDS[scope]) + 5);
        made = logPartitionsOf(scope, id).map((pk) => this.shardReader(pk, q, before, chunk));
        readers.set(g, made);
      }
      return made;
    };
    for (let g = start?.group ?? 0; g < groups.length; g++) {
      const shards = readersOf(g);
      const before = g === start?.group ? start.before : undefined;
      let last: string | undefined;
      let aheadStarted = false;
      while (data.length < q.limit) {
        await Promise.all(shards.map((r) => r.ready()));
        // Once this day is read to its end and cannot fill the page, the next days are read
        // ahead (awaited when their day comes); a page this day fills reads no other.
        if (!aheadStarted && shards.every((r) => r.exhausted()) && data.length + shards.reduce((n, r) => n + r.buffered(), 0) < q.limit) {
          aheadStarted = true;
          for (let ahead = g + 1; ahead < Math.min(groups.length, g + READ_AHEAD_GROUPS); ahead++)
            for (const r of readersOf(ahead)) r.ready().catch(() => undefined);
        }
        let newest: (typeof shards)[number] | undefined;
        for (const r of shards) if (r.head() && (!newest || (r.head()?.sk as string) > (newest.head()?.sk as string))) newest = r;
        if (!newest) break;
        const taken = newest.take();
        data.push(taken.log);
        last = taken.sk;
      }
      if (data.length >= q.limit) return { data, next_cursor: encodeLogCursor({ group: g, before: last ?? before }) };
    }
    return { data, next_cursor: null };
  }

  /** One shard's logs newest first, below `before`, read `chunk` at a time when the merge needs more. */
  private shardReader(pk: string, q: LogQuery, before: string | undefined, chunk: number) {
    const buffer: { sk: string; log: SpendLog }[] = [];
    let next: Record<string, unknown> | undefined;
    let done = false;
    const names: Record<string, string> = {};
    const values: Record<string, unknown> = { ':pk': pk };
    let condition = 'PK = :pk';
    if (q.from && q.to) {
      let hi = `${q.to}\uffff`;
      if (before !== undefined && before < hi) hi = before;
      if (hi < q.from) done = true;
      condition += ' AND SK BETWEEN :from AND :hi';
      values[':from'] = q.from;
      values[':hi'] = hi;
    } else if (before !== undefined) {
      condition += ' AND SK < :before';
      values[':before'] = before;
    }
    const filters = Object.entries(q.where ?? {}).filter(([, v]) => v !== undefined);
    filters.forEach(([k, v], i) => {
      names[`#f${i}`] = k;
      values[`:f${i}`] = v;
    });
    const fill = async (): Promise<void> => {
      // Until something is buffered or the shard is read to its end (a filter may empty a page).
      while (!done && buffer.length === 0) {
        const out = await this.client.send(
          new QueryCommand({
            TableName: this.tableName,
            KeyConditionExpression: condition,
            ...(filters.length > 0
              ? { FilterExpression: filters.map((_, i) => `#f${i} = :f${i}`).join(' AND '), ExpressionAttributeNames: names }
              : {}),
            ExpressionAttributeValues: values,
            ScanIndexForward: false,
            Limit: chunk,
            ...(next ? { ExclusiveStartKey: next } : {}),
          }),
        );
        for (const item of out.Items ?? []) {
          const sk = String(item.SK);
          // BETWEEN is inclusive: the log the cursor names was returned already.
          if (before !== undefined && sk >= before) continue;
          buffer.push({ sk, log: unpackLog(item[SPEND_LOG_ATTR] as string) });
        }
        next = out.LastEvaluatedKey;
        if (!next) done = true;
      }
    };
    // One read at a time: a read ahead and the merge may both ask.
    let reading: Promise<void> | undefined;
    return {
      ready: (): Promise<void> => {
        reading ??= fill().finally(() => {
          reading = undefined;
        });
        return reading;
      },
      head: () => buffer[0],
      take: () => buffer.shift() as { sk: string; log: SpendLog },
      /** Read to its end: nothing more than what is buffered. */
      exhausted: () => done,
      buffered: () => buffer.length,
    };
  }

  /**
   * The rollup rows of these days, of one group (and one id in it) when asked: a row's sort key
   * begins with its group and id (rollupSk), so only those are read, plus the few whose key is a
   * digest (filtered by their labels). Days are read a few at a time.
   */
  async rollups(days: readonly string[], only?: { group: ReportGroup; id?: string }): Promise<RollupItem[]> {
    const perDay: RollupItem[][] = Array.from({ length: days.length }, () => []);
    const readDay = async (d: number): Promise<void> => {
      const day = days[d] as string;
      const queries: Partial<QueryCommandInput>[] = [{}];
      if (only) {
        const prefix = `${JSON.stringify(only.id === undefined ? [only.group] : [only.group, only.id]).slice(0, -1)},`;
        queries[0] = {
          KeyConditionExpression: 'PK = :pk AND begins_with(SK, :prefix)',
          ExpressionAttributeValues: { ':pk': rollPk(day), ':prefix': prefix },
        };
        queries.push({
          KeyConditionExpression: 'PK = :pk AND begins_with(SK, :digest)',
          FilterExpression: only.id === undefined ? '#group = :group' : '#group = :group AND #id = :id',
          ExpressionAttributeNames: { '#group': 'group', ...(only.id === undefined ? {} : { '#id': 'id' }) },
          ExpressionAttributeValues: {
            ':pk': rollPk(day),
            ':digest': ROLLUP_DIGEST_PREFIX,
            ':group': only.group,
            ...(only.id === undefined ? {} : { ':id': only.id }),
          },
        });
      }
      for (const query of queries) {
        let start: Record<string, unknown> | undefined;
        do {
          const page = await this.client.send(
            new QueryCommand({
              TableName: this.tableName,
              KeyConditionExpression: 'PK = :pk',
              ExpressionAttributeValues: { ':pk': rollPk(day) },
              ...query,
              ...(start ? { ExclusiveStartKey: start } : {}),
            }),
          );
          for (const i of page.Items ?? [])
            (perDay[d] as RollupItem[]).push({
              day,
              group: i.group as ReportGroup,
              id: String(i.id),
              model: String(i.model),
              spend: Number(i.spend ?? 0),
              prompt_tokens: Number(i.prompt_tokens ?? 0),
              completion_tokens: Number(i.completion_tokens ?? 0),
              requests: Number(i.requests ?? 0),
              failed_requests: Number(i.failed_requests ?? 0),
            });
          start = page.LastEvaluatedKey;
        } while (start);
      }
    };
    for (let d = 0; d < days.length; d += ROLLUP_DAYS_AT_ONCE)
      await Promise.all(days.slice(d, d + ROLLUP_DAYS_AT_ONCE).map((_, i) => readDay(d + i)));
    // Rows of a group only (a digest row's labels say which it is); in the days' order.
    return perDay.flat().filter((r) => !only || (r.group === only.group && (only.id === undefined || r.id === only.id)));
  }
}

interface LogCursor {
  /** The group (a day of `all`, else the scope's only one) the page ended in. */
  group: number;
  /** The sort key of the last log returned: the next page reads below it. */
  before?: string | undefined;
}

const encodeLogCursor = (c: LogCursor): string => Buffer.from(JSON.stringify(c), 'utf8').toString('base64url');

/**
 * A cursor this query returned: its group in range and a sort key. One written before the shards
 * (`{partition, key}`, the key in shard 0 of that group) is read as the same position. With `days`
 * (the `all` scope's groups), a sort key's group is its own day's: without dates a query's days
 * move on at midnight, and a group index alone would then name the next day's partition (the
 * page read from the top of the day the cursor was in, every log it had returned again).
 */
function decodeLogCursor(cursor: string | undefined, groupPks: readonly string[], days?: readonly string[]): LogCursor | undefined {
  const c = decodeLogPosition(cursor, groupPks);
  if (!c || c.before === undefined || !days) return c;
  const group = days.indexOf(dayOf(c.before));
  if (group < 0) throw badCursor();
  return { ...c, group };
}

const badCursor = () => new InvalidRequestError('`cursor` is not a cursor this query returned', 'invalid_cursor', 'cursor');

function decodeLogPosition(cursor: string | undefined, groupPks: readonly string[]): LogCursor | undefined {
  if (!cursor) return undefined;
  const bad = badCursor;
  let c: unknown;
  try {
    c = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw bad();
  }
  if (!c || typeof c !== 'object' || Array.isArray(c)) throw bad();
  const v = c as Record<string, unknown>;
  const inRange = (n: unknown): n is number => Number.isInteger(n) && (n as number) >= 0 && (n as number) < groupPks.length;
  if ('partition' in v) {
    if (!inRange(v.partition) || Object.keys(v).some((k) => k !== 'partition' && k !== 'key')) throw bad();
    if (v.key === undefined) return { group: v.partition };
    const k = v.key as Record<string, unknown>;
    if (
      typeof k !== 'object' ||
      k === null ||
      Object.keys(k).sort().join() !== 'PK,SK' ||
      k.PK !== groupPks[v.partition] ||
      !isKeyValue(k.SK)
    )
      throw bad();
    return { group: v.partition, before: k.SK as string };
  }
  if (!inRange(v.group) || Object.keys(v).some((k) => k !== 'group' && k !== 'before')) throw bad();
  if (v.before !== undefined && !isKeyValue(v.before)) throw bad();
  return { group: v.group, ...(v.before !== undefined ? { before: v.before as string } : {}) };
}
