/**
 * Tollgate in one stack: the table, one function per FunctionName of lib/routes plus the
 * authorizer, the scheduled spend sweeper and the settlement replay (with its queue), the REST API in front of them, and the
 * secrets they read. Options come from
 * stack props, else from CDK context under the same names (docs/deploy.md lists them).
 */

import { CfnOutput, Duration, RemovalPolicy, Stack, type StackProps, Validations } from 'aws-cdk-lib';
import { Rule, RuleTargetInput, Schedule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction } from 'aws-cdk-lib/aws-events-targets';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { FilterCriteria, StartingPosition } from 'aws-cdk-lib/aws-lambda';
import { DynamoEventSource, SqsDlq } from 'aws-cdk-lib/aws-lambda-event-sources';
import { BlockPublicAccess, Bucket, BucketEncryption, ObjectOwnership } from 'aws-cdk-lib/aws-s3';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { BILL_PENDING_EVENT, PENDING_SWEEP_EVERY_MINUTES } from '../lib/domain/tenancy.js';
import { type FunctionName, routes } from '../lib/routes.js';
import { INDEX } from '../lib/store/keys.js';
import { SETTLED_RECORD_FILTER, TABLE_STREAM_BATCH } from '../lib/store/spend-ledger.js';
import { SWEEP_EVERY_MINUTES, SWEEP_READ_PARTITIONS, TIDY_PARTITIONS } from '../lib/store/sweep.js';
import {
  grantAuthorizerAccess,
  grantEntityAccess,
  grantLlmAccess,
  grantReplayAccess,
  grantSecretRead,
  grantSweeperAccess,
  grantTableStreamAccess,
} from './constructs/access.js';
import { TollgateApi } from './constructs/api.js';
import { grantBedrockInvoke } from './constructs/bedrock.js';
import { TollgateConsole } from './constructs/console.js';
import { authorizerEnvironment, llmEnvironment, sharedEnvironment } from './constructs/environment.js';
import { TollgateFunction } from './constructs/function.js';
import { TollgateObservability } from './constructs/observability.js';
import { optionsFromContext, type ResolvedOptions, resolveOptions, type TollgateOptions } from './constructs/options.js';
import { TollgateSecrets } from './constructs/secrets.js';
import { SettlementQueue } from './constructs/settlement-queue.js';
import { TollgateTable } from './constructs/table.js';
import { AUTHORIZER_TIMEOUT_SECONDS, BUFFERED_FUNCTION_TIMEOUT_SECONDS } from './timeouts.js';

/** A function that serves routes: every FunctionName but 'health' (API Gateway answers that). */
export type ServingFunction = Exclude<FunctionName, 'health'>;
export type DeployedFunction = ServingFunction | 'authorizer' | 'spend-sweeper' | 'settlement-replay' | 'table-stream';

/** How often the sweeper releases expired strict reservations and tidies ended windows (lib/store/sweep). */
export const SWEEP_EVERY = Duration.minutes(SWEEP_EVERY_MINUTES);

/** Derived from the route table, so a new function there becomes a Lambda here. */
export const SERVING_FUNCTIONS: readonly ServingFunction[] = [
  ...new Set(routes.map((r) => r.fn).filter((fn): fn is ServingFunction => fn !== 'health')),
];

/** Entity functions that only read (everything else that manages entities also writes). */
const READ_ONLY: ReadonlySet<ServingFunction> = new Set(['audit', 'spend']);

export interface TollgateStackProps extends StackProps {
  /** Options in code; any option left out is taken from CDK context, then from its default. */
  options?: TollgateOptions;
}

export class TollgateStack extends Stack {
  readonly options: ResolvedOptions;
  readonly table: TollgateTable;
  readonly secrets: TollgateSecrets;
  readonly functions: ReadonlyMap<DeployedFunction, TollgateFunction>;
  readonly settlements: SettlementQueue;
  readonly observability: TollgateObservability;
  /** With `spendLogExport`: where every spend log is kept. */
  readonly spendLogBucket: Bucket | undefined;
  /** Stream batches the table-stream function gave up on (their records' metadata). */
  readonly tableStreamFailures: Queue;
  readonly api: TollgateApi;
  readonly console: TollgateConsole;

