/**
 * The authorizer end to end with JWTs signed by keys made in the test (RS256, ES256, EdDSA):
 * roles from claims and stored users, teams, admin scope and its routes, default team, user
 * upsert, several issuers, forged tokens, JWT-named budgets, and the JWKS refetch on rotation
 * (counted, penalty-boxed, bounded in time). No network beyond loopback.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { handler as teams } from '../../functions/teams/handler.js';
import { handler as users } from '../../functions/users/handler.js';
import { documentClient } from '../../lib/app/index.js';
import { DeadlineFetcher } from '../../lib/auth/jwt.js';
import { tableName } from '../../lib/store/client.js';
import { encode } from '../../lib/store/codec.js';
import { refs } from '../../lib/store/keys.js';
import { callApi } from '../support/admin.js';
import { authorize, bearer } from '../support/authorizer.js';
import {
  CountingFetcher,
  claims,
  forge,
  generateSigningKey,
  installJwtAuthorizer,
  JWT_ALGS,
  jwksOf,
  jwtEnv,
  signJwt,
  type TestIssuer,
  testIssuer,
} from '../support/jwt.js';
import { authorizerEvent, put, seedEndUser, seedOrg, seedTeam, seedUser } from '../support/seed.js';
import { reconfigure, type TestTable, useTestTable } from '../support/table.js';

const idp = testIssuer('primary');
const other = testIssuer('secondary');
let table: TestTable;

const at = (resource: string, token: string, method = 'POST') => authorizerEvent({ resource, method, headers: bearer(token) });
const chat = (token: string) => at('/chat/completions', token);
const token = (extra: Record<string, unknown>, issuer: TestIssuer = idp, alg: (typeof JWT_ALGS)[number] = 'RS256') =>
  signJwt(issuer.keys[alg], claims(issuer, extra));

/** New settings, and the authorizer rebuilt on them with both issuers' JWKS preloaded. */
function configure(extra: Record<string, string> = {}) {
  reconfigure(table.config, jwtEnv([idp, other], extra));
  return installJwtAuthorizer([idp, other]);
}

beforeAll(async () => {
  table = await useTestTable(jwtEnv([idp, other]));
  installJwtAuthorizer([idp, other]);
  await seedUser({ user_id: 'u-jwt' });
  await seedUser({ user_id: 'u-viewer', user_role: 'internal_user_viewer' });
  await seedTeam({ team_id: 't-jwt', max_budget: 10, spend: 1 });
});

describe('a JWT naming a user', () => {
  it.each(JWT_ALGS)('signed %s is allowed with the stored user role in the context', async (alg) => {
    const out = await authorize(chat(token({ sub: 'u-jwt' }, idp, alg)));
    expect(out).toMatchObject({ effect: 'allow', context: { principal: 'jwt', role: 'internal_user', user_id: 'u-jwt' } });
    if (out.effect === 'allow') expect(out.result.principalId).toBe('u-jwt');
  });

  it('takes a viewer role from the store: info routes only', async () => {
    expect((await authorize(at('/key/info', token({ sub: 'u-viewer' }), 'GET'))).effect).toBe('allow');
    expect(await authorize(chat(token({ sub: 'u-viewer' })))).toMatchObject({ effect: 'deny', context: { code: 'route_not_allowed' } });
  });

  it('of a user the store does not know, with no team, is 401', async () => {
    expect((await authorize(chat(token({ sub: 'u-nobody' })))).status).toBe(401);
  });
});

describe('a JWT naming a team', () => {
  it.each(JWT_ALGS)('signed %s acts as role `team`: LLM routes yes, management no', async (alg) => {
    const t = token({ team_id: 't-jwt' }, idp, alg);
    expect(await authorize(chat(t))).toMatchObject({
      effect: 'allow',
      context: { principal: 'jwt', role: 'team', team_id: 't-jwt', budgets: '{"team":9}' },
    });
    expect(await authorize(at('/team/new', t))).toMatchObject({ effect: 'deny', status: 403, context: { code: 'route_not_allowed' } });
  });

  it('that does not exist is 403 team_not_found', async () => {
    expect(await authorize(chat(token({ team_id: 't-missing' })))).toMatchObject({
      effect: 'deny',
      status: 403,
      context: { code: 'team_not_found', message: 'team `t-missing` named by the JWT does not exist' },
    });
  });

  it('and a known user keeps the user role, inside the team', async () => {
    expect(await authorize(chat(token({ sub: 'u-jwt', team_id: 't-jwt' })))).toMatchObject({
      effect: 'allow',
      context: { role: 'internal_user', user_id: 'u-jwt', team_id: 't-jwt' },
    });
  });
});

