/**
 * Pending objects nobody read: a background response, a batch or a thread run is billed by the
 * first answer that shows it ended (lib/llm/handle, billOnce), so one its client never reads
 * again through Tollgate was never billed (found by review: its client chained it by
 * `previous_response_id`, or read only the thread's messages, or left). On a schedule (every
 * PENDING_SWEEP_EVERY_MINUTES: EventBridge in AWS, a timer in local mode), each pending object
 * due to be looked at (lib/domain/tenancy, PENDING_LOOK_AFTER_MS) is read upstream as a proxy
 * admin would read it, through the llm function's own read path: one that has ended is billed
 * once, to its maker, as any read would bill it; one still under way is looked at again later.
 */
import { randomUUID } from 'node:crypto';
import type { APIGatewayProxyEvent } from 'aws-lambda';
import { BILL_PENDING_EVENT, nextLookAt, type ObjectOwner } from '../domain/tenancy.js';
import { countMetric } from '../metrics.js';
import { matchRoute } from '../routes.js';
import { logger } from '../telemetry.js';
import type { LlmDeps } from './deps.js';
import { handleLlmEvent, settlementsOf } from './handle.js';
import { finishedUsage, hasEnded } from './objects.js';

/** The most objects one sweep reads (each one upstream read). */
const PENDING_PER_SWEEP = 50;
/** A run whose answer and call named no thread cannot be read: looked at again a day later, and logged. */
const UNREADABLE_AGAIN_MS = 24 * 3_600_000;
/** The upstream time one read of the sweep may take (its invocation has others to read). */
const SWEEP_READ_TIMEOUT_MS = 60_000;
/** A pending object still unbillable this long after it was made is given up on, loudly (unbilled). */
const PENDING_GIVE_UP_MS = 7 * 24 * 3_600_000;

export const isBillPendingEvent = (event: unknown): boolean =>
  typeof event === 'object' && event !== null && (event as Record<string, unknown>).tollgate === BILL_PENDING_EVENT.tollgate;

export interface PendingSweep {
  /** Pending objects due and read. */
  looked: number;
  /** Of those, billed (ended), by this sweep or another read since. */
  billed: number;
  /** Ended with nothing to bill (failed, cancelled before any work), or given up on (unbilled, logged): no longer pending. */
  retired: number;
  /** Still under way, or unreadable now: looked at again later. */
  waiting: number;
}

/** The path a pending object is read at, as its maker would read it; undefined when it cannot be. */
export function readPathOf(owner: Pick<ObjectOwner, 'object_kind' | 'object_id' | 'thread_id'>): string | undefined {
  const id = encodeURIComponent(owner.object_id);
  switch (owner.object_kind) {
    case 'response':
      return `/v1/responses/${id}`;
    case 'batch':
      return `/v1/batches/${id}`;
    case 'run':
      return owner.thread_id ? `/v1/threads/${encodeURIComponent(owner.thread_id)}/runs/${id}` : undefined;
    default:
      return undefined;
  }
}

/** A read as API Gateway would hand it to the llm function, by a proxy admin (the master key's context). */
function readEvent(path: string): APIGatewayProxyEvent {
  const match = matchRoute('GET', path);
  return {
    resource: match?.route.path ?? path,
    path,
    httpMethod: 'GET',
    headers: {},
    multiValueHeaders: {},
    queryStringParameters: null,
    multiValueQueryStringParameters: null,
    pathParameters: match && Object.keys(match.params).length > 0 ? match.params : null,
    stageVariables: null,
    requestContext: {
      requestId: `bill-pending-${randomUUID()}`,
      authorizer: { principal: 'master_key', role: 'proxy_admin' },
    } as unknown as APIGatewayProxyEvent['requestContext'],
    body: null,
    isBase64Encoded: false,
  };
}

const parseAnswer = (text: string): unknown => {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
};

/**
 * Reads (and so bills) every pending object due by `now`, at most PENDING_PER_SWEEP, before
 * `deadline`. Each is first set to be looked at again later (a lease: an invocation that dies on
 * a read leaves it for later, never first in line forever; a sweep that overlaps may read one the
 * other has listed but not reached, and bills it once all the same), then read with at most
 * SWEEP_READ_TIMEOUT_MS of upstream time.
 */
