import { describe, expect, it } from 'vitest';
import { identitySources } from '../../infra/constructs/api.js';
import { authorizerEnvironment, llmEnvironment, sharedEnvironment, upstreamTimeoutMs } from '../../infra/constructs/environment.js';
import { OPTION_NAMES, optionsFromContext, resolveOptions } from '../../infra/constructs/options.js';
import { parseConfig } from '../../lib/config.js';

describe('upstreamSecretPrefix never covers a secret that is not an upstream key', () => {
  const prefix = 'tollgate/';
  it.each([
    ['masterKeySecretArn', 'tollgate/master'],
    ['masterKeySecretArn', 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:tollgate/master-AbCdEf'],
    ['alertSlackSecretArn', 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:tollgate/slack-AbCdEf'],
  ])('%s %s under the prefix is refused: the llm function may read every secret there', (name, ref) => {
    expect(() => resolveOptions({ upstreamSecretPrefix: prefix, [name]: ref })).toThrow(new RegExp(`${name}: .*upstreamSecretPrefix`));
  });

  it('secrets beside the prefix are fine', () => {
    expect(() =>
      resolveOptions({
        upstreamSecretPrefix: 'tollgate/upstream/',
        masterKeySecretArn: 'tollgate/master',
        alertSlackSecretArn: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:tollgate/slack-AbCdEf',
      }),
    ).not.toThrow();
  });
});

describe('resolveOptions', () => {
  it('defaults: cache off, table protected and retained, 30-day logs, 15-minute LLM calls', () => {
    const o = resolveOptions({});
    expect(o.authorizerResultTtlSeconds).toBe(0);
    expect(o.tableDeletionProtection).toBe(true);
    expect(o.tableRemovalPolicy).toBe('retain');
    expect(o.logRetention).toBe(30);
    expect(o.llmTimeoutSeconds).toBe(900);
    expect(o.maxBudget).toBeUndefined();
    expect(o.apiLogging).toBe(true);
  });

  it('takes the strings of `-c name=value` and the JSON of cdk.json alike', () => {
    const fromCli = resolveOptions({ maxBudget: '12.5', jwtUpsertUser: 'true', jwtAudience: 'a, b', tableRemovalPolicy: 'DESTROY' });
    const fromJson = resolveOptions({ maxBudget: 12.5, jwtUpsertUser: true, jwtAudience: ['a', 'b'], tableRemovalPolicy: 'destroy' });
    expect(fromCli).toEqual(fromJson);
    expect(fromCli.jwtAudience).toEqual(['a', 'b']);
  });

  it.each([
    [{ jwtIssuer: 'https://a.example' }, /jwtJwksUri: needs one JWKS URI per issuer/],
    [{ jwtIssuer: 'https://a.example', jwtJwksUri: 'http://a.example/jwks' }, /jwtJwksUri: must be https/],
    [{ maxBudget: '-1' }, /maxBudget/],
    [{ maxBudget: 'lots' }, /maxBudget/],
    [{ authorizerResultTtlSeconds: 3601 }, /authorizerResultTtlSeconds/],
    [{ logRetentionDays: 10 }, /logRetentionDays/],
    [{ tableRemovalPolicy: 'snapshot' }, /tableRemovalPolicy/],
    [{ enforceUserParam: 'yes please' }, /enforceUserParam/],
    [{ llmTimeoutSeconds: 901 }, /llmTimeoutSeconds/],
    [{ budgetDuration: 'monthly' }, /budgetDuration/],
    [{ stageName: 'my-stage' }, /stageName/],
    [{ authorizerIdentityHeader: 'x api key' }, /authorizerIdentityHeader/],
    [{ authorizerIdentityHeader: 'x-my-key' }, /authorizerIdentityHeader: must be one of the headers a credential is read from/],
    [{ jwtAudience: 42 }, /jwtAudience/],
    [{ enforcement: 'lax' }, /enforcement/],
    [{ spendShards: 'user=4' }, /spendShards/],
    [{ spendShards: 'team=0' }, /spendShards/],
    [{ strictDefaultMaxTokens: 1.5 }, /strictDefaultMaxTokens/],
    // A route list entry that names nothing would silently allow nothing (found by review).
    [{ jwtTeamRoutes: 'openai_routs,info_routes' }, /jwtTeamRoutes: .*openai_routs/],
    [{ jwtAdminRoutes: ['management', '/key/generat'] }, /jwtAdminRoutes: .*\/key\/generat/],
  ])('refuses %j', (raw, message) => {
    expect(() => resolveOptions(raw)).toThrow(message);
  });

  it('optionsFromContext reads exactly the documented names', () => {
    const ctx: Record<string, unknown> = { maxBudget: '5', unrelated: 'x', '@aws-cdk/core:checkSecretUsage': true };
    expect(optionsFromContext((k) => ctx[k])).toEqual({ maxBudget: '5' });
    expect(new Set(OPTION_NAMES).size).toBe(OPTION_NAMES.length);
  });
});

describe('the environment the functions get', () => {
  const o = resolveOptions({
    cacheTtlSeconds: 5,
    maxBudget: 100,
    budgetDuration: '1mo',
    enforceUserParam: true,
    jwtIssuer: ['https://idp.example', 'https://other.example'],
    jwtAudience: ['tollgate'],
    jwtJwksUri: ['https://idp.example/jwks', 'https://other.example/jwks'],
    jwtAdminScope: 'admin',
    jwtUserClaim: 'email',
    jwtTeamClaim: 'groups',
    jwtOrgClaim: 'org',
    jwtEndUserClaim: 'customer',
    jwtDefaultTeam: 't-default',
    jwtUpsertUser: true,
    jwtTeamRoutes: ['llm'],
    logLevel: 'DEBUG',
    llmTimeoutSeconds: 120,
  });

  it('is read back by lib/config as the options said (names and formats match)', () => {
    const c = parseConfig(authorizerEnvironment(o, 'tbl', 'arn:aws:secretsmanager:us-east-1:1:secret:m-AbCdEf'));
    expect(c.tableName).toBe('tbl');
    expect(c.masterKeySecretArn).toBe('arn:aws:secretsmanager:us-east-1:1:secret:m-AbCdEf');
    expect(c.masterKey).toBeUndefined();
    expect(c.cache.ttlMs).toBe(5000);
    expect(c.maxBudget).toBe(100);
    expect(c.budgetDuration).toBe('1mo');
    expect(c.enforceUserParam).toBe(true);
    expect(c.logLevel).toBe('DEBUG');
    expect(c.jwt.issuers).toEqual([
      { issuer: 'https://idp.example', jwksUri: 'https://idp.example/jwks' },
      { issuer: 'https://other.example', jwksUri: 'https://other.example/jwks' },
    ]);
    expect(c.jwt).toMatchObject({
      audience: ['tollgate'],
      adminScope: 'admin',
      userClaim: 'email',
      teamClaim: 'groups',
      orgClaim: 'org',
      endUserClaim: 'customer',
      defaultTeam: 't-default',
      upsertUser: true,
      teamRoutes: ['llm'],
    });
  });

  it('leaves unset options to lib/config defaults', () => {
    const env = sharedEnvironment(resolveOptions({}), 'tbl');
    expect(Object.keys(env).sort()).toEqual([
      'POWERTOOLS_TRACER_CAPTURE_RESPONSE',
      'TOLLGATE_ENFORCE_USER_PARAM',
      'TOLLGATE_LOG_LEVEL',
      'TOLLGATE_SPEND_COUNTERS',
      'TOLLGATE_TABLE_NAME',
    ]);
    const c = parseConfig(env);
    // A deployed stack adds fast settlements' counters from the table's stream.
    expect(c.spendCounters).toBe('stream');
    expect(parseConfig(sharedEnvironment(resolveOptions({ spendCounters: 'transaction' }), 'tbl')).spendCounters).toBe('transaction');
    expect(parseConfig({ TOLLGATE_TABLE_NAME: 'tbl' }).spendCounters).toBe('transaction');
    expect(() => resolveOptions({ spendCounters: 'later' as never })).toThrow(/spendCounters/);
    // Spend logs are indexed unless the option turns it off, and the functions read it back so.
    expect(c.spendLogIndex).toBe(true);
    expect(parseConfig(sharedEnvironment(resolveOptions({ spendLogIndex: false }), 'tbl')).spendLogIndex).toBe(false);
    expect(() => resolveOptions({ spendLogIndex: 'no' as never })).toThrow(/spendLogIndex/);
    expect(c.maxBudget).toBeUndefined();
    expect(c.jwt.issuers).toEqual([]);
  });

  it('gives the llm function the enforcement settings lib/config reads back', () => {
    const env = llmEnvironment(
      resolveOptions({ enforcement: 'strict', strictDefaultMaxTokens: 512, spendShards: 'team=2,global=4', llmTimeoutSeconds: 120 }),
      'tbl',
    );
    expect(parseConfig(env)).toMatchObject({
      enforcement: 'strict',
      strictDefaultMaxTokens: 512,
      reservationTtlSeconds: 180,
      spendShards: { team: 2, global: 4, organization: 8 },
    });
    expect(parseConfig(llmEnvironment(resolveOptions({}), 'tbl'))).toMatchObject({ enforcement: 'fast', strictDefaultMaxTokens: 4096 });
  });

  it('gives the llm function an upstream timeout inside its own, and no master key', () => {
    const env = llmEnvironment(o, 'tbl');
    expect(parseConfig(env).upstreamTimeoutMs).toBe(upstreamTimeoutMs(120));
    expect(upstreamTimeoutMs(120)).toBe(108_000);
    expect(upstreamTimeoutMs(900)).toBe(885_000);
    expect(env.TOLLGATE_MASTER_KEY_SECRET_ARN).toBeUndefined();
  });
});

describe('authorizer identity sources', () => {
  it('none while the cache is off, so no credential header is ever required', () => {
    expect(identitySources(0, 'x-litellm-api-key')).toEqual([]);
  });
  it('the header, method and resource once it is on', () => {
    expect(identitySources(60, 'x-litellm-api-key')).toEqual([
      'method.request.header.x-litellm-api-key',
      'context.httpMethod',
      'context.resourcePath',
    ]);
  });
});
