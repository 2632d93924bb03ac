import { TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { handler as audit } from '../../../functions/audit/handler.js';
import { handler as keys } from '../../../functions/keys/handler.js';
import { handler as teams } from '../../../functions/teams/handler.js';
import { documentClient } from '../../../lib/app/index.js';
import { refs } from '../../../lib/store/keys.js';
import { adminCtx, callApi, invokeDirect, userCtx } from '../../support/admin.js';
import { afterCacheTtl, expectUnchanged, otherInstance, scanTable } from '../../support/admin-checks.js';
import { childrenIndexed } from '../../support/races.js';
import { seedKey, seedMember, seedOrg, seedTeam, seedUser } from '../../support/seed.js';
import { useTestTable } from '../../support/table.js';

const post = (path: string, input: unknown, caller = adminCtx) => callApi(teams, 'POST', path, input, caller);
const get = (path: string, input: unknown, caller = adminCtx) => callApi(teams, 'GET', path, input, caller);
const teamInfo = async (teamId: string) => (await get('/team/info', { team_id: teamId })).body;

beforeAll(async () => {
  await useTestTable({ TOLLGATE_CACHE_TTL_SECONDS: '1' });
  await seedOrg({ organization_id: 'org-1', models: ['gpt-4o', 'gpt-4o-mini'], max_budget: 100 });
  await seedOrg({ organization_id: 'org-2', max_budget: 500 });
  for (const u of ['alice', 'bob', 'carol', 'dave']) await seedUser({ user_id: u });
});

describe('/team/new', () => {
  it('creates a team with a generated team_id, its members and an audit trail', async () => {
    const res = await post('/team/new', {
      team_alias: 'ml',
      models: ['gpt-4o'],
      max_budget: 50,
      budget_duration: '30d',
      members_with_roles: [{ user_id: 'alice', role: 'admin' }, { user_id: 'bob' }],
      organization_id: 'org-1',
    });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      team_alias: 'ml',
      organization_id: 'org-1',
      max_budget: 50,
      blocked: false,
      spend: 0,
      budget_reset_at: expect.any(String),
      members_with_roles: [
        { user_id: 'alice', role: 'admin' },
        { user_id: 'bob', role: 'user' },
      ],
    });
    expect(res.body.team_id).toMatch(/^[0-9a-f-]{36}$/);
    const info = await teamInfo(res.body.team_id);
    expect(info.team_memberships.map((m: { user_id: string; role: string }) => [m.user_id, m.role])).toEqual([
      ['alice', 'admin'],
      ['bob', 'user'],
    ]);
    const log = await invokeDirect(audit, { action: 'list', entity_type: 'team', entity_id: res.body.team_id });
    expect(log.data[0]).toMatchObject({ action: 'team.new', changes: { team_alias: 'ml', max_budget: 50 } });
  });

  it('takes a team_id, by direct invocation too; a second one is 409 team_exists', async () => {
    expect(await invokeDirect(teams, { action: 'new', team_id: 't-direct', team_alias: 'd' })).toMatchObject({ team_id: 't-direct' });
    await expectUnchanged(async () => {
      expect((await post('/team/new', { team_id: 't-direct' })).body.error).toMatchObject({ code: 'team_exists', param: 'team_id' });
      await expect(invokeDirect(teams, { action: 'new', team_id: 't-direct' })).rejects.toMatchObject({ status: 409, code: 'team_exists' });
    });
  });

  it('refuses unknown organizations and users, and everything together (one transaction)', async () => {
    await expectUnchanged(async () => {
      expect((await post('/team/new', { team_id: 't-x', organization_id: 'org-none' })).body.error.code).toBe('organization_not_found');
      const res = await post('/team/new', { team_id: 't-x', members_with_roles: [{ user_id: 'alice' }, { user_id: 'ghost' }] });
      expect(res).toMatchObject({ status: 404, body: { error: { code: 'user_not_found' } } });
      expect(res.body.error.message).toContain('ghost');
    });
  });
});

