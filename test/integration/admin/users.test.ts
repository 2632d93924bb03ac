import { createHash } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { handler as audit } from '../../../functions/audit/handler.js';
import { handler as keys } from '../../../functions/keys/handler.js';
import { handler as teams } from '../../../functions/teams/handler.js';
import { handler as users } from '../../../functions/users/handler.js';
import { refs } from '../../../lib/store/keys.js';
import { encodeOrgMember } from '../../../lib/store/org-members.js';
import { adminCtx, callApi, invokeDirect, userCtx } from '../../support/admin.js';
import { afterCacheTtl, expectUnchanged, otherInstance, scanTable } from '../../support/admin-checks.js';
import { childrenIndexed } from '../../support/races.js';
import { put, seedKey, seedMember, seedOrg, seedTeam, seedUser } from '../../support/seed.js';
import { useTestTable } from '../../support/table.js';

const post = (path: string, input: unknown, caller = adminCtx) => callApi(users, 'POST', path, input, caller);
const get = (path: string, input: unknown, caller = adminCtx) => callApi(users, 'GET', path, input, caller);

beforeAll(async () => {
  await useTestTable({ TOLLGATE_CACHE_TTL_SECONDS: '1' });
  await seedTeam({ team_id: 't-1' });
  await seedTeam({ team_id: 't-2' });
});

describe('/user/new', () => {
  it('creates the user and, like LiteLLM, a personal key whose plaintext is shown once', async () => {
    const res = await post('/user/new', {
      user_id: 'ann',
      user_email: 'ann@example.com',
      max_budget: 10,
      budget_duration: '30d',
      teams: ['t-1'],
      key_alias: 'ann-key',
      duration: '24h',
    });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      user_id: 'ann',
      user_email: 'ann@example.com',
      user_role: 'internal_user',
      max_budget: 10,
      spend: 0,
      teams: ['t-1'],
      key_alias: 'ann-key',
    });
    expect(res.body.key).toMatch(/^sk-/);
    expect(res.body.token).toBe(createHash('sha256').update(res.body.key).digest('hex'));
    expect(Date.parse(res.body.expires) - Date.parse(res.body.created_at)).toBe(86_400_000);
    const key = await callApi(keys, 'GET', '/key/info', { key: res.body.token });
    expect(key.body.info).toMatchObject({ user_id: 'ann', team_id: null, key_alias: 'ann-key' });
    expect(await otherInstance().authorize(res.body.key)).toEqual({ effect: 'allow' });
    expect(JSON.stringify(await scanTable())).not.toContain(res.body.key);
    const log = await invokeDirect(audit, { action: 'list', entity_type: 'user', entity_id: 'ann' });
    expect(log.data[0]).toMatchObject({ action: 'user.new', changes: { user_email: 'ann@example.com', teams: ['t-1'] } });
  });

  it("keeps LiteLLM's user_alias, on new and update", async () => {
    const res = await post('/user/new', { user_id: 'ali', user_alias: 'Ali B.', auto_create_key: false });
    expect(res.body).toMatchObject({ user_id: 'ali', user_alias: 'Ali B.' });
    expect((await post('/user/update', { user_id: 'ali', user_alias: 'Ali' })).body).toMatchObject({ user_alias: 'Ali' });
    expect((await get('/user/info', { user_id: 'ali' })).body.user_info).toMatchObject({ user_alias: 'Ali' });
  });

  it('makes no key with auto_create_key false; generates a user_id when none is given (direct invocation)', async () => {
    const res = await invokeDirect(users, { action: 'new', user_role: 'internal_user_viewer', auto_create_key: false });
    expect(res.user_id).toMatch(/^[0-9a-f-]{36}$/);
    expect(res).toMatchObject({ user_role: 'internal_user_viewer', teams: [] });
    expect(res).not.toHaveProperty('key');
    expect((await callApi(keys, 'GET', '/key/list', { user_id: res.user_id })).body.data).toEqual([]);
  });

  it('is one transaction: a missing team or a taken alias leaves nothing behind', async () => {
    await expectUnchanged(async () => {
      expect((await post('/user/new', { user_id: 'bea', teams: ['t-1', 't-none'] })).body.error).toMatchObject({ code: 'team_not_found' });
      const dup = await post('/user/new', { user_id: 'bea', key_alias: 'ann-key' });
      expect(dup.body.error).toMatchObject({ code: 'key_alias_taken', param: 'key_alias' });
      expect((await post('/user/new', { user_id: 'ann' })).body.error).toMatchObject({ code: 'user_exists', param: 'user_id' });
    });
  });
});

