/** Route permission by role, as a matrix: each role against each route group. */
import { describe, expect, it } from 'vitest';
import { checkSettings } from '../../../lib/app/wiring.js';
import { checkRouteAllowed } from '../../../lib/checks/checks.js';
import { canCallRoute, type RouteAccessSettings } from '../../../lib/checks/route-access.js';
import { parseConfig } from '../../../lib/config.js';
import type { Caller } from '../../../lib/domain/caller.js';
import { RouteNotAllowedError } from '../../../lib/errors.js';
import { type HttpMethod, routes } from '../../../lib/routes.js';
import { defaultSettings, input, roleCaller } from './fixtures.js';

const columns = {
  llm: ['POST', '/chat/completions'],
  'llm /v1': ['POST', '/v1/chat/completions'],
  info: ['GET', '/key/info'],
  'management, self-service': ['POST', '/key/generate'],
  management: ['POST', '/team/new'],
  public: ['GET', '/health'],
} as const satisfies Record<string, readonly [HttpMethod, string]>;
type Column = keyof typeof columns;
const COLUMNS = Object.keys(columns) as Column[];

interface Row {
  who: string;
  caller: Caller;
  settings?: Partial<RouteAccessSettings>;
  /** Y = allowed, N = denied, in the order of COLUMNS. */
  expect: string;
}

// prettier-ignore
const matrix: Row[] = [
  //                                                                                                                   llm  v1  info self mgmt pub
  { who: 'proxy_admin via the master key', caller: roleCaller('master_key', 'proxy_admin'), expect: 'Y    Y   Y    Y    Y    Y' },
  { who: 'proxy_admin via a virtual key', caller: roleCaller('virtual_key', 'proxy_admin'), expect: 'Y    Y   Y    Y    Y    Y' },
  { who: 'JWT admin, default routes', caller: roleCaller('jwt', 'proxy_admin'), expect: 'N    N   Y    Y    Y    Y' },
  {
    who: 'JWT admin, routes llm+management+info',
    caller: roleCaller('jwt', 'proxy_admin'),
    settings: { jwtAdminRoutes: ['llm', 'management', 'info'] },
    expect: 'Y    Y   Y    Y    Y    Y',
  },
  {
    who: 'JWT admin, routes info + one path',
    caller: roleCaller('jwt', 'proxy_admin'),
    settings: { jwtAdminRoutes: ['info', '/v1/chat/completions'] },
    // A path and its /v1 twin are one route.
    expect: 'Y    Y   Y    N    N    Y',
  },
  { who: 'internal_user via a virtual key', caller: roleCaller('virtual_key', 'internal_user'), expect: 'Y    Y   Y    Y    N    Y' },
  { who: 'internal_user via a JWT', caller: roleCaller('jwt', 'internal_user'), expect: 'Y    Y   Y    Y    N    Y' },
  { who: 'internal_user_viewer', caller: roleCaller('virtual_key', 'internal_user_viewer'), expect: 'N    N   Y    N    N    Y' },
  { who: 'team JWT, default routes', caller: roleCaller('jwt', 'team'), expect: 'Y    Y   Y    N    N    Y' },
  {
    who: 'team JWT, routes one path only',
    caller: roleCaller('jwt', 'team'),
    settings: { jwtTeamRoutes: ['/v1/chat/completions'] },
    expect: 'Y    Y   N    N    N    Y',
  },
  {
    who: 'team JWT, routes management',
    caller: roleCaller('jwt', 'team'),
    settings: { jwtTeamRoutes: ['management'] },
    expect: 'N    N   N    Y    Y    Y',
  },
];

describe('route permission matrix', () => {
  const cells = matrix.flatMap((row) => {
    const marks = row.expect.split(/\s+/);
    return COLUMNS.map((col, i) => ({ row, col, allowed: marks[i] === 'Y' }));
  });

  it('every row has a mark for every column', () => {
    for (const row of matrix) expect(row.expect.split(/\s+/)).toHaveLength(COLUMNS.length);
  });

  it.each(cells.map((c) => [c.row.who, c.col, c.allowed ? 'allowed' : 'denied', c] as const))(
    '%s -> %s: %s',
    (_w, _c, _a, { row, col, allowed }) => {
      const [method, path] = columns[col];
      const denial = checkRouteAllowed(input({ method, path, caller: row.caller, settings: row.settings }));
      if (allowed) {
        expect(denial).toBeUndefined();
      } else {
        expect(denial).toBeInstanceOf(RouteNotAllowedError);
        expect(denial).toMatchObject({ status: 403, type: 'permission_error', code: 'route_not_allowed' });
        expect(denial?.message).toBe(`role \`${row.caller.role}\` may not call ${method} ${path}`);
      }
    },
  );
});