describe('hierarchy: a team within its organization', () => {
  it('refuses models the organization does not have, naming both sides', async () => {
    await expectUnchanged(async () => {
      const res = await post('/team/new', { team_id: 't-h', organization_id: 'org-1', models: ['gpt-4o', 'o3'] });
      expect(res.body.error).toMatchObject({ code: 'hierarchy_violation', param: 'models' });
      expect(res.body.error.message).toContain('team `t-h`');
      expect(res.body.error.message).toContain('organization `org-1`');
      expect(res.body.error.message).toContain('o3');
    });
  });

  it("refuses a max_budget above the organization's, on new and on update", async () => {
    const res = await post('/team/new', { team_id: 't-h', organization_id: 'org-1', max_budget: 100.5 });
    expect(res.body.error).toMatchObject({ code: 'hierarchy_violation', param: 'max_budget' });
    expect(res.body.error.message).toMatch(/team `t-h` max_budget 100\.50 is above organization `org-1` max_budget 100\.00/);
    await post('/team/new', { team_id: 't-h', organization_id: 'org-1', max_budget: 100 });
    expect((await post('/team/update', { team_id: 't-h', max_budget: 101 })).body.error.code).toBe('hierarchy_violation');
    expect((await post('/team/update', { team_id: 't-h', models: ['claude'] })).body.error.code).toBe('hierarchy_violation');
  });

  it('checks the new organization when a team moves', async () => {
    await post('/team/new', { team_id: 't-mv', organization_id: 'org-2', models: ['claude'], max_budget: 400 });
    await expectUnchanged(async () => {
      const res = await post('/team/update', { team_id: 't-mv', organization_id: 'org-1' });
      expect(res.body.error.code).toBe('hierarchy_violation');
    });
  });

  it('a team narrows without editing its keys (issue 10, item 5): the keys then use what is left, shown by /key/info', async () => {
    await seedTeam({ team_id: 't-shrink', models: ['a', 'b'], max_budget: 100 });
    await seedMember({ team_id: 't-shrink', user_id: 'carol', max_budget: 60 });
    const { key } = await seedKey({ team_id: 't-shrink', models: ['b'], max_budget: 80 });
    const { key: open } = await seedKey({ team_id: 't-shrink', models: [] });
    const info = async (k: string) => (await callApi(keys, 'GET', '/key/info', { key: k })).body.info.effective_models;
    expect(await info(key)).toEqual(['b']);
    expect(await info(open)).toEqual(['a', 'b']);
    // Below its key's models and its key's and member's budgets: allowed, one write.
    const narrowed = await post('/team/update', { team_id: 't-shrink', models: ['a'], max_budget: 50 });
    expect([narrowed.status, narrowed.body.data?.models ?? narrowed.body.models]).toEqual([200, ['a']]);
    expect(await info(key)).toEqual([]);
    expect(await info(open)).toEqual(['a']);
  });

  it("a member budget is not above the team's", async () => {
    await seedTeam({ team_id: 't-mb', max_budget: 10 });
    await expectUnchanged(async () => {
      const res = await post('/team/member_add', { team_id: 't-mb', member: { user_id: 'alice' }, max_budget_in_team: 11 });
      expect(res.body.error).toMatchObject({ code: 'hierarchy_violation', param: 'max_budget_in_team' });
      expect(res.body.error.message).toContain('team `t-mb`');
    });
    expect((await post('/team/member_add', { team_id: 't-mb', member: { user_id: 'alice' }, max_budget_in_team: 10 })).status).toBe(200);
    expect((await post('/team/member_update', { team_id: 't-mb', user_id: 'alice', max_budget_in_team: 12 })).body.error.code).toBe(
      'hierarchy_violation',
    );
  });
});

