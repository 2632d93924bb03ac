/**
 * Counters from the ledger (spend counters `stream`, lib/config): a fast settlement writes only its
 * `REQ#<request id>` record, with the counter moves it would have made (`counter_moves`), in one
 * conditional PutItem; the table's stream consumer (lib/spend/stream.ts) adds batches of those
 * records into the counters here, off the request path.
 *
 * Exactly once: a record is added together with its marker `SPENDAPPLIED#<request id>`, in the same
 * transaction, on the condition that the marker is new. A redelivered record (a retried or split
 * stream batch, a replayed settlement) finds its marker and changes nothing. A batch's moves are
 * summed per item first, so a counter written by many records of the batch is written once: a
 * transaction costs 2 units per marker and per distinct counter item, against 2 per counter item
 * and record when each settlement is its own transaction.
 *
 * An entity deleted before its record is added is skipped (never re-created as a bare counter),
 * and a key regenerated since is added to the key that replaced it (lib/store/key-successor), as
 * the transactional settlement does. The same engine adds a batch's spend logs into the daily
 * rollups (lib/store/spend-logs), with markers of their own.
 */
import { type DynamoDBDocumentClient, NumberValue, TransactWriteCommand, type TransactWriteCommandInput } from '@aws-sdk/lib-dynamodb';
import { nanosToDecimal } from '../domain/cost.js';
import { StoreUnavailableError } from '../errors.js';
import { logger } from '../telemetry.js';
import { COMMITTED_ATTR, type Item, WINDOW_COMMITTED_PREFIX, WINDOW_SPEND_PREFIX } from './codec.js';
import { cancellationCodes, isTransactionCanceled } from './errors.js';
import { isKeyItem, MAX_SUCCESSOR_HOPS, NOT_REPLACED, successorOf } from './key-successor.js';
import { createdOnFirstSpendAt, type ItemRef, refKey, refs } from './keys.js';
import type { CounterMove } from './spend-ledger.js';

/** The settlement record's attribute holding the counter moves still to be added (JSON text). */
export const COUNTER_MOVES_ATTR = 'counter_moves';
/** The key prefix of the counters' markers (infra grants the table-stream function these). */
export const COUNTER_MARKER_PREFIX = 'SPENDAPPLIED#';
const SETTLEMENT_PREFIX = refs.settlement('').PK;
/** A transaction holds at most 100 items: markers plus distinct counter items. */
const MAX_TX_ITEMS = 100;

type TxItem = NonNullable<TransactWriteCommandInput['TransactItems']>[number];

/** One settlement's moves, as the ledger keeps them, and what it adds to the daily rollups. */
export interface LedgerRecord {
  requestId: string;
  moves: readonly CounterMove[];
  rollups?: readonly RollupAdd[] | undefined;
}

/** What one request adds to one daily rollup row (lib/store/spend-logs builds them). */
export interface RollupAdd {
  ref: ItemRef;
  /** Set on the row as is (what the reports read it by). */
  labels: Readonly<Record<string, string>>;
  spendNanos: number;
  promptTokens: number;
  completionTokens: number;
  requests: number;
  /** Of `requests`, those whose call failed (its log's status): LiteLLM's failed_requests. */
  failedRequests: number;
}

/** The marker that says a record was added: `<prefix><request id>`. */
export interface LedgerMarker {
  prefix: string;
  /** The marker's sort key; the partition key when absent. */
  sk?: string;
  kind: string;
}

/**
 * One settlement's moves, compactly (the record should stay within the 1 KB of one write unit):
 * `{"s":spend,"c":committed,"m":[[PK,SK,window or 0], ...]}`, every move of a settlement moving the
 * same amounts. A fourth element is what the item is created with when it is new: an object,
 * 1 for what its kind is created with on first spend (an end user, the proxy: lib/store/keys,
 * rebuilt from the ref and the settlement's time), or 0 for a bare counter shard; without it the
 * item must exist.
 */
