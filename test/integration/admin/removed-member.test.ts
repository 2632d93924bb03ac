/**
 * A removed team member keeps no working team key (issue 10, item 2): membership is a condition
 * of the key's write, and the authorizer denies a user's team key once the user is no member,
 * even a key made while the removal was in flight.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { handler as keys } from '../../../functions/keys/handler.js';
import { handler as teams } from '../../../functions/teams/handler.js';
import { handler as users } from '../../../functions/users/handler.js';
import { entityReader } from '../../../lib/app/index.js';
import { adminCtx, callApi, userCtx } from '../../support/admin.js';
import { authorize } from '../../support/authorizer.js';
import { authorizerEvent, seedKey } from '../../support/seed.js';
import { useTestTable } from '../../support/table.js';

const chat = (key: string) =>
  authorizerEvent({ method: 'POST', path: '/v1/chat/completions', headers: { authorization: `Bearer ${key}` } });

beforeAll(async () => {
  await useTestTable();
  for (const user_id of ['lead', 'carol', 'dave']) await callApi(users, 'POST', '/user/new', { user_id });
  await callApi(teams, 'POST', '/team/new', {
    team_id: 't-rm',
    members_with_roles: [{ user_id: 'lead', role: 'admin' }, { user_id: 'carol' }],
  });
});

describe('a team key of a user needs the user in the team', () => {
  it('generating one for a user who is no member is refused with 400 not_team_member, and nothing is written', async () => {
    const res = await callApi(keys, 'POST', '/key/generate', { team_id: 't-rm', user_id: 'dave' }, adminCtx);
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ code: 'not_team_member', param: 'user_id' });
    const listed = await callApi(keys, 'GET', '/key/list', { user_id: 'dave' });
    // /user/new gave dave a personal key; no team key came of the refusal.
    expect(listed.body.data.filter((k: { team_id: string | null }) => k.team_id === 't-rm')).toEqual([]);
  });

  it('moving a key onto a team its user is not in is refused too', async () => {
    const { body } = await callApi(keys, 'POST', '/key/generate', { user_id: 'dave' });
    const res = await callApi(keys, 'POST', '/key/update', { key: body.key, team_id: 't-rm' });
    expect([res.status, res.body.error?.code]).toEqual([400, 'not_team_member']);
  });
});

describe('member_delete racing key generation', () => {
  it('after the removal, no team key of the removed user is let in, whichever finished first', async () => {
    await callApi(teams, 'POST', '/team/member_add', { team_id: 't-rm', member: { user_id: 'dave' } });
    const dave = userCtx('dave');
    const generates = Array.from({ length: 40 }, () => callApi(keys, 'POST', '/key/generate', { team_id: 't-rm' }, dave));
    const removal = new Promise((r) => setTimeout(r, 15)).then(() =>
      callApi(teams, 'POST', '/team/member_delete', { team_id: 't-rm', user_id: 'dave' }, userCtx('lead')),
    );
    const [answers, removed] = await Promise.all([Promise.all(generates), removal]);
    expect(removed.status).toBe(200);
    const made = answers.filter((a) => a.status === 200).map((a) => a.body.key as string);
    // Refused ones were refused for the removal, never anything else.
    for (const a of answers.filter((x) => x.status !== 200)) expect([a.status, a.body.error.code]).toEqual([400, 'not_team_member']);
    entityReader().loader.clear();
    for (const key of made) {
      const outcome = await authorize(chat(key));
      expect(outcome.effect).not.toBe('allow');
      if (outcome.effect === 'deny') expect(outcome.context.code).toMatch(/^(not_team_member|invalid_api_key)$/);
    }
  });

  it("a member's key works; a key whose user is no member (one a cascade missed) is denied with not_team_member", async () => {
    const { body } = await callApi(keys, 'POST', '/key/generate', { team_id: 't-rm' }, userCtx('carol'));
    expect((await authorize(chat(body.key))).effect).toBe('allow');
    const { key: orphan } = await seedKey({ team_id: 't-rm', user_id: 'dave' }, { member: false });
    const outcome = await authorize(chat(orphan));
    expect(outcome.effect).toBe('deny');
    if (outcome.effect === 'deny') {
      expect(outcome.status).toBe(403);
      expect(outcome.context.code).toBe('not_team_member');
    }
  });
});
