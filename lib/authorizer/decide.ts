/**
 * The authorization decision for one request, from headers, path and the store: identify the
 * caller, then run every check that needs no body. The Lambda handler turns the decision into
 * an IAM policy; the local gateway evaluates that policy exactly as API Gateway would.
 */

import type { HeaderBag, MultiHeaderBag } from '../auth/credentials.js';
import { type IdentifyDeps, identify } from '../auth/identify.js';
import { authorizerChecks, type CheckSettings, runChecks } from '../checks/checks.js';
import type { Caller } from '../domain/caller.js';
import { AuthenticationError, InvalidPathError, isTollgateError, RouteNotFoundError, type TollgateError } from '../errors.js';
import { type HttpMethod, matchRoute, type RouteDef, routeByResource, safeDecode } from '../routes.js';
import { type CallerContext, callerContext } from './context.js';

export interface AuthorizationRequest {
  method: string;
  /** The matched resource pattern (API Gateway gives it); else the path is matched here. */
  resource?: string | undefined;
  path: string;
  headers: HeaderBag;
  multiValueHeaders?: MultiHeaderBag;
  pathParameters?: Record<string, string | undefined> | null | undefined;
}

export type Decision =
  | { effect: 'allow'; caller: Caller | undefined; context: CallerContext | undefined }
  /** Nobody we know: API Gateway's 401. The error is kept for logging (never the credential). */
  | { effect: 'unauthorized'; error: AuthenticationError }
  /** A known caller that is not allowed: 403 with the error's type, code and message. */
  | { effect: 'deny'; error: TollgateError; caller?: Caller | undefined };

export async function decide(req: AuthorizationRequest, deps: IdentifyDeps, settings: CheckSettings, now: number): Promise<Decision> {
  const route = findRoute(req);
  if (!route) return { effect: 'deny', error: new RouteNotFoundError(req.method, req.path) };
  if (route.group === 'public') return { effect: 'allow', caller: undefined, context: undefined };
  if (climbs(req.pathParameters)) {
    return { effect: 'deny', error: new InvalidPathError('a path parameter holds a `.` or `..` segment') };
  }
  let caller: Caller;
  try {
    caller = await identify(
      {
        headers: req.headers,
        multiValueHeaders: req.multiValueHeaders,
        needGlobal: settings.maxBudget !== undefined && route.spends === true,
        now,
      },
      deps,
    );
  } catch (e) {
    if (e instanceof AuthenticationError) return { effect: 'unauthorized', error: e };
    // A failure of ours (the store, a secret) is thrown: API Gateway answers 503, never Allow or 403.
    if (!isTollgateError(e) || e.status >= 500) throw e;
    return { effect: 'deny', error: e };
  }
  const denial = runChecks(
    {
      now,
      method: req.method.toUpperCase() as HttpMethod,
      path: req.path,
      route,
      caller,
      settings,
    },
    authorizerChecks,
  );
  if (denial) return { effect: 'deny', error: denial, caller };
  return { effect: 'allow', caller, context: callerContext(caller, now) };
}

/**
 * Path parameters are joined to an upstream's base URL, where a `.` or `..` segment (decoded from
 * `%2e`/`%2F`) would climb above the base path with Tollgate's upstream key. Checked as given and
 * once decoded, whichever form reaches the function.
 */
function climbs(params: Record<string, string | undefined> | null | undefined): boolean {
  const dotSegment = (v: string) => v.split(/[/\\]/).some((seg) => seg === '.' || seg === '..');
  return Object.values(params ?? {}).some((v) => typeof v === 'string' && (dotSegment(v) || dotSegment(safeDecode(v))));
}

function findRoute(req: AuthorizationRequest): RouteDef | undefined {
  if (req.resource) return routeByResource(req.method, req.resource);
  return matchRoute(req.method, req.path)?.route;
}
