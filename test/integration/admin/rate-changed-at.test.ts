/**
 * `rate_changed_at`: the admin API stamps an entity when one of its rate limits changes, and only
 * then (lib/domain/rate-limits rateChangeStamp). The llm function reads other shard layouts for
 * a limit so stamped, lately (lib/store/rate-limits); a caller whose limits did not change reads
 * nothing more. The stamp is bookkeeping: never shown.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { handler as keys } from '../../../functions/keys/handler.js';
import { handler as models } from '../../../functions/models/handler.js';
import { handler as organizations } from '../../../functions/organizations/handler.js';
import { handler as teams } from '../../../functions/teams/handler.js';
import { handler as users } from '../../../functions/users/handler.js';
import { hashKey } from '../../../lib/auth/keys.js';
import { refs } from '../../../lib/store/keys.js';
import { callApi } from '../../support/admin.js';
import { readItem } from '../../support/spend.js';
import { useTestTable } from '../../support/table.js';

beforeAll(async () => {
  await useTestTable();
  await callApi(users, 'POST', '/user/new', { user_id: 'u-rc' });
  await callApi(teams, 'POST', '/team/new', { team_id: 't-rc', members_with_roles: [{ user_id: 'u-rc', role: 'user' }] });
  await callApi(organizations, 'POST', '/organization/new', { organization_id: 'o-rc' });
  await callApi(models, 'POST', '/model/new', {
    model_name: 'm-rc',
    litellm_params: { model: 'gpt-4o-mini', api_base: 'https://up.example/v1', rpm: 100 },
    model_info: { input_cost_per_million: 1, output_cost_per_million: 1 },
  });
});

const stamp = async (ref: Parameters<typeof readItem>[0]) => (await readItem(ref))?.rate_changed_at as string | undefined;

describe('stamped when a rate limit changes', () => {
  it('a key: a new limit stamps it; another field, or the same limit again, leaves the stamp', async () => {
    const made = await callApi(keys, 'POST', '/key/generate', { rpm_limit: 10 });
    const ref = refs.key(hashKey(made.body.key));
    expect(await stamp(ref)).toBeUndefined();
    expect((await callApi(keys, 'POST', '/key/update', { key: made.body.key, rpm_limit: 5 })).status).toBe(200);
    const first = await stamp(ref);
    expect(first).toBeDefined();
    await callApi(keys, 'POST', '/key/update', { key: made.body.key, rpm_limit: 5, metadata: { a: 1 } });
    expect(await stamp(ref)).toBe(first);
    await callApi(keys, 'POST', '/key/update', { key: made.body.key, model_tpm_limit: { 'gpt-4o': 7 } });
    expect(await stamp(ref)).not.toBe(first);
    const info = await callApi(keys, 'GET', '/key/info', { key: made.body.key });
    expect(JSON.stringify(info.body)).not.toContain('rate_changed_at');
  });

  it.each([
    ['a team', teams, '/team/update', { team_id: 't-rc', tpm_limit: 9 }, refs.team('t-rc'), '/team/info', { team_id: 't-rc' }],
    ['a user', users, '/user/update', { user_id: 'u-rc', max_parallel_requests: 2 }, refs.user('u-rc'), '/user/info', { user_id: 'u-rc' }],
    [
      'an organization',
      organizations,
      '/organization/update',
      { organization_id: 'o-rc', rpm_limit: 3 },
      refs.org('o-rc'),
      '/organization/info',
      { organization_id: 'o-rc' },
    ],
    [
      'a team member',
      teams,
      '/team/member_update',
      { team_id: 't-rc', user_id: 'u-rc', rpm_limit: 4 },
      refs.member('t-rc', 'u-rc'),
      '/team/info',
      { team_id: 't-rc' },
    ],
    [
      'a registry model',
      models,
      '/model/update',
      { model_name: 'm-rc', litellm_params: { rpm: 50 } },
      refs.model('m-rc'),
      undefined,
      undefined,
    ],
  ] as const)('%s', async (_what, handler, path, body, ref, read, query) => {
    expect(await stamp(ref)).toBeUndefined();
    const res = await callApi(handler, 'POST', path, body);
    expect([path, res.status]).toEqual([path, 200]);
    expect(await stamp(ref)).toBeDefined();
    expect(JSON.stringify(res.body)).not.toContain('rate_changed_at');
    if (read) expect(JSON.stringify((await callApi(handler, 'GET', read, query)).body)).not.toContain('rate_changed_at');
  });
});
