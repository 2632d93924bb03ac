/**
 * Who is asking the admin API. Through API Gateway the actor is the authorizer's caller; by
 * direct invocation (the console, the SDK) whoever could invoke the function is an admin:
 * IAM already decided.
 */
import type { Principal, Role } from './caller.js';

export interface Actor {
  principal: Principal | 'iam';
  role: Role;
  userId?: string | undefined;
  teamId?: string | undefined;
  keyHash?: string | undefined;
  keyName?: string | undefined;
  /** The authorizer's restricting model lists (JSON, see CallerContext.models): what the caller may use. */
  models?: string | undefined;
}

/** How much say an actor has over an entity's limits and blocks, lowest first. */
export const AUTHORITIES = ['owner', 'team_admin', 'proxy_admin'] as const;
export type Authority = (typeof AUTHORITIES)[number];
export const rank = (a: Authority): number => AUTHORITIES.indexOf(a);

export const iamActor: Actor = { principal: 'iam', role: 'proxy_admin' };

export const isProxyAdmin = (a: Actor): boolean => a.role === 'proxy_admin';

/** How the audit log names the actor: never a secret, only ids and `sk-...last4`. */
export function actorLabel(a: Actor): string {
  if (a.principal === 'iam') return 'iam';
  if (a.principal === 'master_key') return 'master_key';
  if (a.userId) return `user:${a.userId}`;
  if (a.keyName) return `key:${a.keyName}`;
  if (a.teamId) return `team:${a.teamId}`;
  return a.principal;
}
