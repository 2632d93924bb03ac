/**
 * The authorizer's context: what API Gateway hands to every integration about the caller.
 * Values are strings, numbers or booleans (API Gateway's rule). Functions behind the authorizer
 * read the caller from here and reload entity state through the same cached loaders.
 */

import { restrictionsOf } from '../checks/models.js';
import type { Caller, Principal, Role } from '../domain/caller.js';
import { governingChain } from '../domain/chain.js';
import { currentSpend } from '../domain/periods.js';

export interface CallerContext {
  principal: Principal;
  role: Role;
  user_id?: string;
  team_id?: string;
  org_id?: string;
  end_user_id?: string;
  key_hash?: string;
  key_name?: string;
  /** JSON: the restricting model lists, `[{"entity": "team `t-1`", "models": [...]}]`. */
  models?: string;
  /** JSON: remaining budget by entity, `{"key": 4.5, "team": 10}`. */
  budgets?: string;
}

export type AuthorizerContextValue = string | number | boolean;

export function callerContext(caller: Caller, now: number): CallerContext {
  const { key, user, team, org } = caller.state;
  const restrictions = restrictionsOf({
    key: key && { name: key.key_name, models: key.models },
    team: team && { id: team.team_id, models: team.models },
    user: user && !caller.teamId ? { id: user.user_id, models: user.models } : undefined,
    org: org && { id: org.organization_id, models: org.models },
  });
  const budgets: Record<string, number> = {};
  // The remaining budget of each governing entity that has one, as far as the caller can see it
  // here (the end user comes from the body, after the authorizer; the proxy's is not the caller's).
  for (const link of governingChain(caller)) {
    if (link.entity === 'end_user' || link.entity === 'global' || !link.record) continue;
    if (link.maxBudget === undefined || link.maxBudget === null) continue;
    budgets[link.entity] = Math.max(0, Math.round((link.maxBudget - currentSpend(link.record, now, link.duration)) * 1e6) / 1e6);
  }
  const ctx: CallerContext = { principal: caller.principal, role: caller.role };
  if (caller.userId) ctx.user_id = caller.userId;
  if (caller.teamId) ctx.team_id = caller.teamId;
  if (caller.orgId) ctx.org_id = caller.orgId;
  if (caller.endUserId) ctx.end_user_id = caller.endUserId;
  if (caller.keyHash) ctx.key_hash = caller.keyHash;
  if (caller.keyName) ctx.key_name = caller.keyName;
  if (restrictions.length > 0) ctx.models = JSON.stringify(restrictions);
  if (Object.keys(budgets).length > 0) ctx.budgets = JSON.stringify(budgets);
  return ctx;
}

const PRINCIPALS: readonly Principal[] = ['master_key', 'virtual_key', 'jwt'];
const ROLES: readonly Role[] = ['proxy_admin', 'internal_user', 'internal_user_viewer', 'team'];
const str = (v: unknown): string | undefined => (typeof v === 'string' && v.length > 0 ? v : undefined);

/** Reads the caller back from `requestContext.authorizer`; undefined when it is not one of ours. */
export function readCallerContext(raw: Record<string, unknown> | null | undefined): CallerContext | undefined {
  if (!raw) return undefined;
  const principal = raw.principal as Principal;
  const role = raw.role as Role;
  if (!PRINCIPALS.includes(principal) || !ROLES.includes(role)) return undefined;
  const ctx: CallerContext = { principal, role };
  for (const k of ['user_id', 'team_id', 'org_id', 'end_user_id', 'key_hash', 'key_name', 'models', 'budgets'] as const) {
    const v = str(raw[k]);
    if (v) ctx[k] = v;
  }
  return ctx;
}
