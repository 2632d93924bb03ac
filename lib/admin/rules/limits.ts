/**
 * Authority only tightens: an entity's limits record the highest authority that set them
 * (`limits_set_by`); an actor with less may make each limit stricter, never looser. Entities
 * made before limits recorded their setter count as set by a proxy admin (the safe side).
 */

import { type Authority, rank } from '../../domain/actor.js';
import { compareThresholds, type Direction, loosened } from '../../domain/limits.js';
import type { EnforcementMode, MemberRecord, UserRecord } from '../../domain/records.js';
import { ForbiddenError } from '../../errors.js';

/** Who counts as having set limits that do not say. */
export const setterOf = (setBy: Authority | null | undefined): Authority => setBy ?? 'proxy_admin';

const label: Record<Authority, string> = { owner: 'its owner', team_admin: 'a team admin', proxy_admin: 'a proxy admin' };

/**
 * The denial when an actor with `authority` loosens a limit that one with more set; undefined
 * when the change is allowed. `what` names the entity: "key `sk-...abcd`".
 */
export function limitsDenial(
  authority: Authority,
  setBy: Authority | null | undefined,
  what: string,
  directions: Readonly<Record<string, Direction>>,
): ForbiddenError | undefined {
  const setter = setterOf(setBy);
  if (rank(authority) >= rank(setter)) return undefined;
  const fields = loosened(directions);
  if (fields.length === 0) return undefined;
  return new ForbiddenError(
    `the limits of ${what} were set by ${label[setter]}: ${label[authority]} may only make them stricter, and this change loosens ${fields.map((f) => `\`${f}\``).join(', ')}`,
  );
}

/** Who has set the limits after a change: the higher of who had and who changed any. */
export function setterAfter(
  authority: Authority,
  setBy: Authority | null | undefined,
  directions: Readonly<Record<string, Direction>>,
): Authority {
  const changed = Object.values(directions).some((d) => d !== 'same');
  const setter = setterOf(setBy);
  return changed && rank(authority) > rank(setter) ? authority : setter;
}

/** Who has at least `setter`'s authority, for messages. */
const atLeast: Record<Authority, string> = {
  owner: 'whoever manages it',
  team_admin: 'a proxy admin or a team admin',
  proxy_admin: 'a proxy admin',
};

/**
 * The denial when an actor with `authority` would drop, whole, limits one with more set (removing
 * a team member, moving a key out from under the member or user whose limits governed it): the
 * limits would stop applying, the loosest change there is. Undefined when none of `values` is set
 * (null, undefined and an empty list are no limit) or the actor has as much authority as the setter.
 * `what` names the entity, `how` the change: "remove them".
 */
export function dropLimitsDenial(
  authority: Authority,
  setBy: Authority | null | undefined,
  values: readonly unknown[],
  what: string,
  how: string,
): ForbiddenError | undefined {
  const setter = setterOf(setBy);
  if (rank(authority) >= rank(setter) || !anySet(values)) return undefined;
  return new ForbiddenError(
    `${what} has limits ${label[setter]} set: only ${atLeast[setter]} may ${how} (${label[authority]} may only make them stricter)`,
  );
}

/** Whether any of `values` is a limit: null, undefined and an empty list are none. */
const anySet = (values: readonly unknown[]): boolean =>
  values.some((v) => v !== null && v !== undefined && !(Array.isArray(v) && v.length === 0));

/**
 * A team admin's authority is over one team, so limits one set bind whoever has less over that
 * team: moved out of it, the key's limits would be judged by another team's admins (or by its
 * owner alone), and could be loosened there. Moving a key with limits a team admin set therefore
 * needs a proxy admin or an admin of the key's team (`teamId`; none: a personal key, a proxy
 * admin). A proxy admin's limits bind in every team and an owner's bind nobody, so neither is
 * judged here. `what` names the key.
 */
export function teamLimitsMoveDenial(
  authority: Authority,
  setBy: Authority | null | undefined,
  values: readonly unknown[],
  what: string,
  teamId: string | null,
): ForbiddenError | undefined {
  if (setterOf(setBy) !== 'team_admin' || rank(authority) >= rank('team_admin') || !anySet(values)) return undefined;
  const setter = teamId ? `an admin of team \`${teamId}\`` : 'a team admin';
  const mover = teamId ? `a proxy admin or an admin of team \`${teamId}\`` : 'a proxy admin';
  return new ForbiddenError(
    `the limits of ${what} were set by ${setter}: only ${mover} may move it to another team (${label[authority]} may only make them stricter)`,
  );
}

/** A team member's limits: its budget in the team and its rate limits. */
export const memberLimits = (m: MemberRecord): unknown[] => [m.max_budget, m.rpm_limit, m.tpm_limit, m.max_parallel_requests];

/**
 * A user's limits that govern a key of theirs: rate limits always; budget and models only on a
 * personal key (inside a team the member's budget and the team's models govern instead). Only a
 * proxy admin sets a user's limits.
 */
export const userLimits = (u: UserRecord, personal: boolean): unknown[] => [
  u.rpm_limit,
  u.tpm_limit,
  u.max_parallel_requests,
  ...(personal ? personalUserLimits(u) : []),
];

/**
 * A user's limits that stop governing them inside a team (lib/domain/chain: the user's counters
 * are in a personal call's chain only): their budget, their soft budget (its alert judges those
 * counters) and models. Joining a team, a user leaves them for the calls they make there. Their
 * alert thresholds are fractions of the budget, so they go with it.
 */
export const personalUserLimits = (u: UserRecord): unknown[] => [u.max_budget, u.soft_budget, u.models];

/**
 * A key's `fast` makes its requests fast unless its team or organization says `strict`
 * (lib/domain/enforcement): while the proxy runs strict (TOLLGATE_ENFORCEMENT, a proxy admin's
 * setting), that loosens the proxy's default, so only a proxy admin names it. `what` names the key.
 */
export function fastKeyDenial(
  authority: Authority,
  mode: string | null | undefined,
  proxyDefault: EnforcementMode,
  what: string,
): ForbiddenError | undefined {
  if (mode !== 'fast' || proxyDefault !== 'strict' || authority === 'proxy_admin') return undefined;
  return new ForbiddenError(
    `the proxy enforces budgets strictly (TOLLGATE_ENFORCEMENT=strict): only a proxy admin may make ${what} \`fast\`, which would let its calls spend past their budgets`,
  );
}

/**
 * A key is alerted at least at the proxy's thresholds (TOLLGATE_ALERT_THRESHOLDS, a proxy
 * admin's): less authority may add thresholds to them, never drop one, whether the key has no
 * list yet or holds one less authority set (found by review: a list made a superset first could
 * then drop the proxy's). A list a proxy admin set on the key is judged by limitsDenial. `setBy`:
 * who set the key's limits; `what` names the key.
 */
export function proxyThresholdsDenial(
  authority: Authority,
  setBy: Authority | null | undefined,
  current: readonly number[] | null | undefined,
  next: readonly number[] | null | undefined,
  proxy: readonly number[],
  what: string,
): ForbiddenError | undefined {
  if (authority === 'proxy_admin' || next === undefined) return undefined;
  if (current !== null && current !== undefined && setterOf(setBy) === 'proxy_admin') return undefined;
  if (compareThresholds(undefined, next, proxy) !== 'looser') return undefined;
  return new ForbiddenError(
    `${what} is alerted at the proxy's thresholds (${proxy.join(', ')}%), a proxy admin's setting: ${label[authority]} may add thresholds, never drop one`,
  );
}
