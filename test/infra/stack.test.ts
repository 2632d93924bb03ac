import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Validations } from 'aws-cdk-lib';
import { Annotations, Match } from 'aws-cdk-lib/assertions';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { AwsSolutionsChecks } from 'cdk-nag';
import { describe, expect, it } from 'vitest';
import {
  COUNTER_PARTITIONS,
  LLM_UPDATE_PREFIXES,
  SETTLEMENT_UPDATE_PREFIXES,
  SPEND_WRITE,
  SWEEPER_KEY_COPY,
  SWEEPER_UPDATE_PREFIXES,
  SWEEPER_WRITE,
  TABLE_READ,
  TABLE_STREAM_UPDATE_PREFIXES,
  TABLE_WRITE,
} from '../../infra/constructs/access.js';
import { HEALTH_BODY, KEEP_GATEWAY_STATUS } from '../../infra/constructs/api.js';
import { type DeployedFunction, SERVING_FUNCTIONS, TollgateStack } from '../../infra/stack.js';
import { BILL_PENDING_EVENT, PENDING_SWEEP_EVERY_MINUTES } from '../../lib/domain/tenancy.js';
import { GATEWAY_RESPONSES, type GatewayResponseType } from '../../lib/gateway-responses.js';
import { BINARY_MEDIA_TYPES, routes } from '../../lib/routes.js';
import { alertRef } from '../../lib/store/alerts.js';
import { refs } from '../../lib/store/keys.js';
import { objectRef } from '../../lib/store/objects.js';
import { rateRefs } from '../../lib/store/rate-limits.js';
import { TABLE_SCHEMA } from '../../lib/store/schema.js';
import { SETTLED_RECORD_FILTER } from '../../lib/store/spend-ledger.js';
import { SWEEP_READ_PARTITIONS, TIDY_PARTITIONS } from '../../lib/store/sweep.js';
import {
  actionsOf,
  apiMethods,
  type CfnResource,
  logicalId,
  ofType,
  resourcesOf,
  type Statement,
  type Synth,
  statementsOf,
  synth,
} from './template.js';

const base = synth();
const ALL_FUNCTIONS: DeployedFunction[] = ['authorizer', ...SERVING_FUNCTIONS, 'spend-sweeper', 'settlement-replay', 'table-stream'];
const fnId = (s: Synth, fn: DeployedFunction) =>
  logicalId(s, (s.stack.functions.get(fn) as NonNullable<ReturnType<typeof s.stack.functions.get>>).function);
const lambdaOf = (s: Synth, fn: DeployedFunction) => s.resources[fnId(s, fn)] as CfnResource;
const tableId = (s: Synth) => logicalId(s, s.stack.table.table);
const authorizerId = (s: Synth) => logicalId(s, s.stack.api.authorizer);
const tableArn = (s: Synth) => ({ 'Fn::GetAtt': [tableId(s), 'Arn'] });
const indexArn = (s: Synth, name: string) => ({ 'Fn::Join': ['', [tableArn(s), `/index/${name}`]] });
const dynamoStatements = (sts: Statement[]) => sts.filter((st) => actionsOf(st).some((a) => a.startsWith('dynamodb:')));
const dynamoActions = (sts: Statement[]) => new Set(dynamoStatements(sts).flatMap(actionsOf));

describe('the table', () => {
  const [[, table]] = ofType(base, 'AWS::DynamoDB::GlobalTable') as [[string, CfnResource]];

  it('is the one table of lib/store/schema: string PK/SK keys', () => {
    expect(ofType(base, 'AWS::DynamoDB::GlobalTable')).toHaveLength(1);
    expect(ofType(base, 'AWS::DynamoDB::Table')).toHaveLength(0);
    expect(table.Properties.KeySchema).toEqual([
      { AttributeName: TABLE_SCHEMA.partitionKey, KeyType: 'HASH' },
      { AttributeName: TABLE_SCHEMA.sortKey, KeyType: 'RANGE' },
    ]);
    for (const a of table.Properties.AttributeDefinitions as { AttributeType: string }[]) expect(a.AttributeType).toBe('S');
  });

  it('has every GSI of the schema, projecting keys only (a counter move writes no index)', () => {
    expect(table.Properties.GlobalSecondaryIndexes).toEqual(
      TABLE_SCHEMA.indexes.map((i) => ({
        IndexName: i.name,
        KeySchema: [
          { AttributeName: i.partitionKey, KeyType: 'HASH' },
          { AttributeName: i.sortKey, KeyType: 'RANGE' },
        ],
        Projection: { ProjectionType: 'KEYS_ONLY' },
      })),
    );
  });

  it('expires items by the ttl attribute, bills on demand, keeps point-in-time recovery', () => {
    expect(table.Properties.TimeToLiveSpecification).toEqual({ AttributeName: TABLE_SCHEMA.ttlAttribute, Enabled: true });
    expect(table.Properties.BillingMode).toBe('PAY_PER_REQUEST');
    expect(table.Properties.Replicas[0].PointInTimeRecoverySpecification).toEqual({ PointInTimeRecoveryEnabled: true });
  });

  it('is protected and retained by default', () => {
    expect(table.Properties.Replicas[0].DeletionProtectionEnabled).toBe(true);
    expect(table.DeletionPolicy).toBe('Retain');
    expect(table.UpdateReplacePolicy).toBe('Retain');
  });

  it('drops protection and retention when the options say so', () => {
    const s = synth({ tableDeletionProtection: false, tableRemovalPolicy: 'destroy' });
    const [[, t]] = ofType(s, 'AWS::DynamoDB::GlobalTable') as [[string, CfnResource]];
    expect(t.Properties.Replicas[0].DeletionProtectionEnabled).toBe(false);
    expect(t.DeletionPolicy).toBe('Delete');
  });
});

