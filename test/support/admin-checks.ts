/**
 * What the admin tests look at besides answers: the whole table (to prove a refused request
 * changed nothing, or that no plaintext key was written), and the authorizer as another Lambda
 * instance would run it (its own cache, which admin writes in this process do not invalidate).
 */
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import { expect } from 'vitest';
import { handler as authorizerHandler } from '../../functions/authorizer/handler.js';
import { configureApp, documentClient } from '../../lib/app/index.js';
import { config } from '../../lib/config.js';
import { masterKey } from '../../lib/secrets.js';
import { tableName } from '../../lib/store/client.js';
import type { Item } from '../../lib/store/codec.js';
import { CachedLoader, DynamoBatchSource, EntityReader } from '../../lib/store/index.js';
import { authorizerEvent } from './seed.js';

/** Every item of the table (a Scan is fine in a test; the API never scans). */
export async function scanTable(): Promise<Item[]> {
  const items: Item[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const res = await documentClient().send(new ScanCommand({ TableName: tableName(), ExclusiveStartKey: start, ConsistentRead: true }));
    items.push(...(res.Items ?? []));
    start = res.LastEvaluatedKey;
  } while (start);
  return items;
}

/** The table as a comparable value (order-independent). */
export async function snapshot(): Promise<string[]> {
  return (await scanTable()).map((i) => JSON.stringify(i, Object.keys(i).sort())).sort();
}

/** Runs `fn` and asserts the table is exactly as before. */
export async function expectUnchanged(fn: () => Promise<unknown>): Promise<void> {
  const before = await snapshot();
  await fn();
  expect(await snapshot()).toEqual(before);
}

export type AuthorizerOutcome = { effect: 'allow' } | { effect: 'deny'; code: string } | { effect: 'unauthorized' };

/**
 * The authorizer of another Lambda instance: its own entity reader and cache, built from the
 * configuration (TOLLGATE_CACHE_TTL_SECONDS). Admin writes here invalidate only this process's
 * shared reader, so this one sees them only after its cache TTL, as a real other instance would.
 */
export function otherInstance(): { authorize(key: string, path?: string): Promise<AuthorizerOutcome> } {
  const c = config();
  const reader = new EntityReader(
    new CachedLoader(new DynamoBatchSource(documentClient(), c.tableName, true), {
      ttlMs: c.cache.ttlMs,
      negativeTtlMs: c.cache.negativeTtlMs,
      maxEntries: 1000,
    }),
  );
  return {
    async authorize(key, path = '/chat/completions') {
      // This instance's reader stands in for the process's while it authorizes, then steps back.
      configureApp({ entityReader: reader, masterKey });
      try {
        const result = await authorizerHandler(
          authorizerEvent({ method: 'POST', path, headers: { Authorization: `Bearer ${key}` } }),
          {} as never,
        );
        const effect = (result.policyDocument.Statement[0] as { Effect: string }).Effect;
        return effect === 'Allow' ? { effect: 'allow' } : { effect: 'deny', code: String(result.context?.code) };
      } catch (e) {
        if ((e as Error).message === 'Unauthorized') return { effect: 'unauthorized' };
        throw e;
      } finally {
        configureApp({ entityReader: undefined, masterKey: undefined });
      }
    },
  };
}

/** Waits out the cache TTL (plus a margin). */
export const afterCacheTtl = (): Promise<void> => new Promise((r) => setTimeout(r, config().cache.ttlMs + 150));
