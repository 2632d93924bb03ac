/**
 * Releasing strict reservations whose call never settled (its Lambda was killed between
 * reserving and settling). Every reservation record carries `expires_at`, later than any llm
 * invocation can run, and is listed under GSI1 `RESERVATION#<0..15>` sorted by it until it is
 * settled. The sweeper (functions/spend-sweeper, on a schedule) releases each expired one in one
 * transaction: the record goes `reserved -> expired` and the estimate leaves the committed
 * counters it was added to. A settlement that still arrives afterwards counts in full
 * (lib/spend/settle). The sweeper never decides a budget: it only returns headroom that a dead
 * call held, so a sweeper that does not run makes budgets stricter, never looser.
 */
import { QueryCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { StoreUnavailableError } from '../errors.js';
import { INDEX, refs } from '../store/keys.js';
import { logger } from '../telemetry.js';
import { dollarsToNanos } from './cost.js';
import { RESERVATION_PARTITIONS, commitSpend, reservationPartition, type CounterMove } from './settle.js';

/** How often the sweeper runs (the deployed schedule, and local mode's timer). */
export const SWEEP_EVERY_MINUTES = 5;

export interface SweepResult {
  /** Reservations released. */
  released: number;
  /** Expired records that were settled meanwhile (nothing to release). */
  raced: number;
}

interface ReservedRecord {
  request_id: string;
  estimate: number;
  holds?: { PK: string; SK: string; window?: string }[];
}

/** Releases every reservation whose `expires_at` is before `now`. */
export async function releaseExpiredReservations(client: DynamoDBDocumentClient, tableName: string, now: number, opts: { maxConflictRetries?: number } = {}): Promise<SweepResult> {
  const out: SweepResult = { released: 0, raced: 0 };
  const cutoff = new Date(now).toISOString();
  for (let p = 0; p < RESERVATION_PARTITIONS; p++) {
    let start: Record<string, unknown> | undefined;
    do {
      let page;
      try {
        page = await client.send(
          new QueryCommand({
            TableName: tableName,
            IndexName: INDEX.byKind,
            KeyConditionExpression: 'GSI1PK = :p AND GSI1SK < :cutoff',
            ExpressionAttributeValues: { ':p': reservationPartition(p), ':cutoff': cutoff },
            ExclusiveStartKey: start,
          }),
        );
      } catch (e) {
        logger().error('reservation sweep failed', { error: (e as Error).name });
        throw new StoreUnavailableError();
      }
      for (const item of (page.Items ?? []) as ReservedRecord[]) {
        if (await release(client, tableName, item, opts.maxConflictRetries ?? 8)) out.released++;
        else out.raced++;
      }
      start = page.LastEvaluatedKey;
    } while (start);
  }
  if (out.released > 0) logger().warn('released expired reservations', { ...out });
  return out;
}

async function release(client: DynamoDBDocumentClient, tableName: string, r: ReservedRecord, maxConflictRetries: number): Promise<boolean> {
  const estimate = dollarsToNanos(Number(r.estimate));
  const moves: CounterMove[] = (r.holds ?? []).map((h) => ({ ref: { PK: h.PK, SK: h.SK }, spendNanos: 0, committedNanos: -estimate, windowId: h.window, mustExist: true }));
  const result = await commitSpend(client, tableName, {
    head: {
      Update: {
        TableName: tableName,
        Key: refs.settlement(r.request_id),
        UpdateExpression: 'SET #state = :expired REMOVE GSI1PK, GSI1SK',
        ConditionExpression: '#state = :reserved',
        ExpressionAttributeNames: { '#state': 'state' },
        ExpressionAttributeValues: { ':expired': 'expired', ':reserved': 'reserved' },
      },
    },
    moves,
    // An entity deleted since has nothing to release.
    skipGone: true,
    maxConflictRetries,
    requestId: r.request_id,
  });
  return result.ok;
}
