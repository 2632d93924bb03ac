import middy from '@middy/core';
import type { APIGatewayAuthorizerResult, APIGatewayRequestAuthorizerEvent } from 'aws-lambda';
import { identifyDeps } from '../../lib/app/authorizer.js';
import { checkSettings } from '../../lib/app/wiring.js';
import { decide } from '../../lib/authorizer/decide.js';
import { toAuthorizerResult } from '../../lib/authorizer/policy.js';
import { InternalError, isTollgateError } from '../../lib/errors.js';
import { logger, tracing } from '../../lib/telemetry.js';

/** REQUEST authorizer: headers, path and the store decide; the body is the llm function's. */
async function authorize(event: APIGatewayRequestAuthorizerEvent): Promise<APIGatewayAuthorizerResult> {
  let decision: Awaited<ReturnType<typeof decide>>;
  try {
    decision = await decide(
      {
        method: event.httpMethod,
        resource: event.resource,
        path: event.path,
        headers: event.headers,
        multiValueHeaders: event.multiValueHeaders,
        pathParameters: event.pathParameters,
      },
      identifyDeps(),
      checkSettings(),
      Date.now(),
    );
  } catch (e) {
    // Fail closed: a store failure (or anything unexpected) is an error API Gateway answers
    // with AUTHORIZER_FAILURE, never an Allow.
    const error = isTollgateError(e) ? e : new InternalError();
    logger().error('authorization failed', { code: error.code });
    throw error;
  }
  if (decision.effect !== 'allow') {
    logger().info('denied', { effect: decision.effect, code: decision.error.code, path: event.path });
  }
  return toAuthorizerResult(decision, event.methodArn);
}

export const handler = middy(authorize).use(tracing());
