/**
 * Route permission by role. Groups come from lib/routes. A JWT's allowed routes are
 * configurable (TOLLGATE_JWT_TEAM_ROUTES, TOLLGATE_JWT_ADMIN_ROUTES) as group names or paths.
 */

import type { Caller } from '../domain/caller.js';
import { type RouteDef, type RouteGroup, routes } from '../routes.js';

export interface RouteAccessSettings {
  jwtTeamRoutes: readonly string[];
  jwtAdminRoutes: readonly string[];
}

const listed = (allowed: readonly string[], route: RouteDef): boolean => allowed.includes(route.group) || allowed.includes(route.path);

export function canCallRoute(caller: Pick<Caller, 'principal' | 'role'>, route: RouteDef, settings: RouteAccessSettings): boolean {
  if (route.group === 'public') return true;
  switch (caller.role) {
    case 'proxy_admin':
      // The master key and admin users reach everything; an admin JWT reaches what is configured.
      return caller.principal === 'jwt' ? listed(settings.jwtAdminRoutes, route) : true;
    case 'team':
      return listed(settings.jwtTeamRoutes, route);
    case 'internal_user':
      return route.group === 'llm' || route.group === 'info' || (route.group === 'management' && route.selfService === true);
    case 'internal_user_viewer':
      return route.group === 'info';
  }
}

/**
 * A key's `allowed_routes` (LiteLLM's field): the routes the key may call, within what its role
 * may (a narrowing, never a grant: LiteLLM lets the list open management routes to a non-admin's
 * key, Tollgate does not). An entry is a group (`llm`, `info`, `management`, or LiteLLM's
 * `llm_api_routes`, `openai_routes`, `info_routes`, `management_routes`), or a path of the route
 * table: exactly, or as a prefix of whole segments (`/v1/files` covers `/v1/files/{proxy+}`), or
 * ending in `*` as a plain prefix (`/key/*`). An LLM path and its `/v1` twin are one route.
 * Entries are read against the route table, so a list is a set of routes: two lists compare as sets.
 */
const ALLOWED_ROUTE_GROUPS: ReadonlyMap<string, RouteGroup> = new Map([
  ['llm', 'llm'],
  ['llm_api_routes', 'llm'],
  ['openai_routes', 'llm'],
  ['info', 'info'],
  ['info_routes', 'info'],
  ['management', 'management'],
  ['management_routes', 'management'],
]);

/** The most entries a key's `allowed_routes` holds, and the longest entry. */
export const MAX_ALLOWED_ROUTES = 100;
export const MAX_ROUTE_ENTRY = 200;

const resources = new Set(routes.map((r) => r.path));
/** A route's path and, for a route with a `/v1` twin in the table, the twin's. */
const formsOf = (path: string): string[] => {
  const twin = path.startsWith('/v1/') ? path.slice(3) : `/v1${path}`;
  return resources.has(twin) ? [path, twin] : [path];
};

function pathCovers(entry: string, path: string): boolean {
  if (entry.endsWith('*')) return path.startsWith(entry.slice(0, -1));
  // `/` (nothing left once trailing slashes go) is the prefix of every path.
  const e = entry.replace(/\/+$/, '');
  return e === '' || path === e || path.startsWith(`${e}/`);
}

/** Whether one entry of an `allowed_routes` list covers a route of the table. */
export function routeEntryCovers(entry: string, route: RouteDef): boolean {
  const group = ALLOWED_ROUTE_GROUPS.get(entry);
  if (group !== undefined) return route.group === group;
  return entry.startsWith('/') && formsOf(route.path).some((p) => pathCovers(entry, p));
}

/** The routes a key may be limited to: every route but the public ones (always open). */
const limitable: readonly RouteDef[] = routes.filter((r) => r.group !== 'public');

/** The table's routes a list covers; an empty or absent list covers them all. */
export function routesCovered(list: readonly string[] | null | undefined): Set<RouteDef> {
  if (!list || list.length === 0) return new Set(limitable);
  return new Set(limitable.filter((r) => list.some((e) => routeEntryCovers(e, r))));
}

/** Why an entry cannot be taken (it is neither a group nor a path, or covers no route), else undefined. */
export function routeEntryProblem(entry: string): string | undefined {
  if (entry.length === 0 || entry.length > MAX_ROUTE_ENTRY) return `must be 1 to ${MAX_ROUTE_ENTRY} characters`;
  if (!ALLOWED_ROUTE_GROUPS.has(entry) && !entry.startsWith('/'))
    return `must be a route group (${[...ALLOWED_ROUTE_GROUPS.keys()].join(', ')}) or a path starting with \`/\``;
  if (!limitable.some((r) => routeEntryCovers(entry, r))) return 'covers no route Tollgate serves';
  return undefined;
}

/** Whether a key may call a route by its `allowed_routes` (an empty or absent list: any route its role may). */
export function keyMayCallRoute(allowed: readonly string[] | null | undefined, route: RouteDef): boolean {
  if (!allowed || allowed.length === 0 || route.group === 'public') return true;
  return allowed.some((e) => routeEntryCovers(e, route));
}
