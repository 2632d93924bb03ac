/**
 * Route permission by role. Groups come from lib/routes. A JWT's allowed routes are
 * configurable (TOLLGATE_JWT_TEAM_ROUTES, TOLLGATE_JWT_ADMIN_ROUTES) as group names or paths.
 */

import type { Caller } from '../domain/caller.js';
import type { RouteDef } from '../routes.js';

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
