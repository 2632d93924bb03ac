/**
 * A virtual key's hash, computed in the browser the way the API stores it (lib/auth/keys.ts
 * `hashKey`: the lowercase hex SHA-256 of the whole `sk-...` string), so a plaintext key the
 * admin pastes never has to leave the page.
 */
import { ApiError } from './api';

/** What the API takes as a key's hash as it is (lib/admin/actions/spend.ts `keyHashOf`). */
export const isKeyHash = (s: string): boolean => /^[0-9a-f]{64}$/.test(s);

/** Whether this page can hash: `crypto.subtle` exists only on HTTPS (and localhost). */
export const canHash = (): boolean => Boolean(globalThis.crypto?.subtle);

/** The lowercase hex SHA-256 of `text` (UTF-8). */
export async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

/**
 * A key as the API may be asked about it without its plaintext: its hash (a hash is kept as it
 * is). Where the page cannot hash, the refusal names `field` and nothing is sent.
 */
export async function hashKey(key: string, field: string | null = null): Promise<string> {
  if (isKeyHash(key)) return key;
  if (!canHash())
    throw new ApiError(0, {
      message: 'this page is not served over HTTPS, so the browser cannot hash the key here: give its SHA-256 hash instead',
      type: 'console_error',
      param: field,
      code: 'console_error',
    });
  return sha256Hex(key);
}
