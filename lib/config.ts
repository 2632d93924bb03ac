/**
 * The only place that reads process.env. Every setting has a `TOLLGATE_` name, is validated
 * once, and is handed around as a typed object.
 */

import { join } from 'node:path';
import { CREDENTIAL_HEADERS, type CredentialSource } from './domain/credentials.js';
import { isDuration } from './domain/periods.js';
import type { EnforcementMode } from './domain/records.js';
import { DEFAULT_SHARDS, parseShardCounts, type ShardCounts } from './domain/sharding.js';

/**
 * One variable's reader: its value, or a throw of {@link Invalid}. Plain functions rather than a
 * schema library: every reader here is custom anyway, and the authorizer and the llm function
 * load this module on every cold start (zod/mini cost the authorizer about 10 ms of its cold import).
 */
type Reader<T> = (raw: string | undefined) => T;

/** What a reader throws: the message, never the value (it may hold a secret). */
class Invalid extends Error {}
/** What TOLLGATE_MASTER_KEY must look like: a key the secret detector (lib/domain/secrets) knows, alone. */
const MASTER_KEY_SHAPE = /^sk-[A-Za-z0-9_-]{16,}$/;

const fail = (message: string): never => {
  throw new Invalid(message);
};

/** An optional variable, trimmed; empty counts as unset. */
const text =
  <T>(parse: (s: string | undefined) => T): Reader<T> =>
  (raw) => {
    // process.env holds strings only; an environment object built by hand may not.
    if (raw !== undefined && typeof raw !== 'string') return fail('must be a string');
    return parse(raw === undefined || raw.trim() === '' ? undefined : raw.trim());
  };

const str = (dflt?: string): Reader<string | undefined> => text((s) => s ?? dflt);
const strWithDefault = (dflt: string): Reader<string> => text((s) => s ?? dflt);

const list = text((s) =>
  (s ?? '')
    .split(',')
    .map((x) => x.trim())
    .filter((x) => x.length > 0),
);

const BOOLS: Record<string, boolean> = { true: true, '1': true, yes: true, false: false, '0': false, no: false };
const bool = (dflt: boolean) => text((s) => (s === undefined ? dflt : (BOOLS[s.toLowerCase()] ?? fail('must be true or false'))));

const optionalNumber = text((s) => {
  if (s === undefined) return undefined;
  const n = Number(s);
  return Number.isFinite(n) && n >= 0 ? n : fail('must be a non-negative number');
});

const number = (dflt: number, min = 0, integer = false) =>
  text((s) => {
    if (s === undefined) return dflt;
    const n = Number(s);
    return Number.isFinite(n) && n >= min && (!integer || Number.isInteger(n))
      ? n
      : fail(`must be ${integer ? 'an integer' : 'a number'} >= ${min}`);
  });

const url = text((s) => {
  if (s === undefined) return undefined;
  try {
    new URL(s);
    return s;
  } catch {
    return fail('must be a URL');
  }
});

// Checked here: a bad period would otherwise fail every request at the proxy budget check.
const duration = text((s) => (s === undefined || isDuration(s) ? s : fail('must look like 30s, 15m, 24h, 30d, 2w or 1mo')));

/** A JSON object of strings; the message never echoes the value (it holds secrets). */
const secretMap = text((s) => {
  if (s === undefined) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(s);
  } catch {
    return fail('must be a JSON object of secret name to value');
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed) || Object.values(parsed).some((v) => typeof v !== 'string')) {
    return fail('must be a JSON object of secret name to value');
  }
  return parsed as Record<string, string>;
});

const ENFORCEMENT_MODES: readonly EnforcementMode[] = ['fast', 'strict'];
const enforcement = text((s): EnforcementMode => {
  const v = (s ?? 'fast').toLowerCase();
  return (ENFORCEMENT_MODES as readonly string[]).includes(v)
    ? (v as EnforcementMode)
    : fail(`must be one of ${ENFORCEMENT_MODES.join(', ')}`);
});

const SPEND_COUNTER_MODES = ['transaction', 'stream'] as const;
const spendCounters = text((s): (typeof SPEND_COUNTER_MODES)[number] => {
  const v = (s ?? 'transaction').toLowerCase();
  return (SPEND_COUNTER_MODES as readonly string[]).includes(v)
    ? (v as (typeof SPEND_COUNTER_MODES)[number])
    : fail(`must be one of ${SPEND_COUNTER_MODES.join(', ')}`);
});

