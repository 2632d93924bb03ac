/**
 * API Gateway's own responses (when the authorizer says no, or fails), in the OpenAI error
 * shape. The CDK stack installs these templates; the local gateway renders the very same
 * templates, so both answer byte for byte alike.
 */

export type GatewayResponseType =
  | 'UNAUTHORIZED'
  | 'ACCESS_DENIED'
  | 'AUTHORIZER_FAILURE'
  | 'AUTHORIZER_CONFIGURATION_ERROR'
  | 'MISSING_AUTHENTICATION_TOKEN'
  | 'INCOMPLETE_SIGNATURE'
  | 'INVALID_SIGNATURE'
  | 'EXPIRED_TOKEN'
  | 'THROTTLED'
  | 'REQUEST_TOO_LARGE'
  | 'DEFAULT_4XX'
  | 'DEFAULT_5XX';

export interface GatewayResponseDef {
  statusCode: number;
  /** application/json template; `$context.authorizer.<name>` is filled from the Deny's context. */
  template: string;
  /** Headers beside Content-Type, static. */
  headers?: Readonly<Record<string, string>>;
}

const body = (message: string, type: string, code: string) => JSON.stringify({ error: { message, type, param: null, code } });

const ROUTE_NOT_FOUND: GatewayResponseDef = { statusCode: 404, template: body('No such route', 'not_found_error', 'route_not_found') };

export const GATEWAY_RESPONSES: Record<GatewayResponseType, GatewayResponseDef> = {
  // API Gateway's 401 cannot carry the authorizer's reason; the reason is in the authorizer's log.
  UNAUTHORIZED: {
    statusCode: 401,
    template: body(
      'Authentication failed: send a valid API key or token (Authorization: Bearer, x-litellm-api-key, api-key or x-api-key)',
      'authentication_error',
      'invalid_api_key',
    ),
  },
  ACCESS_DENIED: {
    statusCode: 403,
    template:
      '{"error":{"message":"$context.authorizer.message","type":"$context.authorizer.type","param":null,"code":"$context.authorizer.code"}}',
  },
  // The authorizer failed (the store is unreachable): denied, never allowed.
  AUTHORIZER_FAILURE: {
    statusCode: 503,
    template: body(
      'Authorization is unavailable (the store could not be reached); the request was denied',
      'service_unavailable',
      'store_unavailable',
    ),
  },
  // The authorizer threw (it does so only when the store fails: fail closed) or answered what API
  // Gateway cannot read: API Gateway's own 500 AuthorizerConfigurationException, rendered as the
  // 503 the error contract promises. Denied, never allowed.
  AUTHORIZER_CONFIGURATION_ERROR: {
    statusCode: 503,
    template: body(
      'Authorization is unavailable (the store could not be reached); the request was denied',
      'service_unavailable',
      'store_unavailable',
    ),
  },
  // API Gateway's answer for a path or method no resource has.
  MISSING_AUTHENTICATION_TOKEN: ROUTE_NOT_FOUND,
  // The same request with an Authorization header (every OpenAI client sends `Bearer ...`): API
  // Gateway reads the header as an AWS signature on a route it does not have and answers one of
  // these instead. Every method here has the Lambda authorizer, so they mean a missing route.
  INCOMPLETE_SIGNATURE: ROUTE_NOT_FOUND,
  INVALID_SIGNATURE: ROUTE_NOT_FOUND,
  EXPIRED_TOKEN: ROUTE_NOT_FOUND,
  // The stage throttle (the outer guard, docs/rate-limits.md): a 429 like every other, a
  // rate_limit_error with retry-after (the throttle's bucket refills each second), not DEFAULT_4XX's
  // invalid_request_error that clients do not retry.
  THROTTLED: {
    statusCode: 429,
    template: body('Too many requests: the gateway throttled this one; retry in a second', 'rate_limit_error', 'gateway_throttled'),
    headers: { 'retry-after': '1' },
  },
  // A body over API Gateway's 10 MB payload limit: API Gateway refuses it before the authorizer,
  // so this template is the answer a client sees (the local gateway renders the same one).
  REQUEST_TOO_LARGE: {
    statusCode: 413,
    template: body('The request body is larger than 10 MB', 'invalid_request_error', 'request_too_large'),
  },
  DEFAULT_4XX: { statusCode: 400, template: body('The request was rejected by the gateway', 'invalid_request_error', 'gateway_rejected') },
  DEFAULT_5XX: { statusCode: 502, template: body('The gateway could not complete the request', 'upstream_error', 'gateway_error') },
};

/** Fills a template as API Gateway does for `$context.authorizer.<name>` (absent values become empty). */
export function renderGatewayResponse(
  type: GatewayResponseType,
  authorizerContext: Record<string, unknown> = {},
): { statusCode: number; body: string; headers: Record<string, string> } {
  const def = GATEWAY_RESPONSES[type];
  const filled = def.template.replace(/\$context\.authorizer\.(\w+)/g, (_, name: string) => {
    const v = authorizerContext[name];
    return v === undefined || v === null ? '' : String(v);
  });
  return { statusCode: def.statusCode, body: filled, headers: { ...def.headers } };
}
