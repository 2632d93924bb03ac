/**
 * Loading what a caller points to. A virtual key costs at most two round trips cold (the key;
 * then team, user, member, organization, end user and proxy spend in one batch), a JWT one
 * (everything named by its claims in one batch), and none warm. One more is needed only when an
 * organization is known solely through a team that is not cached (a key made before its team
 * joined the organization, or a JWT without an org claim), an end user points to a reusable budget,
 * or the key is a copy in its grace period (its newest key is read: it governs the call).
 * The counter shards of sharded kinds (lib/store/shards) ride in the same batch as their entity.
 */
import type { BudgetEntity } from '../domain/budget-entity.js';
import type {
  BudgetRecord,
  EndUserRecord,
  EntityState,
  GlobalSpendRecord,
  KeyRecord,
  MemberRecord,
  OrgRecord,
  TeamRecord,
  UserRecord,
} from '../domain/records.js';
import { type ShardCounts, shardCount } from '../domain/sharding.js';
import { decode, type Item } from './codec.js';
import { type ItemRef, refKey, refs } from './keys.js';
import type { CachedLoader } from './loader.js';
import { mergeShards, otherShardRefs } from './shards.js';

export interface StateIds {
  userId?: string | undefined;
  teamId?: string | undefined;
  orgId?: string | undefined;
  endUserId?: string | undefined;
  /** Load proxy-wide spend (only when a proxy budget is set). */
  global?: boolean;
}

/**
 * Cached items are never changed in place (a write replaces them in the cache), so the record
 * decoded from one, and the sum of one set of shards, are computed once per item, not once per
 * request: the warm authorization path is mostly this. Records are frozen so that a caller that
 * tried to change a shared one would fail loudly instead of corrupting every later request.
 */
const decoded = new WeakMap<Item, unknown>();
function as<T>(item: Item | undefined): T | undefined {
  if (!item) return undefined;
  let record = decoded.get(item);
  if (record === undefined) {
    record = Object.freeze(decode<T>(item));
    decoded.set(item, record);
  }
  return record as T;
}

const merged = new WeakMap<Item, { shards: readonly (Item | undefined)[]; sum: Item | undefined }>();
function mergeShardsOnce(item: Item | undefined, shards: readonly (Item | undefined)[], keepWithoutEntity: boolean): Item | undefined {
  if (!item || shards.length === 0) return mergeShards(item, shards, keepWithoutEntity);
  const seen = merged.get(item);
  if (seen && seen.shards.length === shards.length && seen.shards.every((s, i) => s === shards[i])) return seen.sum;
  const sum = mergeShards(item, shards, keepWithoutEntity);
  merged.set(item, { shards, sum });
  return sum;
}

/** Hops from a replaced key to the newest: one for copies regenerate made (it repoints older copies too). */
const MAX_REPLACED_HOPS = 8;

/** Bound on remembered shard-ref lists (one per sharded entity seen by this instance). */
const MAX_REMEMBERED_SHARD_REFS = 10_000;

export class EntityReader {
  constructor(
    readonly loader: CachedLoader,
    readonly shards: ShardCounts = {},
  ) {}

  async key(tokenHash: string): Promise<KeyRecord | undefined> {
    return as<KeyRecord>(await this.loadWithShards(refs.key(tokenHash), 'key'));
  }

  /**
   * The key a copy in its grace period answers to: the newest key that replaced it, whose budget,
   * counters and limits govern every copy (so regenerating never multiplies a budget). The key
   * itself when never replaced; undefined when the newest is gone (deleting it ends its copies) or
   * the chain is longer than any regeneration makes (each points its copies at the newest).
   */
  async newestKey(key: KeyRecord): Promise<KeyRecord | undefined> {
    let k = key;
    for (let hops = 0; k.replaced_by; hops++) {
      if (hops === MAX_REPLACED_HOPS) return undefined;
      const next = await this.key(k.replaced_by);
      if (!next) return undefined;
      k = next;
    }
    return k;
  }

  async user(userId: string): Promise<UserRecord | undefined> {
    return as<UserRecord>(await this.loader.load(refs.user(userId)));
  }

  async team(teamId: string): Promise<TeamRecord | undefined> {
    return as<TeamRecord>(await this.loadWithShards(refs.team(teamId), 'team'));
  }

  private readonly shardRefs = new Map<string, readonly ItemRef[]>();

  /** The refs an entity's counters live on: the item, then its other shards (built once per entity). */
  counterRefs(ref: ItemRef, entity: BudgetEntity): readonly ItemRef[] {
    const count = shardCount(this.shards, entity);
    if (count <= 1) return [ref];
    const id = refKey(ref);
    let list = this.shardRefs.get(id);
    if (!list) {
      if (this.shardRefs.size >= MAX_REMEMBERED_SHARD_REFS) this.shardRefs.clear();
      list = [ref, ...otherShardRefs(ref, count)];
      this.shardRefs.set(id, list);
    }
    return list;
  }

  /** An entity item with its shards summed in; every miss joins the tick's batch. */
  private async loadWithShards(ref: ItemRef | undefined, entity: BudgetEntity): Promise<Item | undefined> {
    if (!ref) return undefined;
    const [item, ...shards] = await this.loader.loadMany(this.counterRefs(ref, entity));
    return mergeShardsOnce(item, shards, entity === 'global');
  }

  /** Everything the ids name, in one loadMany (one batch for the misses, no promise per item when warm). */
  async state(ids: StateIds): Promise<EntityState> {
    const { userId, teamId, orgId, endUserId } = ids;
    // Each wanted item with the kind whose counter shards ride along (none for unsharded kinds).
    const wanted: [ItemRef | undefined, BudgetEntity | undefined][] = [
      [userId ? refs.user(userId) : undefined, undefined],
      [teamId ? refs.team(teamId) : undefined, 'team'],
      [teamId && userId ? refs.member(teamId, userId) : undefined, undefined],
      [orgId ? refs.org(orgId) : undefined, 'organization'],
      [endUserId ? refs.endUser(endUserId) : undefined, undefined],
      [ids.global ? refs.globalSpend() : undefined, 'global'],
    ];
    const groups = wanted.map(([ref, kind]): readonly ItemRef[] => (!ref ? [] : kind ? this.counterRefs(ref, kind) : [ref]));
    const loaded = await this.loader.loadMany(groups.flat());
    let at = 0;
    const [user, team, member, org, endUser, global] = groups.map((g, i) => {
      const [item, ...shards] = loaded.slice(at, (at += g.length));
      const kind = wanted[i]?.[1];
      return kind ? mergeShardsOnce(item, shards, kind === 'global') : item;
    });
    const state: EntityState = {
      user: as<UserRecord>(user),
      team: as<TeamRecord>(team),
      member: as<MemberRecord>(member),
      org: as<OrgRecord>(org),
      endUser: as<EndUserRecord>(endUser),
      global: ids.global ? (as<GlobalSpendRecord>(global) ?? {}) : undefined,
    };
    const teamOrg = state.team?.organization_id;
    const budgetId = state.endUser?.budget_id;
    if ((teamOrg && teamOrg !== orgId) || budgetId) {
      const [org2, budget] = await Promise.all([
        this.loadWithShards(teamOrg && teamOrg !== orgId ? refs.org(teamOrg) : undefined, 'organization'),
        budgetId ? this.loader.load(refs.budget(budgetId)) : undefined,
      ]);
      if (org2) state.org = as<OrgRecord>(org2);
      state.endUserBudget = as<BudgetRecord>(budget);
    }
    return state;
  }
}
