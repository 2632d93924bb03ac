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
import { matchRoute } from '../routes.js';
import { logger } from '../telemetry.js';
import type { LlmDeps } from './deps.js';
import { handleLlmEvent, settlementsOf } from './handle.js';
import { hasEnded } from './objects.js';

/** The most objects one sweep reads (each one upstream read). */
const PENDING_PER_SWEEP = 50;
/** A run without its thread (recorded before the thread was kept) cannot be read: looked at again a day later, and logged. */
const UNREADABLE_AGAIN_MS = 24 * 3_600_000;

export const isBillPendingEvent = (event: unknown): boolean =>
  typeof event === 'object' && event !== null && (event as Record<string, unknown>).tollgate === BILL_PENDING_EVENT.tollgate;

export interface PendingSweep {
  /** Pending objects due and read. */
  looked: number;
  /** Of those, billed (ended). */
  billed: number;
  /** Ended with nothing to bill (failed, cancelled before any work): no longer pending. */
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

/** Reads (and so bills) every pending object due by `now`, at most PENDING_PER_SWEEP, before `deadline`. */
export async function billDuePending(deps: LlmDeps, opts: { now?: number; deadline?: number } = {}): Promise<PendingSweep> {
  const now = opts.now ?? deps.clock();
  const out: PendingSweep = { looked: 0, billed: 0, retired: 0, waiting: 0 };
  for (const owner of await deps.objects.duePending(new Date(now), PENDING_PER_SWEEP)) {
    if (opts.deadline !== undefined && deps.clock() >= opts.deadline) break;
    const path = readPathOf(owner);
    if (!path) {
      logger().warn('pending object cannot be read to bill it', { objectId: owner.object_id, kind: owner.object_kind });
      await deps.objects.postpone(owner.object_id, new Date(now + UNREADABLE_AGAIN_MS)).catch(() => undefined);
      out.waiting++;
      continue;
    }
    out.looked++;
    try {
      const event = readEvent(path);
      const res = await handleLlmEvent(event, deps);
      // The answer goes nowhere but here; a stream is drained so the read ends.
      let text = '';
      if (typeof res.body === 'string') text = res.body;
      else for await (const chunk of res.body) text += String(chunk);
      await settlementsOf(event);
      const after = await deps.objects.get(owner.object_id);
      if (after?.billing !== 'pending') {
        out.billed++;
        continue;
      }
      // Ended with nothing to bill (failed, cancelled before any work): no longer pending, never looked at again.
      if (res.statusCode === 200 && hasEnded(owner.object_kind, parseAnswer(text))) {
        await deps.objects.claimBilling(owner.object_id);
        out.retired++;
      } else {
        await deps.objects.postpone(owner.object_id, nextLookAt(owner.object_kind, now));
        out.waiting++;
      }
    } catch (e) {
      logger().warn('pending object not read', { objectId: owner.object_id, error: (e as Error)?.name });
      await deps.objects.postpone(owner.object_id, nextLookAt(owner.object_kind, now)).catch(() => undefined);
      out.waiting++;
    }
  }
  if (out.looked > 0 || out.waiting > 0) logger().info('pending objects swept', { ...out });
  return out;
}
