/** Who may manage and read a team: pure rules over the actor and its role in the team. */
import { type Actor, isProxyAdmin } from '../../domain/actor.js';
import type { MemberRole } from '../../domain/records.js';
import { ForbiddenError } from '../../errors.js';

/** Proxy admins, and internal users who are admins of the team. */
export function teamManagerDenial(
  actor: Actor,
  teamId: string,
  actorTeamRole: MemberRole | undefined,
  what: string,
): ForbiddenError | undefined {
  if (isProxyAdmin(actor)) return undefined;
  if (actor.role === 'internal_user' && actorTeamRole === 'admin') return undefined;
  return new ForbiddenError(`only a proxy admin or an admin of team \`${teamId}\` may ${what}`);
}

/** Proxy admins, the team's own JWT, and the team's members. */
export function teamReaderDenial(actor: Actor, teamId: string, actorTeamRole: MemberRole | undefined): ForbiddenError | undefined {
  if (isProxyAdmin(actor)) return undefined;
  if (actor.role === 'team' && actor.teamId === teamId) return undefined;
  if (actor.userId && actorTeamRole) return undefined;
  return new ForbiddenError(`only a proxy admin or a member of team \`${teamId}\` may read it`);
}

/** Proxy admins, or the user themself. */
export function selfOrAdminDenial(actor: Actor, userId: string, what: string): ForbiddenError | undefined {
  if (isProxyAdmin(actor) || (actor.userId !== undefined && actor.userId === userId)) return undefined;
  return new ForbiddenError(`only a proxy admin or user \`${userId}\` may ${what}`);
}
