/**
 * The REST API, built from lib/routes (nothing here lists a route): a resource per path, a
 * method per route and verb, the REQUEST authorizer on everything but the public routes, the
 * route's function behind it as a Lambda proxy integration, LLM routes streamed, and the
 * gateway responses of lib/gateway-responses in the OpenAI error shape.
 */
import { Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import {
  AccessLogFormat,
  AuthorizationType,
  type CfnAuthorizer,
  EndpointType,
  IdentitySource,
  type Integration,
  LambdaIntegration,
  LogGroupLogDestination,
  MethodLoggingLevel,
  MockIntegration,
  PassthroughBehavior,
  RequestAuthorizer,
  ResponseTransferMode,
  ResponseType,
  RestApi,
} from 'aws-cdk-lib/aws-apigateway';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { LogGroup, type RetentionDays } from 'aws-cdk-lib/aws-logs';
import { CfnWebACL, CfnWebACLAssociation } from 'aws-cdk-lib/aws-wafv2';
import { Construct } from 'constructs';
import { GATEWAY_RESPONSES, type GatewayResponseType } from '../../lib/gateway-responses.js';
import { BINARY_MEDIA_TYPES, type FunctionName, type RouteDef, routes } from '../../lib/routes.js';

/** The answer of the public health route, given by API Gateway itself. */
export const HEALTH_BODY = '{"status":"healthy"}';

/**
 * Types whose status API Gateway must keep: a status set on DEFAULT_4XX/5XX becomes the status
 * of every 4XX/5XX response not customized on its own (a 429 throttle would turn into a 400,
 * a 504 timeout into a 502), so only their body is replaced.
 */
export const KEEP_GATEWAY_STATUS: ReadonlySet<GatewayResponseType> = new Set(['DEFAULT_4XX', 'DEFAULT_5XX']);

/** Request bodies that must reach Lambda untouched (audio and image uploads), base64-encoded. */

export interface TollgateApiProps {
  /** The function that serves each FunctionName of lib/routes (all but 'health'). */
  functions: ReadonlyMap<FunctionName, IFunction>;
  authorizer: IFunction;
  authorizerResultTtlSeconds: number;
  authorizerIdentityHeader: string;
  stageName: string;
  llmTimeout: Duration;
  logging: boolean;
  /** X-Ray tracing of the stage (the tracing option). */
  tracing: boolean;
  cloudWatchRole: boolean;
  logRetention: RetentionDays;
  webAclArn: string | undefined;
  throttle: { rateLimit: number; burstLimit: number };
  /** Requests per client IP per 5 minutes for a web ACL the stack creates; undefined: none. */
  wafRateLimit: number | undefined;
}

export class TollgateApi extends Construct {
  readonly api: RestApi;
  readonly authorizer: RequestAuthorizer;

  constructor(scope: Construct, id: string, props: TollgateApiProps) {
    super(scope, id);

    const accessLogs = props.logging
      ? new LogGroup(this, 'AccessLogs', { retention: props.logRetention, removalPolicy: RemovalPolicy.DESTROY })
      : undefined;
    this.api = new RestApi(this, 'Api', {
      restApiName: `${Stack.of(this).stackName}-api`,
      description: 'Tollgate: access and spend control in front of LLM APIs',
      endpointTypes: [EndpointType.REGIONAL],
      binaryMediaTypes: [...BINARY_MEDIA_TYPES],
      cloudWatchRole: props.logging && props.cloudWatchRole,
      deployOptions: {
        stageName: props.stageName,
        // The outer guard: every method of the stage, before the authorizer runs.
        throttlingRateLimit: props.throttle.rateLimit,
        throttlingBurstLimit: props.throttle.burstLimit,
        tracingEnabled: props.tracing,
        metricsEnabled: true,
        // Errors only, never data traces: bodies carry keys (/key/generate) and prompts.
        loggingLevel: props.logging ? MethodLoggingLevel.ERROR : MethodLoggingLevel.OFF,
        dataTraceEnabled: false,
        ...(accessLogs
          ? {
              accessLogDestination: new LogGroupLogDestination(accessLogs),
              accessLogFormat: AccessLogFormat.jsonWithStandardFields({
                caller: false,
                user: false,
                ip: true,
                requestTime: true,
                httpMethod: true,
                resourcePath: true,
                status: true,
                protocol: true,
                responseLength: true,
              }),
            }
          : {}),
      },
    });

    // The stack outputs the URL under a stable name (ApiUrl); drop the construct's own output.
    this.api.node.tryRemoveChild('Endpoint');
    if (props.logging) {
      // Execution logs (errors) go to a group API Gateway would create on its first error, kept
      // forever; made here, it has the retention (docs/deploy.md: upgrading a stack that has one).
      new LogGroup(this, 'ExecutionLogs', {
        logGroupName: `API-Gateway-Execution-Logs_${this.api.restApiId}/${props.stageName}`,
        retention: props.logRetention,
        removalPolicy: RemovalPolicy.DESTROY,
      });
    }

    this.authorizer = new RequestAuthorizer(this, 'Authorizer', {
      handler: props.authorizer,
      resultsCacheTtl: Duration.seconds(props.authorizerResultTtlSeconds),
      identitySources: identitySources(props.authorizerResultTtlSeconds, props.authorizerIdentityHeader),
    });
    if (props.authorizerResultTtlSeconds === 0) {
      // The construct renders no sources as "", which API Gateway may take as a malformed source;
      // the property is optional when caching is off, so leave it out.
      (this.authorizer.node.defaultChild as CfnAuthorizer).addPropertyDeletionOverride('IdentitySource');
    }
    // With the cache on, the authorizer takes the credential from that header only (its environment,
    // lib/auth/identify): a request carrying another as well is refused, never cached under the wrong one.

    const integrations = new Map<FunctionName, Integration>();
    const integrationFor = (route: RouteDef): Integration => {
      let integration = integrations.get(route.fn);
      if (!integration) {
        integration = route.fn === 'health' ? healthIntegration() : lambdaIntegration(route.fn, props);
        integrations.set(route.fn, integration);
      }
      return integration;
    };

    for (const route of routes) {
      const resource = this.api.root.resourceForPath(route.path);
      const isPublic = route.group === 'public';
      for (const method of route.methods) {
        const m = resource.addMethod(method, integrationFor(route), {
          ...(isPublic
            ? { authorizationType: AuthorizationType.NONE }
            : { authorizationType: AuthorizationType.CUSTOM, authorizer: this.authorizer }),
          ...(route.fn === 'health'
            ? { methodResponses: [{ statusCode: '200', responseParameters: { 'method.response.header.Content-Type': true } }] }
            : {}),
        });
        if (isPublic) {
          Validations.of(m).acknowledge({
            id: 'AwsSolutions-APIG4',
            reason:
              route.fn === 'health'
                ? 'Public route by design (lib/routes group "public"): the health check needs no credentials, and API Gateway answers it itself, reaching no function.'
                : `Public route by design (lib/routes group "public"): the readiness probe needs no credentials; it invokes the ${route.fn} function, which reads one table item by key (lib/health.ts) and answers ready or not_ready, nothing more. The stage's throttle bounds it.`,
          });
        }
      }
    }
    Validations.of(this.api).acknowledge({
      id: 'AwsSolutions-COG4',
      reason:
        'Callers hold Tollgate virtual keys, the master key or JWTs of any OIDC issuer, checked by the Lambda REQUEST authorizer (Cognito user pools cannot); the public health route has no authorizer by design.',
    });

    for (const [type, def] of Object.entries(GATEWAY_RESPONSES) as [
      GatewayResponseType,
      (typeof GATEWAY_RESPONSES)[GatewayResponseType],
    ][]) {
      this.api.addGatewayResponse(`Response${type}`, {
        type: ResponseType.of(type),
        ...(KEEP_GATEWAY_STATUS.has(type) ? {} : { statusCode: String(def.statusCode) }),
        responseHeaders: {
          'Content-Type': "'application/json'",
          ...Object.fromEntries(Object.entries(def.headers ?? {}).map(([k, v]) => [k, `'${v}'`])),
        },
        templates: { 'application/json': def.template },
      });
    }

    const webAclArn =
      props.webAclArn ?? (props.wafRateLimit !== undefined ? this.rateLimitedWebAcl(props.wafRateLimit).attrArn : undefined);
    if (webAclArn) {
      new CfnWebACLAssociation(this, 'WebAcl', { resourceArn: this.api.deploymentStage.stageArn, webAclArn });
    } else {
      Validations.of(this.api).acknowledge({
        id: 'AwsSolutions-APIG3',
        reason:
          'WAF is an option (webAclArn): a web ACL costs money and its rules depend on the deployment; credentials and budgets are enforced by the authorizer either way.',
      });
    }
    Validations.of(this.api).acknowledge({
      id: 'AwsSolutions-APIG2',
      reason:
        'Request bodies are validated by the functions (schemas in lib) so that errors come back in the OpenAI error shape; an API Gateway validator would answer in its own shape.',
    });
    if (!props.logging) {
      for (const rule of ['AwsSolutions-APIG1', 'AwsSolutions-APIG6']) {
        Validations.of(this.api).acknowledge({
          id: rule,
          reason: 'Logging turned off by the apiLogging option (the account has no API Gateway CloudWatch role).',
        });
      }
    }
  }

  /** A regional web ACL whose one rule blocks a client IP above `limit` requests per 5 minutes. */
  private rateLimitedWebAcl(limit: number): CfnWebACL {
    const metric = (name: string) => ({ cloudWatchMetricsEnabled: true, metricName: name, sampledRequestsEnabled: false });
    return new CfnWebACL(this, 'RateLimitAcl', {
      scope: 'REGIONAL',
      defaultAction: { allow: {} },
      visibilityConfig: metric('tollgate-acl'),
      rules: [
        {
          name: 'rate-per-ip',
          priority: 0,
          action: { block: {} },
          statement: { rateBasedStatement: { limit, aggregateKeyType: 'IP' } },
          visibilityConfig: metric('tollgate-rate-per-ip'),
        },
      ],
    });
  }
}

/**
 * With the result cache off, no identity source: API Gateway would answer 401 before the
 * authorizer runs whenever a listed source is missing, and a credential may arrive in any of
 * four headers. With the cache on, API Gateway requires sources, and they form the cache key:
 * the credential header, and the method and resource so that a decision for one route is never
 * reused for another (route permission depends on the route).
 */
export function identitySources(ttlSeconds: number, header: string): string[] {
  if (ttlSeconds === 0) return [];
  return [IdentitySource.header(header), IdentitySource.context('httpMethod'), IdentitySource.context('resourcePath')];
}

function lambdaIntegration(fn: FunctionName, props: TollgateApiProps): LambdaIntegration {
  const handler = props.functions.get(fn);
  if (!handler) throw new Error(`lib/routes names function '${fn}', but the stack has no such function`);
  // One permission per function for the whole API: one per method would overflow the
  // function's resource policy (the llm function alone serves about a hundred methods).
  const common = { proxy: true, scopePermissionToMethod: false } as const;
  if (fn !== 'llm') return new LambdaIntegration(handler, common);
  // The llm function is a response-streaming handler: invoked through InvokeWithResponseStream,
  // which also lifts the 29 s integration timeout (up to 15 minutes).
  return new LambdaIntegration(handler, { ...common, responseTransferMode: ResponseTransferMode.STREAM, timeout: props.llmTimeout });
}

function healthIntegration(): MockIntegration {
  return new MockIntegration({
    passthroughBehavior: PassthroughBehavior.NEVER,
    requestTemplates: { 'application/json': '{"statusCode": 200}' },
    integrationResponses: [
      {
        statusCode: '200',
        responseParameters: { 'method.response.header.Content-Type': "'application/json'" },
        responseTemplates: { 'application/json': HEALTH_BODY },
      },
    ],
  });
}
