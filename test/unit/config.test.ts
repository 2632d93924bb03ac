/** Configuration: read once from TOLLGATE_* variables, validated, typed; bad values name the variable. */
import { describe, expect, it } from 'vitest';
import { ConfigError, config, parseConfig, setConfig } from '../../lib/config.js';

/** The ConfigError parseConfig throws for `env`. */
function configError(env: Record<string, string | undefined>): ConfigError {
  try {
    parseConfig(env);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return e as ConfigError;
  }
  throw new Error(`expected a ConfigError for ${JSON.stringify(env)}`);
}

describe('defaults', () => {
  it('an empty environment gives the documented defaults', () => {
    expect(parseConfig({})).toMatchObject({
      tableName: 'tollgate',
      dynamoEndpoint: undefined,
      region: 'us-east-1',
      masterKey: undefined,
      masterKeySecretArn: undefined,
      cache: { ttlMs: 10_000, maxEntries: 100_000, negativeTtlMs: 10_000 },
      consistentReads: true,
      maxBudget: undefined,
      budgetDuration: undefined,
      enforceUserParam: false,
      jwt: {
        issuers: [],
        audience: [],
        adminScope: 'litellm_proxy_admin',
        scopeClaim: 'scope',
        userClaim: 'sub',
        teamClaim: 'team_id',
        orgClaim: 'org_id',
        endUserClaim: 'end_user_id',
        defaultTeam: undefined,
        upsertUser: false,
        jwksTimeoutMs: 1500,
        teamRoutes: ['llm', 'info'],
        adminRoutes: ['management', 'info'],
      },
      upstreamTimeoutMs: 600_000,
      logLevel: 'INFO',
      port: 4000,
    });
  });

  it('the negative-cache TTL follows the cache TTL unless set', () => {
    expect(parseConfig({ TOLLGATE_CACHE_TTL_SECONDS: '3' }).cache).toEqual({ ttlMs: 3000, maxEntries: 100_000, negativeTtlMs: 3000 });
    expect(parseConfig({ TOLLGATE_CACHE_TTL_SECONDS: '3', TOLLGATE_NEGATIVE_CACHE_TTL_SECONDS: '0.5' }).cache.negativeTtlMs).toBe(500);
  });

  it('TOLLGATE_REGION wins over AWS_REGION', () => {
    expect(parseConfig({ AWS_REGION: 'eu-west-1' }).region).toBe('eu-west-1');
    expect(parseConfig({ AWS_REGION: 'eu-west-1', TOLLGATE_REGION: 'eu-central-1' }).region).toBe('eu-central-1');
  });

  it('an empty master key is no master key', () => {
    expect(parseConfig({ TOLLGATE_MASTER_KEY: '' }).masterKey).toBeUndefined();
    expect(parseConfig({ TOLLGATE_MASTER_KEY: 'sk-master-0123456789abcdef' }).masterKey).toBe('sk-master-0123456789abcdef');
  });

  it.each([
    'sk-master',
    'my-master-key',
    'correct horse battery staple',
    'Xk29aLqP0mZ7vB4nR8sT1uW6yC3dE5fGhJ2k',
    'admin bearer 1234567890abcdef',
    'x sk-0123456789abcdef',
  ])(
    'a master key the secret detector would not know (%s) is refused, never echoed (found by review: it could be repeated in ids, logs and the audit log)',
    (key) => {
      const e = (() => {
        try {
          parseConfig({ TOLLGATE_MASTER_KEY: key });
        } catch (x) {
          return x as Error;
        }
      })();
      expect(e).toBeInstanceOf(ConfigError);
      expect(e?.message).toContain('TOLLGATE_MASTER_KEY must look like a key');
      expect(e?.message).not.toContain(key);
    },
  );

  it.each(['sk-0123456789abcdef', 'sk-bench-master-side-by-side', 'sk-Zq3vQm8TnR2pL5xW7yK9bC1dF4gH6jA0'])(
    'a master key that looks like one is taken (%s)',
    (key) => {
      expect(parseConfig({ TOLLGATE_MASTER_KEY: key }).masterKey).toBe(key);
    },
  );
});

