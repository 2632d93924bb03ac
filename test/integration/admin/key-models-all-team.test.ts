/**
 * A key naming `all-team-models` adds no restriction of its own (lib/checks/models
 * keyUnrestricted): to its owner's "only tighter" change of models it is as wide as no list at
 * all, so an owner cannot widen models a proxy admin set by naming it (found by review).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { handler as keys } from '../../../functions/keys/handler.js';
import { handler as teams } from '../../../functions/teams/handler.js';
import { handler as users } from '../../../functions/users/handler.js';
import { callApi, userCtx } from '../../support/admin.js';
import { useTestTable } from '../../support/table.js';

const alice = userCtx('alice');

beforeAll(async () => {
  await useTestTable();
  await callApi(users, 'POST', '/user/new', { user_id: 'alice', auto_create_key: false });
  await callApi(teams, 'POST', '/team/new', { team_id: 't-open', members_with_roles: [{ user_id: 'alice', role: 'user' }] });
});

describe("a key's owner cannot widen the models a proxy admin set by naming all-team-models", () => {
  it.each([
    ['team key', { team_id: 't-open' }, ['all-team-models']],
    ['team key, kept entry + all-team-models', { team_id: 't-open' }, ['gpt-4o-mini', 'all-team-models']],
    ['personal key', {}, ['all-team-models']],
  ])('%s: 403 and models unchanged', async (_what, owner, next) => {
    const made = await callApi(keys, 'POST', '/key/generate', { user_id: 'alice', models: ['gpt-4o-mini'], ...owner });
    expect(made.status).toBe(200);
    const key = made.body.key as string;
    const res = await callApi(keys, 'POST', '/key/update', { key, models: next }, alice);
    const info = (await callApi(keys, 'GET', '/key/info', { key })).body.info;
    expect({ status: res.status, models: info.models, effective: info.effective_models }).toEqual({
      status: 403,
      models: ['gpt-4o-mini'],
      effective: ['gpt-4o-mini'],
    });
  });
});