describe('the admin scope', () => {
  const admin = () => token({ sub: 'admin-person', scope: 'openid litellm_proxy_admin' });

  it('gives proxy_admin with the default JWT admin routes: management and info, not LLM', async () => {
    expect(await authorize(at('/team/new', admin()))).toMatchObject({
      effect: 'allow',
      context: { role: 'proxy_admin', principal: 'jwt' },
    });
    expect((await authorize(at('/key/list', admin(), 'GET'))).effect).toBe('allow');
    expect(await authorize(chat(admin()))).toMatchObject({
      effect: 'deny',
      context: { code: 'route_not_allowed', message: 'role `proxy_admin` may not call POST /chat/completions' },
    });
  });

  it('a look-alike scope gives nothing', async () => {
    expect((await authorize(at('/team/new', token({ scope: 'litellm_proxy_admin_not' })))).status).toBe(401);
  });

  it('an array `scope` is malformed (RFC 8693: a string) and refused; a configured array claim counts', async () => {
    expect((await authorize(at('/team/new', token({ scope: ['litellm_proxy_admin'] })))).status).toBe(401);
    configure({ TOLLGATE_JWT_SCOPE_CLAIM: 'roles' });
    expect((await authorize(at('/team/new', token({ roles: ['reader', 'litellm_proxy_admin'] })))).effect).toBe('allow');
    configure();
  });
});

describe('configured JWT routes', () => {
  afterAll(() => configure());

  it('TOLLGATE_JWT_ADMIN_ROUTES and TOLLGATE_JWT_TEAM_ROUTES replace the defaults', async () => {
    configure({ TOLLGATE_JWT_ADMIN_ROUTES: 'management,info,llm', TOLLGATE_JWT_TEAM_ROUTES: '/chat/completions' });
    expect((await authorize(chat(token({ scope: 'litellm_proxy_admin' })))).effect).toBe('allow');
    const team = token({ team_id: 't-jwt' });
    expect((await authorize(chat(team))).effect).toBe('allow');
    expect(await authorize(at('/embeddings', team))).toMatchObject({ effect: 'deny', context: { code: 'route_not_allowed' } });
    expect(await authorize(at('/key/info', team, 'GET'))).toMatchObject({ effect: 'deny', context: { code: 'route_not_allowed' } });
  });
});

describe('configured claim names', () => {
  afterAll(() => configure());

  it('TOLLGATE_JWT_USER_CLAIM, _TEAM_CLAIM, _ORG_CLAIM and _END_USER_CLAIM name who calls, dotted paths reaching nested claims', async () => {
    await seedTeam({ team_id: 't-claims' });
    await seedOrg({ organization_id: 'o-claims-broke', max_budget: 1, spend: 1 });
    await seedEndUser({ user_id: 'cust-claims-broke', max_budget: 1, spend: 1 });
    configure({
      TOLLGATE_JWT_USER_CLAIM: 'email',
      TOLLGATE_JWT_TEAM_CLAIM: 'ext.team',
      TOLLGATE_JWT_ORG_CLAIM: 'ext.org',
      TOLLGATE_JWT_END_USER_CLAIM: 'ext.customer',
    });
    expect(await authorize(chat(token({ sub: 'nobody', email: 'u-jwt', ext: { team: 't-claims' } })))).toMatchObject({
      effect: 'allow',
      context: { role: 'internal_user', user_id: 'u-jwt', team_id: 't-claims' },
    });
    expect(await authorize(chat(token({ ext: { team: 't-claims', customer: 'cust-claims-broke' } })))).toMatchObject({
      effect: 'deny',
      context: { code: 'end_user_budget_exceeded', message: 'end user `cust-claims-broke` spent 1.00 of its 1.00 budget' },
    });
    expect(await authorize(chat(token({ ext: { team: 't-claims', org: 'o-claims-broke' } })))).toMatchObject({
      effect: 'deny',
      context: { code: 'organization_budget_exceeded' },
    });
    // The default names no longer count: this token names nobody.
    expect((await authorize(chat(token({ sub: 'u-jwt', team_id: 't-jwt' })))).status).toBe(401);
  });

  it('TOLLGATE_JWT_ADMIN_SCOPE replaces litellm_proxy_admin', async () => {
    configure({ TOLLGATE_JWT_ADMIN_SCOPE: 'tollgate:admin' });
    expect(await authorize(at('/team/new', token({ sub: 'admin-person', scope: 'openid tollgate:admin' })))).toMatchObject({
      effect: 'allow',
      context: { role: 'proxy_admin' },
    });
    expect((await authorize(at('/team/new', token({ sub: 'admin-person', scope: 'litellm_proxy_admin' })))).status).toBe(401);
  });
});

