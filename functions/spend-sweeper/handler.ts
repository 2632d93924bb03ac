import middy from '@middy/core';
import { captureLambdaHandler } from '@aws-lambda-powertools/tracer/middleware';
import { config } from '../../lib/config.js';
import { releaseExpiredReservations, type SweepResult } from '../../lib/spend/sweep.js';
import { documentClient } from '../../lib/store/client.js';
import { tracer } from '../../lib/telemetry.js';

/**
 * On a schedule (EventBridge, every 5 minutes): releases strict reservations whose call never
 * settled (lib/spend/sweep). It only ever gives back headroom a dead call held; budgets never
 * depend on it running. The event is ignored; invoking it by hand is safe at any time.
 */
export const handler = middy<unknown, SweepResult>()
  .use(captureLambdaHandler(tracer, { captureResponse: false }))
  .handler(() => releaseExpiredReservations(documentClient(), config().tableName, Date.now()));