describe('/team/update', () => {
  it('changes the named fields, sets spend, and audits them; answers {team_id, data} as LiteLLM', async () => {
    await seedTeam({ team_id: 't-up', team_alias: 'old', max_budget: 10, metadata: { x: 1 } });
    const res = await post('/team/update', { team_id: 't-up', team_alias: 'new', spend: 3, budget_duration: '1d' });
    expect(res.body).toEqual({
      team_id: 't-up',
      data: expect.objectContaining({ team_id: 't-up', team_alias: 'new', max_budget: 10, spend: 3, total_spend: 3, metadata: { x: 1 } }),
    });
    expect((await invokeDirect(teams, { action: 'update', team_id: 't-up', metadata: { y: 2 } })).data).toMatchObject({
      metadata: { y: 2 },
      team_alias: 'new',
    });
    const log = await invokeDirect(audit, { action: 'list', entity_type: 'team', entity_id: 't-up' });
    expect(log.data.map((e: { action: string }) => e.action)).toEqual(['team.update', 'team.update']);
  });

  it('lets a team admin change only team_alias and metadata', async () => {
    await seedTeam({ team_id: 't-ta' });
    await seedMember({ team_id: 't-ta', user_id: 'alice', role: 'admin' });
    expect((await post('/team/update', { team_id: 't-ta', team_alias: 'mine' }, userCtx('alice'))).status).toBe(200);
    await expectUnchanged(async () => {
      const res = await post('/team/update', { team_id: 't-ta', team_alias: 'x', max_budget: 1000 }, userCtx('alice'));
      expect(res).toMatchObject({ status: 403, body: { error: { code: 'forbidden' } } });
      expect(res.body.error.message).toContain('max_budget');
    });
  });

  it("moving a team to another organization moves its keys' organization and its listing", async () => {
    await seedTeam({ team_id: 't-org', organization_id: 'org-2' });
    const k = await seedKey({ team_id: 't-org', organization_id: 'org-2' });
    await post('/team/update', { team_id: 't-org', organization_id: 'org-1' });
    expect((await callApi(keys, 'GET', '/key/info', { key: k.key })).body.info.organization_id).toBe('org-1');
    const inOrg1 = await get('/team/list', { organization_id: 'org-1', limit: 1000 });
    expect(inOrg1.body.data.map((t: { team_id: string }) => t.team_id)).toContain('t-org');
    expect(
      (await get('/team/list', { organization_id: 'org-2', limit: 1000 })).body.data.map((t: { team_id: string }) => t.team_id),
    ).not.toContain('t-org');
    await post('/team/update', { team_id: 't-org', organization_id: null });
    expect((await callApi(keys, 'GET', '/key/info', { key: k.key })).body.info.organization_id).toBeNull();
    expect(
      (await get('/team/list', { organization_id: 'org-1', limit: 1000 })).body.data.map((t: { team_id: string }) => t.team_id),
    ).not.toContain('t-org');
  });
});

describe('an interrupted move to another organization (found by review)', () => {
  afterEach(() => vi.restoreAllMocks());

  it('is finished by repeating it: the keys still naming the old organization catch up', async () => {
    await seedTeam({ team_id: 't-org-int', organization_id: 'org-2' });
    const made: { key: string }[] = [];
    for (let i = 0; i < 3; i++) made.push(await seedKey({ team_id: 't-org-int', organization_id: 'org-2' }));
    const keyOrgs = async () =>
      Promise.all(made.map(async (k) => (await callApi(keys, 'GET', '/key/info', { key: k.key })).body.info.organization_id));
    const client = documentClient();
    const send = client.send.bind(client);
    let transactions = 0;
    // The keys' transaction (after the team's) fails as if the function died.
    vi.spyOn(client, 'send').mockImplementation(((cmd: unknown) => {
      if (cmd instanceof TransactWriteCommand && ++transactions === 2)
        return Promise.reject(Object.assign(new Error('boom'), { name: 'InternalServerError' }));
      return send(cmd as never);
    }) as typeof client.send);
    expect((await post('/team/update', { team_id: 't-org-int', organization_id: 'org-1' })).status).toBe(503);
    vi.restoreAllMocks();
    expect((await teamInfo('t-org-int')).team_info.organization_id).toBe('org-1');
    expect(await keyOrgs()).toEqual(['org-2', 'org-2', 'org-2']);

    expect((await post('/team/update', { team_id: 't-org-int', organization_id: 'org-1' })).status).toBe(200);
    expect(await keyOrgs()).toEqual(['org-1', 'org-1', 'org-1']);
  });
});

