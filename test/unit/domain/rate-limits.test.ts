/** Which rate limits govern a call, and what its answer says about them. */
import { describe, expect, it } from 'vitest';
import type { Caller } from '../../../lib/domain/caller.js';
import { compareModelCaps, rateDirections } from '../../../lib/domain/limits.js';
import {
  CHANGE_MARGIN_MS,
  changedAtOf,
  denialCode,
  denialHeaders,
  denialMessage,
  formatReset,
  layoutsMayDiffer,
  MINUTE_MS,
  minuteOf,
  modelLimit,
  parallelLayout,
  parallelShards,
  RATE_SCOPES,
  type RateDenial,
  type RateLimit,
  rateChangeStamp,
  rateHeaders,
  rateLimitsOf,
  shardOrder,
  shareAfter,
  shareOf,
  tightest,
  windowLayout,
  windowShards,
} from '../../../lib/domain/rate-limits.js';

const at = Date.UTC(2026, 11, 5, 12, 0, 15);
const key = { token: 'h1', key_name: 'sk-...abcd', created_at: '' };
const caller = (state: Caller['state'] = {}): Caller => ({ principal: 'virtual_key', role: 'internal_user', state });
const model = { model_name: 'gpt-4o' };

describe('rateLimitsOf: every limit that governs a call, in check order', () => {
  it('a caller with no limit has none (no read, no write)', () => {
    expect(rateLimitsOf(caller({ key }), model)).toEqual([]);
    expect(rateLimitsOf(caller({ key: { ...key, rpm_limit: null, tpm_limit: null, max_parallel_requests: null } }), model)).toEqual([]);
  });

  it('each entity kind contributes its own rpm, tpm and max_parallel_requests', () => {
    const limits = rateLimitsOf(
      caller({
        key: { ...key, rpm_limit: 1 },
        user: { user_id: 'u1', user_role: 'internal_user', created_at: '', tpm_limit: 2 },
        team: { team_id: 't1', created_at: '', max_parallel_requests: 3 },
        member: { team_id: 't1', user_id: 'u1', role: 'user', created_at: '', rpm_limit: 4 },
        org: { organization_id: 'o1', created_at: '', tpm_limit: 5 },
      }),
      { model_name: 'gpt-4o', rpm: 6, tpm: 7 },
    );
    expect(limits.map((l) => [l.scope, l.owner, l.id, l.rpm, l.tpm, l.parallel])).toEqual([
      ['key', 'key', 'h1', 1, undefined, undefined],
      ['user', 'user', 'u1', undefined, 2, undefined],
      ['team', 'team', 't1', undefined, undefined, 3],
      ['team_member', 'team_member', 'u1@t1', 4, undefined, undefined],
      ['organization', 'organization', 'o1', undefined, 5, undefined],
      ['model', 'model', 'gpt-4o', 6, 7, undefined],
    ]);
  });

  it("a key's and a team's per-model limits count only that model", () => {
    const state = {
      key: { ...key, model_rpm_limit: { 'gpt-4o': 2 }, model_tpm_limit: { other: 9 } },
      team: { team_id: 't1', created_at: '', model_tpm_limit: { 'gpt-4o': 100 } },
    };
    const limits = rateLimitsOf(caller(state), model);
    expect(limits.map((l) => [l.scope, l.owner, l.id, l.model, l.rpm, l.tpm])).toEqual([
      ['key_model', 'key', 'h1', 'gpt-4o', 2, undefined],
      ['team_model', 'team', 't1', 'gpt-4o', undefined, 100],
    ]);
    expect(rateLimitsOf(caller(state), { model_name: 'other' }).map((l) => [l.scope, l.tpm])).toEqual([['key_model', 9]]);
  });

  it('a membership of another team is not counted', () => {
    const limits = rateLimitsOf(
      caller({
        team: { team_id: 't1', created_at: '' },
        member: { team_id: 't2', user_id: 'u1', role: 'user', created_at: '', rpm_limit: 1 },
      }),
      model,
    );
    expect(limits).toEqual([]);
  });

  it('0 is a limit (nothing admitted); fractions, negatives and non-numbers are none', () => {
    expect(rateLimitsOf(caller({ key: { ...key, rpm_limit: 0 } }), model)[0]?.rpm).toBe(0);
    for (const bad of [1.5, -1, Number.NaN, '5' as unknown as number])
      expect(rateLimitsOf(caller({ key: { ...key, rpm_limit: bad } }), model)).toEqual([]);
  });

  it.each(Object.getOwnPropertyNames(Object.prototype))('model `%s` takes no inherited per-model limit', (name) => {
    expect(modelLimit({}, name)).toBeUndefined();
    expect(rateLimitsOf(caller({ key: { ...key, model_rpm_limit: {} } }), { model_name: name })).toEqual([]);
    expect(modelLimit(JSON.parse(`{"${name}": 3}`), name)).toBe(3);
  });
});

