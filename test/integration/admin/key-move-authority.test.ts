/**
 * Moving a key out from under the limits that governed it (found by review): a team admin may
 * not raise or remove a member's limits a proxy admin set, and so may not move that member's key
 * off the member either (`user_id: null` would make it a team key of nobody, governed by no
 * member limit: lib/domain/chain). The same for a key's team, and for a user's own limits.
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
    team_id: 't-m',
    members_with_roles: [
      { user_id: 'tadmin', role: 'admin' },
      { user_id: 'bob', role: 'user' },
    ],
  });
  // The proxy admin caps bob in the team: $1 and 5 requests a minute.
  const capped = await callApi(teams, 'POST', '/team/member_update', {
    team_id: 't-m',
    user_id: 'bob',
    max_budget_in_team: 1,
    rpm_limit: 5,
  });
  expect(capped.status).toBe(200);
});

describe('a team admin cannot lift member limits a proxy admin set by moving the member’s key off the member', () => {
  it('member_update raising them is refused (as designed)', async () => {
    const res = await callApi(teams, 'POST', '/team/member_update', { team_id: 't-m', user_id: 'bob', max_budget_in_team: 100 }, tadmin);
    expect(res.status).toBe(403);
  });

  it('key/update user_id: null on bob’s key is refused, and the key stays bob’s', async () => {
    const made = await callApi(keys, 'POST', '/key/generate', { user_id: 'bob', team_id: 't-m' });
    expect(made.status).toBe(200);
    const res = await callApi(keys, 'POST', '/key/update', { key: made.body.token_id, user_id: null }, tadmin);
    const info = (await callApi(keys, 'GET', '/key/info', { key: made.body.token_id })).body.info;
    // What happens: 200, user_id null: bob's plaintext now runs with no member budget or rpm_limit.
    expect({ status: res.status, user_id: info.user_id }).toEqual({ status: 403, user_id: 'bob' });
  });

  it('the team admin’s own member limits (set by a proxy admin) cannot be escaped either', async () => {
    const capped = await callApi(teams, 'POST', '/team/member_update', { team_id: 't-m', user_id: 'tadmin', max_budget_in_team: 1 });
    expect(capped.status).toBe(200);
    // The team admin may not raise their own (as designed)...
    expect(
      (await callApi(teams, 'POST', '/team/member_update', { team_id: 't-m', user_id: 'tadmin', max_budget_in_team: 100 }, tadmin)).status,
    ).toBe(403);
    // ...but moves their own key off themself: it then answers to no member budget.
    const mine = await callApi(keys, 'POST', '/key/generate', { team_id: 't-m' }, tadmin);
    expect(mine.status).toBe(200);
    expect(mine.body.user_id).toBe('tadmin');
    const res = await callApi(keys, 'POST', '/key/update', { key: mine.body.key, user_id: null }, tadmin);
    expect(res.status).toBe(403);
  });

  it('a capped team admin may not generate a team key with no user: it would answer to none of their limits (found by review)', async () => {
    // tadmin's own member budget is $1, set by a proxy admin (previous test). A key owned by nobody
    // answers to no member's or user's limits: made by tadmin, it would be tadmin's way round them.
    const before = (await callApi(keys, 'GET', '/key/list', { team_id: 't-m' })).body.keys.length;
    const res = await callApi(keys, 'POST', '/key/generate', { team_id: 't-m', user_id: null, max_budget: 1 }, tadmin);
    expect(res.status).toBe(403);
    expect(res.body.error.message).toMatch(
      /member `tadmin` of team `t-m` has limits a proxy admin set: only a proxy admin may make a team key with no user/,
    );
    expect((await callApi(keys, 'GET', '/key/list', { team_id: 't-m' })).body.keys.length).toBe(before);
    // A proxy admin may (LiteLLM's service-account keys).
    const admin = await callApi(keys, 'POST', '/key/generate', { team_id: 't-m', user_id: null, max_budget: 1 });
    expect(admin.status).toBe(200);
    expect(admin.body.user_id).toBeNull();
  });
});

describe('a team key with no user, made by a team admin', () => {
  beforeAll(async () => {
    for (const u of ['free-admin', 'user-capped-admin', 'team-capped-admin'])
      await callApi(users, 'POST', '/user/new', { user_id: u, auto_create_key: false });
    await callApi(teams, 'POST', '/team/new', {
      team_id: 't-svc',
      members_with_roles: [
        { user_id: 'free-admin', role: 'admin' },
        { user_id: 'user-capped-admin', role: 'admin' },
      ],
    });
    // A fellow team admin adds the third admin, and caps them: their member limits are a team admin's.
    const added = await callApi(
      teams,
      'POST',
      '/team/member_add',
      { team_id: 't-svc', member: { user_id: 'team-capped-admin', role: 'admin' } },
      userCtx('free-admin'),
    );
    expect(added.status).toBe(200);
    // A proxy admin caps one admin as a user (every limit-like user field), none in the team.
    expect((await callApi(users, 'POST', '/user/update', { user_id: 'user-capped-admin', rpm_limit: 1 })).status).toBe(200);
    const byTeamAdmin = await callApi(
      teams,
      'POST',
      '/team/member_update',
      { team_id: 't-svc', user_id: 'team-capped-admin', tpm_limit: 10 },
      userCtx('free-admin'),
    );
    expect(byTeamAdmin.status).toBe(200);
  });

  it('is made by an admin none of whose limits more authority set: it answers to the team and its own limits (LiteLLM’s service accounts)', async () => {
    const res = await callApi(keys, 'POST', '/key/generate', { team_id: 't-svc', user_id: null, max_budget: 2 }, userCtx('free-admin'));
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ user_id: null, team_id: 't-svc', limits_set_by: 'team_admin' });
  });

  it('is made by an admin whose member limits a team admin set (as much authority)', async () => {
    const res = await callApi(keys, 'POST', '/key/generate', { team_id: 't-svc', user_id: null }, userCtx('team-capped-admin'));
    expect(res.status).toBe(200);
  });

  // Every user limit that governs a team key (a user's budget and models govern personal keys only).
  for (const [field, value] of [
    ['rpm_limit', 1],
    ['tpm_limit', 10],
    ['max_parallel_requests', 1],
  ] as const) {
    it(`is refused to an admin whose user ${field} a proxy admin set, and nothing is written`, async () => {
      const admin = `user-${field}-admin`;
      await callApi(users, 'POST', '/user/new', { user_id: admin, auto_create_key: false, [field]: value });
      expect(
        (await callApi(teams, 'POST', '/team/member_add', { team_id: 't-svc', member: { user_id: admin, role: 'admin' } })).status,
      ).toBe(200);
      const before = (await callApi(keys, 'GET', '/key/list', { team_id: 't-svc' })).body.keys.length;
      const res = await callApi(keys, 'POST', '/key/generate', { team_id: 't-svc', user_id: null }, userCtx(admin));
      expect(res.status).toBe(403);
      expect(res.body.error.message).toMatch(new RegExp(`user \`${admin}\` has limits a proxy admin set`));
      expect((await callApi(keys, 'GET', '/key/list', { team_id: 't-svc' })).body.keys.length).toBe(before);
      // Their own key, held to those limits, they may still make.
      expect((await callApi(keys, 'POST', '/key/generate', { team_id: 't-svc' }, userCtx(admin))).status).toBe(200);
    });
  }

  it('nor reached by /key/update: a user-less key moved into the team, or a key of theirs made user-less and moved there (found by review)', async () => {
    // dual is an admin of t-svc-free, where nobody capped them, and of t-svc, where a proxy admin did.
    await callApi(users, 'POST', '/user/new', { user_id: 'dual', auto_create_key: false });
    await callApi(teams, 'POST', '/team/new', { team_id: 't-svc-free', members_with_roles: [{ user_id: 'dual', role: 'admin' }] });
    expect(
      (await callApi(teams, 'POST', '/team/member_add', { team_id: 't-svc', member: { user_id: 'dual', role: 'admin' } })).status,
    ).toBe(200);
    expect((await callApi(teams, 'POST', '/team/member_update', { team_id: 't-svc', user_id: 'dual', rpm_limit: 1 })).status).toBe(200);
    const dual = userCtx('dual');
    expect((await callApi(keys, 'POST', '/key/generate', { team_id: 't-svc', user_id: null }, dual)).status).toBe(403);
    const userless = await callApi(keys, 'POST', '/key/generate', { team_id: 't-svc-free', user_id: null }, dual);
    expect(userless.status).toBe(200);
    const moved = await callApi(keys, 'POST', '/key/update', { key: userless.body.key, team_id: 't-svc' }, dual);
    expect(moved.status).toBe(403);
    expect(moved.body.error.message).toMatch(/member `dual` of team `t-svc` has limits a proxy admin set/);
    const own = await callApi(keys, 'POST', '/key/generate', { team_id: 't-svc-free' }, dual);
    expect((await callApi(keys, 'POST', '/key/update', { key: own.body.key, team_id: 't-svc', user_id: null }, dual)).status).toBe(403);
    // Both keys stay where they were.
    for (const k of [userless.body, own.body])
      expect((await callApi(keys, 'GET', '/key/info', { key: k.key })).body.info).toMatchObject({
        team_id: 't-svc-free',
        user_id: k.user_id,
      });
    // A proxy admin may move it there.
    expect((await callApi(keys, 'POST', '/key/update', { key: userless.body.key, team_id: 't-svc' })).status).toBe(200);
  });

  it('nor its plaintext taken by /key/regenerate: refused to a capped admin, as making one is; a free admin may', async () => {
    const made = await callApi(keys, 'POST', '/key/generate', { team_id: 't-svc', user_id: null }, userCtx('free-admin'));
    expect(made.status).toBe(200);
    const taken = await callApi(keys, 'POST', '/key/regenerate', { key: made.body.key }, userCtx('user-capped-admin'));
    expect(taken.status).toBe(403);
    expect(taken.body.error.message).toMatch(
      /user `user-capped-admin` has limits a proxy admin set: only a proxy admin may regenerate a team key with no user/,
    );
    // The key was not replaced: it still works as it was.
    expect((await callApi(keys, 'GET', '/key/info', { key: made.body.key })).status).toBe(200);
    expect((await callApi(keys, 'POST', '/key/regenerate', { key: made.body.key }, userCtx('free-admin'))).status).toBe(200);
  });

  it('is refused to the admin capped as a user too', async () => {
    const res = await callApi(keys, 'POST', '/key/generate', { team_id: 't-svc', user_id: null }, userCtx('user-capped-admin'));
    expect(res.status).toBe(403);
  });
});

describe('moving a key out from under the limits that governed it', () => {
  beforeAll(async () => {
    for (const u of ['carol', 'dave']) await callApi(users, 'POST', '/user/new', { user_id: u, auto_create_key: false });
    await callApi(teams, 'POST', '/team/new', {
      team_id: 't-n',
      members_with_roles: [
        { user_id: 'tadmin', role: 'admin' },
        { user_id: 'bob', role: 'user' },
        { user_id: 'carol', role: 'user' },
      ],
    });
    // Added by the team admin: carol's member limits are a team admin's.
    const added = await callApi(
      teams,
      'POST',
      '/team/member_add',
      { team_id: 't-m', member: [{ user_id: 'carol', role: 'user' }] },
      tadmin,
    );
    expect(added.status).toBe(200);
  });

  it('says why, and writes nothing: onto the team admin, or into another team', async () => {
    const made = await callApi(keys, 'POST', '/key/generate', { user_id: 'bob', team_id: 't-m' });
    const onto = await callApi(keys, 'POST', '/key/update', { key: made.body.token_id, user_id: 'tadmin' }, tadmin);
    expect(onto.status).toBe(403);
    expect(onto.body.error.message).toContain('member `bob` of team `t-m` has limits a proxy admin set');
    const away = await callApi(keys, 'POST', '/key/update', { key: made.body.token_id, team_id: 't-n' }, tadmin);
    expect(away.status).toBe(403);
    const info = (await callApi(keys, 'GET', '/key/info', { key: made.body.token_id })).body.info;
    expect({ user_id: info.user_id, team_id: info.team_id }).toEqual({ user_id: 'bob', team_id: 't-m' });
  });

  it('a proxy admin may move it', async () => {
    const made = await callApi(keys, 'POST', '/key/generate', { user_id: 'bob', team_id: 't-m' });
    const res = await callApi(keys, 'POST', '/key/update', { key: made.body.token_id, user_id: null });
    expect(res.status).toBe(200);
    expect(res.body.user_id).toBeNull();
  });

  it('a team admin may move the key of a member with no limits, or with limits a team admin set', async () => {
    // An admin none of whose own limits a proxy admin set (tadmin's were: a key of nobody's in the
    // team would escape them, so tadmin may make none, as the user-less keys below say).
    await callApi(users, 'POST', '/user/new', { user_id: 'tadmin-free', auto_create_key: false });
    expect(
      (await callApi(teams, 'POST', '/team/member_add', { team_id: 't-m', member: { user_id: 'tadmin-free', role: 'admin' } })).status,
    ).toBe(200);
    const admin = userCtx('tadmin-free');
    const free = await callApi(keys, 'POST', '/key/generate', { user_id: 'carol', team_id: 't-m' });
    expect((await callApi(keys, 'POST', '/key/update', { key: free.body.token_id, user_id: null }, tadmin)).status).toBe(403);
    expect((await callApi(keys, 'POST', '/key/update', { key: free.body.token_id, user_id: null }, admin)).status).toBe(200);
    expect(
      (await callApi(teams, 'POST', '/team/member_update', { team_id: 't-m', user_id: 'carol', max_budget_in_team: 5 }, tadmin)).status,
    ).toBe(200);
    const capped = await callApi(keys, 'POST', '/key/generate', { user_id: 'carol', team_id: 't-m' });
    expect((await callApi(keys, 'POST', '/key/update', { key: capped.body.token_id, user_id: null }, admin)).status).toBe(200);
  });

  it('a key’s own user may not lift member limits a team admin set by moving it to another team', async () => {
    // carol's member budget in t-m was set by a team admin (previous test); her key's owner has less authority.
    const mine = await callApi(keys, 'POST', '/key/generate', { team_id: 't-m' }, userCtx('carol'));
    expect(mine.status).toBe(200);
    const res = await callApi(keys, 'POST', '/key/update', { key: mine.body.key, team_id: 't-n' }, userCtx('carol'));
    expect(res.status).toBe(403);
    expect(res.body.error.message).toContain('has limits a team admin set');
  });

  // Every user limit that governs only a personal key (lib/admin/rules/limits personalUserLimits).
  it.each([
    ['max_budget', 1],
    ['soft_budget', 1],
    ['models', ['gpt-4o-mini']],
  ] as const)(
    'a user whose %s a proxy admin set may not move a personal key into a team (it stops governing the key there)',
    async (field, value) => {
      const user = `dave-${field}`;
      expect((await callApi(users, 'POST', '/user/new', { user_id: user, auto_create_key: false, [field]: value })).status).toBe(200);
      await callApi(teams, 'POST', '/team/member_add', { team_id: 't-n', member: [{ user_id: user, role: 'user' }] });
      const mine = await callApi(keys, 'POST', '/key/generate', {}, userCtx(user));
      expect(mine.status).toBe(200);
      expect(mine.body.team_id).toBeNull();
      const res = await callApi(keys, 'POST', '/key/update', { key: mine.body.key, team_id: 't-n' }, userCtx(user));
      expect(res.status).toBe(403);
      expect(res.body.error.message).toContain(`user \`${user}\` has limits a proxy admin set`);
      expect((await callApi(keys, 'GET', '/key/info', { key: mine.body.key })).body.info.team_id).toBeNull();
    },
  );
});

describe('limits a team admin set on a key bind whoever is no admin of that team, in whatever team the key goes to', () => {
  const alice = userCtx('alice');
  const ann = userCtx('ann');
  const limits = { max_budget: 1, rpm_limit: 5, models: ['gpt-4o-mini'] };
  beforeAll(async () => {
    for (const u of ['alice', 'ann']) await callApi(users, 'POST', '/user/new', { user_id: u, auto_create_key: false });
    // alice is a plain member of t-1 and an admin of t-2; ann is an admin of both.
    await callApi(teams, 'POST', '/team/new', {
      team_id: 't-1',
      members_with_roles: [
        { user_id: 'ann', role: 'admin' },
        { user_id: 'alice', role: 'user' },
      ],
    });
    await callApi(teams, 'POST', '/team/new', {
      team_id: 't-2',
      members_with_roles: [
        { user_id: 'alice', role: 'admin' },
        { user_id: 'ann', role: 'admin' },
      ],
    });
  });

  /** alice's own key in t-1, limited by t-1's admin. */
  async function limitedByTeamAdmin(): Promise<string> {
    const made = await callApi(keys, 'POST', '/key/generate', { team_id: 't-1' }, alice);
    expect(made.status).toBe(200);
    const set = await callApi(keys, 'POST', '/key/update', { key: made.body.key, ...limits }, ann);
    expect(set.status).toBe(200);
    expect(set.body.limits_set_by).toBe('team_admin');
    return made.body.key as string;
  }

  it('alice may not loosen them in t-1 (as designed), nor move the key to t-2 where she is admin: 403 naming why', async () => {
    const key = await limitedByTeamAdmin();
    expect((await callApi(keys, 'POST', '/key/update', { key, max_budget: 100 }, alice)).status).toBe(403);
    const moved = await callApi(keys, 'POST', '/key/update', { key, team_id: 't-2' }, alice);
    expect(moved.status).toBe(403);
    expect(moved.body.error.message).toContain(
      'were set by an admin of team `t-1`: only a proxy admin or an admin of team `t-1` may move it to another team',
    );
    // What happened before: 200, then as t-2's admin she raised them (200) and moved the key back to t-1.
    const info = (await callApi(keys, 'GET', '/key/info', { key })).body.info;
    expect(info).toMatchObject({ team_id: 't-1', ...limits });
  });

  it('nor out of any team (a personal key), from where she could take it into t-2', async () => {
    const key = await limitedByTeamAdmin();
    const res = await callApi(keys, 'POST', '/key/update', { key, team_id: null }, alice);
    expect(res.status).toBe(403);
    expect(res.body.error.message).toContain('admin of team `t-1`');
  });

  it('t-1’s own admin may move it, and a proxy admin may', async () => {
    const byAnn = await limitedByTeamAdmin();
    expect((await callApi(keys, 'POST', '/key/update', { key: byAnn, team_id: 't-2' }, ann)).status).toBe(200);
    const byAdmin = await limitedByTeamAdmin();
    expect((await callApi(keys, 'POST', '/key/update', { key: byAdmin, team_id: 't-2' })).status).toBe(200);
  });

  it('a key with no limits set, or with limits of her own, alice may still move', async () => {
    const free = await callApi(keys, 'POST', '/key/generate', { team_id: 't-1' }, alice);
    expect((await callApi(keys, 'POST', '/key/update', { key: free.body.key, team_id: 't-2' }, alice)).status).toBe(200);
    const own = await callApi(keys, 'POST', '/key/generate', { team_id: 't-1', max_budget: 1 }, alice);
    expect(own.body.limits_set_by).toBe('owner');
    expect((await callApi(keys, 'POST', '/key/update', { key: own.body.key, team_id: 't-2' }, alice)).status).toBe(200);
  });
});
