/**
 * LiteLLM's rate-limit fields through the admin API (issue 13): accepted on every entity that
 * takes them, stored exactly (per-model maps with any model name), shown back; a bad value is a
 * 400 naming the field, and nothing is written.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { handler as keys } from '../../../functions/keys/handler.js';
import { handler as models } from '../../../functions/models/handler.js';
import { handler as organizations } from '../../../functions/organizations/handler.js';
import { handler as teams } from '../../../functions/teams/handler.js';
import { handler as users } from '../../../functions/users/handler.js';
import { callApi } from '../../support/admin.js';
import { expectUnchanged } from '../../support/admin-checks.js';
import { useTestTable } from '../../support/table.js';

const scalar = { rpm_limit: 10, tpm_limit: 1000, max_parallel_requests: 3 };
const perModel = { model_rpm_limit: { 'gpt-4o-mini': 5, __proto__: 2, constructor: 1 }, model_tpm_limit: { 'gpt-4o-mini': 0 } };
// `__proto__` as a literal key sets the prototype: build the maps from JSON, as a request would.
const perModelJson = JSON.parse(
  '{"model_rpm_limit": {"gpt-4o-mini": 5, "__proto__": 2, "constructor": 1}, "model_tpm_limit": {"gpt-4o-mini": 0}}',
);

beforeAll(async () => {
  await useTestTable();
  await callApi(users, 'POST', '/user/new', { user_id: 'u-m' });
  await callApi(teams, 'POST', '/team/new', { team_id: 't-m', members_with_roles: [{ user_id: 'u-m', role: 'user' }] });
});

describe('stored and shown on every entity that takes them', () => {
  it('a key: rpm, tpm, parallel and per-model limits (any model name)', async () => {
    const made = await callApi(keys, 'POST', '/key/generate', { ...scalar, ...perModelJson });
    expect(made.status).toBe(200);
    const info = await callApi(keys, 'GET', '/key/info', { key: made.body.key });
    expect(info.body.info ?? info.body).toMatchObject(scalar);
    const shown = info.body.info ?? info.body;
    expect(JSON.stringify(shown.model_rpm_limit)).toBe(JSON.stringify(perModelJson.model_rpm_limit));
    expect(Object.getPrototypeOf(shown.model_rpm_limit)).toBe(Object.prototype);
    expect(perModel.model_tpm_limit).toEqual(shown.model_tpm_limit);
  });

  it('a team, a user, an organization', async () => {
    const cases = [
      [teams, '/team/new', '/team/info', { team_id: 't-rl', ...scalar, ...perModelJson }, { team_id: 't-rl' }],
      [users, '/user/new', '/user/info', { user_id: 'u-rl', ...scalar }, { user_id: 'u-rl' }],
      [organizations, '/organization/new', '/organization/info', { organization_id: 'o-rl', ...scalar }, { organization_id: 'o-rl' }],
    ] as const;
    for (const [handler, create, read, input, query] of cases) {
      expect((await callApi(handler, 'POST', create, input)).status).toBe(200);
      const info = (await callApi(handler, 'GET', read, query)).body;
      const record = info.team_info ?? info.user_info ?? info;
      expect([create, record]).toMatchObject([create, scalar]);
    }
    // The team's per-model maps, stored as sent (any model name).
    const team = (await callApi(teams, 'GET', '/team/info', { team_id: 't-rl' })).body.team_info;
    expect(JSON.stringify(team.model_rpm_limit)).toBe(JSON.stringify(perModelJson.model_rpm_limit));
    expect(team.model_tpm_limit).toEqual(perModelJson.model_tpm_limit);
    const updated = await callApi(teams, 'POST', '/team/update', { team_id: 't-rl', rpm_limit: null, model_tpm_limit: { x: 3 } });
    expect(updated.status).toBe(200);
    // `null` removes a limit; a map is replaced by the one sent; the rest stays.
    const after = (await callApi(teams, 'GET', '/team/info', { team_id: 't-rl' })).body.team_info;
    expect(after.rpm_limit ?? null).toBeNull();
    expect(after.model_tpm_limit).toEqual({ x: 3 });
    expect(after).toMatchObject({ tpm_limit: scalar.tpm_limit, max_parallel_requests: scalar.max_parallel_requests });
  });

  it('a team member (member_update) and a registry model (litellm_params.rpm / tpm)', async () => {
    const member = await callApi(teams, 'POST', '/team/member_update', { team_id: 't-m', user_id: 'u-m', ...scalar });
    expect(member.status).toBe(200);
    expect(member.body).toMatchObject(scalar);
    const model = await callApi(models, 'POST', '/model/new', {
      model_name: 'm-rl',
      litellm_params: { model: 'gpt-4o-mini', api_base: 'https://up.example/v1', rpm: 100, tpm: 10000 },
      model_info: { input_cost_per_million: 1, output_cost_per_million: 1 },
    });
    expect(model.status).toBe(200);
    expect(model.body.litellm_params).toMatchObject({ rpm: 100, tpm: 10000 });
  });
});

describe('alert fields: soft_budget and alert_thresholds', () => {
  it('are stored on keys, teams, users and organizations; thresholds kept once each, ascending', async () => {
    const made = await callApi(keys, 'POST', '/key/generate', { soft_budget: 2, alert_thresholds: [90, 50, 90] });
    expect(made.body).toMatchObject({ soft_budget: 2, alert_thresholds: [50, 90] });
    for (const [handler, path, base] of [
      [teams, '/team/new', { team_id: 't-alerts' }],
      [users, '/user/new', { user_id: 'u-alerts' }],
      [organizations, '/organization/new', { organization_id: 'o-alerts' }],
    ] as const) {
      const res = await callApi(handler, 'POST', path, { ...base, soft_budget: 1, alert_thresholds: [100] });
      expect([path, res.status]).toEqual([path, 200]);
    }
  });
  it.each([
    [{ soft_budget: -1 }, 'soft_budget'],
    [{ alert_thresholds: [0] }, 'alert_thresholds.0'],
    [{ alert_thresholds: [1.5] }, 'alert_thresholds.0'],
    [{ alert_thresholds: [1001] }, 'alert_thresholds.0'],
    [{ alert_thresholds: Array.from({ length: 11 }, (_, i) => i + 1) }, 'alert_thresholds'],
  ])('%j is a 400 naming %s', async (input, param) => {
    await expectUnchanged(async () => {
      const res = await callApi(keys, 'POST', '/key/generate', input);
      expect([res.status, res.body.error?.param]).toEqual([400, param]);
    });
  });
});

describe('a bad value is a 400 naming the field; nothing is written', () => {
  const scalars = ['rpm_limit', 'tpm_limit', 'max_parallel_requests'];
  const badScalars: unknown[] = [1.5, -1, '5', true, [], {}, Number.MAX_SAFE_INTEGER + 2];
  const routes = [
    [keys, '/key/generate', {}],
    [teams, '/team/new', { team_id: 't-bad' }],
    [users, '/user/new', { user_id: 'u-bad' }],
    [organizations, '/organization/new', { organization_id: 'o-bad' }],
    [teams, '/team/member_update', { team_id: 't-m', user_id: 'u-m' }],
  ] as const;
  for (const [handler, path, base] of routes)
    for (const field of scalars)
      it(`${path} ${field}`, async () => {
        for (const bad of badScalars)
          await expectUnchanged(async () => {
            const res = await callApi(handler, 'POST', path, { ...base, [field]: bad });
            expect([bad, res.status, res.body.error?.param]).toEqual([bad, 400, field]);
          });
      });

  const badMaps: [unknown, string][] = [
    [[], ''],
    ['x', ''],
    [5, ''],
    [{ m: -1 }, '.m'],
    [{ m: 1.5 }, '.m'],
    [{ m: '3' }, '.m'],
    [{ m: null }, '.m'],
  ];
  for (const [handler, path, base] of [routes[0], routes[1]])
    for (const field of ['model_rpm_limit', 'model_tpm_limit'])
      it(`${path} ${field}`, async () => {
        for (const [bad, suffix] of badMaps)
          await expectUnchanged(async () => {
            const res = await callApi(handler, 'POST', path, { ...base, [field]: bad });
            expect([bad, res.status, res.body.error?.param]).toEqual([bad, 400, `${field}${suffix}`]);
          });
      });

  it('per-model limits are for keys and teams only', async () => {
    for (const [handler, path, base] of [routes[2], routes[3], routes[4]]) {
      const res = await callApi(handler, 'POST', path, { ...base, model_rpm_limit: { m: 1 } });
      expect([path, res.status, res.body.error?.code]).toEqual([path, 400, 'unknown_field']);
    }
  });
});