describe('windows are fixed UTC minutes', () => {
  it('a moment falls in its minute, which ends at the next', () => {
    expect(minuteOf(at)).toEqual({ id: Math.floor(at / MINUTE_MS), endsAt: Date.UTC(2026, 11, 5, 12, 1) });
    expect(minuteOf(Date.UTC(2026, 11, 5, 12, 1)).id).toBe(minuteOf(at).id + 1);
  });
  it.each([
    [0, '0ms'],
    [20, '20ms'],
    [999.2, '1s'],
    [1000, '1s'],
    [45_000, '45s'],
    [60_000, '1m0s'],
    [360_000, '6m0s'],
    [-5, '0ms'],
  ])('formatReset(%s) is %s', (ms, want) => {
    expect(formatReset(ms)).toBe(want);
  });
});

const limit = (scope: RateLimit['scope'], extra: Partial<RateLimit> = {}): RateLimit => ({
  scope,
  owner: scope === 'key_model' ? 'key' : scope === 'team_model' ? 'team' : (scope as RateLimit['owner']),
  id: 'x',
  label: 'x',
  ...extra,
});

describe('denials', () => {
  it.each(RATE_SCOPES)('scope %s has an rpm and a tpm code, and parallel one shared code', (scope) => {
    expect(denialCode({ limit: limit(scope), kind: 'rpm' })).toBe(`${scope}_rpm_exceeded`);
    expect(denialCode({ limit: limit(scope), kind: 'tpm' })).toBe(`${scope}_tpm_exceeded`);
    expect(denialCode({ limit: limit(scope), kind: 'parallel' })).toBe('max_parallel_requests_exceeded');
  });

  it('the tightest denial (lowest limit) names itself; ties go to check order', () => {
    const d = (scope: RateLimit['scope'], value: number): RateDenial => ({ limit: limit(scope), kind: 'rpm', value, retryAt: 0 });
    expect(tightest([d('key', 10), d('team', 5), d('model', 7)])?.limit.scope).toBe('team');
    expect(tightest([d('key', 5), d('team', 5)])?.limit.scope).toBe('key');
    expect(tightest([])).toBeUndefined();
  });

  it('messages name the entity, the model and the limit', () => {
    const l = limit('team_model', { label: 't-1', model: 'gpt-4o' });
    expect(denialMessage({ limit: l, kind: 'tpm', value: 100, retryAt: 0 })).toBe(
      'team `t-1` reached its limit of 100 tokens per minute for model `gpt-4o`',
    );
    expect(denialMessage({ limit: limit('key', { label: 'sk-...abcd' }), kind: 'rpm', value: 5, retryAt: 0 })).toBe(
      'key `sk-...abcd` reached its limit of 5 requests per minute',
    );
    expect(denialMessage({ limit: limit('user', { label: 'u1' }), kind: 'parallel', value: 2, retryAt: 0 })).toBe(
      'user `u1` has 2 requests in flight, its max_parallel_requests',
    );
  });

  it('headers: retry-after (whole seconds, at least 1) and nothing remaining of the exceeded kind', () => {
    const end = minuteOf(at).endsAt;
    expect(denialHeaders([{ limit: limit('key'), kind: 'rpm', value: 5, retryAt: end }], at)).toEqual({
      'retry-after': '45',
      'retry-after-ms': '45000',
      'x-ratelimit-limit-requests': '5',
      'x-ratelimit-remaining-requests': '0',
      'x-ratelimit-reset-requests': '45s',
    });
    expect(denialHeaders([{ limit: limit('key'), kind: 'tpm', value: 50, retryAt: end }], at)['x-ratelimit-limit-tokens']).toBe('50');
    expect(denialHeaders([{ limit: limit('key'), kind: 'parallel', value: 2, retryAt: at + 200 }], at)).toEqual({
      'retry-after': '1',
      'retry-after-ms': '200',
    });
  });

  it('several limits refused: retry-after is the latest wait; each exceeded window kind reports its tightest limit', () => {
    const end = minuteOf(at).endsAt;
    const h = denialHeaders(
      [
        { limit: limit('key'), kind: 'parallel', value: 1, retryAt: at + 1000 },
        { limit: limit('team'), kind: 'rpm', value: 10, retryAt: end },
        { limit: limit('user'), kind: 'rpm', value: 3, retryAt: end },
        { limit: limit('organization'), kind: 'tpm', value: 500, retryAt: end },
      ],
      at,
    );
    expect(h).toEqual({
      'retry-after': '45',
      'retry-after-ms': '45000',
      'x-ratelimit-limit-requests': '3',
      'x-ratelimit-remaining-requests': '0',
      'x-ratelimit-reset-requests': '45s',
      'x-ratelimit-limit-tokens': '500',
      'x-ratelimit-remaining-tokens': '0',
      'x-ratelimit-reset-tokens': '45s',
    });
  });
});