interface PackedMoves {
  s: number;
  c: number;
  m: [pk: string, sk: string, window: string | 0, created?: Item | 0 | 1][];
}

/** The same item but for when it says it was created (rebuilt, it is the settlement's time). */
const sameItem = (a: Item, b: Item | undefined): boolean =>
  b !== undefined &&
  Object.keys(a).length === Object.keys(b).length &&
  Object.entries(a).every(([k, v]) => k === 'created_at' || b[k] === v);

/** `at`: the settlement's time, from which an item created on first spend is rebuilt. */
export function packMoves(moves: readonly CounterMove[], at?: number): string {
  const first = moves[0];
  if (moves.some((m) => m.spendNanos !== first?.spendNanos || m.committedNanos !== first?.committedNanos))
    throw new Error('counter moves: a settlement moves every counter by the same amounts');
  const packed: PackedMoves = {
    s: first?.spendNanos ?? 0,
    c: first?.committedNanos ?? 0,
    m: moves.map((m) => {
      const entry: PackedMoves['m'][number] = [m.ref.PK, m.ref.SK, m.windowId ?? 0];
      if (m.createWith) entry.push(at !== undefined && sameItem(m.createWith, createdOnFirstSpendAt(m.ref, at)) ? 1 : m.createWith);
      else if (!m.mustExist) entry.push(0);
      return entry;
    }),
  };
  return JSON.stringify(packed);
}

export function unpackMoves(text: string, at?: number): CounterMove[] {
  const raw = JSON.parse(text) as Partial<PackedMoves> | null;
  if (!raw || typeof raw !== 'object' || !Array.isArray(raw.m)) throw new Error('counter moves: not a list');
  const { s, c } = raw;
  // A settlement only adds (a fast one: its cost, to spend and committed alike).
  if (!Number.isSafeInteger(s) || !Number.isSafeInteger(c) || (s as number) < 0 || (c as number) < 0)
    throw new Error('counter moves: bad amounts');
  return raw.m.map((p: unknown) => {
    if (!Array.isArray(p) || p.length < 3 || p.length > 4) throw new Error('counter moves: bad entry');
    const [PK, SK, window, created] = p as PackedMoves['m'][number];
    if (typeof PK !== 'string' || typeof SK !== 'string' || (window !== 0 && typeof window !== 'string'))
      throw new Error('counter moves: bad entry');
    // Created with: absent (must exist), 0 (a bare shard), 1 (a mark) or the item itself; nothing else.
    const item = created !== null && typeof created === 'object' && !Array.isArray(created);
    if (p.length === 4 && created !== 0 && created !== 1 && !item) throw new Error('counter moves: bad entry');
    const rebuilt = created === 1 && at !== undefined ? createdOnFirstSpendAt({ PK, SK }, at) : undefined;
    if (created === 1 && !rebuilt) throw new Error('counter moves: bad entry');
    return {
      ref: { PK, SK },
      spendNanos: s as number,
      committedNanos: c as number,
      windowId: window === 0 ? undefined : window,
      mustExist: p.length < 4,
      createWith: rebuilt ?? (item ? (created as Item) : undefined),
    };
  });
}

/** The ledger record a settlement item carries, if it is one (a settled fast call with its moves). */
export function ledgerRecordOfItem(item: Item): LedgerRecord | undefined {
  const pk = String(item.PK ?? '');
  if (item.kind !== 'settlement' || item.state !== 'settled' || typeof item[COUNTER_MOVES_ATTR] !== 'string') return undefined;
  const requestId = pk.slice(SETTLEMENT_PREFIX.length);
  if (!pk.startsWith(SETTLEMENT_PREFIX) || refs.settlement(requestId).PK !== pk) return undefined;
  const at = typeof item.created_at === 'string' ? Date.parse(item.created_at) : Number.NaN;
  return { requestId, moves: unpackMoves(item[COUNTER_MOVES_ATTR] as string, Number.isFinite(at) ? at : undefined) };
}

