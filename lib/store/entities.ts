/**
 * Loading what a caller points to. A virtual key costs at most two round trips cold (the key;
 * then team, user, member, organization, end user and proxy spend in one batch), a JWT one
 * (everything named by its claims in one batch), and none warm. One more is needed only when an
 * organization is known solely through a team that is not cached (a key made before its team
 * joined the organization, or a JWT without an org claim), or an end user points to a reusable budget.
 * The counter shards of sharded kinds (lib/spend/shards) ride in the same batch as their entity.
 */
import type { BudgetEntity } from '../errors.js';
import type { BudgetRecord, EndUserRecord, EntityState, GlobalSpendRecord, KeyRecord, MemberRecord, OrgRecord, TeamRecord, UserRecord } from '../model.js';
import { mergeShards, otherShardRefs, shardCount, type ShardCounts } from '../spend/shards.js';
import { decode, type Item } from './codec.js';
import { refs, type ItemRef } from './keys.js';
import type { CachedLoader } from './loader.js';

export interface StateIds {
  userId?: string | undefined;
  teamId?: string | undefined;
  orgId?: string | undefined;
  endUserId?: string | undefined;
  /** Load proxy-wide spend (only when a proxy budget is set). */
  global?: boolean;
}

const as = <T>(item: Item | undefined): T | undefined => (item ? decode<T>(item) : undefined);

export class EntityReader {
  constructor(
    readonly loader: CachedLoader,
    readonly shards: ShardCounts = {},
  ) {}

  async key(tokenHash: string): Promise<KeyRecord | undefined> {
    return as<KeyRecord>(await this.loadWithShards(refs.key(tokenHash), 'key'));
  }

  async user(userId: string): Promise<UserRecord | undefined> {
    return as<UserRecord>(await this.loader.load(refs.user(userId)));
  }

  async team(teamId: string): Promise<TeamRecord | undefined> {
    return as<TeamRecord>(await this.loadWithShards(refs.team(teamId), 'team'));
  }

  /** The refs an entity's counters live on: the item, then its other shards. */
  counterRefs(ref: ItemRef, entity: BudgetEntity): ItemRef[] {
    return [ref, ...otherShardRefs(ref, shardCount(this.shards, entity))];
  }

  private one(ref: ItemRef | undefined): Promise<Item | undefined> {
    return ref ? this.loader.load(ref) : Promise.resolve(undefined);
  }

  /** An entity item with its shards summed in; every miss joins the tick's batch. */
  private async loadWithShards(ref: ItemRef | undefined, entity: BudgetEntity): Promise<Item | undefined> {
    if (!ref) return undefined;
    const [item, ...shards] = await this.loader.loadMany(this.counterRefs(ref, entity));
    return mergeShards(item, shards, entity === 'global');
  }

  /** Everything the ids name, read in one batch where the cache misses. */
  async state(ids: StateIds): Promise<EntityState> {
    const { userId, teamId, orgId, endUserId } = ids;
    const [user, team, member, org, endUser, global] = await Promise.all([
      this.one(userId ? refs.user(userId) : undefined),
      this.loadWithShards(teamId ? refs.team(teamId) : undefined, 'team'),
      this.one(teamId && userId ? refs.member(teamId, userId) : undefined),
      this.loadWithShards(orgId ? refs.org(orgId) : undefined, 'organization'),
      this.one(endUserId ? refs.endUser(endUserId) : undefined),
      this.loadWithShards(ids.global ? refs.globalSpend() : undefined, 'global'),
    ]);
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
        this.one(budgetId ? refs.budget(budgetId) : undefined),
      ]);
      if (org2) state.org = as<OrgRecord>(org2);
      state.endUserBudget = as<BudgetRecord>(budget);
    }
    return state;
  }
}
