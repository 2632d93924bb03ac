/**
 * The authorizer end to end with virtual keys and the master key, against DynamoDB Local:
 * identity, context, expiry, blocks, every budget in the chain, regenerated keys, logs.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { hashKey } from '../../lib/auth/keys.js';
import { windowOf } from '../../lib/domain/periods.js';
import { encode } from '../../lib/store/codec.js';
import { logger } from '../../lib/telemetry.js';
import { authorize, bearer } from '../support/authorizer.js';
import { authorizerEvent, put, seedGlobal, seedKey, seedMember, seedOrg, seedTeam, seedUser } from '../support/seed.js';
import { reconfigure, type TestTable, useTestTable } from '../support/table.js';

const MASTER = 'sk-master-0123456789abcdef';
const STAGE = 'arn:aws:execute-api:us-east-1:123456789012:abc123/prod/*';
let table: TestTable;

const chat = (headers: Record<string, string>) => authorizerEvent({ headers });
const at = (resource: string, headers: Record<string, string>, method = 'POST') => authorizerEvent({ resource, method, headers });
const iso = (ms: number) => new Date(ms).toISOString();

beforeAll(async () => {
  table = await useTestTable({ TOLLGATE_MASTER_KEY: MASTER });
});

describe('a virtual key', () => {
  it('is allowed on the whole stage with a context naming who calls and what is left', async () => {
    await seedOrg({ organization_id: 'o-ctx', max_budget: 100, spend: 40, models: ['gpt-4o*'] });
    await seedTeam({ team_id: 't-ctx', organization_id: 'o-ctx', max_budget: 10, spend: 2.5, models: ['gpt-4o', 'gpt-4o-mini'] });
    await seedUser({ user_id: 'u-ctx' });
    await seedMember({ team_id: 't-ctx', user_id: 'u-ctx', max_budget: 3, spend: 1 });
    const { key, record } = await seedKey({
      team_id: 't-ctx',
      user_id: 'u-ctx',
      organization_id: 'o-ctx',
      max_budget: 5,
      spend: 0.5,
      models: ['gpt-4o'],
    });

    const out = await authorize(chat(bearer(key)));

    expect(out.effect).toBe('allow');
    if (out.effect !== 'allow') return;
    expect(out.result.policyDocument.Statement).toEqual([{ Action: 'execute-api:Invoke', Effect: 'Allow', Resource: STAGE }]);
    expect(out.result.principalId).toBe(record.token);
    expect(out.context).toMatchObject({
      principal: 'virtual_key',
      role: 'internal_user',
      user_id: 'u-ctx',
      team_id: 't-ctx',
      org_id: 'o-ctx',
      key_hash: record.token,
      key_name: record.key_name,
    });
    expect(JSON.parse(out.context.budgets as string)).toEqual({ key: 4.5, team: 7.5, team_member: 2, organization: 60 });
    expect(JSON.parse(out.context.models as string)).toEqual([
      { entity: `key \`${record.key_name}\``, models: ['gpt-4o'] },
      { entity: 'team `t-ctx`', models: ['gpt-4o', 'gpt-4o-mini'] },
      { entity: 'organization `o-ctx`', models: ['gpt-4o*'] },
    ]);
    expect(JSON.stringify(out.result)).not.toContain(key);
  });

  it.each([
    ['Authorization', (k: string) => `Bearer ${k}`],
    ['authorization', (k: string) => `bearer ${k}`],
    ['x-litellm-api-key', (k: string) => k],
    ['api-key', (k: string) => k],
    ['x-api-key', (k: string) => k],
  ])('is read from the %s header', async (header, value) => {
    const { key } = await seedKey({});
    expect((await authorize(chat({ [header]: value(key) }))).effect).toBe('allow');
  });

  it('takes its role from its stored user: a proxy_admin user reaches management routes', async () => {
    await seedUser({ user_id: 'u-admin', user_role: 'proxy_admin' });
    const { key } = await seedKey({ user_id: 'u-admin' });
    const out = await authorize(at('/team/new', bearer(key)));
    expect(out).toMatchObject({ effect: 'allow', context: { role: 'proxy_admin' } });
  });

  it('of an internal user is refused a management route with 403 route_not_allowed', async () => {
    await seedUser({ user_id: 'u-plain' });
    const { key } = await seedKey({ user_id: 'u-plain' });
    const out = await authorize(at('/team/new', bearer(key)));
    expect(out).toMatchObject({ effect: 'deny', status: 403, context: { code: 'route_not_allowed', type: 'permission_error' } });
  });

  it('leaves a model named in an Azure deployment path to the llm function, which has the registry (issue 10, item 11)', async () => {
    const { key } = await seedKey({ models: ['gpt-4o-mini'] });
    const out = await authorize(
      authorizerEvent({
        resource: '/openai/deployments/{model}/chat/completions',
        path: '/openai/deployments/gpt-4o/chat/completions',
        headers: { 'api-key': key },
        pathParameters: { model: 'gpt-4o' },
      }),
    );
    expect(out.effect).toBe('allow');
  });

  it('that nobody issued is 401, and so is a request without credentials', async () => {
    expect((await authorize(chat(bearer('sk-never-issued-0000')))).status).toBe(401);
    expect((await authorize(chat({}))).status).toBe(401);
  });

  it('whose team no longer exists is 403 team_not_found', async () => {
    const { key } = await seedKey({ team_id: 't-gone' });
    expect(await authorize(chat(bearer(key)))).toMatchObject({ effect: 'deny', context: { code: 'team_not_found' } });
  });
});

describe('the master key', () => {
  it.each(['Authorization', 'x-litellm-api-key', 'api-key', 'x-api-key'])('is accepted from %s on every route group', async (header) => {
    const value = header === 'Authorization' ? `Bearer ${MASTER}` : MASTER;
    for (const [resource, method] of [
      ['/team/new', 'POST'],
      ['/chat/completions', 'POST'],
      ['/key/info', 'GET'],
    ] as const) {
      const out = await authorize(at(resource, { [header]: value }, method));
      expect(out).toMatchObject({ effect: 'allow', context: { principal: 'master_key', role: 'proxy_admin' } });
    }
  });

  it.each([
    ['a prefix of it', MASTER.slice(0, -1)],
    ['it with a character more', `${MASTER}0`],
    ['it in upper case', MASTER.toUpperCase()],
    ['its hash', hashKey(MASTER)],
  ])('is not matched by %s', async (_, value) => {
    expect((await authorize(at('/team/new', bearer(value)))).status).toBe(401);
  });
});

describe('key expiry', () => {
  it('expired a second ago denies with 403 key_expired', async () => {
    const expires = iso(Date.now() - 1000);
    const { key, record } = await seedKey({ expires });
    expect(await authorize(chat(bearer(key)))).toMatchObject({
      effect: 'deny',
      status: 403,
      context: { code: 'key_expired', type: 'permission_error', message: `key \`${record.key_name}\` expired at ${expires}` },
    });
  });

  it('expiring in a minute passes', async () => {
    const { key } = await seedKey({ expires: iso(Date.now() + 60_000) });
    expect((await authorize(chat(bearer(key)))).effect).toBe('allow');
  });
});

describe('blocks', () => {
  it('a blocked key denies with 403 key_blocked', async () => {
    const { key } = await seedKey({ blocked: true });
    expect(await authorize(chat(bearer(key)))).toMatchObject({ effect: 'deny', status: 403, context: { code: 'key_blocked' } });
  });

  it('a blocked team denies its keys with 403 team_blocked, on info routes too', async () => {
    await seedTeam({ team_id: 't-blocked', blocked: true });
    const { key } = await seedKey({ team_id: 't-blocked' });
    expect(await authorize(chat(bearer(key)))).toMatchObject({
      effect: 'deny',
      context: { code: 'team_blocked', message: 'team `t-blocked` is blocked' },
    });
    expect(await authorize(at('/models', bearer(key), 'GET'))).toMatchObject({ effect: 'deny', context: { code: 'team_blocked' } });
  });
});

describe('budgets: spend equal to the budget denies, every entity in the chain', () => {
  const denied = async (key: string, code: string, message: string) => {
    const out = await authorize(chat(bearer(key)));
    expect(out).toMatchObject({ effect: 'deny', status: 403, context: { type: 'budget_exceeded', code, message } });
    if (out.effect === 'deny') expect(JSON.parse(out.body)).toEqual({ error: { message, type: 'budget_exceeded', param: null, code } });
  };

  it('key', async () => {
    const { key, record } = await seedKey({ max_budget: 5, spend: 5 });
    await denied(key, 'key_budget_exceeded', `key \`${record.key_name}\` spent 5.00 of its 5.00 budget`);
  });

  it('key just under its budget passes', async () => {
    const { key } = await seedKey({ max_budget: 5, spend: 4.99 });
    expect((await authorize(chat(bearer(key)))).effect).toBe('allow');
  });

  it('key with max_budget 0 may spend nothing', async () => {
    const { key } = await seedKey({ max_budget: 0, spend: 0 });
    expect(await authorize(chat(bearer(key)))).toMatchObject({ context: { code: 'key_budget_exceeded' } });
  });

  it('personal user (a key without a team)', async () => {
    await seedUser({ user_id: 'u-broke', max_budget: 10, spend: 10 });
    const { key } = await seedKey({ user_id: 'u-broke' });
    await denied(key, 'user_budget_exceeded', 'user `u-broke` spent 10.00 of its 10.00 budget');
  });

  it("the user's personal budget does not gate the user's team keys", async () => {
    await seedUser({ user_id: 'u-broke-2', max_budget: 10, spend: 10 });
    await seedTeam({ team_id: 't-rich' });
    const { key } = await seedKey({ user_id: 'u-broke-2', team_id: 't-rich' });
    expect((await authorize(chat(bearer(key)))).effect).toBe('allow');
  });

  it('team', async () => {
    await seedTeam({ team_id: 't-broke', max_budget: 10, spend: 10.02 });
    const { key } = await seedKey({ team_id: 't-broke' });
    await denied(key, 'team_budget_exceeded', 'team `t-broke` spent 10.02 of its 10.00 budget');
  });

  it('team member', async () => {
    await seedTeam({ team_id: 't-m' });
    await seedUser({ user_id: 'u-m' });
    await seedMember({ team_id: 't-m', user_id: 'u-m', max_budget: 2, spend: 2 });
    const { key } = await seedKey({ team_id: 't-m', user_id: 'u-m' });
    await denied(key, 'team_member_budget_exceeded', 'team member `u-m@t-m` spent 2.00 of its 2.00 budget');
  });

  it('organization named by the key', async () => {
    await seedOrg({ organization_id: 'o-broke', max_budget: 50, spend: 50 });
    const { key } = await seedKey({ organization_id: 'o-broke' });
    await denied(key, 'organization_budget_exceeded', 'organization `o-broke` spent 50.00 of its 50.00 budget');
  });

  it('organization reached through the key’s team', async () => {
    await seedOrg({ organization_id: 'o-broke-2', max_budget: 50, spend: 70 });
    await seedTeam({ team_id: 't-in-o', organization_id: 'o-broke-2' });
    const { key } = await seedKey({ team_id: 't-in-o' });
    await denied(key, 'organization_budget_exceeded', 'organization `o-broke-2` spent 70.00 of its 50.00 budget');
  });

  // Counters for the window now and the one a few seconds on: a window boundary during the test changes nothing.
  // The teams' 30d windows count from when their budget was set (lib/domain/periods).
  const setAt = iso(Date.now() - 45 * 86_400_000);
  const windows = (spend: number) => {
    const now = Date.now();
    const anchor = Math.floor(Date.parse(setAt) / 1000) * 1000;
    return { [windowOf('30d', now, anchor).id]: spend, [windowOf('30d', now + 10_000, anchor).id]: spend };
  };

  it('with a budget window, lifetime spend over the budget passes while the window is under it', async () => {
    // Written through the codec, as spend settlement writes it (`ws#<window>` counters).
    await put(
      encode.team({
        team_id: 't-window',
        created_at: iso(Date.now()),
        budget_set_at: setAt,
        max_budget: 10,
        budget_duration: '30d',
        spend: 500,
        window_spend: windows(3),
      }),
    );
    const { key } = await seedKey({ team_id: 't-window' });
    expect((await authorize(chat(bearer(key)))).effect).toBe('allow');
  });

  it('with a budget window, the window at its budget denies', async () => {
    await put(
      encode.team({
        team_id: 't-window-2',
        created_at: iso(Date.now()),
        budget_set_at: setAt,
        max_budget: 10,
        budget_duration: '30d',
        spend: 10,
        window_spend: windows(10),
      }),
    );
    const { key } = await seedKey({ team_id: 't-window-2' });
    expect(await authorize(chat(bearer(key)))).toMatchObject({ context: { code: 'team_budget_exceeded' } });
  });

  it('an over-budget key still reads its own info routes (GET /models, /key/info)', async () => {
    const { key } = await seedKey({ max_budget: 1, spend: 3 });
    expect((await authorize(at('/models', bearer(key), 'GET'))).effect).toBe('allow');
    expect((await authorize(at('/key/info', bearer(key), 'GET'))).effect).toBe('allow');
  });
});

describe('the proxy-wide budget (TOLLGATE_MAX_BUDGET)', () => {
  beforeAll(async () => {
    reconfigure(table.config, { TOLLGATE_MASTER_KEY: MASTER, TOLLGATE_MAX_BUDGET: '100' });
    await seedGlobal({ spend: 100 });
  });

  it('denies LLM routes that spend once the proxy spent its budget', async () => {
    const { key } = await seedKey({});
    const out = await authorize(chat(bearer(key)));
    expect(out).toMatchObject({
      effect: 'deny',
      context: { code: 'global_budget_exceeded', message: 'the proxy spent 100.00 of its 100.00 budget' },
    });
    expect((await authorize(at('/v1/embeddings', bearer(key)))).effect).toBe('deny');
  });

  it('never blocks /models or /v1/models', async () => {
    const { key } = await seedKey({});
    expect((await authorize(at('/models', bearer(key), 'GET'))).effect).toBe('allow');
    expect((await authorize(at('/v1/models', bearer(key), 'GET'))).effect).toBe('allow');
  });
});

describe('with the authorizer cache on (TOLLGATE_AUTHORIZER_CREDENTIAL_HEADER, set by the stack)', () => {
  beforeAll(() => {
    reconfigure(table.config, { TOLLGATE_MASTER_KEY: MASTER, TOLLGATE_AUTHORIZER_CREDENTIAL_HEADER: 'x-litellm-api-key' });
  });
  afterAll(() => {
    reconfigure(table.config, { TOLLGATE_MASTER_KEY: MASTER });
  });

  it('a credential is taken from the header the cache is keyed by, and from no other (found by review: cached under `Bearer`, anyone could send it)', async () => {
    const { key } = await seedKey({});
    expect((await authorize(chat({ 'x-litellm-api-key': key }))).effect).toBe('allow');
    // The review's request: an empty x-litellm-api-key and the key in Authorization was decided for the key.
    for (const headers of [
      { 'x-litellm-api-key': 'Bearer', Authorization: `Bearer ${key}` },
      bearer(key),
      { 'api-key': key },
      { 'x-api-key': MASTER },
    ]) {
      const out = await authorize(chat(headers));
      expect(out, JSON.stringify(Object.keys(headers))).toMatchObject({ effect: 'unauthorized', status: 401 });
    }
  });
});

describe('a regenerated key (replaced_by + grace_until)', () => {
  beforeAll(() => {
    reconfigure(table.config, { TOLLGATE_MASTER_KEY: MASTER });
  });

  it('still works within its grace period, as the key that replaced it', async () => {
    const { record: newest } = await seedKey({});
    const { key } = await seedKey({ replaced_by: newest.token, grace_until: iso(Date.now() + 60_000) });
    // Its budget, counters and limits are the newest key's: the copies never multiply a budget.
    expect(await authorize(chat(bearer(key)))).toMatchObject({ effect: 'allow', context: { key_hash: newest.token } });
  });

  it('follows older copies to the newest key', async () => {
    const { record: newest } = await seedKey({});
    const { record: middle } = await seedKey({ replaced_by: newest.token, grace_until: iso(Date.now() - 1) });
    const { key } = await seedKey({ replaced_by: middle.token, grace_until: iso(Date.now() + 60_000) });
    expect(await authorize(chat(bearer(key)))).toMatchObject({ effect: 'allow', context: { key_hash: newest.token } });
  });

  it('is unknown (401) when the key that replaced it is gone (deleting a key ends its copies)', async () => {
    const { key } = await seedKey({ replaced_by: 'f'.repeat(64), grace_until: iso(Date.now() + 60_000) });
    expect((await authorize(chat(bearer(key)))).status).toBe(401);
  });

  it('is denied when the key that replaced it is blocked', async () => {
    const { record: newest } = await seedKey({ blocked: true });
    const { key } = await seedKey({ replaced_by: newest.token, grace_until: iso(Date.now() + 60_000) });
    expect((await authorize(chat(bearer(key)))).effect).not.toBe('allow');
  });

  it('is unknown (401) once the grace period is over', async () => {
    const { key } = await seedKey({ replaced_by: 'f'.repeat(64), grace_until: iso(Date.now() - 1) });
    expect((await authorize(chat(bearer(key)))).status).toBe(401);
  });

  it('is unknown (401) at once when replaced without a grace period', async () => {
    const { key } = await seedKey({ replaced_by: 'f'.repeat(64) });
    expect((await authorize(chat(bearer(key)))).status).toBe(401);
  });
});

describe('logs', () => {
  let written = '';
  beforeEach(() => {
    written = '';
    const capture = (chunk: unknown) => {
      written += String(chunk);
      return true;
    };
    vi.spyOn(process.stdout, 'write').mockImplementation(capture);
    vi.spyOn(process.stderr, 'write').mockImplementation(capture);
    logger().setLogLevel('DEBUG');
  });
  afterEach(() => {
    logger().setLogLevel('SILENT');
    vi.restoreAllMocks();
  });

  it('carry the denial code but never a key or the master key', async () => {
    const { key } = await seedKey({ blocked: true });
    await authorize(chat(bearer(key)));
    await authorize(chat(bearer('sk-unknown-secret-value-1234')));
    await authorize(at('/team/new', { 'x-api-key': `${MASTER}x` }));
    expect(written).toContain('key_blocked');
    expect(written).toContain('invalid_api_key');
    for (const secret of [key, 'sk-unknown-secret-value-1234', MASTER]) expect(written).not.toContain(secret);
  });
});
