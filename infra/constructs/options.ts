/**
 * The deployment's options: typed, with defaults, read from stack props or from CDK context
 * (`cdk deploy -c maxBudget=100`, or `context` in cdk.json). Context values arrive as strings
 * from the command line and as JSON from cdk.json; both are accepted. docs/deploy.md documents
 * every option.
 */

import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { CREDENTIAL_HEADERS } from '../../lib/domain/credentials.js';
import { isDuration } from '../../lib/domain/periods.js';
import { parseShardCounts } from '../../lib/domain/sharding.js';
import { jwtRouteListProblem } from '../../lib/routes.js';
import { type ConsoleOidc, consoleOidcOf } from '../console-site.js';

export type TableRemovalPolicy = 'retain' | 'destroy';
export type LogLevel = 'DEBUG' | 'INFO' | 'WARN' | 'ERROR' | 'SILENT';

export interface TollgateOptions {
  /** Secrets Manager secret (ARN or name) holding the master key; absent: the stack creates one. */
  masterKeySecretArn?: string;
  /** JWT issuers (one JWKS URI per issuer, same order); none: JWTs are refused. */
  jwtIssuer?: string[];
  jwtAudience?: string[];
  jwtJwksUri?: string[];
  jwtAdminScope?: string;
  jwtScopeClaim?: string;
  jwtUserClaim?: string;
  jwtTeamClaim?: string;
  jwtOrgClaim?: string;
  jwtEndUserClaim?: string;
  jwtDefaultTeam?: string;
  /** Create a user item on a JWT user's first call (the authorizer then may write `USER#` items). */
  jwtUpsertUser?: boolean;
  jwtTeamRoutes?: string[];
  jwtAdminRoutes?: string[];
  /** Secrets (ARNs or names) holding upstream API keys; the llm function may read exactly these. */
  upstreamSecretArns?: string[];
  /** Also let the llm function read every secret whose name starts with this prefix. */
  upstreamSecretPrefix?: string;
  /**
   * Bedrock models the llm function may invoke (InvokeModel, InvokeModelWithResponseStream, which
   * Converse and ConverseStream use): model ids (`anthropic.claude-3-5-sonnet-20240620-v1:0`, in
   * the stack's region), cross-region inference profile ids (`us.anthropic.claude-...`), or full
   * foundation-model / inference-profile ARNs (another region). Empty: no Bedrock access.
   */
  bedrockModels?: string[];
  /** The in-function cache TTL of table items (the staleness bound of admin changes). */
  cacheTtlSeconds?: number;
  /** API Gateway's authorizer-result cache; 0 (default) turns it off. */
  authorizerResultTtlSeconds?: number;
  /** The one header that carries the credential when the authorizer-result cache is on. */
  authorizerIdentityHeader?: string;
  /** Proxy-wide budget (USD); absent: no proxy-wide limit. */
  maxBudget?: number;
  /** Period of the proxy-wide budget (`1d`, `1mo`, ...). */
  budgetDuration?: string;
  /** Enforcement of requests whose key, team and organization name none: `fast` (default) or `strict`. */
  enforcement?: 'fast' | 'strict';
  /** Strict mode's output estimate when a request sets no max_tokens. */
  strictDefaultMaxTokens?: number;
  /** Spend counter shards per hot kind, `global=16,team=8,organization=8` (the default). */
  spendShards?: string;
  /**
   * Where fast settlements' counters are added: `stream` (default), from each request's record by
   * the table-stream function; `transaction`, with the record (docs/spend.md, write units).
   */
  spendCounters?: 'stream' | 'transaction';
  enforceUserParam?: boolean;
  tableDeletionProtection?: boolean;
  tableRemovalPolicy?: TableRemovalPolicy;
  logRetentionDays?: number;
  logLevel?: LogLevel;
  /** API Gateway stage name (the first path segment of the URL). */
  stageName?: string;
  /** Longest an LLM call may take, seconds (Lambda and the streaming integration). */
  llmTimeoutSeconds?: number;
  /** Ship source maps and run with --enable-source-maps (readable stacks, slower cold start). */
  sourceMaps?: boolean;
  /** Stage access logs and execution error logs; needs the account's API Gateway logging role. */
  apiLogging?: boolean;
  /** AWS X-Ray traces of the stage and every function; off, the X-Ray SDK is never loaded. */
  tracing?: boolean;
  /** Create (and set) the account-wide API Gateway CloudWatch role that apiLogging needs. */
  apiGatewayCloudWatchRole?: boolean;
  /** A regional AWS WAFv2 web ACL to associate with the stage. */
  webAclArn?: string;
  /** Stage throttling, the outer guard before any per-tenant limit: steady requests per second. */
  throttleRateLimit?: number;
  /** Stage throttling: the burst the stage absorbs above the steady rate. */
  throttleBurstLimit?: number;
  /** Creates a WAF web ACL with a rate-based rule: requests per client IP per 5 minutes (absent: none). */
  wafRateLimit?: number;
  /** The registry model that serves requests naming no model (TOLLGATE_PASSTHROUGH_MODEL). */
  passthroughModel?: string;
  /** The console's OIDC client id (a public client, PKCE): turns single sign-on on. */
  consoleOidcClientId?: string;
  /** The issuer the console signs in with (default: the first jwtIssuer; it must be one of them). */
  consoleOidcIssuer?: string;
  /** The scope the console asks for (default `openid`). */
  consoleOidcScope?: string;
  /** Which token signs the console in: `id_token` (default) or `access_token`. */
  consoleOidcToken?: string;
  /** The token endpoint, when it is not on the issuer's origin (it is then allowed by the console's CSP). */
  consoleOidcTokenEndpoint?: string;
  /** Budget alert thresholds, % of max_budget, for entities that name none (default `50,80,100`). */
  alertThresholds?: string;
  /** An email address budget alerts are sent to (an SNS topic subscribed to the alerts' EventBridge rule). */
  alertEmail?: string;
  /** A Secrets Manager secret (ARN) holding a Slack incoming-webhook URL budget alerts are posted to. */
  alertSlackSecretArn?: string;
  /** An email address the operational alarms (5xx rate, authorizer errors, throttles, settlements waiting) notify. */
  alarmEmail?: string;
  /** Also write every spend log to an S3 bucket the stack creates (partitioned by day, for Athena), kept beyond the table's retention. */
  spendLogExport?: boolean;
  /**
   * Index spend logs for `/spend/logs` listings (default true). Off, as LiteLLM's
   * `disable_spend_logs`: about 4 to 6 write units a request fewer; reports, alerts, the export and
   * reads by request id stay.
   */
  spendLogIndex?: boolean;
}

