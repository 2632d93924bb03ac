/**
 * A window spread over shards for its tpm, with an rpm smaller than the shard count: most shards
 * hold an rpm share of 0. Such a shard must never admit (an empty item passed its condition,
 * `attribute_not_exists(requests) OR requests < 0`, so each admitted one request a minute beyond
 * the limit), and is not written to (a round trip, and a write unit even when refused).
 */
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { documentClient } from '../../../lib/app/index.js';
import { type RateLimit, TPM_PER_SHARD } from '../../../lib/domain/rate-limits.js';
import { tableName } from '../../../lib/store/client.js';
import { DynamoRateLimiter } from '../../../lib/store/rate-limits.js';
import { useTestTable } from '../../support/table.js';

const at = Date.UTC(2026, 11, 5, 12, 0, 10);
let writes = 0;
let small: DynamoRateLimiter;
let real: DynamoRateLimiter;

beforeAll(async () => {
  await useTestTable();
  const client = documentClient();
  const counting = {
    send: (c: never) => {
      writes++;
      return client.send(c);
    },
  };
  small = new DynamoRateLimiter(counting as never, tableName(), () => at, { rpm: 10, tpm: 1000, leases: 2 });
  real = new DynamoRateLimiter(client, tableName(), () => at);
});

const admitter = (limiter: DynamoRateLimiter, limit: RateLimit) => (i: number) =>
  limiter.admit({ requestId: `r-${limit.id}-${i}`, at, limits: [limit], estimateTokens: 0, leaseUntil: at + 60_000 });

describe('shards with no share of the rpm', () => {
  it('rpm 2 over 32 shards (for its tpm): exactly 2 admitted, each admission or refusal writing at most the 2 shards that hold them', async () => {
    const admit = admitter(small, { scope: 'team', owner: 'team', id: 'wide-tpm', label: 'wide-tpm', rpm: 2, tpm: 32_000 });
    const outcomes: boolean[] = [];
    const perCall: number[] = [];
    for (let i = 0; i < 6; i++) {
      const before = writes;
      outcomes.push((await admit(i)).admitted);
      perCall.push(writes - before);
    }
    expect(outcomes).toEqual([true, true, false, false, false, false]);
    expect(Math.max(...perCall)).toBeLessThanOrEqual(2);
  });

  it('with the default sizes: tpm 30,000,000 (10 shards) and rpm 5 admit 5 a minute, not 10', async () => {
    const admit = admitter(real, { scope: 'team', owner: 'team', id: 'wide-default', label: 'wide', rpm: 5, tpm: 10 * TPM_PER_SHARD });
    const outcomes = await Promise.all(Array.from({ length: 30 }, (_, i) => admit(i)));
    expect(outcomes.filter((o) => o.admitted).length).toBe(5);
  });

  it('refused for its tokens on every shard that admits: named a tpm refusal, whatever shard was looked at last', async () => {
    const limit: RateLimit = { scope: 'team', owner: 'team', id: 'wide-full', label: 'wide-full', rpm: 4, tpm: 64_000 };
    await small.countTokens([limit], 64_000);
    // From shard 0: the last looked at is shard 31, one with no share of the rpm.
    const random = vi.spyOn(Math, 'random').mockReturnValue(0);
    try {
      const o = await admitter(small, limit)(1);
      expect(o.admitted === false && o.denials.map((d) => d.kind)).toEqual(['tpm']);
    } finally {
      random.mockRestore();
    }
  });
});
