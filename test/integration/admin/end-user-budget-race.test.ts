/**
 * An end user's update is held to the budget it read, also when it restates that budget (found by
 * review: a `/customer/update` naming the budget it read landed after a move to another budget and
 * put the end user back without the counts, so the first budget could be deleted while followed).
 */
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { handler as budgets } from '../../../functions/budgets/handler.js';
import { handler as customers } from '../../../functions/customers/handler.js';
import { END_USER_COUNT } from '../../../lib/admin/actions/customers.js';
import { refs } from '../../../lib/store/keys.js';
import { callApi, invokeDirect } from '../../support/admin.js';
import { beforeNextWrite } from '../../support/races.js';
import { readItem } from '../../support/spend.js';
import { useTestTable } from '../../support/table.js';

const countOf = async (budgetId: string) => (await readItem(refs.budget(budgetId)))?.[END_USER_COUNT] ?? 0;

beforeAll(async () => {
  await useTestTable();
  await invokeDirect(budgets, { action: 'new', budget_id: 'race-a', max_budget: 5 });
  await invokeDirect(budgets, { action: 'new', budget_id: 'race-b', max_budget: 9 });
});

describe('an end user update restating the budget it read', () => {
  it('is refused (409, retry) when a move to another budget landed meanwhile: the counts stay exact', async () => {
    await callApi(customers, 'POST', '/customer/new', { user_id: 'eu-race', budget_id: 'race-a' });
    beforeNextWrite(() => callApi(customers, 'POST', '/customer/update', { user_id: 'eu-race', budget_id: 'race-b' }));
    const stale = await callApi(customers, 'POST', '/customer/update', { user_id: 'eu-race', budget_id: 'race-a', alias: 'x' });
    vi.restoreAllMocks();
    expect(stale.status).toBe(409);
    expect(stale.body.error.code).toBe('concurrent_update');
    const info = await callApi(customers, 'GET', '/customer/info', { end_user_id: 'eu-race' });
    expect(info.body).toMatchObject({ user_id: 'eu-race', budget_id: 'race-b' });
    expect(info.body.alias ?? null).toBeNull();
    expect([await countOf('race-a'), await countOf('race-b')]).toEqual([0, 1]);
    // Retried, it reads the move and is a move back: counts follow.
    expect((await callApi(customers, 'POST', '/customer/update', { user_id: 'eu-race', budget_id: 'race-a', alias: 'x' })).status).toBe(
      200,
    );
    expect([await countOf('race-a'), await countOf('race-b')]).toEqual([1, 0]);
  });
});

describe('an end user pointed to a budget whose period changes meanwhile', () => {
  it('is refused (409, retry): it was judged by the period it read, and nothing changes', async () => {
    await invokeDirect(budgets, { action: 'new', budget_id: 'race-period', max_budget: 5 });
    await callApi(customers, 'POST', '/customer/new', { user_id: 'eu-period' });
    beforeNextWrite(() => callApi(budgets, 'POST', '/budget/update', { budget_id: 'race-period', budget_duration: '30d' }));
    const stale = await callApi(customers, 'POST', '/customer/update', { user_id: 'eu-period', budget_id: 'race-period' });
    vi.restoreAllMocks();
    expect(stale.status).toBe(409);
    expect(stale.body.error.code).toBe('concurrent_update');
    expect((await readItem(refs.endUser('eu-period')))?.budget_id ?? null).toBeNull();
    expect(await countOf('race-period')).toBe(0);
    // Retried, it reads the period: a new period counts from now.
    expect((await callApi(customers, 'POST', '/customer/update', { user_id: 'eu-period', budget_id: 'race-period' })).status).toBe(200);
    expect(await readItem(refs.endUser('eu-period'))).toMatchObject({ budget_id: 'race-period', budget_set_at: expect.any(String) });
  });
});
