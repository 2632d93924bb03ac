/**
 * Which enforcement mode a request runs in. A request is strict when its key, team or
 * organization says `strict`; when none of the three says anything, the proxy's default
 * (TOLLGATE_ENFORCEMENT) decides; an explicit `fast` with no `strict` beside it is fast. A strict
 * request reserves on every entity of its chain that has a budget (key, user, team, member,
 * organization, end user, proxy), so `strict` on an organization holds every request under it.
 */
import type { EnforcementMode, EntityState } from './records.js';

export function enforcementOf(state: Pick<EntityState, 'key' | 'team' | 'org'>, fallback: EnforcementMode): EnforcementMode {
  const said = [state.key?.enforcement, state.team?.enforcement, state.org?.enforcement].filter(
    (m): m is EnforcementMode => m === 'fast' || m === 'strict',
  );
  if (said.includes('strict')) return 'strict';
  return said.length > 0 ? 'fast' : fallback;
}