describe('/user/update', () => {
  it('changes the named fields and spend; 404 for an unknown user', async () => {
    await seedUser({ user_id: 'cy', max_budget: 5, user_email: 'cy@example.com' });
    const res = await post('/user/update', { user_id: 'cy', max_budget: 8, user_role: 'proxy_admin', spend: 2 });
    expect(res.body).toMatchObject({ user_id: 'cy', max_budget: 8, user_role: 'proxy_admin', spend: 2, user_email: 'cy@example.com' });
    expect(await invokeDirect(users, { action: 'update', user_id: 'cy', user_email: null })).toMatchObject({
      user_email: null,
      max_budget: 8,
    });
    await expectUnchanged(async () => {
      expect((await post('/user/update', { user_id: 'nobody', max_budget: 1 })).status).toBe(404);
    });
  });

  it('a budget change on a user is seen by the authorizer after the cache TTL, not before', async () => {
    await seedUser({ user_id: 'dee', max_budget: 10, spend: 4 });
    const k = await seedKey({ user_id: 'dee' });
    const authz = otherInstance();
    expect(await authz.authorize(k.key)).toEqual({ effect: 'allow' });
    await post('/user/update', { user_id: 'dee', max_budget: 4 });
    expect(await authz.authorize(k.key)).toEqual({ effect: 'allow' });
    await afterCacheTtl();
    expect(await authz.authorize(k.key)).toEqual({ effect: 'deny', code: 'user_budget_exceeded' });
  });
});

describe('/user/info and /user/list', () => {
  it('shows the user with budget window, keys and teams; a user reads their own without user_id', async () => {
    await seedUser({ user_id: 'eve', max_budget: 3, budget_duration: '1d' });
    await seedMember({ team_id: 't-2', user_id: 'eve', role: 'admin', max_budget: 2 });
    const k = await seedKey({ user_id: 'eve' });
    const res = await get('/user/info', { user_id: 'eve' });
    expect(res.body).toMatchObject({
      user_id: 'eve',
      user_info: { user_id: 'eve', max_budget: 3, spend: 0, total_spend: 0, budget_reset_at: expect.any(String) },
      keys: [{ token: k.record.token }],
      keys_next_cursor: null,
      teams: [{ team_id: 't-2', role: 'admin', max_budget_in_team: 2 }],
    });
    expect((await get('/user/info', {}, userCtx('eve'))).body).toEqual(res.body);
    expect(await invokeDirect(users, { action: 'info', user_id: 'eve' })).toEqual(res.body);
  });

  it('lists users a page at a time', async () => {
    const first = await get('/user/list', { limit: 2 });
    expect(first.body.data).toHaveLength(2);
    const rest = await invokeDirect(users, { action: 'list', cursor: first.body.next_cursor, limit: 1000 });
    const all = [...first.body.data, ...rest.data].map((u: { user_id: string }) => u.user_id);
    expect(new Set(all).size).toBe(all.length);
    expect(all).toEqual(expect.arrayContaining(['ann', 'cy', 'eve']));
  });
});

describe('/user/delete', () => {
  it('deletes the user, their personal and team keys, their memberships and their organization membership', async () => {
    await seedOrg({ organization_id: 'org-f' });
    await seedUser({ user_id: 'fay', organization_id: 'org-f' });
    await put(
      encodeOrgMember({ organization_id: 'org-f', user_id: 'fay', user_role: 'internal_user', created_at: new Date().toISOString() }),
    );
    await seedMember({ team_id: 't-1', user_id: 'fay' });
    const personal = (await callApi(keys, 'POST', '/key/generate', { user_id: 'fay', key_alias: 'fay-key' })).body;
    const teamKey = await seedKey({ user_id: 'fay', team_id: 't-1' });
    const other = await seedKey({ team_id: 't-1' });
    // The delete lists the keys at once (no index lag to wait out), well within the cache TTL.
    await childrenIndexed(refs.user('fay'));
    const authz = otherInstance();
    expect(await authz.authorize(personal.key)).toEqual({ effect: 'allow' });

    expect((await post('/user/delete', { user_ids: ['fay'] })).body).toEqual({ deleted_user_ids: ['fay'] });
    const left = (await scanTable()).filter(
      (i) =>
        !String(i.PK).startsWith('AUDIT#') &&
        (i.user_id === 'fay' ||
          String(i.PK) === 'KEY_ALIAS#fay-key' ||
          (i.PK === refs.orgMember('org-f', 'fay').PK && i.SK === refs.orgMember('org-f', 'fay').SK)),
    );
    expect(left).toEqual([]);
    expect((await callApi(keys, 'GET', '/key/info', { key: teamKey.key })).status).toBe(404);
    expect((await callApi(keys, 'GET', '/key/info', { key: other.key })).status).toBe(200);
    expect(
      (await callApi(teams, 'GET', '/team/info', { team_id: 't-1' })).body.team_memberships.map((m: { user_id: string }) => m.user_id),
    ).not.toContain('fay');

    // The deletion is seen by the authorizer after the cache TTL, not before.
    expect(await authz.authorize(personal.key)).toEqual({ effect: 'allow' });
    await afterCacheTtl();
    expect(await authz.authorize(personal.key)).toEqual({ effect: 'unauthorized' });
    const log = await invokeDirect(audit, { action: 'list', entity_type: 'user', entity_id: 'fay' });
    expect(log.data[0]).toMatchObject({ action: 'user.delete', changes: { deleted_keys: 2, deleted_memberships: 1 } });
  });

  it('deletes a user with more than one transaction holds, in chunks (direct invocation)', async () => {
    await seedUser({ user_id: 'gus' });
    for (let i = 0; i < 70; i++) await seedKey({ user_id: 'gus' });
    expect(await invokeDirect(users, { action: 'delete', user_ids: ['gus'] })).toEqual({ deleted_user_ids: ['gus'] });
    expect((await scanTable()).filter((i) => i.user_id === 'gus' && !String(i.PK).startsWith('AUDIT#'))).toEqual([]);
  });

  it('deletes none when one user is missing', async () => {
    await seedUser({ user_id: 'hal' });
    await expectUnchanged(async () => {
      expect((await post('/user/delete', { user_ids: ['hal', 'nobody'] })).body.error.code).toBe('user_not_found');
    });
  });
});

