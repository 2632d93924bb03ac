/**
 * The body-aware checks of the llm function, behind the real authorizer, against the mock
 * upstream on loopback and DynamoDB Local: model access (exact, wildcard, alias, access group,
 * comma list), end users (blocked, over budget, unknown, the JWT claim over the body's `user`),
 * and `/models` listing exactly what the caller may use.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MOCK_UPSTREAM_KEY, mockLocalSecrets, mockModels } from '../../../infra/local/mock-models.js';
import { type MockUpstream, startMockUpstream } from '../../../infra/local/mock-upstream.js';
import { encode } from '../../../lib/store/codec.js';
import { bearer } from '../../support/authorizer.js';
import { claims, installJwtAuthorizer, jwtEnv, signJwt, testIssuer } from '../../support/jwt.js';
import { put, seedEndUser, seedKey, seedOrg, seedTeam } from '../../support/seed.js';
import { useTestTable } from '../../support/table.js';
import { call, chat, seedModels } from './harness.js';

const MASTER = 'sk-master-llm-access';
const issuer = testIssuer('llm-access');
let mock: MockUpstream;

beforeAll(async () => {
  mock = await startMockUpstream({ apiKey: MOCK_UPSTREAM_KEY });
  await useTestTable({ TOLLGATE_MASTER_KEY: MASTER, TOLLGATE_LOCAL_SECRETS: JSON.stringify(mockLocalSecrets()), ...jwtEnv([issuer]) });
  installJwtAuthorizer([issuer]);
  await seedModels(mockModels(mock.url));
});
afterAll(async () => {
  await mock.close();
});

const keyWith = async (models: string[], extra: Parameters<typeof seedKey>[0] = {}) => (await seedKey({ models, ...extra })).key;
const lastUpstreamModel = () => (mock.requests.at(-1)?.body as { model?: string } | undefined)?.model;

describe('model access from the body', () => {
  it('allows a model the key lists exactly and forwards it', async () => {
    const key = await keyWith(['gpt-4o-mini']);
    const res = await call({ path: '/v1/chat/completions', headers: bearer(key), body: chat('gpt-4o-mini', 'hello there') });
    expect(res.status).toBe(200);
    expect(res.json.choices[0].message.content).toBe('Mock answer: hello there');
    expect(lastUpstreamModel()).toBe('gpt-4o-mini');
  });

  it('denies a model the key does not list, in the llm function, naming the key', async () => {
    const { key, record } = await seedKey({ models: ['gpt-4o-mini'] });
    const before = mock.requests.length;
    const res = await call({ path: '/v1/chat/completions', headers: bearer(key), body: chat('gpt-4o', 'hi') });
    expect(res.by).toBe('llm');
    expect(res.status).toBe(403);
    expect(res.json.error).toEqual({
      message: `model \`gpt-4o\` is not allowed for key \`${record.key_name}\` (allowed: gpt-4o-mini)`,
      type: 'permission_error',
      param: 'model',
      code: 'model_not_allowed',
    });
    expect(mock.requests.length).toBe(before);
  });

  it('treats a glob in the team list as a wildcard', async () => {
    await seedTeam({ team_id: 't-glob', models: ['gpt-4o*'] });
    const key = await keyWith([], { team_id: 't-glob' });
    expect((await call({ path: '/chat/completions', headers: bearer(key), body: chat('gpt-4o-mini', 'a') })).status).toBe(200);
    const denied = await call({ path: '/embeddings', headers: bearer(key), body: { model: 'text-embedding-3-small', input: 'a' } });
    expect(denied.status).toBe(403);
    expect(denied.json.error.message).toContain('team `t-glob`');
  });

  it('resolves an alias to its model for the check and for the upstream', async () => {
    const key = await keyWith(['gpt-4o-mini']);
    const res = await call({ path: '/v1/chat/completions', headers: bearer(key), body: chat('gpt-4o-mini-2024-07-18', 'alias call') });
    expect(res.status).toBe(200);
    expect(lastUpstreamModel()).toBe('gpt-4o-mini');
    const denied = await call({ path: '/v1/chat/completions', headers: bearer(key), body: chat('gpt-4o-2024-08-06', 'alias call') });
    expect(denied.status).toBe(403);
    expect(denied.json.error.code).toBe('model_not_allowed');
  });

  it('expands an access group from the registry', async () => {
    const key = await keyWith(['standard']);
    expect((await call({ path: '/v1/chat/completions', headers: bearer(key), body: chat('gpt-4o-mini', 'x') })).status).toBe(200);
    expect(
      (await call({ path: '/v1/embeddings', headers: bearer(key), body: { model: 'text-embedding-3-small', input: 'x' } })).status,
    ).toBe(200);
    expect((await call({ path: '/v1/chat/completions', headers: bearer(key), body: chat('gpt-4o', 'x') })).status).toBe(403);
  });

  it("checks the organization's list too", async () => {
    await seedOrg({ organization_id: 'o-std', models: ['standard'] });
    const key = await keyWith([], { organization_id: 'o-std' });
    const res = await call({ path: '/v1/chat/completions', headers: bearer(key), body: chat('gpt-4o', 'x') });
    expect(res.status).toBe(403);
    expect(res.json.error.message).toContain('organization `o-std`');
  });

  it('denies a comma list when any entry is refused, naming that entry', async () => {
    const key = await keyWith(['gpt-4o-mini']);
    const before = mock.requests.length;
    const res = await call({ path: '/v1/chat/completions', headers: bearer(key), body: chat('gpt-4o-mini, gpt-4o', 'x') });
    expect(res.status).toBe(403);
    expect(res.json.error.message).toContain('model `gpt-4o` is not allowed');
    expect(mock.requests.length).toBe(before);
  });

  it('calls every model of an allowed comma list and answers with the list of answers', async () => {
    const key = await keyWith(['gpt-4o-mini', 'gpt-4o']);
    const res = await call({ path: '/v1/chat/completions', headers: bearer(key), body: chat('gpt-4o-mini,gpt-4o', 'two models') });
    expect(res.status).toBe(200);
    expect(res.json.map((a: { model: string }) => a.model)).toEqual(['gpt-4o-mini', 'gpt-4o']);
  });

  it('refuses `stream` with a comma list', async () => {
    const key = await keyWith([]);
    const res = await call({ path: '/v1/chat/completions', headers: bearer(key), body: chat('gpt-4o-mini,gpt-4o', 'x', { stream: true }) });
    expect(res.status).toBe(400);
    expect(res.json.error).toMatchObject({ code: 'invalid_body', param: 'stream' });
  });

  it('answers 404 model_not_found for a model the registry does not know', async () => {
    const res = await call({ path: '/v1/chat/completions', headers: bearer(MASTER), body: chat('gpt-5-imaginary', 'x') });
    expect(res.status).toBe(404);
    expect(res.json.error).toMatchObject({ type: 'not_found_error', code: 'model_not_found' });
  });

  it('checks a model named in the path (Azure deployments) and forwards to its upstream', async () => {
    const key = await keyWith(['gpt-4o-mini']);
    const ok = await call({
      path: '/openai/deployments/gpt-4o-mini/chat/completions',
      headers: { 'api-key': key },
      body: { messages: [{ role: 'user', content: 'azure' }] },
    });
    expect(ok.status).toBe(200);
    expect(mock.requests.at(-1)?.path).toBe('/chat/completions');
    expect(lastUpstreamModel()).toBe('gpt-4o-mini');
    const denied = await call({ path: '/openai/deployments/gpt-4o/chat/completions', headers: { 'api-key': key }, body: { messages: [] } });
    expect(denied.status).toBe(403);
  });
});

describe('one code path decides model access, in the body or in the path (issue 10, items 11 and 12)', () => {
  it('a team that lists an access group or an alias reaches that model by an Azure deployment path, as by the body', async () => {
    for (const [teamId, models] of [
      ['t-azure-group', ['standard']],
      ['t-azure-alias', ['gpt-4o-mini-2024-07-18']],
    ] as const) {
      await seedTeam({ team_id: teamId, models: [...models] });
      const key = await keyWith([], { team_id: teamId });
      const viaPath = await call({
        path: '/openai/deployments/gpt-4o-mini-2024-07-18/chat/completions',
        headers: { 'api-key': key },
        body: { messages: [{ role: 'user', content: 'azure' }] },
      });
      const viaBody = await call({ path: '/v1/chat/completions', headers: bearer(key), body: chat('gpt-4o-mini-2024-07-18', 'body') });
      expect([teamId, viaPath.status, viaBody.status]).toEqual([teamId, 200, 200]);
    }
  });

  it('a model the list refuses is refused the same way by path and by body: 403 model_not_allowed from the llm function', async () => {
    const key = await keyWith(['gpt-4o-mini']);
    const viaPath = await call({
      path: '/openai/deployments/gpt-4o/chat/completions',
      headers: { 'api-key': key },
      body: { messages: [] },
    });
    const viaBody = await call({ path: '/v1/chat/completions', headers: bearer(key), body: chat('gpt-4o', 'x') });
    expect([viaPath.by, viaPath.status, viaPath.json.error.code]).toEqual(['llm', 403, 'model_not_allowed']);
    expect(viaPath.json.error).toEqual(viaBody.json.error);
  });

  it('a model name too long for any model is a 400, whether in the path or the body (never a 403)', async () => {
    const key = await keyWith([]);
    const long = 'm'.repeat(300);
    const viaPath = await call({
      path: `/openai/deployments/${long}/chat/completions`,
      headers: { 'api-key': key },
      body: { messages: [] },
    });
    const viaBody = await call({ path: '/v1/chat/completions', headers: bearer(key), body: chat(long, 'x') });
    expect([viaPath.status, viaPath.json.error.code]).toEqual([400, 'invalid_model']);
    expect([viaBody.status, viaBody.json.error.code]).toEqual([400, 'invalid_model']);
  });

  it('too many models in one call is a 400 too_many_models', async () => {
    const key = await keyWith([]);
    const res = await call({ path: '/v1/chat/completions', headers: bearer(key), body: chat(Array(11).fill('gpt-4o').join(','), 'x') });
    expect([res.status, res.json.error.code]).toEqual([400, 'too_many_models']);
  });
});

describe('end users', () => {
  it('lets an unknown end user through', async () => {
    const key = await keyWith([]);
    const res = await call({
      path: '/v1/chat/completions',
      headers: bearer(key),
      body: chat('gpt-4o-mini', 'x', { user: 'eu-never-seen' }),
    });
    expect(res.status).toBe(200);
  });

  it('denies a blocked end user named in `user`', async () => {
    await seedEndUser({ user_id: 'eu-blocked', blocked: true });
    const key = await keyWith([]);
    const res = await call({ path: '/v1/chat/completions', headers: bearer(key), body: chat('gpt-4o-mini', 'x', { user: 'eu-blocked' }) });
    expect(res.status).toBe(403);
    expect(res.json.error).toEqual({
      message: 'end user `eu-blocked` is blocked',
      type: 'permission_error',
      param: 'user',
      code: 'end_user_blocked',
    });
  });

  it('denies an end user whose spend reached its budget', async () => {
    await seedEndUser({ user_id: 'eu-spent', max_budget: 1, spend: 1 });
    const key = await keyWith([]);
    const res = await call({ path: '/v1/chat/completions', headers: bearer(key), body: chat('gpt-4o-mini', 'x', { user: 'eu-spent' }) });
    expect(res.status).toBe(403);
    expect(res.json.error).toMatchObject({
      type: 'budget_exceeded',
      code: 'end_user_budget_exceeded',
      message: 'end user `eu-spent` spent 1.00 of its 1.00 budget',
    });
  });

  it('applies the reusable budget an end user points to', async () => {
    await put(encode.budget({ budget_id: 'b-small', max_budget: 0.5, created_at: new Date().toISOString() }));
    await seedEndUser({ user_id: 'eu-budgeted', budget_id: 'b-small', spend: 0.5 });
    const key = await keyWith([]);
    const res = await call({ path: '/v1/chat/completions', headers: bearer(key), body: chat('gpt-4o-mini', 'x', { user: 'eu-budgeted' }) });
    expect(res.json.error?.code).toBe('end_user_budget_exceeded');
  });

  it('takes the end user from the JWT claim over the body `user`', async () => {
    await seedTeam({ team_id: 't-jwt' });
    await seedEndUser({ user_id: 'eu-blocked-2', blocked: true });
    // The claim names a fine end user; the body names a blocked one, which the claim overrides.
    const token = signJwt(issuer.keys.ES256, claims(issuer, { team_id: 't-jwt', end_user_id: 'eu-claimed' }));
    const res = await call({
      path: '/v1/chat/completions',
      headers: bearer(token),
      body: chat('gpt-4o-mini', 'x', { user: 'eu-blocked-2' }),
    });
    expect(res.status).toBe(200);
    // Without the claim, the same body is refused.
    const key = await keyWith([]);
    const refused = await call({
      path: '/v1/chat/completions',
      headers: bearer(key),
      body: chat('gpt-4o-mini', 'x', { user: 'eu-blocked-2' }),
    });
    expect(refused.json.error?.code).toBe('end_user_blocked');
  });

  it('rejects a `user` that is not a string', async () => {
    const key = await keyWith([]);
    const res = await call({ path: '/v1/chat/completions', headers: bearer(key), body: chat('gpt-4o-mini', 'x', { user: 42 }) });
    expect(res.status).toBe(400);
    expect(res.json.error).toMatchObject({ type: 'invalid_request_error', code: 'invalid_body', param: 'user' });
  });
});

describe('/models lists exactly what the caller may use', () => {
  const ids = (res: { json: { data: { id: string }[] } }) => res.json.data.map((m) => m.id);

  it('filters by the key and its team', async () => {
    await seedTeam({ team_id: 't-list', models: ['gpt-4o-mini', 'gpt-4o'] });
    const key = await keyWith(['standard'], { team_id: 't-list' });
    for (const path of ['/v1/models', '/models']) {
      const res = await call({ method: 'GET', path, headers: bearer(key) });
      expect(res.status).toBe(200);
      expect(res.json.object).toBe('list');
      expect(ids(res)).toEqual(['gpt-4o-mini']);
      expect(res.json.data[0]).toEqual({ id: 'gpt-4o-mini', object: 'model', created: 1721260800, owned_by: 'tollgate' });
    }
  });

  it('lists every model for the master key and an unrestricted key', async () => {
    const all = ['gpt-4o', 'gpt-4o-mini', 'text-embedding-3-small'];
    expect(ids(await call({ method: 'GET', path: '/v1/models', headers: bearer(MASTER) }))).toEqual(all);
    expect(ids(await call({ method: 'GET', path: '/v1/models', headers: bearer(await keyWith([])) }))).toEqual(all);
  });

  it('lists by wildcard and alias-free public names', async () => {
    const res = await call({ method: 'GET', path: '/v1/models', headers: bearer(await keyWith(['text-*'])) });
    expect(ids(res)).toEqual(['text-embedding-3-small']);
  });

  it('retrieves one allowed model, refuses a disallowed one, 404s an unknown one', async () => {
    const key = await keyWith(['gpt-4o-mini']);
    const ok = await call({ method: 'GET', path: '/v1/models/gpt-4o-mini', headers: bearer(key) });
    expect(ok.json).toEqual({ id: 'gpt-4o-mini', object: 'model', created: 1721260800, owned_by: 'tollgate' });
    expect((await call({ method: 'GET', path: '/v1/models/gpt-4o', headers: bearer(key) })).status).toBe(403);
    const unknown = await call({ method: 'GET', path: '/v1/models/nope', headers: bearer(MASTER) });
    expect(unknown.status).toBe(404);
    expect(unknown.json.error.code).toBe('model_not_found');
  });
});
