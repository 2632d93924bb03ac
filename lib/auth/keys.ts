import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

export const VIRTUAL_KEY_PREFIX = 'sk-';

/** Virtual keys are stored and found by the lowercase hex SHA-256 of the whole `sk-...` string. */
export const hashKey = (key: string): string => createHash('sha256').update(key, 'utf8').digest('hex');

/** `sk-...last4`: what we show and log instead of a key. */
export const keyName = (key: string): string => `${VIRTUAL_KEY_PREFIX}...${key.slice(-4)}`;

/** A new virtual key: `sk-` and 192 bits from the CSPRNG, base64url. */
export const generateKey = (): string => VIRTUAL_KEY_PREFIX + randomBytes(24).toString('base64url');

/** Constant-time equality of two secrets of any length (compares their digests). */
export function secretEquals(a: string, b: string): boolean {
  const da = createHash('sha256').update(a, 'utf8').digest();
  const db = createHash('sha256').update(b, 'utf8').digest();
  return timingSafeEqual(da, db);
}

const B64URL = /^[A-Za-z0-9_-]+$/;
/** Three base64url segments: the shape of a JWS compact token (signature may not be empty). */
export function looksLikeJwt(token: string): boolean {
  const parts = token.split('.');
  return parts.length === 3 && parts.every((p) => p.length > 0 && B64URL.test(p));
}
