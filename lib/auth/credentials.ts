/**
 * Finding the credential in request headers. Precedence, first present wins:
 *   1. `x-litellm-api-key`   2. `Authorization: Bearer <token>` (any case of "bearer")
 *   3. `api-key` (Azure clients)   4. `x-api-key` (Anthropic clients)
 * A header sent twice with different values is refused rather than guessed at.
 */

import { CREDENTIAL_HEADERS, type CredentialSource } from '../domain/credentials.js';
import { InvalidApiKeyError, MissingCredentialsError } from '../errors.js';

export { CREDENTIAL_HEADERS, type CredentialSource };

/** Longest credential we look at; JWTs with many claims stay far below this. */
export const MAX_CREDENTIAL_LENGTH = 8192;

export interface Credential {
  source: CredentialSource;
  value: string;
}

export type HeaderBag = Record<string, string | undefined | null> | null | undefined;
export type MultiHeaderBag = Record<string, (string | undefined | null)[] | undefined | null> | null | undefined;

/** Header values by lowercase name, merging API Gateway's `headers` and `multiValueHeaders`. */
export function headerValues(headers: HeaderBag, multi?: MultiHeaderBag): Map<string, string[]> {
  const out = new Map<string, string[]>();
  const add = (name: string, value: unknown) => {
    if (typeof value !== 'string') return;
    const key = name.toLowerCase();
    const list = out.get(key) ?? [];
    if (!list.includes(value)) list.push(value);
    out.set(key, list);
  };
  for (const [name, values] of Object.entries(multi ?? {})) for (const v of values ?? []) add(name, v);
  for (const [name, value] of Object.entries(headers ?? {})) add(name, value);
  return out;
}

// "Bearer" alone (no token) counts as an empty value, skipped like any other.
const BEARER = /^bearer(?:[ \t]+|$)/i;
// Printable ASCII without spaces: anything else cannot be a key or a JWT.
const TOKEN_CHARS = /^[\x21-\x7e]+$/;

/** The token a header value carries ('' when empty); Authorization must use the Bearer scheme. */
function tokenOf(source: CredentialSource, raw: string): string {
  const value = raw.trim();
  if (value.length === 0) return '';
  if (source === 'authorization' && !BEARER.test(value))
    throw new InvalidApiKeyError('the Authorization header must use the Bearer scheme');
  return value.replace(BEARER, '').trim();
}

export function extractCredential(values: Map<string, string[]>): Credential {
  for (const source of CREDENTIAL_HEADERS) {
    // Compared by token, so `Bearer x` and `bearer x` sent twice are one credential.
    const distinct = [...new Set((values.get(source) ?? []).map((v) => tokenOf(source, v)).filter((t) => t.length > 0))];
    if (distinct.length === 0) continue;
    if (distinct.length > 1) throw new InvalidApiKeyError(`the \`${source}\` header was sent more than once with different values`);
    const value = distinct[0] as string;
    if (value.length > MAX_CREDENTIAL_LENGTH)
      throw new InvalidApiKeyError(`the credential is longer than ${MAX_CREDENTIAL_LENGTH} characters`);
    if (!TOKEN_CHARS.test(value)) throw new InvalidApiKeyError('the credential holds characters no key or token has');
    return { source, value };
  }
  throw new MissingCredentialsError();
}
