/**
 * Who may do what beyond route groups (the authorizer already kept non-admins away from
 * admin-only routes): proxy admins everything; a team admin (member role `admin`) that team's
 * members and keys; an internal user their own keys and their own info.
 */
import { ForbiddenError } from '../errors.js';
import type { KeyRecord, MemberRecord } from '../model.js';
import { refs } from '../store/keys.js';
import { isProxyAdmin, type Actor } from './actor.js';
import { getRecord } from './store.js';

export async function memberRole(actor: Actor, teamId: string): Promise<MemberRecord['role'] | undefined> {
  if (!actor.userId) return undefined;
  return (await getRecord<MemberRecord>(refs.member(teamId, actor.userId)))?.role;
}

export async function isTeamAdmin(actor: Actor, teamId: string | null | undefined): Promise<boolean> {
  if (!teamId) return false;
  return (await memberRole(actor, teamId)) === 'admin';
}

/** Proxy admins, and admins of the team. */
export async function requireTeamAdmin(actor: Actor, teamId: string, what: string): Promise<void> {
  if (isProxyAdmin(actor)) return;
  if (await isTeamAdmin(actor, teamId)) return;
  throw new ForbiddenError(`only a proxy admin or an admin of team \`${teamId}\` may ${what}`);
}

/** Proxy admins; the key's own user; admins of the key's team. */
export async function canManageKey(actor: Actor, key: Pick<KeyRecord, 'user_id' | 'team_id'>): Promise<boolean> {
  if (isProxyAdmin(actor)) return true;
  if (actor.userId && key.user_id === actor.userId && actor.role === 'internal_user') return true;
  return isTeamAdmin(actor, key.team_id);
}

/** Proxy admins, or the user themself. */
export function requireSelfOrAdmin(actor: Actor, userId: string, what: string): void {
  if (isProxyAdmin(actor) || (actor.userId !== undefined && actor.userId === userId)) return;
  throw new ForbiddenError(`only a proxy admin or user \`${userId}\` may ${what}`);
}
