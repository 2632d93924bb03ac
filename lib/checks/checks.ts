/**
 * The checks, in order. Each is a small named function of plain data (the time is an argument)
 * that returns a typed denial or nothing. The authorizer runs them without a request body; the
 * llm function runs them again with the body, so checks that need the body skip when it is absent.
 *
 * One budget rule everywhere: an entity is over budget when `spend >= max_budget`; no
 * `max_budget` means no limit; `0` means nothing may be spent. Budgets gate routes that spend
 * money (LLM routes other than `/models`); an over-budget caller can still read its own info.
 */

import type { BudgetEntity } from '../domain/budget-entity.js';
import type { Caller } from '../domain/caller.js';
import { type ChainLink, chainLink } from '../domain/chain.js';
import { currentSpend } from '../domain/periods.js';
import {
  BudgetExceededError,
  EndUserBlockedError,
  InvalidRequestError,
  KeyBlockedError,
  KeyExpiredError,
  KeyRouteNotAllowedError,
  ModelNotAllowedError,
  NotTeamMemberError,
  RouteNotAllowedError,
  TeamBlockedError,
  type TollgateError,
  UserParamRequiredError,
} from '../errors.js';
import type { HttpMethod, RouteDef } from '../routes.js';
import { emptyCatalog, firstRefusal, type ModelCatalog, restrictionsOf } from './models.js';
import { canCallRoute, keyMayCallRoute, type RouteAccessSettings } from './route-access.js';

export interface CheckSettings extends RouteAccessSettings {
  /** Proxy-wide budget (TOLLGATE_MAX_BUDGET); undefined = no limit. */
  maxBudget?: number | undefined;
  budgetDuration?: string | undefined;
  enforceUserParam: boolean;
}

/** What the llm function knows from the body; absent in the authorizer. */
export interface BodyFacts {
  /** The requested models (a comma list already split). */
  models: readonly string[];
  /** The `user` field of the body, if any. */
  user?: string | undefined;
}

export interface CheckInput {
  now: number;
  method: HttpMethod;
  path: string;
  route: RouteDef;
  caller: Caller;
  settings: CheckSettings;
  /** A model named by the path (Azure-style deployments). */
  pathModel?: string | undefined;
  body?: BodyFacts | undefined;
  catalog?: ModelCatalog | undefined;
}

export type Check = (input: CheckInput) => TollgateError | undefined;

/**
 * The budget rule, once: over when spend >= max; null/undefined max = unlimited. Written as
 * "not below" so an unreadable (NaN) spend or budget fails closed.
 */
export const isOverBudget = (spend: number, maxBudget: number | null | undefined): boolean =>
  maxBudget !== null && maxBudget !== undefined && !(spend < maxBudget);

/** A link's denial: over when its current window's spend (or lifetime spend) reached its budget. */
function budgetDenial(link: ChainLink | undefined, now: number): TollgateError | undefined {
  if (!link || link.maxBudget === null || link.maxBudget === undefined) return undefined;
  const spend = currentSpend(link.record ?? {}, now, link.duration);
  return isOverBudget(spend, link.maxBudget) ? new BudgetExceededError(link.entity, link.id, spend, link.maxBudget) : undefined;
}

/** The budget check of one entity of the governing chain (lib/domain/chain): LLM routes that spend only. */
const budgetCheck =
  (entity: BudgetEntity): Check =>
  (i) =>
    spends(i) ? budgetDenial(chainLink(i.caller, entity, i.settings), i.now) : undefined;

const spends = (i: CheckInput) => i.route.group === 'llm' && i.route.spends === true;
const isPersonal = (c: Caller) => !c.teamId;

export const checkRouteAllowed: Check = ({ caller, route, method, path, settings }) =>
  canCallRoute(caller, route, settings) ? undefined : new RouteNotAllowedError(caller.role, method, path);

/** A key limited to some routes (`allowed_routes`) calls only those, whatever its role (lib/checks/route-access). */
export const checkKeyRoutes: Check = ({ caller, route, method, path }) => {
  const key = caller.state.key;
  return key && !keyMayCallRoute(key.allowed_routes, route) ? new KeyRouteNotAllowedError(key.key_name, method, path) : undefined;
};

export const checkKeyBlocked: Check = ({ caller }) => {
  const key = caller.state.key;
  return key?.blocked ? new KeyBlockedError(key.key_name) : undefined;
};

/** Expired when `expires` is earlier than now: expired by 1 ms denies, exactly now still passes. */
export const checkKeyExpired: Check = ({ caller, now }) => {
  const key = caller.state.key;
  // Only null/absent means "never expires"; an empty string is unreadable like any other.
  if (key?.expires === undefined || key.expires === null) return undefined;
  const at = Date.parse(key.expires);
  // An unreadable expiry is treated as expired: fail closed.
  return Number.isNaN(at) || at < now ? new KeyExpiredError(key.key_name, key.expires) : undefined;
};

/**
 * A team key that belongs to a user works only while that user is a member of the team: a
 * removed member's keys stop at once, even one made while the removal was in flight.
 */
export const checkKeyOwnerIsMember: Check = ({ caller }) => {
  const { key, team, member } = caller.state;
  if (caller.principal !== 'virtual_key' || !key?.team_id || !key.user_id || !team) return undefined;
  const isMember = member?.user_id === key.user_id && member.team_id === key.team_id;
  return isMember ? undefined : new NotTeamMemberError(key.user_id, key.team_id, key.key_name);
};