describe('default team and user upsert', () => {
  afterAll(() => configure());

  it('TOLLGATE_JWT_DEFAULT_TEAM places a token without a team claim in that team', async () => {
    await seedTeam({ team_id: 't-default' });
    configure({ TOLLGATE_JWT_DEFAULT_TEAM: 't-default' });
    expect(await authorize(chat(token({ sub: 'u-unknown-2' })))).toMatchObject({
      effect: 'allow',
      context: { role: 'team', team_id: 't-default' },
    });
    expect(await authorize(chat(token({ sub: 'u-jwt' })))).toMatchObject({
      effect: 'allow',
      context: { role: 'internal_user', team_id: 't-default' },
    });
  });

  it('TOLLGATE_JWT_UPSERT_USER creates an internal_user item for a new user', async () => {
    configure({ TOLLGATE_JWT_UPSERT_USER: 'true' });
    const read = () => documentClient().send(new GetCommand({ TableName: tableName(), Key: refs.user('u-new'), ConsistentRead: true }));
    expect((await read()).Item).toBeUndefined();
    expect(await authorize(chat(token({ sub: 'u-new' })))).toMatchObject({
      effect: 'allow',
      context: { role: 'internal_user', user_id: 'u-new' },
    });
    expect((await read()).Item).toMatchObject({ PK: 'USER#u-new', SK: 'USER', kind: 'user', user_id: 'u-new', user_role: 'internal_user' });
    // A second request finds the user (created once, not overwritten).
    expect((await authorize(chat(token({ sub: 'u-new' })))).effect).toBe('allow');
  });

  it('a user made by another instance while this one remembers it as absent is allowed, not a 503 (found by review)', async () => {
    configure({ TOLLGATE_JWT_UPSERT_USER: 'true' });
    // An admin-scoped token never upserts: this instance reads `u-elsewhere` and caches it as absent.
    await authorize(at('/team/new', token({ sub: 'u-elsewhere', scope: 'litellm_proxy_admin' })));
    // Another instance (or the admin API) makes the user; nothing tells this one.
    const user = { user_id: 'u-elsewhere', user_role: 'internal_user' as const, spend: 0, created_at: new Date().toISOString() };
    await documentClient().send(new PutCommand({ TableName: tableName(), Item: encode.user(user) }));
    for (let i = 0; i < 3; i++) expect((await authorize(chat(token({ sub: 'u-elsewhere' })))).effect).toBe('allow');
  });

  it('a user created from an IdP subject (`auth0|…`) is one the admin API manages (issue 10, item 4)', async () => {
    configure({ TOLLGATE_JWT_UPSERT_USER: 'true' });
    expect(await authorize(chat(token({ sub: 'auth0|65f1c2' })))).toMatchObject({ effect: 'allow', context: { user_id: 'auth0|65f1c2' } });
    const update = await callApi(users, 'POST', '/user/update', { user_id: 'auth0|65f1c2', max_budget: 1 });
    expect([update.status, update.body.max_budget]).toEqual([200, 1]);
    expect((await callApi(teams, 'POST', '/team/member_add', { team_id: 't-jwt', member: { user_id: 'auth0|65f1c2' } })).status).toBe(200);
    expect((await callApi(users, 'POST', '/user/delete', { user_ids: ['auth0|65f1c2'] })).status).toBe(200);
  });

  it('a token whose subject is not a usable id (white space around it) is refused, never trimmed into another user', async () => {
    expect((await authorize(chat(token({ sub: 'u-jwt ' })))).status).toBe(401);
  });

  it.each([
    ['a zero-width space', 'u-\u200bjwt'],
    ['a right-to-left override', 'u-jwt\u202e'],
    ['a combining accent (not NFC)', 'u-jwte\u0301'],
  ])('a token whose subject hides %s is refused: no look-alike of another user', async (_, sub) => {
    expect((await authorize(chat(token({ sub })))).status).toBe(401);
  });

  it('never upserts for an admin-scoped token', async () => {
    configure({ TOLLGATE_JWT_UPSERT_USER: 'true' });
    await authorize(at('/team/new', token({ sub: 'u-admin-new', scope: 'litellm_proxy_admin' })));
    const got = await documentClient().send(
      new GetCommand({ TableName: tableName(), Key: refs.user('u-admin-new'), ConsistentRead: true }),
    );
    expect(got.Item).toBeUndefined();
  });
});

