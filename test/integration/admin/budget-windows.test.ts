/**
 * Windows users expect (issue 11): a `30d` budget resets 30 days after it was set on the entity
 * (LiteLLM resets 30 days from creation), a new period set by an update counts from the update
 * and starts at zero, `1mo` stays calendar monthly; `budget_reset_at` shows the real next reset.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { handler as budgets } from '../../../functions/budgets/handler.js';
import { handler as customers } from '../../../functions/customers/handler.js';
import { handler as keys } from '../../../functions/keys/handler.js';
import { handler as organizations } from '../../../functions/organizations/handler.js';
import { handler as teams } from '../../../functions/teams/handler.js';
import { handler as users } from '../../../functions/users/handler.js';
import { budgetAnchor, windowOf } from '../../../lib/domain/periods.js';
import { adminCtx, callApi, invokeDirect } from '../../support/admin.js';
import { expectUnchanged } from '../../support/admin-checks.js';
import { seedEndUser } from '../../support/seed.js';
import { useTestTable } from '../../support/table.js';

const DAY = 86_400_000;
const post = (fn: typeof teams, path: string, input: unknown) => callApi(fn, 'POST', path, input, adminCtx);
const get = (fn: typeof teams, path: string, input: unknown) => callApi(fn, 'GET', path, input, adminCtx);
const second = (ms: number) => Math.floor(ms / 1000) * 1000;

beforeAll(async () => {
  await useTestTable();
});

describe('budget_reset_at is the real next reset', () => {
  it('a team created with 30d resets 30 days after its creation, to the second', async () => {
    const before = second(Date.now());
    const created = (await post(teams, '/team/new', { team_id: 't-30d', max_budget: 10, budget_duration: '30d' })).body;
    const after = Date.now();
    const reset = Date.parse(created.budget_reset_at);
    expect(reset).toBe(second(Date.parse(created.created_at)) + 30 * DAY);
    expect(reset).toBeGreaterThanOrEqual(before + 30 * DAY);
    expect(reset).toBeLessThanOrEqual(after + 30 * DAY);
    expect((await get(teams, '/team/info', { team_id: 't-30d' })).body.team_info.budget_reset_at).toBe(created.budget_reset_at);
  });

  it('a new period set by an update counts from the update, and carries the spend that counted (LiteLLM keeps spend)', async () => {
    await post(teams, '/team/new', { team_id: 't-moved', max_budget: 10, budget_duration: '30d', spend: 4 });
    expect((await get(teams, '/team/info', { team_id: 't-moved' })).body.team_info.spend).toBe(4);
    await new Promise((r) => setTimeout(r, 1100));
    const at = second(Date.now());
    await post(teams, '/team/update', { team_id: 't-moved', budget_duration: '7d' });
    const info = (await get(teams, '/team/info', { team_id: 't-moved' })).body.team_info;
    expect(Date.parse(info.budget_reset_at) - 7 * DAY).toBeGreaterThanOrEqual(at);
    expect(Date.parse(info.budget_reset_at) - 7 * DAY).toBeLessThanOrEqual(Date.now());
    // Changing the period never hands a spent budget back; `spend: 0` (a proxy admin's) does.
    expect([info.spend, info.total_spend]).toEqual([4, 4]);
    // The same period again is no new period: nothing moves.
    await post(teams, '/team/update', { team_id: 't-moved', budget_duration: '7d' });
    expect((await get(teams, '/team/info', { team_id: 't-moved' })).body.team_info.budget_reset_at).toBe(info.budget_reset_at);
  });

  it('spend set with the new period lands in the new window', async () => {
    await post(teams, '/team/new', { team_id: 't-both', max_budget: 10, budget_duration: '1d' });
    await post(teams, '/team/update', { team_id: 't-both', budget_duration: '30d', spend: 3 });
    expect((await get(teams, '/team/info', { team_id: 't-both' })).body.team_info.spend).toBe(3);
  });

  it('1mo stays calendar monthly: the 1st of next month, 00:00 UTC', async () => {
    const res = (await post(keys, '/key/generate', { max_budget: 5, budget_duration: '1mo' })).body;
    const now = new Date();
    expect(res.budget_reset_at).toBe(new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1)).toISOString());
  });
});

describe('every entity with a budget period starts a new one when an update sets it', () => {
  const cases: [string, typeof teams, string, Record<string, unknown>, (created: Record<string, unknown>) => Record<string, unknown>][] = [
    ['a user', users, '/user', { user_id: 'u-period' }, () => ({ user_id: 'u-period' })],
    [
      'an organization',
      organizations,
      '/organization',
      { organization_id: 'o-period', organization_alias: 'o' },
      () => ({ organization_id: 'o-period' }),
    ],
    ['an end user', customers, '/customer', { user_id: 'eu-period' }, () => ({ user_id: 'eu-period' })],
    ['a key', keys, '/key', {}, (created) => ({ key: created.key })],
  ];
  it.each(cases)('%s: budget_reset_at counts from the update', async (_, fn, base, create, idOf) => {
    const created = (
      await post(fn, base === '/key' ? '/key/generate' : `${base}/new`, { ...create, max_budget: 10, budget_duration: '30d' })
    ).body;
    await new Promise((r) => setTimeout(r, 1100));
    const at = second(Date.now());
    const updated = await post(fn, `${base}/update`, { ...idOf(created), budget_duration: '7d' });
    expect(updated.status).toBe(200);
    const view = (updated.body.data ?? updated.body) as { budget_reset_at: string };
    expect(Date.parse(view.budget_reset_at) - 7 * DAY).toBeGreaterThanOrEqual(at);
    expect(Date.parse(view.budget_reset_at) - 7 * DAY).toBeLessThanOrEqual(Date.now());
  });
});

describe('an end user following a reusable budget shows the period its checks count (found by review)', () => {
  it('info and list: the current window of the budget period, and its real next reset', async () => {
    await invokeDirect(budgets, { action: 'new', budget_id: 'b-follow-day', max_budget: 5, budget_duration: '1d' });
    const rec = await seedEndUser({ user_id: 'eu-follow', budget_id: 'b-follow-day' });
    // $2 spent two days ago, in a window that has ended.
    const old = windowOf('1d', Date.now() - 2 * DAY, budgetAnchor(rec)).id;
    await seedEndUser({ ...rec, spend: 2, window_spend: { [old]: 2 } });
    const expected = {
      spend: 0,
      total_spend: 2,
      budget_reset_at: new Date(windowOf('1d', Date.now(), budgetAnchor(rec)).end).toISOString(),
    };
    const info = (await invokeDirect(customers, { action: 'info', end_user_id: 'eu-follow' })) as Record<string, unknown>;
    expect(info).toMatchObject(expected);
    const listed = (await invokeDirect(customers, { action: 'list', limit: 100 })) as { data: Record<string, unknown>[] };
    expect(listed.data.find((e) => e.user_id === 'eu-follow')).toMatchObject(expected);
  });
});

describe('an end user whose period comes from its budget starts a new one when its budget changes (found by review)', () => {
  const info = async (userId: string) =>
    (await invokeDirect(customers, { action: 'info', end_user_id: userId })) as { spend: number; budget_reset_at: string | null };

  it.each([
    ['pointed to a budget with a period, from none', { budget_id: 'b-move-30d' }, {}, 30],
    ['pointed from a 1d budget to a 30d one', { budget_id: 'b-move-30d' }, { budget_id: 'b-move-1d' }, 30],
    ['its own period dropped for its budget’s', { budget_duration: null }, { budget_id: 'b-move-30d', budget_duration: '1d' }, 30],
    ['its own period set over its budget’s', { budget_duration: '7d' }, { budget_id: 'b-move-30d' }, 7],
  ] as const)('%s: the windows count from the change, and the spend that counted is carried', async (_, change, start, days) => {
    await invokeDirect(budgets, { action: 'new', budget_id: 'b-move-30d', max_budget: 5, budget_duration: '30d' }).catch(() => undefined);
    await invokeDirect(budgets, { action: 'new', budget_id: 'b-move-1d', max_budget: 5, budget_duration: '1d' }).catch(() => undefined);
    const userId = `eu-move-${Object.keys(change).join()}-${Object.values(start).join()}`.replace(/[^a-z0-9-]/gi, '');
    // Created three days ago, $2 spent in the period that counts now.
    const rec = await seedEndUser({ user_id: userId, ...start, created_at: new Date(Date.now() - 3 * DAY).toISOString() });
    const periods: Record<string, string> = { 'b-move-30d': '30d', 'b-move-1d': '1d' };
    const was = (start as { budget_duration?: string }).budget_duration ?? periods[(start as { budget_id?: string }).budget_id ?? ''];
    const counting = was ? { window_spend: { [windowOf(was, Date.now(), budgetAnchor(rec)).id]: 2 } } : {};
    await seedEndUser({ ...rec, spend: 2, ...counting });
    expect((await info(userId)).spend).toBe(2);

    await new Promise((r) => setTimeout(r, 1100));
    const at = second(Date.now());
    const updated = await post(customers, '/customer/update', { user_id: userId, ...change });
    expect(updated.status).toBe(200);
    const after = await info(userId);
    expect(Date.parse(after.budget_reset_at as string) - days * DAY).toBeGreaterThanOrEqual(at);
    expect(Date.parse(after.budget_reset_at as string) - days * DAY).toBeLessThanOrEqual(Date.now());
    expect(after.spend).toBe(2);
  });

  it('another budget with the same period is no new period: the windows and spend stay', async () => {
    await invokeDirect(budgets, { action: 'new', budget_id: 'b-same-a', max_budget: 5, budget_duration: '1d' });
    await invokeDirect(budgets, { action: 'new', budget_id: 'b-same-b', max_budget: 9, budget_duration: '1d' });
    const rec = await seedEndUser({ user_id: 'eu-same', budget_id: 'b-same-a', created_at: new Date(Date.now() - 3 * DAY).toISOString() });
    const before = await info('eu-same');
    await post(customers, '/customer/update', { user_id: 'eu-same', budget_id: 'b-same-b' });
    expect((await info('eu-same')).budget_reset_at).toBe(before.budget_reset_at);
    expect(before.budget_reset_at).toBe(new Date(windowOf('1d', Date.now(), budgetAnchor(rec)).end).toISOString());
  });
});

describe('a budget in use keeps its period: the end users following it would restart at zero (found by review)', () => {
  const info = async (userId: string) => (await invokeDirect(customers, { action: 'info', end_user_id: userId })) as { spend: number };

  async function following(budgetId: string, userId: string): Promise<void> {
    await invokeDirect(budgets, { action: 'new', budget_id: budgetId, max_budget: 5, budget_duration: '1d' });
    await invokeDirect(customers, { action: 'new', user_id: userId, budget_id: budgetId });
    const rec = await seedEndUser({ user_id: userId, budget_id: budgetId, created_at: new Date(Date.now() - 3 * DAY).toISOString() });
    await seedEndUser({ ...rec, spend: 4, window_spend: { [windowOf('1d', Date.now(), budgetAnchor(rec)).id]: 4 } });
    expect((await info(userId)).spend).toBe(4);
  }

  it.each(['30d', '1h', '24h', '1mo'])(
    'budget_duration 1d -> %s: 409 budget_in_use, nothing written, the spend still counts',
    async (next) => {
      const budgetId = `b-inuse-${next}`;
      const userId = `eu-inuse-${next}`;
      await following(budgetId, userId);
      await expectUnchanged(async () => {
        const res = await post(budgets, '/budget/update', { budget_id: budgetId, budget_duration: next });
        expect(res.status).toBe(409);
        expect(res.body.error).toMatchObject({ code: 'budget_in_use', param: 'budget_duration' });
        expect(res.body.error.message).toContain('/customer/update');
      });
      expect((await info(userId)).spend).toBe(4);
    },
  );

  it('its max_budget still changes, the same period may be named again, and dropping the period (lifetime spend counts, never less) is allowed', async () => {
    await following('b-inuse-ok', 'eu-inuse-ok');
    expect((await post(budgets, '/budget/update', { budget_id: 'b-inuse-ok', max_budget: 3, budget_duration: '1d' })).status).toBe(200);
    expect((await info('eu-inuse-ok')).spend).toBe(4);
    expect((await post(budgets, '/budget/update', { budget_id: 'b-inuse-ok', budget_duration: null })).status).toBe(200);
    expect((await info('eu-inuse-ok')).spend).toBe(4);
  });

  it('a budget nobody follows changes its period freely', async () => {
    await invokeDirect(budgets, { action: 'new', budget_id: 'b-free', max_budget: 5, budget_duration: '1d' });
    const res = await post(budgets, '/budget/update', { budget_id: 'b-free', budget_duration: '30d' });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ budget_duration: '30d' });
  });
});
