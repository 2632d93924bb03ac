/**
 * Settlement: a call's cost added once to every counter along the caller's chain (key, user,
 * team, team member, organization, end user, proxy-wide), all in one TransactWriteItems with an
 * idempotency item `REQ#<request id>`. Either every counter moves or none does, and a retried
 * settlement (same request id, within the record's TTL) changes nothing.
 *
 * Each entity has two pairs of counters: settled spend (`spend`, and `ws#<window>` for its
 * budget_duration window) and committed spend (`committed`, `wc#<window>`: settled plus strict
 * reservations outstanding). Every settlement moves both pairs, in either mode, so an entity can
 * switch modes at any time. Amounts are exact decimals (lib/domain/cost): DynamoDB sums them
 * without rounding. Counters of hot kinds are spread over shards (lib/store/shards): a fast
 * settlement adds to one shard per entity, picked at random.
 *
 * Strict mode (lib/llm/strict): `reserve` adds the call's estimate to the committed counter of
 * every entity with a budget, on shard 0, each under the condition that it fits and that the
 * entity's budget is still the one read, together with `REQ#<id>` in state `reserved`. The
 * settlement then moves that record to `settled` and, on the same shard 0 counters, adds the
 * actual cost to spend and (actual - estimate) to committed: the difference is released. A
 * release is a settlement of 0. A reservation never settled (its Lambda died) expires and the
 * sweeper (lib/store/sweep) releases it; a settlement that comes later still counts, in full.
 *
 * Entities that must exist (key, user, team, member, organization) are updated only if they still
 * do: a key deleted mid-call must not come back as a bare counter that looks like a key. A key
 * regenerated mid-call is the exception: its move goes to the key that replaced it (lib/store/
 * key-successor), which carries its budget and counters now. An end
 * user, or the proxy-wide item, that does not exist yet is created as a spend-tracking item,
 * as LiteLLM does for customers it first sees in a `user` field.
 */

import {
  type DynamoDBDocumentClient,
  NumberValue,
  PutCommand,
  TransactWriteCommand,
  type TransactWriteCommandInput,
} from '@aws-sdk/lib-dynamodb';
import type { BudgetEntity } from '../domain/budget-entity.js';
import { dollarsToNanos, NANOS_PER_DOLLAR, nanosToDecimal } from '../domain/cost.js';
import { isDuration, windowOf } from '../domain/periods.js';
import { pickShard, type ShardCounts, shardCount } from '../domain/sharding.js';
import { packLog, type SpendLog } from '../domain/spend-log.js';
import { StoreUnavailableError } from '../errors.js';
import { logger } from '../telemetry.js';
import { COMMITTED_ATTR, type Item, WINDOW_COMMITTED_PREFIX, WINDOW_SPEND_PREFIX } from './codec.js';
import { COUNTER_MOVES_ATTR, createdClauses, packMoves } from './counter-ledger.js';
import { cancellationCodes, isConditionalCheckFailed, isTransactionCanceled } from './errors.js';
import { isKeyItem, isKeyShard, MAX_SUCCESSOR_HOPS, NOT_REPLACED, NOT_RETIRED, successorOf } from './key-successor.js';
import { type ItemRef, refKey, refs } from './keys.js';
import type { CachedLoader } from './loader.js';
import { shardRef } from './shards.js';

/** The settlement item's attribute holding its spend log (JSON text). */
export const SPEND_LOG_ATTR = 'spend_log';

/**
 * The table stream's records its consumers read (lib/spend/stream): a settlement item whose new
 * image is settled (inserted so, or modified into it; a removal carries no new image). In
 * Lambda's filter syntax, as the table-stream function's event source mapping filters
 * (infra/stack.ts) and the local poller does too (infra/local/table-stream.ts). DynamoDB mappings
 * filter only on the record's `dynamodb` key, so the pattern names nothing else. Every other
 * record (counters, spend-log index items, markers, rollups, admin writes, TTL removals) never
 * invokes the function.
 */
