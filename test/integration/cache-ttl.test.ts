/**
 * The staleness contract: a change written to the table reaches the authorizer within the cache
 * TTL (TOLLGATE_CACHE_TTL_SECONDS), not before; unknown keys are cached as absent for as long.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { beforeAll, describe, expect, it } from 'vitest';
import { generateKey, hashKey, keyName } from '../../lib/auth/keys.js';
import { encode } from '../../lib/store/codec.js';
import { entityReader } from '../../lib/store/index.js';
import { authorize, bearer } from '../support/authorizer.js';
import { authorizerEvent, put, seedKey, seedTeam } from '../support/seed.js';
import { useTestTable } from '../support/table.js';

const TTL_MS = 1000;
const ATTEMPTS = 3;
const chat = (key: string) => authorizerEvent({ headers: bearer(key) });
const batches = () => entityReader().loader.stats.batches;

/**
 * Caches a caller, changes the table behind the cache, and authorizes again. Returns the
 * answer given while the cache was provably fresh (counted from before the entry was read), or
 * tries again with new items when a loaded machine took longer than the TTL to get there.
 */
async function changeBehindTheCache(setup: (attempt: number) => Promise<{ key: string; change: () => Promise<void> }>) {
  for (let attempt = 1; ; attempt++) {
    const { key, change } = await setup(attempt);
    const started = performance.now();
    const first = await authorize(chat(key));
    await change();
    const reads = batches();
    const stale = await authorize(chat(key));
    const elapsed = performance.now() - started;
    if (elapsed >= TTL_MS && attempt < ATTEMPTS) continue;
    expect(elapsed).toBeLessThan(TTL_MS);
    // Served from the cache: no read between the change and this answer.
    expect(batches()).toBe(reads);
    await sleep(TTL_MS - elapsed + 50);
    return { key, first, stale };
  }
}

beforeAll(async () => {
  await useTestTable({ TOLLGATE_CACHE_TTL_SECONDS: String(TTL_MS / 1000) });
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
});
