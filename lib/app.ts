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
 * Each dependency is its own export, built by a pure factory, so a function's bundle holds only
 * the dependencies it uses (the authorizer's has no settler, registry or admin store).
 */
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { AdminStore } from './admin/persistence.js';
import type { IdentifyDeps } from './auth/identify.js';
import { JwtAuthenticator } from './auth/jwt.js';
import type { CheckSettings } from './checks/checks.js';
import { type Config, config, setConfig } from './config.js';
import type { UserRecord } from './domain/records.js';
import { ModelRegistry } from './registry/registry.js';
import { masterKey as readMasterKey } from './secrets.js';
import { DynamoAdminStore } from './store/admin-store.js';
import { createDocumentClient } from './store/client.js';
import { EntityReader } from './store/entities.js';
import { CachedLoader, DynamoBatchSource } from './store/loader.js';
import { DynamoModelSource } from './store/models.js';
import { DynamoSettler, type SpendSettler } from './store/spend-ledger.js';
import { createUserIfAbsent } from './store/users.js';

/** Everything that can be swapped. */
export interface AppDeps {
  documentClient: DynamoDBDocumentClient;
  entityReader: EntityReader;
  modelRegistry: ModelRegistry;
  spendSettler: SpendSettler;
  adminStore: AdminStore;
  /** The master key (TOLLGATE_MASTER_KEY or its secret), undefined when none is configured. */
  masterKey: () => Promise<string | undefined>;
  /** Undefined when no JWT issuer is configured. */
  jwtAuthenticator: JwtAuthenticator | undefined;
  upsertUser: ((userId: string) => Promise<UserRecord>) | undefined;
  clock: () => number;
  fetch: (input: string, init: RequestInit) => Promise<Response>;
}

const built = new Map<keyof AppDeps, unknown>();
let replaced: Partial<AppDeps> = {};

/** A dependency: the replacement if one is configured, else built once from the configuration. */
function dependency<K extends keyof AppDeps>(name: K, build: (c: Config) => AppDeps[K]): () => AppDeps[K] {
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

/** The model registry (one cached list per instance, kept for the cache TTL). */
export const modelRegistry = /* @__PURE__ */ dependency(
  'modelRegistry',
  (c) => new ModelRegistry(new DynamoModelSource(documentClient(), c.tableName), { ttlMs: c.cache.ttlMs }),
);

/** The settler, built once per instance; what it wrote is forgotten by this instance's cache. */
export const spendSettler = /* @__PURE__ */ dependency(
  'spendSettler',
  (c) =>
    new DynamoSettler(documentClient(), c.tableName, {
      ttlSeconds: c.settlementTtlSeconds,
      shards: c.spendShards,
      onChanged: (changed) => {
        for (const ref of changed) entityReader().loader.invalidate(ref);
      },
    }),
);

export const adminStore = /* @__PURE__ */ dependency(
  'adminStore',
  (c) =>
    new DynamoAdminStore(documentClient(), c.tableName, {
      shards: c.spendShards,
      invalidate: (ref) => entityReader().loader.invalidate(ref),
    }),
);

export const masterKey = /* @__PURE__ */ dependency('masterKey', () => readMasterKey);

export const jwtAuthenticator = /* @__PURE__ */ dependency('jwtAuthenticator', (c) =>
  c.jwt.issuers.length > 0 ? new JwtAuthenticator(c.jwt) : undefined,
);

export const upsertUser = /* @__PURE__ */ dependency('upsertUser', (c) =>
  c.jwt.upsertUser ? (userId: string) => createUserIfAbsent(documentClient(), c.tableName, entityReader(), userId) : undefined,
);

export const clock = /* @__PURE__ */ dependency('clock', () => Date.now);

export const upstreamFetch = /* @__PURE__ */ dependency('fetch', () => (input: string, init: RequestInit) => fetch(input, init));

/** The settings the checks run with, from the configuration (the authorizer and the llm function). */
export function checkSettings(c: Config = config()): CheckSettings {
  return {
    maxBudget: c.maxBudget,
    budgetDuration: c.budgetDuration,
    enforceUserParam: c.enforceUserParam,
    jwtTeamRoutes: c.jwt.teamRoutes,
    jwtAdminRoutes: c.jwt.adminRoutes,
  };
}

/** The authorizer's collaborators (lib/auth/identify). */
export const identifyDeps = (): IdentifyDeps => ({
  reader: entityReader(),
  masterKey: masterKey(),
  jwt: jwtAuthenticator(),
  upsertUser: upsertUser(),
});

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