const shards = text((s) => {
  if (s === undefined) return DEFAULT_SHARDS;
  try {
    return { ...DEFAULT_SHARDS, ...parseShardCounts(s) };
  } catch (e) {
    return fail((e as Error).message);
  }
});

const credentialHeader = text((s): CredentialSource | undefined => {
  if (s === undefined) return undefined;
  const v = s.toLowerCase();
  return (CREDENTIAL_HEADERS as readonly string[]).includes(v)
    ? (v as CredentialSource)
    : fail(`must be one of the headers a credential is read from: ${CREDENTIAL_HEADERS.join(', ')}`);
});

const LOG_LEVELS = ['DEBUG', 'INFO', 'WARN', 'ERROR', 'SILENT'] as const;
const logLevel = text((s): (typeof LOG_LEVELS)[number] => {
  const v = (s ?? 'INFO').toUpperCase();
  return (LOG_LEVELS as readonly string[]).includes(v)
    ? (v as (typeof LOG_LEVELS)[number])
    : fail(`must be one of ${LOG_LEVELS.join(', ')}`);
});

const envSchema = {
  TOLLGATE_TABLE_NAME: strWithDefault('tollgate'),
  TOLLGATE_DYNAMODB_ENDPOINT: url,
  TOLLGATE_REGION: str(),
  AWS_REGION: str(),
  TOLLGATE_MASTER_KEY: str(),
  TOLLGATE_MASTER_KEY_SECRET_ARN: str(),
  TOLLGATE_CACHE_TTL_SECONDS: number(10),
  TOLLGATE_CACHE_MAX_ENTRIES: number(100_000, 1, true),
  TOLLGATE_NEGATIVE_CACHE_TTL_SECONDS: optionalNumber,
  TOLLGATE_CONSISTENT_READS: bool(true),
  TOLLGATE_STORE_TIMEOUT_MS: number(2000, 100, true),
  TOLLGATE_SECRET_TTL_SECONDS: number(300, 0),
  TOLLGATE_STORE_MAX_ATTEMPTS: number(2, 1, true),
  TOLLGATE_MAX_BUDGET: optionalNumber,
  TOLLGATE_BUDGET_DURATION: duration,
  TOLLGATE_ENFORCE_USER_PARAM: bool(false),
  TOLLGATE_ENFORCEMENT: enforcement,
  TOLLGATE_STRICT_DEFAULT_MAX_TOKENS: number(4096, 1, true),
  TOLLGATE_SPEND_SHARDS: shards,
  TOLLGATE_SPEND_COUNTERS: spendCounters,
  TOLLGATE_RESERVATION_TTL_SECONDS: number(960, 60, true),
  TOLLGATE_JWT_ISSUER: list,
  TOLLGATE_JWT_AUDIENCE: list,
  TOLLGATE_JWT_JWKS_URI: list,
  TOLLGATE_JWT_ADMIN_SCOPE: strWithDefault('litellm_proxy_admin'),
  TOLLGATE_JWT_SCOPE_CLAIM: strWithDefault('scope'),
  TOLLGATE_JWT_USER_CLAIM: strWithDefault('sub'),
  TOLLGATE_JWT_TEAM_CLAIM: strWithDefault('team_id'),
  TOLLGATE_JWT_ORG_CLAIM: strWithDefault('org_id'),
  TOLLGATE_JWT_END_USER_CLAIM: strWithDefault('end_user_id'),
  TOLLGATE_JWT_DEFAULT_TEAM: str(),
  TOLLGATE_JWT_UPSERT_USER: bool(false),
  TOLLGATE_AUTHORIZER_CREDENTIAL_HEADER: credentialHeader,
  TOLLGATE_JWT_JWKS_TIMEOUT_MS: number(1500, 1),
  TOLLGATE_JWT_TEAM_ROUTES: list,
  TOLLGATE_JWT_ADMIN_ROUTES: list,
  TOLLGATE_UPSTREAM_TIMEOUT_MS: number(600_000, 1),
  TOLLGATE_BEDROCK_ENDPOINT: str(),
  TOLLGATE_LOCAL_SECRETS: secretMap,
  TOLLGATE_LOCAL_CONCURRENCY: number(64, 1, true),
  TOLLGATE_CONSOLE_OIDC_CLIENT_ID: str(),
  TOLLGATE_CONSOLE_OIDC_ISSUER: str(),
  TOLLGATE_CONSOLE_OIDC_SCOPE: str(),
  TOLLGATE_CONSOLE_OIDC_TOKEN: str(),
  TOLLGATE_CONSOLE_OIDC_TOKEN_ENDPOINT: str(),
  TOLLGATE_PASSTHROUGH_MODEL: str(),
  TOLLGATE_SETTLEMENT_TTL_SECONDS: number(15 * 86_400, 60),
  TOLLGATE_SPEND_LOG_RETENTION_DAYS: number(30, 1, true),
  TOLLGATE_SPEND_LOG_EXPORT_BUCKET: str(),
  TOLLGATE_SPEND_LOG_EXPORT_DIR: str(),
  TOLLGATE_SPEND_LOG_INDEX: bool(true),
  TOLLGATE_ALERT_THRESHOLDS: text((s) => {
    if (s === undefined) return [50, 80, 100];
    const parts = s.split(',').map((x) => Number(x.trim()));
    return parts.length <= 10 && parts.every((n) => Number.isInteger(n) && n >= 1 && n <= 1000)
      ? [...new Set(parts)].sort((a, b) => a - b)
      : fail('must be up to 10 whole percentages from 1 to 1000, comma-separated');
  }),
  TOLLGATE_ALERT_EVENT_BUS: str(),
  TOLLGATE_ALERT_WEBHOOK_URL: url,
  TOLLGATE_ALERT_SLACK_SECRET_ARN: str(),
  TOLLGATE_SETTLEMENT_QUEUE_URL: str(),
  TOLLGATE_SETTLEMENT_JOURNAL_DIR: str(),
  TOLLGATE_LOG_LEVEL: logLevel,
  PORT: number(4000, 0, true),
  TOLLGATE_LOCAL_HOST: strWithDefault('127.0.0.1'),
  TOLLGATE_LOCAL_DATA_DIR: str(),
  TOLLGATE_LOCAL_TABLE_STREAM: bool(true),
} satisfies Record<string, Reader<unknown>>;

