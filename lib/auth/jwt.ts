/**
 * JWT verification with aws-jwt-verify: signature (RS256, ES256, EdDSA and the rest of the
 * asymmetric family; `none` and HMAC are refused by the library), issuer, audience, expiry and
 * not-before, for one or several issuers. A `kid` missing from the cached JWKS makes one fetch of
 * the JWKS, bounded by `jwksTimeoutMs` in all; a failed lookup or fetch puts that JWKS in a
 * penalty box, so garbage tokens cannot turn into a stream of fetches or waits.
 */

import { createHash } from 'node:crypto';
import { JwtVerifier } from 'aws-jwt-verify';
import {
  FetchError,
  JwksValidationError,
  JwkValidationError,
  JwtExpiredError,
  JwtInvalidAudienceError,
  JwtInvalidClaimError,
  JwtInvalidIssuerError,
  JwtInvalidSignatureAlgorithmError,
  JwtInvalidSignatureError,
  JwtNotBeforeError,
  JwtParseError,
  JwtWithoutValidKidError,
  KidNotFoundInJwksError,
  ParameterValidationError,
  WaitPeriodNotYetEndedJwkError,
} from 'aws-jwt-verify/error';
import { type Fetcher, SimpleFetcher } from 'aws-jwt-verify/https';
import { type Jwks, type JwksCache, SimpleJwksCache, SimplePenaltyBox } from 'aws-jwt-verify/jwk';
import type { JwtPayload } from 'aws-jwt-verify/jwt-model';
import { LRUCache } from 'lru-cache';
import type { Config } from '../config.js';
import { idProblem } from '../domain/ids.js';
import { InvalidJwtError } from '../errors.js';

export type JwtSettings = Config['jwt'];

/** What a verified token says about its bearer, through the configured claim names. */
export interface JwtIdentity {
  userId?: string | undefined;
  teamId?: string | undefined;
  orgId?: string | undefined;
  endUserId?: string | undefined;
  isAdmin: boolean;
}

type Verifier = { verify(token: string): Promise<JwtPayload> };

/** How long a verified token is remembered: bounded in count, and never past its `exp` or `ttlMs`. */
export interface VerifiedTokenCache {
  maxEntries: number;
  ttlMs: number;
  clock?: () => number;
}

export class JwtAuthenticator {
  private readonly verifier: Verifier;
  /** Verified payloads by the token's SHA-256: a warm JWT costs what a warm key costs. */
  private readonly verified: LRUCache<string, JwtPayload>;
  private readonly clock: () => number;

  constructor(
    private readonly settings: JwtSettings,
    jwksCache: JwksCache = createJwksCache(settings),
    private readonly remember: VerifiedTokenCache = { maxEntries: 10_000, ttlMs: 60_000 },
  ) {
    this.clock = remember.clock ?? Date.now;
    this.verified = new LRUCache<string, JwtPayload>({
      // Bounded by size (one per token), not by `max`: a `max` makes lru-cache allocate its whole
      // capacity up front, on the first JWT of every instance (as in lib/store/loader.ts).
      maxSize: Math.max(1, remember.maxEntries),
      sizeCalculation: () => 1,
      ttlAutopurge: false,
      perf: { now: () => this.clock() },
    });
    if (settings.issuers.length === 0) throw new Error('JwtAuthenticator needs at least one issuer');
    const audience = settings.audience.length > 0 ? settings.audience : null;
    this.verifier = JwtVerifier.create(
      settings.issuers.map((i) => ({ issuer: i.issuer, jwksUri: i.jwksUri, audience })),
      { jwksCache },
    ) as unknown as Verifier;
  }

  /** Preloads a JWKS (no network), e.g. from configuration or in tests. */
  static withJwks(
    settings: JwtSettings,
    jwksByUri: Record<string, Jwks>,
    cache: SimpleJwksCache = createJwksCache(settings),
  ): JwtAuthenticator {
    for (const [uri, jwks] of Object.entries(jwksByUri)) cache.addJwks(uri, jwks);
    return new JwtAuthenticator(settings, cache);
  }

  async verify(token: string): Promise<JwtPayload> {
    const id = createHash('sha256').update(token).digest('base64url');
    const known = this.verified.get(id);
    if (known) return known;
    const payload = await this.verifyOnce(token);
    // Until its expiry, and no longer than the cache TTL (a key removed from the JWKS stops it then).
    const ttl = Math.min((payload.exp as number) * 1000 - this.clock(), this.remember.ttlMs);
    if (ttl > 0) this.verified.set(id, payload, { ttl });
    return payload;
  }

  private async verifyOnce(token: string): Promise<JwtPayload> {
    let payload: JwtPayload;
    try {
      payload = await this.verifier.verify(token);
    } catch (e) {
      // The library's messages describe the token, never echo it; keep only the error class.
      throw new InvalidJwtError(describe(e));
    }
    // The library checks `exp` only when present: a token without one would never expire.
    if (typeof payload.exp !== 'number') throw new InvalidJwtError('the token has no expiry (exp)');
    return payload;
  }

