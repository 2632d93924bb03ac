/**
 * Adding a user to a team takes them out from under their own budget and models: inside a team
 * the member's budget and the team's models govern instead (lib/domain/chain). A user's limits
 * are a proxy admin's, so a team admin may not add a user who has them (found by review: a user a
 * proxy admin had capped at $0 and one model, added by a team admin, made a team key and called
 * any team model, while moving their personal key into the team was refused).
 */
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { handler as keys } from '../../../functions/keys/handler.js';
import { handler as teams } from '../../../functions/teams/handler.js';
import { handler as users } from '../../../functions/users/handler.js';
import { callApi, userCtx } from '../../support/admin.js';
import { beforeNextWrite } from '../../support/races.js';
import { useTestTable } from '../../support/table.js';

const tadmin = userCtx('tadmin');
const TEAM = 't-join';

const members = async (): Promise<string[]> =>
  (await callApi(teams, 'GET', '/team/info', { team_id: TEAM })).body.team_memberships.map((m: { user_id: string }) => m.user_id).sort();

/** The personal limits, each alone: every one stops governing inside a team. */
const PERSONAL: Record<string, Record<string, unknown>> = {
  max_budget: { max_budget: 0 },
  'max_budget with budget_duration': { max_budget: 5, budget_duration: '30d' },
  models: { models: ['gpt-4o-mini'] },
  soft_budget: { soft_budget: 5 },
};

beforeAll(async () => {
  await useTestTable();
  await callApi(users, 'POST', '/user/new', { user_id: 'tadmin', auto_create_key: false });
  const made = await callApi(teams, 'POST', '/team/new', { team_id: TEAM, members_with_roles: [{ user_id: 'tadmin', role: 'admin' }] });
  expect(made.status).toBe(200);
});

afterEach(() => vi.restoreAllMocks());

describe('a team admin may not add a user whose budget or models a proxy admin set', () => {
  for (const [name, limits] of Object.entries(PERSONAL)) {
    it(`${name}: 403 naming the user and why, nothing written; a proxy admin may add them`, async () => {
      const userId = `capped-${name.replace(/\W+/g, '-')}`;
      expect((await callApi(users, 'POST', '/user/new', { user_id: userId, auto_create_key: false, ...limits })).status).toBe(200);
      const res = await callApi(teams, 'POST', '/team/member_add', { team_id: TEAM, member: { user_id: userId } }, tadmin);
      expect(res.status).toBe(403);
      expect(res.body.error.message).toMatch(
        new RegExp(`user \`${userId}\` has limits a proxy admin set: only a proxy admin may add them to a team`),
      );
      expect(await members()).not.toContain(userId);
      // Without the membership no team key is theirs to make.
      expect((await callApi(keys, 'POST', '/key/generate', { team_id: TEAM }, userCtx(userId))).status).toBe(403);
      const byAdmin = await callApi(teams, 'POST', '/team/member_add', { team_id: TEAM, member: { user_id: userId } });
      expect(byAdmin.status).toBe(200);
      expect(await members()).toContain(userId);
    });
  }

  it('one capped user among several: none is added', async () => {
    for (const u of ['free-1', 'free-2']) await callApi(users, 'POST', '/user/new', { user_id: u, auto_create_key: false });
    await callApi(users, 'POST', '/user/new', { user_id: 'capped-among', auto_create_key: false, max_budget: 1 });
    const res = await callApi(
      teams,
      'POST',
      '/team/member_add',
      { team_id: TEAM, member: [{ user_id: 'free-1' }, { user_id: 'capped-among' }, { user_id: 'free-2' }] },
      tadmin,
    );
    expect(res.status).toBe(403);
    expect(await members()).not.toEqual(expect.arrayContaining(['free-1']));
    expect(await members()).not.toEqual(expect.arrayContaining(['free-2']));
  });

  it('a user with no limits, or only rate limits (which govern inside a team too), a team admin may add', async () => {
    await callApi(users, 'POST', '/user/new', { user_id: 'free-3', auto_create_key: false });
    await callApi(users, 'POST', '/user/new', {
      user_id: 'rated',
      auto_create_key: false,
      rpm_limit: 5,
      tpm_limit: 1000,
      max_parallel_requests: 1,
    });
    const res = await callApi(
      teams,
      'POST',
      '/team/member_add',
      { team_id: TEAM, member: [{ user_id: 'free-3' }, { user_id: 'rated' }] },
      tadmin,
    );
    expect(res.status).toBe(200);
    expect(await members()).toEqual(expect.arrayContaining(['free-3', 'rated']));
  });

  it('a budget a proxy admin sets between the team admin’s read and write refuses the add (409), nothing written', async () => {
    await callApi(users, 'POST', '/user/new', { user_id: 'late-cap', auto_create_key: false });
    beforeNextWrite(() => callApi(users, 'POST', '/user/update', { user_id: 'late-cap', max_budget: 0 }));
    const res = await callApi(teams, 'POST', '/team/member_add', { team_id: TEAM, member: { user_id: 'late-cap' } }, tadmin);
    expect([res.status, res.body.error?.code]).toEqual([409, 'concurrent_update']);
    expect(await members()).not.toContain('late-cap');
  });

  it('an unknown user is still a 404', async () => {
    const res = await callApi(teams, 'POST', '/team/member_add', { team_id: TEAM, member: { user_id: 'nobody-here' } }, tadmin);
    expect(res.status).toBe(404);
  });
});
