/**
 * Membership facts the entity actions build their rules on (lib/admin/keys.ts and teams.ts hold
 * the rules themselves). The authorizer already kept non-admins away from admin-only routes.
 */
import { ForbiddenError } from '../errors.js';
import type { MemberRecord } from '../domain/records.js';
import { refs } from '../store/keys.js';
import { isProxyAdmin, type Actor } from './rules/actor.js';
import { find } from './persistence.js';

export async function memberRole(actor: Actor, teamId: string): Promise<MemberRecord['role'] | undefined> {
  if (!actor.userId) return undefined;
  return (await find('team_member', teamId, actor.userId))?.role;
}

export async function isTeamAdmin(actor: Actor, teamId: string | null | undefined): Promise<boolean> {
  if (!teamId) return false;
  return (await memberRole(actor, teamId)) === 'admin';
}

/** Proxy admins, or the user themself. */
export function requireSelfOrAdmin(actor: Actor, userId: string, what: string): void {
  if (isProxyAdmin(actor) || (actor.userId !== undefined && actor.userId === userId)) return;
  throw new ForbiddenError(`only a proxy admin or user \`${userId}\` may ${what}`);
}
