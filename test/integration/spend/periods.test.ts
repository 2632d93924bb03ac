/**
 * Budget windows across a boundary, with an injected clock: the settlement's `at` picks the
 * window, the checks' `now` picks the window they count. Every budgeted entity honours its
 * budget_duration: key, user, team, team member, organization, end user (its own and a reusable
 * budget's) and the proxy (TOLLGATE_BUDGET_DURATION). Spend that fills the old window blocks
 * until the last millisecond of it and not a millisecond after; nothing is lost across the
 * boundary (lifetime = sum of the windows), on shards as on plain items.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { checkSettings, documentClient, entityReader } from '../../../lib/app/index.js';
import {
  type Check,
  type CheckInput,
  checkEndUserBudget,
  checkGlobalBudget,
  checkKeyBudget,
  checkOrganizationBudget,
  checkTeamBudget,
  checkTeamMemberBudget,
  checkUserBudget,
} from '../../../lib/checks/checks.js';
import { config } from '../../../lib/config.js';
import type { Caller } from '../../../lib/domain/caller.js';
import { windowOf } from '../../../lib/domain/periods.js';
import type { KeyRecord } from '../../../lib/domain/records.js';
import { matchRoute } from '../../../lib/routes.js';
import { spendTargets } from '../../../lib/spend/targets.js';
import { tableName } from '../../../lib/store/client.js';
import { encode } from '../../../lib/store/codec.js';
import { refs } from '../../../lib/store/keys.js';
import { DynamoSettler } from '../../../lib/store/spend-ledger.js';
import { put, seedEndUser, seedKey, seedMember, seedOrg, seedTeam, seedUser } from '../../support/seed.js';
import { countersOf } from '../../support/spend.js';
import { useTestTable } from '../../support/table.js';

/** Monday 2027-03-01 00:00 UTC: the end of an hour, a day, a week and a month at once. */
const T0 = Date.UTC(2027, 2, 1);
const ONE_DOLLAR = 1_000_000_000;
const chatRoute = matchRoute('POST', '/v1/chat/completions')?.route;

beforeAll(async () => {
  await useTestTable({ TOLLGATE_MAX_BUDGET: '1', TOLLGATE_BUDGET_DURATION: '1mo' });
});

const settler = () => new DynamoSettler(documentClient(), tableName(), { ttlSeconds: 3600, shards: config().spendShards });

/** The caller as the checks see it, read fresh from the table. */
async function freshCaller(key: KeyRecord, endUserId: string): Promise<Caller> {
  entityReader().loader.clear();
  const state = await entityReader().state({
    userId: key.user_id ?? undefined,
    teamId: key.team_id ?? undefined,
    orgId: key.organization_id ?? undefined,
    endUserId,
    global: true,
  });
  return {
    principal: 'virtual_key',
    role: 'internal_user',
    userId: key.user_id ?? undefined,
    teamId: key.team_id ?? undefined,
    orgId: key.organization_id ?? undefined,
    endUserId,
    keyHash: key.token,
    keyName: key.key_name,
    state: { ...state, key: await entityReader().key(key.token) },
  };
}

const input = (caller: Caller, now: number): CheckInput => ({
  now,
  method: 'POST',
  path: '/v1/chat/completions',
  route: chatRoute as CheckInput['route'],
  caller,
  settings: checkSettings(config()),
});

async function settleAt(caller: Caller, at: number, costNanos: number, requestId: string): Promise<void> {
  const outcome = await settler().settle({
    requestId,
    at,
    costNanos,
    model: 'gpt-4o',
    targets: spendTargets(caller, { budgetDuration: config().budgetDuration, maxBudget: config().maxBudget, now: at }),
  });
  expect(outcome).toMatchObject({ status: 'settled', skipped: [] });
}