describe('bad input: 400 naming the field, 404, 409; the table unchanged', () => {
  beforeAll(async () => {
    await seedUser({ user_id: 'ivy' });
  });

  const cases: [string, string, string, Record<string, unknown>, number, string, string | null][] = [
    ['new', 'POST', '/user/new', { user_email: 'not-an-email' }, 400, 'invalid_field', 'user_email'],
    ['new', 'POST', '/user/new', { user_role: 'root' }, 400, 'invalid_field', 'user_role'],
    ['new', 'POST', '/user/new', { max_budget: -0.5 }, 400, 'invalid_field', 'max_budget'],
    ['new', 'POST', '/user/new', { budget_duration: '30 days' }, 400, 'invalid_field', 'budget_duration'],
    ['new', 'POST', '/user/new', { duration: 'forever' }, 400, 'invalid_field', 'duration'],
    ['new', 'POST', '/user/new', { teams: 't-1' }, 400, 'invalid_type', 'teams'],
    ['new', 'POST', '/user/new', { auto_create_key: 'no' }, 400, 'invalid_type', 'auto_create_key'],
    ['new', 'POST', '/user/new', { auto_create_key: false, key_alias: 'x' }, 400, 'invalid_field', 'key_alias'],
    ['new', 'POST', '/user/new', { user_alias: '' }, 400, 'invalid_field', 'user_alias'],
    ['new', 'POST', '/user/new', { send_invite_email: true }, 400, 'unknown_field', 'send_invite_email'],
    // The mode is the key's, team's or organization's (lib/domain/enforcement): on a user it would change nothing.
    ['new', 'POST', '/user/new', { enforcement: 'strict' }, 400, 'unknown_field', 'enforcement'],
    ['new', 'POST', '/user/new', { user_id: 'ivy' }, 409, 'user_exists', 'user_id'],
    ['new', 'POST', '/user/new', { teams: ['t-none'] }, 404, 'team_not_found', null],
    ['update', 'POST', '/user/update', { user_id: 'ivy' }, 400, 'nothing_to_update', null],
    ['update', 'POST', '/user/update', { max_budget: 1 }, 400, 'invalid_type', 'user_id'],
    ['update', 'POST', '/user/update', { user_id: 'ivy', models: 'all' }, 400, 'invalid_type', 'models'],
    ['update', 'POST', '/user/update', { user_id: 'ivy', spend: -1 }, 400, 'invalid_field', 'spend'],
    ['update', 'POST', '/user/update', { user_id: 'ivy', teams: ['t-1'] }, 400, 'unknown_field', 'teams'],
    ['update', 'POST', '/user/update', { user_id: 'ivy', blocked: true }, 400, 'unknown_field', 'blocked'],
    ['update', 'POST', '/user/update', { user_id: 'ivy', enforcement: 'fast' }, 400, 'unknown_field', 'enforcement'],
    ['update', 'POST', '/user/update', { user_id: 'nobody', max_budget: 1 }, 404, 'user_not_found', null],
    ['delete', 'POST', '/user/delete', { user_ids: [] }, 400, 'invalid_field', 'user_ids'],
    ['delete', 'POST', '/user/delete', { user_ids: [' a/b'] }, 400, 'invalid_field', 'user_ids.0'],
    ['delete', 'POST', '/user/delete', { user_ids: ['nobody'] }, 404, 'user_not_found', null],
    ['info', 'GET', '/user/info', { user_id: 'nobody' }, 404, 'user_not_found', null],
    ['info', 'GET', '/user/info', {}, 400, 'invalid_field', 'user_id'],
    ['info', 'GET', '/user/info', { user_id: 'ivy', expand: 'keys' }, 400, 'unknown_field', 'expand'],
    ['list', 'GET', '/user/list', { limit: '5000' }, 400, 'invalid_field', 'limit'],
    ['list', 'GET', '/user/list', { role: 'x' }, 400, 'unknown_field', 'role'],
  ];

  it.each(cases)('%s: %s %s %j -> %i %s', async (actionName, method, path, input, status, code, param) => {
    await expectUnchanged(async () => {
      const res = await callApi(users, method, path, input);
      expect(res.status).toBe(status);
      expect(res.body.error.code).toBe(code);
      if (param !== null) expect(res.body.error.param).toBe(param);
      await expect(invokeDirect(users, { action: actionName, ...input })).rejects.toMatchObject({ status, code });
    });
  });
});
