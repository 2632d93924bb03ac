/**
 * One Lambda function of Tollgate: bundled by the local esbuild exactly as infra/bundling.ts
 * says (the benchmark measures the same bundle), nodejs24.x on ARM64, X-Ray active, its own
 * log group with a retention, and its own role that may write to that log group and nothing
 * else until the stack grants more.
 */

import { join } from 'node:path';
import { type Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import { PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Architecture, Runtime, Tracing } from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, type RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { esbuildOptions, functionEntry, lazyModuleCommands, PROJECT_ROOT } from '../bundling.js';

export interface TollgateFunctionProps {
  /** The folder under functions/ that holds handler.ts. */
  name: string;
  description: string;
  environment: Record<string, string>;
  timeout: Duration;
  memorySize: number;
  logRetention: RetentionDays;
  sourceMaps: boolean;
  /** X-Ray active tracing (the tracing option). */
  tracing: boolean;
}

export class TollgateFunction extends Construct {
  readonly function: NodejsFunction;
  readonly role: Role;
  readonly logGroup: LogGroup;

  constructor(scope: Construct, id: string, props: TollgateFunctionProps) {
    super(scope, id);
    const build = esbuildOptions(props.name);

    this.logGroup = new LogGroup(this, 'Logs', {
      retention: props.logRetention,
      // Logs outlive a deleted stack only if someone asks; they never hold credentials.
      removalPolicy: RemovalPolicy.DESTROY,
    });

    // A role of our own instead of AWSLambdaBasicExecutionRole: that managed policy may create
    // and write any log group in the account; this one writes to its own group only.
    this.role = new Role(this, 'Role', {
      assumedBy: new ServicePrincipal('lambda.amazonaws.com'),
      description: `Tollgate ${props.name} function`,
    });
    this.role.addToPrincipalPolicy(
      new PolicyStatement({
        actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        resources: [this.logGroup.logGroupArn],
      }),
    );

    this.function = new NodejsFunction(this, 'Function', {
      entry: functionEntry(props.name),
      handler: 'handler',
      projectRoot: PROJECT_ROOT,
      depsLockFilePath: join(PROJECT_ROOT, 'package-lock.json'),
      runtime: Runtime.NODEJS_24_X,
      architecture: Architecture.ARM_64,
      description: props.description,
      role: this.role,
      memorySize: props.memorySize,
      timeout: props.timeout,
      tracing: props.tracing ? Tracing.ACTIVE : Tracing.DISABLED,
      logGroup: this.logGroup,
      environment: {
        ...props.environment,
        ...(props.sourceMaps ? { NODE_OPTIONS: '--enable-source-maps' } : {}),
      },
      bundling: {
        format: OutputFormat.ESM,
        target: build.target,
        mainFields: build.mainFields,
        banner: build.banner.js,
        minify: build.minify,
        // The AWS SDK is bundled (ESM build, smallest and fastest to load); only the lazy packages are external.
        externalModules: build.external,
        sourceMap: props.sourceMaps,
        // The packages the bundle leaves out to load lazily (infra/bundling LAZY_PACKAGES), written beside it.
        commandHooks: {
          beforeBundling: () => [],
          beforeInstall: () => [],
          afterBundling: (_inputDir: string, outputDir: string) => lazyModuleCommands(outputDir, join(outputDir, 'index.mjs')),
        },
        esbuildArgs: {
          '--legal-comments': build.legalComments,
          ...Object.fromEntries(Object.entries(build.alias).map(([from, to]) => [`--alias:${from}`, to])),
        },
      },
    });

    // Lambda's X-Ray write actions (added by `tracing: ACTIVE`) have no resource-level scope.
    if (props.tracing)
      Validations.of(this.role).acknowledge({
        id: 'AwsSolutions-IAM5[Resource::*]',
        reason:
          'xray:PutTraceSegments and xray:PutTelemetryRecords support no resource-level permissions; every other statement names its resources.',
      });
  }
}