describe('numbers', () => {
  it('TOLLGATE_MAX_BUDGET 0 is a budget of zero, not "no budget"', () => {
    expect(parseConfig({ TOLLGATE_MAX_BUDGET: '0' }).maxBudget).toBe(0);
    expect(parseConfig({ TOLLGATE_MAX_BUDGET: '12.5' }).maxBudget).toBe(12.5);
    expect(parseConfig({ TOLLGATE_MAX_BUDGET: '  ' }).maxBudget).toBeUndefined();
  });

  it('a cache TTL of 0 is allowed (no caching)', () => {
    expect(parseConfig({ TOLLGATE_CACHE_TTL_SECONDS: '0' }).cache.ttlMs).toBe(0);
  });

  it.each([
    ['TOLLGATE_CACHE_TTL_SECONDS', 'ten'],
    ['TOLLGATE_CACHE_TTL_SECONDS', '-1'],
    ['TOLLGATE_CACHE_TTL_SECONDS', 'Infinity'],
    ['TOLLGATE_CACHE_MAX_ENTRIES', '0'],
    ['TOLLGATE_NEGATIVE_CACHE_TTL_SECONDS', 'NaN'],
    ['TOLLGATE_MAX_BUDGET', '-5'],
    ['TOLLGATE_MAX_BUDGET', '$10'],
    ['TOLLGATE_JWT_JWKS_TIMEOUT_MS', '0'],
    ['TOLLGATE_UPSTREAM_TIMEOUT_MS', '1s'],
    ['PORT', 'http'],
  ])('%s=%j is a ConfigError naming the variable', (name, value) => {
    const e = configError({ [name]: value });
    expect(e.name).toBe('ConfigError');
    expect(e.message).toContain(name);
  });
});

describe('booleans', () => {
  it.each([
    ['true', true],
    ['1', true],
    ['yes', true],
    ['false', false],
    ['0', false],
    ['no', false],
    ['', false],
  ])('TOLLGATE_ENFORCE_USER_PARAM=%j -> %s', (value, on) => {
    expect(parseConfig({ TOLLGATE_ENFORCE_USER_PARAM: value }).enforceUserParam).toBe(on);
  });

  it('an empty value keeps a true default', () => {
    expect(parseConfig({ TOLLGATE_CONSISTENT_READS: '' }).consistentReads).toBe(true);
  });

  it('TOLLGATE_LOCAL_CONCURRENCY: 64 by default, a whole number of at least 1', () => {
    expect(parseConfig({}).localConcurrency).toBe(64);
    expect(parseConfig({ TOLLGATE_LOCAL_CONCURRENCY: '8' }).localConcurrency).toBe(8);
    for (const bad of ['0', '2.5', 'many'])
      expect(configError({ TOLLGATE_LOCAL_CONCURRENCY: bad }).message).toContain('TOLLGATE_LOCAL_CONCURRENCY');
  });

  it('TOLLGATE_SPEND_LOG_INDEX: spend logs are indexed unless it says false', () => {
    expect(parseConfig({}).spendLogIndex).toBe(true);
    expect(parseConfig({ TOLLGATE_SPEND_LOG_INDEX: 'false' }).spendLogIndex).toBe(false);
    expect(configError({ TOLLGATE_SPEND_LOG_INDEX: 'off' }).message).toContain('TOLLGATE_SPEND_LOG_INDEX');
  });

  it('TOLLGATE_LOCAL_TABLE_STREAM: the local gateway reads its table stream unless it says false', () => {
    expect(parseConfig({}).local.tableStream).toBe(true);
    expect(parseConfig({ TOLLGATE_LOCAL_TABLE_STREAM: 'false' }).local.tableStream).toBe(false);
    expect(configError({ TOLLGATE_LOCAL_TABLE_STREAM: 'off' }).message).toContain('TOLLGATE_LOCAL_TABLE_STREAM');
  });

  it('anything else is a ConfigError naming the variable', () => {
    expect(configError({ TOLLGATE_ENFORCE_USER_PARAM: 'maybe' }).message).toContain('TOLLGATE_ENFORCE_USER_PARAM');
  });
});

