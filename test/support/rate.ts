/** Rate-limit helpers: items as a dead instance would have left them; calls that must share a minute window. */
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { documentClient } from '../../lib/app/index.js';
import { MINUTE_MS } from '../../lib/domain/rate-limits.js';
import { tableName } from '../../lib/store/client.js';
import type { Item } from '../../lib/store/codec.js';

export const putItem = (item: Item) => documentClient().send(new PutCommand({ TableName: tableName(), Item: item }));

/**
 * Waits until at least `ms` remain in the current minute, so a test's calls on the real clock share
 * one rate-limit window (windows are calendar minutes: two calls astride a minute's end are two windows).
 */
export async function roomInMinute(ms: number): Promise<void> {
  const left = MINUTE_MS - (Date.now() % MINUTE_MS);
  if (left < ms) await new Promise((r) => setTimeout(r, left + 50));
}
