/**
 * A cascading delete lists its parent's children, then deletes them and the parent: a child added
 * between the parent's read and the delete's transaction must refuse the delete (409, retry)
 * rather than be left behind, working again if the parent is made again (found by review). Every
 * transaction that adds a child moves the parent's children witness (lib/store/writes addChild).
 */
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { handler as keys } from '../../../functions/keys/handler.js';
import { handler as organizations } from '../../../functions/organizations/handler.js';
import { handler as teams } from '../../../functions/teams/handler.js';
import { handler as users } from '../../../functions/users/handler.js';
import { refs } from '../../../lib/store/keys.js';
import { callApi } from '../../support/admin.js';
import { beforeNextWrite } from '../../support/races.js';
import { readItem } from '../../support/spend.js';
import { useTestTable } from '../../support/table.js';

beforeAll(async () => {
  await useTestTable();
});
afterEach(() => {
  vi.restoreAllMocks();
});

const post = (h: Parameters<typeof callApi>[0], path: string, body: Record<string, unknown>) => callApi(h, 'POST', path, body);
const expectLostRace = (res: { status: number; body: any }) => {
  expect(res.status).toBe(409);
  expect(res.body.error.code).toBe('concurrent_update');
};

describe('a team delete racing a new child', () => {
  it('key generated meanwhile: 409, team and key stay; the retry deletes both', async () => {
    await post(teams, '/team/new', { team_id: 'race-t1' });
    let token = '';
    beforeNextWrite(async () => {
      token = (await post(keys, '/key/generate', { team_id: 'race-t1' })).body.token;
    });
    expectLostRace(await post(teams, '/team/delete', { team_ids: ['race-t1'] }));
    expect(await readItem(refs.team('race-t1'))).toBeDefined();
    expect(await readItem(refs.key(token))).toMatchObject({ team_id: 'race-t1' });
    expect((await post(teams, '/team/delete', { team_ids: ['race-t1'] })).status).toBe(200);
    expect(await readItem(refs.key(token))).toBeUndefined();
  });

  it('member added meanwhile: 409, no membership left behind', async () => {
    await post(users, '/user/new', { user_id: 'race-u1', auto_create_key: false });
    await post(teams, '/team/new', { team_id: 'race-t2' });
    beforeNextWrite(() => post(teams, '/team/member_add', { team_id: 'race-t2', member: { user_id: 'race-u1' } }));
    expectLostRace(await post(teams, '/team/delete', { team_ids: ['race-t2'] }));
    expect((await post(teams, '/team/delete', { team_ids: ['race-t2'] })).status).toBe(200);
    expect(await readItem(refs.member('race-t2', 'race-u1'))).toBeUndefined();
  });

  it('key regenerated meanwhile: 409, the new key is not left behind', async () => {
    await post(teams, '/team/new', { team_id: 'race-t3' });
    const old = (await post(keys, '/key/generate', { team_id: 'race-t3' })).body;
    let token = '';
    beforeNextWrite(async () => {
      token = (await post(keys, '/key/regenerate', { key: old.key })).body.token;
    });
    expectLostRace(await post(teams, '/team/delete', { team_ids: ['race-t3'] }));
    expect((await post(teams, '/team/delete', { team_ids: ['race-t3'] })).status).toBe(200);
    expect(await readItem(refs.key(token))).toBeUndefined();
  });

  it('key moved into it meanwhile: 409', async () => {
    await post(teams, '/team/new', { team_id: 'race-t4' });
    await post(teams, '/team/new', { team_id: 'race-t4b' });
    const k = (await post(keys, '/key/generate', { team_id: 'race-t4b' })).body;
    beforeNextWrite(() => post(keys, '/key/update', { key: k.key, team_id: 'race-t4' }));
    expectLostRace(await post(teams, '/team/delete', { team_ids: ['race-t4'] }));
    expect(await readItem(refs.key(k.token))).toMatchObject({ team_id: 'race-t4' });
  });
});

describe('a user delete racing a new child', () => {
  it('key generated meanwhile: 409, user and key stay', async () => {
    await post(users, '/user/new', { user_id: 'race-u2', auto_create_key: false });
    let token = '';
    beforeNextWrite(async () => {
      token = (await post(keys, '/key/generate', { user_id: 'race-u2' })).body.token;
    });
    expectLostRace(await post(users, '/user/delete', { user_ids: ['race-u2'] }));
    expect(await readItem(refs.key(token))).toMatchObject({ user_id: 'race-u2' });
    expect((await post(users, '/user/delete', { user_ids: ['race-u2'] })).status).toBe(200);
    expect(await readItem(refs.key(token))).toBeUndefined();
  });

  it('team membership added meanwhile: 409, no membership left behind', async () => {
    await post(users, '/user/new', { user_id: 'race-u3', auto_create_key: false });
    await post(teams, '/team/new', { team_id: 'race-t5' });
    beforeNextWrite(() => post(teams, '/team/member_add', { team_id: 'race-t5', member: { user_id: 'race-u3' } }));
    expectLostRace(await post(users, '/user/delete', { user_ids: ['race-u3'] }));
    expect((await post(users, '/user/delete', { user_ids: ['race-u3'] })).status).toBe(200);
    expect(await readItem(refs.member('race-t5', 'race-u3'))).toBeUndefined();
  });

  it('organization joined meanwhile: 409, no organization membership left behind', async () => {
    await post(organizations, '/organization/new', { organization_id: 'race-o1' });
    await post(users, '/user/new', { user_id: 'race-u4', auto_create_key: false });
    beforeNextWrite(() => post(organizations, '/organization/member_add', { organization_id: 'race-o1', member: { user_id: 'race-u4' } }));
    expectLostRace(await post(users, '/user/delete', { user_ids: ['race-u4'] }));
    expect((await post(users, '/user/delete', { user_ids: ['race-u4'] })).status).toBe(200);
    expect(await readItem(refs.orgMember('race-o1', 'race-u4'))).toBeUndefined();
  });
});

