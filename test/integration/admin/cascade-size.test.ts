/**
 * A cascade is sized by everything its transactions write: besides its ops and audit items, the
 * store deletes the other counter shards of every sharded entity an op creates or deletes
 * (lib/store/admin-store). Counted by ops and audit items alone (found by review), a delete that
 * fit only without its shards was sent as one transaction of more than 100 items and refused
 * with a 400 every time (with the default shards, a team of 46 keys: 94 items, 101 written), so
 * the team, user or member could never be deleted.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { handler as organizations } from '../../../functions/organizations/handler.js';
import { handler as teams } from '../../../functions/teams/handler.js';
import { handler as users } from '../../../functions/users/handler.js';
import { callApi, invokeDirect } from '../../support/admin.js';
import { scanTable } from '../../support/admin-checks.js';
import { seedKey, seedMember, seedOrg, seedTeam, seedUser } from '../../support/seed.js';
import { useTestTable } from '../../support/table.js';

const left = async (match: (i: Record<string, unknown>) => boolean) =>
  (await scanTable()).filter((i) => !String(i.PK).startsWith('AUDIT#') && match(i));

beforeAll(async () => {
  // Teams keep 8 counter shards (the default); keys 3 here, so a key's delete writes 3 items.
  await useTestTable({ TOLLGATE_SPEND_SHARDS: 'team=8,key=3' });
});

describe('cascades count the counter shards their deletes reset', () => {
  it('a team whose keys and memberships fit in one transaction only without its shards is deleted, whole', async () => {
    await seedTeam({ team_id: 't-30' });
    // 30 keys: 30 x (key + audit) = 60 items, 30 x 2 shard resets = 60 more; the team 2 + 7.
    for (let i = 0; i < 30; i++) await seedKey({ team_id: 't-30' });
    const res = await callApi(teams, 'POST', '/team/delete', { team_ids: ['t-30'] });
    expect(res.body).toEqual({ deleted_teams: ['t-30'] });
    expect(await left((i) => String(i.PK) === 'TEAM#t-30' || i.team_id === 't-30')).toEqual([]);
  });

  it('several small teams deleted together, more shards than one transaction holds', async () => {
    const ids = Array.from({ length: 12 }, (_, i) => `t-s${i}`);
    for (const t of ids) await seedTeam({ team_id: t });
    // 12 x (team + audit) = 24 items, 12 x 7 shard resets = 84 more.
    expect(await invokeDirect(teams, { action: 'delete', team_ids: ids })).toEqual({ deleted_teams: ids });
    expect(await left((i) => ids.some((t) => String(i.PK) === `TEAM#${t}`))).toEqual([]);
  });

  it('a user with keys and memberships across the limit once shards are counted', async () => {
    await seedUser({ user_id: 'u-many' });
    await seedTeam({ team_id: 't-u' });
    await seedMember({ team_id: 't-u', user_id: 'u-many' });
    for (let i = 0; i < 30; i++) await seedKey({ user_id: 'u-many' });
    expect(await invokeDirect(users, { action: 'delete', user_ids: ['u-many'] })).toEqual({ deleted_user_ids: ['u-many'] });
    expect(await left((i) => i.user_id === 'u-many')).toEqual([]);
  });

  it('a member removed with their keys in the team', async () => {
    await seedUser({ user_id: 'u-m' });
    await seedTeam({ team_id: 't-m' });
    for (let i = 0; i < 30; i++) await seedKey({ team_id: 't-m', user_id: 'u-m' });
    const res = await callApi(teams, 'POST', '/team/member_delete', { team_id: 't-m', user_id: 'u-m' });
    expect(res.status).toBe(200);
    expect(await left((i) => i.user_id === 'u-m' && String(i.PK) !== 'USER#u-m')).toEqual([]);
  });
});

describe('an organization delete that does not fit in one transaction', () => {
  it('an organization of 50 members (100 items to release them, 9 for itself): released in chunks, then deleted', async () => {
    await seedOrg({ organization_id: 'o-50' });
    const members = Array.from({ length: 50 }, (_, i) => `o50-u${i}`);
    for (const u of members) await seedUser({ user_id: u });
    for (let i = 0; i < members.length; i += 20)
      await invokeDirect(organizations, {
        action: 'member_add',
        organization_id: 'o-50',
        member: members.slice(i, i + 20).map((user_id) => ({ user_id })),
      });
    const res = await callApi(organizations, 'POST', '/organization/delete', { organization_ids: ['o-50'] });
    expect(res).toEqual({ status: 200, body: { deleted_organization_ids: ['o-50'] } });
    expect(await left((i) => String(i.PK).startsWith('ORG#o-50'))).toEqual([]);
    const users = await left((i) => members.includes(String(i.user_id)));
    expect(users).toHaveLength(50);
    expect(users.every((u) => u.organization_id === null)).toBe(true);
  });

  it('twelve organizations together: more counter shards than one transaction holds', async () => {
    const ids = Array.from({ length: 12 }, (_, i) => `o-s${i}`);
    for (const o of ids) await seedOrg({ organization_id: o });
    expect(await invokeDirect(organizations, { action: 'delete', organization_ids: ids })).toEqual({ deleted_organization_ids: ids });
    expect(await left((i) => ids.some((o) => String(i.PK) === `ORG#${o}`))).toEqual([]);
  });
});