/** Every option with its default applied. */
export interface ResolvedOptions {
  masterKeySecretArn: string | undefined;
  jwtIssuer: string[];
  jwtAudience: string[];
  jwtJwksUri: string[];
  jwtAdminScope: string | undefined;
  jwtScopeClaim: string | undefined;
  jwtUserClaim: string | undefined;
  jwtTeamClaim: string | undefined;
  jwtOrgClaim: string | undefined;
  jwtEndUserClaim: string | undefined;
  jwtDefaultTeam: string | undefined;
  jwtUpsertUser: boolean;
  jwtTeamRoutes: string[];
  jwtAdminRoutes: string[];
  upstreamSecretArns: string[];
  upstreamSecretPrefix: string | undefined;
  bedrockModels: string[];
  cacheTtlSeconds: number | undefined;
  authorizerResultTtlSeconds: number;
  authorizerIdentityHeader: string;
  maxBudget: number | undefined;
  budgetDuration: string | undefined;
  enforcement: 'fast' | 'strict';
  strictDefaultMaxTokens: number | undefined;
  spendShards: string | undefined;
  spendCounters: 'stream' | 'transaction';
  enforceUserParam: boolean;
  tableDeletionProtection: boolean;
  tableRemovalPolicy: TableRemovalPolicy;
  logRetention: RetentionDays;
  logLevel: LogLevel;
  stageName: string;
  llmTimeoutSeconds: number;
  sourceMaps: boolean;
  apiLogging: boolean;
  tracing: boolean;
  apiGatewayCloudWatchRole: boolean;
  webAclArn: string | undefined;
  throttleRateLimit: number;
  throttleBurstLimit: number;
  wafRateLimit: number | undefined;
  passthroughModel: string | undefined;
  /** The console's single sign-on; null: off. */
  consoleOidc: ConsoleOidc | null;
  alertThresholds: string | undefined;
  alertEmail: string | undefined;
  alertSlackSecretArn: string | undefined;
  alarmEmail: string | undefined;
  spendLogExport: boolean;
  spendLogIndex: boolean;
}