export const checkTeamBlocked: Check = ({ caller }) => {
  const team = caller.state.team;
  return team?.blocked ? new TeamBlockedError(team.team_id) : undefined;
};

export const checkEndUserBlocked: Check = ({ caller }) => {
  const endUser = caller.state.endUser;
  return endUser?.blocked ? new EndUserBlockedError(endUser.user_id) : undefined;
};

/** A comma list fans out to one upstream call per entry after one budget check: keep it short. */
export const MAX_MODELS_PER_REQUEST = 10;
/** No registry name or alias is longer (lib/admin/actions/models.ts); longer names are only matching cost. */
export const MAX_MODEL_NAME_LENGTH = 256;

/** The requested models are few and of a length a model can have, before anything matches them. */
export const checkRequestedModels: Check = ({ route, pathModel, body }) => {
  if (route.group !== 'llm') return undefined;
  const requested = [...(pathModel ? [pathModel] : []), ...(body?.models ?? [])];
  if (requested.length > MAX_MODELS_PER_REQUEST) {
    return new InvalidRequestError(
      `\`model\` names ${requested.length} models; at most ${MAX_MODELS_PER_REQUEST} may be called together`,
      'too_many_models',
      'model',
    );
  }
  if (requested.some((m) => m.length > MAX_MODEL_NAME_LENGTH)) {
    return new InvalidRequestError(`a model name is longer than ${MAX_MODEL_NAME_LENGTH} characters`, 'invalid_model', 'model');
  }
  return undefined;
};

/** The requested models (path or body) against key ∩ team ∩ user (personal keys) ∩ organization. */
export const checkModelAccess: Check = ({ caller, route, pathModel, body, catalog }) => {
  if (route.group !== 'llm') return undefined;
  const requested = [...(pathModel ? [pathModel] : []), ...(body?.models ?? [])];
  if (requested.length === 0) return undefined;
  const { key, team, user, org } = caller.state;
  const restrictions = restrictionsOf({
    key: key && { name: key.key_name, models: key.models },
    team: team && { id: team.team_id, models: team.models },
    user: user && isPersonal(caller) ? { id: user.user_id, models: user.models } : undefined,
    org: org && { id: org.organization_id, models: org.models },
  });
  for (const model of requested) {
    const refusal = firstRefusal(restrictions, model, catalog ?? emptyCatalog);
    if (refusal) return new ModelNotAllowedError(model, refusal.entity, refusal.models);
  }
  return undefined;
};

/** enforce_user_param: LLM POSTs must name their end user in the body's `user` field. */
export const checkUserParam: Check = ({ settings, body, route, method, caller }) => {
  if (!settings.enforceUserParam || !body || route.group !== 'llm' || method !== 'POST') return undefined;
  const hasUser = (typeof body.user === 'string' && body.user.length > 0) || caller.endUserId !== undefined;
  return hasUser ? undefined : new UserParamRequiredError();
};

export const checkKeyBudget: Check = budgetCheck('key');
/** The user's own budget applies to calls made without a team (personal keys, team-less JWTs). */
export const checkUserBudget: Check = budgetCheck('user');
export const checkTeamBudget: Check = budgetCheck('team');
export const checkTeamMemberBudget: Check = budgetCheck('team_member');
/** The organization comes from the key, else from its team: both are loaded before the checks run. */
export const checkOrganizationBudget: Check = budgetCheck('organization');
/** The end user's budget: its own `max_budget`, else the reusable budget it points to. */
export const checkEndUserBudget: Check = budgetCheck('end_user');
/** The proxy-wide budget (TOLLGATE_MAX_BUDGET): LLM routes that spend only, never `/models`. */
export const checkGlobalBudget: Check = budgetCheck('global');

/** The budget checks: what a call may still spend. */
export const budgetChecks: readonly Check[] = [
  checkKeyBudget,
  checkUserBudget,
  checkTeamBudget,
  checkTeamMemberBudget,
  checkOrganizationBudget,
  checkEndUserBudget,
  checkGlobalBudget,
];

/** Every check, in the order they run (the budgets last); the first denial wins. */
export const allChecks: readonly Check[] = [
  checkRouteAllowed,
  checkKeyRoutes,
  checkKeyBlocked,
  checkKeyExpired,
  checkKeyOwnerIsMember,
  checkTeamBlocked,
  checkEndUserBlocked,
  checkRequestedModels,
  checkModelAccess,
  checkUserParam,
  ...budgetChecks,
];

/**
 * The checks a read that bills work already done runs (the pending sweep's, lib/llm/pending): no
 * budget refuses a bill owed (found by review: with the proxy budget spent, the sweep's reads were
 * refused, and after a week the 403 gave the objects up unbilled).
 */
export const owedBillChecks: readonly Check[] = allChecks.filter((c) => !budgetChecks.includes(c));

/**
 * The checks the authorizer runs: every check but those on models. Model checks need the model
 * registry (aliases, access groups) and may deny with a 400 (`too_many_models`, `invalid_model`),
 * which an authorizer can only turn into a 403; so they run once, in the llm function, for models
 * named in the body and in the path alike: the two places can never disagree.
 */
export const authorizerChecks: readonly Check[] = allChecks.filter((c) => c !== checkRequestedModels && c !== checkModelAccess);

/** Runs the checks in order and returns the first denial, or undefined when all pass. */
export function runChecks(input: CheckInput, checks: readonly Check[] = allChecks): TollgateError | undefined {
  for (const check of checks) {
    const denial = check(input);
    if (denial) return denial;
  }
  return undefined;
}
