/**
 * Hot counters. DynamoDB takes about 1,000 writes per second on one item, and every call of a
 * team writes that team's counters (every call of the proxy writes the proxy's). So the
 * counters of hot kinds are spread over N items: shard 0 is the entity item itself (N = 1 is
 * the plain layout), shards 1..N-1 are `PK=<entity PK>, SK=SPEND#<n>`. A settlement adds to
 * one shard per entity; readers fetch every shard in the same batch as the entity and add them
 * up. Strict reservations live on shard 0 (their conditions need one item): see lib/spend/settle.
 *
 * Only kinds whose items are created and deleted through the admin API are sharded (keys,
 * teams, organizations) plus the proxy item: the admin store deletes an entity's other shards
 * whenever it creates, deletes or sets the spend of the entity (lib/admin/store), so a shard
 * never outlives its entity's spend and a re-created entity starts from zero.
 */
import type { BudgetEntity } from '../errors.js';
import { COMMITTED_ATTR, WINDOW_COMMITTED_PREFIX, WINDOW_SPEND_PREFIX, type Item } from '../store/codec.js';
import type { ItemRef } from '../store/keys.js';
import { NANOS_PER_DOLLAR } from './cost.js';

export const SHARDED_KINDS = ['key', 'team', 'organization', 'global'] as const;
export type ShardedKind = (typeof SHARDED_KINDS)[number];
/** Shards per kind; absent kinds have one (the entity item). */
export type ShardCounts = Readonly<Partial<Record<ShardedKind, number>>>;

export const SHARD_SK_PREFIX = 'SPEND#';
/** One BatchGetItem takes 100 keys: the shards of one caller's chain must fit beside its entities. */
export const MAX_SHARDS_PER_KIND = 32;
export const MAX_SHARDS_TOTAL = 64;

export const DEFAULT_SHARDS: ShardCounts = { global: 16, team: 8, organization: 8 };

export const shardCount = (counts: ShardCounts, entity: BudgetEntity): number =>
  (SHARDED_KINDS as readonly string[]).includes(entity) ? Math.max(1, counts[entity as ShardedKind] ?? 1) : 1;

export const shardRef = (ref: ItemRef, n: number): ItemRef => (n === 0 ? ref : { PK: ref.PK, SK: `${SHARD_SK_PREFIX}${n}` });

/** The refs of shards 1..count-1 (shard 0 is `ref` itself). */
export const otherShardRefs = (ref: ItemRef, count: number): ItemRef[] => Array.from({ length: Math.max(0, count - 1) }, (_, i) => shardRef(ref, i + 1));

export const pickShard = (count: number, random: () => number = Math.random): number => (count <= 1 ? 0 : Math.min(count - 1, Math.floor(random() * count)));

/** The sharded kind an entity item belongs to, from its key (for the admin store's resets). */
export function shardedKindOf(ref: ItemRef): ShardedKind | undefined {
  if (ref.PK.startsWith('KEY#') && ref.SK === 'KEY') return 'key';
  if (ref.PK.startsWith('TEAM#') && ref.SK === 'TEAM') return 'team';
  if (ref.PK.startsWith('ORG#') && ref.SK === 'ORG') return 'organization';
  if (ref.PK === 'GLOBAL' && ref.SK === 'SPEND') return 'global';
  return undefined;
}

/** Committed amounts held on shards other than 0, as lib/model's `committed_elsewhere`. */
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

/** `global=16,team=8,organization=8` -> counts; throws a message naming what is wrong. */
export function parseShardCounts(text: string): ShardCounts {
  const out: Partial<Record<ShardedKind, number>> = {};
  for (const part of text.split(',').map((p) => p.trim()).filter((p) => p.length > 0)) {
    const m = /^([a-z_]+)\s*=\s*([0-9]+)$/.exec(part);
    if (!m) throw new RangeError(`\`${part}\` is not kind=count`);
    const kind = m[1] as ShardedKind;
    const n = Number(m[2]);
    if (!(SHARDED_KINDS as readonly string[]).includes(kind)) throw new RangeError(`\`${kind}\` cannot be sharded (only ${SHARDED_KINDS.join(', ')})`);
    if (!Number.isInteger(n) || n < 1 || n > MAX_SHARDS_PER_KIND) throw new RangeError(`${kind}: the count must be 1 to ${MAX_SHARDS_PER_KIND}`);
    out[kind] = n;
  }
  const total = Object.values(out).reduce((a, b) => a + b, 0);
  if (total > MAX_SHARDS_TOTAL) throw new RangeError(`at most ${MAX_SHARDS_TOTAL} shards in all (one read must fetch a whole chain)`);
  return out;
}