export const SETTLED_RECORD_FILTER = {
  dynamodb: { NewImage: { kind: { S: ['settlement'] }, state: { S: ['settled'] } } },
} as const;

/**
 * How the table stream's records are handed to its function, in batches: up to `records` of
 * them, or fewer once the first has waited `windowSeconds` (the event source mapping's batch size
 * and batching window, infra/stack.ts; the local poller batches the same way). The consumers'
 * writes are per batch (the counters' and rollups' transaction, the index items' batch writes),
 * so fuller batches cost fewer writes per request; the window is how late counters from the
 * stream and spend logs can be at most, on a quiet stream.
 */
export const TABLE_STREAM_BATCH = { records: 100, windowSeconds: 5 } as const;

/** Attribute values a reservation asserts on an item (null: absent or null). */
export type Expectation = Readonly<Record<string, number | string | null>>;

/** What a strict reservation checks an entity against. */
export interface TargetBudget {
  maxNanos: number;
  /** Committed on the entity's other shards in the counted window (or lifetime), as read. */
  elsewhereNanos: number;
  /** The budget as read, asserted on the item: a budget changed since is re-read, never ignored. */
  expect: Expectation;
  /** Also asserted: the reusable budget an end user follows. */
  also?: { ref: ItemRef; expect: Expectation } | undefined;
}

export interface SpendTarget {
  entity: BudgetEntity;
  /** For logs and messages: `t-1`, `u-1@t-1`, or null for the proxy. */
  id: string | null;
  ref: ItemRef;
  /** The entity's budget_duration: its current window's counters move too. */
  duration?: string | null | undefined;
  /** Where the entity's fixed-length windows count from (lib/domain/periods budgetAnchor). */
  anchor?: number | undefined;
  /** Create the item when absent with these attributes (end users, the proxy); else it must exist. */
  createWith?: Item | undefined;
  /** Set when the entity has a budget: strict mode reserves against it. */
  budget?: TargetBudget | undefined;
}

/** What `reserve` holds, handed back to `settle`. */
export interface Hold {
  estimateNanos: number;
  /** refKey of every entity reserved (on shard 0). */
  held: readonly string[];
  /** The targets the reservation was made for: the settlement moves exactly these. */
  targets: readonly SpendTarget[];
}

/**
 * Where a settlement's usage came from: the upstream's report; else the tokens of the text sent and
 * received, counted; else the estimate; `none` when the call was not answered.
 */
export type UsageSource = 'reported' | 'counted' | 'estimated' | 'none';

export interface Settlement {
  /** Unique per upstream call (API Gateway's request id): the idempotency token. */
  requestId: string;
  /** When the call happened: picks the budget windows. */
  at: number;
  costNanos: number;
  model: string;
  usageSource?: UsageSource | undefined;
  targets: readonly SpendTarget[];
  /** The reservation to settle (strict mode); the difference to the estimate is released. */
  hold?: Hold | undefined;
  /** The request's spend log (lib/domain/spend-log), kept on the settlement's own item. */
  log?: SpendLog | undefined;
}

export interface Reservation {
  requestId: string;
  at: number;
  estimateNanos: number;
  model: string;
  targets: readonly SpendTarget[];
  /** When the sweeper may release the reservation (ms since the epoch). */
  expiresAt: number;
}

export type SettlementOutcome =
  | { status: 'settled'; moved: readonly SpendTarget[]; skipped: readonly SpendTarget[] }
  | { status: 'duplicate' };

export type ReservationOutcome =
  /** `hold` is undefined when nothing along the chain has a budget. */
  | { status: 'reserved'; hold: Hold | undefined }
  /** This request id already reserved or settled (a retried invocation): it counts once. */
  | { status: 'duplicate' }
  /** The estimate does not fit: `committedNanos` is settled + reserved now, all shards. */
  | { status: 'denied'; target: SpendTarget; committedNanos: number }
  /** The entity changed (budget, period) or vanished since it was read: read it again. */
  | { status: 'stale'; target: SpendTarget };

export interface SpendSettler {
  settle(s: Settlement): Promise<SettlementOutcome>;
  reserve(r: Reservation): Promise<ReservationOutcome>;
}