describe('/team/info and /team/list', () => {
  it("shows the team with budget window, members and keys, in LiteLLM's fields", async () => {
    await seedTeam({ team_id: 't-info', max_budget: 20, budget_duration: '30d' });
    await seedMember({ team_id: 't-info', user_id: 'bob', max_budget: 5 });
    const k = await seedKey({ team_id: 't-info', user_id: 'bob' });
    const res = await get('/team/info', { team_id: 't-info' });
    expect(res.body).toMatchObject({
      team_id: 't-info',
      team_info: {
        team_id: 't-info',
        max_budget: 20,
        spend: 0,
        total_spend: 0,
        budget_reset_at: expect.any(String),
        members_with_roles: [{ user_id: 'bob', role: 'user' }],
      },
      team_memberships: [{ user_id: 'bob', role: 'user', max_budget_in_team: 5, spend: 0 }],
      keys: [{ token: k.record.token, key_name: k.record.key_name }],
      keys_next_cursor: null,
    });
    expect(await invokeDirect(teams, { action: 'info', team_id: 't-info' })).toEqual(res.body);
  });

  it('lists all teams a page at a time; a member sees only their teams', async () => {
    const first = await get('/team/list', { limit: 2 });
    expect(first.body.data).toHaveLength(2);
    const second = await invokeDirect(teams, { action: 'list', limit: 2, cursor: first.body.next_cursor });
    expect(second.data[0].team_id).not.toBe(first.body.data[0].team_id);
    await seedUser({ user_id: 'erin' });
    await seedTeam({ team_id: 't-erin' });
    await seedMember({ team_id: 't-erin', user_id: 'erin' });
    const mine = await get('/team/list', {}, userCtx('erin'));
    expect(mine.body.data.map((t: { team_id: string }) => t.team_id)).toEqual(['t-erin']);
  });
});

describe('/team/block and /team/unblock', () => {
  it('are seen by the authorizer after the cache TTL, not before', async () => {
    await seedTeam({ team_id: 't-block' });
    const k = await seedKey({ team_id: 't-block' });
    const authz = otherInstance();
    expect(await authz.authorize(k.key)).toEqual({ effect: 'allow' });
    expect((await post('/team/block', { team_id: 't-block' })).body).toMatchObject({ team_id: 't-block', blocked: true });
    expect(await authz.authorize(k.key)).toEqual({ effect: 'allow' });
    await afterCacheTtl();
    expect(await authz.authorize(k.key)).toEqual({ effect: 'deny', code: 'team_blocked' });
    expect(await invokeDirect(teams, { action: 'unblock', team_id: 't-block' })).toMatchObject({ blocked: false });
    await afterCacheTtl();
    expect(await authz.authorize(k.key)).toEqual({ effect: 'allow' });
  });
});

describe('members', () => {
  it('member_add takes one member or a list, with a member budget, and answers with the team (LiteLLM); a second add is 409', async () => {
    await seedTeam({ team_id: 't-m', max_budget: 100 });
    const one = await post('/team/member_add', { team_id: 't-m', member: { user_id: 'alice', role: 'admin' } });
    expect(one.body).toMatchObject({
      team_id: 't-m',
      max_budget: 100,
      members_with_roles: [{ user_id: 'alice', role: 'admin' }],
      updated_team_memberships: [expect.objectContaining({ team_id: 't-m', user_id: 'alice', role: 'admin', max_budget_in_team: null })],
    });
    const many = await invokeDirect(teams, {
      action: 'member_add',
      team_id: 't-m',
      member: [{ user_id: 'bob' }, { user_id: 'carol', role: 'user' }],
      max_budget_in_team: 7,
    });
    expect(
      many.updated_team_memberships.map((m: { user_id: string; max_budget_in_team: number }) => [m.user_id, m.max_budget_in_team]),
    ).toEqual([
      ['bob', 7],
      ['carol', 7],
    ]);
    expect(many.members_with_roles).toEqual([
      { user_id: 'alice', role: 'admin' },
      { user_id: 'bob', role: 'user' },
      { user_id: 'carol', role: 'user' },
    ]);
    await expectUnchanged(async () => {
      const dup = await post('/team/member_add', { team_id: 't-m', member: [{ user_id: 'dave' }, { user_id: 'bob' }] });
      expect(dup.body.error).toMatchObject({ code: 'member_exists', type: 'conflict_error' });
      expect(
        (await post('/team/member_add', { team_id: 't-m', member: [{ user_id: 'dave' }, { user_id: 'dave' }] })).body.error,
      ).toMatchObject({ code: 'duplicate_member', param: 'member.1.user_id' });
    });
  });

  it('member_update changes role and budget', async () => {
    const res = await post('/team/member_update', { team_id: 't-m', user_id: 'bob', role: 'admin', max_budget_in_team: 9 });
    expect(res.body).toMatchObject({ team_id: 't-m', user_id: 'bob', role: 'admin', max_budget_in_team: 9 });
    expect(await invokeDirect(teams, { action: 'member_update', team_id: 't-m', user_id: 'bob', max_budget_in_team: null })).toMatchObject({
      role: 'admin',
      max_budget_in_team: null,
    });
  });

  it("member_delete removes the membership and the user's keys in that team, not their other keys", async () => {
    const teamKey = await seedKey({ team_id: 't-m', user_id: 'carol' });
    const personal = await seedKey({ user_id: 'carol' });
    const res = await post('/team/member_delete', { team_id: 't-m', user_id: 'carol' });
    expect(res.body).toEqual({ team_id: 't-m', user_id: 'carol', deleted_keys: [teamKey.record.token] });
    expect((await callApi(keys, 'GET', '/key/info', { key: teamKey.key })).status).toBe(404);
    expect((await callApi(keys, 'GET', '/key/info', { key: personal.key })).status).toBe(200);
    expect((await teamInfo('t-m')).team_memberships.map((m: { user_id: string }) => m.user_id)).not.toContain('carol');
    expect(await invokeDirect(teams, { action: 'member_delete', team_id: 't-m', user_id: 'alice' })).toMatchObject({ deleted_keys: [] });
  });
});