export const OPTION_NAMES = [
  'masterKeySecretArn',
  'jwtIssuer',
  'jwtAudience',
  'jwtJwksUri',
  'jwtAdminScope',
  'jwtScopeClaim',
  'jwtUserClaim',
  'jwtTeamClaim',
  'jwtOrgClaim',
  'jwtEndUserClaim',
  'jwtDefaultTeam',
  'jwtUpsertUser',
  'jwtTeamRoutes',
  'jwtAdminRoutes',
  'upstreamSecretArns',
  'upstreamSecretPrefix',
  'bedrockModels',
  'cacheTtlSeconds',
  'authorizerResultTtlSeconds',
  'authorizerIdentityHeader',
  'maxBudget',
  'budgetDuration',
  'enforcement',
  'strictDefaultMaxTokens',
  'spendShards',
  'spendCounters',
  'enforceUserParam',
  'tableDeletionProtection',
  'tableRemovalPolicy',
  'logRetentionDays',
  'logLevel',
  'stageName',
  'llmTimeoutSeconds',
  'sourceMaps',
  'apiLogging',
  'tracing',
  'apiGatewayCloudWatchRole',
  'webAclArn',
  'throttleRateLimit',
  'throttleBurstLimit',
  'wafRateLimit',
  'passthroughModel',
  'consoleOidcClientId',
  'consoleOidcIssuer',
  'consoleOidcScope',
  'consoleOidcToken',
  'consoleOidcTokenEndpoint',
  'alertThresholds',
  'alertEmail',
  'alertSlackSecretArn',
  'alarmEmail',
  'spendLogExport',
  'spendLogIndex',
] as const satisfies readonly (keyof TollgateOptions)[];

export class OptionError extends Error {
  constructor(option: string, message: string) {
    super(`Tollgate option ${option}: ${message}`);
    this.name = 'OptionError';
  }
}

const RETENTION_DAYS = new Set<number>(Object.values(RetentionDays).filter((v): v is number => typeof v === 'number'));
const LOG_LEVELS: readonly LogLevel[] = ['DEBUG', 'INFO', 'WARN', 'ERROR', 'SILENT'];
// API Gateway's streaming limit is 15 minutes, Lambda's as well.
const MAX_LLM_TIMEOUT_SECONDS = 900;
// A header name API Gateway can map (RFC 7230 token characters).
const HEADER_NAME = /^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/;

const str = (name: string, v: unknown): string | undefined => {
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v !== 'string') throw new OptionError(name, 'must be a string');
  return v.trim() === '' ? undefined : v.trim();
};

const list = (name: string, v: unknown): string[] => {
  if (v === undefined || v === null || v === '') return [];
  const items = typeof v === 'string' ? v.split(',') : Array.isArray(v) ? v : undefined;
  if (!items || items.some((x) => typeof x !== 'string'))
    throw new OptionError(name, 'must be a list of strings (or one comma-separated string)');
  return (items as string[]).map((x) => x.trim()).filter((x) => x.length > 0);
};

/** A JWT route list: each entry a route group or a route's path (an unknown one would allow nothing, silently). */
const routeList = (name: string, v: unknown): string[] => {
  const entries = list(name, v);
  const problem = jwtRouteListProblem(entries);
  if (problem) throw new OptionError(name, problem);
  return entries;
};

const num = (name: string, v: unknown, min: number, max = Number.POSITIVE_INFINITY): number | undefined => {
  if (v === undefined || v === null || v === '') return undefined;
  const n = typeof v === 'number' ? v : typeof v === 'string' ? Number(v) : Number.NaN;
  if (!Number.isFinite(n) || n < min || n > max)
    throw new OptionError(name, `must be a number from ${min}${Number.isFinite(max) ? ` to ${max}` : ''}`);
  return n;
};

const bool = (name: string, v: unknown, dflt: boolean): boolean => {
  if (v === undefined || v === null || v === '') return dflt;
  if (typeof v === 'boolean') return v;
  if (v === 'true') return true;
  if (v === 'false') return false;
  throw new OptionError(name, 'must be true or false');
};