type Env = { [K in keyof typeof envSchema]: ReturnType<(typeof envSchema)[K]> };

/** Every variable read, every problem named (the message only, never the value). */
function readEnv(env: Record<string, string | undefined>): Env {
  const out: Record<string, unknown> = {};
  const problems: string[] = [];
  for (const [name, read] of Object.entries(envSchema)) {
    try {
      out[name] = read(Object.hasOwn(env, name) ? env[name] : undefined);
    } catch (e) {
      if (!(e instanceof Invalid)) throw e;
      problems.push(`${name}: ${e.message}`);
    }
  }
  if (problems.length > 0) throw new ConfigError(`invalid configuration: ${problems.join('; ')}`);
  return out as Env;
}

export interface JwtIssuerConfig {
  issuer: string;
  jwksUri: string;
}

export interface Config {
  tableName: string;
  dynamoEndpoint: string | undefined;
  region: string;
  masterKey: string | undefined;
  masterKeySecretArn: string | undefined;
  cache: { ttlMs: number; maxEntries: number; negativeTtlMs: number };
  consistentReads: boolean;
  /**
   * The one header the authorizer takes a credential from (`TOLLGATE_AUTHORIZER_CREDENTIAL_HEADER`):
   * set by the stack when API Gateway caches the authorizer's decisions by that header, so a
   * decision is never cached under a header that did not carry the credential it was made for.
   * Unset: any of the four credential headers.
   */
  credentialHeader: CredentialSource | undefined;
  /** Each DynamoDB attempt fails after this long; a store call fails after `maxAttempts` of them. */
  store: { timeoutMs: number; maxAttempts: number };
  /** How long a secret read from Secrets Manager (the master key, upstream keys) is kept in memory. */
  secretTtlSeconds: number;
  /** Proxy-wide budget; undefined means no limit. */
  maxBudget: number | undefined;
  budgetDuration: string | undefined;
  enforceUserParam: boolean;
  /** The enforcement mode of requests whose key, team and organization name none. */
  enforcement: EnforcementMode;
  /** Strict mode's output estimate for a request that sets no max_tokens. */
  strictDefaultMaxTokens: number;
  /** Counter shards per hot kind (lib/store/shards); a kind not named keeps its default. */
  spendShards: ShardCounts;
  /**
   * Where fast settlements add their counters (lib/store/spend-ledger): `transaction` (default),
   * with the record; `stream`, from the record by the table's stream consumer (needs the stream).
   */
  spendCounters: 'transaction' | 'stream';
  /**
   * How long a strict reservation may stay unsettled before the sweeper releases it: longer
   * than any llm invocation (Lambda stops at 15 minutes), so only a lost one is released.
   */
  reservationTtlSeconds: number;
  /**
   * Where a settlement that could not be written is kept until it is replayed (lib/store/settlement-journal):
   * an SQS queue (deployed; TOLLGATE_SETTLEMENT_QUEUE_URL), else a folder (local mode;
   * TOLLGATE_SETTLEMENT_JOURNAL_DIR, default `<TOLLGATE_LOCAL_DATA_DIR>/settlement-journal`).
   */
  settlementJournal: { queueUrl: string } | { dir: string } | undefined;
  jwt: {
    issuers: JwtIssuerConfig[];
    audience: string[];
    adminScope: string;
    scopeClaim: string;
    userClaim: string;
    teamClaim: string;
    orgClaim: string;
    endUserClaim: string;
    defaultTeam: string | undefined;
    upsertUser: boolean;
    jwksTimeoutMs: number;
    /** Route groups (or exact paths) a team JWT may call. */
    teamRoutes: string[];
    /** Route groups (or exact paths) an admin JWT may call. */
    adminRoutes: string[];
  };
  upstreamTimeoutMs: number;
  /** The console's single sign-on (infra/console-site consoleOidcOf checks it): off without a client id. */
  consoleOidc: {
    clientId: string | undefined;
    issuer: string | undefined;
    scope: string | undefined;
    token: string | undefined;
    tokenEndpoint: string | undefined;
  };
  /**
   * Another Bedrock runtime endpoint than the region's (TOLLGATE_BEDROCK_ENDPOINT): local mode's
   * mock. A cleartext `http://` endpoint is only ever a mock: it is called with dummy credentials.
   */
  bedrockEndpoint: string | undefined;
  /**
   * Local mode: secret name -> value (TOLLGATE_LOCAL_SECRETS, JSON). When set, upstream keys are
   * looked up here only and Secrets Manager is never called.
   */
  localSecrets: Readonly<Record<string, string>> | undefined;
  /**
   * Local mode: invocations of one function the local gateway runs at once (each until its
   * handler returns, a settlement after the answer included, as a Lambda instance is busy).
   */
  localConcurrency: number;
  /** The registry model whose upstream serves requests that name no model (files, batches, ...). */
  passthroughModel: string | undefined;
  /** How long a settlement's idempotency record is kept (a retry later than this counts again). */
  settlementTtlSeconds: number;
  /** How long spend log records are kept (DynamoDB TTL), in days. */
  spendLogRetentionDays: number;
  /** Where spend logs are also written for longer history (lib/spend/export): a bucket, or locally a folder. */
  spendLogExport: { bucket: string | undefined; dir: string | undefined };
  /**
   * Whether spend logs are indexed for `/spend/logs` listings (one item per scope a request is
   * listed under). Off, LiteLLM's `disable_spend_logs`: the reports, alerts, export and reads by
   * request id stay; listings answer a clear error.
   */
  spendLogIndex: boolean;
  /** Budget alerts (lib/alerts): the proxy's thresholds (% of max_budget) and where alerts go. */
  alerts: { thresholds: number[]; eventBus: string | undefined; webhookUrl: string | undefined; slackSecretArn: string | undefined };
  logLevel: 'DEBUG' | 'INFO' | 'WARN' | 'ERROR' | 'SILENT';
  port: number;
  /**
   * `npm start` only: the address the local gateway binds, DynamoDB Local's data folder (in memory
   * when unset), and whether the gateway reads the table's stream itself (else a process of its
   * own does: `npm run table-stream`, as the deployed table-stream function runs apart).
   */
  local: { host: string; dataDir: string | undefined; tableStream: boolean };
}

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

