/**
 * Rate limits of hot subjects spread over shards (lib/store/rate-limits): the shards together
 * never admit more than the limit, and under concurrency they admit exactly the limit. Small
 * shard sizes make a limit of 50 five shards here; the code path is the one a limit of 150,000
 * requests a minute takes with the default sizes.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { documentClient } from '../../../lib/app/index.js';
import { MINUTE_MS, type RateLimit } from '../../../lib/domain/rate-limits.js';
import { tableName } from '../../../lib/store/client.js';
import { DynamoRateLimiter, rateRefs } from '../../../lib/store/rate-limits.js';
import { readItem } from '../../support/spend.js';
import { useTestTable } from '../../support/table.js';

const at = Date.UTC(2026, 11, 5, 12, 0, 10);
const sizes = { rpm: 10, tpm: 1000, leases: 2 };
let limiter: DynamoRateLimiter;

beforeAll(async () => {
  await useTestTable();
  limiter = new DynamoRateLimiter(documentClient(), tableName(), () => at, sizes);
});

const admit = (limit: RateLimit, i: number) =>
  limiter.admit({ requestId: `r-${limit.id}-${i}`, at, limits: [limit], estimateTokens: 0, leaseUntil: at + 60_000 });

describe('sharded limits', () => {
  it('rpm 50 over 5 shards: 200 concurrent admissions admit exactly 50, 10 on each shard', async () => {
    const limit: RateLimit = { scope: 'team', owner: 'team', id: 'hot-team', label: 'hot-team', rpm: 50 };
    const outcomes = await Promise.all(Array.from({ length: 200 }, (_, i) => admit(limit, i)));
    expect(outcomes.filter((o) => o.admitted).length).toBe(50);
    const refused = outcomes.find((o) => !o.admitted);
    expect(refused && !refused.admitted && refused.denials[0]?.kind).toBe('rpm');
    const minute = Math.floor(at / MINUTE_MS);
    const perShard = await Promise.all(
      [0, 1, 2, 3, 4].map(async (k) => (await readItem(rateRefs.window(limit, minute, k, sizes)))?.requests),
    );
    expect(perShard).toEqual([10, 10, 10, 10, 10]);
  });

  it('parallel 5 over 3 shards: 40 concurrent calls hold exactly 5 slots; released, 5 again', async () => {
    const limit: RateLimit = { scope: 'key', owner: 'key', id: 'hot-key', label: 'sk-...hot', parallel: 5 };
    const first = await Promise.all(Array.from({ length: 40 }, (_, i) => admit(limit, i)));
    const held = first.filter((o) => o.admitted);
    expect(held.length).toBe(5);
    for (const o of held) if (o.admitted) await limiter.finish(o.ticket, 0);
    const again = await Promise.all(Array.from({ length: 40 }, (_, i) => admit(limit, 100 + i)));
    expect(again.filter((o) => o.admitted).length).toBe(5);
  });

  it('tpm over shards: settled tokens land on the shard that admitted the call', async () => {
    const limit: RateLimit = { scope: 'key', owner: 'key', id: 'hot-tpm', label: 'sk-...tpm', tpm: 3000 };
    const minute = Math.floor(at / MINUTE_MS);
    const o = await admit(limit, 1);
    if (!o.admitted) throw new Error('refused');
    await limiter.finish(o.ticket, 700);
    const shard = o.ticket.tokenLimits[0]?.shard as number;
    expect((await readItem(rateRefs.window(limit, minute, shard, sizes)))?.tokens).toBe(700);
  });
});

describe('review findings', () => {
  it('a lease write sent twice (an SDK retry after a lost answer) counts the call once', async () => {
    const limit: RateLimit = { scope: 'key', owner: 'key', id: 'retried', label: 'sk-...retr', parallel: 2 };
    const real = documentClient();
    // A client that sends every lease write twice, as a retry after a timed-out first attempt would.
    const twice = {
      send: async (c: never) => {
        const r = await real.send(c);
        if (JSON.stringify((c as { input: unknown }).input).includes('lease#')) {
          try {
            await real.send(c);
          } catch {
            /* the retry's refusal is what we test */
          }
        }
        return r;
      },
    };
    const doubled = new DynamoRateLimiter(twice as never, tableName(), () => at, sizes);
    const o = await doubled.admit({ requestId: 'r-1', at, limits: [limit], estimateTokens: 0, leaseUntil: at + 60_000 });
    if (!o.admitted) throw new Error('refused');
    expect((await readItem(rateRefs.parallel(limit, 0)))?.inflight).toBe(1);
    await limiter.finish(o.ticket, 0);
    expect((await readItem(rateRefs.parallel(limit, 0)))?.inflight).toBe(0);
  });

  it('tokens of a call that outlasts its minute count in the minute it ends; a strict estimate is taken back from the first', async () => {
    const limit: RateLimit = { scope: 'key', owner: 'key', id: 'long-call', label: 'sk-...long', tpm: 5000 };
    let clock = at;
    const moving = new DynamoRateLimiter(documentClient(), tableName(), () => clock);
    const o = await moving.admit({ requestId: 'long', at, limits: [limit], estimateTokens: 800, leaseUntil: at + 60_000 });
    if (!o.admitted) throw new Error('refused');
    clock = at + 90_000;
    await moving.finish(o.ticket, 1000);
    const first = Math.floor(at / MINUTE_MS);
    expect((await readItem(rateRefs.window(limit, first)))?.tokens).toBe(0);
    expect((await readItem(rateRefs.window(limit, first + 1)))?.tokens).toBe(1000);
    expect((await readItem(rateRefs.window(limit, first + 1)))?.ttl).toBeGreaterThan(0);
  });

  it('a call cancelled after admission (its budget refused it) counts nowhere', async () => {
    const limit: RateLimit = { scope: 'key', owner: 'key', id: 'cancelled', label: 'sk-...canc', rpm: 1, parallel: 1 };
    const o = await admit(limit, 1);
    if (!o.admitted) throw new Error('refused');
    await limiter.cancel(o.ticket);
    expect((await admit(limit, 2)).admitted).toBe(true);
  });
});
