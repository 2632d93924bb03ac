/**
 * Where the app is wired: the one place that builds the clients, caches and services every
 * function (and local mode) runs with. Each is built once per instance, on first use, from the
 * configuration (lib/config): a Lambda instance keeps its DynamoDB client, its entity cache, its
 * settler and its registry across invocations.
 *
 * The seam, for tests, bench and the local gateway: `configureApp({ ...replacements })` swaps any
 * of them (and `config` replaces the configuration, which rebuilds everything built from it);
 * `resetApp()` drops every replacement and everything built. Nothing else keeps a singleton.
 *
 * The wiring is this folder: the seam and the dependencies every function shares here; those of
 * the llm function (llm.ts), the admin API (admin.ts) and the authorizer (authorizer.ts) beside
 * it, so a function's bundle holds only what it uses (the llm's has no JWT verifier, the
 * authorizer's no settler). index.ts gathers them all for tests, bench and local mode.
 */
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { AdminStore } from '../admin/persistence.js';
import type { AlertSink } from '../alerts/deliver.js';
import type { JwtAuthenticator } from '../auth/jwt.js';
import type { CheckSettings } from '../checks/checks.js';
import { type Config, ConfigError, config, setConfig } from '../config.js';
import type { UserRecord } from '../domain/records.js';
import { bedrockRuntime } from '../providers/bedrock/client.js';
import type { ProviderClients } from '../providers/types.js';
import type { ModelRegistry } from '../registry/registry.js';
import { jwtRouteListProblem } from '../routes.js';
import { masterKey as readMasterKey } from '../secrets.js';
import { createDocumentClient } from '../store/client.js';
import { EntityReader } from '../store/entities.js';
import { CachedLoader, DynamoBatchSource } from '../store/loader.js';
import type { ObjectOwners } from '../store/objects.js';
import type { RateLimiter } from '../store/rate-limits.js';
import type { SettlementJournal } from '../store/settlement-journal.js';
import type { SpendSettler } from '../store/spend-ledger.js';
import type { SpendLogStore } from '../store/spend-logs.js';
import { instrumented } from '../telemetry.js';

/** Everything that can be swapped. */
export interface AppDeps {
  documentClient: DynamoDBDocumentClient;
  entityReader: EntityReader;
  modelRegistry: ModelRegistry;
  spendSettler: SpendSettler;
  rateLimiter: RateLimiter;
  objectOwners: ObjectOwners;
  keptObjectOwners: ObjectOwners;
  spendLogStore: SpendLogStore;
  /** Where budget alerts go (lib/alerts/deliver). */
  alertSinks: AlertSink[];
  /** Keeps settlements that could not be written; undefined when none is configured. */
  settlementJournal: SettlementJournal | undefined;
  adminStore: AdminStore;
  /** The master key (TOLLGATE_MASTER_KEY or its secret), undefined when none is configured. */
  masterKey: () => Promise<string | undefined>;
  /** Undefined when no JWT issuer is configured. */
  jwtAuthenticator: JwtAuthenticator | undefined;
  upsertUser: ((userId: string) => Promise<UserRecord>) | undefined;
  clock: () => number;
  fetch: (input: string, init: RequestInit) => Promise<Response>;
  /** How providers reach Bedrock, Azure and Anthropic (lib/providers). */
  providerClients: ProviderClients;
}

const built = new Map<keyof AppDeps, unknown>();
let replaced: Partial<AppDeps> = {};

/** A dependency: the replacement if one is configured, else built once from the configuration. */
export function dependency<K extends keyof AppDeps>(name: K, build: (c: Config) => AppDeps[K]): () => AppDeps[K] {
  return () => {
    if (Object.hasOwn(replaced, name)) return replaced[name] as AppDeps[K];
    if (!built.has(name)) built.set(name, build(config()));
    return built.get(name) as AppDeps[K];
  };
}

export const documentClient = /* @__PURE__ */ dependency('documentClient', (c) =>
  createDocumentClient({ endpoint: c.dynamoEndpoint, region: c.region }),
);

/** The instance's cached entity reader (one cache per Lambda instance). */
export const entityReader = /* @__PURE__ */ dependency(
  'entityReader',
  (c) =>
    new EntityReader(
      new CachedLoader(new DynamoBatchSource(documentClient(), c.tableName, c.consistentReads), {
        ttlMs: c.cache.ttlMs,
        negativeTtlMs: c.cache.negativeTtlMs,
        maxEntries: c.cache.maxEntries,
      }),
      c.spendShards,
    ),
);

