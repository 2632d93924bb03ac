/**
 * The console in AWS: its files in a private S3 bucket, read by CloudFront through origin access
 * control and served at /ui/; every other path of the same distribution goes to the REST API
 * (caching off, every viewer header but Host forwarded). The console therefore calls the API on
 * its own origin: no CORS at all. Nothing runs while nobody uses it (docs/deploy.md says why this
 * and not the REST API serving the files).
 *
 * The files are built from console/ by the local Vite at synth time (no Docker) and copied by
 * CDK's BucketDeployment, whose function runs at deploy time only, under a role of our own that
 * may read that one asset and write under ui/ in this bucket, nothing else.
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DockerImage, Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import type { RestApi } from 'aws-cdk-lib/aws-apigateway';
import {
  AllowedMethods,
  type BehaviorOptions,
  CachePolicy,
  Distribution,
  Function as EdgeFunction,
  FunctionCode,
  FunctionEventType,
  FunctionRuntime,
  HeadersFrameOption,
  HeadersReferrerPolicy,
  HttpVersion,
  OriginRequestPolicy,
  PriceClass,
  ResponseHeadersPolicy,
  ViewerProtocolPolicy,
} from 'aws-cdk-lib/aws-cloudfront';
import { RestApiOrigin, S3BucketOrigin } from 'aws-cdk-lib/aws-cloudfront-origins';
import { PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { LogGroup, type RetentionDays } from 'aws-cdk-lib/aws-logs';
import { BlockPublicAccess, Bucket, BucketEncryption, ObjectOwnership } from 'aws-cdk-lib/aws-s3';
import { Asset } from 'aws-cdk-lib/aws-s3-assets';
import { BucketDeployment, CacheControl, Source } from 'aws-cdk-lib/aws-s3-deployment';
import { Construct } from 'constructs';
import { PROJECT_ROOT } from '../bundling.js';
import {
  CACHE_IMMUTABLE,
  CACHE_REVALIDATE,
  CONSOLE_ASSETS_DIR,
  CONSOLE_PATH,
  CONSOLE_SETTINGS_FILE,
  CONSOLE_SOURCE_DIR,
  type ConsoleOidc,
  type ConsoleSettings,
  consoleCsp,
} from '../console-site.js';

/** Where the files live in the bucket: the path CloudFront asks for is the object key. */
export const CONSOLE_KEY_PREFIX = `${CONSOLE_PATH.slice(1)}/`;

/**
 * Viewer-request function of the console's behaviors: /ui goes to /ui/ (the files' relative
 * URLs resolve there) and a folder to its index.html (S3 has no index documents behind OAC).
 */
export const CONSOLE_REWRITE_CODE = `function handler(event) {
  var request = event.request;
  if (request.uri === '${CONSOLE_PATH}') {
    return { statusCode: 308, statusDescription: 'Permanent Redirect', headers: { location: { value: '${CONSOLE_PATH}/' } } };
  }
  if (request.uri.endsWith('/')) request.uri += 'index.html';
  return request;
}`;

export interface TollgateConsoleProps {
  api: RestApi;
  logRetention: RetentionDays;
  /** Single sign-on (OIDC with PKCE): written to the console's config.json and allowed by its CSP. */
  oidc?: ConsoleOidc | null;
}

export class TollgateConsole extends Construct {
  readonly bucket: Bucket;
  readonly distribution: Distribution;
  readonly deployRole: Role;
  /** The console's URL: `https://<distribution>/ui/`; the API is at the same origin. */
  readonly url: string;

