/**
 * Bad input, generated: malformed REST REQUEST events and headers (missing, duplicated with
 * conflicting values, huge, non-ASCII, random bytes, random `sk-` keys, forged and mangled JWTs,
 * garbage resources and methods). Property: the handler never allows, never throws anything but
 * `Unauthorized` or a TollgateError, every outcome is a 401 or a 403 at the gateway, and no
 * credential shows up in what it returns. Every credential that could reach the store is read
 * once before the run, so the run itself makes no round trip and stays fast.
 */

import type { APIGatewayRequestAuthorizerEvent } from 'aws-lambda';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { entityReader } from '../../lib/app/index.js';
import { MAX_CREDENTIAL_LENGTH } from '../../lib/auth/credentials.js';
import { generateKey, hashKey } from '../../lib/auth/keys.js';
import { routes } from '../../lib/routes.js';
import { authorize } from '../support/authorizer.js';
import { claims, forge, generateSigningKey, installJwtAuthorizer, JWT_ALGS, jwtEnv, signJwt, testIssuer } from '../support/jwt.js';
import { authorizerEvent, seedKey, seedTeam, seedUser } from '../support/seed.js';
import { useTestTable } from '../support/table.js';

const SEED = 20_261_128;
const NUM_RUNS = 10_000;
const MASTER = 'sk-master-fuzz-0123456789';
const idp = testIssuer('fuzz');

/** Credentials that are each refused, built once (signing in the loop would dominate the run). */
const pool = { jwts: [] as string[], keys: [] as string[] };

const CREDENTIAL_HEADERS = [
  'authorization',
  'Authorization',
  'AUTHORIZATION',
  'x-litellm-api-key',
  'X-LiteLLM-API-Key',
  'api-key',
  'Api-Key',
  'x-api-key',
  'X-API-KEY',
];
/** Routes as API Gateway matches them (resource, method), every group but the public one. */
const ROUTES = routes.filter((r) => r.group !== 'public').flatMap((r) => r.methods.map((method) => ({ resource: r.path, method })));

const PATHS = ROUTES.map((r) => r.resource.replace('{model}', 'gpt-4o').replace('{proxy+}', 'f-1'));

function buildJwtPool(): void {
  let n = 0;
  // A fresh jti per token: no genuine signature is ever in the pool beside the payload it signs,
  // so splicing segments of pool tokens cannot assemble a valid token.
  const payload = (extra: Record<string, unknown> = {}) => claims(idp, { sub: 'u-fuzz', team_id: 't-fuzz', jti: `j-${n++}`, ...extra });
  for (const alg of JWT_ALGS) {
    const key = idp.keys[alg];
    const stranger = generateSigningKey(alg);
    for (let i = 0; i < 4; i++) {
      pool.jwts.push(
        forge.algNone(payload(), key.kid),
        forge.algNone(payload({ scope: 'litellm_proxy_admin' }), key.kid, 'AAAA'),
        forge.hs256WithPublicKey(key, payload()),
        forge.truncated(signJwt(key, payload()), 1 + i),
        forge.resigned(signJwt(key, payload()), stranger),
        forge.tampered(signJwt(key, payload()), { scope: 'litellm_proxy_admin' }),
        forge.withoutKid(key, payload()),
        forge.unknownKid(key, payload()),
        signJwt(key, payload({ iss: 'https://evil.idp.test/' })),
        signJwt(key, payload({ aud: 'someone-else' })),
        signJwt(key, payload(), { kid: idp.keys[alg === 'RS256' ? 'ES256' : 'RS256'].kid }),
        forge.expired(idp, key, { team_id: 't-fuzz', jti: `j-${n++}` }),
        forge.notYetValid(idp, key, { team_id: 't-fuzz', jti: `j-${n++}` }),
        // Genuine signatures whose claims must still be refused.
        signJwt(key, payload({ sub: `u-nobody-${i}`, team_id: undefined })),
        signJwt(key, payload({ sub: undefined, team_id: `t-missing-${i}` })),
        signJwt(key, payload({ sub: undefined, team_id: 't-fuzz-blocked' })),
      );
    }
  }
}

