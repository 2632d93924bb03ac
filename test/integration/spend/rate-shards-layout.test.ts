/**
 * A limit changed so that it is spread over a different set of shards (lib/domain/rate-limits
 * windowLayout / parallelLayout). What the old layout counted in the minute (and the leases it
 * holds) still counts against the new limit: its shards were ignored, so a limit lowered from
 * several shards to one admitted it again on top of what the dropped shards held, and a limit
 * raised from one shard to two admitted the second shard's share beyond the new limit.
 * `changedAt` is when the entity changed (its `updated_at`): within a minute and the entity
 * cache's TTL of it, an admission also reads what other layouts counted.
 */
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { documentClient } from '../../../lib/app/index.js';
import type { RateLimit } from '../../../lib/domain/rate-limits.js';
import { tableName } from '../../../lib/store/client.js';
import { DynamoRateLimiter } from '../../../lib/store/rate-limits.js';
import { useTestTable } from '../../support/table.js';

const at = Date.UTC(2026, 11, 5, 12, 0, 30);
const sizes = { rpm: 10, tpm: 1000, leases: 2 };
const cacheTtlMs = 10_000;
let sends = 0;
let limiter: DynamoRateLimiter;

beforeAll(async () => {
  await useTestTable();
  const client = documentClient();
  const counting = {
    send: (c: never) => {
      sends++;
      return client.send(c);
    },
  };
  limiter = new DynamoRateLimiter(counting as never, tableName(), () => at, sizes, cacheTtlMs);
});

afterEach(() => {
  vi.restoreAllMocks();
});

const admitAll = async (limit: RateLimit, tag: string, count: number) => {
  const out = [];
  for (let i = 0; i < count; i++)
    out.push(
      await limiter.admit({ requestId: `${limit.id}-${tag}-${i}`, at, limits: [limit], estimateTokens: 0, leaseUntil: at + 60_000 }),
    );
  return out;
};
const admitted = (outcomes: { admitted: boolean }[]) => outcomes.filter((o) => o.admitted).length;
/** The same subject, its limit changed a few seconds ago. */
const changed = (limit: RateLimit, next: Partial<RateLimit>): RateLimit => ({ ...limit, ...next, changedAt: at - 5_000 });
/** Old-layout admissions land on the last shard first (shardOrder starts at the random one). */
const fromLastShard = () => vi.spyOn(Math, 'random').mockReturnValue(0.999);

describe('requests per minute across a layout change', () => {
  it('lowered from 5 shards to 1: what the dropped shards admitted still counts (10 admitted, new rpm 8: none more)', async () => {
    const old: RateLimit = { scope: 'team', owner: 'team', id: 'rpm-down', label: 'rpm-down', rpm: 50 };
    fromLastShard();
    expect(admitted(await admitAll(old, 'old', 10))).toBe(10);
    vi.restoreAllMocks();
    expect(admitted(await admitAll(changed(old, { rpm: 8 }), 'new', 20))).toBe(0);
  });

  it('lowered from 5 shards to 2: 10 admitted, new rpm 15 admits 5 more, concurrently', async () => {
    const old: RateLimit = { scope: 'team', owner: 'team', id: 'rpm-down-2', label: 'rpm-down-2', rpm: 50 };
    fromLastShard();
    expect(admitted(await admitAll(old, 'old', 10))).toBe(10);
    vi.restoreAllMocks();
    const next = changed(old, { rpm: 15 });
    const outcomes = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        limiter.admit({ requestId: `rpm-down-2-new-${i}`, at, limits: [next], estimateTokens: 0, leaseUntil: at + 60_000 }),
      ),
    );
    expect(admitted(outcomes)).toBe(5);
  });

  it('raised from 1 shard to 2: 10 admitted of rpm 10, new rpm 11 admits exactly 1 more', async () => {
    const old: RateLimit = { scope: 'key', owner: 'key', id: 'rpm-up', label: 'sk-...up', rpm: 10 };
    expect(admitted(await admitAll(old, 'old', 10))).toBe(10);
    expect(admitted(await admitAll(changed(old, { rpm: 11 }), 'new', 10))).toBe(1);
  });

  it('a per-model limit lowered the same way counts its own model only', async () => {
    const old: RateLimit = { scope: 'key_model', owner: 'key', id: 'per-model', label: 'sk-...pm', model: 'gpt-4o', rpm: 50 };
    const other: RateLimit = { ...old, model: 'gpt-4o-mini', rpm: 40 };
    fromLastShard();
    expect(admitted(await admitAll(old, 'old', 10))).toBe(10);
    expect(admitted(await admitAll(other, 'other', 10))).toBe(10);
    vi.restoreAllMocks();
    expect(admitted(await admitAll(changed(old, { rpm: 12 }), 'new', 10))).toBe(2);
  });
});

