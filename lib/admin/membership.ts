/**
 * The membership facts the admin rules (lib/admin/rules) decide on, read through the
 * persistence port. The authorizer already kept non-admins away from admin-only routes.
 */
import type { MemberRole } from '../domain/records.js';
import { find } from './persistence.js';
import { type Actor, isProxyAdmin } from './rules/actor.js';
import type { KeyFacts, Ownership } from './rules/keys.js';

/** The actor's role in a team (undefined: not a member, or no user to be one). */
export async function memberRole(actor: Actor, teamId: string | null | undefined): Promise<MemberRole | undefined> {
  if (!actor.userId || !teamId) return undefined;
  return (await find('team_member', teamId, actor.userId))?.role;
}

export async function isTeamAdmin(actor: Actor, teamId: string | null | undefined): Promise<boolean> {
  return (await memberRole(actor, teamId)) === 'admin';
}

/** What the key rules need: the actor's role in the key's team and, for a team admin, whether the key's user is a member. */
export async function keyFacts(actor: Actor, k: Ownership): Promise<KeyFacts> {
  if (isProxyAdmin(actor)) return {};
  const teamId = k.team_id ?? undefined;
  const userId = k.user_id ?? undefined;
  const actorTeamRole = await memberRole(actor, teamId);
  const ownerIsMember =
    actorTeamRole === 'admin' && teamId && userId && userId !== actor.userId
      ? (await find('team_member', teamId, userId)) !== undefined
      : undefined;
  return { actorTeamRole, ownerIsMember };
}