export const windowIdOf = (duration: string | null | undefined, at: number, anchor?: number): string | undefined =>
  duration && isDuration(duration) ? windowOf(duration, at, anchor).id : undefined;

export type SpendCounters = 'transaction' | 'stream';

export interface DynamoSettlerOptions {
  /** Seconds the idempotency record is kept. */
  ttlSeconds: number;
  /** Counter shards per kind; none: every counter on its entity item. */
  shards?: ShardCounts | undefined;
  /** Told the counter moves that landed, so the instance's cache can follow them without a read. */
  onChanged?: ((moved: readonly CounterMove[]) => void) | undefined;
  /**
   * Told the items a transaction may have changed without this instance knowing how (a store
   * failure after the commit, a retry the table saw as a duplicate), so the cache reads them again.
   */
  onUncertain?: ((refs: readonly ItemRef[]) => void) | undefined;
  /**
   * Where a fast settlement's counters are added: `transaction`, with its record in one
   * TransactWriteItems; `stream`, its record alone (one PutItem, the moves inside), the counters
   * added by the table's stream consumer (lib/store/counter-ledger). Strict settlements are always
   * transactions.
   */
  counters?: SpendCounters | undefined;
  /** Attempts when transactions conflict (concurrent settlements on the same counters). */
  maxConflictRetries?: number;
}

/** One counter item's change within a spend transaction. */
export interface CounterMove {
  /** The item written: an entity item or one of its shards. */
  ref: ItemRef;
  spendNanos: number;
  committedNanos: number;
  windowId?: string | undefined;
  createWith?: Item | undefined;
  /** The entity item must exist (false for shards, and for items created on first use). */
  mustExist: boolean;
  /** An extra condition (reservations), a conjunction joined with AND as is: names `#x*`, values `:x*`. */
  condition?: { expression: string; names: Record<string, string>; values: Record<string, unknown> } | undefined;
}

type TxItem = NonNullable<TransactWriteCommandInput['TransactItems']>[number];
/** A raw item as DynamoDB returns it in cancellation reasons (AttributeValue shapes). */
export type RawItem = Record<string, unknown>;

export type CommitResult =
  /** `moves`: the moves as landed (a regenerated key's move on the key that holds its budget now). */
  | { ok: true; skipped: readonly number[]; moves: readonly CounterMove[] }
  | { ok: false; failed: 'head'; old: RawItem | undefined }
  | { ok: false; failed: 'move'; index: number; old: RawItem | undefined }
  | { ok: false; failed: 'check'; index: number };

/**
 * Commits one spend transaction: `head` (the REQ# record's transition) and the counter moves,
 * plus condition checks. Conflicts with concurrent transactions are retried with jittered
 * backoff. With `skipGone`, a move on a key regenerated since goes to the key that holds its
 * budget now (lib/store/key-successor), a move whose entity was deleted is dropped, and the rest
 * retried.
 */