describe('a window boundary, for every budgeted entity', () => {
  const cases: { name: string; check: Check; code: string }[] = [
    { name: 'key (1h)', check: checkKeyBudget, code: 'key_budget_exceeded' },
    { name: 'team (1d)', check: checkTeamBudget, code: 'team_budget_exceeded' },
    { name: 'team member (7d)', check: checkTeamMemberBudget, code: 'team_member_budget_exceeded' },
    { name: 'organization (1mo)', check: checkOrganizationBudget, code: 'organization_budget_exceeded' },
    { name: 'end user (1w, its own)', check: checkEndUserBudget, code: 'end_user_budget_exceeded' },
    { name: 'proxy (1mo, TOLLGATE_BUDGET_DURATION)', check: checkGlobalBudget, code: 'global_budget_exceeded' },
  ];
  let teamCaller: { key: KeyRecord };
  let personal: { key: KeyRecord };

  beforeAll(async () => {
    for (const d of ['1h', '1d', '7d', '1w', '1mo', '24h']) expect(windowOf(d, T0 - 1).end).toBe(T0);
    await seedOrg({ organization_id: 'o-p', max_budget: 1, budget_duration: '1mo' });
    await seedTeam({ team_id: 't-p', organization_id: 'o-p', max_budget: 1, budget_duration: '1d' });
    await seedUser({ user_id: 'u-p' });
    await seedMember({ team_id: 't-p', user_id: 'u-p', max_budget: 1, budget_duration: '7d' });
    await seedEndUser({ user_id: 'eu-p', max_budget: 1, budget_duration: '1w' });
    teamCaller = {
      key: (await seedKey({ team_id: 't-p', user_id: 'u-p', organization_id: 'o-p', max_budget: 1, budget_duration: '1h' })).record,
    };
    await seedUser({ user_id: 'u-solo', max_budget: 1, budget_duration: '1d' });
    await put(encode.budget({ budget_id: 'b-daily', max_budget: 1, budget_duration: '24h', created_at: new Date(T0).toISOString() }));
    await seedEndUser({ user_id: 'eu-b', budget_id: 'b-daily' });
    personal = { key: (await seedKey({ user_id: 'u-solo' })).record };

    // The whole budget spent in the last millisecond of the old windows.
    await settleAt(await freshCaller(teamCaller.key, 'eu-p'), T0 - 1, ONE_DOLLAR, 'p-team-old');
    await settleAt(await freshCaller(personal.key, 'eu-b'), T0 - 1, ONE_DOLLAR / 2, 'p-solo-old');
  });

  for (const c of cases) {
    it(`${c.name}: spend in the old window blocks until its last millisecond, not the new one`, async () => {
      const caller = await freshCaller(teamCaller.key, 'eu-p');
      expect(c.check(input(caller, T0 - 1))?.code).toBe(c.code);
      expect(c.check(input(caller, T0))).toBeUndefined();
    });
  }

  it('user (1d) and an end user on a reusable budget (24h): the same', async () => {
    // Half the budget each: the proxy item, spent above, does not stand in the way here.
    await settleAt(await freshCaller(personal.key, 'eu-b'), T0 - 1, ONE_DOLLAR / 2, 'p-solo-old-2');
    const caller = await freshCaller(personal.key, 'eu-b');
    expect(checkUserBudget(input(caller, T0 - 1))?.code).toBe('user_budget_exceeded');
    expect(checkEndUserBudget(input(caller, T0 - 1))?.code).toBe('end_user_budget_exceeded');
    expect(checkUserBudget(input(caller, T0))).toBeUndefined();
    expect(checkEndUserBudget(input(caller, T0))).toBeUndefined();
  });

  it('loses nothing across the boundary: lifetime is the sum of the windows on every counter', async () => {
    const caller = await freshCaller(teamCaller.key, 'eu-p');
    await settleAt(caller, T0, ONE_DOLLAR / 4, 'p-team-new');
    const chain = [
      [refs.key(teamCaller.key.token), '1h'],
      [refs.team('t-p'), '1d'],
      [refs.member('t-p', 'u-p'), '7d'],
      [refs.org('o-p'), '1mo'],
      [refs.endUser('eu-p'), '1w'],
    ] as const;
    for (const [ref, duration] of chain) {
      const old = await countersOf(ref, duration, T0 - 1);
      const now = await countersOf(ref, duration, T0);
      expect({ ref, old: old.window, now: now.window }).toEqual({
        ref,
        old: { spend: ONE_DOLLAR, committed: ONE_DOLLAR },
        now: { spend: ONE_DOLLAR / 4, committed: ONE_DOLLAR / 4 },
      });
      expect(now.spend).toBe((old.window?.spend ?? 0) + (now.window?.spend ?? 0));
    }
    // The proxy took both callers' spend: 1 + 1/2 + 1/2 before the boundary, 1/4 after.
    const global = await countersOf(refs.globalSpend(), '1mo', T0 - 1);
    const globalNow = await countersOf(refs.globalSpend(), '1mo', T0);
    expect([global.window?.spend, globalNow.window?.spend, globalNow.spend]).toEqual([
      2 * ONE_DOLLAR,
      ONE_DOLLAR / 4,
      2 * ONE_DOLLAR + ONE_DOLLAR / 4,
    ]);
    // And the new window counts only what it holds.
    expect(checkTeamBudget(input(await freshCaller(teamCaller.key, 'eu-p'), T0))).toBeUndefined();
  });
});
