/**
 * Who may do what to a key: pure rules over the key, the actor and the membership facts the
 * action loaded (lib/admin/membership). Each returns the denial, or undefined when allowed.
 *
 * Managing a key (generate, update, delete, block, unblock, regenerate), one rule for all: proxy
 * admins; an admin of the key's team, for team keys owned by nobody or by a member of the team;
 * an internal user, for their own keys (personal, or in a team they belong to). Reading adds the
 * key itself and a team JWT for its own team's keys.
 *
 * A key acts as its user everywhere, so only that user or a proxy admin may come to hold a key
 * of theirs. A block records the authority of whoever set it and is lifted only by as much.
 */
import type { Actor } from '../../domain/actor.js';
import { type Authority, isProxyAdmin, rank } from '../../domain/actor.js';
import type { KeyRecord, MemberRole } from '../../domain/records.js';
import { ForbiddenError } from '../../errors.js';

export { AUTHORITIES, type Authority, rank } from '../../domain/actor.js';

/** Whose a key is. */
export type Ownership = { user_id?: string | null | undefined; team_id?: string | null | undefined };

/** What the rules need to know about memberships, loaded by the action. */
export interface KeyFacts {
  /** The actor's role in the key's team; undefined when the actor is not a member (or there is no team). */
  actorTeamRole?: MemberRole | undefined;
  /** Whether the key's user is a member of the key's team. */
  ownerIsMember?: boolean | undefined;
}

/** The one rule for writing a key. */
export function keyManagerDenial(actor: Actor, k: Ownership, facts: KeyFacts, what: string): ForbiddenError | undefined {
  if (isProxyAdmin(actor)) return undefined;
  if (actor.role !== 'internal_user' || !actor.userId) {
    return new ForbiddenError(
      `role \`${actor.role}\`${actor.userId ? '' : ' without a user'} may not ${what}: keys are written by proxy admins, team admins and their own internal users`,
    );
  }
  const teamId = k.team_id ?? undefined;
  const userId = k.user_id ?? undefined;
  if (teamId) {
    if (facts.actorTeamRole === 'admin') {
      if (!userId || userId === actor.userId || facts.ownerIsMember) return undefined;
      return new ForbiddenError(
        `an admin of team \`${teamId}\` may ${what} only for members of the team, and user \`${userId}\` is not one`,
      );
    }
    if (facts.actorTeamRole === 'user' && userId === actor.userId) return undefined;
    return new ForbiddenError(
      `only a proxy admin, an admin of team \`${teamId}\` or the key's own user (a member of the team) may ${what}`,
    );
  }
  if (userId === actor.userId) return undefined;
  return new ForbiddenError(
    `only a proxy admin${userId ? ` or user \`${userId}\`` : ''} may ${what} (a personal key is managed by its own user)`,
  );
}

/** The actor's authority over a key it may manage. */
export const authorityOver = (actor: Actor, facts: KeyFacts): Authority =>
  isProxyAdmin(actor) ? 'proxy_admin' : facts.actorTeamRole === 'admin' ? 'team_admin' : 'owner';

/** A key acts as its user: only that user or a proxy admin may come to hold one. */
export function holdKeyDenial(actor: Actor, userId: string | null | undefined, what: string): ForbiddenError | undefined {
  if (!userId || isProxyAdmin(actor) || userId === actor.userId) return undefined;
  return new ForbiddenError(
    `only a proxy admin or user \`${userId}\` may ${what}: the key acts as user \`${userId}\`, so only they may hold it`,
  );
}

/** Lifting a block needs as much authority as set it; a block of unknown origin is a proxy admin's. */
export function unblockDenial(
  authority: Authority,
  k: Pick<KeyRecord, 'blocked' | 'key_name'> & { blocked_by?: Authority | null | undefined },
): ForbiddenError | undefined {
  if (!k.blocked) return undefined;
  const by = k.blocked_by ?? 'proxy_admin';
  if (rank(authority) >= rank(by)) return undefined;
  return new ForbiddenError(
    `only a ${by === 'proxy_admin' ? 'proxy admin' : 'proxy admin or an admin of its team'} may unblock key \`${k.key_name}\`: it was blocked by one`,
  );
}

/** A blocked key keeps the highest authority that blocked it. */
export const blockerAfter = (
  authority: Authority,
  k: { blocked?: boolean | undefined; blocked_by?: Authority | null | undefined },
): Authority => (k.blocked && rank(k.blocked_by ?? 'proxy_admin') > rank(authority) ? (k.blocked_by ?? 'proxy_admin') : authority);

/**
 * Who reads every key of a team (a listing, /team/info): proxy admins, the team's JWT and the
 * team's admins. Any other member reads only their own there, as keyReaderDenial has it.
 */
export function readsEveryTeamKey(actor: Actor, teamId: string, actorTeamRole: MemberRole | undefined): boolean {
  if (isProxyAdmin(actor)) return true;
  if (actor.role === 'team') return actor.teamId === teamId;
  return actor.role === 'internal_user' && actorTeamRole === 'admin';
}

/** Who may read a key: proxy admins, its user, the key itself, a team JWT or a team admin of its team. */
export function keyReaderDenial(
  actor: Actor,
  k: Pick<KeyRecord, 'token' | 'key_name' | 'user_id' | 'team_id'>,
  facts: KeyFacts,
): ForbiddenError | undefined {
  if (isProxyAdmin(actor)) return undefined;
  if (actor.keyHash === k.token) return undefined;
  if (actor.userId && k.user_id === actor.userId) return undefined;
  if (k.team_id && readsEveryTeamKey(actor, k.team_id, facts.actorTeamRole)) return undefined;
  return new ForbiddenError(
    `only a proxy admin, the key's own user, an admin of its team or the key itself may read key \`${k.key_name}\``,
  );
}