describe('the functions', () => {
  it('are one per function of lib/routes (health aside) plus the authorizer, the spend sweeper, the settlement replay and the table stream', () => {
    const fromRoutes = new Set(routes.map((r) => r.fn).filter((fn) => fn !== 'health'));
    expect(new Set(SERVING_FUNCTIONS)).toEqual(fromRoutes);
    // Besides these, only CDK's deploy-time copier of the console files (test/infra/console.test.ts).
    const consoleDeploy = JSON.stringify({ 'Fn::GetAtt': [logicalId(base, base.stack.console.deployRole), 'Arn'] });
    const [copiers, functions] = [true, false].map((copier) =>
      ofType(base, 'AWS::Lambda::Function').filter(([, f]) => (JSON.stringify(f.Properties.Role) === consoleDeploy) === copier),
    );
    expect(functions).toHaveLength(fromRoutes.size + 4);
    expect(copiers).toHaveLength(1);
  });

  it('the spend sweeper runs every 5 minutes, without retries (the next run covers a failed one)', () => {
    const rules = ofType(base, 'AWS::Events::Rule').filter(
      ([, r]) =>
        r.Properties.ScheduleExpression !== undefined && JSON.stringify(r.Properties.Targets ?? []).includes(fnId(base, 'spend-sweeper')),
    );
    expect(rules).toHaveLength(1);
    const [[, rule]] = rules as [[string, CfnResource]];
    expect(rule.Properties.ScheduleExpression).toBe('rate(5 minutes)');
    expect(rule.Properties.Targets).toEqual([
      expect.objectContaining({ Arn: { 'Fn::GetAtt': [fnId(base, 'spend-sweeper'), 'Arn'] }, RetryPolicy: { MaximumRetryAttempts: 0 } }),
    ]);
    const permissions = ofType(base, 'AWS::Lambda::Permission').filter(([, p]) =>
      JSON.stringify(p.Properties.FunctionName).includes(fnId(base, 'spend-sweeper')),
    );
    expect(permissions.map(([, p]) => p.Properties.Principal)).toEqual(['events.amazonaws.com']);
  });

  it('the llm function is sent the schedule’s event every 5 minutes, to bill pending objects nobody read (lib/llm/pending)', () => {
    const rules = ofType(base, 'AWS::Events::Rule').filter(([, r]) =>
      JSON.stringify(r.Properties.Targets ?? []).includes(fnId(base, 'llm')),
    );
    expect(rules).toHaveLength(1);
    const [[, rule]] = rules as [[string, CfnResource]];
    expect(rule.Properties.ScheduleExpression).toBe(`rate(${PENDING_SWEEP_EVERY_MINUTES} minutes)`);
    expect(rule.Properties.Targets).toEqual([
      expect.objectContaining({
        Arn: { 'Fn::GetAtt': [fnId(base, 'llm'), 'Arn'] },
        Input: JSON.stringify(BILL_PENDING_EVENT),
        RetryPolicy: { MaximumRetryAttempts: 0 },
      }),
    ]);
    const permissions = ofType(base, 'AWS::Lambda::Permission').filter(
      ([, p]) => JSON.stringify(p.Properties.FunctionName).includes(fnId(base, 'llm')) && p.Properties.Principal === 'events.amazonaws.com',
    );
    expect(permissions).toHaveLength(1);
    // An invocation that fails (a timeout) is not retried: the next run covers it.
    const retries = ofType(base, 'AWS::Lambda::EventInvokeConfig').filter(([, c]) =>
      JSON.stringify(c.Properties.FunctionName).includes(fnId(base, 'llm')),
    );
    expect(retries.map(([, c]) => c.Properties.MaximumRetryAttempts)).toEqual([0]);
  });

  it('the llm function learns the enforcement default and how long a reservation may stay', () => {
    const s = synth({ enforcement: 'strict', strictDefaultMaxTokens: 1024, spendShards: 'team=4', llmTimeoutSeconds: 300 });
    const env = lambdaOf(s, 'llm').Properties.Environment.Variables as Record<string, string>;
    expect(env).toMatchObject({
      TOLLGATE_ENFORCEMENT: 'strict',
      TOLLGATE_STRICT_DEFAULT_MAX_TOKENS: '1024',
      TOLLGATE_RESERVATION_TTL_SECONDS: '360',
    });
    // Every reader of spend agrees on where the counters are.
    for (const fn of ALL_FUNCTIONS) expect(lambdaOf(s, fn).Properties.Environment.Variables.TOLLGATE_SPEND_SHARDS).toBe('team=4');
  });

  it('spendLogIndex off reaches the function that writes the index and the one that lists it', () => {
    const off = synth({ spendLogIndex: false });
    for (const fn of ['table-stream', 'spend'] as const) {
      expect(lambdaOf(off, fn).Properties.Environment.Variables.TOLLGATE_SPEND_LOG_INDEX).toBe('false');
      expect(lambdaOf(base, fn).Properties.Environment.Variables.TOLLGATE_SPEND_LOG_INDEX).toBeUndefined();
    }
  });

  it.each(ALL_FUNCTIONS)('%s runs nodejs24.x on arm64 with X-Ray active and an ESM handler', (fn) => {
    const p = lambdaOf(base, fn).Properties;
    expect(p.Runtime).toBe('nodejs24.x');
    expect(p.Architectures).toEqual(['arm64']);
    expect(p.TracingConfig).toEqual({ Mode: 'Active' });
    expect(p.Handler).toBe('index.handler');
  });

  it.each(ALL_FUNCTIONS)('%s logs to its own group with the retention (30 days by default)', (fn) => {
    const group = lambdaOf(base, fn).Properties.LoggingConfig.LogGroup as { Ref: string };
    const lg = base.resources[group.Ref] as CfnResource;
    expect(lg.Type).toBe('AWS::Logs::LogGroup');
    expect(lg.Properties.RetentionInDays).toBe(30);
  });

  it('takes logRetentionDays for every log group, API access logs and the console deployment included', () => {
    const s = synth({ logRetentionDays: 7 });
    const groups = ofType(s, 'AWS::Logs::LogGroup');
    expect(groups).toHaveLength(ALL_FUNCTIONS.length + 3);
    for (const [, g] of groups) expect(g.Properties.RetentionInDays).toBe(7);
  });

  it("API Gateway's execution log group (errors are logged there) is the stack's, with the retention; none without logging", () => {
    const named = (s: Synth) =>
      ofType(s, 'AWS::Logs::LogGroup').filter(([, g]) =>
        JSON.stringify(g.Properties.LogGroupName ?? '').includes('API-Gateway-Execution-Logs_'),
      );
    const s = synth({ logRetentionDays: 7 });
    const stage = ofType(s, 'AWS::ApiGateway::Stage')[0]?.[1] as CfnResource;
    expect(stage.Properties.MethodSettings[0].LoggingLevel).toBe('ERROR');
    const groups = named(s);
    expect(groups).toHaveLength(1);
    expect(groups[0]?.[1].Properties.LogGroupName).toEqual({
      'Fn::Join': ['', ['API-Gateway-Execution-Logs_', { Ref: logicalId(s, s.stack.api.api) }, `/${stage.Properties.StageName}`]],
    });
    expect(groups[0]?.[1].Properties.RetentionInDays).toBe(7);
    expect(named(synth({ apiLogging: false }))).toHaveLength(0);
  });

  it('every function knows the table; only the authorizer knows the master key secret', () => {
    for (const fn of ALL_FUNCTIONS) {
      const env = lambdaOf(base, fn).Properties.Environment.Variables as Record<string, unknown>;
      expect(env.TOLLGATE_TABLE_NAME).toEqual({ Ref: tableId(base) });
      expect(env.TOLLGATE_MASTER_KEY).toBeUndefined();
      expect(env.POWERTOOLS_TRACER_CAPTURE_RESPONSE).toBe('false');
      if (fn === 'authorizer')
        expect(env.TOLLGATE_MASTER_KEY_SECRET_ARN).toEqual({ Ref: logicalId(base, base.stack.secrets.masterKey.secret as Secret) });
      else expect(env.TOLLGATE_MASTER_KEY_SECRET_ARN).toBeUndefined();
    }
  });

  it('the llm function may run as long as a stream may, and no function carries a setting nothing reads', () => {
    const s = synth({
      upstreamSecretArns: ['tollgate/openai', 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:anthropic-AbCdEf'],
      llmTimeoutSeconds: 300,
    });
    for (const fn of ALL_FUNCTIONS) {
      const p = lambdaOf(s, fn).Properties;
      expect(p.Environment.Variables.TOLLGATE_UPSTREAM_SECRET_ARNS).toBeUndefined();
      if (fn === 'llm') {
        expect(p.Timeout).toBe(300);
        expect(Number(p.Environment.Variables.TOLLGATE_UPSTREAM_TIMEOUT_MS)).toBeLessThan(300_000);
      } else {
        // API Gateway's integration timeout; the sweeper answers to a schedule, not to it.
        if (fn !== 'spend-sweeper' && fn !== 'settlement-replay' && fn !== 'table-stream') expect(p.Timeout).toBeLessThanOrEqual(29);
      }
    }
  });

  it('source maps are opt-in', () => {
    expect(lambdaOf(base, 'llm').Properties.Environment.Variables.NODE_OPTIONS).toBeUndefined();
    const s = synth({ sourceMaps: true });
    for (const fn of ALL_FUNCTIONS) expect(lambdaOf(s, fn).Properties.Environment.Variables.NODE_OPTIONS).toBe('--enable-source-maps');
  });
});

describe('the REST API, built from lib/routes', () => {
  const methods = apiMethods(base);
  const expected = routes.flatMap((r) => r.methods.map((m) => ({ key: `${m} ${r.path}`, route: r })));

  it('has exactly one method per route and verb, nothing else', () => {
    expect(new Set(methods.keys())).toEqual(new Set(expected.map((e) => e.key)));
    expect(methods.size).toBe(expected.length);
  });

  it.each(expected.filter((e) => e.route.group !== 'public').map((e) => [e.key, e.route.fn] as const))(
    '%s goes through the REQUEST authorizer to the %s function',
    (key, fn) => {
      const m = methods.get(key) as CfnResource;
      expect(m.Properties.AuthorizationType).toBe('CUSTOM');
      expect(m.Properties.AuthorizerId).toEqual({ Ref: authorizerId(base) });
      const i = m.Properties.Integration;
      expect(i.Type).toBe('AWS_PROXY');
      const uri = JSON.stringify(i.Uri);
      expect(uri).toContain(JSON.stringify({ 'Fn::GetAtt': [fnId(base, fn as DeployedFunction), 'Arn'] }));
      if (fn === 'llm') {
        expect(i.ResponseTransferMode).toBe('STREAM');
        expect(uri).toContain('/response-streaming-invocations');
        expect(uri).toContain(':lambda:path/2021-11-15/functions/');
        expect(i.TimeoutInMillis).toBe(900_000);
      } else {
        expect(i.ResponseTransferMode).toBeUndefined();
        expect(uri).toContain('/invocations');
        expect(uri).not.toContain('response-streaming');
      }
    },
  );

  it("serves the paths the openai client's AzureOpenAI class calls for the Responses API, streamed by the llm function", () => {
    for (const key of ['/openai', '/openai/v1'].flatMap((p) => [
      `POST ${p}/responses`,
      `GET ${p}/responses/{proxy+}`,
      `POST ${p}/responses/{proxy+}`,
      `DELETE ${p}/responses/{proxy+}`,
    ])) {
      const m = methods.get(key);
      expect(m, key).toBeDefined();
      expect(m?.Properties.AuthorizationType).toBe('CUSTOM');
      expect(JSON.stringify(m?.Properties.Integration.Uri)).toContain(fnId(base, 'llm'));
      expect(m?.Properties.Integration.ResponseTransferMode).toBe('STREAM');
    }
  });

  it('/health and /health/liveliness are public and answered by API Gateway itself; /health/readiness public, by the spend function', () => {
    const publicKeys = expected.filter((e) => e.route.group === 'public').map((e) => e.key);
    expect(publicKeys).toEqual(['GET /health', 'GET /health/liveliness', 'GET /health/readiness']);
    for (const key of publicKeys) {
      const m = methods.get(key) as CfnResource;
      expect(m.Properties.AuthorizationType).toBe('NONE');
      expect(m.Properties.AuthorizerId).toBeUndefined();
      if (key === 'GET /health/readiness') {
        expect(JSON.stringify(m.Properties.Integration.Uri)).toContain(fnId(base, 'spend'));
        continue;
      }
      expect(m.Properties.Integration.Type).toBe('MOCK');
      expect(m.Properties.Integration.IntegrationResponses[0].ResponseTemplates['application/json']).toBe(HEALTH_BODY);
    }
  });

  it('the authorizer is a REQUEST authorizer with its result cache off and no identity source', () => {
    const [[, a], ...more] = ofType(base, 'AWS::ApiGateway::Authorizer') as [string, CfnResource][] as [[string, CfnResource]];
    expect(more).toHaveLength(0);
    expect(a.Properties.Type).toBe('REQUEST');
    expect(a.Properties.AuthorizerResultTtlInSeconds).toBe(0);
    // Any source would turn a key sent in x-api-key, api-key or x-litellm-api-key into a 401 before the authorizer runs.
    expect(a.Properties.IdentitySource).toBeUndefined();
    expect(JSON.stringify(a.Properties.AuthorizerUri)).toContain(fnId(base, 'authorizer'));
  });

  it('with the result cache on, the cache key is the credential header, the method and the resource', () => {
    const s = synth({ authorizerResultTtlSeconds: 60 });
    const [[, a]] = ofType(s, 'AWS::ApiGateway::Authorizer') as [[string, CfnResource]];
    expect(a.Properties.AuthorizerResultTtlInSeconds).toBe(60);
    expect(a.Properties.IdentitySource).toBe('method.request.header.x-litellm-api-key,context.httpMethod,context.resourcePath');
    Annotations.fromStack(s.stack).hasNoWarning('*', Match.stringLikeRegexp('authorizer cache is keyed'));
  });

  it("with the result cache on, the authorizer takes a credential from the cache's header only; off, from any", () => {
    const envOf = (s: ReturnType<typeof synth>) =>
      (ofType(s, 'AWS::Lambda::Function').find(([id]) => id.startsWith('AuthorizerFn'))?.[1] as CfnResource).Properties.Environment
        .Variables as Record<string, unknown>;
    expect(envOf(synth({ authorizerResultTtlSeconds: 60 })).TOLLGATE_AUTHORIZER_CREDENTIAL_HEADER).toBe('x-litellm-api-key');
    expect(
      envOf(synth({ authorizerResultTtlSeconds: 60, authorizerIdentityHeader: 'Authorization' })).TOLLGATE_AUTHORIZER_CREDENTIAL_HEADER,
    ).toBe('authorization');
    expect(envOf(base).TOLLGATE_AUTHORIZER_CREDENTIAL_HEADER).toBeUndefined();
  });

  it('keyed by another header, the cache needs no warning: a request also sending x-litellm-api-key is refused (lib/auth/identify)', () => {
    const s = synth({ authorizerResultTtlSeconds: 60, authorizerIdentityHeader: 'Authorization' });
    const [[, a]] = ofType(s, 'AWS::ApiGateway::Authorizer') as [[string, CfnResource]];
    expect(a.Properties.IdentitySource).toBe('method.request.header.Authorization,context.httpMethod,context.resourcePath');
    Annotations.fromStack(s.stack).hasNoWarning('*', Match.stringLikeRegexp('authorizer cache is keyed'));
  });

  it('one invoke permission per function for the whole API (a per-method one would overflow the llm policy)', () => {
    const perms = ofType(base, 'AWS::Lambda::Permission');
    for (const fn of ALL_FUNCTIONS.filter((f) => f !== 'spend-sweeper' && f !== 'settlement-replay' && f !== 'table-stream')) {
      // API Gateway's (the llm function also has the schedule's: the sweep of pending objects).
      const mine = perms.filter(
        ([, p]) => JSON.stringify(p.Properties.FunctionName).includes(fnId(base, fn)) && p.Properties.Principal !== 'events.amazonaws.com',
      );
      expect(mine, fn).toHaveLength(1);
      expect(mine[0]?.[1].Properties.Principal).toBe('apigateway.amazonaws.com');
      expect(mine[0]?.[1].Properties.Action).toBe('lambda:InvokeFunction');
    }
  });

  it('the stage traces, logs errors and access without data traces, and takes binary uploads', () => {
    const [[, stage]] = ofType(base, 'AWS::ApiGateway::Stage') as [[string, CfnResource]];
    expect(stage.Properties.StageName).toBe('prod');
    expect(stage.Properties.TracingEnabled).toBe(true);
    expect(stage.Properties.MethodSettings).toEqual([expect.objectContaining({ LoggingLevel: 'ERROR', DataTraceEnabled: false })]);
    expect(stage.Properties.AccessLogSetting.Format).not.toContain('authorizer');
    const [[, api]] = ofType(base, 'AWS::ApiGateway::RestApi') as [[string, CfnResource]];
    expect(api.Properties.BinaryMediaTypes).toEqual(BINARY_MEDIA_TYPES);
  });

  it('apiLogging=false turns stage logging off and creates no account-wide role', () => {
    const s = synth({ apiLogging: false, stageName: 'v0' });
    const [[, stage]] = ofType(s, 'AWS::ApiGateway::Stage') as [[string, CfnResource]];
    expect(stage.Properties.StageName).toBe('v0');
    expect(stage.Properties.AccessLogSetting).toBeUndefined();
    expect(ofType(s, 'AWS::ApiGateway::Account')).toHaveLength(0);
    expect(ofType(base, 'AWS::ApiGateway::Account')).toHaveLength(1);
  });

  it('tracing=false turns X-Ray off on the stage and every function, which then never load the tracer', () => {
    const s = synth({ tracing: false });
    const [[, stage]] = ofType(s, 'AWS::ApiGateway::Stage') as [[string, CfnResource]];
    expect(stage.Properties.TracingEnabled).toBe(false);
    for (const fn of ALL_FUNCTIONS) {
      const p = lambdaOf(s, fn).Properties;
      expect(p.TracingConfig, fn).toBeUndefined();
      expect(p.Environment.Variables.POWERTOOLS_TRACE_ENABLED, fn).toBe('false');
      expect(lambdaOf(base, fn).Properties.Environment.Variables.POWERTOOLS_TRACE_ENABLED, fn).toBeUndefined();
    }
    // No X-Ray permission is granted when nothing traces.
    const actions = ofType(s, 'AWS::IAM::Policy').flatMap(([, p]) =>
      (p.Properties.PolicyDocument.Statement as { Action: string | string[] }[]).flatMap((st) => st.Action),
    );
    expect(actions.filter((a) => a.startsWith('xray:'))).toEqual([]);
  });

  it("stays well under CloudFormation's 500 resources per stack", () => {
    expect(Object.keys(base.resources).length).toBeLessThan(450);
  });
});

describe('gateway responses (lib/gateway-responses)', () => {
  const responses = new Map(ofType(base, 'AWS::ApiGateway::GatewayResponse').map(([, r]) => [r.Properties.ResponseType as string, r]));

  it('installs every one of them and no other', () => {
    expect(new Set(responses.keys())).toEqual(new Set(Object.keys(GATEWAY_RESPONSES)));
  });

  it.each(Object.entries(GATEWAY_RESPONSES) as [GatewayResponseType, { statusCode: number; template: string }][])(
    '%s renders its JSON template',
    (type, def) => {
      const r = responses.get(type) as CfnResource;
      expect(r.Properties.ResponseTemplates).toEqual({ 'application/json': def.template });
      const headers = Object.entries((def as { headers?: Record<string, string> }).headers ?? {});
      expect(r.Properties.ResponseParameters).toEqual({
        'gatewayresponse.header.Content-Type': "'application/json'",
        ...Object.fromEntries(headers.map(([k, v]) => [`gatewayresponse.header.${k}`, `'${v}'`])),
      });
      if (KEEP_GATEWAY_STATUS.has(type)) expect(r.Properties.StatusCode).toBeUndefined();
      else expect(r.Properties.StatusCode).toBe(String(def.statusCode));
    },
  );

  it('401, 403 from the authorizer context, 503 for a failed authorizer, 404 for unknown routes', () => {
    expect(responses.get('UNAUTHORIZED')?.Properties.StatusCode).toBe('401');
    expect(responses.get('ACCESS_DENIED')?.Properties.StatusCode).toBe('403');
    const denied = responses.get('ACCESS_DENIED')?.Properties.ResponseTemplates['application/json'] as string;
    for (const field of ['message', 'type', 'code']) expect(denied).toContain(`$context.authorizer.${field}`);
    expect(responses.get('AUTHORIZER_FAILURE')?.Properties.StatusCode).toBe('503');
    // A throwing authorizer is API Gateway's AUTHORIZER_CONFIGURATION_ERROR: the same 503, not its 500.
    expect(responses.get('AUTHORIZER_CONFIGURATION_ERROR')?.Properties.StatusCode).toBe('503');
    expect(responses.get('MISSING_AUTHENTICATION_TOKEN')?.Properties.StatusCode).toBe('404');
  });

  it('an unknown route is 404 route_not_found whatever Authorization holds: with a Bearer token API Gateway reports a bad SigV4 signature instead of a missing token', () => {
    const notFound = responses.get('MISSING_AUTHENTICATION_TOKEN')?.Properties;
    for (const type of ['MISSING_AUTHENTICATION_TOKEN', 'INCOMPLETE_SIGNATURE', 'INVALID_SIGNATURE', 'EXPIRED_TOKEN']) {
      const r = responses.get(type)?.Properties;
      expect({ type, status: r?.StatusCode, body: r?.ResponseTemplates }).toEqual({
        type,
        status: '404',
        body: notFound?.ResponseTemplates,
      });
    }
    expect(JSON.parse(notFound?.ResponseTemplates['application/json'] as string).error.code).toBe('route_not_found');
  });

  it("a body over API Gateway's 10 MB is a 413 request_too_large, as the local gateway answers, not DEFAULT_4XX's gateway_rejected", () => {
    const tooLarge = responses.get('REQUEST_TOO_LARGE');
    expect(tooLarge?.Properties.StatusCode).toBe('413');
    expect(JSON.parse(tooLarge?.Properties.ResponseTemplates['application/json'] as string).error).toMatchObject({
      type: 'invalid_request_error',
      code: 'request_too_large',
    });
  });

  it("the stage throttle's 429 is a rate_limit_error with retry-after, not DEFAULT_4XX's invalid_request_error", () => {
    const throttled = responses.get('THROTTLED');
    expect(throttled?.Properties.StatusCode).toBe('429');
    expect(JSON.parse(throttled?.Properties.ResponseTemplates['application/json'] as string).error.type).toBe('rate_limit_error');
    expect(throttled?.Properties.ResponseParameters['gatewayresponse.header.retry-after']).toBe("'1'");
  });
});

describe('least privilege', () => {
  const everyStatement = (s: Synth) =>
    ofType(s, 'AWS::IAM::Policy').flatMap(([, p]) => p.Properties.PolicyDocument.Statement as Statement[]);
  const full = synth({ jwtUpsertUser: true, upstreamSecretArns: ['tollgate/openai'], upstreamSecretPrefix: 'tollgate/upstream/' });

  it('no wildcard actions, no Scan, and `*` resources only for X-Ray', () => {
    for (const s of [base, full]) {
      for (const st of everyStatement(s)) {
        for (const a of actionsOf(st)) {
          expect(a).not.toMatch(/\*/);
          expect(a).not.toBe('dynamodb:Scan');
        }
        if (resourcesOf(st).includes('*')) expect(actionsOf(st).every((a) => a.startsWith('xray:'))).toBe(true);
      }
    }
  });

  it('every role is our own: no AWS managed policy on a function', () => {
    for (const fn of ALL_FUNCTIONS) expect(() => statementsOf(base, fn)).not.toThrow();
  });

  it('the authorizer only reads the base table (no index, no write) and the master key secret', () => {
    const sts = statementsOf(base, 'authorizer');
    expect(dynamoActions(sts)).toEqual(new Set(TABLE_READ));
    for (const st of dynamoStatements(sts)) expect(resourcesOf(st)).toEqual([tableArn(base)]);
    const services = new Set(sts.flatMap(actionsOf).map((a) => a.split(':')[0]));
    expect(services).toEqual(new Set(['logs', 'xray', 'dynamodb', 'secretsmanager']));
    const secretReads = sts.filter((st) => actionsOf(st).includes('secretsmanager:GetSecretValue'));
    expect(secretReads.flatMap(resourcesOf)).toEqual([{ Ref: logicalId(base, base.stack.secrets.masterKey.secret as Secret) }]);
    expect(sts.flatMap(actionsOf).filter((a) => a.startsWith('secretsmanager:'))).toEqual(['secretsmanager:GetSecretValue']);
  });

  it('with JWT user upsert, the authorizer may put user items and nothing else', () => {
    const writes = dynamoStatements(statementsOf(full, 'authorizer')).filter((st) =>
      actionsOf(st).some((a) => !(TABLE_READ as readonly string[]).includes(a)),
    );
    expect(writes).toHaveLength(1);
    expect(actionsOf(writes[0] as Statement)).toEqual(['dynamodb:PutItem']);
    expect(writes[0]?.Condition).toEqual({ 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['USER#*'] } });
  });

  it.each(SERVING_FUNCTIONS.filter((fn) => fn !== 'llm' && fn !== 'audit' && fn !== 'spend'))(
    'the %s function reads table and indexes and writes the table',
    (fn) => {
      const sts = dynamoStatements(statementsOf(base, fn));
      const reads = sts.filter((st) => actionsOf(st).includes('dynamodb:Query'));
      expect(reads.flatMap(resourcesOf)).toEqual([tableArn(base), ...TABLE_SCHEMA.indexes.map((i) => indexArn(base, i.name))]);
      expect(dynamoActions(sts)).toEqual(new Set([...TABLE_READ, ...TABLE_WRITE]));
      for (const st of sts.filter((x) => actionsOf(x).includes('dynamodb:PutItem'))) expect(resourcesOf(st)).toEqual([tableArn(base)]);
      expect(
        statementsOf(base, fn)
          .flatMap(actionsOf)
          .some((a) => a.startsWith('secretsmanager:')),
      ).toBe(false);
    },
  );

  it('the spend sweeper lists on GSI1, queries only its partitions of the table, reads what it listed, and only updates the table', () => {
    const sts = dynamoStatements(statementsOf(base, 'spend-sweeper'));
    expect(dynamoActions(sts)).toEqual(new Set(['dynamodb:Query', 'dynamodb:BatchGetItem', ...SWEEPER_WRITE, ...SWEEPER_KEY_COPY]));
    // A regenerated key's copy: its item read and (a tombstone) deleted, in key partitions only.
    const keyCopy = sts.filter((st) => actionsOf(st).includes('dynamodb:DeleteItem') || actionsOf(st).includes('dynamodb:GetItem'));
    expect(keyCopy.map((st) => [[...actionsOf(st)].sort(), resourcesOf(st), st.Condition])).toEqual([
      [[...SWEEPER_KEY_COPY].sort(), [tableArn(base)], { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['KEY#*'] } }],
    ]);
    const reads = sts.filter((st) => actionsOf(st).includes('dynamodb:BatchGetItem'));
    expect(reads.flatMap(resourcesOf)).toEqual([tableArn(base)]);
    expect(reads[0]?.Condition).toEqual({ 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': [...SWEEP_READ_PARTITIONS] } });
    const queries = sts.filter((st) => actionsOf(st).includes('dynamodb:Query'));
    expect(queries.flatMap(resourcesOf)).toEqual([indexArn(base, 'GSI1'), tableArn(base)]);
    // On the base table: the proxy's partition, the tidy cursor, teams (members, shards), shards of keys and organizations.
    const onTable = queries.find((st) => JSON.stringify(resourcesOf(st)) === JSON.stringify([tableArn(base)]));
    expect(onTable?.Condition).toEqual({ 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': [...TIDY_PARTITIONS] } });
    expect(TIDY_PARTITIONS).toEqual(['GLOBAL', 'SWEEP', 'TEAM#*', 'KEY#*', 'ORG#*']);
    expect(queries.find((st) => st !== onTable)?.Condition).toBeUndefined();
    expect(sts.filter((st) => actionsOf(st).includes('dynamodb:UpdateItem')).flatMap(resourcesOf)).toEqual([tableArn(base)]);
  });

  it('the spend sweeper updates only counters, reservation records and its tidy cursor', () => {
    const updates = dynamoStatements(statementsOf(base, 'spend-sweeper')).filter((st) => actionsOf(st).includes('dynamodb:UpdateItem'));
    expect(updates.map((st) => [actionsOf(st), st.Condition])).toEqual([
      [['dynamodb:UpdateItem'], { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': [...SWEEPER_UPDATE_PREFIXES] } }],
    ]);
    expect(SWEEPER_UPDATE_PREFIXES).toEqual(['KEY#*', 'USER#*', 'TEAM#*', 'ORG#*', 'END_USER#*', 'GLOBAL', 'REQ#*', 'SWEEP']);
  });

  it.each(['audit', 'spend'] as const)('the %s function only reads', (fn) => {
    expect(dynamoActions(statementsOf(base, fn))).toEqual(new Set(TABLE_READ));
  });

  it('the table-stream function reads settlements by key, puts only spend-log items and ledger markers, and adds to counters', () => {
    const sts = dynamoStatements(statementsOf(base, 'table-stream'));
    const writes = sts.filter((st) => actionsOf(st).includes('dynamodb:PutItem'));
    expect(writes.map((st) => st.Condition)).toEqual([
      { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['SPENDLOG#*', 'SPENDROLL#*', 'SPENDROLLED#*', 'SPENDAPPLIED#*'] } },
    ]);
    // No write is unconditioned: counters (in either layout) and rollups are updated in their partitions only.
    const tableWrites = (list: typeof sts) =>
      list
        .filter((st) => !st.Condition)
        .flatMap((st) => actionsOf(st).filter((a) => a.endsWith('Item') && a !== 'dynamodb:GetItem' && a !== 'dynamodb:BatchGetItem'));
    expect(tableWrites(sts)).toEqual([]);
    expect(sts.filter((st) => actionsOf(st).includes('dynamodb:UpdateItem')).map((st) => [actionsOf(st), st.Condition])).toEqual([
      [['dynamodb:UpdateItem'], { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['ALERT#*'] } }],
      [['dynamodb:UpdateItem'], { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': [...TABLE_STREAM_UPDATE_PREFIXES] } }],
    ]);
    expect(TABLE_STREAM_UPDATE_PREFIXES).toEqual([...COUNTER_PARTITIONS, 'SPENDROLL#*']);
    // Nothing the ledger does needs a condition check of its own.
    expect(dynamoActions(sts).has('dynamodb:ConditionCheckItem')).toBe(false);
    // Nothing is deleted: a claim is given back by an update, and markers expire by TTL.
    expect(dynamoActions(sts).has('dynamodb:DeleteItem')).toBe(false);
    const mapping = ofType(base, 'AWS::Lambda::EventSourceMapping').find(([, r]) =>
      JSON.stringify(r.Properties.FunctionName).includes(fnId(base, 'table-stream')),
    );
    expect(mapping?.[1].Properties).toMatchObject({
      StartingPosition: 'TRIM_HORIZON',
      BisectBatchOnFunctionError: true,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      BatchSize: 100,
      // Retried until it lands (or the stream drops it after 24 hours): a counter batch is never given up early.
      MaximumRetryAttempts: -1,
      // Only settled settlements invoke it, by the same pattern the local poller applies (the
      // integration test counter-ledger.test.ts checks it lets through every record a consumer reads).
      FilterCriteria: { Filters: [{ Pattern: JSON.stringify(SETTLED_RECORD_FILTER) }] },
    });
    expect(JSON.stringify(mapping?.[1].Properties.DestinationConfig)).toContain(logicalId(base, base.stack.tableStreamFailures));
    const table = ofType(base, 'AWS::DynamoDB::GlobalTable')[0]?.[1] ?? ofType(base, 'AWS::DynamoDB::Table')[0]?.[1];
    expect(table?.Properties.StreamSpecification).toEqual({ StreamViewType: 'NEW_AND_OLD_IMAGES' });
  });

  it('with counters in the transaction, the table-stream function still adds the ledger records it finds (those written before a switch from stream)', () => {
    // lib/app/spend's consumers add every ledger record the stream brings, whatever the layout now.
    const sts = dynamoStatements(statementsOf(synth({ spendCounters: 'transaction' }), 'table-stream'));
    const puts = sts.filter((st) => actionsOf(st).includes('dynamodb:PutItem'));
    expect(JSON.stringify(puts.map((st) => st.Condition))).toContain('SPENDAPPLIED#*');
    expect(
      sts.some(
        (st) =>
          actionsOf(st).includes('dynamodb:UpdateItem') &&
          JSON.stringify(st.Condition) ===
            JSON.stringify({ 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': [...TABLE_STREAM_UPDATE_PREFIXES] } }),
      ),
    ).toBe(true);
  });

  it('the table-stream function may do what its consumers do: alerts read the entities (BatchGetItem) and claim, confirm and give back their markers (UpdateItem only)', () => {
    const sts = dynamoStatements(statementsOf(base, 'table-stream'));
    // Whether some statement allows `action` on the table for an item whose partition key is `pk`.
    const allows = (action: string, pk: string) =>
      sts.some((st) => {
        if (!actionsOf(st).includes(action) || JSON.stringify(resourcesOf(st)) !== JSON.stringify([tableArn(base)])) return false;
        if (!st.Condition) return true;
        const patterns =
          (st.Condition as Record<string, Record<string, string[]>>)['ForAllValues:StringLike']?.['dynamodb:LeadingKeys'] ?? [];
        return patterns.some((p) => new RegExp(`^${p.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}$`).test(pk));
      });
    const marker = alertRef('key', 'hash-1', '1d:20300', 'max').PK;
    for (const s of [base, synth({ spendCounters: 'transaction' })]) {
      const fnSts = dynamoStatements(statementsOf(s, 'table-stream'));
      expect(dynamoActions(fnSts).has('dynamodb:BatchGetItem')).toBe(true);
    }
    expect(allows('dynamodb:BatchGetItem', refs.key('hash-1').PK)).toBe(true);
    expect(allows('dynamodb:UpdateItem', marker)).toBe(true);
    // lib/store/alerts issues only UpdateItem on a marker: it is never put whole nor deleted.
    expect(allows('dynamodb:PutItem', marker)).toBe(false);
    expect(allows('dynamodb:DeleteItem', marker)).toBe(false);
    expect(allows('dynamodb:DeleteItem', refs.key('hash-1').PK)).toBe(false);
    expect(allows('dynamodb:PutItem', refs.key('hash-1').PK)).toBe(false);
  });

  it('the llm function reads, records spend, and reads only the upstream secrets', () => {
    const sts = statementsOf(full, 'llm');
    expect(dynamoActions(sts)).toEqual(new Set([...TABLE_READ, ...SPEND_WRITE, 'dynamodb:DeleteItem']));
    // It deletes only the owner records of upstream objects it relays the deletion of.
    const deletes = sts.filter((st) => actionsOf(st).includes('dynamodb:DeleteItem'));
    expect(deletes.map((st) => [actionsOf(st), st.Condition])).toEqual([
      [['dynamodb:DeleteItem', 'dynamodb:PutItem'], { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['OBJECT#*'] } }],
    ]);
    const secretResources = sts
      .filter((st) => actionsOf(st).includes('secretsmanager:GetSecretValue'))
      .flatMap(resourcesOf)
      .map((r) => JSON.stringify(r));
    expect(secretResources).toHaveLength(2);
    expect(secretResources.some((r) => r.includes(':secret:tollgate/openai-??????'))).toBe(true);
    expect(secretResources.some((r) => r.includes(':secret:tollgate/upstream/*'))).toBe(true);
    expect(JSON.stringify(sts)).not.toContain('MasterKey');
  });

  // Whether some statement of `sts` allows `action` on the table for an item whose partition key is `pk`.
  const allowsOnTable = (s: Synth, sts: Statement[], action: string, pk: string) =>
    sts.some((st) => {
      if (!actionsOf(st).includes(action) || JSON.stringify(resourcesOf(st)) !== JSON.stringify([tableArn(s)])) return false;
      if (!st.Condition) return true;
      const patterns =
        (st.Condition as Record<string, Record<string, string[]>>)['ForAllValues:StringLike']?.['dynamodb:LeadingKeys'] ?? [];
      return patterns.some((p) => new RegExp(`^${p.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}$`).test(pk));
    });
  const ENTITY_WRITERS: ReadonlySet<DeployedFunction> = new Set(
    SERVING_FUNCTIONS.filter((fn) => fn !== 'llm' && fn !== 'audit' && fn !== 'spend'),
  );

  it.each(['base', 'full', 'transaction counters'] as const)(
    'only the entity functions may put, delete or batch-write any item: every other such grant is limited to its own key prefixes (%s)',
    (which) => {
      const s = which === 'base' ? base : which === 'full' ? full : synth({ spendCounters: 'transaction' });
      const whole = ['dynamodb:PutItem', 'dynamodb:DeleteItem', 'dynamodb:BatchWriteItem'];
      for (const fn of ALL_FUNCTIONS.filter((f) => !ENTITY_WRITERS.has(f))) {
        for (const st of dynamoStatements(statementsOf(s, fn))) {
          if (!actionsOf(st).some((a) => whole.includes(a))) continue;
          expect({ fn, condition: st.Condition }).toEqual({
            fn,
            condition: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': expect.any(Array) } },
          });
        }
      }
    },
  );

  it.each(['llm', 'settlement-replay'] as const)(
    "the %s function puts only settlement records and upstream objects' owner records (the replay: those kept in its journal), never an admin item",
    (fn) => {
      for (const s of [base, synth({ spendCounters: 'transaction' })]) {
        const sts = dynamoStatements(statementsOf(s, fn));
        expect(allowsOnTable(s, sts, 'dynamodb:PutItem', refs.settlement('req-1').PK)).toBe(true);
        expect(allowsOnTable(s, sts, 'dynamodb:PutItem', objectRef('file-1').PK)).toBe(true);
        expect(allowsOnTable(s, sts, 'dynamodb:DeleteItem', objectRef('file-1').PK)).toBe(fn === 'llm');
        for (const admin of [
          refs.key('hash-1'),
          refs.user('u-1'),
          refs.team('t-1'),
          refs.org('o-1'),
          refs.endUser('e-1'),
          refs.budget('b-1'),
          refs.model('gpt-4o'),
          refs.keyAlias('a'),
          refs.globalSpend(),
        ]) {
          expect({ pk: admin.PK, put: allowsOnTable(s, sts, 'dynamodb:PutItem', admin.PK) }).toEqual({ pk: admin.PK, put: false });
        }
      }
    },
  );

  it.each([
    ['llm', LLM_UPDATE_PREFIXES],
    ['settlement-replay', SETTLEMENT_UPDATE_PREFIXES],
  ] as const)(
    'the %s function updates only counters, settlement records (and the llm: rate limits, owner records), never an admin item',
    (fn, prefixes) => {
      for (const s of [base, full, synth({ spendCounters: 'transaction' })]) {
        const sts = dynamoStatements(statementsOf(s, fn));
        expect(
          sts.filter((st) => actionsOf(st).includes('dynamodb:UpdateItem')).map((st) => [actionsOf(st), resourcesOf(st), st.Condition]),
        ).toEqual([[['dynamodb:UpdateItem'], [tableArn(s)], { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': [...prefixes] } }]]);
        // A condition check changes nothing (a strict reservation checks the reusable budget an end user follows).
        expect(allowsOnTable(s, sts, 'dynamodb:ConditionCheckItem', refs.budget('b-1').PK)).toBe(true);
        for (const counter of [
          refs.key('h'),
          refs.user('u'),
          refs.member('t', 'u'),
          refs.org('o'),
          refs.endUser('e'),
          refs.globalSpend(),
          refs.settlement('r'),
        ])
          expect({ pk: counter.PK, update: allowsOnTable(s, sts, 'dynamodb:UpdateItem', counter.PK) }).toEqual({
            pk: counter.PK,
            update: true,
          });
        for (const [pk, llmOnly] of [
          [rateRefs.parallel({ owner: 'key', id: 'h', parallel: 1 }).PK, true],
          [objectRef('file-1').PK, true],
        ] as const)
          expect({ pk, update: allowsOnTable(s, sts, 'dynamodb:UpdateItem', pk) }).toEqual({ pk, update: fn === 'llm' && llmOnly });
        for (const admin of [
          refs.budget('b-1'),
          refs.model('gpt-4o'),
          refs.modelAlias('a'),
          refs.keyAlias('a'),
          refs.readiness(),
          { PK: 'AUDIT#2026-01-01', SK: 'x' },
          { PK: 'SWEEP', SK: 'TIDY' },
          alertRef('key', 'h', '1d', 'max'),
        ])
          expect({ pk: admin.PK, update: allowsOnTable(s, sts, 'dynamodb:UpdateItem', admin.PK) }).toEqual({ pk: admin.PK, update: false });
      }
    },
  );

  it("every allowlist of counters is the partitions counters live in, and the prefixes are lib/store's", () => {
    expect(COUNTER_PARTITIONS).toEqual(['KEY#*', 'USER#*', 'TEAM#*', 'ORG#*', 'END_USER#*', 'GLOBAL']);
    expect(SETTLEMENT_UPDATE_PREFIXES).toEqual([...COUNTER_PARTITIONS, 'REQ#*']);
    expect(LLM_UPDATE_PREFIXES).toEqual([...SETTLEMENT_UPDATE_PREFIXES, 'RATE#*', 'OBJECT#*']);
  });

  it("the master key the stack makes is 48 letters and digits, each kind included by default: a key to lib/domain/secrets; the generator never changes (CloudFormation would replace an existing stack's key)", () => {
    const [[, secret] = []] = ofType(base, 'AWS::SecretsManager::Secret');
    expect(secret?.Properties.GenerateSecretString).toEqual({ PasswordLength: 48, ExcludePunctuation: true, IncludeSpace: false });
  });

  it('a given master key secret is used, not created', () => {
    const arn = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:tollgate/master-AbCdEf';
    const s = synth({ masterKeySecretArn: arn });
    expect(ofType(s, 'AWS::SecretsManager::Secret')).toHaveLength(0);
    expect(lambdaOf(s, 'authorizer').Properties.Environment.Variables.TOLLGATE_MASTER_KEY_SECRET_ARN).toBe(arn);
    const reads = statementsOf(s, 'authorizer').filter((st) => actionsOf(st).includes('secretsmanager:GetSecretValue'));
    expect(reads.flatMap(resourcesOf)).toEqual([arn]);
    expect(ofType(base, 'AWS::SecretsManager::Secret')).toHaveLength(1);
  });
});

describe('outputs', () => {
  it('name the API URL, the console URL, the table, the master key secret and every function', () => {
    const outputs = base.template.toJSON().Outputs as Record<string, { Value: unknown }>;
    const pascal = (s: string) =>
      s
        .split('-')
        .map((w) => w.charAt(0).toUpperCase() + w.slice(1))
        .join('');
    expect(Object.keys(outputs).sort()).toEqual(
      ['ApiUrl', 'ConsoleUrl', 'TableName', 'MasterKeySecretArn', ...ALL_FUNCTIONS.map((fn) => `${pascal(fn)}FunctionName`)].sort(),
    );
    expect(outputs.TableName?.Value).toEqual({ Ref: tableId(base) });
    for (const fn of ALL_FUNCTIONS) expect(outputs[`${pascal(fn)}FunctionName`]?.Value).toEqual({ Ref: fnId(base, fn) });
    expect(JSON.stringify(outputs.ApiUrl?.Value)).toContain('.execute-api.');
  });
});

describe('options from CDK context', () => {
  it('are read under their own names, as the strings `-c name=value` gives', () => {
    const s = synth(
      {},
      {
        maxBudget: '25',
        enforceUserParam: 'true',
        jwtIssuer: 'https://a.example,https://b.example',
        jwtJwksUri: 'https://a.example/jwks,https://b.example/jwks',
        authorizerResultTtlSeconds: '30',
      },
    );
    const env = lambdaOf(s, 'authorizer').Properties.Environment.Variables as Record<string, string>;
    expect(env.TOLLGATE_MAX_BUDGET).toBe('25');
    expect(env.TOLLGATE_ENFORCE_USER_PARAM).toBe('true');
    expect(env.TOLLGATE_JWT_ISSUER).toBe('https://a.example,https://b.example');
    const [[, a]] = ofType(s, 'AWS::ApiGateway::Authorizer') as [[string, CfnResource]];
    expect(a.Properties.AuthorizerResultTtlInSeconds).toBe(30);
  });

  it('stack props win over context', () => {
    const s = synth({ maxBudget: 10 }, { maxBudget: '25' });
    expect(lambdaOf(s, 'llm').Properties.Environment.Variables.TOLLGATE_MAX_BUDGET).toBe('10');
  });

  it('a bad value stops the synth with the option named', () => {
    expect(() => synth({}, { logRetentionDays: '10' })).toThrow(/logRetentionDays/);
  });
});

describe('cdk-nag AwsSolutions', () => {
  const violations = (s: Synth) =>
    new AwsSolutionsChecks()
      .validateScope(s.stack)
      .violations.map((v) => `${v.ruleName} at ${v.violatingResources.map((r) => r.constructPath).join(', ')}`);

  it('reports nothing unacknowledged with the defaults', () => {
    expect(violations(base)).toEqual([]);
  });

  it('reports nothing unacknowledged with every optional feature on, or logging off', () => {
    const s = synth({
      jwtUpsertUser: true,
      upstreamSecretArns: ['tollgate/openai'],
      upstreamSecretPrefix: 'tollgate/upstream/',
      authorizerResultTtlSeconds: 300,
      masterKeySecretArn: 'tollgate/master',
      webAclArn: 'arn:aws:wafv2:us-east-1:123456789012:regional/webacl/tollgate/0123',
      spendLogExport: true,
      alertEmail: 'ops@example.com',
      alarmEmail: 'oncall@example.com',
      alertSlackSecretArn: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:tollgate/slack-AbCdEf',
      bedrockModels: ['anthropic.claude-3-5-haiku-20241022-v1:0'],
    });
    expect(violations(s)).toEqual([]);
    expect(violations(synth({ apiLogging: false }))).toEqual([]);
    expect(violations(synth({ tracing: false }))).toEqual([]);
  });

  it("the public routes' APIG4 acknowledgements say what each reaches: /health no function, /health/readiness the spend function and the table", () => {
    const reasons = new Map<string, string>();
    for (const m of base.stack.api.api.methods)
      for (const entry of m.node.metadata.filter((e) => e.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY))
        for (const [id, reason] of Object.entries(entry.data as Record<string, string>))
          if (id.endsWith('APIG4')) reasons.set(`${m.httpMethod} ${m.resource.path}`, reason);
    const publicRoutes = routes.filter((r) => r.group === 'public').flatMap((r) => r.methods.map((v) => `${v} ${r.path}`));
    expect([...reasons.keys()].sort()).toEqual(publicRoutes.sort());
    expect(reasons.get('GET /health')).toMatch(/reaching no function/);
    expect(reasons.get('GET /health/liveliness')).toMatch(/reaching no function/);
    const readiness = reasons.get('GET /health/readiness');
    expect(readiness).not.toMatch(/no function/);
    expect(readiness).toMatch(/invokes the spend function, which reads one table item by key/);
  });

  it('still catches what nobody acknowledged, and fails the synth for it', () => {
    const s = synth();
    new Secret(s.stack, 'Unrotated');
    expect(violations(s)).toEqual(['AwsSolutions-SMG4 at Tollgate/Unrotated/Resource']);

    const outdir = mkdtempSync(join(tmpdir(), 'tollgate-nag-'));
    try {
      const app = new App({ outdir, context: { 'aws:cdk:bundling-stacks': [] }, builtinCloudFormationValidation: false });
      const stack = new TollgateStack(app, 'Tollgate');
      new Secret(stack, 'Unrotated');
      Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
      expect(() => app.synth()).toThrow(/AwsSolutions-SMG4/);
    } finally {
      rmSync(outdir, { recursive: true, force: true });
    }
  });
});
