/**
 * Authority only tightens (issue 10, item 1): a key's owner, or a team admin, may make a limit a
 * proxy admin set stricter, never looser; every limit-like field of a key and a member's budget.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { handler as keys } from '../../../functions/keys/handler.js';
import { handler as models } from '../../../functions/models/handler.js';
import { handler as teams } from '../../../functions/teams/handler.js';
import { handler as users } from '../../../functions/users/handler.js';
import { adminCtx, callApi, userCtx } from '../../support/admin.js';
import { useTestTable } from '../../support/table.js';

const alice = userCtx('alice');

beforeAll(async () => {
  await useTestTable();
  await callApi(users, 'POST', '/user/new', { user_id: 'alice' });
  await callApi(users, 'POST', '/user/new', { user_id: 'bob' });
  await callApi(users, 'POST', '/user/new', { user_id: 'tadmin' });
  await callApi(teams, 'POST', '/team/new', { team_id: 't-lim', members_with_roles: [{ user_id: 'tadmin', role: 'admin' }] });
});

/** A key a proxy admin made for alice, with every limit set. */
async function adminIssuedKey(): Promise<string> {
  const res = await callApi(keys, 'POST', '/key/generate', {
    user_id: 'alice',
    max_budget: 0.00001,
    models: ['gpt-4o-mini'],
    allowed_routes: ['llm', '/key/info'],
    duration: '1h',
    enforcement: 'strict',
    rpm_limit: 10,
    tpm_limit: 1000,
    max_parallel_requests: 2,
    model_rpm_limit: { 'gpt-4o-mini': 5 },
    model_tpm_limit: { 'gpt-4o-mini': 500 },
    soft_budget: 0.000005,
    alert_thresholds: [50, 90],
  });
  expect(res.status).toBe(200);
  return res.body.key as string;
}

describe("a key's owner cannot loosen what a proxy admin set", () => {
  const loosening: [string, Record<string, unknown>][] = [
    ['max_budget raised', { max_budget: 9 }],
    ['max_budget removed', { max_budget: null }],
    ['models widened', { models: ['gpt-4o', 'gpt-4o-mini'] }],
    ['models swapped', { models: ['gpt-4o'] }],
    ['models unrestricted', { models: [] }],
    ['models all-proxy-models', { models: ['all-proxy-models'] }],
    ['allowed_routes widened', { allowed_routes: ['llm', '/key/info', '/key/list'] }],
    ['allowed_routes swapped', { allowed_routes: ['/key/list'] }],
    ['allowed_routes removed', { allowed_routes: null }],
    ['allowed_routes emptied', { allowed_routes: [] }],
    ['allowed_routes all by a prefix', { allowed_routes: ['/'] }],
    ['expiry removed (duration -1)', { duration: -1 }],
    ['expiry pushed out', { duration: '30d' }],
    ['enforcement fast', { enforcement: 'fast' }],
    ['enforcement back to the default', { enforcement: null }],
    ['rpm_limit raised', { rpm_limit: 11 }],
    ['rpm_limit removed', { rpm_limit: null }],
    ['tpm_limit raised', { tpm_limit: 1001 }],
    ['tpm_limit removed', { tpm_limit: null }],
    ['max_parallel_requests raised', { max_parallel_requests: 3 }],
    ['max_parallel_requests removed', { max_parallel_requests: null }],
    ['model_rpm_limit raised', { model_rpm_limit: { 'gpt-4o-mini': 6 } }],
    ['model_rpm_limit entry dropped', { model_rpm_limit: { 'gpt-4o': 1 } }],
    ['model_rpm_limit removed', { model_rpm_limit: null }],
    ['model_tpm_limit raised', { model_tpm_limit: { 'gpt-4o-mini': 501 } }],
    ['model_tpm_limit removed', { model_tpm_limit: {} }],
    ['soft_budget raised', { soft_budget: 1 }],
    ['soft_budget removed', { soft_budget: null }],
    ['an alert threshold dropped', { alert_thresholds: [50] }],
    ['alert thresholds removed (back to the proxy’s)', { alert_thresholds: null }],
  ];
  for (const [what, change] of loosening) {
    it(`${what}: 403, and the key is unchanged`, async () => {
      const key = await adminIssuedKey();
      const before = (await callApi(keys, 'GET', '/key/info', { key })).body;
      const res = await callApi(keys, 'POST', '/key/update', { key, ...change }, alice);
      expect(res.status).toBe(403);
      expect(res.body.error.code).toBe('forbidden');
      expect(res.body.error.message).toContain('were set by a proxy admin: its owner may only make them stricter');
      const after = (await callApi(keys, 'GET', '/key/info', { key })).body;
      expect(after).toEqual(before);
    });
  }

  it('tightening every limit is allowed, and the proxy admin stays their setter', async () => {
    const key = await adminIssuedKey();
    const tighter = {
      max_budget: 0.000001,
      models: ['gpt-4o-mini'],
      allowed_routes: ['/v1/chat/completions'],
      duration: '10m',
      rpm_limit: 9,
      tpm_limit: 999,
      max_parallel_requests: 1,
      model_rpm_limit: { 'gpt-4o-mini': 4, 'gpt-4o': 1 },
      model_tpm_limit: { 'gpt-4o-mini': 0 },
      soft_budget: 0.000001,
      alert_thresholds: [10, 50, 90],
    };
    const res = await callApi(keys, 'POST', '/key/update', { key, ...tighter }, alice);
    expect(res.status).toBe(200);
    const { duration: _d, ...stored } = tighter;
    expect(res.body).toMatchObject({ ...stored, limits_set_by: 'proxy_admin' });
    // Still only tighter after that: back up to the admin's figure is looser than now.
    expect((await callApi(keys, 'POST', '/key/update', { key, max_budget: 0.00001 }, alice)).status).toBe(403);
  });

  it('a proxy admin may loosen; fields that are no limits (alias, metadata) stay the owner’s to change', async () => {
    const key = await adminIssuedKey();
    expect((await callApi(keys, 'POST', '/key/update', { key, max_budget: 9, enforcement: 'fast' })).status).toBe(200);
    expect((await callApi(keys, 'POST', '/key/update', { key, key_alias: 'alice-key', metadata: { note: 'mine' } }, alice)).status).toBe(
      200,
    );
  });

  it('limits an owner set on its own key, the owner may loosen again', async () => {
    const made = await callApi(keys, 'POST', '/key/generate', { max_budget: 1 }, alice);
    expect(made.body.limits_set_by).toBe('owner');
    expect((await callApi(keys, 'POST', '/key/update', { key: made.body.key, max_budget: 5 }, alice)).status).toBe(200);
  });
});