describe('rateHeaders: what an admitted answer reports', () => {
  it('for each kind, the limit with the least remaining', () => {
    const h = rateHeaders(
      [
        { limit: limit('key', { rpm: 10, tpm: 1000 }), counts: { requests: 3, tokens: 100 } },
        { limit: limit('team', { rpm: 100, tpm: 500 }), counts: { requests: 98, tokens: 450 } },
      ],
      at,
    );
    expect(h).toEqual({
      'x-ratelimit-limit-requests': '100',
      'x-ratelimit-remaining-requests': '2',
      'x-ratelimit-reset-requests': '45s',
      'x-ratelimit-limit-tokens': '500',
      'x-ratelimit-remaining-tokens': '50',
      'x-ratelimit-reset-tokens': '45s',
    });
  });
  it('no header for a kind no limit counts; remaining never below 0', () => {
    expect(rateHeaders([{ limit: limit('key', { rpm: 2 }), counts: { requests: 5, tokens: 9 } }], at)).toEqual({
      'x-ratelimit-limit-requests': '2',
      'x-ratelimit-remaining-requests': '0',
      'x-ratelimit-reset-requests': '45s',
    });
    expect(rateHeaders([{ limit: limit('key', { parallel: 2 }), counts: { requests: 1, tokens: 0 } }], at)).toEqual({});
  });
});

describe('authority only tightens rate limits', () => {
  it.each([
    [{ a: 10 }, { a: 5 }, 'tighter'],
    [{ a: 10 }, { a: 10 }, 'same'],
    [{ a: 10 }, { a: 11 }, 'looser'],
    [{ a: 10 }, {}, 'looser'],
    [{}, { a: 1 }, 'tighter'],
    [null, { a: 1 }, 'tighter'],
    [{ a: 1 }, null, 'looser'],
    [{ a: 10, b: 1 }, { a: 5, b: 2 }, 'looser'],
    [{ a: 10 }, { a: 5, b: 7 }, 'tighter'],
  ] as const)('%j -> %j is %s', (current, next, want) => {
    expect(compareModelCaps(current, next)).toBe(want);
  });

  it('a prototype name is a model like any other', () => {
    expect(compareModelCaps(JSON.parse('{"__proto__": 5}'), {})).toBe('looser');
    expect(compareModelCaps({}, JSON.parse('{"constructor": 5}'))).toBe('tighter');
  });

  it('rateDirections names each field changed', () => {
    expect(
      rateDirections(
        { rpm_limit: 10, tpm_limit: null, max_parallel_requests: 2, model_rpm_limit: { a: 1 } },
        { rpm_limit: 20, tpm_limit: 5, max_parallel_requests: 2, model_rpm_limit: null },
      ),
    ).toEqual({ rpm_limit: 'looser', tpm_limit: 'tighter', max_parallel_requests: 'same', model_rpm_limit: 'looser' });
    expect(rateDirections({ rpm_limit: 1 }, {})).toEqual({});
  });
});

