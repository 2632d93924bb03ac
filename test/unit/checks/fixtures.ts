/** Plain-data builders for the pure checks: one caller, one route, one moment. */

import type { CheckInput, CheckSettings } from '../../../lib/checks/checks.js';
import type { Caller, Principal, Role } from '../../../lib/domain/caller.js';
import type { EndUserRecord, KeyRecord, MemberRecord, OrgRecord, TeamRecord, UserRecord } from '../../../lib/domain/records.js';
import { type HttpMethod, matchRoute, type RouteDef } from '../../../lib/routes.js';

/** Saturday 2026-11-28, 12:00 UTC. */
export const NOW = Date.parse('2026-11-28T12:00:00.000Z');
export const CREATED = '2026-01-01T00:00:00.000Z';
export const KEY_NAME = 'sk-...abcd';

export function routeFor(method: HttpMethod, path: string): RouteDef {
  const hit = matchRoute(method, path);
  if (!hit) throw new Error(`fixture: no route for ${method} ${path}`);
  return hit.route;
}

export const defaultSettings = (over: Partial<CheckSettings> = {}): CheckSettings => ({
  enforceUserParam: false,
  jwtTeamRoutes: ['llm', 'info'],
  jwtAdminRoutes: ['management', 'info'],
  ...over,
});

export const keyRecord = (f: Partial<KeyRecord> = {}): KeyRecord => ({
  token: 'a'.repeat(64),
  key_name: KEY_NAME,
  created_at: CREATED,
  spend: 0,
  ...f,
});
export const userRecord = (f: Partial<UserRecord> = {}): UserRecord => ({
  user_id: 'u-1',
  user_role: 'internal_user',
  created_at: CREATED,
  spend: 0,
  ...f,
});
export const teamRecord = (f: Partial<TeamRecord> = {}): TeamRecord => ({ team_id: 't-1', created_at: CREATED, spend: 0, ...f });
export const memberRecord = (f: Partial<MemberRecord> = {}): MemberRecord => ({
  team_id: 't-1',
  user_id: 'u-1',
  role: 'user',
  created_at: CREATED,
  spend: 0,
  ...f,
});
export const orgRecord = (f: Partial<OrgRecord> = {}): OrgRecord => ({ organization_id: 'o-1', created_at: CREATED, spend: 0, ...f });
export const endUserRecord = (f: Partial<EndUserRecord> = {}): EndUserRecord => ({ user_id: 'eu-1', created_at: CREATED, spend: 0, ...f });

/**
 * A virtual key of user `u-1`, personal (no team) unless the state holds a team; then `u-1` is a
 * member of it unless the state says `member` itself (undefined: not a member).
 */
export function keyCaller(state: Caller['state'] = {}, over: Partial<Caller> = {}): Caller {
  const key = state.key ?? keyRecord({ user_id: 'u-1', team_id: state.team?.team_id ?? null });
  if (state.team && !('member' in state) && key.user_id)
    state = { ...state, member: memberRecord({ team_id: state.team.team_id, user_id: key.user_id }) };
  return {
    principal: 'virtual_key',
    role: 'internal_user',
    userId: 'u-1',
    teamId: state.team?.team_id,
    orgId: state.org?.organization_id,
    keyHash: key.token,
    keyName: key.key_name,
    ...over,
    state: { ...state, key },
  };
}

export const roleCaller = (principal: Principal, role: Role): Caller => ({ principal, role, state: {} });

export interface InputOptions {
  method?: HttpMethod;
  path?: string;
  caller?: Caller;
  settings?: Partial<CheckSettings>;
  pathModel?: string;
  body?: CheckInput['body'];
  catalog?: CheckInput['catalog'];
  now?: number;
}

/** A request at NOW; POST /chat/completions by a personal key unless told otherwise. */
export function input(o: InputOptions = {}): CheckInput {
  const method = o.method ?? 'POST';
  const path = o.path ?? '/chat/completions';
  return {
    now: o.now ?? NOW,
    method,
    path,
    route: routeFor(method, path),
    caller: o.caller ?? keyCaller(),
    settings: defaultSettings(o.settings),
    pathModel: o.pathModel,
    body: o.body,
    catalog: o.catalog,
  };
}
