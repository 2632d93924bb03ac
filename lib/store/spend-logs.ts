/**
 * Spend logs and daily rollups in the table (lib/domain/spend-log). Written off the request path
 * by the table's stream consumer (lib/spend/stream.ts), from the settlement items that carry a
 * log; read by the spend reports (lib/admin/actions/spend.ts).
 *
 * - Index items, one per scope a log is listed under: `SPENDLOG#all#<day>`, `SPENDLOG#key#<hash>`,
 *   `SPENDLOG#user#<id>`, `SPENDLOG#team#<id>`, `SPENDLOG#org#<id>`, `SPENDLOG#end_user#<id>`,
 *   each `SK = <startTime>#<request id>` (newest last), holding the log and expiring after the
 *   retention. Writing them again changes nothing, so a redelivered stream batch is harmless.
 * - Rollups: `SPENDROLL#<day>` / one item per (group, id, model) with summed `spend`, tokens and
 *   `requests`. A stream batch's rows are summed and written in one transaction (per 100 items)
 *   with a marker `SPENDROLLED#<request id>` per request, put on the condition that it is new: a
 *   request is added once however often its record comes (lib/store/counter-ledger).
 */
import { BatchWriteCommand, type DynamoDBDocumentClient, GetCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { dollarsToNanos } from '../domain/cost.js';
import { dayOf, type ReportGroup, rollupRowsOf, type SpendLog, unpackLog } from '../domain/spend-log.js';
import { InvalidRequestError } from '../errors.js';
import { applyLedger, type LedgerMarker, type RollupAdd } from './counter-ledger.js';
import { refs } from './keys.js';
import { SPEND_LOG_ATTR } from './spend-ledger.js';

export type LogScope = 'all' | 'key' | 'user' | 'team' | 'org' | 'end_user';

const logPk = (scope: LogScope, id: string): string => `SPENDLOG#${scope}#${id}`;
const logSk = (log: Pick<SpendLog, 'startTime' | 'request_id'>): string => `${log.startTime}#${log.request_id}`;
const rollPk = (day: string): string => `SPENDROLL#${day}`;
const MARKER_KEEP_S = 3 * 86_400;
const BATCH_WRITE_MAX = 25;
/** A request added to the rollups: `SPENDROLLED#<request id>`. */
const ROLLED_MARKER: LedgerMarker = { prefix: 'SPENDROLLED#', sk: 'SPENDROLLED', kind: 'spend_rolled' };

/** What one request adds to each of its rollup rows of its day. */
export function rollupAddsOf(log: SpendLog): RollupAdd[] {
  const day = dayOf(log.startTime);
  return rollupRowsOf(log).map((row) => ({
    ref: { PK: rollPk(day), SK: JSON.stringify([row.group, row.id, row.model]) },
    labels: { kind: 'spend_rollup', day, group: row.group, id: row.id, model: row.model },
    spendNanos: dollarsToNanos(log.spend),
    promptTokens: log.prompt_tokens,
    completionTokens: log.completion_tokens,
    requests: 1,
  }));
}

/** The partitions a log is listed under. */
export function logScopes(log: SpendLog): [LogScope, string][] {
  const out: [LogScope, string][] = [['all', dayOf(log.startTime)]];
  if (log.api_key) out.push(['key', log.api_key]);
  if (log.user) out.push(['user', log.user]);
  if (log.team_id) out.push(['team', log.team_id]);
  if (log.organization_id) out.push(['org', log.organization_id]);
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
  ) {}

  /** Indexes a settled request's log and adds it to the rollups (once). */
  apply(log: SpendLog): Promise<void> {
    return this.applyMany([log]);
  }

  /**
   * Indexes a batch of settled requests' logs (writing an index item again changes nothing) and
   * adds them to the rollups, each once: a batch's rows are summed and written together with a
   * marker per request (lib/store/counter-ledger), not one transaction per request.
   */
  async applyMany(logs: readonly SpendLog[]): Promise<void> {
    const requests = logs.flatMap((log) => {
      const ttl = Math.floor(Date.parse(log.startTime) / 1000) + this.retentionSeconds;
      return logScopes(log).map(([scope, id]) => ({
        PutRequest: {
          Item: {
            PK: logPk(scope, id),
            SK: logSk(log),
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
    await applyLedger(
      this.client,
      this.tableName,
      logs.map((log) => ({ requestId: log.request_id, moves: [], rollups: rollupAddsOf(log) })),
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
    return typeof text === 'string' ? unpackLog(text) : undefined;
  }

  /** One page of logs, newest first, with a cursor that only resumes this same query. */
  async list(q: LogQuery): Promise<{ data: SpendLog[]; next_cursor: string | null }> {
    const partitions = q.scope === 'all' ? (q.days ?? []).map((d) => logPk('all', d)) : [logPk(q.scope, q.id ?? '')];
    const start = decodeLogCursor(q.cursor, partitions);
    const data: SpendLog[] = [];
    for (let p = start?.partition ?? 0; p < partitions.length; p++) {
      let exclusiveStart = p === start?.partition ? start.key : undefined;
      do {
        const names: Record<string, string> = {};
        const values: Record<string, unknown> = { ':pk': partitions[p] };
        let condition = 'PK = :pk';
        if (q.from && q.to) {
          condition += ' AND SK BETWEEN :from AND :to';
          values[':from'] = q.from;
          values[':to'] = `${q.to}\uffff`;
        }
        const filters = Object.entries(q.where ?? {}).filter(([, v]) => v !== undefined);
        filters.forEach(([k, v], i) => {
          names[`#f${i}`] = k;
          values[`:f${i}`] = v;
        });
        const out = await this.client.send(
          new QueryCommand({
            TableName: this.tableName,
            KeyConditionExpression: condition,
            ...(filters.length > 0
              ? { FilterExpression: filters.map((_, i) => `#f${i} = :f${i}`).join(' AND '), ExpressionAttributeNames: names }
              : {}),
            ExpressionAttributeValues: values,
            ScanIndexForward: false,
            Limit: q.limit - data.length,
            ...(exclusiveStart ? { ExclusiveStartKey: exclusiveStart } : {}),
          }),
        );
        for (const item of out.Items ?? []) data.push(unpackLog(item[SPEND_LOG_ATTR] as string));
        exclusiveStart = out.LastEvaluatedKey as Record<string, string> | undefined;
        if (data.length >= q.limit) {
          const next = exclusiveStart
            ? { partition: p, key: exclusiveStart }
            : p + 1 < partitions.length
              ? { partition: p + 1 }
              : undefined;
          return { data, next_cursor: next ? encodeLogCursor(next) : null };
        }
      } while (exclusiveStart);
    }
    return { data, next_cursor: null };
  }

  /** Every rollup row of these days. */
  async rollups(days: readonly string[]): Promise<RollupItem[]> {
    const out: RollupItem[] = [];
    for (const day of days) {
      let start: Record<string, unknown> | undefined;
      do {
        const page = await this.client.send(
          new QueryCommand({
            TableName: this.tableName,
            KeyConditionExpression: 'PK = :pk',
            ExpressionAttributeValues: { ':pk': rollPk(day) },
            ...(start ? { ExclusiveStartKey: start } : {}),
          }),
        );
        for (const i of page.Items ?? [])
          out.push({
            day,
            group: i.group as ReportGroup,
            id: String(i.id),
            model: String(i.model),
            spend: Number(i.spend ?? 0),
            prompt_tokens: Number(i.prompt_tokens ?? 0),
            completion_tokens: Number(i.completion_tokens ?? 0),
            requests: Number(i.requests ?? 0),
          });
        start = page.LastEvaluatedKey;
      } while (start);
    }
    return out;
  }
}

interface LogCursor {
  partition: number;
  key?: Record<string, string> | undefined;
}

const encodeLogCursor = (c: LogCursor): string => Buffer.from(JSON.stringify(c), 'utf8').toString('base64url');

/** A cursor this query returned: its partition index in range, its key inside that partition (never another scope's). */
function decodeLogCursor(cursor: string | undefined, partitions: readonly string[]): LogCursor | undefined {
  if (!cursor) return undefined;
  const bad = () => new InvalidRequestError('`cursor` is not a cursor this query returned', 'invalid_cursor', 'cursor');
  let c: unknown;
  try {
    c = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw bad();
  }
  const v = c as LogCursor;
  if (!v || typeof v !== 'object' || !Number.isInteger(v.partition) || v.partition < 0 || v.partition >= partitions.length) throw bad();
  if (v.key !== undefined) {
    const k = v.key as Record<string, unknown>;
    if (
      typeof k !== 'object' ||
      k === null ||
      Object.keys(k).sort().join() !== 'PK,SK' ||
      k.PK !== partitions[v.partition] ||
      typeof k.SK !== 'string'
    )
      throw bad();
  }
  return v;
}