describe('hot subjects: a limit spread over shards whose shares sum to it', () => {
  it.each([
    [{ rpm: 10 }, 1],
    [{ rpm: 30_000 }, 1],
    [{ rpm: 30_001 }, 2],
    [{ rpm: 90_000, tpm: 100 }, 3],
    [{ tpm: 3_000_001 }, 2],
    [{ rpm: 10_000_000 }, 32],
    [{}, 1],
  ])('window %j: %i shards', (l, n) => {
    expect(windowShards(l)).toBe(n);
  });
  it.each([
    [5, 1],
    [32, 1],
    [33, 2],
    [100, 4],
    [100_000, 32],
  ])('parallel %i: %i shards', (parallel, n) => {
    expect(parallelShards({ parallel })).toBe(n);
  });
  it('shares sum to the limit exactly and differ by at most one', () => {
    for (const total of [0, 1, 7, 50, 100, 60_001, 1_000_003])
      for (const n of [1, 2, 3, 5, 32]) {
        const shares = Array.from({ length: n }, (_, k) => shareOf(total, n, k));
        expect(shares.reduce((a, b) => a + b, 0)).toBe(total);
        expect(Math.max(...shares) - Math.min(...shares)).toBeLessThanOrEqual(1);
      }
  });
  it('every shard is tried once, from a random start', () => {
    expect(shardOrder(1)).toEqual([0]);
    expect(shardOrder(4, () => 0.6)).toEqual([2, 3, 0, 1]);
    expect(shardOrder(4, () => 0.9999)).toEqual([3, 0, 1, 2]);
    expect([...shardOrder(7)].sort()).toEqual([0, 1, 2, 3, 4, 5, 6]);
  });
  it('smaller shard sizes (tests) shard sooner', () => {
    expect(windowShards({ rpm: 50 }, { rpm: 10, tpm: 1000, leases: 2 })).toBe(5);
    expect(parallelShards({ parallel: 5 }, { rpm: 10, tpm: 1000, leases: 2 })).toBe(3);
  });
});

describe('review findings (pure)', () => {
  it('two memberships never share counters, whatever `@` their ids hold', () => {
    const limitOf = (user: string, team: string) =>
      rateLimitsOf(
        caller({
          team: { team_id: team, created_at: '' },
          member: { team_id: team, user_id: user, role: 'user', created_at: '', rpm_limit: 1 },
        }),
        model,
      )[0]?.id;
    expect(limitOf('alice@example.com', 'prod')).not.toBe(limitOf('alice', 'example.com@prod'));
  });
  it("a regenerated key's limits count under the first key's id", () => {
    expect(rateLimitsOf(caller({ key: { ...key, rpm_limit: 1, rate_id: 'first' } }), model)[0]?.id).toBe('first');
  });
});

