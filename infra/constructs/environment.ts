/**
 * The options as the TOLLGATE_* variables lib/config reads. Every function gets the shared
 * settings; a secret's ARN only goes to the function allowed to read it. Secrets themselves
 * never appear here: functions read them from Secrets Manager.
 */
import type { ResolvedOptions } from './options.js';

const set = (env: Record<string, string>, name: string, value: string | number | boolean | undefined): void => {
  if (value !== undefined) env[name] = String(value);
};
const setList = (env: Record<string, string>, name: string, values: string[]): void => {
  if (values.length > 0) env[name] = values.join(',');
};

export function sharedEnvironment(o: ResolvedOptions, tableName: string): Record<string, string> {
  const env: Record<string, string> = {
    TOLLGATE_TABLE_NAME: tableName,
    TOLLGATE_LOG_LEVEL: o.logLevel,
    TOLLGATE_ENFORCE_USER_PARAM: String(o.enforceUserParam),
    // Powertools' own switch: handler responses (a new key's plaintext) never go to X-Ray.
    POWERTOOLS_TRACER_CAPTURE_RESPONSE: 'false',
  };
  // Powertools' switch, read by lib/telemetry before it loads the tracer (and the X-Ray SDK).
  if (!o.tracing) env.POWERTOOLS_TRACE_ENABLED = 'false';
  set(env, 'TOLLGATE_CACHE_TTL_SECONDS', o.cacheTtlSeconds);
  set(env, 'TOLLGATE_MAX_BUDGET', o.maxBudget);
  set(env, 'TOLLGATE_BUDGET_DURATION', o.budgetDuration);
  // Every reader of spend (authorizer, llm, admin) must agree on where the counters are.
  set(env, 'TOLLGATE_SPEND_SHARDS', o.spendShards);
  // The llm function and the settlement replay write records; the table-stream function adds them.
  set(env, 'TOLLGATE_SPEND_COUNTERS', o.spendCounters);
  // The table-stream function writes the index; the spend function lists it (or says it is off).
  if (!o.spendLogIndex) env.TOLLGATE_SPEND_LOG_INDEX = 'false';
  setList(env, 'TOLLGATE_JWT_ISSUER', o.jwtIssuer);
  setList(env, 'TOLLGATE_JWT_AUDIENCE', o.jwtAudience);
  setList(env, 'TOLLGATE_JWT_JWKS_URI', o.jwtJwksUri);
  set(env, 'TOLLGATE_JWT_ADMIN_SCOPE', o.jwtAdminScope);
  set(env, 'TOLLGATE_JWT_SCOPE_CLAIM', o.jwtScopeClaim);
  set(env, 'TOLLGATE_JWT_USER_CLAIM', o.jwtUserClaim);
  set(env, 'TOLLGATE_JWT_TEAM_CLAIM', o.jwtTeamClaim);
  set(env, 'TOLLGATE_JWT_ORG_CLAIM', o.jwtOrgClaim);
  set(env, 'TOLLGATE_JWT_END_USER_CLAIM', o.jwtEndUserClaim);
  set(env, 'TOLLGATE_JWT_DEFAULT_TEAM', o.jwtDefaultTeam);
  setList(env, 'TOLLGATE_JWT_TEAM_ROUTES', o.jwtTeamRoutes);
  setList(env, 'TOLLGATE_JWT_ADMIN_ROUTES', o.jwtAdminRoutes);
  return env;
}

export function authorizerEnvironment(o: ResolvedOptions, tableName: string, masterKeySecret: string): Record<string, string> {
  return {
    ...sharedEnvironment(o, tableName),
    TOLLGATE_MASTER_KEY_SECRET_ARN: masterKeySecret,
    TOLLGATE_JWT_UPSERT_USER: String(o.jwtUpsertUser),
    // Decisions cached by that header: a credential in any other is refused (lib/auth/identify).
    ...(o.authorizerResultTtlSeconds > 0 ? { TOLLGATE_AUTHORIZER_CREDENTIAL_HEADER: o.authorizerIdentityHeader.toLowerCase() } : {}),
  };
}

/** Upstream calls give up a little before Lambda does, to answer 504 and record spend in time. */
export const upstreamTimeoutMs = (llmTimeoutSeconds: number): number =>
  llmTimeoutSeconds * 1000 - Math.min(15_000, llmTimeoutSeconds * 100);

/** A strict reservation outlives any invocation that may still settle it: then the sweeper may release it. */
export const reservationTtlSeconds = (llmTimeoutSeconds: number): number => llmTimeoutSeconds + 60;

/** The llm function learns which secret a model uses from its registry entry; IAM decides which it may read. */
export function llmEnvironment(o: ResolvedOptions, tableName: string): Record<string, string> {
  const env = {
    ...sharedEnvironment(o, tableName),
    TOLLGATE_UPSTREAM_TIMEOUT_MS: String(upstreamTimeoutMs(o.llmTimeoutSeconds)),
    TOLLGATE_ENFORCEMENT: o.enforcement,
    TOLLGATE_RESERVATION_TTL_SECONDS: String(reservationTtlSeconds(o.llmTimeoutSeconds)),
  };
  set(env, 'TOLLGATE_STRICT_DEFAULT_MAX_TOKENS', o.strictDefaultMaxTokens);
  set(env, 'TOLLGATE_PASSTHROUGH_MODEL', o.passthroughModel);
  return env;
}
