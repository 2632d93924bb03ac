/**
 * Alert markers: one item per (entity, window, level) announced, `ALERT#<entity>#<id>` /
 * `<window>#<level>`. Announcing is two-phase: a consumer claims the marker (conditional put:
 * absent, or claimed by one that died more than a lease ago), delivers, then confirms it; a
 * delivery that fails gives the claim back, so the stream's retry delivers it. Exactly once in
 * the normal case, however many consumers see the crossing; at least once should one die between
 * delivering and confirming (its claim lapses and the next consumer delivers again).
 */
import { DeleteCommand, type DynamoDBDocumentClient, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { isConditionalCheckFailed } from './errors.js';
import type { ItemRef } from './keys.js';

/** The key prefix of alert markers (infra grants the table-stream function these). */
export const ALERT_MARKER_PREFIX = 'ALERT#';

export const alertRef = (entity: string, id: string, window: string, level: string): ItemRef => ({
  PK: `${ALERT_MARKER_PREFIX}${entity}#${id}`,
  SK: `${window}#${level}`,
});

const LEASE_MS = 60_000;
/** Markers outlive any budget window they could still matter for (at most ten years), then expire. */
const KEEP_S = 3660 * 86_400;

export class AlertMarkers {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
    private readonly clock: () => number = Date.now,
  ) {}

  /** True when this caller may announce the level now (it holds the claim `token`). */
  async claim(ref: ItemRef, token: string): Promise<boolean> {
    const now = this.clock();
    try {
      await this.client.send(
        new PutCommand({
          TableName: this.tableName,
          Item: { ...ref, kind: 'alert', state: 'claimed', token, lease_until: now + LEASE_MS, ttl: Math.floor(now / 1000) + KEEP_S },
          ConditionExpression: 'attribute_not_exists(PK) OR (#state = :claimed AND lease_until < :now)',
          ExpressionAttributeNames: { '#state': 'state' },
          ExpressionAttributeValues: { ':claimed': 'claimed', ':now': now },
        }),
      );
      return true;
    } catch (e) {
      if (isConditionalCheckFailed(e)) return false;
      throw e;
    }
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

  /** Gives a claim back after a failed delivery (only our own). */
  async release(ref: ItemRef, token: string): Promise<void> {
    await this.client
      .send(
        new DeleteCommand({
          TableName: this.tableName,
          Key: ref,
          ConditionExpression: '#state = :claimed AND #token = :token',
          ExpressionAttributeNames: { '#state': 'state', '#token': 'token' },
          ExpressionAttributeValues: { ':claimed': 'claimed', ':token': token },
        }),
      )
      .catch((e) => {
        if (!isConditionalCheckFailed(e)) throw e;
      });
  }
}