describe('lists', () => {
  it('comma-separated, trimmed, empty entries dropped', () => {
    const c = parseConfig({ TOLLGATE_JWT_AUDIENCE: ' api , console,, ', TOLLGATE_JWT_TEAM_ROUTES: 'llm,/key/info' });
    expect(c.jwt.audience).toEqual(['api', 'console']);
    expect(c.jwt.teamRoutes).toEqual(['llm', '/key/info']);
  });

  it('an empty route list falls back to the default', () => {
    expect(parseConfig({ TOLLGATE_JWT_ADMIN_ROUTES: ' , ' }).jwt.adminRoutes).toEqual(['management', 'info']);
  });
});

describe('JWT issuers and JWKS URIs pair up one to one', () => {
  it('several issuers pair with their URIs in order', () => {
    const c = parseConfig({
      TOLLGATE_JWT_ISSUER: 'https://a.example, https://b.example',
      TOLLGATE_JWT_JWKS_URI: 'https://a.example/jwks.json,https://b.example/jwks.json',
    });
    expect(c.jwt.issuers).toEqual([
      { issuer: 'https://a.example', jwksUri: 'https://a.example/jwks.json' },
      { issuer: 'https://b.example', jwksUri: 'https://b.example/jwks.json' },
    ]);
  });

  it.each([
    ['two issuers, one URI', 'https://a.example,https://b.example', 'https://a.example/jwks.json'],
    ['one issuer, no URI', 'https://a.example', undefined],
    ['no issuer, one URI', undefined, 'https://a.example/jwks.json'],
  ])('%s is a ConfigError naming both variables', (_what, issuers, uris) => {
    const e = configError({ TOLLGATE_JWT_ISSUER: issuers, TOLLGATE_JWT_JWKS_URI: uris });
    expect(e.message).toContain('TOLLGATE_JWT_ISSUER');
    expect(e.message).toContain('TOLLGATE_JWT_JWKS_URI');
  });

  it.each(['http://idp.example/jwks.json', 'idp.example/jwks.json', 'https://'])(
    'a JWKS URI that is not https (%s) is a ConfigError',
    (uri) => {
      const e = configError({ TOLLGATE_JWT_ISSUER: 'https://idp.example', TOLLGATE_JWT_JWKS_URI: uri });
      expect(e.message).toContain('TOLLGATE_JWT_JWKS_URI must be https://');
    },
  );
});

