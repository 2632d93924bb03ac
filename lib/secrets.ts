/**
 * Secrets (the master key, upstream keys) come from Secrets Manager in AWS, read once per
 * instance and cached; in local mode they come from the environment through lib/config.
 */
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { config } from './config.js';
import { boundAttempts, boundedClientConfig } from './store/attempt-deadline.js';
import { instrumented } from './telemetry.js';

/**
 * Secrets read once and kept for a bounded time (TOLLGATE_SECRET_TTL_SECONDS): a rotated or
 * revoked secret stops working on warm instances within it. Concurrent reads share one fetch; a
 * failed read is not kept, so the next call tries again.
 */
export class SecretCache {
  private readonly entries = new Map<string, { value: Promise<string>; until: number }>();

  constructor(
    private readonly fetchSecret: (secretId: string) => Promise<string>,
    private readonly ttlMs: number,
    private readonly clock: () => number = Date.now,
  ) {}

  get(secretId: string): Promise<string> {
    const now = this.clock();
    const hit = this.entries.get(secretId);
    if (hit && hit.until > now) return hit.value;
    const value = this.fetchSecret(secretId);
    const entry = { value, until: now + this.ttlMs };
    this.entries.set(secretId, entry);
    value.catch(() => {
      if (this.entries.get(secretId) === entry) this.entries.delete(secretId);
    });
    return value;
  }
}

let client: SecretsManagerClient | undefined;
let cache: SecretCache | undefined;

/**
 * Secrets Manager gets the store's deadline (TOLLGATE_STORE_TIMEOUT_MS per attempt, headers and
 * body, TOLLGATE_STORE_MAX_ATTEMPTS attempts): a stalled or unreachable Secrets Manager fails
 * the read after about 4 s with the defaults, and the request that needed the secret is denied
 * (503 for the master key, 502 for an upstream key) instead of held until the Lambda times out.
 */
function secretsManager(): SecretsManagerClient {
  const c = config();
  const base = new SecretsManagerClient({ region: c.region, ...boundedClientConfig(c.store) });
  return instrumented(boundAttempts(base, c.store.timeoutMs));
}

async function fetchFromSecretsManager(secretId: string): Promise<string> {
  client ??= secretsManager();
  const r = await client.send(new GetSecretValueCommand({ SecretId: secretId }));
  if (typeof r.SecretString !== 'string' || r.SecretString.length === 0) throw new Error('secret has no string value');
  return r.SecretString;
}

/** The secret's string value, from the instance's cache (kept for TOLLGATE_SECRET_TTL_SECONDS). */
export function readSecret(secretId: string): Promise<string> {
  cache ??= new SecretCache(fetchFromSecretsManager, config().secretTtlSeconds * 1000);
  return cache.get(secretId);
}

/** The master key: TOLLGATE_MASTER_KEY, else the secret named by TOLLGATE_MASTER_KEY_SECRET_ARN, else none. */
export async function masterKey(): Promise<string | undefined> {
  const c = config();
  if (c.masterKey) return c.masterKey;
  if (c.masterKeySecretArn) return readSecret(c.masterKeySecretArn);
  return undefined;
}

/**
 * An upstream key by its secret name. With TOLLGATE_LOCAL_SECRETS set (local mode) the name is
 * looked up there only, so local runs never reach for AWS; otherwise Secrets Manager.
 * Undefined when the name is not among the local secrets.
 */
export async function upstreamSecret(name: string): Promise<string | undefined> {
  const local = config().localSecrets;
  if (local) return Object.hasOwn(local, name) ? local[name] : undefined;
  return readSecret(name);
}
