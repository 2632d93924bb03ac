/**
 * Secrets (the master key, upstream keys) come from Secrets Manager in AWS, read once per
 * instance and cached; in local mode they come from the environment through lib/config.
 */
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { config } from './config.js';
import { tracer } from './telemetry.js';

let client: SecretsManagerClient | undefined;
const cache = new Map<string, Promise<string>>();

/** The secret's string value; a failed read is not cached, so the next call tries again. */
export function readSecret(secretId: string): Promise<string> {
  let pending = cache.get(secretId);
  if (!pending) {
    client ??= tracer.captureAWSv3Client(new SecretsManagerClient({ region: config().region }));
    pending = client.send(new GetSecretValueCommand({ SecretId: secretId })).then((r) => {
      if (typeof r.SecretString !== 'string' || r.SecretString.length === 0) throw new Error('secret has no string value');
      return r.SecretString;
    });
    pending.catch(() => cache.delete(secretId));
    cache.set(secretId, pending);
  }
  return pending;
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