describe('several issuers', () => {
  it('accepts each issuer’s tokens signed by its own keys', async () => {
    for (const alg of JWT_ALGS) expect((await authorize(chat(token({ sub: 'u-jwt' }, other, alg)))).effect).toBe('allow');
  });

  it("refuses a token claiming one issuer signed with the other issuer's key", async () => {
    const crossed = signJwt(idp.keys.RS256, claims(other, { sub: 'u-jwt' }));
    expect((await authorize(chat(crossed))).status).toBe(401);
  });
});

describe('tokens that must be refused with 401', () => {
  const good = () => claims(idp, { sub: 'u-jwt', team_id: 't-jwt' });
  const key = idp.keys.RS256;
  const cases: [string, () => string][] = [
    ['expired', () => forge.expired(idp, key, { sub: 'u-jwt' })],
    ['not valid yet (nbf in the future)', () => forge.notYetValid(idp, key, { sub: 'u-jwt' })],
    ['from an untrusted issuer', () => forge.wrongIssuer(idp, key, { sub: 'u-jwt' })],
    ['for another audience', () => forge.wrongAudience(idp, key, { sub: 'u-jwt' })],
    ['alg none without a signature', () => forge.algNone(good(), key.kid)],
    ['alg none with a junk signature', () => forge.algNone(good(), key.kid, 'c2lnbmF0dXJl')],
    ['HS256 signed with the public key', () => forge.hs256WithPublicKey(key, good())],
    ['truncated', () => forge.truncated(signJwt(key, good()), 3)],
    ['re-signed with another RS256 key under the genuine kid', () => forge.resigned(signJwt(key, good()), generateSigningKey('RS256'))],
    [
      're-signed with another ES256 key under the genuine kid',
      () => forge.resigned(signJwt(idp.keys.ES256, good()), generateSigningKey('ES256')),
    ],
    [
      're-signed with another Ed25519 key under the genuine kid',
      () => forge.resigned(signJwt(idp.keys.EdDSA, good()), generateSigningKey('EdDSA')),
    ],
    ['with its payload changed to the admin scope', () => forge.tampered(signJwt(key, good()), { scope: 'litellm_proxy_admin' })],
    ['without a kid', () => forge.withoutKid(key, good())],
    ['naming a kid the JWKS does not have', () => forge.unknownKid(key, good())],
    ['signed ES256 under the RS256 key’s kid', () => signJwt(idp.keys.ES256, good(), { kid: key.kid })],
  ];
  it.each(cases)('%s', async (_, make) => {
    expect(await authorize(chat(make()))).toMatchObject({ effect: 'unauthorized', status: 401 });
  });
});

describe('budgets named by JWT claims', () => {
  it('end user from the end_user_id claim: its own budget', async () => {
    await seedEndUser({ user_id: 'cust-broke', max_budget: 1, spend: 1 });
    expect(await authorize(chat(token({ team_id: 't-jwt', end_user_id: 'cust-broke' })))).toMatchObject({
      effect: 'deny',
      context: { code: 'end_user_budget_exceeded', message: 'end user `cust-broke` spent 1.00 of its 1.00 budget' },
    });
  });

  it('end user pointing to a reusable budget', async () => {
    await put(encode.budget({ budget_id: 'b-small', max_budget: 2, created_at: new Date().toISOString() }));
    await seedEndUser({ user_id: 'cust-b', budget_id: 'b-small', spend: 2.5 });
    expect(await authorize(chat(token({ team_id: 't-jwt', end_user_id: 'cust-b' })))).toMatchObject({
      context: { code: 'end_user_budget_exceeded' },
    });
  });

  it('end user blocked', async () => {
    await seedEndUser({ user_id: 'cust-blocked', blocked: true });
    expect(await authorize(chat(token({ team_id: 't-jwt', end_user_id: 'cust-blocked' })))).toMatchObject({
      context: { code: 'end_user_blocked' },
    });
  });

  it('end user under budget passes and appears in the context', async () => {
    await seedEndUser({ user_id: 'cust-ok', max_budget: 5, spend: 1 });
    expect(await authorize(chat(token({ team_id: 't-jwt', end_user_id: 'cust-ok' })))).toMatchObject({
      effect: 'allow',
      context: { end_user_id: 'cust-ok' },
    });
  });

  it('organization from the org_id claim', async () => {
    await seedOrg({ organization_id: 'o-jwt-broke', max_budget: 3, spend: 3 });
    await seedTeam({ team_id: 't-in-o-jwt', organization_id: 'o-jwt-broke' });
    expect(await authorize(chat(token({ team_id: 't-in-o-jwt', org_id: 'o-jwt-broke' })))).toMatchObject({
      context: { code: 'organization_budget_exceeded' },
    });
  });

  it('team over budget', async () => {
    await seedTeam({ team_id: 't-jwt-broke', max_budget: 3, spend: 4 });
    expect(await authorize(chat(token({ team_id: 't-jwt-broke' })))).toMatchObject({ context: { code: 'team_budget_exceeded' } });
  });
});

