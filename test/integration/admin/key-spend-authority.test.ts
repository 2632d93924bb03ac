/**
 * A key's spend, against a budget a proxy admin set (found by review): a team admin (less
 * authority) may raise it but not lower it, and changing the period, even to an equal one
 * (`24h` to `1d`), carries the spend that counted instead of restarting it at zero.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { handler as keys } from '../../../functions/keys/handler.js';
import { handler as teams } from '../../../functions/teams/handler.js';
import { handler as users } from '../../../functions/users/handler.js';
import { callApi, userCtx } from '../../support/admin.js';
import { useTestTable } from '../../support/table.js';

const tadmin = userCtx('tadmin');

beforeAll(async () => {
  await useTestTable();
  for (const u of ['tadmin', 'bob']) await callApi(users, 'POST', '/user/new', { user_id: u, auto_create_key: false });
  await callApi(teams, 'POST', '/team/new', {
    team_id: 't-s',
    members_with_roles: [
      { user_id: 'tadmin', role: 'admin' },
      { user_id: 'bob', role: 'user' },
    ],
  });
});

/** A proxy admin's key for bob in the team: $1 a day, all of it spent already. */
async function exhaustedKey(): Promise<string> {
  const made = await callApi(keys, 'POST', '/key/generate', {
    user_id: 'bob',
    team_id: 't-s',
    max_budget: 1,
    budget_duration: '24h',
    spend: 1,
  });
  expect(made.status).toBe(200);
  expect(made.body.spend).toBe(1);
  return made.body.token_id as string;
}

describe('a team admin cannot restart the spend of a key whose budget a proxy admin set', () => {
  it('budget_duration 24h -> 1d (the same window) does not restart the period', async () => {
    const key = await exhaustedKey();
    const res = await callApi(keys, 'POST', '/key/update', { key, budget_duration: '1d' }, tadmin);
    const info = (await callApi(keys, 'GET', '/key/info', { key })).body.info;
    expect({ status: res.status, spend: info.spend }).toEqual({ status: 200, spend: 1 });
  });

  it('budget_duration 24h -> 7d (tighter) carries the spend into the new period', async () => {
    const key = await exhaustedKey();
    const res = await callApi(keys, 'POST', '/key/update', { key, budget_duration: '7d' }, tadmin);
    const info = (await callApi(keys, 'GET', '/key/info', { key })).body.info;
    expect({ status: res.status, spend: info.spend, duration: info.budget_duration }).toEqual({ status: 200, spend: 1, duration: '7d' });
  });

  it('spend: 0 from a team admin is refused on a proxy admin’s budget', async () => {
    const key = await exhaustedKey();
    const res = await callApi(keys, 'POST', '/key/update', { key, spend: 0 }, tadmin);
    const info = (await callApi(keys, 'GET', '/key/info', { key })).body.info;
    expect({ status: res.status, spend: info.spend }).toEqual({ status: 403, spend: 1 });
    expect(res.body.error.message).toContain('`spend`');
  });

  it('a team admin may raise spend (tighter); a proxy admin may lower it', async () => {
    const key = await exhaustedKey();
    expect((await callApi(keys, 'POST', '/key/update', { key, spend: 1.5 }, tadmin)).status).toBe(200);
    expect((await callApi(keys, 'GET', '/key/info', { key })).body.info.spend).toBe(1.5);
    expect((await callApi(keys, 'POST', '/key/update', { key, spend: 0 })).status).toBe(200);
    expect((await callApi(keys, 'GET', '/key/info', { key })).body.info.spend).toBe(0);
  });

  it('a team admin may lower the spend of a key whose limits only a team admin set', async () => {
    const made = await callApi(keys, 'POST', '/key/generate', { team_id: 't-s', max_budget: 1 }, tadmin);
    expect(made.status).toBe(200);
    const key = made.body.token_id as string;
    expect((await callApi(keys, 'POST', '/key/update', { key, spend: 1 }, tadmin)).status).toBe(200);
    expect((await callApi(keys, 'POST', '/key/update', { key, spend: 0 }, tadmin)).status).toBe(200);
  });

  it('a proxy admin’s spend correction on such a key is the proxy admin’s: the team admin cannot undo it (found by review)', async () => {
    const made = await callApi(keys, 'POST', '/key/generate', { team_id: 't-s', max_budget: 1 }, tadmin);
    const key = made.body.token_id as string;
    // Raised (the key used up) or lowered, by a proxy admin: either is a limit it set.
    for (const spend of [1, 0.25]) {
      expect((await callApi(keys, 'POST', '/key/update', { key, spend })).status).toBe(200);
      const res = await callApi(keys, 'POST', '/key/update', { key, spend: 0 }, tadmin);
      const info = (await callApi(keys, 'GET', '/key/info', { key })).body.info;
      expect({ status: res.status, spend: info.spend }).toEqual({ status: 403, spend });
    }
  });
});