describe('an organization delete racing a new child', () => {
  it('team made in it meanwhile: 409, organization and team stay', async () => {
    await post(organizations, '/organization/new', { organization_id: 'race-o2' });
    beforeNextWrite(() => post(teams, '/team/new', { team_id: 'race-t6', organization_id: 'race-o2' }));
    expectLostRace(await post(organizations, '/organization/delete', { organization_ids: ['race-o2'] }));
    expect(await readItem(refs.org('race-o2'))).toBeDefined();
    // Retried, it sees the team.
    expect((await post(organizations, '/organization/delete', { organization_ids: ['race-o2'] })).body.error.code).toBe(
      'organization_has_teams',
    );
  });

  it('team moved into it meanwhile: 409', async () => {
    await post(organizations, '/organization/new', { organization_id: 'race-o3' });
    await post(teams, '/team/new', { team_id: 'race-t7' });
    beforeNextWrite(() => post(teams, '/team/update', { team_id: 'race-t7', organization_id: 'race-o3' }));
    expectLostRace(await post(organizations, '/organization/delete', { organization_ids: ['race-o3'] }));
    expect(await readItem(refs.org('race-o3'))).toBeDefined();
  });

  it('member added meanwhile: 409, no membership left behind', async () => {
    await post(organizations, '/organization/new', { organization_id: 'race-o4' });
    await post(users, '/user/new', { user_id: 'race-u5', auto_create_key: false });
    beforeNextWrite(() => post(organizations, '/organization/member_add', { organization_id: 'race-o4', member: { user_id: 'race-u5' } }));
    expectLostRace(await post(organizations, '/organization/delete', { organization_ids: ['race-o4'] }));
    expect((await post(organizations, '/organization/delete', { organization_ids: ['race-o4'] })).status).toBe(200);
    expect(await readItem(refs.orgMember('race-o4', 'race-u5'))).toBeUndefined();
    expect(await readItem(refs.user('race-u5'))).toMatchObject({ organization_id: null });
  });
});

describe('a parent made before the children witness', () => {
  it('deletes as before: no witness read, none added', async () => {
    await post(teams, '/team/new', { team_id: 'race-t8' });
    const team = await readItem(refs.team('race-t8'));
    expect(team?.child_rev).toBeUndefined();
    expect((await post(teams, '/team/delete', { team_ids: ['race-t8'] })).status).toBe(200);
  });

  it('the witness is never shown', async () => {
    await post(teams, '/team/new', { team_id: 'race-t9' });
    await post(keys, '/key/generate', { team_id: 'race-t9' });
    const info = await callApi(teams, 'GET', '/team/info', { team_id: 'race-t9' });
    expect(info.body.team_info.child_rev).toBeUndefined();
  });
});

describe('a cascade deleting a key it read before a rename', () => {
  it('leaves the alias another key took meanwhile (409, retry)', async () => {
    await post(teams, '/team/new', { team_id: 'race-t10' });
    const k1 = (await post(keys, '/key/generate', { team_id: 'race-t10', key_alias: 'race-alias-a' })).body;
    let k2 = '';
    beforeNextWrite(async () => {
      await post(keys, '/key/update', { key: k1.key, key_alias: 'race-alias-b' });
      k2 = (await post(keys, '/key/generate', { key_alias: 'race-alias-a' })).body.token;
    });
    expectLostRace(await post(teams, '/team/delete', { team_ids: ['race-t10'] }));
    expect(await readItem(refs.keyAlias('race-alias-a'))).toMatchObject({ token: k2 });
    expect((await post(teams, '/team/delete', { team_ids: ['race-t10'] })).status).toBe(200);
    expect(await readItem(refs.keyAlias('race-alias-a'))).toMatchObject({ token: k2 });
    expect(await readItem(refs.keyAlias('race-alias-b'))).toBeUndefined();
  });
});

describe('a key rename by a proxy admin', () => {
  it('racing another rename: 409, no marker left naming the key under an alias it does not hold', async () => {
    const k = (await post(keys, '/key/generate', { key_alias: 'race-ren-a' })).body;
    beforeNextWrite(() => post(keys, '/key/update', { key: k.key, key_alias: 'race-ren-c' }));
    expectLostRace(await post(keys, '/key/update', { key: k.key, key_alias: 'race-ren-b' }));
    expect(await readItem(refs.key(k.token))).toMatchObject({ key_alias: 'race-ren-c' });
    expect(await readItem(refs.keyAlias('race-ren-b'))).toBeUndefined();
    expect(await readItem(refs.keyAlias('race-ren-c'))).toMatchObject({ token: k.token });
  });
});

describe('organization member_add', () => {
  it('racing an add of the same user to another organization: 409, no orphan membership', async () => {
    await post(organizations, '/organization/new', { organization_id: 'race-oa' });
    await post(organizations, '/organization/new', { organization_id: 'race-ob' });
    await post(users, '/user/new', { user_id: 'race-u6', auto_create_key: false });
    beforeNextWrite(() => post(organizations, '/organization/member_add', { organization_id: 'race-ob', member: { user_id: 'race-u6' } }));
    expectLostRace(await post(organizations, '/organization/member_add', { organization_id: 'race-oa', member: { user_id: 'race-u6' } }));
    expect(await readItem(refs.user('race-u6'))).toMatchObject({ organization_id: 'race-ob' });
    expect(await readItem(refs.orgMember('race-oa', 'race-u6'))).toBeUndefined();
    expect(await readItem(refs.orgMember('race-ob', 'race-u6'))).toBeDefined();
  });
});
