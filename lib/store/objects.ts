/**
 * Who made each upstream object (lib/domain/tenancy): one item per object, `OBJECT#<id>` /
 * `OBJECT`, written when Tollgate relays its creation and read when anyone names it. Nothing here
 * is cached: a deleted object must be gone for everyone at once.
 */
import { randomUUID } from 'node:crypto';
import {
  BatchGetCommand,
  DeleteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { firstLookAt, type ObjectOwner } from '../domain/tenancy.js';
import { StoreUnavailableError } from '../errors.js';
import { logger } from '../telemetry.js';
import { decode, type Item } from './codec.js';
import { isConditionalCheckFailed, refusedItem } from './errors.js';
import { INDEX, type ItemRef } from './keys.js';

export const objectRef = (objectId: string): ItemRef => ({ PK: `OBJECT#${objectId}`, SK: 'OBJECT' });

/**
 * Pending objects, listed by when they are next looked at (lib/llm/pending): GSI1 (by kind)
 * `OBJECT_PENDING` / `<ISO time>#<object id>`, on the owner record while it is pending; the
 * claim of its bill removes it. Records made pending before this was kept are not listed.
 */
const PENDING_KIND = 'OBJECT_PENDING';
const pendingSk = (at: Date, objectId: string): string => `${at.toISOString()}#${objectId}`;
const pendingKeys = (owner: ObjectOwner): Item =>
  owner.billing === 'pending'
    ? { GSI1PK: PENDING_KIND, GSI1SK: pendingSk(firstLookAt(owner.object_kind, owner.created_at), owner.object_id) }
    : {};

export interface ObjectOwners {
  get(objectId: string): Promise<ObjectOwner | undefined>;
  /** The owners of many objects at once (a list answer's page); unknown ones are absent. */
  getMany(objectIds: readonly string[]): Promise<Map<string, ObjectOwner>>;
  put(owner: ObjectOwner): Promise<void>;
  /** Records an owner unless the object has one already (never takes an object from its owner). */
  putNew(owner: ObjectOwner): Promise<void>;
  remove(objectId: string): Promise<void>;
  /** Claims a pending object's one bill: its record as it was when claimed (what was prepaid), or undefined when billed already or gone. */
  claimBilling(objectId: string): Promise<ObjectOwner | undefined>;
  /**
   * Adds what a cut stream of a pending object charges to its record, before it is charged
   * (negative: takes back a charge that was not recorded): false when it is no longer pending
   * (its bill claimed, or gone).
   */
  prepay(objectId: string, prepayment: Prepayment): Promise<boolean>;
  /** Pending objects due to be looked at by `now` (oldest first), at most `limit`. */
  duePending(now: Date, limit: number): Promise<ObjectOwner[]>;
  /** Looks at a pending object again at `at` (nothing when it is no longer pending). */
  postpone(objectId: string, at: Date): Promise<void>;
  /** Records the model an object (an assistant) now runs; nothing when its record is gone (deleted meanwhile). */
  setModel(objectId: string, model: string): Promise<void>;
}

/** What a cut stream of a pending object charges before its bill (lib/domain/tenancy's `prepaid_*`). */
export interface Prepayment {
  nanos: number;
  /** The tokens it counts in its rate windows. */
  tokens: number;
  /** The input and output tokens its spend log shows. */
  inputTokens: number;
  outputTokens: number;
}

const BATCH = 100;

export class DynamoObjectOwners implements ObjectOwners {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  /**
   * A store call: DynamoDB's refusal of a condition as it comes (the callers read it), any other
   * failure (an outage, a deadline) as 503 `store_unavailable`, never an opaque 500 (found by
   * review: an object route answered 500 with DynamoDB down).
   */
  private async guard<T>(call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (e) {
      if (isConditionalCheckFailed(e)) throw e;
      logger().error('object owner store call failed', { error: (e as Error)?.name });
      throw new StoreUnavailableError();
    }
  }

  async get(objectId: string): Promise<ObjectOwner | undefined> {
    const out = await this.guard(() =>
      this.client.send(new GetCommand({ TableName: this.tableName, Key: objectRef(objectId), ConsistentRead: true })),
    );
    return out.Item ? decode<ObjectOwner>(out.Item) : undefined;
  }

  async getMany(objectIds: readonly string[]): Promise<Map<string, ObjectOwner>> {
    const found = new Map<string, ObjectOwner>();
    const ids = [...new Set(objectIds)];
    for (let i = 0; i < ids.length; i += BATCH) {
      let keys: Item[] = ids.slice(i, i + BATCH).map(objectRef) as unknown as Item[];
      for (let round = 0; keys.length > 0 && round < 5; round++) {
        const out = await this.guard(() =>
          this.client.send(new BatchGetCommand({ RequestItems: { [this.tableName]: { Keys: keys, ConsistentRead: true } } })),
        );
        for (const item of out.Responses?.[this.tableName] ?? []) {
          const owner = decode<ObjectOwner>(item);
          found.set(owner.object_id, owner);
        }
        keys = (out.UnprocessedKeys?.[this.tableName]?.Keys ?? []) as Item[];
      }
    }
    return found;
  }

  async put(owner: ObjectOwner): Promise<void> {
    const item = { ...objectRef(owner.object_id), kind: 'object', ...owner, ...pendingKeys(owner) };
    await this.guard(() => this.client.send(new PutCommand({ TableName: this.tableName, Item: item })));
  }

  async putNew(owner: ObjectOwner): Promise<void> {
    const item = { ...objectRef(owner.object_id), kind: 'object', ...owner, ...pendingKeys(owner) };
    try {
      await this.guard(() =>
        this.client.send(new PutCommand({ TableName: this.tableName, Item: item, ConditionExpression: 'attribute_not_exists(PK)' })),
      );
    } catch (e) {
      if (!isConditionalCheckFailed(e)) throw e;
    }
  }

  async remove(objectId: string): Promise<void> {
    await this.guard(() => this.client.send(new DeleteCommand({ TableName: this.tableName, Key: objectRef(objectId) })));
  }

  prepay(objectId: string, p: Prepayment): Promise<boolean> {
    // The addition names itself: an attempt the SDK sends again after the first committed (its
    // answer lost, a timeout) finds its own name and adds nothing twice (found by review, as the
    // claim's). Refused, the record as it was says whether that was this addition or the record
    // is no longer pending.
    const mark = randomUUID();
    return this.updateIf(
      objectId,
      'SET prepay_mark = :mark ADD prepaid_nanos :n, prepaid_tokens :t, prepaid_input_tokens :i, prepaid_output_tokens :o',
      'billing = :pending AND (attribute_not_exists(prepay_mark) OR prepay_mark <> :mark)',
      { ':mark': mark, ':pending': 'pending', ':n': p.nanos, ':t': p.tokens, ':i': p.inputTokens, ':o': p.outputTokens },
      { mine: (old) => old.prepay_mark === mark },
    );
  }

  async duePending(now: Date, limit: number): Promise<ObjectOwner[]> {
    const out = await this.guard(() =>
      this.client.send(
        new QueryCommand({
          TableName: this.tableName,
          IndexName: INDEX.byKind,
          KeyConditionExpression: 'GSI1PK = :kind AND GSI1SK <= :due',
          // `~` sorts after the `#` that ends the time: every object due at `now` itself.
          ExpressionAttributeValues: { ':kind': PENDING_KIND, ':due': `${now.toISOString()}~` },
          Limit: limit,
        }),
      ),
    );
    const ids = (out.Items ?? []).map((i) => String(i.PK).slice(objectRef('').PK.length));
    const found = await this.getMany(ids);
    return ids.flatMap((id) => {
      const owner = found.get(id);
      return owner?.billing === 'pending' ? [owner] : [];
    });
  }

  async postpone(objectId: string, at: Date): Promise<void> {
    await this.updatePending(objectId, 'SET GSI1PK = :kind, GSI1SK = :sk', { ':kind': PENDING_KIND, ':sk': pendingSk(at, objectId) });
  }

  async setModel(objectId: string, model: string): Promise<void> {
    // Never brings back a record a deletion removed meanwhile (found by review: a put did).
    await this.updateIf(objectId, 'SET #model = :model', 'attribute_exists(PK)', { ':model': model }, { names: { '#model': 'model' } });
  }

  /** An update of a record still pending: false when it is not (its bill claimed, or gone). */
  private updatePending(objectId: string, update: string, values: Record<string, unknown>): Promise<boolean> {
    return this.updateIf(objectId, update, 'billing = :pending', { ...values, ':pending': 'pending' });
  }

  /**
   * An update under a condition: false when the condition does not hold (nothing written), unless
   * `mine` finds, in the record as it was, that this very update made it fail (its own earlier
   * attempt committed).
   */
  private async updateIf(
    objectId: string,
    update: string,
    condition: string,
    values: Record<string, unknown>,
    opts: { names?: Record<string, string>; mine?: (old: Record<string, unknown>) => boolean } = {},
  ): Promise<boolean> {
    try {
      await this.guard(() =>
        this.client.send(
          new UpdateCommand({
            TableName: this.tableName,
            Key: objectRef(objectId),
            UpdateExpression: update,
            ConditionExpression: condition,
            ...(opts.names ? { ExpressionAttributeNames: opts.names } : {}),
            ExpressionAttributeValues: values,
            ...(opts.mine ? { ReturnValuesOnConditionCheckFailure: 'ALL_OLD' as const } : {}),
          }),
        ),
      );
      return true;
    } catch (e) {
      if (!isConditionalCheckFailed(e)) throw e;
      return opts.mine?.(refusedItem(e)) ?? false;
    }
  }

  async claimBilling(objectId: string): Promise<ObjectOwner | undefined> {
    // The claim names itself: an attempt the SDK sends again after the first committed (its
    // answer lost, a timeout) finds its own claim and gets the record, where `billing = pending`
    // alone would fail it and the bill this call claimed would be charged by no one (found by review).
    const claim = randomUUID();
    try {
      const out = await this.guard(() =>
        this.client.send(
          new UpdateCommand({
            TableName: this.tableName,
            Key: objectRef(objectId),
            UpdateExpression: 'SET billing = :billed, billing_claim = :claim REMOVE GSI1PK, GSI1SK',
            ConditionExpression: 'billing = :pending OR billing_claim = :claim',
            ExpressionAttributeValues: { ':billed': 'billed', ':pending': 'pending', ':claim': claim },
            // What a cut stream prepaid up to the claim: a record read before it would miss it.
            ReturnValues: 'ALL_OLD',
          }),
        ),
      );
      return out.Attributes ? decode<ObjectOwner>(out.Attributes) : undefined;
    } catch (e) {
      if (isConditionalCheckFailed(e)) return undefined;
      throw e;
    }
  }
}
