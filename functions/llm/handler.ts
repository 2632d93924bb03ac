import { captureLambdaHandler } from '@aws-lambda-powertools/tracer/middleware';
import middy from '@middy/core';
import { executionModeStreamifyResponse } from '@middy/core/StreamifyResponse';
import type { APIGatewayProxyEvent } from 'aws-lambda';
import { handleLlmEvent } from '../../lib/llm/handle.js';
import type { LlmResponse } from '../../lib/llm/response.js';
import { tracer } from '../../lib/telemetry.js';

/**
 * LLM routes behind the authorizer, with API Gateway REST response streaming: the metadata
 * (status, headers) goes out first, then the body as a string or, for `stream: true`, the
 * upstream's events as they arrive. Every outcome is a response (errors included, OpenAI-shaped).
 */
export const handler = middy<APIGatewayProxyEvent, LlmResponse>({ executionMode: executionModeStreamifyResponse })
  .use(captureLambdaHandler(tracer, { captureResponse: false }))
  .handler((event) => handleLlmEvent(event));
