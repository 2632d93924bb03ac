/**
 * The sample events in functions/authorizer/events/ do what their README says, with the items
 * it lists, and the README's key hashes are the hashes of the placeholder keys.
 */
import { readFileSync } from 'node:fs';
import type { APIGatewayRequestAuthorizerEvent } from 'aws-lambda';
import { beforeAll, describe, expect, it } from 'vitest';
import { hashKey, keyName } from '../../lib/auth/keys.js';
import { encode } from '../../lib/store/codec.js';
import { authorize } from '../support/authorizer.js';
import { claims, installJwtAuthorizer, jwtEnv, signJwt, testIssuer } from '../support/jwt.js';
import { put, seedTeam } from '../support/seed.js';
import { useTestTable } from '../support/table.js';

const dir = new URL('../../functions/authorizer/events/', import.meta.url);
const load = (file: string) => JSON.parse(readFileSync(new URL(file, dir), 'utf8')) as APIGatewayRequestAuthorizerEvent;
const readme = readFileSync(new URL('README.md', dir), 'utf8');
const idp = testIssuer('console');

const PLACEHOLDERS = {
  allowed: 'sk-EXAMPLE-allowed-key-not-a-real-key',
  overBudget: 'sk-EXAMPLE-over-budget-key-not-a-real-key',
  blockedTeam: 'sk-EXAMPLE-blocked-team-key-not-a-real-key',
};

const seedPlaceholderKey = (key: string, teamId: string) =>
  put(encode.key({ token: hashKey(key), key_name: keyName(key), team_id: teamId, created_at: new Date().toISOString() }));

beforeAll(async () => {
  await useTestTable(jwtEnv([idp]));
  installJwtAuthorizer([idp]);
  // The items the README lists.
  await seedTeam({ team_id: 'team-example' });
  await seedTeam({ team_id: 'team-example-over-budget', max_budget: 10, spend: 10 });
  await seedTeam({ team_id: 'team-example-blocked', blocked: true });
  await seedPlaceholderKey(PLACEHOLDERS.allowed, 'team-example');
  await seedPlaceholderKey(PLACEHOLDERS.overBudget, 'team-example-over-budget');
  await seedPlaceholderKey(PLACEHOLDERS.blockedTeam, 'team-example-blocked');
});

describe('sample events', () => {
  it('allowed-key.json is allowed', async () => {
    expect(await authorize(load('allowed-key.json'))).toMatchObject({
      effect: 'allow',
      context: { principal: 'virtual_key', team_id: 'team-example' },
    });
  });

  it('unknown-key.json is 401', async () => {
    expect(await authorize(load('unknown-key.json'))).toMatchObject({ effect: 'unauthorized', status: 401 });
  });

  it('over-budget.json is denied team_budget_exceeded', async () => {
    expect(await authorize(load('over-budget.json'))).toMatchObject({
      effect: 'deny',
      status: 403,
      context: { code: 'team_budget_exceeded' },
    });
  });

  it('blocked-team.json is denied team_blocked', async () => {
    expect(await authorize(load('blocked-team.json'))).toMatchObject({ effect: 'deny', status: 403, context: { code: 'team_blocked' } });
  });

  it('jwt.json is 401 as shipped, and allowed as role team once its token is a real one', async () => {
    const event = load('jwt.json');
    expect((await authorize(event)).status).toBe(401);
    const real = `Bearer ${signJwt(idp.keys.RS256, claims(idp, { team_id: 'team-example' }))}`;
    event.headers = { ...event.headers, Authorization: real };
    event.multiValueHeaders = { ...event.multiValueHeaders, Authorization: [real] };
    expect(await authorize(event)).toMatchObject({ effect: 'allow', context: { principal: 'jwt', role: 'team', team_id: 'team-example' } });
  });

  it('the README gives the right item key for each placeholder, and every placeholder is marked as fake', () => {
    for (const key of Object.values(PLACEHOLDERS)) expect(readme).toContain(`KEY#${hashKey(key)}`);
    for (const file of ['allowed-key.json', 'unknown-key.json', 'over-budget.json', 'blocked-team.json', 'jwt.json']) {
      expect(readme).toContain(file);
      const event = load(file);
      const credential = Object.entries(event.headers ?? {}).find(([name]) =>
        /^(authorization|x-litellm-api-key|api-key|x-api-key)$/i.test(name),
      );
      expect(credential?.[1]).toMatch(/EXAMPLE/);
      // Both header views agree, as API Gateway sends them.
      expect(event.multiValueHeaders?.[credential?.[0] as string]).toEqual([credential?.[1]]);
    }
  });
});
