/**
 * The admin API's access to the table: strongly consistent reads (an admin sees its own writes),
 * transactional writes that carry their audit item (never half written), index queries with
 * cursors, and invalidation of this instance's cached copies (other instances see changes
 * within the cache TTL). Spend counters spread over shards (lib/store/shards) are read summed,
 * and a write that creates, deletes or sets the spend of a sharded entity deletes its other
 * shards in the same transaction, so the entity item alone holds what was written.
 *
 * DynamoAdminStore is the DynamoDB implementation of the admin API's persistence port
 * (lib/admin/persistence.ts).
 */

import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { GetCommand, QueryCommand, TransactWriteCommand, type TransactWriteCommandInput } from '@aws-sdk/lib-dynamodb';
import type { Actor } from '../domain/actor.js';
import type { AuditEntry } from '../domain/audit.js';
import { type ShardCounts, shardCount } from '../domain/sharding.js';
import {
  ConcurrentUpdateError,
  InvalidRequestError,
  ItemTooLargeError,
  isTollgateError,
  StoreUnavailableError,
  type TollgateError,
} from '../errors.js';
import { logger } from '../telemetry.js';
import { auditItem } from './audit.js';
import { decode, type Item } from './codec.js';
import { cancellationCodes, isItemTooLarge, isTransactionCanceled } from './errors.js';
import { hydrate } from './hydrate.js';
import { COPIED_COUNTERS_ATTR, movedSinceCopy, settleCopyOnce, transactSender } from './key-copy.js';
import { isKeyItem, MAX_SUCCESSOR_HOPS, RETIRED_ATTR, successorOf } from './key-successor.js';
import { type ItemRef, isKeyValue, refKey, refs } from './keys.js';
import type { Listing } from './listings.js';
import { DynamoBatchSource } from './loader.js';
import { decodeCursor, encodeCursor, type Page } from './pagination.js';
import { mergeShards, otherShardRefs, shardedKindOf } from './shards.js';

type TxItem = NonNullable<TransactWriteCommandInput['TransactItems']>[number];
type TxUpdate = NonNullable<TxItem['Update']>;
const KEY_PK = refs.key('').PK;

/** The value an update SETs an attribute to (as lib/store/writes writes them: `#x = :x`), if it does. */
function setValue(update: TxUpdate, attr: string): unknown {
  // A name only read or removed (a guard, REMOVE) has no value: it sets nothing.
  for (const [alias, name] of Object.entries(update.ExpressionAttributeNames ?? {})) {
    const value = name === attr ? update.ExpressionAttributeValues?.[`:${alias.slice(1)}`] : undefined;
    if (value !== undefined) return value;
  }
  return undefined;
}

/** One write of a transaction; `onConditionFail` names the error when its condition fails. */
export interface TxOp {
  item: TxItem;
  /** The item this op touches, invalidated from the cache after commit. */
  ref: ItemRef;
  onConditionFail?: () => TollgateError;
  /**
   * A replaced key's delete (lib/store/writes deleteReplacedKey): its counter copy is settled
   * first, and its shards, retired when it was replaced, are left as they are.
   */
  replacedKey?: boolean;
}

export const MAX_TX_ITEMS = 100;

/**
 * The ops with each item's op once. The same delete or condition check again is dropped (deleting
 * a key and the predecessor it replaced, each deleting that predecessor), keeping a replaced
 * key's settlement of its copy if either asks for it; any other op on an item named already is a
 * 400 (two writes of one item, or one applied twice, would be refused whole or count twice).
 */
function oncePerItem(ops: readonly TxOp[]): TxOp[] {
  const seen = new Map<string, { at: number; what: string }>();
  const out: TxOp[] = [];
  for (const op of ops) {
    const key = `${op.ref.PK}\u0000${op.ref.SK}`;
    const what = JSON.stringify(op.item);
    const before = seen.get(key);
    if (before === undefined) {
      seen.set(key, { at: out.length, what });
      out.push(op);
      continue;
    }
    const repeatable = 'Delete' in op.item || 'ConditionCheck' in op.item;
    if (before.what !== what || !repeatable)
      throw new InvalidRequestError('this change would write one item twice: name each entity once', 'duplicate_field');
    if (op.replacedKey) out[before.at] = { ...(out[before.at] as TxOp), replacedKey: true };
  }
  return out;
}

async function send<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (isTollgateError(e)) throw e;
    if (isItemTooLarge(e)) throw new ItemTooLargeError();
    logger().error('store write failed', { error: (e as Error).name });
    throw new StoreUnavailableError();
  }
}