const oneOf = <T extends string>(name: string, v: unknown, allowed: readonly T[], dflt: T): T => {
  const s = str(name, v);
  if (s === undefined) return dflt;
  const hit = allowed.find((a) => a.toLowerCase() === s.toLowerCase());
  if (!hit) throw new OptionError(name, `must be one of ${allowed.join(', ')}`);
  return hit;
};

/** A Bedrock model or inference profile id: `anthropic.claude-3-5-sonnet-20240620-v1:0`, `us.anthropic.claude-...`. */
export const BEDROCK_MODEL = /^[a-z0-9-]+(\.[a-z0-9-]+)+(:[0-9a-z]+)*(:[0-9]+k)?$/;
/** A foundation-model or inference-profile ARN, fully spelled out. */
export const BEDROCK_ARN =
  /^arn:aws[a-z-]*:bedrock:[a-z]{2}(-[a-z]+)+-\d:(\d{12})?:(foundation-model|inference-profile|application-inference-profile)\/[A-Za-z0-9.:_-]+$/;

/** Validates the options and applies the defaults. */
export function resolveOptions(raw: Partial<Record<keyof TollgateOptions, unknown>>): ResolvedOptions {
  const jwtIssuer = list('jwtIssuer', raw.jwtIssuer);
  const jwtJwksUri = list('jwtJwksUri', raw.jwtJwksUri);
  if (jwtIssuer.length !== jwtJwksUri.length) {
    throw new OptionError('jwtJwksUri', `needs one JWKS URI per issuer (${jwtIssuer.length} issuers, ${jwtJwksUri.length} URIs)`);
  }
  for (const uri of jwtJwksUri) {
    if (!uri.startsWith('https://')) throw new OptionError('jwtJwksUri', `must be https URLs (${uri})`);
  }
  const retentionDays = num('logRetentionDays', raw.logRetentionDays, 1) ?? RetentionDays.ONE_MONTH;
  if (!RETENTION_DAYS.has(retentionDays)) {
    throw new OptionError(
      'logRetentionDays',
      `must be a value CloudWatch Logs accepts (${[...RETENTION_DAYS].sort((a, b) => a - b).join(', ')})`,
    );
  }
  const identityHeader = str('authorizerIdentityHeader', raw.authorizerIdentityHeader) ?? 'x-litellm-api-key';
  if (!HEADER_NAME.test(identityHeader)) throw new OptionError('authorizerIdentityHeader', 'must be an HTTP header name');
  // The authorizer reads a credential from these only (lib/auth/credentials): a cache keyed by another never sees one.
  if (!(CREDENTIAL_HEADERS as readonly string[]).includes(identityHeader.toLowerCase()))
    throw new OptionError(
      'authorizerIdentityHeader',
      `must be one of the headers a credential is read from: ${CREDENTIAL_HEADERS.join(', ')}`,
    );
  const stageName = str('stageName', raw.stageName) ?? 'prod';
  if (!/^[A-Za-z0-9_]+$/.test(stageName)) throw new OptionError('stageName', 'may hold letters, digits and underscores only');
  const upstreamSecretPrefix = str('upstreamSecretPrefix', raw.upstreamSecretPrefix);
  if (upstreamSecretPrefix !== undefined && !/^[A-Za-z0-9/_+=.@-]+$/.test(upstreamSecretPrefix)) {
    throw new OptionError('upstreamSecretPrefix', 'must be a secret name prefix (letters, digits and /_+=.@-)');
  }
  const bedrockModels = list('bedrockModels', raw.bedrockModels);
  for (const m of bedrockModels) {
    if (!BEDROCK_MODEL.test(m) && !BEDROCK_ARN.test(m)) {
      throw new OptionError(
        'bedrockModels',
        `\`${m.slice(0, 80)}\` is not a Bedrock model id, inference profile id, or foundation-model / inference-profile ARN (no wildcards)`,
      );
    }
  }
  const budgetDuration = str('budgetDuration', raw.budgetDuration);
  if (budgetDuration !== undefined && !isDuration(budgetDuration)) {
    throw new OptionError('budgetDuration', 'must look like 30s, 15m, 24h, 30d, 2w or 1mo');
  }
  // The llm function may read every secret under the prefix, and a model added at run time names
  // which one it sends upstream: no other secret may be there.
  for (const name of ['masterKeySecretArn', 'alertSlackSecretArn'] as const) {
    const ref = str(name, raw[name]);
    if (upstreamSecretPrefix !== undefined && ref !== undefined && secretNameOf(ref).startsWith(upstreamSecretPrefix)) {
      throw new OptionError(
        name,
        `is under upstreamSecretPrefix (${upstreamSecretPrefix}), whose secrets the llm function may read and a model may send upstream: keep it elsewhere`,
      );
    }
  }
  const spendShards = str('spendShards', raw.spendShards);
  if (spendShards !== undefined) {
    try {
      parseShardCounts(spendShards);
    } catch (e) {
      throw new OptionError('spendShards', (e as Error).message);
    }
  }
  // An account's default stage limit is 10,000 rps with a 5,000 burst: a Tollgate in front of LLM
  // calls needs far less, and a lower outer guard caps what a leaked key can do before any budget.
  const throttleRateLimit = num('throttleRateLimit', raw.throttleRateLimit, 1, 10_000) ?? 500;
  const throttleBurstLimit = num('throttleBurstLimit', raw.throttleBurstLimit, 1, 5_000) ?? 1_000;
  if (!Number.isInteger(throttleBurstLimit)) throw new OptionError('throttleBurstLimit', 'must be a whole number');
  // WAF's rate-based rules count requests per IP over 5 minutes, at least 10.
  const wafRateLimit = num('wafRateLimit', raw.wafRateLimit, 10, 2_000_000_000);
  if (wafRateLimit !== undefined && !Number.isInteger(wafRateLimit)) throw new OptionError('wafRateLimit', 'must be a whole number');
  const webAclArn = str('webAclArn', raw.webAclArn);
  if (wafRateLimit !== undefined && webAclArn !== undefined) {
    throw new OptionError(
      'wafRateLimit',
      'cannot be combined with webAclArn (a stage takes one web ACL): add the rate rule to that ACL instead',
    );
  }
  const strictDefaultMaxTokens = num('strictDefaultMaxTokens', raw.strictDefaultMaxTokens, 1);
  if (strictDefaultMaxTokens !== undefined && !Number.isInteger(strictDefaultMaxTokens))
    throw new OptionError('strictDefaultMaxTokens', 'must be a whole number');
  return {
    masterKeySecretArn: str('masterKeySecretArn', raw.masterKeySecretArn),
    jwtIssuer,
    jwtAudience: list('jwtAudience', raw.jwtAudience),
    jwtJwksUri,
    jwtAdminScope: str('jwtAdminScope', raw.jwtAdminScope),
    jwtScopeClaim: str('jwtScopeClaim', raw.jwtScopeClaim),
    jwtUserClaim: str('jwtUserClaim', raw.jwtUserClaim),
    jwtTeamClaim: str('jwtTeamClaim', raw.jwtTeamClaim),
    jwtOrgClaim: str('jwtOrgClaim', raw.jwtOrgClaim),
    jwtEndUserClaim: str('jwtEndUserClaim', raw.jwtEndUserClaim),
    jwtDefaultTeam: str('jwtDefaultTeam', raw.jwtDefaultTeam),
    jwtUpsertUser: bool('jwtUpsertUser', raw.jwtUpsertUser, false),
    jwtTeamRoutes: routeList('jwtTeamRoutes', raw.jwtTeamRoutes),
    jwtAdminRoutes: routeList('jwtAdminRoutes', raw.jwtAdminRoutes),
    upstreamSecretArns: list('upstreamSecretArns', raw.upstreamSecretArns),
    upstreamSecretPrefix,
    bedrockModels,
    cacheTtlSeconds: num('cacheTtlSeconds', raw.cacheTtlSeconds, 0),
    authorizerResultTtlSeconds: num('authorizerResultTtlSeconds', raw.authorizerResultTtlSeconds, 0, 3600) ?? 0,
    authorizerIdentityHeader: identityHeader,
    maxBudget: num('maxBudget', raw.maxBudget, 0),
    budgetDuration,
    enforcement: oneOf('enforcement', raw.enforcement, ['fast', 'strict'] as const, 'fast'),
    strictDefaultMaxTokens,
    spendShards,
    spendCounters: oneOf('spendCounters', raw.spendCounters, ['stream', 'transaction'] as const, 'stream'),
    enforceUserParam: bool('enforceUserParam', raw.enforceUserParam, false),
    tableDeletionProtection: bool('tableDeletionProtection', raw.tableDeletionProtection, true),
    tableRemovalPolicy: oneOf('tableRemovalPolicy', raw.tableRemovalPolicy, ['retain', 'destroy'] as const, 'retain'),
    logRetention: retentionDays as RetentionDays,
    logLevel: oneOf('logLevel', raw.logLevel, LOG_LEVELS, 'INFO'),
    stageName,
    llmTimeoutSeconds: num('llmTimeoutSeconds', raw.llmTimeoutSeconds, 1, MAX_LLM_TIMEOUT_SECONDS) ?? MAX_LLM_TIMEOUT_SECONDS,
    sourceMaps: bool('sourceMaps', raw.sourceMaps, false),
    apiLogging: bool('apiLogging', raw.apiLogging, true),
    tracing: bool('tracing', raw.tracing, true),
    apiGatewayCloudWatchRole: bool('apiGatewayCloudWatchRole', raw.apiGatewayCloudWatchRole, true),
    webAclArn,
    throttleRateLimit,
    throttleBurstLimit,
    wafRateLimit,
    passthroughModel: str('passthroughModel', raw.passthroughModel),
    consoleOidc: consoleOidcOption(raw, jwtIssuer),
    alertThresholds: thresholdsOption(raw.alertThresholds),
    alertEmail: emailOption('alertEmail', raw.alertEmail),
    alertSlackSecretArn: arnOption('alertSlackSecretArn', raw.alertSlackSecretArn),
    alarmEmail: emailOption('alarmEmail', raw.alarmEmail),
    spendLogExport: bool('spendLogExport', raw.spendLogExport, false),
    spendLogIndex: bool('spendLogIndex', raw.spendLogIndex, true),
  };
}

