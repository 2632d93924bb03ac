/**
 * What the authorizer costs the store, counted in round trips (CachedLoader batches): cold
 * virtual key at most 2, cold JWT at most 1, warm none; a burst of one unknown key one read; and
 * a store that cannot be reached denies (AUTHORIZER_FAILURE), never allows.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../infra/local/dynamodb.js';
import { configureApp, entityReader } from '../../lib/app/index.js';
import { StoreUnavailableError } from '../../lib/errors.js';
import { createDocumentClient } from '../../lib/store/client.js';
import { authorize, bearer } from '../support/authorizer.js';
import { claims, installJwtAuthorizer, jwtEnv, signJwt, testIssuer } from '../support/jwt.js';
import { authorizerEvent, seedEndUser, seedGlobal, seedKey, seedMember, seedOrg, seedTeam, seedUser } from '../support/seed.js';
import { type TestTable, useTestTable } from '../support/table.js';

const idp = testIssuer();
let table: TestTable;
let key: string;
let jwt: string;

const chat = (token: string) => authorizerEvent({ headers: bearer(token) });
const batches = () => entityReader().loader.stats.batches;

/** A fresh Lambda instance: empty cache, deps rebuilt on it. */
function coldStart(): void {
  configureApp({ entityReader: undefined });
  installJwtAuthorizer([idp]);
}

/** Round trips made by one authorization, and its outcome. */
async function roundTrips(token: string) {
  const before = batches();
  const out = await authorize(chat(token));
  return { out, trips: batches() - before };
}

beforeAll(async () => {
  // A proxy budget makes the global spend item part of every LLM authorization.
  table = await useTestTable({ ...jwtEnv([idp]), TOLLGATE_MAX_BUDGET: '1000' });
  await seedOrg({ organization_id: 'o-rt', max_budget: 100 });
  await seedTeam({ team_id: 't-rt', organization_id: 'o-rt', max_budget: 50 });
  await seedUser({ user_id: 'u-rt' });
  await seedMember({ team_id: 't-rt', user_id: 'u-rt', max_budget: 5 });
  await seedEndUser({ user_id: 'cust-rt', max_budget: 5 });
  await seedGlobal({ spend: 1 });
  ({ key } = await seedKey({ team_id: 't-rt', user_id: 'u-rt', organization_id: 'o-rt', max_budget: 10 }));
  jwt = signJwt(idp.keys.ES256, claims(idp, { sub: 'u-rt', team_id: 't-rt', org_id: 'o-rt', end_user_id: 'cust-rt' }));
});

describe('round trips per authorization', () => {
  it('cold virtual key (key; then user, team, member, org, global in one batch): 2, warm: 0', async () => {
    coldStart();
    const cold = await roundTrips(key);
    expect(cold.out.effect).toBe('allow');
    expect(cold.trips).toBe(2);
    const warm = await roundTrips(key);
    expect(warm.out.effect).toBe('allow');
    expect(warm.trips).toBe(0);
  });

  it('cold JWT (user, team, member, org from the claim, end user, global in one batch): 1, warm: 0', async () => {
    coldStart();
    const cold = await roundTrips(jwt);
    expect(cold.out).toMatchObject({
      effect: 'allow',
      context: { user_id: 'u-rt', team_id: 't-rt', org_id: 'o-rt', end_user_id: 'cust-rt' },
    });
    expect(cold.trips).toBe(1);
    expect((await roundTrips(jwt)).trips).toBe(0);
  });

  it('a burst of 50 concurrent requests with one unknown key makes exactly one read, and later ones none', async () => {
    coldStart();
    const unknown = 'sk-unknown-burst-0123456789';
    const before = batches();
    const outs = await Promise.all(Array.from({ length: 50 }, () => authorize(chat(unknown))));
    expect(outs.every((o) => o.status === 401)).toBe(true);
    expect(batches() - before).toBe(1);
    for (let i = 0; i < 10; i++) await authorize(chat(unknown));
    expect(batches() - before).toBe(1);
  });

  it('forged JWTs never reach the store', async () => {
    coldStart();
    const before = batches();
    const forged = signJwt(testIssuer('impostor').keys.ES256, claims(idp, { sub: 'u-rt' }), { kid: idp.keys.ES256.kid });
    expect((await authorize(chat(forged))).status).toBe(401);
    expect(batches()).toBe(before);
  });
});

describe('a store that cannot be reached', () => {
  it('makes the handler throw StoreUnavailableError (AUTHORIZER_FAILURE, 503) for keys and JWTs, never Allow', async () => {
    const closed = await freePort();
    configureApp({ documentClient: createDocumentClient({ endpoint: `http://127.0.0.1:${closed}`, region: 'us-east-1' }) });
    coldStart();
    for (const token of [key, jwt]) {
      const out = await authorize(chat(token));
      expect(out).toMatchObject({ effect: 'failure', status: 503 });
      if (out.effect === 'failure') expect(out.error).toBeInstanceOf(StoreUnavailableError);
    }
  });

  it('with the store back, a fresh instance allows again', async () => {
    configureApp({ documentClient: createDocumentClient({ endpoint: table.endpoint, region: 'us-east-1' }) });
    coldStart();
    expect((await authorize(chat(key))).effect).toBe('allow');
  });
});