  identity(payload: JwtPayload): JwtIdentity {
    const s = this.settings;
    return {
      userId: claimString(payload, s.userClaim),
      teamId: claimString(payload, s.teamClaim) ?? s.defaultTeam,
      orgId: claimString(payload, s.orgClaim),
      endUserId: claimString(payload, s.endUserClaim),
      isAdmin: scopes(payload, s.scopeClaim).includes(s.adminScope),
    };
  }
}

/**
 * SimpleFetcher retries a failed fetch once, immediately, and its timeouts apply per attempt: a
 * JWKS endpoint that never answers held a request for twice the timeout. One deadline for the
 * whole fetch, retry included, keeps the wait within `timeoutMs`.
 */
export class DeadlineFetcher implements Fetcher {
  private readonly inner: SimpleFetcher;

  /** `requestOptions` are Node https options (e.g. `ca` for a JWKS behind a private CA). */
  constructor(
    private readonly timeoutMs: number,
    requestOptions: Record<string, unknown> = {},
  ) {
    this.inner = new SimpleFetcher({ defaultRequestOptions: { timeout: timeoutMs, responseTimeout: timeoutMs, ...requestOptions } });
  }

  fetch(uri: string, requestOptions?: Record<string, unknown>, data?: ArrayBuffer): Promise<ArrayBuffer> {
    return this.inner.fetch(uri, { signal: AbortSignal.timeout(this.timeoutMs), ...requestOptions }, data);
  }
}

/**
 * SimpleJwksCache boxes a JWKS only when a fetched JWKS lacks the kid; a fetch that fails or
 * times out did not count, so every garbage token waited out the timeout anew.
 */
export class PenalizingJwksCache extends SimpleJwksCache {
  override async getJwks(jwksUri: string): Promise<Jwks> {
    try {
      return await super.getJwks(jwksUri);
    } catch (e) {
      this.penaltyBox.registerFailedAttempt(jwksUri, '');
      throw e;
    }
  }
}

/** The JWKS cache the authorizer uses: bounded fetches, a 10 s penalty box after a failed lookup. */
export function createJwksCache(
  settings: Pick<JwtSettings, 'jwksTimeoutMs'>,
  fetcher: Fetcher = new DeadlineFetcher(settings.jwksTimeoutMs),
): SimpleJwksCache {
  return new PenalizingJwksCache({ fetcher, penaltyBox: new SimplePenaltyBox({ waitSeconds: 10 }) });
}

// instanceof, not class names: names do not survive minification.
const REASONS: [abstract new (...a: never[]) => Error, string][] = [
  [JwtExpiredError, 'the token has expired'],
  [JwtNotBeforeError, 'the token is not valid yet'],
  [JwtInvalidIssuerError, 'the issuer is not trusted'],
  [ParameterValidationError, 'the issuer is not trusted'],
  [JwtInvalidAudienceError, 'the audience does not match'],
  [JwtInvalidSignatureAlgorithmError, 'the signature algorithm is not accepted'],
  [JwtInvalidSignatureError, 'the signature is invalid'],
  [JwtParseError, 'the token is malformed'],
  [KidNotFoundInJwksError, 'the signing key is not in the JWKS'],
  [WaitPeriodNotYetEndedJwkError, 'the signing key is not in the JWKS'],
  [JwtWithoutValidKidError, 'the token names no signing key (kid)'],
  [FetchError, 'the JWKS could not be fetched'],
  [JwksValidationError, 'the JWKS is invalid'],
  [JwkValidationError, 'the signing key is invalid'],
  [JwtInvalidClaimError, 'a claim is invalid'],
];

function describe(e: unknown): string {
  return REASONS.find(([cls]) => e instanceof cls)?.[1] ?? 'the token could not be verified';
}

/** A claim by name, or by dotted path into nested objects; arrays give their first string. */
export function claimValue(payload: Record<string, unknown>, path: string): unknown {
  if (Object.hasOwn(payload, path)) return payload[path];
  let cur: unknown = payload;
  for (const part of path.split('.')) {
    if (cur === null || typeof cur !== 'object') return undefined;
    // Own properties only: a claim path of `constructor` or `__proto__` names nothing.
    cur = Object.hasOwn(cur, part) ? (cur as Record<string, unknown>)[part] : undefined;
  }
  return cur;
}

function claimString(payload: Record<string, unknown>, path: string): string | undefined {
  const v = claimValue(payload, path);
  const s = Array.isArray(v) ? v.find((x) => typeof x === 'string') : v;
  if (typeof s !== 'string' || s.length === 0) return undefined;
  // The ids a token names follow the one id rule (lib/domain/ids): the admin API accepts them all.
  const problem = idProblem(s);
  if (problem) throw new InvalidJwtError(`the \`${path}\` claim is not a usable id: it ${problem}`);
  return s;
}

function scopes(payload: Record<string, unknown>, path: string): string[] {
  const v = claimValue(payload, path);
  if (typeof v === 'string') return v.split(/\s+/).filter(Boolean);
  if (Array.isArray(v)) return v.filter((x): x is string => typeof x === 'string');
  return [];
}