/** The name a secret reference holds: an ARN's resource name (after `secret:`), or the name itself. */
const secretNameOf = (ref: string): string => (ref.startsWith('arn:') ? ref.split(':').slice(6).join(':') : ref);

function thresholdsOption(v: unknown): string | undefined {
  const s = str('alertThresholds', v);
  if (s === undefined) return undefined;
  const parts = s.split(',').map((x) => Number(x.trim()));
  if (parts.length > 10 || !parts.every((n) => Number.isInteger(n) && n >= 1 && n <= 1000))
    throw new OptionError('alertThresholds', 'must be up to 10 whole percentages from 1 to 1000, comma-separated (50,80,100)');
  return [...new Set(parts)].sort((a, b) => a - b).join(',');
}

function emailOption(name: 'alertEmail' | 'alarmEmail', v: unknown): string | undefined {
  const s = str(name, v);
  if (s !== undefined && !/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(s)) throw new OptionError(name, 'must be an email address');
  return s;
}

function arnOption(name: 'alertSlackSecretArn', v: unknown): string | undefined {
  const s = str(name, v);
  if (s !== undefined && !/^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:.+$/.test(s))
    throw new OptionError(name, 'must be a Secrets Manager secret ARN');
  return s;
}

function consoleOidcOption(raw: Partial<Record<keyof TollgateOptions, unknown>>, jwtIssuers: string[]): ConsoleOidc | null {
  try {
    return consoleOidcOf({
      clientId: str('consoleOidcClientId', raw.consoleOidcClientId),
      issuer: str('consoleOidcIssuer', raw.consoleOidcIssuer),
      scope: str('consoleOidcScope', raw.consoleOidcScope),
      token: str('consoleOidcToken', raw.consoleOidcToken),
      tokenEndpoint: str('consoleOidcTokenEndpoint', raw.consoleOidcTokenEndpoint),
      jwtIssuers,
    });
  } catch (e) {
    if (e instanceof OptionError) throw e;
    throw new OptionError('consoleOidcClientId', (e as Error).message);
  }
}

/** The options found in CDK context under their own names (`-c name=value` or cdk.json). */
export function optionsFromContext(tryGetContext: (key: string) => unknown): Partial<Record<keyof TollgateOptions, unknown>> {
  const out: Partial<Record<keyof TollgateOptions, unknown>> = {};
  for (const name of OPTION_NAMES) {
    const v = tryGetContext(name);
    if (v !== undefined) out[name] = v;
  }
  return out;
}