export async function commitSpend(
  client: DynamoDBDocumentClient,
  tableName: string,
  tx: {
    head: TxItem;
    moves: readonly CounterMove[];
    checks?: readonly TxItem[];
    skipGone: boolean;
    maxConflictRetries: number;
    requestId: string;
  },
): Promise<CommitResult> {
  const moves = [...tx.moves];
  const hops = new Map<number, number>();
  // A move that changes nothing and asserts nothing (a release of an entity nothing was held on) is left out.
  let live = moves
    .map((_, i) => i)
    .filter((i) => {
      const m = moves[i] as CounterMove;
      return m.spendNanos !== 0 || m.committedNanos !== 0 || m.condition !== undefined;
    });
  const skipped: number[] = [];
  const checks = tx.checks ?? [];
  for (let conflicts = 0; ; ) {
    const items = [tx.head, ...live.map((i) => moveItem(tableName, moves[i] as CounterMove)), ...checks];
    try {
      await client.send(new TransactWriteCommand({ TransactItems: items }));
      return { ok: true, skipped, moves };
    } catch (e) {
      if (!isTransactionCanceled(e)) {
        logger().error('spend transaction failed', { requestId: tx.requestId, error: (e as Error).name });
        throw new StoreUnavailableError();
      }
      const reasons = (e as { CancellationReasons?: { Code?: string; Item?: RawItem }[] }).CancellationReasons ?? [];
      const codes = cancellationCodes(e);
      if (codes[0] === 'ConditionalCheckFailed') return { ok: false, failed: 'head', old: reasons[0]?.Item };
      const failedMoves = live.filter((_, j) => codes[j + 1] === 'ConditionalCheckFailed');
      const failedCheck = checks.findIndex((_, k) => codes[1 + live.length + k] === 'ConditionalCheckFailed');
      if (failedCheck >= 0) return { ok: false, failed: 'check', index: failedCheck };
      if (failedMoves.length > 0) {
        if (!tx.skipGone) {
          const index = failedMoves[0] as number;
          return { ok: false, failed: 'move', index, old: reasons[live.indexOf(index) + 1]?.Item };
        }
        const gone: number[] = [];
        for (const i of failedMoves) {
          const m = moves[i] as CounterMove;
          const hop = hops.get(i) ?? 0;
          const old = reasons[live.indexOf(i) + 1]?.Item;
          const next =
            (isKeyItem(m.ref) || isKeyShard(m.ref)) && hop < MAX_SUCCESSOR_HOPS
              ? await successorOf(client, tableName, m.ref, rawValue(old, 'replaced_by'))
              : undefined;
          if (next) {
            // The successor's own item, which must exist (a retired shard's move created nothing).
            moves[i] = { ...m, ref: next, mustExist: true, createWith: undefined };
            hops.set(i, hop + 1);
          } else gone.push(i);
        }
        // Deleted since the checks ran: its spend no longer has anywhere to go.
        skipped.push(...gone);
        live = live.filter((i) => !gone.includes(i));
        continue;
      }
      if (codes.includes('TransactionConflict') && ++conflicts <= tx.maxConflictRetries) {
        await new Promise((r) => setTimeout(r, Math.random() * 10 * 2 ** Math.min(conflicts, 6)));
        continue;
      }
      logger().error('spend transaction cancelled', { requestId: tx.requestId, reasons: codes });
      throw new StoreUnavailableError();
    }
  }
}

/** A move as a transaction item: an Update, or a ConditionCheck when it changes nothing. */
function moveItem(tableName: string, m: CounterMove): TxItem {
  const names: Record<string, string> = { ...m.condition?.names };
  const values: Record<string, unknown> = { ...m.condition?.values };
  const add: string[] = [];
  const addTo = (attr: string, alias: string, nanos: number) => {
    names[`#${alias}`] = attr;
    values[`:${alias}`] = NumberValue.from(nanosToDecimal(nanos));
    add.push(`#${alias} :${alias}`);
  };
  if (m.spendNanos !== 0) {
    addTo('spend', 'sp', m.spendNanos);
    if (m.windowId) addTo(WINDOW_SPEND_PREFIX + m.windowId, 'ws', m.spendNanos);
  }
  if (m.committedNanos !== 0) {
    addTo(COMMITTED_ATTR, 'cm', m.committedNanos);
    if (m.windowId) addTo(WINDOW_COMMITTED_PREFIX + m.windowId, 'wc', m.committedNanos);
  }
  // A key's item must exist and not have been regenerated since: its spend then goes to the successor.
  // A key's other shards are created on first use; once the key is replaced or deleted they are retired.
  const exists = m.mustExist
    ? ['attribute_exists(PK)', ...(isKeyItem(m.ref) ? [NOT_REPLACED] : [])]
    : isKeyShard(m.ref)
      ? [NOT_RETIRED]
      : [];
  const conditions = [...exists, ...(m.condition ? [m.condition.expression] : [])];
  const condition = {
    ...(conditions.length > 0 ? { ConditionExpression: conditions.join(' AND ') } : {}),
    ...(Object.keys(names).length > 0 ? { ExpressionAttributeNames: names } : {}),
    ...(Object.keys(values).length > 0 ? { ExpressionAttributeValues: values } : {}),
    ReturnValuesOnConditionCheckFailure: 'ALL_OLD' as const,
  };
  if (add.length === 0) {
    // Nothing to add (a reservation of 0): its condition still holds the transaction.
    return { ConditionCheck: { TableName: tableName, Key: m.ref, ...condition, ConditionExpression: conditions.join(' AND ') } };
  }
  const set = createdClauses(m, names, values);
  return {
    Update: {
      TableName: tableName,
      Key: m.ref,
      UpdateExpression: `ADD ${add.join(', ')}${set.length > 0 ? ` SET ${set.join(', ')}` : ''}`,
      ...condition,
      ExpressionAttributeNames: names,
      ExpressionAttributeValues: values,
    },
  };
}

