/**
 * Alert markers: one item per (entity, window, level) announced, `ALERT#<entity>#<id>` /
 * `<window>#<level>`, with the `basis` it was announced on (the level's amount, the entity's
 * incarnation): a marker of another basis is claimed afresh. Announcing is two-phase: a consumer
 * claims the marker (a conditional update: absent, or claimed by one that died more than a lease
 * ago), delivers, then confirms it; a
 * delivery that fails gives the claim back with the sinks that did take it, so the stream's retry
 * delivers to the others only. Exactly once per sink in the normal case, however many consumers
 * see the crossing; at least once should one die between claiming and confirming (its claim
 * lapses, and the retry of the record that found it held delivers again).
 */
import { type DynamoDBDocumentClient, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { isConditionalCheckFailed, refusedItem } from './errors.js';
import type { ItemRef } from './keys.js';
import { rawValue } from './spend-ledger.js';

/** The key prefix of alert markers (infra grants the table-stream function these). */
export const ALERT_MARKER_PREFIX = 'ALERT#';

export const alertRef = (entity: string, id: string, window: string, level: string): ItemRef => ({
  PK: `${ALERT_MARKER_PREFIX}${entity}#${id}`,
  SK: `${window}#${level}`,
});

/**
 * A claim's outcome: this caller holds it (with the sinks that took the level already); the level
 * was announced; or another consumer holds a live claim until `until` (ms), which may yet fail or
 * die, so the level is not announced until that claim is confirmed or lapses.
 */
export type Claim = { holder: 'mine'; delivered: ReadonlySet<string> } | { holder: 'sent' } | { holder: 'other'; until: number };

const LEASE_MS = 60_000;
/** Markers outlive any budget window they could still matter for (at most ten years), then expire. */
const KEEP_S = 3660 * 86_400;

/** The sinks a marker's `delivered` names. A place in the list, as written before sinks had names, is the unnamed sink's id. */
function deliveredOf(delivered: unknown): ReadonlySet<string> {
  const ids = Array.isArray(delivered) ? delivered.map((d) => (typeof d === 'number' ? `#${d}` : d)) : [];
  return new Set(ids.filter((d): d is string => typeof d === 'string'));
}

export class AlertMarkers {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
    private readonly clock: () => number = Date.now,
  ) {}

  /**
   * Claims a level with `token`: when this caller may announce it now, the sinks
   * (lib/alerts/deliver's sinkId) that took it already; else whether it was announced or another
   * consumer's claim is live. `basis` says what the level is about (its amount, the entity): a
   * marker of another basis, announced or lapsed, is another level, claimed afresh; one written
   * before markers had a basis counts as this one's.
   */
  async claim(ref: ItemRef, token: string, basis = ''): Promise<Claim> {
    const now = this.clock();
    const same = await this.put(
      ref,
      { token, basis, now },
      'attribute_not_exists(PK) OR (#state = :claimed AND lease_until < :now AND (attribute_not_exists(#basis) OR #basis = :basis))',
    );
    if ('claim' in same) return same.claim;
    const before = rawValue(same.old, 'basis');
    const done = rawValue(same.old, 'state') === 'sent' || Number(rawValue(same.old, 'lease_until') ?? 0) < now;
    if (typeof before !== 'string' || before === basis || !done) return this.outcome(same.old, now);
    // Announced (or left) for another amount or entity: its sinks all take this one.
    const other = await this.put(ref, { token, basis, now, before }, '#basis = :before AND (#state = :sent OR lease_until < :now)');
    return 'claim' in other ? other.claim : this.outcome(other.old, now);
  }

  /** A claim put on `condition`; with `before`, the sinks that took the earlier basis are forgotten. */
  private async put(
    ref: ItemRef,
    c: { token: string; basis: string; now: number; before?: string },
    condition: string,
  ): Promise<{ claim: Claim } | { old: Record<string, unknown> | undefined }> {
    try {
      const out = await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: ref,
          UpdateExpression: `SET kind = :kind, #state = :claimed, #token = :token, lease_until = :lease, #ttl = :ttl, #basis = :basis${c.before === undefined ? '' : ' REMOVE delivered'}`,
          ConditionExpression: condition,
          ExpressionAttributeNames: { '#state': 'state', '#token': 'token', '#ttl': 'ttl', '#basis': 'basis' },
          ExpressionAttributeValues: {
            ':kind': 'alert',
            ':claimed': 'claimed',
            ':token': c.token,
            ':lease': c.now + LEASE_MS,
            ':ttl': Math.floor(c.now / 1000) + KEEP_S,
            ':now': c.now,
            ':basis': c.basis,
            ...(c.before === undefined ? {} : { ':sent': 'sent', ':before': c.before }),
          },
          ReturnValues: 'ALL_NEW',
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      return { claim: { holder: 'mine', delivered: deliveredOf(out.Attributes?.delivered) } };
    } catch (e) {
      if (!isConditionalCheckFailed(e)) throw e;
      const old = refusedItem(e);
      // Refused by our own claim: an attempt the SDK sent again after the first committed (its
      // answer lost) finds the token it wrote. Read as another's, the level would wait for its
      // lease to lapse (a minute), holding the stream's shard and the counters behind it (found by review).
      if (old.token === c.token && old.state === 'claimed') return { claim: { holder: 'mine', delivered: deliveredOf(old.delivered) } };
      return { old };
    }
  }

  /** What a marker that could not be claimed says: announced, or another's claim live until when. */
  private outcome(old: Record<string, unknown> | undefined, now: number): Claim {
    if (rawValue(old, 'state') === 'sent') return { holder: 'sent' };
    const until = rawValue(old, 'lease_until');
    return { holder: 'other', until: typeof until === 'number' ? until : now + LEASE_MS };
  }

  async confirm(ref: ItemRef, token: string, at: string): Promise<void> {
    await this.client.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: ref,
        UpdateExpression: 'SET #state = :sent, sent_at = :at REMOVE lease_until',
        ConditionExpression: '#token = :token',
        ExpressionAttributeNames: { '#state': 'state', '#token': 'token' },
        ExpressionAttributeValues: { ':sent': 'sent', ':at': at, ':token': token },
      }),
    );
  }

  /**
   * Gives a claim back after a failed delivery (only our own), with the sinks that took it: the
   * next claim, at once, delivers to the others only.
   */
  async release(ref: ItemRef, token: string, delivered: ReadonlySet<string>): Promise<void> {
    await this.client
      .send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: ref,
          UpdateExpression: 'SET delivered = :delivered, lease_until = :lapsed',
          ConditionExpression: '#state = :claimed AND #token = :token',
          ExpressionAttributeNames: { '#state': 'state', '#token': 'token' },
          ExpressionAttributeValues: {
            ':claimed': 'claimed',
            ':token': token,
            ':delivered': [...delivered].sort(),
            ':lapsed': 0,
          },
        }),
      )
      .catch((e) => {
        if (!isConditionalCheckFailed(e)) throw e;
      });
  }
}