export const masterKey = /* @__PURE__ */ dependency('masterKey', () => readMasterKey);

export const clock = /* @__PURE__ */ dependency('clock', () => Date.now);

/**
 * How upstream calls are made: keep-alive, and none of undici's own limits on waiting for the
 * headers or on a silence (300 s each by default): the call's deadline (lib/llm/deadline,
 * TOLLGATE_UPSTREAM_TIMEOUT_MS, 885 s deployed) is the one limit. Found by review: a non-streamed
 * call answered after 5 minutes failed at 300 s whatever the deadline said, and a stream silent
 * that long (a model reasoning before its first token) was cut.
 */
export const UPSTREAM_AGENT_OPTIONS = { headersTimeout: 0, bodyTimeout: 0 } as const;

/** The dispatcher, made on the first upstream call: undici is loaded then, never by the authorizer. */
let upstreamAgent: Promise<import('undici').Dispatcher> | undefined;
const agent = () => (upstreamAgent ??= import('undici').then(({ Agent }) => new Agent(UPSTREAM_AGENT_OPTIONS)));
// Deployed, `undici` is its Agent alone, beside the bundle (infra/bundling LAZY_ENTRIES).

export const upstreamFetch = /* @__PURE__ */ dependency(
  'fetch',
  () =>
    async (input: string, init: RequestInit): Promise<Response> =>
      fetch(input, { ...init, dispatcher: await agent() } as RequestInit),
);

/**
 * The clients a provider reaches its upstream with (lib/providers). Bedrock is called with the
 * function's role (the SDK's credential chain); a cleartext endpoint (local mode's mock) with dummy
 * credentials. The Bedrock SDK is imported on the first Bedrock call.
 */
export const providerClients = /* @__PURE__ */ dependency(
  'providerClients',
  (c): ProviderClients => ({
    fetch: upstreamFetch(),
    timeoutMs: c.upstreamTimeoutMs,
    bedrock: (region) =>
      bedrockRuntime({
        region: region ?? c.region,
        endpoint: c.bedrockEndpoint,
        credentials: c.bedrockEndpoint?.startsWith('http://')
          ? { accessKeyId: 'LOCALMOCK', secretAccessKey: 'local-mock-only' }
          : undefined,
        instrument: instrumented,
      }),
  }),
);

const settingsOf = new WeakMap<Config, CheckSettings>();

/**
 * The settings the checks run with, from the configuration (the authorizer and the llm function),
 * read once per configuration: the authorizer asks on every decision, and checking the route
 * lists against the route table each time cost a warm decision a few µs.
 */
export function checkSettings(c: Config = config()): CheckSettings {
  const known = settingsOf.get(c);
  if (known) return known;
  for (const [name, list] of [
    ['TOLLGATE_JWT_TEAM_ROUTES', c.jwt.teamRoutes],
    ['TOLLGATE_JWT_ADMIN_ROUTES', c.jwt.adminRoutes],
  ] as const) {
    const problem = jwtRouteListProblem(list);
    if (problem) throw new ConfigError(`invalid configuration: ${name} ${problem}`);
  }
  const settings: CheckSettings = {
    maxBudget: c.maxBudget,
    budgetDuration: c.budgetDuration,
    enforceUserParam: c.enforceUserParam,
    jwtTeamRoutes: c.jwt.teamRoutes,
    jwtAdminRoutes: c.jwt.adminRoutes,
  };
  settingsOf.set(c, settings);
  return settings;
}

export interface AppSetup extends Partial<AppDeps> {
  /** A new configuration (a Config, or environment variables to parse): everything is rebuilt from it. */
  config?: Config | Record<string, string | undefined>;
}

/**
 * The one seam: replaces some dependencies, keeping earlier replacements; a dependency given as
 * `undefined` goes back to being built. Everything built before is dropped (clients, caches,
 * settler), so what is built next sees the new setup: a new client reaches the entity reader.
 */
export function configureApp(setup: AppSetup): Config {
  const { config: next, ...deps } = setup;
  if (next !== undefined) setConfig(next);
  built.clear();
  const merged: Partial<AppDeps> = { ...replaced };
  for (const [name, value] of Object.entries(deps) as [keyof AppDeps, unknown][]) {
    if (value === undefined) delete merged[name];
    else (merged as Record<string, unknown>)[name] = value;
  }
  replaced = merged;
  return config();
}

/** Drops every replacement and everything built; the configuration stays. */
export function resetApp(): void {
  replaced = {};
  built.clear();
}