/** A listing (lib/store/listings) with a position and a page size. */
export type QueryOptions = Listing & { cursor?: string | undefined; limit?: number; ascending?: boolean };

export interface DynamoAdminStoreOptions {
  /** Counter shards per kind: reads sum them, writes that set spend reset them. */
  shards: ShardCounts;
  /** Forgets this instance's cached copy of an item the admin API changed. */
  invalidate: (ref: ItemRef) => void;
  /** How long a call's settlement may still arrive: a deleted or replaced key's retired shards are kept that long. */
  settlementTtlSeconds: number;
}

export class DynamoAdminStore {
  private readonly shards: ShardCounts;
  private readonly invalidate: (ref: ItemRef) => void;
  private readonly settlementTtlSeconds: number;

  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly table: string,
    options: DynamoAdminStoreOptions,
  ) {
    this.shards = options.shards;
    this.invalidate = options.invalidate;
    this.settlementTtlSeconds = options.settlementTtlSeconds;
  }

  /** One item, read consistently, with its counter shards summed in. */
  async getRecord<T>(ref: ItemRef): Promise<T | undefined> {
    const res = await send(() => this.client.send(new GetCommand({ TableName: this.table, Key: ref, ConsistentRead: true })));
    if (!res.Item) return undefined;
    const [item] = await this.withShardSpend([res.Item]);
    return decode<T>(item as Item);
  }

  /** The entity item alone, read consistently: its own counters, no shard summed in. */
  async getOwnRecord<T>(ref: ItemRef): Promise<T | undefined> {
    const res = await send(() => this.client.send(new GetCommand({ TableName: this.table, Key: ref, ConsistentRead: true })));
    return res.Item ? decode<T>(res.Item as Item) : undefined;
  }

  /** The other counter shards of an item of a sharded kind (none for anything else). */
  private shardsOf(ref: ItemRef): ItemRef[] {
    const kind = shardedKindOf(ref);
    return kind ? otherShardRefs(ref, shardCount(this.shards, kind)) : [];
  }

  /** Items with the counters of their other shards summed in (read consistently, 100 keys a batch). */
  private async withShardSpend(items: Item[]): Promise<Item[]> {
    const wanted = items.map((i) => this.shardsOf({ PK: i.PK as string, SK: i.SK as string }));
    const all = wanted.flat();
    if (all.length === 0) return items;
    const source = new DynamoBatchSource(this.client, this.table, true);
    const found = new Map<string, Item>();
    for (let i = 0; i < all.length; i += 100) {
      for (const [k, v] of await send(() => source.getMany(all.slice(i, i + 100)))) found.set(k, v);
    }
    return items.map(
      (item, i) =>
        mergeShards(
          item,
          (wanted[i] ?? []).map((r) => found.get(refKey(r))),
        ) as Item,
    );
  }

  /**
   * The other shards of every sharded entity an op creates, deletes or sets the spend of are
   * deleted; those of a key an op deletes or replaces are retired instead (lib/store/key-successor):
   * a settlement of the old key that lands on one afterwards follows the key's successor, and one
   * of a deleted key is dropped, rather than re-creating the shard.
   */
  private shardResets(ops: readonly TxOp[]): TxOp[] {
    const out: TxOp[] = [];
    for (const op of ops) {
      const update = op.item.Update;
      const setsSpend = !!update && Object.values(update.ExpressionAttributeNames ?? {}).includes('spend');
      // The update that replaces a key (it records the counters it copied); a predecessor's shards
      // were retired when it was replaced, and re-retiring them would only fill the transaction.
      const replaces = !!update && setValue(update, 'replaced_by') !== undefined && setValue(update, COPIED_COUNTERS_ATTR) !== undefined;
      // A new key's token was never used: it has no shards to reset.
      if (op.item.Put && isKeyItem(op.ref) && op.item.Put.ConditionExpression === 'attribute_not_exists(PK)') continue;
      if (op.replacedKey || (!op.item.Put && !op.item.Delete && !setsSpend && !replaces)) continue;
      const retire = isKeyItem(op.ref) && (!!op.item.Delete || replaces);
      for (const ref of this.shardsOf(op.ref))
        out.push(retire ? this.retireShard(ref, update) : { ref, item: { Delete: { TableName: this.table, Key: ref } } });
    }
    return out;
  }

  /**
   * A key's shard marked retired, kept as long as a settlement of a call made with the key may
   * still arrive: from the key's own end (a copy in its grace period lives until its `ttl`) or now.
   */
  private retireShard(ref: ItemRef, keyUpdate: TxUpdate | undefined): TxOp {
    const ownTtl = keyUpdate ? setValue(keyUpdate, 'ttl') : undefined;
    const from = Math.max(typeof ownTtl === 'number' ? ownTtl : 0, Math.ceil(Date.now() / 1000));
    return {
      ref,
      item: {
        Update: {
          TableName: this.table,
          Key: ref,
          // Retired once, by the first replacement or delete: a later one never shortens its life.
          UpdateExpression: 'SET #rt = :rt, #ttl = if_not_exists(#ttl, :ttl)',
          ExpressionAttributeNames: { '#rt': RETIRED_ATTR, '#ttl': 'ttl' },
          ExpressionAttributeValues: { ':rt': true, ':ttl': from + this.settlementTtlSeconds },
        },
      },
    };
  }

  /**
   * Adds to the key that replaced `oldToken` what the old key's counters moved after regenerate
   * copied them, once (lib/store/key-copy); false when it could not within a few attempts.
   */
  async settleKeyCopy(oldToken: string, attempts = 6): Promise<boolean> {
    const ref = refs.key(oldToken);
    for (let i = 0; i < attempts; i++) {
      try {
        if (await this.settleKeyCopyOnce(ref)) return true;
      } catch (e) {
        // The key is already rotated: a store error here must not turn that into a failure.
        logger().warn('settling a regenerated key copy failed', { error: (e as Error).name });
      }
      await new Promise((r) => setTimeout(r, Math.random() * 10 * 2 ** i));
    }
    logger().error('regenerated key copy not settled', { key: oldToken });
    return false;
  }

  /** One read of the old item and its transaction(s); false when it must be read again. */
  private async settleKeyCopyOnce(ref: ItemRef): Promise<boolean> {
    const own = await this.getItem(ref);
    const copied = own?.[COPIED_COUNTERS_ATTR];
    if (!own || copied === undefined || typeof own.replaced_by !== 'string') return true;
    const [summed] = await this.withShardSpend([own]);
    const moved = movedSinceCopy(decode(summed as Item), copied);
    const tombstone = !own.grace_until;
    // A tombstone goes with its shards (summed into `moved` above); a grace copy keeps them.
    const extra = tombstone ? this.shardResets([{ ref, item: { Delete: { TableName: this.table, Key: ref } } }]).map((o) => o.item) : [];
    let target: ItemRef | undefined = refs.key(own.replaced_by);
    for (let hops = 0; hops <= MAX_SUCCESSOR_HOPS; hops++) {
      const step = await settleCopyOnce(transactSender(this.client), this.table, { ref, own, tombstone, extra }, target, moved);
      if (step.status === 'done') {
        this.invalidate(ref);
        if (target) this.invalidate(target);
        return true;
      }
      if (step.status === 'retry' || !target) return false;
      target = await successorOf(this.client, this.table, target, step.replacedBy);
    }
    return false;
  }

  async getItem(ref: ItemRef): Promise<Item | undefined> {
    const res = await send(() => this.client.send(new GetCommand({ TableName: this.table, Key: ref, ConsistentRead: true })));
    return res.Item;
  }

  /**
   * How many items a transaction of these ops and `audits` audit entries writes: the ops, the
   * counter shards they reset and the audit items (what MAX_TX_ITEMS bounds).
   */
  transactionSize(given: readonly TxOp[], audits: number): number {
    const ops = oncePerItem(given);
    return ops.length + this.shardResets(ops).length + audits;
  }

  /**
   * Commits the ops and their audit entries atomically, or nothing at all. The same op named twice
   * is written once when it is a delete or a condition check (DynamoDB refuses a transaction with
   * two operations on one item: deleting a key with the predecessor it replaced, each deleting that
   * predecessor, answered 503; found by review); any other second op on one item is a 400.
   */
  async transact(given: TxOp[], actor: Actor, audit: AuditEntry | AuditEntry[], now: Date): Promise<void> {
    const ops = oncePerItem(given);
    const entries = Array.isArray(audit) ? audit : [audit];
    // After the ops, so a cancellation reason's index still names its op.
    const resets = this.shardResets(ops);
    const items: TxItem[] = [
      ...ops.map((o) => o.item),
      ...resets.map((o) => o.item),
      ...entries.map((e) => ({ Put: { TableName: this.table, Item: auditItem(actor, e, now) } })),
    ];
    if (items.length > MAX_TX_ITEMS) {
      throw new InvalidRequestError(
        `this change touches ${items.length} items; at most ${MAX_TX_ITEMS} can change together`,
        'too_many_items',
      );
    }
    // Deleted unsettled, a replaced key's copy would take with it the key-level share of the
    // settlements that landed during its regeneration (the sweeper finds a copy by its item): a
    // no-op read when settled (the usual case); one that cannot be settled now refuses the change.
    const settled = await Promise.all(ops.filter((o) => o.replacedKey).map((o) => this.settleKeyCopy(o.ref.PK.slice(KEY_PK.length))));
    if (settled.includes(false)) throw new StoreUnavailableError();
    try {
      await this.client.send(new TransactWriteCommand({ TransactItems: items }));
    } catch (e) {
      if (isTransactionCanceled(e)) {
        const codes = cancellationCodes(e);
        const failed = codes.indexOf('ConditionalCheckFailed');
        const op = failed >= 0 ? ops[failed] : undefined;
        if (op?.onConditionFail) throw op.onConditionFail();
        if (codes.some((c) => c === 'TransactionConflict')) {
          throw new ConcurrentUpdateError();
        }
      }
      if (isTollgateError(e)) throw e;
      if (isItemTooLarge(e)) throw new ItemTooLargeError();
      logger().error('store transaction failed', { error: (e as Error).name });
      throw new StoreUnavailableError();
    } finally {
      for (const o of [...ops, ...resets]) this.invalidate(o.ref);
    }
  }

  /** One page of a partition (base table or an index), decoded. */
  async queryPage<T>(o: QueryOptions): Promise<Page<T>> {
    const pkName = o.index ? `${o.index}PK` : 'PK';
    const skName = o.index ? `${o.index}SK` : 'SK';
    const names: Record<string, string> = { '#pk': pkName };
    const values: Record<string, unknown> = { ':pk': o.pk };
    let cond = '#pk = :pk';
    if (o.skPrefix !== undefined) {
      names['#sk'] = skName;
      values[':sk'] = o.skPrefix;
      cond += ' AND begins_with(#sk, :sk)';
    } else if (o.skBetween) {
      names['#sk'] = skName;
      values[':a'] = o.skBetween[0];
      values[':b'] = o.skBetween[1];
      cond += ' AND #sk BETWEEN :a AND :b';
    }
    const res = await send(() =>
      this.client.send(
        new QueryCommand({
          TableName: this.table,
          // An index cannot be read consistently; a partition of the table can (a team's members: a
          // cascade must see the one added just before it read the team).
          ...(o.index ? { IndexName: o.index } : { ConsistentRead: true }),
          KeyConditionExpression: cond,
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
          ExclusiveStartKey: startKey(o, pkName, skName),
          Limit: o.limit ?? 100,
          ScanIndexForward: o.ascending ?? true,
        }),
      ),
    );
    // An index holds keys only: the items are read from the table.
    const items = o.index ? await send(() => hydrate(this.client, this.table, res.Items ?? [])) : (res.Items ?? []);
    return { data: (await this.withShardSpend(items)).map((i) => decode<T>(i)), next_cursor: encodeCursor(res.LastEvaluatedKey) };
  }

  /** Every item of a partition or index partition (for cascades; bounded by `max`). */
  async queryAll<T>(o: Omit<QueryOptions, 'cursor' | 'limit'>, max = 10_000): Promise<T[]> {
    const out: T[] = [];
    let cursor: string | undefined;
    do {
      const page = await this.queryPage<T>({ ...o, cursor, limit: 500 });
      out.push(...page.data);
      cursor = page.next_cursor ?? undefined;
    } while (cursor && out.length < max);
    return out;
  }
}

/**
 * The cursor as an ExclusiveStartKey, only when it is a position inside this very query: exactly
 * the table's and the index's key attributes, in the queried partition and sort-key range. A
 * cursor crafted to start elsewhere is refused here (DynamoDB would fail it as a store error).
 */
function startKey(o: QueryOptions, pkName: string, skName: string): Record<string, unknown> | undefined {
  const start = decodeCursor(o.cursor) as Record<string, unknown> | undefined;
  if (!start) return undefined;
  const names = new Set(['PK', 'SK', pkName, skName]);
  const sk = start[skName] as string | undefined;
  const fits =
    Object.keys(start).length === names.size &&
    [...names].every((n) => isKeyValue(start[n])) &&
    start[pkName] === o.pk &&
    (o.skPrefix === undefined || (sk as string).startsWith(o.skPrefix)) &&
    (!o.skBetween || ((sk as string) >= o.skBetween[0] && (sk as string) <= o.skBetween[1]));
  if (!fits) throw new InvalidRequestError('`cursor` is not a cursor of this listing', 'invalid_cursor', 'cursor');
  return start;
}

export const sameRef = (a: ItemRef, b: ItemRef): boolean => refKey(a) === refKey(b);
