/** API Gateway's own responses, in the OpenAI error shape, rendered as API Gateway fills them. */
import { describe, expect, it } from 'vitest';
import { GATEWAY_RESPONSES, type GatewayResponseType, renderGatewayResponse } from '../../lib/gateway-responses.js';

const STATIC: [GatewayResponseType, number, string, string][] = [
  ['UNAUTHORIZED', 401, 'authentication_error', 'invalid_api_key'],
  ['AUTHORIZER_FAILURE', 503, 'service_unavailable', 'store_unavailable'],
  ['AUTHORIZER_CONFIGURATION_ERROR', 503, 'service_unavailable', 'store_unavailable'],
  ['MISSING_AUTHENTICATION_TOKEN', 404, 'not_found_error', 'route_not_found'],
  ['INCOMPLETE_SIGNATURE', 404, 'not_found_error', 'route_not_found'],
  ['INVALID_SIGNATURE', 404, 'not_found_error', 'route_not_found'],
  ['EXPIRED_TOKEN', 404, 'not_found_error', 'route_not_found'],
  ['REQUEST_TOO_LARGE', 413, 'invalid_request_error', 'request_too_large'],
  ['DEFAULT_4XX', 400, 'invalid_request_error', 'gateway_rejected'],
  ['DEFAULT_5XX', 502, 'upstream_error', 'gateway_error'],
];

describe('static responses', () => {
  it.each(STATIC)('%s: %i %s/%s, a complete error body', (type, status, errorType, code) => {
    const { statusCode, body } = renderGatewayResponse(type);
    expect(statusCode).toBe(status);
    expect(JSON.parse(body)).toEqual({ error: { message: expect.any(String), type: errorType, param: null, code } });
  });

  it('every response type is covered here or below', () => {
    expect(Object.keys(GATEWAY_RESPONSES).sort()).toEqual([...STATIC.map((s) => s[0]), 'ACCESS_DENIED', 'THROTTLED'].sort());
  });
});

describe('ACCESS_DENIED carries the Deny context', () => {
  it('renders valid JSON with the context’s message, type and code', () => {
    const { statusCode, body } = renderGatewayResponse('ACCESS_DENIED', {
      message: 'team `t-1` spent 10.00 of its 10.00 budget',
      type: 'budget_exceeded',
      code: 'team_budget_exceeded',
      status: 403,
    });
    expect(statusCode).toBe(403);
    expect(JSON.parse(body)).toEqual({
      error: { message: 'team `t-1` spent 10.00 of its 10.00 budget', type: 'budget_exceeded', param: null, code: 'team_budget_exceeded' },
    });
  });

  it('absent context values render as empty strings (still valid JSON)', () => {
    expect(JSON.parse(renderGatewayResponse('ACCESS_DENIED').body)).toEqual({ error: { message: '', type: '', param: null, code: '' } });
    expect(JSON.parse(renderGatewayResponse('ACCESS_DENIED', { message: null, type: undefined }).body).error.message).toBe('');
  });

  it('`$` patterns in a value are inserted literally', () => {
    expect(JSON.parse(renderGatewayResponse('ACCESS_DENIED', { message: "cost $& $1 $$ $'" }).body).error.message).toBe("cost $& $1 $$ $'");
  });
});

describe("the stage throttle's 429 (THROTTLED)", () => {
  it('answers rate_limit_error with retry-after, as every 429 of the error contract does', () => {
    const { statusCode, body, headers } = renderGatewayResponse('THROTTLED');
    expect(statusCode).toBe(429);
    expect(JSON.parse(body)).toEqual({
      error: { message: expect.any(String), type: 'rate_limit_error', param: null, code: 'gateway_throttled' },
    });
    expect(headers).toEqual({ 'retry-after': '1' });
  });
});
