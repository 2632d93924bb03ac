/**
 * The indexes project keys only (lib/store/schema): a counter moving on an item then writes no
 * index, which is most of a settlement's write units. A query of an index returns keys; this
 * reads the items they name from the base table, in the index's order, in BatchGetItem pages
 * of 100. An item deleted between the query and the read is left out.
 */
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { Item } from './codec.js';
import { type ItemRef, refKey } from './keys.js';
import { DynamoBatchSource } from './loader.js';

const BATCH_GET_MAX = 100;

export async function hydrate(
  client: DynamoDBDocumentClient,
  tableName: string,
  keys: readonly Record<string, unknown>[],
): Promise<Item[]> {
  if (keys.length === 0) return [];
  const refs = keys.map((k) => ({ PK: String(k.PK), SK: String(k.SK) }) as ItemRef);
  const source = new DynamoBatchSource(client, tableName, false);
  const found = new Map<string, Item>();
  for (let i = 0; i < refs.length; i += BATCH_GET_MAX) {
    for (const [k, item] of await source.getMany(refs.slice(i, i + BATCH_GET_MAX))) found.set(k, item);
  }
  return refs.map((r) => found.get(refKey(r))).filter((i): i is Item => i !== undefined);
}