describe('route permission over the whole route table', () => {
  const s = defaultSettings();
  const can = (c: Caller, r: (typeof routes)[number]) => canCallRoute(c, r, s);

  it('the master key reaches every route', () => {
    expect(routes.filter((r) => !can(roleCaller('master_key', 'proxy_admin'), r))).toEqual([]);
  });

  it('public routes are reached by every role', () => {
    for (const r of routes.filter((r) => r.group === 'public')) {
      for (const role of ['proxy_admin', 'internal_user', 'internal_user_viewer', 'team'] as const)
        expect(can(roleCaller('jwt', role), r)).toBe(true);
    }
  });

  it('a non-admin never reaches a management route that is not self-service', () => {
    const adminOnly = routes.filter((r) => r.group === 'management' && !r.selfService);
    expect(adminOnly.length).toBeGreaterThan(20);
    for (const role of ['internal_user', 'internal_user_viewer', 'team'] as const) {
      expect(adminOnly.filter((r) => can(roleCaller('virtual_key', role), r)).map((r) => r.path)).toEqual([]);
    }
  });

  it('an internal user reaches exactly these management routes (own keys, teams it administers)', () => {
    const reached = routes.filter((r) => r.group === 'management' && can(roleCaller('virtual_key', 'internal_user'), r)).map((r) => r.path);
    expect(reached.sort()).toEqual(
      [
        '/key/generate',
        '/key/update',
        '/key/delete',
        '/key/regenerate',
        '/key/block',
        '/key/unblock',
        '/team/update',
        '/team/member_add',
        '/team/member_delete',
        '/team/member_update',
      ].sort(),
    );
  });

  it('a viewer reaches info and public routes only', () => {
    const reached = new Set(routes.filter((r) => can(roleCaller('virtual_key', 'internal_user_viewer'), r)).map((r) => r.group));
    expect([...reached].sort()).toEqual(['info', 'public']);
  });

  it('a JWT route list may name a parameterised route by its pattern', () => {
    const azure = routes.find((r) => r.path === '/openai/deployments/{model}/chat/completions')!;
    expect(canCallRoute(roleCaller('jwt', 'team'), azure, { ...s, jwtTeamRoutes: ['/openai/deployments/{model}/chat/completions'] })).toBe(
      true,
    );
    expect(canCallRoute(roleCaller('jwt', 'team'), azure, { ...s, jwtTeamRoutes: ['/openai/deployments/gpt-4o/chat/completions'] })).toBe(
      false,
    );
  });

  it('an empty JWT route list reaches public routes only', () => {
    const none = { jwtTeamRoutes: [], jwtAdminRoutes: [] };
    for (const r of routes) {
      expect(canCallRoute(roleCaller('jwt', 'team'), r, none)).toBe(r.group === 'public');
      expect(canCallRoute(roleCaller('jwt', 'proxy_admin'), r, none)).toBe(r.group === 'public');
    }
  });
});

describe('a JWT route list names only groups and routes (found by review)', () => {
  it('reads as LiteLLM’s JWT route lists: its group names, exact paths (a /v1 twin is the same route) and a trailing *', () => {
    const team = roleCaller('jwt', 'team');
    const covered = (jwtTeamRoutes: string[]) =>
      routes.filter((r) => r.group !== 'public' && canCallRoute(team, r, { jwtTeamRoutes, jwtAdminRoutes: [] })).map((r) => r.path);
    expect(covered(['openai_routes', 'info_routes'])).toEqual(covered(['llm', 'info']));
    expect(covered(['/v1/chat/completions/'])).toEqual(['/chat/completions', '/v1/chat/completions']);
    // Exact: a path does not reach the routes below it (a key's allowed_routes does), `*` does.
    expect(covered(['/v1/threads'])).toEqual(['/threads', '/v1/threads']);
    expect(covered(['/global/spend'])).toEqual(['/global/spend']);
    expect(covered(['/key/*']).length).toBe(routes.filter((r) => r.path.startsWith('/key/')).length);
  });

  const settingsOf = (env: Record<string, string>) => checkSettings(parseConfig({ TOLLGATE_TABLE_NAME: 't', ...env }));

  it.each([
    ['a typo of a group', 'llm,infos'],
    ['a group in another case', 'LLM'],
    ['a path not in the table', '/chat/completion'],
    ['a path below a route', '/v1/chat/completions/x'],
    ['a path above routes (exact, not a prefix)', '/key'],
    ['a concrete path of a parameterised route', '/openai/deployments/gpt-4o/chat/completions'],
    ['a path in another case', '/Key/Generate'],
  ])('%s is a configuration error, never a list that silently allows nothing', (_what, list) => {
    expect(() => settingsOf({ TOLLGATE_JWT_TEAM_ROUTES: list })).toThrow(/TOLLGATE_JWT_TEAM_ROUTES names no route group/);
    expect(() => settingsOf({ TOLLGATE_JWT_ADMIN_ROUTES: list })).toThrow(/TOLLGATE_JWT_ADMIN_ROUTES names no route group/);
  });

  it('every group (LiteLLM’s names too) and every route path of the table is accepted', () => {
    const groups = ['llm', 'info', 'management', 'public', 'openai_routes', 'llm_api_routes', 'info_routes', 'management_routes'];
    const all = [...groups, ...routes.map((r) => r.path)].join(',');
    const s = settingsOf({ TOLLGATE_JWT_TEAM_ROUTES: all, TOLLGATE_JWT_ADMIN_ROUTES: all });
    expect(s.jwtTeamRoutes).toContain('/openai/deployments/{model}/chat/completions');
  });
});
