/**
 * Authority only tightens: an entity's limits record the highest authority that set them
 * (`limits_set_by`); an actor with less may make each limit stricter, never looser. Entities
 * made before limits recorded their setter count as set by a proxy admin (the safe side).
 */

import { type Authority, rank } from '../../domain/actor.js';
import { type Direction, loosened } from '../../domain/limits.js';
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