export async function billDuePending(deps: LlmDeps, opts: { now?: number; deadline?: number } = {}): Promise<PendingSweep> {
  const now = opts.now ?? deps.clock();
  // A bill owed is read whatever the budgets say (a spent proxy budget refused the reads).
  const reading: LlmDeps = { ...deps, upstreamTimeoutMs: Math.min(deps.upstreamTimeoutMs, SWEEP_READ_TIMEOUT_MS), billsOwed: true };
  const out: PendingSweep = { looked: 0, billed: 0, retired: 0, waiting: 0 };
  for (const owner of await deps.objects.duePending(new Date(now), PENDING_PER_SWEEP)) {
    if (opts.deadline !== undefined && deps.clock() >= opts.deadline) break;
    const facts = { objectId: owner.object_id, kind: owner.object_kind };
    // Past a week, an object is looked at once a day, and a definite answer (4xx) gives it up.
    const tooOld = now - Date.parse(owner.created_at) > PENDING_GIVE_UP_MS;
    const again = tooOld ? new Date(now + UNREADABLE_AGAIN_MS) : nextLookAt(owner.object_kind, now);
    try {
      const path = readPathOf(owner);
      if (!path) {
        if (tooOld) await unbilled(deps, owner, 'it cannot be read (no thread)', out);
        else {
          logger().warn('pending object cannot be read to bill it', facts);
          await deps.objects.postpone(owner.object_id, new Date(now + UNREADABLE_AGAIN_MS));
          out.waiting++;
        }
        continue;
      }
      out.looked++;
      await deps.objects.postpone(owner.object_id, again);
      const event = readEvent(path);
      const res = await handleLlmEvent(event, reading);
      // The answer goes nowhere but here; a stream is drained so the read ends.
      let text = '';
      if (typeof res.body === 'string') text = res.body;
      else for await (const chunk of res.body) text += String(chunk);
      await settlementsOf(event);
      if ((await deps.objects.get(owner.object_id))?.billing !== 'pending') {
        out.billed++;
        continue;
      }
      const answer = res.statusCode === 200 ? parseAnswer(text) : undefined;
      // Ended with nothing to bill (failed, cancelled before any work): retired. Ended with a bill
      // still pending, its bill failed on the way (the store): looked at again, never retired.
      if (answer !== undefined && hasEnded(owner.object_kind, answer) && !finishedUsage(owner.object_kind, answer, owner.estimate)) {
        if (await deps.objects.claimBilling(owner.object_id)) out.retired++;
        else out.billed++;
      }
      // A 404 may be the wrong upstream (its model removed or moved since): only a week on, and a
      // definite 4xx then, gives it up (found by review: a 404 at once wrote off real bills).
      else if (tooOld && res.statusCode >= 400 && res.statusCode < 500 && res.statusCode !== 429)
        await unbilled(deps, owner, `its upstream read answers HTTP ${res.statusCode}`, out);
      else out.waiting++;
    } catch (e) {
      logger().warn('pending object not read', { ...facts, error: (e as Error)?.name });
      out.waiting++;
    }
  }
  if (out.looked > 0 || out.waiting > 0) logger().info('pending objects swept', { ...out });
  return out;
}

/**
 * Gives up on a pending object nobody can bill: still unbillable PENDING_GIVE_UP_MS after it was
 * made, and then answered a definite 4xx (gone upstream) or unreadable. Retired (never read
 * again), and said loudly: an error log naming it and a `PendingUnbilled` metric, for an operator
 * to charge by hand from its record's estimate.
 */
async function unbilled(deps: LlmDeps, owner: ObjectOwner, why: string, out: PendingSweep): Promise<void> {
  // Claimed by another since it was listed (a read billed it, another sweep retired it): nothing to say.
  if (!(await deps.objects.claimBilling(owner.object_id))) {
    out.billed++;
    return;
  }
  logger().error('pending object retired unbilled', {
    objectId: owner.object_id,
    kind: owner.object_kind,
    why,
    keyHash: owner.key_hash ?? undefined,
    teamId: owner.team_id ?? undefined,
    userId: owner.user_id ?? undefined,
    estimate: owner.estimate ?? undefined,
  });
  await countMetric('PendingUnbilled');
  out.retired++;
}