describe('a team admin cannot loosen member rate limits a proxy admin set', () => {
  it.each(['rpm_limit', 'tpm_limit', 'max_parallel_requests'])('%s: raising or removing is refused; lowering is allowed', async (field) => {
    const user = `m-${field}`;
    await callApi(users, 'POST', '/user/new', { user_id: user });
    await callApi(teams, 'POST', '/team/member_add', { team_id: 't-lim', member: { user_id: user } });
    const update = (value: number | null, ctx = userCtx('tadmin')) =>
      callApi(teams, 'POST', '/team/member_update', { team_id: 't-lim', user_id: user, [field]: value }, ctx);
    expect((await update(10, adminCtx)).status).toBe(200);
    for (const value of [11, null]) expect([value, (await update(value)).body.error?.code]).toEqual([value, 'forbidden']);
    const lowered = await update(4);
    expect(lowered.status).toBe(200);
    expect(lowered.body[field]).toBe(4);
    // A team admin may not set their own.
    expect(
      (await callApi(teams, 'POST', '/team/member_update', { team_id: 't-lim', user_id: 'tadmin', [field]: 1 }, userCtx('tadmin'))).status,
    ).toBe(403);
  });
});

describe('a team admin cannot drop limits a proxy admin set by removing and re-adding the member', () => {
  it('member_delete is refused to a team admin while proxy-admin limits are set; a proxy admin may', async () => {
    await callApi(users, 'POST', '/user/new', { user_id: 'carol' });
    await callApi(teams, 'POST', '/team/member_add', { team_id: 't-lim', member: { user_id: 'carol' } });
    expect((await callApi(teams, 'POST', '/team/member_update', { team_id: 't-lim', user_id: 'carol', rpm_limit: 1 })).status).toBe(200);
    const removed = await callApi(teams, 'POST', '/team/member_delete', { team_id: 't-lim', user_id: 'carol' }, userCtx('tadmin'));
    expect([removed.status, removed.body.error?.code]).toEqual([403, 'forbidden']);
    expect((await callApi(teams, 'POST', '/team/member_delete', { team_id: 't-lim', user_id: 'carol' })).status).toBe(200);
  });
});

describe('a team admin cannot loosen a member budget a proxy admin set', () => {
  it('raising or removing it is refused; lowering it is allowed', async () => {
    await callApi(teams, 'POST', '/team/member_add', { team_id: 't-lim', member: { user_id: 'bob' }, max_budget_in_team: 5 });
    const tadmin = userCtx('tadmin');
    for (const max of [10, null]) {
      const res = await callApi(
        teams,
        'POST',
        '/team/member_update',
        { team_id: 't-lim', user_id: 'bob', max_budget_in_team: max },
        tadmin,
      );
      expect([max, res.status, res.body.error?.code]).toEqual([max, 403, 'forbidden']);
    }
    const lowered = await callApi(
      teams,
      'POST',
      '/team/member_update',
      { team_id: 't-lim', user_id: 'bob', max_budget_in_team: 3 },
      tadmin,
    );
    expect(lowered.status).toBe(200);
    expect(lowered.body.max_budget_in_team).toBe(3);
    expect(
      (await callApi(teams, 'POST', '/team/member_update', { team_id: 't-lim', user_id: 'bob', max_budget_in_team: 50 }, adminCtx)).status,
    ).toBe(200);
  });
});