async function buildKeyPool(): Promise<void> {
  // Known keys that every route refuses: blocked, expired, retired, of a blocked or missing team.
  await seedTeam({ team_id: 't-fuzz-blocked', blocked: true });
  const known = await Promise.all([
    seedKey({ blocked: true }),
    seedKey({ expires: new Date(Date.now() - 1000).toISOString() }),
    seedKey({ replaced_by: 'f'.repeat(64), grace_until: new Date(Date.now() - 1000).toISOString() }),
    seedKey({ team_id: 't-fuzz-blocked' }),
    seedKey({ team_id: 't-fuzz-gone' }),
  ]);
  pool.keys.push(...known.map((k) => k.key));
  // Unknown keys of every shape the charset allows.
  const unknown = fc.sample(
    fc.string({
      unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.~!$'),
      minLength: 1,
      maxLength: 80,
    }),
    { seed: SEED, numRuns: 60 },
  );
  pool.keys.push(...unknown.map((s) => `sk-${s}`), generateKey(), 'sk-1234');
  // Near misses of the master key are unknown keys too.
  pool.keys.push(MASTER.slice(0, -1), `${MASTER}0`, `${MASTER}x`);
}

/** Splits a token into its three segments (padded with empty ones). */
const segments = (t: string): [string, string, string] => {
  const [a = '', b = '', c = ''] = t.split('.');
  return [a, b, c];
};

/** The generators; built once the pools exist. */
function arbitraries() {
  const jwt = fc.constantFrom(...pool.jwts);
  const mangledJwt = fc.oneof(
    jwt,
    fc.tuple(jwt, fc.nat()).map(([t, cut]) => t.slice(0, cut % (t.length + 1))),
    fc.tuple(jwt, fc.nat(), fc.constantFrom(...'AZaz09-_.=+/ ')).map(([t, at, ch]) => {
      // One character of the header or payload changed (not the signature: base64url's unused
      // trailing bits would let some signature edits decode to the same bytes).
      const i = at % Math.max(1, t.lastIndexOf('.'));
      return t.slice(0, i) + ch + t.slice(i + 1);
    }),
    fc.tuple(jwt, jwt, jwt).map(([a, b, c]) => `${segments(a)[0]}.${segments(b)[1]}.${segments(c)[2]}`),
    fc.tuple(jwt, fc.string({ unit: 'binary-ascii', maxLength: 40 })).map(([t, junk]) => `${t}${junk}`),
    fc.tuple(fc.base64String(), fc.base64String(), fc.base64String()).map(([a, b, c]) => `${a}.${b}.${c}`),
  );

  /** Values for a credential header: each must be refused. */
  const credential = fc.oneof(
    { weight: 5, arbitrary: mangledJwt },
    { weight: 4, arbitrary: fc.constantFrom(...pool.keys) },
    {
      weight: 1,
      arbitrary: fc
        .tuple(fc.constantFrom(...pool.keys), fc.string({ unit: 'grapheme', minLength: 1, maxLength: 4 }))
        .map(([k, u]) => `${k}${u}é`),
    },
    { weight: 1, arbitrary: fc.nat({ max: 3 }).map((k) => `sk-${'a'.repeat(MAX_CREDENTIAL_LENGTH + 1 + k)}`) },
    { weight: 1, arbitrary: fc.string({ unit: 'grapheme', maxLength: 64 }) },
    { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 64 }) },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b).toString('latin1')) },
    { weight: 1, arbitrary: fc.constantFrom('', ' ', '\t', 'null', '.', '..', 'a.b.c', 'Bearer', hashKey(MASTER), MASTER.toUpperCase()) },
  );

  return fc
    .record({
      // Mostly real routes, so that credentials get looked at; some garbage resources and methods.
      route: fc.oneof(
        { weight: 8, arbitrary: fc.constantFrom(...ROUTES) },
        {
          weight: 1,
          arbitrary: fc.record({
            resource: fc.constantFrom(...ROUTES.map((r) => r.resource)),
            method: fc.constantFrom('GET', 'POST', 'DELETE', 'PATCH', 'PUT', 'post', 'HEAD', ''),
          }),
        },
        { weight: 1, arbitrary: fc.record({ resource: fc.string({ maxLength: 40 }), method: fc.string({ maxLength: 10 }) }) },
      ),
      path: fc.oneof(
        { weight: 3, arbitrary: fc.constantFrom(...PATHS) },
        { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 60 }) },
      ),
      credentials: fc.array(
        fc.record({
          name: fc.oneof(
            { weight: 6, arbitrary: fc.constantFrom(...CREDENTIAL_HEADERS) },
            { weight: 1, arbitrary: fc.string({ unit: 'binary-ascii', maxLength: 20 }) },
          ),
          value: credential,
          scheme: fc.constantFrom('Bearer ', 'bearer ', 'BEARER  ', 'Bearer\t', 'Basic ', '', 'Token '),
        }),
        { maxLength: 4 },
      ),
      // How API Gateway's two header views may disagree.
      multi: fc.constantFrom('absent', 'same', 'conflict', 'only-multi', 'null-headers'),
      conflicting: credential,
      noise: fc.dictionary(
        fc.string({ unit: 'binary-ascii', minLength: 1, maxLength: 12 }),
        fc.oneof(
          { weight: 9, arbitrary: fc.string({ unit: 'binary', maxLength: 30 }) },
          { weight: 1, arbitrary: fc.constant('x'.repeat(65_536)) },
        ),
        { maxKeys: 3 },
      ),
      model: fc.option(fc.oneof(fc.constantFrom('gpt-4o', 'gpt-4o-mini'), fc.string({ maxLength: 30 })), { nil: undefined }),
      methodArn: fc.option(fc.string({ maxLength: 60 }), { nil: undefined, freq: 5 }),
    })
    .map((g) => {
      const headers: Record<string, string> = { ...g.noise };
      for (const c of g.credentials) headers[c.name] = `${c.scheme}${c.value}`;
      const event: APIGatewayRequestAuthorizerEvent = authorizerEvent({
        method: g.route.method,
        resource: g.route.resource,
        path: g.path,
        headers,
      });
      if (g.methodArn !== undefined) event.methodArn = g.methodArn;
      event.pathParameters = g.model === undefined ? null : { model: g.model };
      const multi = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, [v]]));
      if (g.multi === 'absent') event.multiValueHeaders = {};
      if (g.multi === 'conflict') for (const values of Object.values(multi)) values.push(g.conflicting);
      if (g.multi !== 'absent') event.multiValueHeaders = multi;
      if (g.multi === 'only-multi') event.headers = {};
      if (g.multi === 'null-headers') event.headers = null;
      const secrets = [...g.credentials.map((c) => c.value), g.conflicting].map((v) => v.trim()).filter((v) => v.length >= 12);
      return { event, secrets };
    });
}

