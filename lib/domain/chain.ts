/**
 * The governing chain: which entities' budgets govern a call, in the order they are checked and
 * settled. The budget checks (lib/checks), the authorizer's context and the settlement
 * (lib/spend) all read it from here, so an entity added to the chain is one builder below.
 *
 * - the key, always;
 * - the user, for calls made without a team (personal keys, team-less JWTs): inside a team the
 *   member's budget is what governs the user;
 * - the team, and the caller's membership of that team;
 * - the organization (the key's, else its team's: the loader put it in the state);
 * - the end user, by its record, or by id alone when it has none yet (its spend is still
 *   counted); its budget is its own `max_budget`, else the reusable budget it follows;
 * - the proxy, whose budget is the proxy-wide one from the configuration.
 */
import type { BudgetEntity } from './budget-entity.js';
import type { Caller } from './caller.js';
import type { Budgeted, BudgetRecord } from './records.js';

/** The proxy-wide budget (TOLLGATE_MAX_BUDGET, TOLLGATE_BUDGET_DURATION). */
export interface ProxyBudget {
  maxBudget?: number | undefined;
  budgetDuration?: string | undefined;
}

export interface ChainLink {
  entity: BudgetEntity;
  /** How messages and logs name it: `sk-...abcd`, `u-1@t-1`; null for the proxy. */
  id: string | null;
  /** The record whose counters hold its spend; undefined for an end user known only by id. */
  record: Budgeted | undefined;
  /** The budget that applies (null or undefined: no limit). */
  maxBudget: number | null | undefined;
  /** The window the budget counts in (none: lifetime). */
  duration: string | null | undefined;
  /** The reusable budget an end user follows, when it follows one. */
  follows?: BudgetRecord | undefined;
}

type Builder = (caller: Caller, proxy: ProxyBudget) => ChainLink | undefined;

const own = (entity: BudgetEntity, id: string, record: Budgeted): ChainLink => ({
  entity,
  id,
  record,
  maxBudget: record.max_budget,
  duration: record.budget_duration,
});

const isPersonal = (caller: Caller): boolean => !caller.teamId;

const builders: Readonly<Record<BudgetEntity, Builder>> = {
  key: ({ state: { key } }) => (key ? own('key', key.key_name, key) : undefined),
  user: (caller) => {
    const user = caller.state.user;
    return user && isPersonal(caller) ? own('user', user.user_id, user) : undefined;
  },
  team: ({ state: { team } }) => (team ? own('team', team.team_id, team) : undefined),
  team_member: ({ state: { team, member } }) =>
    member && team && member.team_id === team.team_id ? own('team_member', `${member.user_id}@${member.team_id}`, member) : undefined,
  organization: ({ state: { org } }) => (org ? own('organization', org.organization_id, org) : undefined),
  end_user: (caller) => {
    const { endUser, endUserBudget } = caller.state;
    const id = endUser?.user_id ?? caller.endUserId;
    if (!id) return undefined;
    return {
      entity: 'end_user',
      id,
      record: endUser,
      maxBudget: endUser ? (endUser.max_budget ?? endUserBudget?.max_budget) : undefined,
      duration: endUser?.budget_duration ?? endUserBudget?.budget_duration,
      follows: endUser ? endUserBudget : undefined,
    };
  },
  global: (caller, proxy) => ({
    entity: 'global',
    id: null,
    record: caller.state.global ?? {},
    maxBudget: proxy.maxBudget,
    duration: proxy.budgetDuration,
  }),
};

/** The order of the chain: checks deny with the first, settlements write in this order. */
export const CHAIN_ORDER: readonly BudgetEntity[] = ['key', 'user', 'team', 'team_member', 'organization', 'end_user', 'global'];

/** Every entity that governs the caller, in chain order. */
export function governingChain(caller: Caller, proxy: ProxyBudget = {}): ChainLink[] {
  const out: ChainLink[] = [];
  for (const entity of CHAIN_ORDER) {
    const link = builders[entity](caller, proxy);
    if (link) out.push(link);
  }
  return out;
}

/** One entity's link, when it governs the caller. */
export const chainLink = (caller: Caller, entity: BudgetEntity, proxy: ProxyBudget = {}): ChainLink | undefined =>
  builders[entity](caller, proxy);
