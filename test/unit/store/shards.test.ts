/** Counter shards: where they live, how reads add them up (exactly), how they are configured. */
import { describe, expect, it } from 'vitest';
import { parseShardCounts, pickShard, shardCount } from '../../../lib/domain/sharding.js';
import { decode } from '../../../lib/store/codec.js';
import { refs } from '../../../lib/store/keys.js';
import { mergeShards, otherShardRefs, shardedKindOf, shardRef } from '../../../lib/store/shards.js';
import { afterMove, createdByMove } from '../../../lib/store/spend-ledger.js';

describe('layout', () => {
  it('shard 0 is the entity item; the others are SPEND#<n> in its partition', () => {
    expect(shardRef(refs.team('t-1'), 0)).toEqual(refs.team('t-1'));
    expect(otherShardRefs(refs.team('t-1'), 3)).toEqual([
      { PK: 'TEAM#t-1', SK: 'SPEND#1' },
      { PK: 'TEAM#t-1', SK: 'SPEND#2' },
    ]);
    expect(otherShardRefs(refs.globalSpend(), 1)).toEqual([]);
  });

  it('only keys, teams, organizations and the proxy are sharded, and only their entity items', () => {
    expect([refs.key('ab'), refs.team('t'), refs.org('o'), refs.globalSpend()].map(shardedKindOf)).toEqual([
      'key',
      'team',
      'organization',
      'global',
    ]);
    expect(
      [refs.member('t', 'u'), refs.user('u'), refs.endUser('e'), refs.budget('b'), { PK: 'TEAM#t', SK: 'SPEND#1' }].map(shardedKindOf),
    ).toEqual([undefined, undefined, undefined, undefined, undefined]);
    expect(shardCount({ team: 8 }, 'team')).toBe(8);
    expect(shardCount({ team: 8 }, 'team_member')).toBe(1);
    expect(shardCount({}, 'organization')).toBe(1);
  });

  it('picks every shard, and only shards', () => {
    expect(pickShard(1, () => 0.99)).toBe(0);
    expect(pickShard(8, () => 0)).toBe(0);
    expect(pickShard(8, () => 0.999999)).toBe(7);
    expect(pickShard(8, () => 1)).toBe(7);
  });
});

describe('mergeShards', () => {
  const team = {
    PK: 'TEAM#t',
    SK: 'TEAM',
    kind: 'team',
    team_id: 't',
    max_budget: 10,
    spend: 0.1,
    committed: 0.3,
    'ws#1d@x': 0.1,
    'wc#1d@x': 0.3,
  };

  it('adds every counter of the shards to the entity, to the nano-dollar', () => {
    const merged = mergeShards(team, [
      { spend: 0.2, committed: 0.2, 'ws#1d@x': 0.2, 'wc#1d@x': 0.2 },
      undefined,
      { spend: 0.000000001, 'ws#1d@old': 5 },
    ]);
    expect(merged).toMatchObject({ spend: 0.300000001, committed: 0.5, 'ws#1d@x': 0.3, 'wc#1d@x': 0.5, 'ws#1d@old': 5, max_budget: 10 });
    // What other shards hold, for a reservation on shard 0 to leave room for.
    expect(merged?.committed_elsewhere).toEqual({ lifetime: 0.2, windows: { '1d@x': 0.2 } });
    expect(decode<{ committed_elsewhere: unknown; window_committed: unknown }>(merged ?? {})).toMatchObject({
      committed_elsewhere: { lifetime: 0.2 },
      window_committed: { '1d@x': 0.5 },
    });
  });

  it('keeps an item without shards as it is, and an absent entity absent (except the proxy)', () => {
    expect(mergeShards(team, [undefined, undefined])).toBe(team);
    expect(mergeShards(undefined, [{ spend: 1 }])).toBeUndefined();
    expect(mergeShards(undefined, [{ spend: 1 }], true)).toMatchObject({ spend: 1 });
  });
});

describe('parseShardCounts (TOLLGATE_SPEND_SHARDS)', () => {
  it('reads kind=count pairs', () => {
    expect(parseShardCounts('global=16, team=8,organization=1')).toEqual({ global: 16, team: 8, organization: 1 });
    expect(parseShardCounts('')).toEqual({});
  });

  it.each([
    ['team', /kind=count/],
    ['user=4', /cannot be sharded/],
    ['team=0', /1 to 32/],
    ['team=33', /1 to 32/],
    ['team=32,organization=32,global=2', /at most 64/],
  ])('refuses %j', (text, message) => {
    expect(() => parseShardCounts(text)).toThrow(message);
  });
});

describe('afterMove and createdByMove: the cache follows a settlement exactly (issue 11)', () => {
  const move = { ref: refs.team('t'), spendNanos: 1250, committedNanos: -250, windowId: '1d:2026-12-05', mustExist: true };
  it('adds the amounts to lifetime and window counters in exact nano-dollars', () => {
    const item = { PK: 'TEAM#t', SK: 'TEAM', spend: 0.1, committed: 0.1, 'ws#1d:2026-12-05': 0.05, max_budget: 5 };
    expect(afterMove(item, move)).toEqual({
      ...item,
      spend: 0.10000125,
      committed: 0.09999975,
      'ws#1d:2026-12-05': 0.05000125,
      'wc#1d:2026-12-05': -2.5e-7,
    });
    expect(item.spend).toBe(0.1);
  });
  it('only a counter shard (no entity to keep) is created from the move alone', () => {
    expect(createdByMove(move)).toBeUndefined();
    expect(createdByMove({ ...move, mustExist: false, createWith: { kind: 'end_user' } })).toBeUndefined();
    expect(createdByMove({ ...move, ref: { PK: 'TEAM#t', SK: 'SPEND#2' }, mustExist: false })).toEqual({
      PK: 'TEAM#t',
      SK: 'SPEND#2',
      kind: 'spend_shard',
      spend: 0.00000125,
      committed: -2.5e-7,
      'ws#1d:2026-12-05': 0.00000125,
      'wc#1d:2026-12-05': -2.5e-7,
    });
  });
});
