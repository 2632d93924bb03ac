/**
 * How many items an entity's spend counters are spread over (the table layout of the shards is
 * lib/store/shards). DynamoDB takes about 1,000 writes a second on one item; every call of a team
 * writes its team's counters, so hot kinds spread them. Only kinds whose items the admin API
 * creates and deletes are sharded (keys, teams, organizations), plus the proxy.
 */
import type { BudgetEntity } from './budget-entity.js';

export const SHARDED_KINDS = ['key', 'team', 'organization', 'global'] as const;
export type ShardedKind = (typeof SHARDED_KINDS)[number];
/** Shards per kind; absent kinds have one (the entity item). */
export type ShardCounts = Readonly<Partial<Record<ShardedKind, number>>>;

/** One BatchGetItem takes 100 keys: the shards of one caller's chain must fit beside its entities. */
export const MAX_SHARDS_PER_KIND = 32;
export const MAX_SHARDS_TOTAL = 64;

export const DEFAULT_SHARDS: ShardCounts = { global: 16, team: 8, organization: 8 };

export const shardCount = (counts: ShardCounts, entity: BudgetEntity): number =>
  (SHARDED_KINDS as readonly string[]).includes(entity) ? Math.max(1, counts[entity as ShardedKind] ?? 1) : 1;

export const pickShard = (count: number, random: () => number = Math.random): number =>
  count <= 1 ? 0 : Math.min(count - 1, Math.floor(random() * count));

/** `global=16,team=8,organization=8` -> counts; throws a message naming what is wrong. */
export function parseShardCounts(text: string): ShardCounts {
  const out: Partial<Record<ShardedKind, number>> = {};
  const parts = text
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p.length > 0);
  for (const [i, part] of parts.entries()) {
    const m = /^([a-z_]+)\s*=\s*([0-9]+)$/.exec(part);
    // By position, not by text: a misplaced value may be anything, a secret included.
    if (!m) throw new RangeError(`entry ${i + 1} is not kind=count (such as team=8)`);
    const kind = m[1] as ShardedKind;
    const n = Number(m[2]);
    if (!(SHARDED_KINDS as readonly string[]).includes(kind))
      throw new RangeError(`\`${kind}\` cannot be sharded (only ${SHARDED_KINDS.join(', ')})`);
    if (!Number.isInteger(n) || n < 1 || n > MAX_SHARDS_PER_KIND)
      throw new RangeError(`${kind}: the count must be 1 to ${MAX_SHARDS_PER_KIND}`);
    out[kind] = n;
  }
  const total = Object.values(out).reduce((a, b) => a + b, 0);
  if (total > MAX_SHARDS_TOTAL) throw new RangeError(`at most ${MAX_SHARDS_TOTAL} shards in all (one read must fetch a whole chain)`);
  return out;
}