/**
 * The SET clauses that give an item written for the first time what it is created with: its
 * `createWith`, or a bare counter shard's kind when it need not exist; none when it must exist.
 */
export function createdClauses(
  m: Pick<CounterMove, 'createWith' | 'mustExist'>,
  names: Record<string, string>,
  values: Record<string, unknown>,
): string[] {
  const created = m.createWith ?? (m.mustExist ? undefined : { kind: 'spend_shard' });
  return Object.entries(created ?? {}).map(([attr, value], i) => {
    names[`#s${i}`] = attr;
    values[`:s${i}`] = value;
    return `#s${i} = if_not_exists(#s${i}, :s${i})`;
  });
}

/**
 * The moves of a batch summed per item (each window's counters kept apart), as BigInt: each
 * record's amount is at most MAX_COST_NANOS (2^53 - 1), but a batch's sum on one item (the proxy's,
 * every call's) may pass it, and a sum that threw would hold the stream's shard until its records
 * expired (found by review).
 */
interface Summed {
  ref: ItemRef;
  spend: bigint;
  committed: bigint;
  windows: Map<string, { spend: bigint; committed: bigint }>;
  mustExist: boolean;
  createWith: Item | undefined;
}

/** `redirect`: a regenerated key's item to the key that replaced it (lib/store/key-successor). */
function sumMoves(
  records: readonly LedgerRecord[],
  skip: ReadonlySet<string>,
  redirect: ReadonlyMap<string, ItemRef>,
): Map<string, Summed> {
  const out = new Map<string, Summed>();
  for (const r of records) {
    for (const m of r.moves) {
      if (m.spendNanos === 0 && m.committedNanos === 0) continue;
      let ref = m.ref;
      for (let hop = 0, next = redirect.get(refKey(ref)); next && hop <= MAX_SUCCESSOR_HOPS; hop++, next = redirect.get(refKey(ref)))
        ref = next;
      const id = refKey(ref);
      if (skip.has(id)) continue;
      let s = out.get(id);
      if (!s) {
        s = { ref, spend: 0n, committed: 0n, windows: new Map(), mustExist: m.mustExist, createWith: m.createWith };
        out.set(id, s);
      }
      const spend = BigInt(m.spendNanos);
      const committed = BigInt(m.committedNanos);
      s.spend += spend;
      s.committed += committed;
      if (m.windowId) {
        const w = s.windows.get(m.windowId) ?? { spend: 0n, committed: 0n };
        w.spend += spend;
        w.committed += committed;
        s.windows.set(m.windowId, w);
      }
    }
  }
  return out;
}

function counterUpdate(tableName: string, s: Summed): TxItem {
  const names: Record<string, string> = {};
  const values: Record<string, unknown> = {};
  const add: string[] = [];
  let n = 0;
  const addTo = (attr: string, nanos: bigint) => {
    if (nanos === 0n) return;
    const i = n++;
    names[`#a${i}`] = attr;
    values[`:a${i}`] = NumberValue.from(nanosToDecimal(nanos));
    add.push(`#a${i} :a${i}`);
  };
  addTo('spend', s.spend);
  addTo(COMMITTED_ATTR, s.committed);
  for (const [id, w] of s.windows) {
    addTo(WINDOW_SPEND_PREFIX + id, w.spend);
    addTo(WINDOW_COMMITTED_PREFIX + id, w.committed);
  }
  const set = createdClauses(s, names, values);
  return {
    Update: {
      TableName: tableName,
      Key: s.ref,
      UpdateExpression: `${add.length > 0 ? `ADD ${add.join(', ')}` : ''}${set.length > 0 ? ` SET ${set.join(', ')}` : ''}`.trim(),
      // A key regenerated since: its spend goes to the key that replaced it.
      ...(s.mustExist ? { ConditionExpression: `attribute_exists(PK)${isKeyItem(s.ref) ? ` AND ${NOT_REPLACED}` : ''}` } : {}),
      ExpressionAttributeNames: names,
      ExpressionAttributeValues: values,
    },
  };
}

