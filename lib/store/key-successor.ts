/**
 * Where a regenerated key's spend goes. `/key/regenerate` copies the key's counters (spend and
 * committed) into the new key; a call admitted under the old key before that may settle after it.
 * Its key counter move must land on the key that now carries the budget, else the new key misses
 * that call (found by review: without a grace period the old item is deleted, and the move was
 * skipped as "entity deleted"; with one it landed on the old copy, which nothing reads).
 *
 * So regenerate leaves a successor record `KEY#<old> / SUCCESSOR` naming the new key, kept as long
 * as a settlement of the old key may still arrive (the settlement record's TTL: a replay older
 * than that is refused), and every move on a key item asserts that the key was not replaced
 * (`attribute_not_exists(replaced_by)`, on the same item: no read, no write unit on the common
 * path). A move whose condition fails follows the old copy's `replaced_by` (in grace) or the
 * successor record (deleted), hop by hop, and is retried there; a key deleted outright has no
 * successor and is skipped as before.
 *
 * A key whose counters are spread over shards (TOLLGATE_SPEND_SHARDS key=N) settles on a random
 * shard `SPEND#<n>`, an item created on first use that cannot assert the key item's condition. So
 * when a key is replaced or deleted, the admin store retires its other shards in the same
 * transaction (`retired`, kept with a TTL as long as a settlement may still come) instead of
 * deleting them, and a move on a shard asserts `attribute_not_exists(retired)` on that shard
 * alone: no read and no other item in the transaction (a check on the key item would make every
 * settlement of a hot key conflict on it, which the shards exist to avoid). A move on a retired
 * shard follows the successor record like one on a deleted key item, and lands on the key item
 * of the key that holds the budget now.
 */
import { BatchGetCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { StoreUnavailableError } from '../errors.js';
import { type ItemRef, refs } from './keys.js';
import { SHARD_SK_PREFIX, shardedKindOf } from './shards.js';

/** The condition every counter move on a key item carries beside `attribute_exists(PK)`. */
export const NOT_REPLACED = 'attribute_not_exists(replaced_by)';

/** The attribute that marks a key's counter shard retired, and the condition every move on one carries. */
export const RETIRED_ATTR = 'retired';
export const NOT_RETIRED = `attribute_not_exists(${RETIRED_ATTR})`;

/** Hops from an old key to the key that holds its budget now (each regeneration is one). */
export const MAX_SUCCESSOR_HOPS = 8;

const KEY = refs.key('');

/** A key's own item (shard 0), the one item a key's settlement asserts exists. */
export const isKeyItem = (ref: ItemRef): boolean => shardedKindOf(ref) === 'key';

/** One of a key's other counter shards (`SPEND#<n>`, n > 0). */
export const isKeyShard = (ref: ItemRef): boolean => ref.PK.startsWith(KEY.PK) && ref.SK.startsWith(SHARD_SK_PREFIX);

/**
 * The key item a move on `ref` goes to instead, or undefined when the key is gone for good.
 * `replacedBy`: the item's own `replaced_by` when the failed condition returned it (a copy in its
 * grace period); else the successor record is read (BatchGetItem: what every spend writer may read).
 */
export async function successorOf(
  client: DynamoDBDocumentClient,
  tableName: string,
  ref: ItemRef,
  replacedBy?: unknown,
): Promise<ItemRef | undefined> {
  if (typeof replacedBy === 'string' && replacedBy) return refs.key(replacedBy);
  const token = ref.PK.slice(KEY.PK.length);
  const res = await client.send(
    new BatchGetCommand({ RequestItems: { [tableName]: { Keys: [refs.keySuccessor(token)], ConsistentRead: true } } }),
  );
  // Not read (throttled): the caller retries or keeps the settlement; taking it as "gone" would lose it.
  if (Object.keys(res.UnprocessedKeys ?? {}).length > 0) throw new StoreUnavailableError();
  const next = res.Responses?.[tableName]?.[0]?.replaced_by;
  return typeof next === 'string' && next ? refs.key(next) : undefined;
}
