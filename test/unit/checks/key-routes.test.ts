/**
 * A key's `allowed_routes`: the routes it may call, within what its role may. Every route of the
 * table is checked against the lists below, and a list compares with another as the set of routes
 * it covers (what authority-only-tightens needs).
 */
import { describe, expect, it } from 'vitest';
import { checkKeyRoutes, runChecks } from '../../../lib/checks/checks.js';
import { allowedRouteProblem, keyMayCallRoute, routesCovered } from '../../../lib/checks/route-access.js';
import { compareAllowed } from '../../../lib/domain/limits.js';
import { KeyRouteNotAllowedError } from '../../../lib/errors.js';
import { type RouteDef, routes } from '../../../lib/routes.js';
import { input, keyCaller, keyRecord, roleCaller } from './fixtures.js';

const limitable = routes.filter((r) => r.group !== 'public');
const paths = (list: readonly string[]) =>
  limitable
    .filter((r) => keyMayCallRoute(list, r))
    .map((r) => r.path)
    .sort();
const withRoutes = (allowed_routes: string[] | null) => keyCaller({ key: keyRecord({ user_id: 'u-1', allowed_routes }) });

describe('which routes a list covers', () => {
  it('an empty or absent list covers every route', () => {
    for (const list of [[], null, undefined]) expect(limitable.every((r) => keyMayCallRoute(list, r))).toBe(true);
  });

  it('public routes stay open to any list', () => {
    const health = routes.filter((r) => r.group === 'public');
    expect(health.length).toBeGreaterThan(0);
    for (const r of health) expect(keyMayCallRoute(['/key/info'], r)).toBe(true);
  });

  it('a path covers itself and its /v1 twin, nothing else', () => {
    expect(paths(['/v1/chat/completions'])).toEqual(['/chat/completions', '/v1/chat/completions']);
    expect(paths(['/chat/completions'])).toEqual(['/chat/completions', '/v1/chat/completions']);
    // `/completions` is a path of its own, not a suffix of `/chat/completions`.
    expect(paths(['/completions'])).toEqual(['/completions', '/v1/completions']);
  });

  it('a path covers the routes below it by whole segments only', () => {
    expect(paths(['/v1/files'])).toEqual(['/files', '/files/{proxy+}', '/v1/files', '/v1/files/{proxy+}']);
    expect(paths(['/key'])).toEqual(
      limitable
        .filter((r) => r.path.startsWith('/key/'))
        .map((r) => r.path)
        .sort(),
    );
    // `/team` does not cover `/team_x`-like siblings, and a trailing slash is the same path.
    expect(paths(['/team/'])).toEqual(paths(['/team']));
  });

  it('a trailing `*` is a plain prefix', () => {
    expect(paths(['/key/*'])).toEqual(paths(['/key']));
    expect(paths(['/model*'])).toEqual([
      '/model/delete',
      '/model/info',
      '/model/new',
      '/model/update',
      '/models',
      '/models/{model}',
      '/v1/model/info',
      '/v1/models',
      '/v1/models/{model}',
    ]);
  });

  it.each([
    ['llm', 'llm'],
    ['llm_api_routes', 'llm'],
    ['openai_routes', 'llm'],
    ['info', 'info'],
    ['info_routes', 'info'],
    ['management', 'management'],
    ['management_routes', 'management'],
  ])('the group name %s covers exactly the %s routes', (entry, group) => {
    expect(paths([entry])).toEqual(
      limitable
        .filter((r) => r.group === group)
        .map((r) => r.path)
        .sort(),
    );
  });

  it('every route of the table can be named on its own, and then only it (and its twin) is covered', () => {
    for (const r of limitable) {
      const covered = routesCovered([r.path]);
      expect(covered.has(r)).toBe(true);
      const others = [...covered].filter((o: RouteDef) => o !== r && o.path.replace(/^\/v1\//, '/') !== r.path.replace(/^\/v1\//, '/'));
      // A path with routes below it (`/files` over `/files/{proxy+}`) covers them too.
      for (const o of others) expect(o.path.replace(/^\/v1\//, '/').startsWith(`${r.path.replace(/^\/v1\//, '/')}/`)).toBe(true);
    }
  });
});

describe('what an entry may be', () => {
  it.each([
    ['', 'must be 1 to 200 characters'],
    ['x'.repeat(201), 'must be 1 to 200 characters'],
    ['chat/completions', 'must be a route group'],
    ['sk-1234567890abcdef', 'must be a route group'],
    ['LLM', 'must be a route group'],
    ['/v1/nothing', 'covers no route Tollgate serves'],
    ['/health', 'covers no route Tollgate serves'],
    ['public', 'covers no route Tollgate serves'],
    ['/v1/files/file-abc', 'covers no route Tollgate serves'],
    ['/chat/completions/x', 'covers no route Tollgate serves'],
  ])('%j is refused: %s', (entry, problem) => {
    expect(allowedRouteProblem(entry)).toContain(problem);
  });

  it.each(['llm', '/v1/chat/completions', '/key/*', '/v1/files', '/openai/deployments/{model}/chat/completions', '/'])(
    '%j is taken',
    (e) => {
      expect(allowedRouteProblem(e)).toBeUndefined();
    },
  );

  it('an entry never echoes what it was given (it may be a pasted secret)', () => {
    expect(allowedRouteProblem('sk-1234567890abcdef')).not.toContain('sk-');
  });
});

describe('the check', () => {
  it('denies a route outside the list with key_route_not_allowed, naming the key and the call', () => {
    const denial = runChecks(input({ method: 'POST', path: '/v1/chat/completions', caller: withRoutes(['/v1/embeddings']) }));
    expect(denial).toBeInstanceOf(KeyRouteNotAllowedError);
    expect(denial).toMatchObject({
      status: 403,
      type: 'permission_error',
      code: 'key_route_not_allowed',
      message: "key `sk-...abcd` may not call POST /v1/chat/completions: it is not in the key's `allowed_routes`",
    });
  });

  it('passes a route in the list, and any route for an empty or absent list', () => {
    expect(checkKeyRoutes(input({ method: 'POST', path: '/v1/embeddings', caller: withRoutes(['/embeddings']) }))).toBeUndefined();
    expect(checkKeyRoutes(input({ method: 'POST', path: '/v1/embeddings', caller: withRoutes([]) }))).toBeUndefined();
    expect(checkKeyRoutes(input({ method: 'POST', path: '/v1/embeddings', caller: withRoutes(null) }))).toBeUndefined();
  });

  it('narrows, never grants: an internal user key listing /team/new is still refused by its role', () => {
    const denial = runChecks(input({ method: 'POST', path: '/team/new', caller: withRoutes(['/team/new']) }));
    expect(denial?.code).toBe('route_not_allowed');
  });

  it('holds for a proxy admin key too', () => {
    const caller = keyCaller({ key: keyRecord({ user_id: 'u-1', allowed_routes: ['info'] }) }, { role: 'proxy_admin' });
    expect(runChecks(input({ method: 'POST', path: '/team/new', caller }))?.code).toBe('key_route_not_allowed');
    expect(runChecks(input({ method: 'GET', path: '/team/list', caller }))).toBeUndefined();
  });

  it('callers without a key (master key, JWT) are not checked', () => {
    expect(checkKeyRoutes(input({ method: 'POST', path: '/team/new', caller: roleCaller('master_key', 'proxy_admin') }))).toBeUndefined();
  });
});

describe('comparing two lists (authority only tightens)', () => {
  const cmp = (current: string[] | null, next: string[] | null) => compareAllowed(routesCovered(current), routesCovered(next));

  it.each<[string[] | null, string[] | null, string]>([
    [null, ['/v1/chat/completions'], 'tighter'],
    [[], ['llm'], 'tighter'],
    [['llm'], ['/v1/chat/completions', '/embeddings'], 'tighter'],
    [['/v1/files'], ['/files/*'], 'tighter'],
    [['llm'], ['llm_api_routes'], 'same'],
    [['/chat/completions'], ['/v1/chat/completions'], 'same'],
    [['/key/*'], ['/key'], 'same'],
    [['/v1/chat/completions'], null, 'looser'],
    [['/v1/chat/completions'], [], 'looser'],
    [['/v1/chat/completions'], ['/v1/chat/completions', '/v1/embeddings'], 'looser'],
    [['llm'], ['info'], 'looser'],
    [['/v1/files/{proxy+}'], ['/v1/files'], 'looser'],
  ])('%j -> %j is %s', (current, next, direction) => {
    expect(cmp(current, next)).toBe(direction);
  });
});
