/**
 * Prototype property names are names like any other (issue 10, item 6): every own property name
 * of Object.prototype, used as a model name, an alias, an access group, a key's model entry, an
 * end user, a user, a team, a key alias and a metadata key, works through the llm function and the
 * admin API: no 500, no crossed wires.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { handler as keys } from '../../../functions/keys/handler.js';
import { handler as models } from '../../../functions/models/handler.js';
import { handler as teams } from '../../../functions/teams/handler.js';
import { handler as users } from '../../../functions/users/handler.js';
import { MOCK_UPSTREAM_KEY, mockLocalSecrets, mockModels } from '../../../infra/local/mock-models.js';
import { type MockUpstream, startMockUpstream } from '../../../infra/local/mock-upstream.js';
import { callApi } from '../../support/admin.js';
import { bearer } from '../../support/authorizer.js';
import { seedKey } from '../../support/seed.js';
import { useTestTable } from '../../support/table.js';
import { call, chat, seedModels } from './harness.js';

const NAMES = Object.getOwnPropertyNames(Object.prototype);
let mock: MockUpstream;

beforeAll(async () => {
  mock = await startMockUpstream({ apiKey: MOCK_UPSTREAM_KEY });
  await useTestTable({ TOLLGATE_LOCAL_SECRETS: JSON.stringify(mockLocalSecrets()) });
  const [base] = mockModels(mock.url);
  // Each name is a model's access group and another model's alias.
  await seedModels(
    NAMES.flatMap((name, i) => [
      { ...base!, model_name: `grouped-${i}`, upstream_model: 'gpt-4o-mini', access_groups: [name], aliases: [] },
      { ...base!, model_name: `aliased-${i}`, upstream_model: 'gpt-4o-mini', access_groups: [], aliases: [name] },
    ]),
  );
});
afterAll(() => mock.close());

describe('every Object.prototype name through the llm function', () => {
  it.each(NAMES)('%s: as an alias it is called, as an access group it allows, as a key model it resolves', async (name) => {
    const i = NAMES.indexOf(name);
    // A key whose list is the name: the access group (grouped-i) and the alias (aliased-i) both pass.
    const { key } = await seedKey({ models: [name] });
    const byAlias = await call({ path: '/v1/chat/completions', headers: bearer(key), body: chat(name, 'hi', { user: name }) });
    expect([byAlias.status, byAlias.json.error]).toEqual([200, undefined]);
    const byGroup = await call({ path: '/v1/chat/completions', headers: bearer(key), body: chat(`grouped-${i}`, 'hi') });
    expect([byGroup.status, byGroup.json.error]).toEqual([200, undefined]);
    // Not in the list: refused as a permission, never a 500.
    const other = await call({ path: '/v1/chat/completions', headers: bearer(key), body: chat(`grouped-${(i + 1) % NAMES.length}`, 'hi') });
    expect([other.status, other.json.error?.code]).toEqual([403, 'model_not_allowed']);
    const listed = await call({ method: 'GET', path: '/v1/models', headers: bearer(key) });
    expect(listed.status).toBe(200);
    // An alias in a key's list lets the alias be called; the listing names the models the list allows.
    expect(listed.json.data.map((m: { id: string }) => m.id)).toEqual([`grouped-${i}`]);
  });

  it('/model/info answers for the whole registry', async () => {
    const res = await callApi(models, 'GET', '/model/info', {});
    expect(res.status).toBe(200);
    expect(res.body.data.length).toBe(NAMES.length * 2);
  });
});

describe('every Object.prototype name through the admin API', () => {
  it.each(NAMES)('%s: as a user, a team, a key alias and a metadata key', async (name) => {
    expect((await callApi(users, 'POST', '/user/new', { user_id: name })).status).toBe(200);
    expect((await callApi(teams, 'POST', '/team/new', { team_id: name, metadata: { [name]: 1 } })).status).toBe(200);
    expect((await callApi(teams, 'POST', '/team/member_add', { team_id: name, member: { user_id: name } })).status).toBe(200);
    const made = await callApi(keys, 'POST', '/key/generate', {
      team_id: name,
      user_id: name,
      key_alias: name,
      metadata: JSON.parse(`{"${name}": {"${name}": 2}}`),
    });
    expect([made.status, made.body.error]).toEqual([200, undefined]);
    const info = await callApi(keys, 'GET', '/key/info', { key: made.body.key });
    expect(info.body.info.key_alias).toBe(name);
    expect(Object.hasOwn(info.body.info.metadata, name)).toBe(true);
    expect((await callApi(teams, 'GET', '/team/info', { team_id: name })).body.team_id).toBe(name);
    expect((await callApi(keys, 'POST', '/key/delete', { key_aliases: [name] })).status).toBe(200);
  });
});