/** REQ# record states: reserved -> settled, or reserved -> expired (swept) -> settled (late). */
export type RecordState = 'reserved' | 'settled' | 'expired';
/** The index partitions reservations are listed under, for the sweeper (spread: no hot partition). */
export const RESERVATION_PARTITIONS = 16;
export const reservationPartition = (n: number): string => `RESERVATION#${n}`;

/** A string or number attribute of a raw item (AttributeValue shapes or already plain). */
export function rawValue(item: RawItem | undefined, name: string): string | number | null | undefined {
  const v = item?.[name];
  if (v === undefined) return undefined;
  if (v === null || typeof v !== 'object') return v as string | number | null;
  const av = v as { S?: string; N?: string; NULL?: boolean };
  if (av.S !== undefined) return av.S;
  if (av.N !== undefined) return Number(av.N);
  if (av.NULL) return null;
  return undefined;
}

export class DynamoSettler implements SpendSettler {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
    private readonly options: DynamoSettlerOptions,
  ) {}

  async settle(s: Settlement): Promise<SettlementOutcome> {
    if (!s.hold && this.options.counters === 'stream') return this.record(s);
    const targets = s.hold?.targets ?? s.targets;
    let prior: 'none' | RecordState = s.hold ? 'reserved' : 'none';
    for (;;) {
      const held = new Set(prior === 'reserved' ? (s.hold?.held ?? []) : []);
      const estimate = s.hold?.estimateNanos ?? 0;
      const moves = targets.map((t) => this.settleMove(t, s, held.has(refKey(t.ref)) ? estimate : undefined));
      const result = await this.uncertainOnFailure(targets, () =>
        commitSpend(this.client, this.tableName, {
          head: this.settledRecord(s, targets, prior),
          moves,
          skipGone: true,
          maxConflictRetries: this.options.maxConflictRetries ?? 8,
          requestId: s.requestId,
        }),
      );
      if (result.ok) {
        this.options.onChanged?.(result.moves.filter((_, i) => !result.skipped.includes(i)));
        const skipped = result.skipped.map((i) => targets[i] as SpendTarget);
        if (skipped.length > 0)
          logger().warn('settlement skipped deleted entities', { requestId: s.requestId, entities: skipped.map((t) => t.entity) });
        return { status: 'settled', moved: targets.filter((t) => !skipped.includes(t)), skipped };
      }
      if (result.failed !== 'head' || prior === 'none' || prior === 'expired') {
        // Settled before, perhaps by this very call's lost first attempt: the cache reads again.
        this.options.onUncertain?.(this.counterRefs(targets));
        return { status: 'duplicate' };
      }
      // The reservation was not there to settle: swept after expiry (count in full), or gone.
      const state = rawValue(result.old, 'state');
      if (state === 'expired') prior = 'expired';
      else if (result.old === undefined) prior = 'none';
      else return { status: 'duplicate' };
      logger().warn('settling a reservation that was released', { requestId: s.requestId, state: state ?? 'absent' });
    }
  }

  async reserve(r: Reservation): Promise<ReservationOutcome> {
    const budgeted = r.targets.filter((t) => t.budget);
    if (budgeted.length === 0) return { status: 'reserved', hold: undefined };
    const moves = budgeted.map((t) => this.reserveMove(t, r));
    const checks = budgeted
      .filter((t) => t.budget?.also)
      .map((t) => this.expectationCheck(t.budget?.also as NonNullable<TargetBudget['also']>));
    const checked = budgeted.filter((t) => t.budget?.also);
    const result = await this.uncertainOnFailure(budgeted, () =>
      commitSpend(this.client, this.tableName, {
        head: this.reservedRecord(r, budgeted),
        moves,
        checks,
        skipGone: false,
        maxConflictRetries: this.options.maxConflictRetries ?? 8,
        requestId: r.requestId,
      }),
    );
    if (result.ok) {
      this.options.onChanged?.(moves);
      return { status: 'reserved', hold: { estimateNanos: r.estimateNanos, held: budgeted.map((t) => refKey(t.ref)), targets: r.targets } };
    }
    if (result.failed === 'head') return { status: 'duplicate' };
    if (result.failed === 'check') return { status: 'stale', target: checked[result.index] as SpendTarget };
    const target = budgeted[result.index] as SpendTarget;
    const budget = target.budget as TargetBudget;
    const old = result.old;
    const gone = old === undefined && !target.createWith;
    // Regenerated since it was read: the key that holds its budget now is read, and reserved on.
    const replaced = rawValue(old, 'replaced_by') != null;
    const changed = Object.entries(budget.expect).some(([attr, want]) => !sameValue(rawValue(old, attr), want));
    if (gone || replaced || changed) return { status: 'stale', target };
    const windowId = windowIdOf(target.duration, r.at, target.anchor);
    const counter = windowId ? WINDOW_COMMITTED_PREFIX + windowId : COMMITTED_ATTR;
    const here = rawValue(old, counter);
    return { status: 'denied', target, committedNanos: dollarsToNanos(typeof here === 'number' ? here : 0) + budget.elsewhereNanos };
  }

  /** A fast settlement as its ledger record alone: the counters follow from the stream. */
  private async record(s: Settlement): Promise<SettlementOutcome> {
    // Each entity's own item: the stream consumer writes a counter once per batch, so shards
    // would only spread a batch's sum over more items (more write units), not relieve a hot one.
    const moves = s.targets.map((t) => this.settleMove(t, s, 0));
    const head = this.settledRecord(s, s.targets, 'none').Put as NonNullable<TxItem['Put']>;
    // The moves name every counter item, the key names the request: neither said twice.
    const { targets: _, request_id: __, ...item } = head.Item ?? {};
    try {
      await this.client.send(
        new PutCommand({
          TableName: head.TableName,
          Item: { ...item, [COUNTER_MOVES_ATTR]: packMoves(moves, s.at) },
          ConditionExpression: head.ConditionExpression,
        }),
      );
    } catch (e) {
      this.options.onUncertain?.(this.counterRefs(s.targets));
      if (isConditionalCheckFailed(e)) return { status: 'duplicate' };
      logger().error('settlement record failed', { requestId: s.requestId, error: (e as Error).name });
      throw new StoreUnavailableError();
    }
    this.options.onChanged?.(moves);
    return { status: 'settled', moved: s.targets, skipped: [] };
  }

  /** A commit that failed may still have landed: the items it would have moved are read again. */
  private async uncertainOnFailure<T>(targets: readonly SpendTarget[], commit: () => Promise<T>): Promise<T> {
    try {
      return await commit();
    } catch (e) {
      this.options.onUncertain?.(this.counterRefs(targets));
      throw e;
    }
  }

  /** Every item holding the targets' counters: the entity item and each of its shards. */
  private counterRefs(targets: readonly SpendTarget[]): ItemRef[] {
    return targets.flatMap((t) => Array.from({ length: this.shards(t) }, (_, i) => shardRef(t.ref, i)));
  }

  private shards(t: SpendTarget): number {
    return shardCount(this.options.shards ?? {}, t.entity);
  }

  /** A held entity settles on shard 0 (where its reservation is); any other on a random shard. */
  private settleMove(t: SpendTarget, s: Settlement, heldEstimate: number | undefined): CounterMove {
    const shard = heldEstimate === undefined ? pickShard(this.shards(t)) : 0;
    return {
      ref: shardRef(t.ref, shard),
      spendNanos: s.costNanos,
      committedNanos: s.costNanos - (heldEstimate ?? 0),
      windowId: windowIdOf(t.duration, s.at, t.anchor),
      createWith: shard === 0 ? t.createWith : undefined,
      mustExist: shard === 0 && !t.createWith,
    };
  }

  /**
   * The estimate added to committed on shard 0 if it fits under max minus what other shards
   * hold: `committed + estimate <= cap AND committed < cap` (the second keeps `spend >= max`
   * denying a free call), an absent counter counting as 0; and the budget is the one read.
   */
  private reserveMove(t: SpendTarget, r: Reservation): CounterMove {
    const budget = t.budget as TargetBudget;
    const windowId = windowIdOf(t.duration, r.at, t.anchor);
    const cap = budget.maxNanos - budget.elsewhereNanos;
    const limit = cap - r.estimateNanos;
    const names: Record<string, string> = { '#xc': windowId ? WINDOW_COMMITTED_PREFIX + windowId : COMMITTED_ATTR };
    const values: Record<string, unknown> = {
      ':xlimit': NumberValue.from(nanosToDecimal(limit)),
      ':xcap': NumberValue.from(nanosToDecimal(cap)),
    };
    // DynamoDB refuses redundant parentheses: an OR is wrapped once, a bare AND not at all.
    const bounded = '#xc <= :xlimit AND #xc < :xcap';
    const fits = limit >= 0 && cap > 0 ? `(attribute_not_exists(#xc) OR (${bounded}))` : bounded;
    const guards = expectation(budget.expect, names, values);
    return {
      ref: t.ref,
      spendNanos: 0,
      committedNanos: r.estimateNanos,
      windowId,
      createWith: t.createWith,
      mustExist: !t.createWith,
      condition: { expression: [...guards, fits].join(' AND '), names, values },
    };
  }

  private expectationCheck(also: NonNullable<TargetBudget['also']>): TxItem {
    const names: Record<string, string> = {};
    const values: Record<string, unknown> = {};
    const guards = expectation(also.expect, names, values);
    return {
      ConditionCheck: {
        TableName: this.tableName,
        Key: also.ref,
        ConditionExpression: ['attribute_exists(PK)', ...guards].join(' AND '),
        ExpressionAttributeNames: names,
        ...(Object.keys(values).length > 0 ? { ExpressionAttributeValues: values } : {}),
      },
    };
  }

  private settledRecord(s: Settlement, targets: readonly SpendTarget[], prior: 'none' | RecordState): TxItem {
    const ref = refs.settlement(s.requestId);
    const cost = NumberValue.from(nanosToDecimal(s.costNanos));
    if (prior === 'none') {
      return {
        Put: {
          TableName: this.tableName,
          Item: {
            ...ref,
            kind: 'settlement',
            state: 'settled',
            request_id: s.requestId,
            model: s.model,
            cost,
            ...(s.usageSource ? { usage_source: s.usageSource } : {}),
            ...(s.log ? { [SPEND_LOG_ATTR]: packLog(s.log) } : {}),
            targets: targets.map((t) => `${t.ref.PK}|${t.ref.SK}`),
            created_at: new Date(s.at).toISOString(),
            ttl: Math.floor(s.at / 1000) + this.options.ttlSeconds,
          },
          ConditionExpression: 'attribute_not_exists(PK)',
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        },
      };
    }
    return {
      Update: {
        TableName: this.tableName,
        Key: ref,
        // The holds were for the sweeper: a settled record needs none (and stays small).
        UpdateExpression: `SET #state = :settled, cost = :cost, usage_source = :source${s.log ? ', #log = :log' : ''} REMOVE GSI1PK, GSI1SK, holds`,
        ConditionExpression: '#state = :prior',
        ExpressionAttributeNames: { '#state': 'state', ...(s.log ? { '#log': SPEND_LOG_ATTR } : {}) },
        ExpressionAttributeValues: {
          ':settled': 'settled',
          ':cost': cost,
          ':prior': prior,
          ':source': s.usageSource ?? 'none',
          ...(s.log ? { ':log': packLog(s.log) } : {}),
        },
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      },
    };
  }

  private reservedRecord(r: Reservation, held: readonly SpendTarget[]): TxItem {
    const expires = new Date(r.expiresAt).toISOString();
    return {
      Put: {
        TableName: this.tableName,
        Item: {
          ...refs.settlement(r.requestId),
          kind: 'settlement',
          state: 'reserved',
          request_id: r.requestId,
          model: r.model,
          estimate: NumberValue.from(nanosToDecimal(r.estimateNanos)),
          // What the sweeper releases if no settlement comes: the same counters, shard 0.
          holds: held.map((t) => ({
            PK: t.ref.PK,
            SK: t.ref.SK,
            ...(windowIdOf(t.duration, r.at, t.anchor) ? { window: windowIdOf(t.duration, r.at, t.anchor) } : {}),
          })),
          targets: r.targets.map((t) => `${t.ref.PK}|${t.ref.SK}`),
          created_at: new Date(r.at).toISOString(),
          expires_at: expires,
          GSI1PK: reservationPartition(pickShard(RESERVATION_PARTITIONS)),
          GSI1SK: `${expires}#${r.requestId}`,
          ttl: Math.floor(r.at / 1000) + this.options.ttlSeconds,
        },
        ConditionExpression: 'attribute_not_exists(PK)',
      },
    };
  }
}