describe('JWKS rotation: a kid missing from the cache', () => {
  it('triggers exactly one fetch; a second unknown kid right after is refused without one (penalty box)', async () => {
    const rotated = generateSigningKey('ES256');
    const fetcher = new CountingFetcher(async () => jwksOf(idp.keys.RS256, rotated));
    configure();
    installJwtAuthorizer([idp, other], fetcher);

    const fresh = signJwt(rotated, claims(idp, { sub: 'u-jwt' }));
    expect((await authorize(chat(fresh))).effect).toBe('allow');
    expect(fetcher.calls).toEqual([idp.jwksUri]);
    expect((await authorize(chat(fresh))).effect).toBe('allow');
    expect(fetcher.calls).toHaveLength(1);

    expect((await authorize(chat(forge.unknownKid(idp.keys.RS256, claims(idp, { sub: 'u-jwt' }))))).status).toBe(401);
    expect(fetcher.calls).toHaveLength(2);
    expect((await authorize(chat(forge.unknownKid(idp.keys.RS256, claims(idp, { sub: 'u-jwt' }))))).status).toBe(401);
    expect(fetcher.calls).toHaveLength(2);
  });

  it('a burst of 20 concurrent tokens with unknown kids makes one fetch', async () => {
    const fetcher = new CountingFetcher(async () => {
      await new Promise((r) => setTimeout(r, 50));
      return idp.jwks;
    });
    configure();
    installJwtAuthorizer([idp, other], fetcher);
    const outs = await Promise.all(
      Array.from({ length: 20 }, () => authorize(chat(forge.unknownKid(idp.keys.EdDSA, claims(idp, { sub: 'u-jwt' }))))),
    );
    expect(outs.every((o) => o.status === 401)).toBe(true);
    expect(fetcher.calls).toHaveLength(1);
  });
});

describe('JWKS fetch against an endpoint that never answers', () => {
  const TIMEOUT_MS = 400;
  let dir: string;
  let server: Server;
  let requests = 0;
  let hung: TestIssuer;
  let ca: Buffer;

  beforeAll(async () => {
    // A throwaway self-signed certificate for 127.0.0.1, trusted through the fetcher's `ca` option.
    dir = mkdtempSync(join(tmpdir(), 'tollgate-jwks-'));
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:P-256',
        '-nodes',
        '-keyout',
        join(dir, 'key.pem'),
        '-out',
        join(dir, 'cert.pem'),
        '-days',
        '1',
        '-subj',
        '/CN=127.0.0.1',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
      ],
      { stdio: 'ignore' },
    );
    ca = readFileSync(join(dir, 'cert.pem'));
    server = createServer({ key: readFileSync(join(dir, 'key.pem')), cert: ca }, () => {
      requests++; // and never answer
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    hung = { ...testIssuer('hung'), issuer: 'https://hung.idp.test/', jwksUri: `https://127.0.0.1:${port}/.well-known/jwks.json` };
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
    rmSync(dir, { recursive: true, force: true });
    configure();
  });

  it('gives up within TOLLGATE_JWT_JWKS_TIMEOUT_MS (the fetcher’s retry included), then refuses at once without fetching', async () => {
    reconfigure(table.config, jwtEnv([hung], { TOLLGATE_JWT_JWKS_TIMEOUT_MS: String(TIMEOUT_MS) }));
    // The production fetcher, with only the test CA added; nothing is preloaded for this issuer.
    installJwtAuthorizer([], new DeadlineFetcher(TIMEOUT_MS, { ca }));
    const t = () => token({ sub: 'u-jwt' }, hung, 'EdDSA');

    let started = performance.now();
    expect((await authorize(chat(t()))).status).toBe(401);
    const first = performance.now() - started;
    expect(requests).toBe(1);
    expect(first).toBeGreaterThanOrEqual(TIMEOUT_MS - 20);
    // SimpleFetcher alone retried after the first timeout: two requests, 2 x TIMEOUT_MS.
    expect(first).toBeLessThan(TIMEOUT_MS * 1.75);

    started = performance.now();
    expect((await authorize(chat(t()))).status).toBe(401);
    expect(performance.now() - started).toBeLessThan(TIMEOUT_MS / 2);
    expect(requests).toBe(1);
  });
});
