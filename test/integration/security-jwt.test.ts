/**
 * JWT edge cases found in review: tokens that never expire, claims of the wrong type, claim
 * values holding the table's key separators, and a key of one issuer used for another.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authorize, bearer } from '../support/authorizer.js';
import { claims, installJwtAuthorizer, jwtEnv, signJwt, testIssuer } from '../support/jwt.js';
import { authorizerEvent, seedEndUser, seedMember, seedTeam, seedUser } from '../support/seed.js';
import { reconfigure, type TestTable, useTestTable } from '../support/table.js';

const idp = testIssuer('primary');
const other = testIssuer('secondary');
const chat = (token: string) => authorizerEvent({ resource: '/chat/completions', method: 'POST', headers: bearer(token) });
const sign = (payload: Record<string, unknown>) => signJwt(idp.keys.RS256, payload);

let table: TestTable;

beforeAll(async () => {
  table = await useTestTable(jwtEnv([idp, other]));
  installJwtAuthorizer([idp, other]);
  await seedUser({ user_id: 'u-1' });
  await seedTeam({ team_id: 't-1', max_budget: 10 });
  await seedTeam({ team_id: 't-spent', max_budget: 1, spend: 5 });
  await seedMember({ team_id: 't-1', user_id: 'u-1', max_budget: 1, spend: 5 });
});

describe('expiry', () => {
  it('a token without `exp` is refused: it would be valid forever', async () => {
    const { exp: _exp, ...rest } = claims(idp, { sub: 'u-1' });
    expect((await authorize(chat(sign(rest)))).status).toBe(401);
  });

  it('a token with `exp` still works', async () => {
    expect((await authorize(chat(sign(claims(idp, { sub: 'u-1' }))))).effect).toBe('allow');
  });
});

describe('claims of the wrong type or size name nobody', () => {
  it.each([
    ['a number', 42],
    ['an object', { id: 't-1' }],
    ['an empty string', ''],
    ['a string of 300 characters', 'x'.repeat(300)],
  ])('a team claim that is %s is no team', async (_what, value) => {
    const out = await authorize(chat(sign(claims(idp, { team_id: value }))));
    expect(out.status).toBe(401);
  });
});

describe('claim values holding key separators address nothing else', () => {
  it.each(['t-1|TEAM', 't-1#MEMBER#u-1', 'TEAM#t-1'])('team claim `%s` is not team t-1', async (team) => {
    const out = await authorize(chat(sign(claims(idp, { team_id: team }))));
    expect(out).toMatchObject({ effect: 'deny', status: 403, context: { code: 'team_not_found' } });
  });

  it('a user claim holding `|` still finds its own membership (and its budget)', async () => {
    await seedUser({ user_id: 'auth0|u-2' });
    await seedMember({ team_id: 't-1', user_id: 'auth0|u-2', max_budget: 1, spend: 5 });
    const out = await authorize(chat(sign(claims(idp, { sub: 'auth0|u-2', team_id: 't-1' }))));
    expect(out).toMatchObject({ effect: 'deny', context: { code: 'team_member_budget_exceeded' } });
  });
});

describe('issuers do not lend each other their keys', () => {
  it("a token claiming the primary issuer, signed by the secondary's key under the primary's kid, is refused", async () => {
    const forged = signJwt(other.keys.RS256, claims(idp, { sub: 'u-1' }), { kid: idp.keys.RS256.kid });
    expect((await authorize(chat(forged))).status).toBe(401);
  });

  it('a token claiming the primary issuer under a kid only the secondary publishes is refused', async () => {
    const forged = signJwt(other.keys.RS256, claims(idp, { sub: 'u-1' }));
    expect((await authorize(chat(forged))).status).toBe(401);
  });
});

describe('the admin scope is the proxy admin, like the master key: no team, organization or end user gates it (found by review)', () => {
  const at = (resource: string, token: string, method = 'POST') => authorizerEvent({ resource, method, headers: bearer(token) });
  const admin = (extra: Record<string, unknown>) => sign(claims(idp, { sub: 'admin-person', scope: 'litellm_proxy_admin', ...extra }));

  beforeAll(async () => {
    await seedTeam({ team_id: 't-blocked', blocked: true });
    await seedEndUser({ user_id: 'eu-blocked', blocked: true });
  });
  afterAll(() => {
    reconfigure(table.config, jwtEnv([idp, other]));
    installJwtAuthorizer([idp, other]);
  });

  it.each([
    ['a team that does not exist yet (an IdP group), to create it', { team_id: 't-not-yet' }, '/team/new'],
    ['a blocked team, to unblock it', { team_id: 't-blocked' }, '/team/unblock'],
    ['a blocked end user, to unblock it', { end_user_id: 'eu-blocked' }, '/customer/unblock'],
  ])('a token naming %s reaches the admin route, as the proxy admin alone', async (_what, extra, route) => {
    const out = await authorize(at(route, admin(extra)));
    expect(out).toMatchObject({ effect: 'allow', context: { role: 'proxy_admin', principal: 'jwt', user_id: 'admin-person' } });
    expect(out.effect === 'allow' && out.context).not.toHaveProperty('team_id');
    expect(out.effect === 'allow' && out.context).not.toHaveProperty('end_user_id');
  });

  it.each([
    ['a team that does not exist yet', 't-not-yet', '/team/new'],
    ['a blocked team', 't-blocked', '/team/unblock'],
  ])('so is a token without the scope whose user is stored as a proxy admin, naming %s', async (_what, team, route) => {
    await seedUser({ user_id: 'stored-admin', user_role: 'proxy_admin' });
    const out = await authorize(at(route, sign(claims(idp, { sub: 'stored-admin', team_id: team }))));
    expect(out).toMatchObject({ effect: 'allow', context: { role: 'proxy_admin', principal: 'jwt', user_id: 'stored-admin' } });
    expect(out.effect === 'allow' && out.context).not.toHaveProperty('team_id');
  });

  it('TOLLGATE_JWT_DEFAULT_TEAM blocked does not lock admins out of unblocking it', async () => {
    reconfigure(table.config, jwtEnv([idp, other], { TOLLGATE_JWT_DEFAULT_TEAM: 't-blocked' }));
    installJwtAuthorizer([idp, other]);
    expect((await authorize(at('/team/unblock', admin({})))).effect).toBe('allow');
    // A token without the scope is still placed in the default team, and its block holds.
    expect(await authorize(chat(sign(claims(idp, { sub: 'u-1' }))))).toMatchObject({ effect: 'deny', context: { code: 'team_blocked' } });
  });
});
