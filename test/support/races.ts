/** A write that lands meanwhile: between an admin action's reads and its transaction. */
import { TransactWriteCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { vi } from 'vitest';
import { documentClient } from '../../lib/app/index.js';
import { tableName } from '../../lib/store/client.js';
import type { ItemRef } from '../../lib/store/keys.js';
import { CHILD_AT_ATTR, INDEX_LAG_MS } from '../../lib/store/writes.js';

/** Runs `meanwhile` just before the next transaction is sent: after its action has read, before it writes. */
export function beforeNextWrite(meanwhile: () => Promise<unknown>): void {
  const client = documentClient();
  const send = client.send.bind(client);
  let armed = true;
  vi.spyOn(client, 'send').mockImplementation((async (cmd: unknown) => {
    if (armed && cmd instanceof TransactWriteCommand) {
      armed = false;
      await meanwhile();
    }
    return send(cmd as never);
  }) as typeof client.send);
}

/**
 * The parent's children were added long enough ago for the indexes to show them: its delete lists
 * them at once instead of waiting out the index lag (lib/admin/cascade untilIndexed). For tests
 * timing something else across a delete (the authorizer's cache).
 */
export async function childrenIndexed(parent: ItemRef): Promise<void> {
  await documentClient().send(
    new UpdateCommand({
      TableName: tableName(),
      Key: parent,
      UpdateExpression: 'SET #at = :at',
      ConditionExpression: 'attribute_exists(PK)',
      ExpressionAttributeNames: { '#at': CHILD_AT_ATTR },
      ExpressionAttributeValues: { ':at': Date.now() - INDEX_LAG_MS },
    }),
  );
}
