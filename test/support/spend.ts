/**
 * Reading spend counters the way the table holds them: an entity item plus its counter shards
 * (`SPEND#<n>` in the same partition, lib/store/shards), summed in nano-dollars, exactly.
 */
import { GetCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { documentClient, spendSettler } from '../../lib/app/index.js';
import { dollarsToNanos } from '../../lib/domain/cost.js';
import { budgetAnchor, windowOf } from '../../lib/domain/periods.js';
import type { Budgeted } from '../../lib/domain/records.js';
import { tableName } from '../../lib/store/client.js';
import { COMMITTED_ATTR, type Item, WINDOW_COMMITTED_PREFIX, WINDOW_SPEND_PREFIX } from '../../lib/store/codec.js';
import { type ItemRef, refs } from '../../lib/store/keys.js';
import { SHARD_SK_PREFIX, shardedKindOf } from '../../lib/store/shards.js';

export const readItem = async (ref: ItemRef): Promise<Item | undefined> =>
  (await documentClient().send(new GetCommand({ TableName: tableName(), Key: ref, ConsistentRead: true }))).Item;

/** The entity item and its shards (only sharded kinds have any: a member shares its team's partition). */
export async function counterItems(ref: ItemRef): Promise<Item[]> {
  if (!shardedKindOf(ref)) {
    const item = await readItem(ref);
    return item ? [item] : [];
  }
  const out: Item[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const res = await documentClient().send(
      new QueryCommand({
        TableName: tableName(),
        KeyConditionExpression: 'PK = :pk',
        ExpressionAttributeValues: { ':pk': ref.PK },
        ConsistentRead: true,
        ExclusiveStartKey: start,
      }),
    );
    out.push(...((res.Items ?? []) as Item[]).filter((i) => i.SK === ref.SK || String(i.SK).startsWith(SHARD_SK_PREFIX)));
    start = res.LastEvaluatedKey;
  } while (start);
  return out;
}

const sum = (items: Item[], attr: string) => items.reduce((n, i) => n + dollarsToNanos(Number(i[attr] ?? 0)), 0);

export interface Counters {
  spend: number;
  committed: number;
  /** The window's counters, when a duration is given. */
  window?: { spend: number; committed: number };
}

/** All four counters of an entity in nano-dollars; the window of `duration` at `at`, counted from the entity's anchor. */
export async function countersOf(ref: ItemRef, duration?: string, at = Date.now()): Promise<Counters> {
  const items = await counterItems(ref);
  const out: Counters = { spend: sum(items, 'spend'), committed: sum(items, COMMITTED_ATTR) };
  if (duration) {
    const entity = items.find((i) => i.SK === ref.SK) as Budgeted | undefined;
    const id = windowOf(duration, at, budgetAnchor(entity)).id;
    out.window = { spend: sum(items, WINDOW_SPEND_PREFIX + id), committed: sum(items, WINDOW_COMMITTED_PREFIX + id) };
  }
  return out;
}

export const spendNanos = async (ref: ItemRef): Promise<number> => (await countersOf(ref)).spend;

/**
 * An entity's spend once the deferred settlement of its last call has landed (a settlement
 * follows the answer): read until it holds still over three reads 50 ms apart, at most 0.5 s.
 */
export async function settledSpendNanos(ref: ItemRef): Promise<number> {
  let last = await spendNanos(ref);
  for (let i = 0; i < 10; i++) {
    await new Promise((r) => setTimeout(r, 50));
    const now = await spendNanos(ref);
    if (now === last && i >= 2) return now;
    last = now;
  }
  return last;
}
export const windowNanos = async (ref: ItemRef, duration: string, at = Date.now()): Promise<number> =>
  (await countersOf(ref, duration, at)).window?.spend ?? 0;

/** Fast settlements of key `token` at `costNanos` each, from 4 workers without pause until `stop()` (how many settled). */
export function settleWithoutPause(token: string, costNanos: number) {
  const settler = spendSettler();
  let running = true;
  let settled = 0;
  let next = 0;
  const worker = async () => {
    while (running) {
      await settler.settle({
        requestId: `hot-${token}-${next++}`,
        at: Date.now(),
        costNanos,
        model: 'gpt-4o',
        targets: [{ entity: 'key', id: token, ref: refs.key(token) }],
      });
      settled++;
    }
  };
  const workers = Array.from({ length: 4 }, worker);
  return {
    stop: async () => {
      running = false;
      await Promise.all(workers);
      return settled;
    },
  };
}
