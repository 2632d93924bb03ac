/**
 * Tokens billed after their call (a background response, a batch: RateLimiter.countTokens) on a
 * tpm spread over shards: spread over the shards that admit, by their shares, so the whole
 * window sees them. All on one shard, they closed that shard alone and the others went on
 * admitting their full shares: the window took the limit again on top of them.
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
const tokensOn = async (limit: RateLimit, shards: number) => {
  const minute = Math.floor(at / MINUTE_MS);
  return Promise.all(
    Array.from({ length: shards }, async (_, k) => (await readItem(rateRefs.window(limit, minute, k, sizes)))?.tokens ?? 0),
  );
};

describe('tokens counted later, over shards', () => {
  it('tpm 3000 over 3 shards: 3000 tokens fill every shard, and the next call is refused', async () => {
    const limit: RateLimit = { scope: 'team', owner: 'team', id: 'later-3', label: 'later-3', tpm: 3000 };
    await limiter.countTokens([limit], 3000);
    expect(await tokensOn(limit, 3)).toEqual([1000, 1000, 1000]);
    expect((await admit(limit, 1)).admitted).toBe(false);
  });

  it('spread by share, only over shards that admit (rpm 2 over 4 shards: the two with a share)', async () => {
    const limit: RateLimit = { scope: 'team', owner: 'team', id: 'later-sparse', label: 'later-sparse', rpm: 2, tpm: 4000 };
    await limiter.countTokens([limit], 1001);
    expect(await tokensOn(limit, 4)).toEqual([501, 500, 0, 0]);
  });
});