  constructor(scope: Construct, id: string, props: TollgateConsoleProps) {
    super(scope, id);

    this.bucket = new Bucket(this, 'Files', {
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      encryption: BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      objectOwnership: ObjectOwnership.BUCKET_OWNER_ENFORCED,
      // Kept when the stack goes, like any bucket CDK creates: static files, nothing secret.
      removalPolicy: RemovalPolicy.RETAIN,
    });
    Validations.of(this.bucket).acknowledge({
      id: 'AwsSolutions-S1',
      reason:
        "The console's static build, written only by the stack's deployment and read only by CloudFront (OAC); a second bucket for its access logs would add cost and no audit value. API calls are logged by the stage.",
    });

    const rewrite = new EdgeFunction(this, 'IndexRewrite', {
      comment: 'Tollgate console: /ui to /ui/, folders to index.html',
      runtime: FunctionRuntime.JS_2_0,
      code: FunctionCode.fromInline(CONSOLE_REWRITE_CODE),
    });
    const headers = new ResponseHeadersPolicy(this, 'Headers', {
      comment: 'Tollgate console: CSP (this origin only) and security headers',
      securityHeadersBehavior: {
        contentSecurityPolicy: { contentSecurityPolicy: consoleCsp(props.oidc ?? null), override: true },
        contentTypeOptions: { override: true },
        frameOptions: { frameOption: HeadersFrameOption.DENY, override: true },
        referrerPolicy: { referrerPolicy: HeadersReferrerPolicy.NO_REFERRER, override: true },
        strictTransportSecurity: { accessControlMaxAge: Duration.days(365), includeSubdomains: true, override: true },
      },
    });
    const files: BehaviorOptions = {
      origin: S3BucketOrigin.withOriginAccessControl(this.bucket),
      viewerProtocolPolicy: ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
      allowedMethods: AllowedMethods.ALLOW_GET_HEAD,
      cachePolicy: CachePolicy.CACHING_OPTIMIZED,
      responseHeadersPolicy: headers,
      compress: true,
      functionAssociations: [{ function: rewrite, eventType: FunctionEventType.VIEWER_REQUEST }],
    };

    this.distribution = new Distribution(this, 'Distribution', {
      comment: `${Stack.of(this).stackName}: the console at ${CONSOLE_PATH}/ and the API on one origin`,
      // The API: nothing cached, the credential headers (Authorization included) passed on.
      defaultBehavior: {
        origin: new RestApiOrigin(props.api),
        viewerProtocolPolicy: ViewerProtocolPolicy.HTTPS_ONLY,
        allowedMethods: AllowedMethods.ALLOW_ALL,
        cachePolicy: CachePolicy.CACHING_DISABLED,
        originRequestPolicy: OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER,
        compress: false,
      },
      additionalBehaviors: { [CONSOLE_PATH]: files, [`${CONSOLE_PATH}/*`]: files },
      httpVersion: HttpVersion.HTTP2_AND_3,
      priceClass: PriceClass.PRICE_CLASS_100,
    });
    Validations.of(this.distribution).acknowledge(
      {
        id: 'AwsSolutions-CFR1',
        reason: 'Who may call is decided by credentials (the authorizer), not by country; a geo restriction is a deployment choice.',
      },
      {
        id: 'AwsSolutions-CFR2',
        reason:
          "A CloudFront web ACL must live in us-east-1 and its rules depend on the deployment; the stage's regional WAF option (webAclArn) still applies to every API call behind the distribution.",
      },
      {
        id: 'AwsSolutions-CFR3',
        reason:
          'Static files and API calls: the API stage logs every call it serves; CloudFront standard logs need a log bucket and are a deployment choice.',
      },
      {
        id: 'AwsSolutions-CFR4',
        reason:
          "The distribution's default *.cloudfront.net certificate: CloudFront fixes its viewer TLS policy; a custom domain with its own certificate can require TLS 1.2. Origins are reached over TLS 1.2.",
      },
    );

    // The build: the local Vite at synth time (like the functions' local esbuild); Docker is never used.
    const settings: ConsoleSettings = { oidc: props.oidc ?? null };
    const build = new Asset(this, 'Build', {
      path: CONSOLE_SOURCE_DIR,
      exclude: ['dist', '.dist-*', 'node_modules'],
      bundling: {
        image: DockerImage.fromRegistry('public.ecr.aws/docker/library/node:24-slim'),
        // Hashed with the bundling options: other settings, another asset (config.json differs).
        environment: { TOLLGATE_CONSOLE_SETTINGS: JSON.stringify(settings) },
        local: {
          tryBundle(outputDir: string): boolean {
            const vite = join(PROJECT_ROOT, 'node_modules', 'vite', 'bin', 'vite.js');
            const r = spawnSync(
              process.execPath,
              [vite, 'build', CONSOLE_SOURCE_DIR, '--outDir', outputDir, '--emptyOutDir', '--logLevel', 'warn'],
              { stdio: 'inherit' },
            );
            if (r.status !== 0) throw new Error(`the console build failed (vite build exited with ${r.status ?? r.signal})`);
            // The deployment's settings beside the files (part of the asset, so its hash follows them).
            writeFileSync(join(outputDir, CONSOLE_SETTINGS_FILE), JSON.stringify(settings));
            return true;
          },
        },
      },
    });

    const deployLogs = new LogGroup(this, 'DeployLogs', { retention: props.logRetention, removalPolicy: RemovalPolicy.DESTROY });
    // Our own role (BucketDeployment's would carry AWSLambdaBasicExecutionRole and wildcard S3
    // actions): exactly what `aws s3 cp` of the asset and `aws s3 sync --delete` into ui/ need.
    this.deployRole = new Role(this, 'DeployRole', {
      assumedBy: new ServicePrincipal('lambda.amazonaws.com'),
      description: 'Tollgate console deployment: reads the built asset, writes the console bucket under ui/',
    });
    this.deployRole.addToPrincipalPolicy(
      new PolicyStatement({ actions: ['logs:CreateLogStream', 'logs:PutLogEvents'], resources: [deployLogs.logGroupArn] }),
    );
    this.deployRole.addToPrincipalPolicy(
      new PolicyStatement({ actions: ['s3:GetObject'], resources: [build.bucket.arnForObjects(build.s3ObjectKey)] }),
    );
    this.deployRole.addToPrincipalPolicy(new PolicyStatement({ actions: ['s3:ListBucket'], resources: [this.bucket.bucketArn] }));
    this.deployRole.addToPrincipalPolicy(
      new PolicyStatement({
        actions: ['s3:PutObject', 's3:DeleteObject'],
        resources: [this.bucket.arnForObjects(`${CONSOLE_KEY_PREFIX}*`)],
      }),
    );
    Validations.of(this.deployRole).acknowledge({
      id: `AwsSolutions-IAM5[Resource::<${Stack.of(this).getLogicalId(this.bucket.node.defaultChild as never)}.Arn>/${CONSOLE_KEY_PREFIX}*]`,
      reason:
        'The console files are named by their content hash at build time: the deployment writes whatever the build holds, under ui/ of its own bucket only.',
    });

    const deployment = {
      sources: [Source.bucket(build.bucket, build.s3ObjectKey)],
      destinationBucket: this.bucket,
      destinationKeyPrefix: CONSOLE_KEY_PREFIX,
      // Immutable: the policies above are all it gets (grants BucketDeployment would add are dropped).
      role: this.deployRole.withoutPolicyUpdates(),
      logGroup: deployLogs,
    };
    // Hashed assets cached for good, and kept across deploys so an open tab can still load its chunks.
    new BucketDeployment(this, 'DeployAssets', {
      ...deployment,
      exclude: ['*'],
      include: [`${CONSOLE_ASSETS_DIR}/*`],
      prune: false,
      cacheControl: [CacheControl.fromString(CACHE_IMMUTABLE)],
    });
    // index.html revalidated on every load: a deploy shows at once, no invalidation needed.
    new BucketDeployment(this, 'DeployPages', {
      ...deployment,
      exclude: [`${CONSOLE_ASSETS_DIR}/*`],
      cacheControl: [CacheControl.fromString(CACHE_REVALIDATE)],
    });

    // BucketDeployment's function is a singleton at stack level, its runtime chosen by aws-cdk-lib.
    for (const child of Stack.of(this).node.children) {
      if (!child.node.id.startsWith('Custom::CDKBucketDeployment')) continue;
      Validations.of(child).acknowledge({
        id: 'AwsSolutions-L1',
        reason:
          "CDK's BucketDeployment function (its Python runtime is aws-cdk-lib's choice); it runs only while CloudFormation deploys the console.",
      });
    }

    this.url = `https://${this.distribution.distributionDomainName}${CONSOLE_PATH}/`;
  }
}
