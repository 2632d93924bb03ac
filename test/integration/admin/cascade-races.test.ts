/**
 * A cascading delete lists its parent's children, then deletes them and the parent: a child added
 * between the parent's read and the delete's transaction must refuse the delete (409, retry)
 * rather than be left behind, working again if the parent is made again (found by review). Every
 * transaction that adds a child moves the parent's children witness (lib/store/writes addChild).
 */
import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { handler as keys } from '../../../functions/keys/handler.js';
import { handler as organizations } from '../../../functions/organizations/handler.js';
import { handler as teams } from '../../../functions/teams/handler.js';
import { handler as users } from '../../../functions/users/handler.js';
import { documentClient } from '../../../lib/app/index.js';
import { refs } from '../../../lib/store/keys.js';
import { INDEX_LAG_MS } from '../../../lib/store/writes.js';
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
    expect(info.body.team_info.child_at).toBeUndefined();
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

/**
 * Index lag, emulated: the indexes a cascade lists show an item only a second after it was made
 * (DynamoDB's are eventually consistent; DynamoDB Local's are not). A child made just before the
 * parent's delete read it moved the witness before that read, so only the wait finds it (found by
 * review: left behind, it would come back to life in a parent made again under the same id).
 */
describe('a delete right after a child was added, the index lagging behind', () => {
  const LAG_MS = 1_000;
  /** Items the indexes do not show yet, until when (an index holds keys only: the item's own). */
  const lagging = new Map<string, number>();
  const lag = (ref: { PK: string; SK: string }) => lagging.set(`${ref.PK}|${ref.SK}`, Date.now() + LAG_MS);
  function lagIndexes(): void {
    const client = documentClient();
    const send = client.send.bind(client);
    vi.spyOn(client, 'send').mockImplementation((async (cmd: unknown) => {
      const out = (await send(cmd as never)) as { Items?: Record<string, unknown>[] };
      if (!(cmd instanceof QueryCommand) || !cmd.input.IndexName || !out.Items) return out;
      const shown = out.Items.filter((item) => (lagging.get(`${item.PK}|${item.SK}`) ?? 0) <= Date.now());
      return { ...out, Items: shown, Count: shown.length };
    }) as typeof client.send);
  }
  expect(LAG_MS).toBeLessThan(INDEX_LAG_MS);

  it('a team: waits for the index, and deletes the key made just before with it', async () => {
    await post(teams, '/team/new', { team_id: 'lag-t1' });
    lagIndexes();
    const key = (await post(keys, '/key/generate', { team_id: 'lag-t1' })).body;
    lag(refs.key(key.token));
    expect((await post(teams, '/team/delete', { team_ids: ['lag-t1'] })).status).toBe(200);
    expect(await readItem(refs.team('lag-t1'))).toBeUndefined();
    // What happened: the key stayed, and a team made again as lag-t1 would have had it.
    expect(await readItem(refs.key(key.token))).toBeUndefined();
  });

  it('a user: waits for the index, and deletes the membership and key made just before with it', async () => {
    await post(users, '/user/new', { user_id: 'lag-u1', auto_create_key: false });
    await post(teams, '/team/new', { team_id: 'lag-t2' });
    lagIndexes();
    expect((await post(teams, '/team/member_add', { team_id: 'lag-t2', member: { user_id: 'lag-u1' } })).status).toBe(200);
    lag(refs.member('lag-t2', 'lag-u1'));
    const key = (await post(keys, '/key/generate', { user_id: 'lag-u1' })).body;
    lag(refs.key(key.token));
    expect((await post(users, '/user/delete', { user_ids: ['lag-u1'] })).status).toBe(200);
    expect(await readItem(refs.member('lag-t2', 'lag-u1'))).toBeUndefined();
    expect(await readItem(refs.key(key.token))).toBeUndefined();
  });

  it("a member's removal: waits for the index, and deletes their key in the team made just before with it", async () => {
    await post(users, '/user/new', { user_id: 'lag-u2', auto_create_key: false });
    await post(teams, '/team/new', { team_id: 'lag-t4', members_with_roles: [{ user_id: 'lag-u2', role: 'user' }] });
    lagIndexes();
    const key = (await post(keys, '/key/generate', { user_id: 'lag-u2', team_id: 'lag-t4' })).body;
    lag(refs.key(key.token));
    expect((await post(teams, '/team/member_delete', { team_id: 'lag-t4', user_id: 'lag-u2' })).status).toBe(200);
    expect(await readItem(refs.key(key.token))).toBeUndefined();
  });

  it("a team's move to another organization: waits for the index, and moves the key made just before with it", async () => {
    await post(organizations, '/organization/new', { organization_id: 'lag-o2' });
    await post(teams, '/team/new', { team_id: 'lag-t5' });
    lagIndexes();
    const key = (await post(keys, '/key/generate', { team_id: 'lag-t5' })).body;
    lag(refs.key(key.token));
    expect((await post(teams, '/team/update', { team_id: 'lag-t5', organization_id: 'lag-o2' })).status).toBe(200);
    expect(await readItem(refs.key(key.token))).toMatchObject({ organization_id: 'lag-o2' });
  });

  it('an organization: waits for the index, and sees the team made in it just before (409, as a listed one)', async () => {
    await post(organizations, '/organization/new', { organization_id: 'lag-o1' });
    lagIndexes();
    expect((await post(teams, '/team/new', { team_id: 'lag-t3', organization_id: 'lag-o1' })).status).toBe(200);
    lag(refs.team('lag-t3'));
    const res = await post(organizations, '/organization/delete', { organization_ids: ['lag-o1'] });
    expect(res.status).toBe(409);
    expect(res.body.error.code).toBe('organization_has_teams');
    expect(await readItem(refs.org('lag-o1'))).toBeDefined();
  });
});
