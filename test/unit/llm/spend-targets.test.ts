import { describe, expect, it } from 'vitest';
import type { Caller } from '../../../lib/domain/caller.js';
import { spendTargets } from '../../../lib/spend/targets.js';

const now = Date.parse('2026-11-28T12:00:00Z');
const at = '2026-01-01T00:00:00Z';

const teamCaller: Caller = {
  principal: 'virtual_key',
  role: 'internal_user',
  userId: 'u-1',
  teamId: 't-1',
  keyHash: 'abc',
  keyName: 'sk-...abcd',
  endUserId: 'eu-1',
  state: {
    key: { token: 'abc', key_name: 'sk-...abcd', created_at: at, budget_duration: '1d' },
    user: { user_id: 'u-1', user_role: 'internal_user', created_at: at },
    team: { team_id: 't-1', created_at: at },
    member: { team_id: 't-1', user_id: 'u-1', role: 'user', created_at: at },
    org: { organization_id: 'o-1', created_at: at },
  },
};

describe('spendTargets: the counters one call moves', () => {
  it('is key, team, member, organization, end user and proxy for a team call (not the user)', () => {
    const targets = spendTargets(teamCaller, { budgetDuration: '1mo', maxBudget: 100, now });
    expect(targets.map((t) => [t.entity, t.ref.PK, t.ref.SK, t.duration ?? null])).toEqual([
      ['key', 'KEY#abc', 'KEY', '1d'],
      ['team', 'TEAM#t-1', 'TEAM', null],
      ['team_member', 'TEAM#t-1', 'MEMBER#u-1', null],
      ['organization', 'ORG#o-1', 'ORG', null],
      ['end_user', 'END_USER#eu-1', 'END_USER', null],
      ['global', 'GLOBAL', 'SPEND', '1mo'],
    ]);
  });

  it('creates only the end user and the proxy item when absent; the rest must exist', () => {
    const targets = spendTargets(teamCaller, { maxBudget: 100, now });
    expect(targets.filter((t) => t.createWith).map((t) => t.entity)).toEqual(['end_user', 'global']);
    expect(targets.find((t) => t.entity === 'end_user')?.createWith).toEqual({
      kind: 'end_user',
      user_id: 'eu-1',
      GSI1PK: 'END_USER',
      GSI1SK: 'eu-1',
      created_at: '2026-11-28T12:00:00.000Z',
    });
  });

  it('moves the user for a call without a team', () => {
    const personal: Caller = {
      ...teamCaller,
      teamId: undefined,
      endUserId: undefined,
      state: { key: teamCaller.state.key, user: { ...teamCaller.state.user!, budget_duration: '7d' } },
    };
    expect(spendTargets(personal, { maxBudget: 0, now }).map((t) => [t.entity, t.duration ?? null])).toEqual([
      ['key', '1d'],
      ['user', '7d'],
      ['global', null],
    ]);
  });

  it("takes the end user's period from its reusable budget when it has none of its own", () => {
    const c: Caller = {
      ...teamCaller,
      state: { endUser: { user_id: 'eu-1', created_at: at }, endUserBudget: { budget_id: 'b', budget_duration: '30d', created_at: at } },
    };
    expect(spendTargets(c, { now }).find((t) => t.entity === 'end_user')?.duration).toBe('30d');
  });
});

describe('spendTargets: the budgets a strict reservation checks', () => {
  it('carries each budget as read (max, period) and what other shards hold in the counted window', () => {
    const windowId = '1d@2026-11-28T00:00:00Z';
    const c: Caller = {
      ...teamCaller,
      state: {
        ...teamCaller.state,
        key: {
          token: 'abc',
          key_name: 'sk-...abcd',
          created_at: at,
          // The day's windows count from midnight: that is when this key's period was set.
          budget_set_at: '2026-11-28T00:00:00.000Z',
          max_budget: 5,
          budget_duration: '1d',
          committed_elsewhere: { lifetime: 9, windows: { [windowId]: 0.25 } },
        },
        team: { team_id: 't-1', created_at: at, max_budget: 100, committed_elsewhere: { lifetime: 1.5, windows: {} } },
        member: undefined,
        global: { committed_elsewhere: { lifetime: 2, windows: { '1mo@2026-11-01T00:00:00Z': 0.5 } } },
      },
    };
    const byEntity = Object.fromEntries(spendTargets(c, { budgetDuration: '1mo', maxBudget: 1000, now }).map((t) => [t.entity, t.budget]));
    expect(byEntity.key).toEqual({
      maxNanos: 5e9,
      elsewhereNanos: 0.25e9,
      expect: { max_budget: 5, budget_duration: '1d', budget_set_at: '2026-11-28T00:00:00.000Z' },
    });
    expect(byEntity.team).toEqual({
      maxNanos: 100e9,
      elsewhereNanos: 1.5e9,
      expect: { max_budget: 100, budget_duration: null, budget_set_at: null },
    });
    // Each target carries where its windows count from; the proxy's are calendar blocks.
    const anchors = Object.fromEntries(spendTargets(c, { budgetDuration: '1mo', maxBudget: 1000, now }).map((t) => [t.entity, t.anchor]));
    expect(anchors).toMatchObject({
      key: Date.parse('2026-11-28T00:00:00.000Z'),
      team: Math.floor(Date.parse(at) / 1000) * 1000,
      global: undefined,
    });
    expect(byEntity.global).toEqual({ maxNanos: 1000e9, elsewhereNanos: 0.5e9, expect: {} });
    // No budget, nothing to reserve against.
    expect(byEntity.organization).toBeUndefined();
    expect(byEntity.end_user).toBeUndefined();
  });

  it("an end user on a reusable budget asserts both its own fields and the budget's", () => {
    const c: Caller = {
      ...teamCaller,
      state: {
        endUser: { user_id: 'eu-1', budget_id: 'b', created_at: at },
        endUserBudget: { budget_id: 'b', max_budget: 3, budget_duration: '30d', created_at: at },
      },
    };
    expect(spendTargets(c, { now }).find((t) => t.entity === 'end_user')?.budget).toEqual({
      maxNanos: 3e9,
      elsewhereNanos: 0,
      expect: { max_budget: null, budget_duration: null, budget_id: 'b' },
      also: { ref: { PK: 'BUDGET#b', SK: 'BUDGET' }, expect: { max_budget: 3, budget_duration: '30d' } },
    });
  });
});

describe('no proxy-wide counter write without a proxy budget (issue 11)', () => {
  it('the proxy item is a target only when TOLLGATE_MAX_BUDGET is set (0 included)', () => {
    expect(spendTargets(teamCaller, { now }).map((t) => t.entity)).not.toContain('global');
    expect(spendTargets(teamCaller, { budgetDuration: '1mo', now }).map((t) => t.entity)).not.toContain('global');
    expect(spendTargets(teamCaller, { maxBudget: 0, now }).map((t) => t.entity)).toContain('global');
  });
});