const COUNTERS_MARKER: LedgerMarker = { prefix: COUNTER_MARKER_PREFIX, kind: 'spend_applied' };

const markerOf = (tableName: string, marker: LedgerMarker, requestId: string, expiresAt: number): TxItem => ({
  Put: {
    TableName: tableName,
    Item: { PK: marker.prefix + requestId, SK: marker.sk ?? marker.prefix + requestId, kind: marker.kind, ttl: expiresAt },
    ConditionExpression: 'attribute_not_exists(PK)',
  },
});

/** A rollup row's adds summed over a batch, as BigInt (a batch's sums may pass 2^53, as Summed's). */
interface SummedRollup {
  ref: ItemRef;
  labels: Readonly<Record<string, string>>;
  spendNanos: bigint;
  promptTokens: bigint;
  completionTokens: bigint;
  requests: bigint;
  failedRequests: bigint;
}

/** The rollup adds of a batch summed per row. */
function sumRollups(records: readonly LedgerRecord[]): SummedRollup[] {
  const out = new Map<string, SummedRollup>();
  for (const r of records) {
    for (const a of r.rollups ?? []) {
      const id = refKey(a.ref);
      let s = out.get(id);
      if (!s) {
        s = { ref: a.ref, labels: a.labels, spendNanos: 0n, promptTokens: 0n, completionTokens: 0n, requests: 0n, failedRequests: 0n };
        out.set(id, s);
      }
      s.spendNanos += BigInt(a.spendNanos);
      s.promptTokens += BigInt(a.promptTokens);
      s.completionTokens += BigInt(a.completionTokens);
      s.requests += BigInt(a.requests);
      s.failedRequests += BigInt(a.failedRequests);
    }
  }
  return [...out.values()];
}

function rollupUpdate(tableName: string, a: SummedRollup): TxItem {
  const names: Record<string, string> = {};
  const values: Record<string, unknown> = {
    ':spend': NumberValue.from(nanosToDecimal(a.spendNanos)),
    ':p': NumberValue.from(String(a.promptTokens)),
    ':c': NumberValue.from(String(a.completionTokens)),
    ':n': NumberValue.from(String(a.requests)),
    ':f': NumberValue.from(String(a.failedRequests)),
  };
  const set = Object.entries(a.labels).map(([attr, value], i) => {
    names[`#l${i}`] = attr;
    values[`:l${i}`] = value;
    return `#l${i} = :l${i}`;
  });
  return {
    Update: {
      TableName: tableName,
      Key: a.ref,
      UpdateExpression: `SET ${set.join(', ')} ADD spend :spend, prompt_tokens :p, completion_tokens :c, requests :n, failed_requests :f`,
      ExpressionAttributeNames: names,
      ExpressionAttributeValues: values,
    },
  };
}

/** Splits records, in order, into groups whose markers and distinct counter items fit one transaction. */
export function chunksOf(records: readonly LedgerRecord[], maxItems = MAX_TX_ITEMS): LedgerRecord[][] {
  const out: LedgerRecord[][] = [];
  let chunk: LedgerRecord[] = [];
  let items = new Set<string>();
  for (const r of records) {
    const mine = [
      ...r.moves.filter((m) => m.spendNanos !== 0 || m.committedNanos !== 0).map((m) => refKey(m.ref)),
      ...(r.rollups ?? []).map((a) => refKey(a.ref)),
    ];
    const grown = new Set([...items, ...mine]);
    if (chunk.length > 0 && chunk.length + 1 + grown.size > maxItems) {
      out.push(chunk);
      chunk = [];
      items = new Set(mine);
    } else items = grown;
    chunk.push(r);
  }
  if (chunk.length > 0) out.push(chunk);
  return out;
}