describe('a changed limit: its layout, and what other layouts counted', () => {
  const small = { rpm: 10, tpm: 1000, leases: 2 };
  it.each([
    [{ rpm: 10 }, ''],
    [{ rpm: 5, tpm: 900 }, ''],
    [{ rpm: 11 }, '2.11.'],
    [{ rpm: 50 }, '5.50.'],
    [{ rpm: 45 }, '5.45.'],
    [{ tpm: 3000 }, '3..3000'],
    [{ rpm: 2, tpm: 32_000 }, '32.2.32000'],
  ])('window %j is laid out as %j (one item: no name, whatever its value)', (l, want) => {
    expect(windowLayout(l, small)).toBe(want);
  });
  it('the same shard count with other shares is another layout (its old counts would not match the new shares)', () => {
    expect(windowLayout({ rpm: 50 }, small)).not.toBe(windowLayout({ rpm: 45 }, small));
  });
  it.each([
    [2, ''],
    [3, '2.3'],
    [6, '3.6'],
  ])('parallel %i is laid out as %j', (parallel, want) => {
    expect(parallelLayout({ parallel }, small)).toBe(want);
  });
  it('default sizes: a limit of one item is one layout', () => {
    expect(windowLayout({ rpm: 30_000, tpm: 3_000_000 })).toBe('');
    expect(parallelLayout({ parallel: 32 })).toBe('');
    expect(windowLayout({ rpm: 30_001 })).toBe('2.30001.');
  });

  it('shares after what other layouts counted sum to the rest exactly', () => {
    for (const [total, carried, n] of [
      [15, 10, 2],
      [11, 10, 2],
      [50, 7, 5],
      [1_000_003, 999, 32],
    ] as const) {
      const shares = Array.from({ length: n }, (_, k) => shareAfter(total, carried, n, k));
      expect(shares.reduce((a, b) => a + b, 0)).toBe(total - carried);
    }
  });
  it('shares after others reached the limit (or passed it) are all 0', () => {
    expect([0, 1].map((k) => shareAfter(10, 10, 2, k))).toEqual([0, 0]);
    expect([0, 1, 2].map((k) => shareAfter(8, 30, 3, k))).toEqual([0, 0, 0]);
  });

  describe('layoutsMayDiffer: only a limit changed lately reads other layouts', () => {
    const start = Date.UTC(2026, 11, 5, 12, 1);
    it('never changed: no', () => expect(layoutsMayDiffer({}, start, 10_000, 0)).toBe(false));
    it('changed in this minute: yes', () => expect(layoutsMayDiffer({ changedAt: start + 5_000 }, start, 10_000, 0)).toBe(true));
    const m = CHANGE_MARGIN_MS;
    it('changed before the minute, old limit still cached into it (with the margin): yes', () =>
      expect(layoutsMayDiffer({ changedAt: start - 10_000 - m }, start, 10_000, 0)).toBe(true));
    it('changed a millisecond too early for any cache to reach the minute: no', () =>
      expect(layoutsMayDiffer({ changedAt: start - 10_001 - m }, start, 10_000, 0)).toBe(false));
    it('a call admitted under the old limit may still run (tokens, leases): yes while it may', () => {
      expect(layoutsMayDiffer({ changedAt: start - 70_000 - m }, start, 10_000, 60_000)).toBe(true);
      expect(layoutsMayDiffer({ changedAt: start - 70_001 - m }, start, 10_000, 60_000)).toBe(false);
    });
  });

  describe('rate_changed_at: stamped when a limit changes, carried by every limit of the entity', () => {
    const now = new Date(at);
    it.each([
      [{ rpm_limit: 10 }, { rpm_limit: 5 }],
      [{ rpm_limit: 10 }, { rpm_limit: null }],
      [{}, { tpm_limit: 5 }],
      [{ max_parallel_requests: 3 }, { max_parallel_requests: 4 }],
      [{ model_rpm_limit: { a: 1 } }, { model_rpm_limit: { a: 2 } }],
      [{ model_tpm_limit: { a: 1 } }, { model_tpm_limit: { a: 1, b: 2 } }],
      [{ rpm: 1 }, { rpm: 2 }],
      [{ tpm: 1 }, { tpm: null }],
    ])('%j -> %j is stamped', (current, set) => {
      expect(rateChangeStamp(current, set, now)).toEqual({ rate_changed_at: now.toISOString() });
    });
    it.each([
      [{ rpm_limit: 10 }, { rpm_limit: 10 }],
      [{ rpm_limit: 10 }, { max_budget: 5 }],
      [{}, { rpm_limit: null }],
      [{ rpm_limit: null }, { rpm_limit: undefined }],
      [{ model_rpm_limit: { a: 1, b: 2 } }, { model_rpm_limit: { b: 2, a: 1 } }],
    ])('%j -> %j changes no limit: not stamped', (current, set) => {
      expect(rateChangeStamp(current, set, now)).toEqual({});
    });
    it('a limit on a prototype name is a limit like any other', () => {
      expect(rateChangeStamp({}, JSON.parse('{"model_rpm_limit": {"__proto__": 1}}'), now)).toEqual({ rate_changed_at: now.toISOString() });
    });

    it('changedAtOf reads the stamp; none, or unreadable, is never changed', () => {
      expect(changedAtOf({ rate_changed_at: new Date(at).toISOString() })).toBe(at);
      expect(changedAtOf({})).toBeUndefined();
      expect(changedAtOf({ rate_changed_at: null })).toBeUndefined();
      expect(changedAtOf({ rate_changed_at: 'yesterday' })).toBeUndefined();
      expect(changedAtOf(undefined)).toBeUndefined();
    });

    it("every limit carries its own entity's stamp (a per-model limit its key's or team's; the registry model's its own)", () => {
      const t = (s: number) => new Date(at - s * 1000).toISOString();
      const limits = rateLimitsOf(
        caller({
          key: { ...key, rpm_limit: 1, model_rpm_limit: { 'gpt-4o': 1 }, rate_changed_at: t(1) },
          user: { user_id: 'u1', user_role: 'internal_user', created_at: '', tpm_limit: 2, rate_changed_at: t(2) },
          team: { team_id: 't1', created_at: '', max_parallel_requests: 3, model_tpm_limit: { 'gpt-4o': 5 }, rate_changed_at: t(3) },
          member: { team_id: 't1', user_id: 'u1', role: 'user', created_at: '', rpm_limit: 4, rate_changed_at: t(4) },
          org: { organization_id: 'o1', created_at: '', tpm_limit: 5 },
        }),
        { model_name: 'gpt-4o', rpm: 6, rate_changed_at: t(6) },
      );
      expect(limits.map((l) => [l.scope, l.changedAt === undefined ? undefined : (at - l.changedAt) / 1000])).toEqual([
        ['key', 1],
        ['user', 2],
        ['team', 3],
        ['team_member', 4],
        ['organization', undefined],
        ['key_model', 1],
        ['team_model', 3],
        ['model', 6],
      ]);
    });
  });
});
