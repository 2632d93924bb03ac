import middy from '@middy/core';
import { executionModeStreamifyResponse } from '@middy/core/StreamifyResponse';
import type { APIGatewayProxyEvent } from 'aws-lambda';
import { handleLlmEvent, settlementsOf } from '../../lib/llm/handle.js';
import type { LlmResponse } from '../../lib/llm/response.js';
import { tracing } from '../../lib/telemetry.js';

/**
 * LLM routes behind the authorizer, with API Gateway REST response streaming: the metadata
 * (status, headers) goes out first, then the body as a string or, for `stream: true`, the
 * upstream's events as they arrive. Every outcome is a response (errors included, OpenAI-shaped).
 * The response ends when the answer does; the spend is settled after that, and the invocation
 * ends only when it is written (`requestEnd` runs after the response stream has ended).
 */
export const handler = middy<APIGatewayProxyEvent, LlmResponse>({
  executionMode: executionModeStreamifyResponse,
  requestEnd: (request) => settlementsOf(request.event as object),
})
  .use(tracing())
  .handler((event) => handleLlmEvent(event));