describe('other validated settings', () => {
  it('TOLLGATE_BUDGET_DURATION must be a duration', () => {
    expect(parseConfig({ TOLLGATE_BUDGET_DURATION: '30d' }).budgetDuration).toBe('30d');
    expect(parseConfig({ TOLLGATE_BUDGET_DURATION: '' }).budgetDuration).toBeUndefined();
    expect(configError({ TOLLGATE_BUDGET_DURATION: 'monthly' }).message).toContain('TOLLGATE_BUDGET_DURATION');
  });

  it('TOLLGATE_DYNAMODB_ENDPOINT must be a URL', () => {
    expect(parseConfig({ TOLLGATE_DYNAMODB_ENDPOINT: 'http://127.0.0.1:8000' }).dynamoEndpoint).toBe('http://127.0.0.1:8000');
    expect(configError({ TOLLGATE_DYNAMODB_ENDPOINT: 'localhost 8000' }).message).toContain('TOLLGATE_DYNAMODB_ENDPOINT');
  });

  it('TOLLGATE_LOG_LEVEL must be a known level', () => {
    expect(configError({ TOLLGATE_LOG_LEVEL: 'VERBOSE' }).message).toContain('TOLLGATE_LOG_LEVEL');
  });

  it('a value that is not a string (an environment built by hand) is named, not a TypeError', () => {
    const e = configError({ PORT: 5 as unknown as string, TOLLGATE_CONSISTENT_READS: true as unknown as string });
    expect(e.message).toContain('PORT: must be a string');
    expect(e.message).toContain('TOLLGATE_CONSISTENT_READS: must be a string');
  });

  it('several bad variables are all named', () => {
    const e = configError({ PORT: 'x', TOLLGATE_MAX_BUDGET: '-1' });
    expect(e.message).toContain('PORT');
    expect(e.message).toContain('TOLLGATE_MAX_BUDGET');
  });

  it('a bad value is named by its variable, never repeated (it may be a secret)', () => {
    const secret = 'sk-config-secret-value-123';
    for (const env of [
      { TOLLGATE_LOCAL_SECRETS: `{"k": ${secret}` },
      { TOLLGATE_LOCAL_SECRETS: JSON.stringify({ k: [secret] }) },
      { TOLLGATE_DYNAMODB_ENDPOINT: secret },
      { TOLLGATE_CONSISTENT_READS: secret },
      { TOLLGATE_ALERT_THRESHOLDS: secret },
      { TOLLGATE_SPEND_SHARDS: `team=8,${secret}` },
      { TOLLGATE_ENFORCEMENT: secret },
    ]) {
      const e = configError(env);
      expect(e.message).toContain(Object.keys(env)[0]);
      expect(e.message).not.toContain(secret);
    }
  });
});

describe('config() and setConfig()', () => {
  it('setConfig with an environment parses it; config() then returns it', () => {
    const c = setConfig({ TOLLGATE_TABLE_NAME: 'unit-table' });
    expect(config()).toBe(c);
    expect(config().tableName).toBe('unit-table');
  });

  it('setConfig with a Config object installs it as is', () => {
    const c = { ...parseConfig({}), port: 4321 };
    expect(setConfig(c)).toBe(c);
    expect(config().port).toBe(4321);
  });
});

describe('spend enforcement and counters', () => {
  it('defaults: fast, 4096 output tokens for an estimate, shards global=16 team=8 organization=8, 16-minute reservations', () => {
    expect(parseConfig({})).toMatchObject({
      enforcement: 'fast',
      strictDefaultMaxTokens: 4096,
      spendShards: { global: 16, team: 8, organization: 8 },
      reservationTtlSeconds: 960,
    });
  });

  it('reads TOLLGATE_ENFORCEMENT, TOLLGATE_STRICT_DEFAULT_MAX_TOKENS and TOLLGATE_SPEND_SHARDS (named kinds replace their default)', () => {
    const c = parseConfig({
      TOLLGATE_ENFORCEMENT: 'STRICT',
      TOLLGATE_STRICT_DEFAULT_MAX_TOKENS: '512',
      TOLLGATE_SPEND_SHARDS: 'team=1,key=4',
    });
    expect(c).toMatchObject({
      enforcement: 'strict',
      strictDefaultMaxTokens: 512,
      spendShards: { global: 16, team: 1, organization: 8, key: 4 },
    });
  });

  it.each([
    [{ TOLLGATE_ENFORCEMENT: 'lax' }, 'TOLLGATE_ENFORCEMENT'],
    [{ TOLLGATE_STRICT_DEFAULT_MAX_TOKENS: '0' }, 'TOLLGATE_STRICT_DEFAULT_MAX_TOKENS'],
    [{ TOLLGATE_SPEND_SHARDS: 'user=2' }, 'TOLLGATE_SPEND_SHARDS'],
    [{ TOLLGATE_RESERVATION_TTL_SECONDS: '5' }, 'TOLLGATE_RESERVATION_TTL_SECONDS'],
  ])('refuses %j, naming the variable', (env, name) => {
    expect(configError(env).message).toContain(name);
  });
});
