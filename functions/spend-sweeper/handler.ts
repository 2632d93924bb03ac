import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import { adminStore } from '../../lib/app/admin.js';
import { documentClient } from '../../lib/app/wiring.js';
import { config } from '../../lib/config.js';
import { runSweep, type SweepRunResult } from '../../lib/store/sweep.js';
import { tracing } from '../../lib/telemetry.js';

/** Time kept back from the invocation's timeout: the page in progress and the cursor's write. */
const TIDY_MARGIN_MS = 30_000;

/**
 * On a schedule (EventBridge, every 5 minutes), lib/store/sweep's passes: releases strict
 * reservations whose call never settled, settles the counter copy of a regenerated key whose
 * regeneration died before it did, then removes the counters of budget windows that ended more
 * than one window ago (stopping before the timeout and continuing next run from a cursor).
 * It only ever gives back headroom a dead call held and drops counters no budget reads any more;
 * budgets never depend on it running. The event is ignored; invoking it by hand is safe at any
 * time, also while a scheduled run is in progress.
 */
export const handler = middy<unknown, SweepRunResult>()
  .use(tracing())
  .handler((_event, context: Context) => {
    const remaining = typeof context?.getRemainingTimeInMillis === 'function' ? context.getRemainingTimeInMillis() : undefined;
    const c = config();
    return runSweep(documentClient(), c.tableName, Date.now(), {
      shards: c.spendShards,
      settleKeyCopy: (token, attempts) => adminStore().settleKeyCopy(token, attempts),
      deadline: remaining === undefined ? undefined : Date.now() + Math.max(0, remaining - TIDY_MARGIN_MS),
    });
  });
