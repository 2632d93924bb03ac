/**
 * Hot counters. DynamoDB takes about 1,000 writes per second on one item, and every call of a
 * team writes that team's counters (every call of the proxy writes the proxy's). So the
 * counters of hot kinds are spread over N items: shard 0 is the entity item itself (N = 1 is
 * the plain layout), shards 1..N-1 are `PK=<entity PK>, SK=SPEND#<n>`. A settlement adds to
 * one shard per entity; readers fetch every shard in the same batch as the entity and add them
 * up. Strict reservations live on shard 0 (their conditions need one item): see lib/store/spend-ledger.
 *
 * Only kinds whose items are created and deleted through the admin API are sharded (keys,
 * teams, organizations) plus the proxy item: the admin store deletes an entity's other shards
 * whenever it creates, deletes or sets the spend of the entity (lib/store/admin-store.ts), so a shard
 * never outlives its entity's spend and a re-created entity starts from zero.
 */

import { NANOS_PER_DOLLAR } from '../domain/cost.js';
import type { ShardedKind } from '../domain/sharding.js';
import { COMMITTED_ATTR, type Item, WINDOW_COMMITTED_PREFIX, WINDOW_SPEND_PREFIX } from './codec.js';
import type { ItemRef } from './keys.js';

export const SHARD_SK_PREFIX = 'SPEND#';
export const shardRef = (ref: ItemRef, n: number): ItemRef => (n === 0 ? ref : { PK: ref.PK, SK: `${SHARD_SK_PREFIX}${n}` });

/** The refs of shards 1..count-1 (shard 0 is `ref` itself). */
export const otherShardRefs = (ref: ItemRef, count: number): ItemRef[] =>
  Array.from({ length: Math.max(0, count - 1) }, (_, i) => shardRef(ref, i + 1));

/** The sharded kind an entity item belongs to, from its key (for the admin store's resets). */
export function shardedKindOf(ref: ItemRef): ShardedKind | undefined {
  if (ref.PK.startsWith('KEY#') && ref.SK === 'KEY') return 'key';
  if (ref.PK.startsWith('TEAM#') && ref.SK === 'TEAM') return 'team';
  if (ref.PK.startsWith('ORG#') && ref.SK === 'ORG') return 'organization';
  if (ref.PK === 'GLOBAL' && ref.SK === 'SPEND') return 'global';
  return undefined;
}

/** Committed amounts held on shards other than 0, as lib/domain/records' `committed_elsewhere`. */
export const COMMITTED_ELSEWHERE_ATTR = 'committed_elsewhere';

const isCounter = (name: string): boolean =>
  name === 'spend' || name === COMMITTED_ATTR || name.startsWith(WINDOW_SPEND_PREFIX) || name.startsWith(WINDOW_COMMITTED_PREFIX);
const isCommitted = (name: string): boolean => name === COMMITTED_ATTR || name.startsWith(WINDOW_COMMITTED_PREFIX);

// Summed in nano-dollars: every stored amount is an exact decimal with at most 9 places.
const nanos = (v: unknown): number => Math.round(Number(v) * NANOS_PER_DOLLAR);
const dollars = (n: number): number => n / NANOS_PER_DOLLAR;

/**
 * The entity item with its shards' counters added in, plus `committed_elsewhere` (the committed
 * counters of shards 1..N-1, which a reservation on shard 0 must leave room for). An entity
 * item that does not exist stays absent, shards or not, except for the proxy item, which any
 * settlement may create.
 */
export function mergeShards(entity: Item | undefined, shards: readonly (Item | undefined)[], keepWithoutEntity = false): Item | undefined {
  const present = shards.filter((s): s is Item => s !== undefined);
  if (!entity && !(keepWithoutEntity && present.length > 0)) return entity;
  if (present.length === 0) return entity;
  const totals = new Map<string, number>();
  const elsewhere = new Map<string, number>();
  for (const shard of present) {
    for (const [name, value] of Object.entries(shard)) {
      if (!isCounter(name)) continue;
      totals.set(name, (totals.get(name) ?? 0) + nanos(value));
      if (isCommitted(name)) elsewhere.set(name, (elsewhere.get(name) ?? 0) + nanos(value));
    }
  }
  const out: Item = { ...(entity ?? {}) };
  for (const [name, n] of totals) out[name] = dollars(nanos(out[name] ?? 0) + n);
  const lifetime = elsewhere.get(COMMITTED_ATTR);
  const windows: Record<string, number> = {};
  for (const [name, n] of elsewhere) if (name !== COMMITTED_ATTR) windows[name.slice(WINDOW_COMMITTED_PREFIX.length)] = dollars(n);
  out[COMMITTED_ELSEWHERE_ATTR] = { ...(lifetime !== undefined ? { lifetime: dollars(lifetime) } : {}), windows };
  return out;
}
