/**
 * /team/info shows a team's keys to those who may read them all (a proxy admin, an admin of the
 * team, the team's JWT) and to any other member only their own, as /key/info and /key/list do
 * (lib/admin/rules/keys keyReaderDenial). Found by review: it listed every key of the team, each
 * with its token hash, alias, budget, spend and metadata, to every member, while /key/list and
 * /key/info refused the same member those keys.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { handler as keys } from '../../../functions/keys/handler.js';
import { handler as teams } from '../../../functions/teams/handler.js';
import type { CallerContext } from '../../../lib/authorizer/context.js';
import { adminCtx, callApi, userCtx } from '../../support/admin.js';
import { seedKey, seedMember, seedTeam, seedUser } from '../../support/seed.js';
import { useTestTable } from '../../support/table.js';

const tokens = (list: { token: string }[]) => list.map((k) => k.token).sort();
const info = (caller: CallerContext) => callApi(teams, 'GET', '/team/info', { team_id: 't-i' }, caller);

let own: string;
let viewerOwn: string;
let all: string[];

beforeAll(async () => {
  await useTestTable();
  await seedTeam({ team_id: 't-i' });
  for (const u of ['ta', 'tm', 'tv', 'tx']) await seedUser({ user_id: u });
  await seedMember({ team_id: 't-i', user_id: 'ta', role: 'admin' });
  await seedMember({ team_id: 't-i', user_id: 'tm', role: 'user' });
  await seedMember({ team_id: 't-i', user_id: 'tv', role: 'user' });
  await seedMember({ team_id: 't-i', user_id: 'tx', role: 'user' });
  own = (await seedKey({ team_id: 't-i', user_id: 'tm', metadata: { note: 'tm' } })).record.token;
  viewerOwn = (await seedKey({ team_id: 't-i', user_id: 'tv' })).record.token;
  const others = [
    (await seedKey({ team_id: 't-i', user_id: 'ta', max_budget: 5 })).record.token,
    (await seedKey({ team_id: 't-i', user_id: 'tx', key_alias: 'tx-secret-project' })).record.token,
    (await seedKey({ team_id: 't-i' })).record.token,
  ];
  all = [own, viewerOwn, ...others].sort();
});

describe('/team/info shows a member only the keys they may read', () => {
  it('a proxy admin, the team admin and the team JWT see every key', async () => {
    for (const caller of [adminCtx, userCtx('ta'), { principal: 'jwt', role: 'team', team_id: 't-i' } as CallerContext]) {
      const res = await info(caller);
      expect(res.status).toBe(200);
      expect(tokens(res.body.keys)).toEqual(all);
    }
  });

  it('a plain member sees their own keys only, as /key/list and /key/info answer them', async () => {
    const res = await info(userCtx('tm'));
    expect(res.status).toBe(200);
    expect(tokens(res.body.keys)).toEqual([own]);
    expect(JSON.stringify(res.body)).not.toContain('tx-secret-project');
    const listed = await callApi(keys, 'GET', '/key/list', { team_id: 't-i' }, userCtx('tm'));
    expect(tokens(listed.body.data)).toEqual([own]);
  });

  it('an internal_user_viewer member too', async () => {
    const res = await info(userCtx('tv', { role: 'internal_user_viewer' }));
    expect(res.status).toBe(200);
    expect(tokens(res.body.keys)).toEqual([viewerOwn]);
  });

  it('an internal_user_viewer who is an admin of the team reads no other member’s key (it may not read them by /key/info)', async () => {
    await seedUser({ user_id: 'tva' });
    await seedMember({ team_id: 't-i', user_id: 'tva', role: 'admin' });
    const res = await info(userCtx('tva', { role: 'internal_user_viewer' }));
    expect(res.status).toBe(200);
    expect(res.body.keys).toEqual([]);
    const probe = await callApi(keys, 'GET', '/key/info', { key: own }, userCtx('tva', { role: 'internal_user_viewer' }));
    expect(probe.status).toBe(404);
  });
});
