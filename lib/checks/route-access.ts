/**
 * Route permission by role. Groups come from lib/routes. A JWT's allowed routes are
 * configurable (TOLLGATE_JWT_TEAM_ROUTES, TOLLGATE_JWT_ADMIN_ROUTES) as route lists (lib/routes).
 */

import type { Caller } from '../domain/caller.js';
import { type RouteDef, routeEntryProblem, routeListCovers, routes } from '../routes.js';

export interface RouteAccessSettings {
  jwtTeamRoutes: readonly string[];
  jwtAdminRoutes: readonly string[];
}

export function canCallRoute(caller: Pick<Caller, 'principal' | 'role'>, route: RouteDef, settings: RouteAccessSettings): boolean {
  if (route.group === 'public') return true;
  switch (caller.role) {
    case 'proxy_admin':
      // The master key and admin users reach everything; an admin JWT reaches what is configured.
      return caller.principal === 'jwt' ? routeListCovers(settings.jwtAdminRoutes, route, 'exact') : true;
    case 'team':
      return routeListCovers(settings.jwtTeamRoutes, route, 'exact');
    case 'internal_user':
      return route.group === 'llm' || route.group === 'info' || (route.group === 'management' && route.selfService === true);
    case 'internal_user_viewer':
      return route.group === 'info';
  }
}

/** The most entries a key's `allowed_routes` holds. */
export const MAX_ALLOWED_ROUTES = 100;

/** The routes a key may be limited to: every route but the public ones (always open). */
const limitable: readonly RouteDef[] = routes.filter((r) => r.group !== 'public');

/**
 * A key's `allowed_routes` (LiteLLM's field, a route list: lib/routes): the routes the key may
 * call, within what its role may. A narrowing, never a grant: LiteLLM lets the list open
 * management routes to a non-admin's key, Tollgate does not. Lists compare as the sets of routes
 * they cover; an empty or absent list covers them all.
 */
export function routesCovered(list: readonly string[] | null | undefined): Set<RouteDef> {
  if (!list || list.length === 0) return new Set(limitable);
  return new Set(limitable.filter((r) => routeListCovers(list, r, 'segments')));
}

/** Why an entry of a key's `allowed_routes` cannot be taken (lib/routes routeEntryProblem, among the routes a key can be limited to). */
export const allowedRouteProblem = (entry: string): string | undefined => routeEntryProblem(entry, 'segments', limitable);

/** Whether a key may call a route by its `allowed_routes` (an empty or absent list: any route its role may). */
export function keyMayCallRoute(allowed: readonly string[] | null | undefined, route: RouteDef): boolean {
  if (!allowed || allowed.length === 0 || route.group === 'public') return true;
  return routeListCovers(allowed, route, 'segments');
}
