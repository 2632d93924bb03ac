/**
 * Calling an entity function through both of its entry points: as API Gateway would (a REST
 * proxy event for a route of lib/routes, with an authorizer context for the actor) and by direct
 * invocation (`{action, ...fields}`).
 */
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import type { CallerContext } from '../../lib/authorizer/context.js';
import { matchRoute } from '../../lib/routes.js';

type Handler = (event: never, context: Context) => Promise<unknown>;

export const adminCtx: CallerContext = { principal: 'master_key', role: 'proxy_admin' };
export const userCtx = (userId: string, extra: Partial<CallerContext> = {}): CallerContext => ({
  principal: 'virtual_key',
  role: 'internal_user',
  user_id: userId,
  ...extra,
});

const lambdaContext = (): Context => ({ awsRequestId: `req-${Math.random().toString(36).slice(2)}` }) as Context;

export function apiEvent(method: string, path: string, input: unknown, caller: CallerContext | null): APIGatewayProxyEvent {
  const match = matchRoute(method, path.split('?')[0] as string);
  if (!match) throw new Error(`test asked for a route that does not exist: ${method} ${path}`);
  const isGet = method.toUpperCase() === 'GET';
  const query =
    isGet && input && typeof input === 'object'
      ? Object.fromEntries(Object.entries(input as Record<string, unknown>).map(([k, v]) => [k, String(v)]))
      : null;
  return {
    resource: match.route.path,
    path: match.path,
    httpMethod: method.toUpperCase(),
    headers: { 'content-type': 'application/json' },
    multiValueHeaders: {},
    queryStringParameters: query,
    multiValueQueryStringParameters: null,
    pathParameters: Object.keys(match.params).length ? match.params : null,
    stageVariables: null,
    body: isGet ? null : typeof input === 'string' ? input : JSON.stringify(input ?? {}),
    isBase64Encoded: false,
    requestContext: { requestId: 'r-1', stage: 'test', authorizer: caller } as unknown as APIGatewayProxyEvent['requestContext'],
  };
}

export interface ApiAnswer<T = any> {
  status: number;
  body: T;
}

/** Through API Gateway: the route's function with the caller's authorizer context. */
export async function callApi<T = any>(
  handler: Handler,
  method: string,
  path: string,
  input: unknown,
  caller: CallerContext | null = adminCtx,
): Promise<ApiAnswer<T>> {
  const res = (await handler(apiEvent(method, path, input, caller) as never, lambdaContext())) as APIGatewayProxyResult;
  return { status: res.statusCode, body: JSON.parse(res.body) as T };
}

/** By direct invocation: resolves with the result, rejects with the typed error. */
export function invokeDirect<T = any>(handler: Handler, event: Record<string, unknown> & { action: string }): Promise<T> {
  return handler(event as never, lambdaContext()) as Promise<T>;
}
