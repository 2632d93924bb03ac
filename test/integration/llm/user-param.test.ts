/** enforce_user_param (TOLLGATE_ENFORCE_USER_PARAM): LLM POSTs must name their end user. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MOCK_UPSTREAM_KEY, mockLocalSecrets, mockModels } from '../../../infra/local/mock-models.js';
import { type MockUpstream, startMockUpstream } from '../../../infra/local/mock-upstream.js';
import { bearer } from '../../support/authorizer.js';
import { claims, installJwtAuthorizer, jwtEnv, signJwt, testIssuer } from '../../support/jwt.js';
import { seedKey, seedTeam } from '../../support/seed.js';
import { useTestTable } from '../../support/table.js';
import { call, chat, seedModels } from './harness.js';

const issuer = testIssuer('llm-user-param');
let mock: MockUpstream;
let key: string;

beforeAll(async () => {
  mock = await startMockUpstream({ apiKey: MOCK_UPSTREAM_KEY });
  await useTestTable({
    TOLLGATE_ENFORCE_USER_PARAM: 'true',
    TOLLGATE_LOCAL_SECRETS: JSON.stringify(mockLocalSecrets()),
    ...jwtEnv([issuer]),
  });
  installJwtAuthorizer([issuer]);
  await seedModels(mockModels(mock.url));
  key = (await seedKey({})).key;
});
afterAll(async () => {
  await mock.close();
});

describe('enforce_user_param', () => {
  it('answers 400 user_param_required without `user`, before calling the upstream', async () => {
    const before = mock.requests.length;
    const res = await call({ path: '/v1/chat/completions', headers: bearer(key), body: chat('gpt-4o-mini', 'x') });
    expect(res.status).toBe(400);
    expect(res.json.error).toEqual({
      message: 'this proxy requires the `user` field in the request body (enforce_user_param)',
      type: 'invalid_request_error',
      param: 'user',
      code: 'user_param_required',
    });
    expect(mock.requests.length).toBe(before);
  });

  it('counts an empty `user` as missing', async () => {
    const res = await call({
      path: '/v1/embeddings',
      headers: bearer(key),
      body: { model: 'text-embedding-3-small', input: 'x', user: '' },
    });
    expect(res.json.error?.code).toBe('user_param_required');
  });

  it('passes with `user` in the body', async () => {
    expect(
      (await call({ path: '/v1/chat/completions', headers: bearer(key), body: chat('gpt-4o-mini', 'x', { user: 'eu-1' }) })).status,
    ).toBe(200);
  });

  it("passes with the JWT's end-user claim instead", async () => {
    await seedTeam({ team_id: 't-up' });
    const token = signJwt(issuer.keys.RS256, claims(issuer, { team_id: 't-up', end_user_id: 'eu-from-claim' }));
    expect((await call({ path: '/v1/chat/completions', headers: bearer(token), body: chat('gpt-4o-mini', 'x') })).status).toBe(200);
  });

  it('does not apply to GET /v1/models', async () => {
    expect((await call({ method: 'GET', path: '/v1/models', headers: bearer(key) })).status).toBe(200);
  });
});
