/**
 * The staleness contract: a change written to the table reaches the authorizer within the cache
 * TTL (TOLLGATE_CACHE_TTL_SECONDS), not before; unknown keys are cached as absent for as long.
 * And the other cache settings: a shorter negative TTL, the bound on entries, consistent reads.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { documentClient, entityReader } from '../../lib/app/index.js';
import { generateKey, hashKey, keyName } from '../../lib/auth/keys.js';
import { encode } from '../../lib/store/codec.js';
import { refKey } from '../../lib/store/keys.js';
import { type BatchSource, CachedLoader } from '../../lib/store/loader.js';
import { authorize, bearer } from '../support/authorizer.js';
import { authorizerEvent, put, seedKey, seedTeam } from '../support/seed.js';
import { reconfigure, type TestTable, useTestTable } from '../support/table.js';

const TTL_MS = 1000;
const ATTEMPTS = 3;
const chat = (key: string) => authorizerEvent({ headers: bearer(key) });
const batches = () => entityReader().loader.stats.batches;

/**
 * Caches a caller, changes the table behind the cache, and authorizes again. Returns the
 * answer given while the cache was provably fresh (counted from before the entry was read), or
 * tries again with new items when a loaded machine took longer than the TTL to get there; then
 * waits until the TTL has passed since the change, the moment the contract says it is seen.
 */
async function changeBehindTheCache(setup: (attempt: number) => Promise<{ key: string; change: () => Promise<void> }>) {
  for (let attempt = 1; ; attempt++) {
    const { key, change } = await setup(attempt);
    const started = performance.now();
    const first = await authorize(chat(key));
    await change();
    const changed = performance.now();
    const reads = batches();
    const stale = await authorize(chat(key));
    const elapsed = performance.now() - started;
    if (elapsed >= TTL_MS && attempt < ATTEMPTS) continue;
    expect(elapsed).toBeLessThan(TTL_MS);
    // Served from the cache: no read between the change and this answer.
    expect(batches()).toBe(reads);
    // Items read one after the other expire one after the other: the bound runs from the change.
    await sleep(Math.max(0, changed + TTL_MS + 20 - performance.now()));
    return { key, first, stale };
  }
}

let table: TestTable;
const ENV = { TOLLGATE_CACHE_TTL_SECONDS: String(TTL_MS / 1000) };

beforeAll(async () => {
  table = await useTestTable(ENV);
});

describe('cache TTL (TOLLGATE_CACHE_TTL_SECONDS=1)', () => {
  it('a team blocked by a direct write is still allowed before the TTL and denied after it', async () => {
    const { key, first, stale } = await changeBehindTheCache(async (attempt) => {
      const team = await seedTeam({ team_id: `t-ttl-${attempt}` });
      const { key } = await seedKey({ team_id: team.team_id });
      return { key, change: () => put(encode.team({ ...team, blocked: true })) };
    });
    expect(first.effect).toBe('allow');
    expect(stale.effect).toBe('allow');
    expect(await authorize(chat(key))).toMatchObject({ effect: 'deny', context: { code: 'team_blocked' } });
  });

  it('an unknown key stays unknown until the negative entry expires, then is found', async () => {
    const { key, first, stale } = await changeBehindTheCache(async () => {
      const key = generateKey();
      return { key, change: () => put(encode.key({ token: hashKey(key), key_name: keyName(key), created_at: new Date().toISOString() })) };
    });
    expect(first.status).toBe(401);
    expect(stale.status).toBe(401);
    expect((await authorize(chat(key))).effect).toBe('allow');
  });

  it("an item changed while its read is in flight is served for at most the TTL from the read's start, however slow the read", async () => {
    const ref = { PK: 'TEAM#t-slow-read', SK: 'TEAM' };
    let version = 1;
    let reads = 0;
    let begun = (): void => undefined;
    const readBegun = new Promise<void>((r) => (begun = r));
    // A read that sees the version of its start and answers 300 ms later.
    const slow: BatchSource = {
      async getMany(refs) {
        reads++;
        const seen = version;
        begun();
        await sleep(300);
        return new Map(refs.map((r) => [refKey(r), { ...r, version: seen }]));
      },
    };
    const loader = new CachedLoader(slow, { ttlMs: 500, negativeTtlMs: 500, maxEntries: 10 });
    const readStarted = performance.now();
    const pending = loader.load(ref);
    await readBegun;
    version = 2;
    expect(await pending).toMatchObject({ version: 1 });
    // 500 ms after the read began (200 ms after its answer), version 1 is no longer served.
    await sleep(Math.max(0, readStarted + 520 - performance.now()));
    expect(await loader.load(ref)).toMatchObject({ version: 2 });
    expect(reads).toBe(2);
  });
});