export function parseConfig(env: Record<string, string | undefined>): Config {
  const e = readEnv(env);
  const issuers = e.TOLLGATE_JWT_ISSUER;
  const jwks = e.TOLLGATE_JWT_JWKS_URI;
  // JWKS URIs without issuers would silently switch JWTs off: a mismatch either way is an error.
  if (jwks.length !== issuers.length) {
    throw new ConfigError(
      `invalid configuration: TOLLGATE_JWT_JWKS_URI needs one URI per issuer in TOLLGATE_JWT_ISSUER (${issuers.length} issuers, ${jwks.length} URIs)`,
    );
  }
  // aws-jwt-verify fetches JWKS over https only: a plain-http URI would fail on every token.
  const insecure = jwks.find((u) => !/^https:\/\/[^/\s]+/i.test(u));
  if (insecure !== undefined) {
    throw new ConfigError(`invalid configuration: TOLLGATE_JWT_JWKS_URI must be https:// URLs (got \`${insecure.slice(0, 120)}\`)`);
  }
  // A master key shaped like a key (`sk-` and 16 or more characters, as LiteLLM asks) is one the
  // secret detector knows: kept out of every id, log line, error and audit item should an admin
  // paste it somewhere; another would be repeated there (found by review). Never echoed.
  if (e.TOLLGATE_MASTER_KEY && !MASTER_KEY_SHAPE.test(e.TOLLGATE_MASTER_KEY)) {
    throw new ConfigError(
      'invalid configuration: TOLLGATE_MASTER_KEY must look like a key: `sk-` followed by at least 16 letters, digits, `-` or `_` (as LiteLLM asks)',
    );
  }
  const ttlMs = e.TOLLGATE_CACHE_TTL_SECONDS * 1000;
  return {
    tableName: e.TOLLGATE_TABLE_NAME,
    dynamoEndpoint: e.TOLLGATE_DYNAMODB_ENDPOINT,
    region: e.TOLLGATE_REGION ?? e.AWS_REGION ?? 'us-east-1',
    masterKey: e.TOLLGATE_MASTER_KEY === '' ? undefined : e.TOLLGATE_MASTER_KEY,
    masterKeySecretArn: e.TOLLGATE_MASTER_KEY_SECRET_ARN,
    cache: {
      ttlMs,
      maxEntries: e.TOLLGATE_CACHE_MAX_ENTRIES,
      negativeTtlMs: e.TOLLGATE_NEGATIVE_CACHE_TTL_SECONDS === undefined ? ttlMs : e.TOLLGATE_NEGATIVE_CACHE_TTL_SECONDS * 1000,
    },
    consistentReads: e.TOLLGATE_CONSISTENT_READS,
    credentialHeader: e.TOLLGATE_AUTHORIZER_CREDENTIAL_HEADER,
    store: { timeoutMs: e.TOLLGATE_STORE_TIMEOUT_MS, maxAttempts: e.TOLLGATE_STORE_MAX_ATTEMPTS },
    secretTtlSeconds: e.TOLLGATE_SECRET_TTL_SECONDS,
    maxBudget: e.TOLLGATE_MAX_BUDGET,
    budgetDuration: e.TOLLGATE_BUDGET_DURATION,
    enforceUserParam: e.TOLLGATE_ENFORCE_USER_PARAM,
    enforcement: e.TOLLGATE_ENFORCEMENT,
    strictDefaultMaxTokens: e.TOLLGATE_STRICT_DEFAULT_MAX_TOKENS,
    spendShards: e.TOLLGATE_SPEND_SHARDS,
    spendCounters: e.TOLLGATE_SPEND_COUNTERS,
    reservationTtlSeconds: e.TOLLGATE_RESERVATION_TTL_SECONDS,
    settlementJournal: e.TOLLGATE_SETTLEMENT_QUEUE_URL
      ? { queueUrl: e.TOLLGATE_SETTLEMENT_QUEUE_URL }
      : e.TOLLGATE_SETTLEMENT_JOURNAL_DIR
        ? { dir: e.TOLLGATE_SETTLEMENT_JOURNAL_DIR }
        : e.TOLLGATE_LOCAL_DATA_DIR
          ? { dir: join(e.TOLLGATE_LOCAL_DATA_DIR, 'settlement-journal') }
          : undefined,
    jwt: {
      issuers: issuers.map((issuer, i) => ({ issuer, jwksUri: jwks[i] as string })),
      audience: e.TOLLGATE_JWT_AUDIENCE,
      adminScope: e.TOLLGATE_JWT_ADMIN_SCOPE,
      scopeClaim: e.TOLLGATE_JWT_SCOPE_CLAIM,
      userClaim: e.TOLLGATE_JWT_USER_CLAIM,
      teamClaim: e.TOLLGATE_JWT_TEAM_CLAIM,
      orgClaim: e.TOLLGATE_JWT_ORG_CLAIM,
      endUserClaim: e.TOLLGATE_JWT_END_USER_CLAIM,
      defaultTeam: e.TOLLGATE_JWT_DEFAULT_TEAM,
      upsertUser: e.TOLLGATE_JWT_UPSERT_USER,
      jwksTimeoutMs: e.TOLLGATE_JWT_JWKS_TIMEOUT_MS,
      teamRoutes: e.TOLLGATE_JWT_TEAM_ROUTES.length > 0 ? e.TOLLGATE_JWT_TEAM_ROUTES : ['llm', 'info'],
      adminRoutes: e.TOLLGATE_JWT_ADMIN_ROUTES.length > 0 ? e.TOLLGATE_JWT_ADMIN_ROUTES : ['management', 'info'],
    },
    upstreamTimeoutMs: e.TOLLGATE_UPSTREAM_TIMEOUT_MS,
    consoleOidc: {
      clientId: e.TOLLGATE_CONSOLE_OIDC_CLIENT_ID || undefined,
      issuer: e.TOLLGATE_CONSOLE_OIDC_ISSUER || undefined,
      scope: e.TOLLGATE_CONSOLE_OIDC_SCOPE || undefined,
      token: e.TOLLGATE_CONSOLE_OIDC_TOKEN || undefined,
      tokenEndpoint: e.TOLLGATE_CONSOLE_OIDC_TOKEN_ENDPOINT || undefined,
    },
    bedrockEndpoint: e.TOLLGATE_BEDROCK_ENDPOINT,
    localSecrets: e.TOLLGATE_LOCAL_SECRETS,
    localConcurrency: e.TOLLGATE_LOCAL_CONCURRENCY,
    passthroughModel: e.TOLLGATE_PASSTHROUGH_MODEL === '' ? undefined : e.TOLLGATE_PASSTHROUGH_MODEL,
    settlementTtlSeconds: e.TOLLGATE_SETTLEMENT_TTL_SECONDS,
    spendLogRetentionDays: e.TOLLGATE_SPEND_LOG_RETENTION_DAYS,
    spendLogExport: { bucket: e.TOLLGATE_SPEND_LOG_EXPORT_BUCKET, dir: e.TOLLGATE_SPEND_LOG_EXPORT_DIR },
    spendLogIndex: e.TOLLGATE_SPEND_LOG_INDEX,
    alerts: {
      thresholds: e.TOLLGATE_ALERT_THRESHOLDS,
      eventBus: e.TOLLGATE_ALERT_EVENT_BUS,
      webhookUrl: e.TOLLGATE_ALERT_WEBHOOK_URL,
      slackSecretArn: e.TOLLGATE_ALERT_SLACK_SECRET_ARN,
    },
    logLevel: e.TOLLGATE_LOG_LEVEL,
    port: e.PORT,
    local: {
      host: e.TOLLGATE_LOCAL_HOST,
      dataDir: e.TOLLGATE_LOCAL_DATA_DIR === '' ? undefined : e.TOLLGATE_LOCAL_DATA_DIR,
      tableStream: e.TOLLGATE_LOCAL_TABLE_STREAM,
    },
  };
}

let current: Config | undefined;

/** The process configuration, parsed from process.env on first use. */
export function config(): Config {
  current ??= parseConfig(process.env);
  return current;
}

/** Tests and the local gateway replace the configuration explicitly. */
export function setConfig(next: Config | Record<string, string | undefined>): Config {
  current = 'tableName' in next ? (next as Config) : parseConfig(next as Record<string, string | undefined>);
  return current;
}
