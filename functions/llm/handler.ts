import middy from '@middy/core';
import { executionModeStreamifyResponse } from '@middy/core/StreamifyResponse';
import type { APIGatewayProxyEvent, Context } from 'aws-lambda';
import { callsEndAt } from '../../lib/llm/deadline.js';
import { llmDeps } from '../../lib/llm/deps.js';
import { handleLlmEvent, settlementsOf } from '../../lib/llm/handle.js';
import { billDuePending, isBillPendingEvent } from '../../lib/llm/pending.js';
import { jsonResponse, type LlmResponse } from '../../lib/llm/response.js';
import { tracing } from '../../lib/telemetry.js';

/**
 * LLM routes behind the authorizer, with API Gateway REST response streaming: the metadata
 * (status, headers) goes out first, then the body as a string or, for `stream: true`, the
 * upstream's events as they arrive. Every outcome is a response (errors included, OpenAI-shaped).
 * The response ends when the answer does; the spend is settled after that, and the invocation
 * ends only when it is written (`requestEnd` runs after the response stream has ended). On a
 * schedule it also bills pending objects nobody read (lib/llm/pending).
 */
export const handler = middy<APIGatewayProxyEvent, LlmResponse>({
  executionMode: executionModeStreamifyResponse,
  requestEnd: (request) => settlementsOf(request.event as object),
})
  .use(tracing())
  .handler((event, context: Context) =>
    // The schedule's event (infra/stack.ts): bill pending objects nobody read (lib/llm/pending).
    isBillPendingEvent(event)
      ? billPendingNow(context)
      : handleLlmEvent(event, llmDeps(), { endsAt: endsAt(context), invocationEndsAt: invocationEndsAt(context) }),
  );

/** The invocation's time left (none outside Lambda). */
const remainingMs = (context: Context): number | undefined =>
  typeof context?.getRemainingTimeInMillis === 'function' ? context.getRemainingTimeInMillis() : undefined;

/** When upstream calls still under way are ended (lib/llm/deadline callsEndAt), by the time left. */
const endsAt = (context: Context): number | undefined => {
  const remaining = remainingMs(context);
  return remaining === undefined ? undefined : callsEndAt(remaining);
};

/** When the invocation ends (its timeout), by the time left. */
const invocationEndsAt = (context: Context): number | undefined => {
  const remaining = remainingMs(context);
  return remaining === undefined ? undefined : Date.now() + remaining;
};

/** Reads pending objects for half the invocation's time (each read has at most a minute of upstream time). */
async function billPendingNow(context: Context): Promise<LlmResponse> {
  const remaining = remainingMs(context);
  const deadline = remaining === undefined ? undefined : Date.now() + remaining / 2;
  return jsonResponse(200, await billDuePending(llmDeps(), { deadline }));
}
