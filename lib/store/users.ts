import { type DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import type { UserRecord } from '../domain/records.js';
import { StoreUnavailableError } from '../errors.js';
import { encode } from './codec.js';
import type { EntityReader } from './entities.js';
import { isConditionalCheckFailed } from './errors.js';
import { refs } from './keys.js';

/**
 * Creates an internal user the first time a JWT names it (TOLLGATE_JWT_UPSERT_USER). The put is
 * conditional: a user created meanwhile (or by an admin) is kept as it is.
 */
export async function createUserIfAbsent(
  client: DynamoDBDocumentClient,
  table: string,
  reader: EntityReader,
  userId: string,
): Promise<UserRecord> {
  const user: UserRecord = { user_id: userId, user_role: 'internal_user', spend: 0, created_at: new Date().toISOString() };
  try {
    await client.send(new PutCommand({ TableName: table, Item: encode.user(user), ConditionExpression: 'attribute_not_exists(PK)' }));
    reader.loader.invalidate(refs.user(userId));
    return user;
  } catch (e) {
    if (isConditionalCheckFailed(e)) {
      // Made meanwhile (another instance, an admin): read it from the table, not from this
      // instance's cache, which may remember it as absent (a 503 until that entry expired).
      reader.loader.invalidate(refs.user(userId));
      const existing = await reader.user(userId);
      if (existing) return existing;
    }
    throw new StoreUnavailableError();
  }
}
