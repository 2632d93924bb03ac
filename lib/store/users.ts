import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { isConditionalCheckFailed } from './errors.js';
import { StoreUnavailableError } from '../errors.js';
import type { UserRecord } from '../domain/records.js';
import { documentClient, tableName } from './client.js';
import { encode } from './codec.js';
import { entityReader } from './index.js';
import { refs } from './keys.js';

/**
 * Creates an internal user the first time a JWT names it (TOLLGATE_JWT_UPSERT_USER). The put is
 * conditional: a user created meanwhile (or by an admin) is kept as it is.
 */
export async function createUserIfAbsent(userId: string): Promise<UserRecord> {
  const user: UserRecord = { user_id: userId, user_role: 'internal_user', spend: 0, created_at: new Date().toISOString() };
  try {
    await documentClient().send(
      new PutCommand({ TableName: tableName(), Item: encode.user(user), ConditionExpression: 'attribute_not_exists(PK)' }),
    );
    entityReader().loader.invalidate(refs.user(userId));
    return user;
  } catch (e) {
    if (isConditionalCheckFailed(e)) {
      const existing = await entityReader().user(userId);
      if (existing) return existing;
    }
    throw new StoreUnavailableError();
  }
}