describe('/team/delete', () => {
  it("deletes the team with its keys, their aliases and its memberships in one transaction; answers LiteLLM's deleted_teams", async () => {
    await seedTeam({ team_id: 't-del' });
    await seedMember({ team_id: 't-del', user_id: 'alice' });
    const gen = (await callApi(keys, 'POST', '/key/generate', { team_id: 't-del', key_alias: 'del-alias' })).body;
    // The delete lists the key at once (no index lag to wait out), well within the cache TTL.
    await childrenIndexed(refs.team('t-del'));
    const authz = otherInstance();
    expect(await authz.authorize(gen.key)).toEqual({ effect: 'allow' });
    const res = await post('/team/delete', { team_ids: ['t-del'] });
    expect(res.body).toEqual({ deleted_teams: ['t-del'] });
    const left = (await scanTable()).filter(
      (i) => String(i.PK).includes('t-del') || i.token === gen.token || i.PK === 'KEY_ALIAS#del-alias',
    );
    expect(left.filter((i) => !String(i.PK).startsWith('AUDIT#'))).toEqual([]);
    expect((await callApi(keys, 'POST', '/key/generate', { key_alias: 'del-alias' })).status).toBe(200);
    // Seen by the authorizer after the cache TTL, not before.
    expect(await authz.authorize(gen.key)).toEqual({ effect: 'allow' });
    await afterCacheTtl();
    expect(await authz.authorize(gen.key)).toEqual({ effect: 'unauthorized' });
    await expect(invokeDirect(teams, { action: 'delete', team_ids: ['t-del'] })).rejects.toMatchObject({
      status: 404,
      code: 'team_not_found',
    });
  });

  it('deletes several teams together, by direct invocation too', async () => {
    await seedTeam({ team_id: 't-d1' });
    await seedTeam({ team_id: 't-d2' });
    await seedMember({ team_id: 't-d2', user_id: 'bob' });
    const k = await seedKey({ team_id: 't-d1', user_id: 'bob' });
    expect(await invokeDirect(teams, { action: 'delete', team_ids: ['t-d1', 't-d2', 't-d1'] })).toEqual({
      deleted_teams: ['t-d1', 't-d2'],
    });
    expect(
      (await scanTable()).filter(
        (i) => !String(i.PK).startsWith('AUDIT#') && (String(i.PK).match(/^TEAM#t-d[12]$/) || i.token === k.record.token),
      ),
    ).toEqual([]);
    const log = await invokeDirect(audit, { action: 'list', entity_type: 'key', entity_id: k.record.token });
    expect(log.data[0]).toMatchObject({ action: 'key.delete', changes: { reason: 'team.delete' } });
  });

  it('deletes none when one of the teams is missing', async () => {
    await seedTeam({ team_id: 't-keep' });
    await expectUnchanged(async () => {
      expect((await post('/team/delete', { team_ids: ['t-keep', 't-missing'] })).body.error.code).toBe('team_not_found');
    });
  });

  describe('a team too big for one transaction', () => {
    afterEach(() => vi.restoreAllMocks());

    async function bigTeam(teamId: string): Promise<string[]> {
      await seedTeam({ team_id: teamId });
      const made: string[] = [];
      for (let i = 0; i < 60; i++) made.push((await seedKey({ team_id: teamId })).key);
      for (let i = 0; i < 10; i++) {
        await seedUser({ user_id: `${teamId}-u${i}` });
        await seedMember({ team_id: teamId, user_id: `${teamId}-u${i}` });
      }
      return made;
    }

    it('is blocked first, then cleared in chunks; an interrupted delete is finished by repeating it', async () => {
      const made = await bigTeam('t-big');
      const client = documentClient();
      const send = client.send.bind(client);
      let transactions = 0;
      // The third transaction (block, first chunk, second chunk) fails as if the function died.
      vi.spyOn(client, 'send').mockImplementation(((cmd: unknown) => {
        if (cmd instanceof TransactWriteCommand && ++transactions === 3)
          return Promise.reject(Object.assign(new Error('boom'), { name: 'InternalServerError' }));
        return send(cmd as never);
      }) as typeof client.send);
      const failed = await post('/team/delete', { team_ids: ['t-big'] });
      expect(failed.status).toBe(503);
      vi.restoreAllMocks();

      const info = await teamInfo('t-big');
      expect(info.team_info.blocked).toBe(true);
      const authz = otherInstance();
      const outcomes = await Promise.all(made.map((k) => authz.authorize(k)));
      // Every key still there is stopped by the team block; the first chunk is gone already.
      expect(outcomes.filter((o) => o.effect === 'unauthorized').length).toBeGreaterThan(0);
      expect(outcomes.every((o) => o.effect === 'unauthorized' || (o.effect === 'deny' && o.code === 'team_blocked'))).toBe(true);

      expect((await post('/team/delete', { team_ids: ['t-big'] })).status).toBe(200);
      const left = (await scanTable()).filter(
        (i) => (String(i.PK).startsWith('TEAM#t-big') || i.team_id === 't-big') && !String(i.PK).startsWith('AUDIT#'),
      );
      expect(left).toEqual([]);
      const log = await invokeDirect(audit, { action: 'list', entity_type: 'team', entity_id: 't-big' });
      expect(log.data.map((e: { action: string }) => e.action)).toEqual(['team.delete', 'team.block']);
    });
  });
});

describe('bad input: 400 naming the field, 404, 409; the table unchanged', () => {
  beforeAll(async () => {
    await seedTeam({ team_id: 't-bad', max_budget: 10 });
    await seedMember({ team_id: 't-bad', user_id: 'alice' });
  });

  const cases: [string, string, string, Record<string, unknown>, number, string, string | null][] = [
    ['new', 'POST', '/team/new', { max_budget: -1 }, 400, 'invalid_field', 'max_budget'],
    ['new', 'POST', '/team/new', { models: [1] }, 400, 'invalid_type', 'models.0'],
    ['new', 'POST', '/team/new', { budget_duration: '1y' }, 400, 'invalid_field', 'budget_duration'],
    ['new', 'POST', '/team/new', { team_id: 'has space ' }, 400, 'invalid_field', 'team_id'],
    [
      'new',
      'POST',
      '/team/new',
      { members_with_roles: [{ user_id: 'alice', role: 'owner' }] },
      400,
      'invalid_field',
      'members_with_roles.0.role',
    ],
    [
      'new',
      'POST',
      '/team/new',
      { members_with_roles: [{ user_id: 'alice', email: 'a@b' }] },
      400,
      'unknown_field',
      'members_with_roles.0.email',
    ],
    ['new', 'POST', '/team/new', { guardrails: ['pii'] }, 400, 'unknown_field', 'guardrails'],
    ['new', 'POST', '/team/new', { team_id: 't-bad' }, 409, 'team_exists', 'team_id'],
    ['update', 'POST', '/team/update', { team_id: 't-bad' }, 400, 'nothing_to_update', null],
    ['update', 'POST', '/team/update', { team_alias: 'x' }, 400, 'invalid_type', 'team_id'],
    ['update', 'POST', '/team/update', { team_id: 't-bad', blocked: 1 }, 400, 'invalid_type', 'blocked'],
    ['update', 'POST', '/team/update', { team_id: 't-bad', spend: -3 }, 400, 'invalid_field', 'spend'],
    ['update', 'POST', '/team/update', { team_id: 't-none', team_alias: 'x' }, 404, 'team_not_found', null],
    ['update', 'POST', '/team/update', { team_id: 't-bad', organization_id: 'org-none' }, 404, 'organization_not_found', null],
    ['delete', 'POST', '/team/delete', { team_ids: 't-bad' }, 400, 'invalid_type', 'team_ids'],
    ['delete', 'POST', '/team/delete', { team_ids: [] }, 400, 'invalid_field', 'team_ids'],
    ['delete', 'POST', '/team/delete', { team_ids: ['t-none'] }, 404, 'team_not_found', null],
    ['info', 'GET', '/team/info', {}, 400, 'invalid_type', 'team_id'],
    ['info', 'GET', '/team/info', { team_id: 't-none' }, 404, 'team_not_found', null],
    ['info', 'GET', '/team/info', { team_id: 't-bad', x: '1' }, 400, 'unknown_field', 'x'],
    ['list', 'GET', '/team/list', { limit: 'ten' }, 400, 'invalid_type', 'limit'],
    ['list', 'GET', '/team/list', { cursor: '!!' }, 400, 'invalid_cursor', 'cursor'],
    ['block', 'POST', '/team/block', { team_id: 't-none' }, 404, 'team_not_found', null],
    ['block', 'POST', '/team/block', {}, 400, 'invalid_type', 'team_id'],
    ['unblock', 'POST', '/team/unblock', { team_id: 't-bad', why: 'x' }, 400, 'unknown_field', 'why'],
    ['unblock', 'POST', '/team/unblock', { team_id: 't-none' }, 404, 'team_not_found', null],
    ['member_add', 'POST', '/team/member_add', { team_id: 't-bad' }, 400, 'invalid_type', 'member'],
    [
      'member_add',
      'POST',
      '/team/member_add',
      { team_id: 't-bad', member: { user_id: 'bob' }, max_budget_in_team: -1 },
      400,
      'invalid_field',
      'max_budget_in_team',
    ],
    ['member_add', 'POST', '/team/member_add', { team_id: 't-bad', member: { user_id: 'ghost' } }, 404, 'user_not_found', null],
    ['member_add', 'POST', '/team/member_add', { team_id: 't-none', member: { user_id: 'bob' } }, 404, 'team_not_found', null],
    ['member_add', 'POST', '/team/member_add', { team_id: 't-bad', member: { user_id: 'alice' } }, 409, 'member_exists', 'member'],
    ['member_update', 'POST', '/team/member_update', { team_id: 't-bad', user_id: 'alice' }, 400, 'nothing_to_update', null],
    ['member_update', 'POST', '/team/member_update', { team_id: 't-bad', user_id: 'alice', role: 'owner' }, 400, 'invalid_field', 'role'],
    [
      'member_update',
      'POST',
      '/team/member_update',
      { team_id: 't-bad', user_id: 'bob', role: 'admin' },
      404,
      'team_member_not_found',
      null,
    ],
    ['member_delete', 'POST', '/team/member_delete', { team_id: 't-bad', user_id: 'bob' }, 404, 'team_member_not_found', null],
    ['member_delete', 'POST', '/team/member_delete', { team_id: 't-bad' }, 400, 'invalid_type', 'user_id'],
    ['member_delete', 'POST', '/team/member_delete', { team_id: 't-none', user_id: 'alice' }, 404, 'team_not_found', null],
  ];

  it.each(cases)('%s: %s %s %j -> %i %s', async (actionName, method, path, input, status, code, param) => {
    await expectUnchanged(async () => {
      const res = await callApi(teams, method, path, input);
      expect(res.status).toBe(status);
      expect(res.body.error.code).toBe(code);
      if (param !== null) expect(res.body.error.param).toBe(param);
      await expect(invokeDirect(teams, { action: actionName, ...input })).rejects.toMatchObject({ status, code });
    });
  });
});
