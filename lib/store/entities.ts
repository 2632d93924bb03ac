/**
 * Loading what a caller points to. A virtual key costs at most two round trips cold (the key;
 * then team, user, member, organization, end user and proxy spend in one batch), a JWT one
 * (everything named by its claims in one batch), and none warm. One more is needed only when an
 * organization is known solely through a team that is not cached (a key made before its team
 * joined the organization, or a JWT without an org claim), or an end user points to a reusable budget.
 */
import type { BudgetRecord, EndUserRecord, EntityState, GlobalSpendRecord, KeyRecord, MemberRecord, OrgRecord, TeamRecord, UserRecord } from '../model.js';
import { decode, type Item } from './codec.js';
import { refs } from './keys.js';
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
  constructor(readonly loader: CachedLoader) {}

  async key(tokenHash: string): Promise<KeyRecord | undefined> {
    return as<KeyRecord>(await this.loader.load(refs.key(tokenHash)));
  }

  async user(userId: string): Promise<UserRecord | undefined> {
    return as<UserRecord>(await this.loader.load(refs.user(userId)));
  }

  async team(teamId: string): Promise<TeamRecord | undefined> {
    return as<TeamRecord>(await this.loader.load(refs.team(teamId)));
  }

  /** Everything the ids name, read in one batch where the cache misses. */
  async state(ids: StateIds): Promise<EntityState> {
    const { userId, teamId, orgId, endUserId } = ids;
    const [user, team, member, org, endUser, global] = await this.loader.loadMany([
      userId ? refs.user(userId) : undefined,
      teamId ? refs.team(teamId) : undefined,
      teamId && userId ? refs.member(teamId, userId) : undefined,
      orgId ? refs.org(orgId) : undefined,
      endUserId ? refs.endUser(endUserId) : undefined,
      ids.global ? refs.globalSpend() : undefined,
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
      const [org2, budget] = await this.loader.loadMany([
        teamOrg && teamOrg !== orgId ? refs.org(teamOrg) : undefined,
        budgetId ? refs.budget(budgetId) : undefined,
      ]);
      if (org2) state.org = as<OrgRecord>(org2);
      state.endUserBudget = as<BudgetRecord>(budget);
    }
    return state;
  }
}