describe('generated malformed events', () => {
  beforeAll(async () => {
    await useTestTable({ ...jwtEnv([idp]), TOLLGATE_MASTER_KEY: MASTER, TOLLGATE_CACHE_TTL_SECONDS: '600' });
    installJwtAuthorizer([idp]);
    await seedUser({ user_id: 'u-fuzz' });
    await seedTeam({ team_id: 't-fuzz' });
    buildJwtPool();
    await buildKeyPool();
    // Read every pooled credential once (the unknown ones are then cached as absent).
    for (const value of [...pool.keys, ...pool.jwts]) await authorize(authorizerEvent({ headers: { authorization: `Bearer ${value}` } }));
  });

  it(`never allow, never throw untyped, always 401 or 403 (${NUM_RUNS} runs, seed ${SEED})`, async () => {
    const seen = { 401: 0, 403: 0 };
    const before = entityReader().loader.stats.batches;
    await fc.assert(
      fc.asyncProperty(arbitraries(), async ({ event, secrets }) => {
        const out = await authorize(event); // rethrows anything that is neither Unauthorized nor a TollgateError
        expect(out.effect).not.toBe('allow');
        expect([401, 403]).toContain(out.status);
        seen[out.status as 401 | 403]++;
        if (out.effect === 'deny') {
          const shown = JSON.stringify(out.result) + out.body;
          for (const s of secrets) expect(shown).not.toContain(s.trim());
        }
      }),
      { seed: SEED, numRuns: NUM_RUNS },
    );
    expect(seen[401] + seen[403]).toBe(NUM_RUNS);
    // Both kinds of refusal were exercised, not one path over and over.
    expect(seen[401]).toBeGreaterThan(NUM_RUNS / 10);
    expect(seen[403]).toBeGreaterThan(NUM_RUNS / 20);
    expect(entityReader().loader.stats.batches - before).toBe(0);
  });
});
