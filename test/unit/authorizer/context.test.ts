/** The authorizer context: what the functions behind the authorizer learn about the caller. */
import { describe, expect, it } from 'vitest';
import { callerContext, readCallerContext } from '../../../lib/authorizer/context.js';
import { keyCaller, keyRecord, memberRecord, NOW, orgRecord, roleCaller, teamRecord, userRecord } from '../checks/fixtures.js';

const budgetsOf = (ctx: { budgets?: string }) => (ctx.budgets === undefined ? undefined : JSON.parse(ctx.budgets));
const modelsOf = (ctx: { models?: string }) => (ctx.models === undefined ? undefined : JSON.parse(ctx.models));

describe('callerContext then readCallerContext round trip', () => {
  it('a team key with every field survives the trip unchanged', () => {
    const caller = keyCaller(
      {
        key: keyRecord({ team_id: 't-1', models: ['gpt-4o'], max_budget: 10, spend: 4 }),
        user: userRecord(),
        team: teamRecord({ organization_id: 'o-1', max_budget: 100, spend: 1 }),
        member: memberRecord({ max_budget: 5, spend: 5 }),
        org: orgRecord({ models: ['gpt-4o', 'o3'], max_budget: 1000 }),
      },
      { endUserId: 'eu-1' },
    );
    const ctx = callerContext(caller, NOW);
    expect(ctx).toEqual({
      principal: 'virtual_key',
      role: 'internal_user',
      user_id: 'u-1',
      team_id: 't-1',
      org_id: 'o-1',
      end_user_id: 'eu-1',
      key_hash: caller.keyHash,
      key_name: 'sk-...abcd',
      models: expect.any(String),
      budgets: expect.any(String),
    });
    // API Gateway hands the context back as a plain record of strings.
    const back = readCallerContext(JSON.parse(JSON.stringify(ctx)) as Record<string, unknown>);
    expect(back).toEqual(ctx);
  });

  it('the master key carries principal and role only', () => {
    const ctx = callerContext(roleCaller('master_key', 'proxy_admin'), NOW);
    expect(ctx).toEqual({ principal: 'master_key', role: 'proxy_admin' });
    expect(readCallerContext({ ...ctx })).toEqual(ctx);
  });

  it.each(['master_key', 'virtual_key', 'jwt'] as const)('principal %s round-trips', (principal) => {
    for (const role of ['proxy_admin', 'internal_user', 'internal_user_viewer', 'team'] as const) {
      expect(readCallerContext({ ...callerContext(roleCaller(principal, role), NOW) })).toEqual({ principal, role });
    }
  });

  it('never carries the key itself, only its hash and sk-...last4', () => {
    const ctx = callerContext(keyCaller(), NOW);
    expect(Object.keys(ctx).sort()).toEqual(['key_hash', 'key_name', 'principal', 'role', 'user_id']);
  });
});

describe('readCallerContext refuses what is not ours', () => {
  it.each([
    ['null', null],
    ['undefined', undefined],
    ['empty', {}],
    ['unknown principal', { principal: 'root', role: 'proxy_admin' }],
    ['unknown role', { principal: 'jwt', role: 'superuser' }],
    ['missing role', { principal: 'jwt' }],
  ])('%s -> undefined', (_what, raw) => {
    expect(readCallerContext(raw as Record<string, unknown> | null | undefined)).toBeUndefined();
  });

  it('drops empty and non-string fields', () => {
    expect(readCallerContext({ principal: 'jwt', role: 'team', team_id: '', user_id: 42, org_id: null, models: true })).toEqual({
      principal: 'jwt',
      role: 'team',
    });
  });
});

describe('remaining budgets', () => {
  it('max minus the spend that counts, per entity with a budget', () => {
    const caller = keyCaller({
      key: keyRecord({ team_id: 't-1', max_budget: 10, spend: 4.5 }),
      team: teamRecord({ max_budget: 100, spend: 30 }),
      member: memberRecord({ max_budget: 20, spend: 2 }),
      org: orgRecord({ max_budget: 1000, spend: 999.75 }),
    });
    expect(budgetsOf(callerContext(caller, NOW))).toEqual({ key: 5.5, team: 70, team_member: 18, organization: 0.25 });
  });

  it('over budget shows 0, never a negative amount', () => {
    expect(budgetsOf(callerContext(keyCaller({ key: keyRecord({ max_budget: 10, spend: 12 }) }), NOW))).toEqual({ key: 0 });
  });

  it('entities without max_budget are left out; with none, no budgets field', () => {
    expect(callerContext(keyCaller({ team: teamRecord({ spend: 5 }) }), NOW).budgets).toBeUndefined();
  });

  it('a windowed budget counts only the current window', () => {
    const key = keyRecord({ max_budget: 10, budget_duration: '1d', spend: 500, window_spend: { '1d@2026-11-28T00:00:00Z': 3 } });
    expect(budgetsOf(callerContext(keyCaller({ key }), NOW))).toEqual({ key: 7 });
  });

  it('the user budget shows for personal keys only', () => {
    const user = userRecord({ max_budget: 50, spend: 10 });
    expect(budgetsOf(callerContext(keyCaller({ user }), NOW))).toEqual({ user: 40 });
    expect(callerContext(keyCaller({ user, team: teamRecord() }), NOW).budgets).toBeUndefined();
  });

  it('amounts are rounded to a millionth (no 0.30000000000000004)', () => {
    expect(budgetsOf(callerContext(keyCaller({ key: keyRecord({ max_budget: 0.3, spend: 0.1 }) }), NOW))).toEqual({ key: 0.2 });
  });
});

describe('models: the restricting lists only', () => {
  it('unrestricted entities are left out', () => {
    const caller = keyCaller({
      key: keyRecord({ team_id: 't-1', models: [] }),
      team: teamRecord({ models: ['gpt-4o*'] }),
      org: orgRecord({ models: ['all-proxy-models'] }),
    });
    expect(modelsOf(callerContext(caller, NOW))).toEqual([{ entity: 'team `t-1`', models: ['gpt-4o*'] }]);
  });

  it('a key deferring to its team (`all-team-models`) adds no list', () => {
    const caller = keyCaller({ key: keyRecord({ team_id: 't-1', models: ['all-team-models'] }), team: teamRecord({ models: ['gpt-4o'] }) });
    expect(modelsOf(callerContext(caller, NOW))).toEqual([{ entity: 'team `t-1`', models: ['gpt-4o'] }]);
  });

  it('the user list counts for personal keys only', () => {
    const user = userRecord({ models: ['gpt-4o'] });
    expect(modelsOf(callerContext(keyCaller({ user }), NOW))).toEqual([{ entity: 'user `u-1`', models: ['gpt-4o'] }]);
    expect(callerContext(keyCaller({ user, team: teamRecord() }), NOW).models).toBeUndefined();
  });

  it('nothing restricting: no models field', () => {
    expect(callerContext(keyCaller(), NOW).models).toBeUndefined();
  });
});
