/**
 * `/spend/logs?api_key=` of a key that changed hands (found by review): a key moved to another
 * team, or given to another user, keeps its records in its own partition. The admin of its team
 * now sees the team's records of it, its user now their own: never those of the team it was in or
 * the user who held it before. The key itself and a proxy admin still see every record of it.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { handler as spendHandler } from '../../../functions/spend/handler.js';
import { spendLogStore } from '../../../lib/app/index.js';
import type { CallerContext } from '../../../lib/authorizer/context.js';
import type { SpendLog } from '../../../lib/domain/spend-log.js';
import { adminCtx, callApi, userCtx } from '../../support/admin.js';
import { seedKey, seedMember, seedTeam, seedUser } from '../../support/seed.js';
import { spendLogFixture } from '../../support/spend-log.js';
import { useTestTable } from '../../support/table.js';

const day = '2026-11-20';
const range = { start_date: day, end_date: day };
let token = '';
const logs = (input: Record<string, unknown>, ctx: CallerContext = adminCtx) =>
  callApi(spendHandler, 'GET', '/spend/logs', { ...range, ...input }, ctx);
const ids = (body: { data: SpendLog[] }) => body.data.map((l) => l.request_id).sort();

beforeAll(async () => {
  await useTestTable();
  for (const t of ['team-a', 'team-b']) await seedTeam({ team_id: t });
  for (const u of ['alice', 'bob', 'anna', 'bert']) await seedUser({ user_id: u, user_role: 'internal_user' });
  await seedMember({ team_id: 'team-a', user_id: 'anna', role: 'admin' });
  await seedMember({ team_id: 'team-b', user_id: 'bert', role: 'admin' });
  await seedMember({ team_id: 'team-b', user_id: 'bob', role: 'user' });
  // The key now: bob's, in team-b. Before: alice's, in team-a.
  const { record } = await seedKey({ team_id: 'team-b', user_id: 'bob' }, { member: false });
  token = record.token;
  await spendLogStore().applyMany([
    spendLogFixture({
      request_id: 'was-alice-a',
      api_key: token,
      user: 'alice',
      team_id: 'team-a',
      end_user: 'acme',
      startTime: `${day}T01:00:00.000Z`,
    }),
    spendLogFixture({ request_id: 'was-alice-b', api_key: token, user: 'alice', team_id: 'team-b', startTime: `${day}T02:00:00.000Z` }),
    spendLogFixture({ request_id: 'now-bob-b', api_key: token, user: 'bob', team_id: 'team-b', startTime: `${day}T03:00:00.000Z` }),
  ]);
});

describe('a key that changed hands shows each reader only the records they may see', () => {
  it("the admin of the key's team now sees the team's records of it, not its earlier team's", async () => {
    const res = await logs({ api_key: token }, userCtx('bert'));
    expect([res.status, ids(res.body)]).toEqual([200, ['now-bob-b', 'was-alice-b']]);
  });

  it('its user now sees their own records of it, not the earlier user’s', async () => {
    expect(ids((await logs({ api_key: token }, userCtx('bob'))).body)).toEqual(['now-bob-b']);
    expect(ids((await logs({ api_key: token, user_id: 'alice' }, userCtx('bob'))).body)).toEqual([]);
  });

  it("the earlier team's admin and the earlier user see none of it through the key (their own scopes still show theirs)", async () => {
    expect(ids((await logs({ api_key: token }, userCtx('anna'))).body)).toEqual([]);
    expect(ids((await logs({ api_key: token }, userCtx('alice'))).body)).toEqual([]);
    expect(ids((await logs({ team_id: 'team-a' }, userCtx('anna'))).body)).toEqual(['was-alice-a']);
    expect(ids((await logs({}, userCtx('alice'))).body)).toEqual(['was-alice-a', 'was-alice-b']);
  });

  it('the key itself and a proxy admin see every record of it', async () => {
    const self: CallerContext = { principal: 'virtual_key', role: 'internal_user', key_hash: token, user_id: 'bob', team_id: 'team-b' };
    const all = ['now-bob-b', 'was-alice-a', 'was-alice-b'];
    expect(ids((await logs({ api_key: token }, self)).body)).toEqual(all);
    expect(ids((await logs({ api_key: token })).body)).toEqual(all);
  });
});