/** Conditions that an item's attributes still hold the values read (null: absent or null). */
function expectation(expect: Expectation, names: Record<string, string>, values: Record<string, unknown>): string[] {
  return Object.entries(expect).map(([attr, want], i) => {
    names[`#xe${i}`] = attr;
    if (want === null) {
      values[':xnull'] = 'NULL';
      return `(attribute_not_exists(#xe${i}) OR attribute_type(#xe${i}, :xnull))`;
    }
    values[`:xe${i}`] = want;
    return `#xe${i} = :xe${i}`;
  });
}

const sameValue = (got: string | number | null | undefined, want: string | number | null): boolean => {
  if (want === null) return got === null || got === undefined;
  if (typeof want === 'number') return typeof got === 'number' && dollarsToNanos(got) === dollarsToNanos(want);
  return got === want;
};

/**
 * A cached item after a counter move landed on it: the same item with its counters added to, in
 * exact nano-dollars (the amounts DynamoDB now holds). What lets a settlement update this
 * instance's cache instead of making the next request read the items again.
 */
export function afterMove(item: Item, m: CounterMove): Item {
  const out: Item = { ...item };
  const add = (attr: string, nanos: number) => {
    if (nanos === 0) return;
    out[attr] = (Math.round(Number(out[attr] ?? 0) * NANOS_PER_DOLLAR) + nanos) / NANOS_PER_DOLLAR;
  };
  add('spend', m.spendNanos);
  add(COMMITTED_ATTR, m.committedNanos);
  if (m.windowId) {
    add(WINDOW_SPEND_PREFIX + m.windowId, m.spendNanos);
    add(WINDOW_COMMITTED_PREFIX + m.windowId, m.committedNanos);
  }
  return out;
}

/** A counter shard created by the move (it holds counters only), or undefined for any other item. */
export function createdByMove(m: CounterMove): Item | undefined {
  if (m.mustExist || m.createWith) return undefined;
  return afterMove({ ...m.ref, kind: 'spend_shard' }, m);
}

/** Makes an instance's cache follow the counter moves its settlements landed (no read after). */
export function followMoves(loader: CachedLoader, moved: readonly CounterMove[]): void {
  for (const m of moved) {
    const created = createdByMove(m);
    loader.follow(m.ref, (item) => afterMove(item, m), created && (() => created));
  }
}