describe('duplicate model entries do not count (lists compare as sets)', () => {
  it('an owner doubling an entry, then swapping the copy for all-proxy-models: 403, the key keeps its one model', async () => {
    const made = await callApi(keys, 'POST', '/key/generate', { user_id: 'alice', models: ['gpt-4o-mini'] });
    expect(made.status).toBe(200);
    const key = made.body.key as string;
    const doubled = await callApi(keys, 'POST', '/key/update', { key, models: ['gpt-4o-mini', 'gpt-4o-mini'] }, alice);
    expect(doubled.status).toBe(200);
    const widened = await callApi(keys, 'POST', '/key/update', { key, models: ['gpt-4o-mini', 'all-proxy-models'] }, alice);
    expect(widened.status).toBe(403);
    expect(widened.body.error.message).toContain('this change loosens `models`');
    const info = (await callApi(keys, 'GET', '/key/info', { key })).body.info;
    expect(info.models).toEqual(['gpt-4o-mini', 'gpt-4o-mini']);
  });
});

describe('an access group or alias in place of named models loosens: an admin can grow it later', () => {
  const model = (model_name: string, model_info: Record<string, unknown>) => ({
    model_name,
    litellm_params: { model: model_name, api_base: 'https://upstream.example/v1', api_key_secret: 'tollgate/openai' },
    model_info: { input_cost_per_million: 1, output_cost_per_million: 1, ...model_info },
  });
  beforeAll(async () => {
    const small = await callApi(models, 'POST', '/model/new', model('m-small', { access_groups: ['g-small'], aliases: ['small'] }));
    expect(small.status).toBe(200);
    expect((await callApi(models, 'POST', '/model/new', model('m-big', {}))).status).toBe(200);
  });

  it.each([
    ['the access group', ['g-small']],
    ['the alias', ['small']],
  ])('an owner replacing the models a proxy admin named by %s (holding only them now): 403', async (_what, next) => {
    const made = await callApi(keys, 'POST', '/key/generate', { user_id: 'alice', models: ['m-small', 'm-big'] });
    const res = await callApi(keys, 'POST', '/key/update', { key: made.body.key, models: next }, alice);
    expect(res.status).toBe(403);
    expect(res.body.error.message).toContain('this change loosens `models`');
  });

  it.each([
    ['access group', 'g-small'],
    ['alias', 'small'],
  ])(
    'an owner may not name a model in place of the %s a proxy admin named, which holds it now (found by review: pinned, it stayed allowed once the admin took it out)',
    async (_what, entry) => {
      const made = await callApi(keys, 'POST', '/key/generate', { user_id: 'alice', models: [entry] });
      expect(made.status).toBe(200);
      const pinned = await callApi(keys, 'POST', '/key/update', { key: made.body.key, models: ['m-small'] }, alice);
      expect(pinned.status).toBe(403);
      expect(pinned.body.error.message).toContain('this change loosens `models`');
      expect((await callApi(keys, 'GET', '/key/info', { key: made.body.key })).body.info.models).toEqual([entry]);
    },
  );

  it('a literal model name the list covers stays tighter; a proxy admin may name the group', async () => {
    const made = await callApi(keys, 'POST', '/key/generate', { user_id: 'alice', models: ['m-small', 'm-big'] });
    expect((await callApi(keys, 'POST', '/key/update', { key: made.body.key, models: ['m-small'] }, alice)).status).toBe(200);
    expect((await callApi(keys, 'POST', '/key/update', { key: made.body.key, models: ['g-small'] })).status).toBe(200);
  });
});

describe('a calendar budget window is as short as its shortest month', () => {
  it('a team admin may not turn a proxy admin’s 30d window into 1mo (February resets sooner), may into 31d', async () => {
    const made = await callApi(keys, 'POST', '/key/generate', { team_id: 't-lim', user_id: null, max_budget: 1, budget_duration: '30d' });
    expect(made.status).toBe(200);
    const tadmin = userCtx('tadmin');
    const monthly = await callApi(keys, 'POST', '/key/update', { key: made.body.key, budget_duration: '1mo' }, tadmin);
    expect(monthly.status).toBe(403);
    expect(monthly.body.error.message).toContain('this change loosens `budget_duration`');
    expect((await callApi(keys, 'POST', '/key/update', { key: made.body.key, budget_duration: '31d' }, tadmin)).status).toBe(200);
  });
});