describe('tokens per minute across a layout change', () => {
  it('lowered from 5 shards to 1: 4000 tokens counted, new tpm 1000 admits none', async () => {
    const old: RateLimit = { scope: 'team', owner: 'team', id: 'tpm-down', label: 'tpm-down', tpm: 5000 };
    await limiter.countTokens([old], 4000);
    expect(admitted(await admitAll(changed(old, { tpm: 1000 }), 'new', 5))).toBe(0);
  });

  it('settled tokens of a call admitted on the old layout count against the new one', async () => {
    const old: RateLimit = { scope: 'team', owner: 'team', id: 'tpm-late', label: 'tpm-late', tpm: 5000 };
    const [first] = await admitAll(old, 'old', 1);
    if (!first?.admitted) throw new Error('refused');
    const next = changed(old, { tpm: 1000 });
    expect(admitted(await admitAll(next, 'before', 1))).toBe(1);
    await limiter.finish(first.ticket, 1500);
    expect(admitted(await admitAll(next, 'after', 3))).toBe(0);
  });
});

describe('parallel requests across a layout change', () => {
  it('lowered from 3 shards to 1: 4 calls in flight on the dropped shards, new max 2 admits none until they end', async () => {
    const old: RateLimit = { scope: 'key', owner: 'key', id: 'par-down', label: 'sk-...par', parallel: 6 };
    // From shard 1: the first four leases fill shards 1 and 2, shard 0 stays empty.
    vi.spyOn(Math, 'random').mockReturnValue(0.5);
    const held = await admitAll(old, 'old', 4);
    vi.restoreAllMocks();
    expect(admitted(held)).toBe(4);
    const next = changed(old, { parallel: 2 });
    expect(admitted(await admitAll(next, 'new', 3))).toBe(0);
    for (const o of held) if (o.admitted) await limiter.finish(o.ticket, 0);
    expect(admitted(await admitAll(next, 'after', 3))).toBe(2);
  });

  it('raised from 1 shard to 2: 4 in flight of max 4, new max 5 admits exactly 1 more', async () => {
    // Four leases a shard: 4 is one shard, 5 two (shares 3 and 2; the first already holds 4).
    const wide = new DynamoRateLimiter(documentClient(), tableName(), () => at, { ...sizes, leases: 4 }, cacheTtlMs);
    const old: RateLimit = { scope: 'key', owner: 'key', id: 'par-up', label: 'sk-...pup', parallel: 4 };
    const admitOn = async (l: RateLimit, tag: string, count: number) => {
      const out = [];
      for (let i = 0; i < count; i++)
        out.push(await wide.admit({ requestId: `par-up-${tag}-${i}`, at, limits: [l], estimateTokens: 0, leaseUntil: at + 60_000 }));
      return out;
    };
    expect(admitted(await admitOn(old, 'old', 4))).toBe(4);
    expect(admitted(await admitOn(changed(old, { parallel: 5 }), 'new', 4))).toBe(1);
  });
});

describe('a changed parallel limit reads other layouts only while they may hold leases', () => {
  it('found empty once no instance can use the old limit: this instance stops reading them', async () => {
    const old: RateLimit = { scope: 'key', owner: 'key', id: 'par-drained', label: 'sk-...dr', parallel: 6 };
    const [held] = await admitAll(old, 'old', 1);
    // Changed 30 s ago: past the cache TTL and its margin, within the longest call (60 s here).
    const next: RateLimit = { ...old, parallel: 2, changedAt: at - 30_000 };
    const sendsOf = async (tag: string) => {
      const before = sends;
      const [o] = await admitAll(next, tag, 1);
      if (o?.admitted) await limiter.finish(o.ticket, 0);
      return { admitted: o?.admitted, sends: sends - before };
    };
    // A call of the old limit still holds its lease: read every time (a read, the lease, its release).
    expect(await sendsOf('a')).toEqual({ admitted: true, sends: 3 });
    expect(await sendsOf('b')).toEqual({ admitted: true, sends: 3 });
    if (held?.admitted) await limiter.finish(held.ticket, 0);
    // Found empty once: never read again for this change.
    expect(await sendsOf('c')).toEqual({ admitted: true, sends: 3 });
    expect(await sendsOf('d')).toEqual({ admitted: true, sends: 2 });
  });
});

describe('a caller whose limits did not change pays nothing more', () => {
  it('one write per admission, as before: no read of other layouts', async () => {
    const limit: RateLimit = { scope: 'team', owner: 'team', id: 'steady', label: 'steady', rpm: 50, parallel: 6 };
    const long = { ...limit, changedAt: at - 3 * 60_000 };
    for (const l of [limit, long]) {
      const before = sends;
      const [o] = await admitAll(l, `steady-${l.changedAt ?? 0}`, 1);
      expect(o?.admitted).toBe(true);
      expect(sends - before).toBe(2);
    }
  });
});