export interface LedgerApplyOptions {
  /** Seconds a marker is kept: longer than a record may be redelivered (the stream keeps 24 h). */
  markerTtlSeconds: number;
  /** The records' markers (default: the counters' own, `SPENDAPPLIED#<request id>`). */
  marker?: LedgerMarker;
  maxConflictRetries?: number;
  now?: () => number;
}

export interface LedgerApplyResult {
  /** Records added now. */
  applied: number;
  /** Records whose marker was already there (added before). */
  duplicates: number;
  /** Counter items skipped because their entity is gone. */
  skipped: ItemRef[];
  /** Transactions written. */
  transactions: number;
}

/**
 * Adds the records' moves to the counters, exactly once per record, in as few transactions as
 * fit. Throws StoreUnavailableError when the store refuses; what was added before stays added.
 */
export async function applyLedger(
  client: DynamoDBDocumentClient,
  tableName: string,
  records: readonly LedgerRecord[],
  options: LedgerApplyOptions,
): Promise<LedgerApplyResult> {
  const result: LedgerApplyResult = { applied: 0, duplicates: 0, skipped: [], transactions: 0 };
  const expiresAt = Math.floor((options.now ?? Date.now)() / 1000) + options.markerTtlSeconds;
  // One record per request id (a batch may bring the same record twice).
  const unique = [...new Map(records.map((r) => [r.requestId, r])).values()];
  for (const chunk of chunksOf(unique)) {
    let live = chunk;
    const skip = new Set<string>();
    const redirect = new Map<string, ItemRef>();
    const hops = new Map<string, number>();
    for (let conflicts = 0; live.length > 0; ) {
      const summed = [...sumMoves(live, skip, redirect).values()];
      const marker = options.marker ?? COUNTERS_MARKER;
      const items = [
        ...live.map((r) => markerOf(tableName, marker, r.requestId, expiresAt)),
        ...summed.map((s) => counterUpdate(tableName, s)),
        // Rollup rows have no condition: they never cancel a transaction.
        ...sumRollups(live).map((a) => rollupUpdate(tableName, a)),
      ];
      try {
        await client.send(new TransactWriteCommand({ TransactItems: items }));
        result.applied += live.length;
        result.transactions++;
        break;
      } catch (e) {
        if (!isTransactionCanceled(e)) {
          logger().error('ledger transaction failed', { error: (e as Error).name });
          throw new StoreUnavailableError();
        }
        const codes = cancellationCodes(e);
        const seen = live.filter((_, i) => codes[i] === 'ConditionalCheckFailed');
        const gone = summed.filter((_, j) => codes[live.length + j] === 'ConditionalCheckFailed');
        if (seen.length > 0 || gone.length > 0) {
          result.duplicates += seen.length;
          live = live.filter((r) => !seen.includes(r));
          for (const g of gone) {
            const id = refKey(g.ref);
            const hop = hops.get(id) ?? 0;
            const next = isKeyItem(g.ref) && hop < MAX_SUCCESSOR_HOPS ? await successorOf(client, tableName, g.ref) : undefined;
            if (next) {
              redirect.set(id, next);
              hops.set(refKey(next), hop + 1);
              continue;
            }
            skip.add(id);
            result.skipped.push(g.ref);
          }
          continue;
        }
        if (codes.includes('TransactionConflict') && ++conflicts <= (options.maxConflictRetries ?? 8)) {
          await new Promise((r) => setTimeout(r, Math.random() * 10 * 2 ** Math.min(conflicts, 6)));
          continue;
        }
        logger().error('ledger transaction cancelled', { reasons: codes });
        throw new StoreUnavailableError();
      }
    }
  }
  if (result.skipped.length > 0) logger().warn('ledger skipped deleted entities', { items: result.skipped.map((r) => r.PK) });
  return result;
}
