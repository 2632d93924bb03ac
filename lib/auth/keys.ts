import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

export const VIRTUAL_KEY_PREFIX = 'sk-';

/** The raw SHA-256 of a credential: computed once per request, for the master-key check and the key lookup. */
export const sha256 = (value: string): Buffer => createHash('sha256').update(value, 'utf8').digest();

/** Virtual keys are stored and found by the lowercase hex SHA-256 of the whole `sk-...` string. */
export const hashKey = (key: string): string => sha256(key).toString('hex');

/** `sk-...last4`: what we show and log instead of a key. */
export const keyName = (key: string): string => `${VIRTUAL_KEY_PREFIX}...${key.slice(-4)}`;

/** A new virtual key: `sk-` and 192 bits from the CSPRNG, base64url. */
export const generateKey = (): string => VIRTUAL_KEY_PREFIX + randomBytes(24).toString('base64url');

/** Constant-time equality of two secrets of any length (compares their digests). */
export function secretEquals(a: string, b: string): boolean {
  return digestMatchesSecret(sha256(a), b);
}

// The secret (the master key) is the same on every request: its digest is kept, not recomputed.
let remembered: { secret: string; digest: Buffer } | undefined;

/** Constant-time: does this credential digest match the secret? */
export function digestMatchesSecret(digest: Buffer, secret: string): boolean {
  if (remembered?.secret !== secret) remembered = { secret, digest: sha256(secret) };
  return timingSafeEqual(digest, remembered.digest);
}

const B64URL = /^[A-Za-z0-9_-]+$/;
/** Three base64url segments: the shape of a JWS compact token (signature may not be empty). */
export function looksLikeJwt(token: string): boolean {
  const parts = token.split('.');
  return parts.length === 3 && parts.every((p) => p.length > 0 && B64URL.test(p));
}
