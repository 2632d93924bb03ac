/**
 * Invoking the authorizer handler as API Gateway does and reading its answer as the client would
 * see it: the gateway response each outcome turns into (lib/gateway-responses), so tests assert
 * statuses, not policy internals.
 */
import type { APIGatewayAuthorizerResult, APIGatewayRequestAuthorizerEvent } from 'aws-lambda';
import { handler } from '../../functions/authorizer/handler.js';
import { UnauthorizedError } from '../../lib/authorizer/policy.js';
import { isTollgateError, type TollgateError } from '../../lib/errors.js';
import { type GatewayResponseType, renderGatewayResponse } from '../../lib/gateway-responses.js';

export type Outcome =
  | { effect: 'allow'; status: 200; result: APIGatewayAuthorizerResult; context: Record<string, unknown> }
  /** A Deny policy: ACCESS_DENIED renders the context's message, type and code. */
  | { effect: 'deny'; status: number; result: APIGatewayAuthorizerResult; context: Record<string, unknown>; body: string }
  /** The `Unauthorized` error: API Gateway's 401. */
  | { effect: 'unauthorized'; status: number; body: string }
  /** Any other error the handler threw: API Gateway's AUTHORIZER_CONFIGURATION_ERROR. */
  | { effect: 'failure'; status: number; body: string; error: TollgateError };

const gateway = (type: GatewayResponseType, context?: Record<string, unknown>) => {
  const { statusCode, body } = renderGatewayResponse(type, context);
  return { status: statusCode, body };
};

export async function authorize(event: APIGatewayRequestAuthorizerEvent): Promise<Outcome> {
  let result: APIGatewayAuthorizerResult;
  try {
    result = await handler(event, {} as never);
  } catch (e) {
    if (e instanceof UnauthorizedError && e.message === 'Unauthorized') return { effect: 'unauthorized', ...gateway('UNAUTHORIZED') };
    if (isTollgateError(e)) return { effect: 'failure', ...gateway('AUTHORIZER_CONFIGURATION_ERROR'), error: e };
    throw e;
  }
  const statements = result.policyDocument.Statement;
  const context = (result.context ?? {}) as Record<string, unknown>;
  // One statement, whole stage: anything else would be a policy API Gateway reads differently.
  if (statements.length !== 1) throw new Error(`expected one policy statement, got ${statements.length}`);
  const effect = (statements[0] as { Effect: string }).Effect;
  if (effect === 'Allow') return { effect: 'allow', status: 200, result, context };
  if (effect === 'Deny') return { effect: 'deny', ...gateway('ACCESS_DENIED', context), result, context };
  throw new Error(`unexpected policy effect ${effect}`);
}

export const bearer = (token: string): Record<string, string> => ({ Authorization: `Bearer ${token}` });