describe('the other cache settings', () => {
  afterAll(() => reconfigure(table.config, ENV));

  it('TOLLGATE_NEGATIVE_CACHE_TTL_SECONDS: an unknown key is looked up again after it, while known items keep the cache TTL', async () => {
    reconfigure(table.config, { TOLLGATE_CACHE_TTL_SECONDS: '60', TOLLGATE_NEGATIVE_CACHE_TTL_SECONDS: '0.2' });
    const team = await seedTeam({ team_id: 't-negative-ttl' });
    const { key: known } = await seedKey({ team_id: team.team_id });
    const unknown = generateKey();
    expect((await authorize(chat(known))).effect).toBe('allow');
    expect((await authorize(chat(unknown))).status).toBe(401);
    await put(encode.key({ token: hashKey(unknown), key_name: keyName(unknown), created_at: new Date().toISOString() }));
    await put(encode.team({ ...team, blocked: true }));
    await sleep(300);
    expect((await authorize(chat(unknown))).effect).toBe('allow');
    // The team block is 0.3 s old: within the 60 s cache TTL, not seen yet.
    expect((await authorize(chat(known))).effect).toBe('allow');
  });

  it('TOLLGATE_CACHE_MAX_ENTRIES bounds the items an instance keeps: the least recently used go', async () => {
    reconfigure(table.config, { TOLLGATE_CACHE_TTL_SECONDS: '60', TOLLGATE_CACHE_MAX_ENTRIES: '3' });
    const keys = Array.from({ length: 5 }, () => generateKey());
    // Unknown keys: remembered as absent, apart from real entities (loader.size counts those: none), under the same bound.
    for (const key of keys) expect((await authorize(chat(key))).status).toBe(401);
    expect(entityReader().loader.size).toBe(0);
    const reads = batches();
    await authorize(chat(keys[4] as string));
    expect(batches()).toBe(reads);
    await authorize(chat(keys[0] as string));
    expect(batches()).toBe(reads + 1);
  });

  it('TOLLGATE_CONSISTENT_READS: strongly consistent reads by default, eventually consistent when false', async () => {
    const consistentRead = async (): Promise<unknown> => {
      const seen: unknown[] = [];
      const name = 'capture-consistent-read';
      documentClient().middlewareStack.add(
        (next) => async (args) => {
          const input = args.input as { RequestItems?: Record<string, { ConsistentRead?: boolean }> };
          if (input.RequestItems) seen.push(input.RequestItems[table.tableName]?.ConsistentRead);
          return next(args);
        },
        { step: 'initialize', name },
      );
      try {
        await authorize(chat(generateKey()));
      } finally {
        documentClient().middlewareStack.remove(name);
      }
      expect(seen).toHaveLength(1);
      return seen[0];
    };
    reconfigure(table.config, ENV);
    expect(await consistentRead()).toBe(true);
    reconfigure(table.config, { ...ENV, TOLLGATE_CONSISTENT_READS: 'false' });
    expect(await consistentRead()).toBe(false);
  });
});