  constructor(scope: Construct, id: string, props: TollgateStackProps = {}) {
    super(scope, id, props);
    const given = Object.fromEntries(Object.entries(props.options ?? {}).filter(([, v]) => v !== undefined));
    const o = resolveOptions({ ...optionsFromContext((k) => this.node.tryGetContext(k)), ...given });
    this.options = o;

    this.table = new TollgateTable(this, 'Store', { deletionProtection: o.tableDeletionProtection, removalPolicy: o.tableRemovalPolicy });
    const table = { tableArn: this.table.table.tableArn, indexArns: this.table.indexArns };
    const tableName = this.table.table.tableName;
    this.secrets = new TollgateSecrets(this, 'Secrets', {
      masterKeySecretArn: o.masterKeySecretArn,
      upstreamSecretArns: o.upstreamSecretArns,
      upstreamSecretPrefix: o.upstreamSecretPrefix,
    });

    const common = { logRetention: o.logRetention, sourceMaps: o.sourceMaps, tracing: o.tracing };
    const functions = new Map<DeployedFunction, TollgateFunction>();

    const authorizer = new TollgateFunction(this, 'AuthorizerFn', {
      ...common,
      name: 'authorizer',
      description: 'Tollgate REQUEST authorizer: identity, route, budgets',
      environment: authorizerEnvironment(o, tableName, this.secrets.masterKey.id),
      timeout: Duration.seconds(AUTHORIZER_TIMEOUT_SECONDS),
      memorySize: 1024,
    });
    grantAuthorizerAccess(authorizer.role, table, { upsertUser: o.jwtUpsertUser });
    grantSecretRead(authorizer.role, [this.secrets.masterKey.secret]);
    functions.set('authorizer', authorizer);

    for (const fn of SERVING_FUNCTIONS) {
      const isLlm = fn === 'llm';
      const f = new TollgateFunction(this, `${pascal(fn)}Fn`, {
        ...common,
        name: fn,
        description: isLlm
          ? 'Tollgate LLM routes: body checks, forwarding, streaming, spend'
          : `Tollgate ${fn} admin function (API and direct invocation)`,
        environment: isLlm ? llmEnvironment(o, tableName) : sharedEnvironment(o, tableName),
        timeout: Duration.seconds(isLlm ? o.llmTimeoutSeconds : BUFFERED_FUNCTION_TIMEOUT_SECONDS),
        memorySize: isLlm ? 1024 : 512,
      });
      if (isLlm) {
        grantLlmAccess(f.role, table);
        grantBedrockInvoke(f.role, o.bedrockModels);
        grantSecretRead(
          f.role,
          this.secrets.upstream.map((s) => s.secret),
        );
        if (this.secrets.upstreamPrefixArn) {
          f.role.addToPrincipalPolicy(
            new PolicyStatement({ actions: ['secretsmanager:GetSecretValue'], resources: [this.secrets.upstreamPrefixArn] }),
          );
          Validations.of(f.role).acknowledge({
            id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:secretsmanager:<AWS::Region>:<AWS::AccountId>:secret:${o.upstreamSecretPrefix}*]`,
            reason:
              'upstreamSecretPrefix: models added at run time name their upstream secret under this prefix, so the set is not known at deploy time; the prefix is the scope.',
          });
        }
      } else {
        grantEntityAccess(f.role, table, { write: !READ_ONLY.has(fn) });
      }
      functions.set(fn, f);
    }
    // Pending objects nobody read (a background response, a batch, a run) are read and billed by the
    // llm function on a schedule (lib/llm/pending): it has the upstreams' keys and the read path.
    // Its only asynchronous invocations are the schedule's: not retried (the next run covers a failed one).
    (functions.get('llm') as TollgateFunction).function.configureAsyncInvoke({ retryAttempts: 0 });
    new Rule(this, 'PendingBillsSchedule', {
      schedule: Schedule.rate(Duration.minutes(PENDING_SWEEP_EVERY_MINUTES)),
      targets: [
        new LambdaFunction((functions.get('llm') as TollgateFunction).function, {
          event: RuleTargetInput.fromObject(BILL_PENDING_EVENT),
          retryAttempts: 0,
        }),
      ],
    });
    const sweeper = new TollgateFunction(this, 'SpendSweeperFn', {
      ...common,
      name: 'spend-sweeper',
      description: 'Tollgate: releases strict-mode reservations whose call never settled, tidies ended budget windows',
      environment: sharedEnvironment(o, tableName),
      timeout: Duration.minutes(2),
      memorySize: 256,
    });
    grantSweeperAccess(sweeper.role, table, `${this.table.table.tableArn}/index/${INDEX.byKind}`, TIDY_PARTITIONS, SWEEP_READ_PARTITIONS);
    // Only its schedule invokes it asynchronously: a failed run is not retried. The next run, 5
    // minutes later, does the same idempotent work (the tidy pass from its saved cursor); Lambda's
    // retries, a minute or two later, would only repeat it early, on a table that may have failed
    // it by throttling, and count one failure three times in the errors alarm.
    sweeper.function.configureAsyncInvoke({ retryAttempts: 0 });
    new Rule(this, 'SpendSweeperSchedule', {
      schedule: Schedule.rate(SWEEP_EVERY),
      targets: [new LambdaFunction(sweeper.function, { retryAttempts: 0 })],
    });
    functions.set('spend-sweeper', sweeper);

    // Settlements DynamoDB refused wait in a queue and are replayed (lib/store/settlement-journal).
    const replay = new TollgateFunction(this, 'SettlementReplayFn', {
      ...common,
      name: 'settlement-replay',
      description: 'Tollgate: writes settlements the llm function could not write (from the settlement queue)',
      environment: sharedEnvironment(o, tableName),
      timeout: Duration.seconds(30),
      memorySize: 256,
    });
    grantReplayAccess(replay.role, table);
    functions.set('settlement-replay', replay);
    this.settlements = new SettlementQueue(this, 'Settlements', {
      consumer: replay,
      producers: [functions.get('llm') as TollgateFunction],
    });
    // Spend logs and daily rollups, from the table's stream (functions/table-stream).
    const tableStream = new TollgateFunction(this, 'TableStreamFn', {
      ...common,
      name: 'table-stream',
      description:
        "Tollgate: adds ledger settlements into the counters, indexes spend logs, rolls them up and announces budget alerts, from the table's stream",
      environment: sharedEnvironment(o, tableName),
      timeout: Duration.minutes(1),
      memorySize: 256,
    });
    grantTableStreamAccess(tableStream.role, table);
    this.tableStreamFailures = new Queue(this, 'TableStreamFailures', {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    Validations.of(this.tableStreamFailures).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason:
        "This queue is the dead-letter destination of the table stream's event source mapping: a queue for failures has none of its own.",
    });
    tableStream.function.addEventSource(
      new DynamoEventSource(this.table.table, {
        startingPosition: StartingPosition.TRIM_HORIZON,
        batchSize: TABLE_STREAM_BATCH.records,
        maxBatchingWindow: Duration.seconds(TABLE_STREAM_BATCH.windowSeconds),
        bisectBatchOnError: true,
        reportBatchItemFailures: true,
        // Until it lands or the stream drops it (24 hours): with counters from the stream a batch
        // given up is spend not counted. The iterator-age alarm says when a batch is stuck.
        retryAttempts: -1,
        onFailure: new SqsDlq(this.tableStreamFailures),
        // Only settled settlements invoke it: the table's other writes (about a dozen stream
        // records per settled call: counters, spend-log index items, markers, rollups) are
        // dropped by the mapping, at no charge, instead of each invocation reading them to skip.
        filters: [FilterCriteria.filter(SETTLED_RECORD_FILTER)],
      }),
    );
    functions.set('table-stream', tableStream);
    // Spend logs beyond the table's retention (lib/spend/export): a private bucket, one object per request.
    if (o.spendLogExport) {
      this.spendLogBucket = new Bucket(this, 'SpendLogExport', {
        blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
        encryption: BucketEncryption.S3_MANAGED,
        enforceSSL: true,
        objectOwnership: ObjectOwnership.BUCKET_OWNER_ENFORCED,
        removalPolicy: RemovalPolicy.RETAIN,
      });
      Validations.of(this.spendLogBucket).acknowledge({
        id: 'AwsSolutions-S1',
        reason:
          'Written only by the table-stream function (its role), read by whoever the deployment grants; CloudTrail data events are the deployment’s choice.',
      });
      tableStream.role.addToPrincipalPolicy(
        new PolicyStatement({ actions: ['s3:PutObject'], resources: [this.spendLogBucket.arnForObjects('spend-logs/*')] }),
      );
      Validations.of(tableStream.role).acknowledge({
        id: `AwsSolutions-IAM5[Resource::<${this.getLogicalId(this.spendLogBucket.node.defaultChild as never)}.Arn>/spend-logs/*]`,
        reason: 'One object per request, named by its day and request id at run time: the prefix is the scope; the function only puts.',
      });
      tableStream.function.addEnvironment('TOLLGATE_SPEND_LOG_EXPORT_BUCKET', this.spendLogBucket.bucketName);
      new CfnOutput(this, 'SpendLogBucket', {
        value: this.spendLogBucket.bucketName,
        description: 'Spend logs by day (spend-logs/dt=YYYY-MM-DD/), for Athena',
      });
    }
    this.functions = functions;

    const serving = new Map<FunctionName, TollgateFunction['function']>();
    for (const fn of SERVING_FUNCTIONS) serving.set(fn, (functions.get(fn) as TollgateFunction).function);
    this.api = new TollgateApi(this, 'Gateway', {
      functions: serving,
      authorizer: authorizer.function,
      authorizerResultTtlSeconds: o.authorizerResultTtlSeconds,
      authorizerIdentityHeader: o.authorizerIdentityHeader,
      stageName: o.stageName,
      llmTimeout: Duration.seconds(o.llmTimeoutSeconds),
      logging: o.apiLogging,
      tracing: o.tracing,
      cloudWatchRole: o.apiGatewayCloudWatchRole,
      logRetention: o.logRetention,
      webAclArn: o.webAclArn,
      throttle: { rateLimit: o.throttleRateLimit, burstLimit: o.throttleBurstLimit },
      wafRateLimit: o.wafRateLimit,
    });
    if (o.apiLogging && o.apiGatewayCloudWatchRole) {
      Validations.of(this.api.api).acknowledge({
        id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]',
        reason: "API Gateway's account-wide logging role: AWS's own managed policy for exactly this role.",
      });
    }

    // Budget alerts, the dashboard and the alarms (infra/constructs/observability.ts).
    this.observability = new TollgateObservability(this, 'Observability', {
      options: o,
      api: this.api.api,
      table: this.table.table,
      functions,
      alerter: tableStream,
      moreAlarms: [this.settlements.waitingAlarm, this.settlements.deadLetterAlarm],
      streamFailures: this.tableStreamFailures,
    });

    // The admin console on CloudFront, with the API behind the same origin (docs/deploy.md).
    this.console = new TollgateConsole(this, 'Console', { api: this.api.api, logRetention: o.logRetention, oidc: o.consoleOidc });

    new CfnOutput(this, 'ConsoleUrl', { value: this.console.url, description: 'The admin console; the API answers on the same origin' });
    new CfnOutput(this, 'ApiUrl', { value: this.api.api.url, description: 'Base URL (the stage); OpenAI clients use <ApiUrl>v1' });
    new CfnOutput(this, 'TableName', { value: tableName });
    new CfnOutput(this, 'MasterKeySecretArn', {
      value: this.secrets.masterKey.secret.secretArn,
      description: this.secrets.masterKeyCreated
        ? 'Created by the stack: aws secretsmanager get-secret-value --secret-id <this>'
        : 'The secret given in masterKeySecretArn',
    });
    for (const [fn, f] of functions) {
      new CfnOutput(this, `${pascal(fn)}FunctionName`, {
        value: f.function.functionName,
        description: `Invoke from the console with functions/${fn}/events/*.json`,
      });
    }
  }
}

const pascal = (s: string): string =>
  s
    .split('-')
    .map((w) => w.charAt(0).toUpperCase() + w.slice(1))
    .join('');
