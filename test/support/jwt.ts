/**
 * JWTs for tests: key pairs made here with node:crypto (RS256, ES256, EdDSA), their JWKS, signed
 * tokens, forged tokens, and an authorizer whose JWT authenticator has the JWKS preloaded and a
 * counting fetcher instead of the network. No test ever reaches outside the machine.
 */
import { createHmac, generateKeyPairSync, type KeyObject, randomUUID, sign } from 'node:crypto';
import { FetchError } from 'aws-jwt-verify/error';
import type { Fetcher } from 'aws-jwt-verify/https';
import type { Jwk, Jwks } from 'aws-jwt-verify/jwk';
import { configureApp } from '../../lib/app/index.js';
import { createJwksCache, JwtAuthenticator } from '../../lib/auth/jwt.js';
import { config } from '../../lib/config.js';

export type JwtAlg = 'RS256' | 'ES256' | 'EdDSA';
export const JWT_ALGS: readonly JwtAlg[] = ['RS256', 'ES256', 'EdDSA'];
export const TEST_AUDIENCE = 'tollgate-test';

export interface SigningKey {
  alg: JwtAlg;
  kid: string;
  privateKey: KeyObject;
  publicKey: KeyObject;
  /** The public JWK as an IdP publishes it: with kid, alg and use. */
  jwk: Jwk;
}

export function generateSigningKey(alg: JwtAlg, kid = `${alg.toLowerCase()}-${randomUUID().slice(0, 8)}`): SigningKey {
  const { privateKey, publicKey } =
    alg === 'RS256'
      ? generateKeyPairSync('rsa', { modulusLength: 2048 })
      : alg === 'ES256'
        ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
        : generateKeyPairSync('ed25519');
  const jwk = { ...(publicKey.export({ format: 'jwk' }) as Record<string, string>), kid, alg, use: 'sig' } as Jwk;
  return { alg, kid, privateKey, publicKey, jwk };
}

export const jwksOf = (...keys: SigningKey[]): Jwks => ({ keys: keys.map((k) => k.jwk) });

/** An identity provider: its issuer, its JWKS URI (never fetched: see installJwtAuthorizer) and keys. */
export interface TestIssuer {
  issuer: string;
  jwksUri: string;
  keys: Record<JwtAlg, SigningKey>;
  jwks: Jwks;
}

export function testIssuer(name = 'primary'): TestIssuer {
  const keys = { RS256: generateSigningKey('RS256'), ES256: generateSigningKey('ES256'), EdDSA: generateSigningKey('EdDSA') };
  return {
    issuer: `https://${name}.idp.test/`,
    jwksUri: `https://${name}.idp.test/.well-known/jwks.json`,
    keys,
    jwks: jwksOf(keys.RS256, keys.ES256, keys.EdDSA),
  };
}

/** The TOLLGATE_JWT_* settings that trust these issuers (for useTestTable / reconfigure). */
export function jwtEnv(issuers: TestIssuer[], extra: Record<string, string> = {}): Record<string, string> {
  return {
    TOLLGATE_JWT_ISSUER: issuers.map((i) => i.issuer).join(','),
    TOLLGATE_JWT_JWKS_URI: issuers.map((i) => i.jwksUri).join(','),
    TOLLGATE_JWT_AUDIENCE: TEST_AUDIENCE,
    ...extra,
  };
}

const b64url = (v: unknown): string => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');

/** Standard claims for a token from `issuer`, valid for `ttlSeconds` from `now` (ms). */
export function claims(
  issuer: TestIssuer,
  extra: Record<string, unknown> = {},
  opts: { now?: number; ttlSeconds?: number } = {},
): Record<string, unknown> {
  const iat = Math.floor((opts.now ?? Date.now()) / 1000);
  return { iss: issuer.issuer, aud: TEST_AUDIENCE, iat, exp: iat + (opts.ttlSeconds ?? 300), ...extra };
}

/** A JWS compact token signed by `key`; `header` overrides or removes (undefined) header fields. */
export function signJwt(key: SigningKey, payload: Record<string, unknown>, header: Record<string, unknown> = {}): string {
  const h = Object.fromEntries(Object.entries({ alg: key.alg, typ: 'JWT', kid: key.kid, ...header }).filter(([, v]) => v !== undefined));
  const input = `${b64url(h)}.${b64url(payload)}`;
  const data = Buffer.from(input);
  const sig =
    key.alg === 'RS256'
      ? sign('sha256', data, key.privateKey)
      : key.alg === 'ES256'
        ? sign('sha256', data, { key: key.privateKey, dsaEncoding: 'ieee-p1363' })
        : sign(null, data, key.privateKey);
  return `${input}.${sig.toString('base64url')}`;
}

/** Tokens an attacker or a broken client would send. Each is refused by a correct verifier. */
export const forge = {
  /** `alg: none`, with an empty or a junk signature segment. */
  algNone: (payload: Record<string, unknown>, kid?: string, signature = ''): string =>
    `${b64url({ alg: 'none', typ: 'JWT', ...(kid ? { kid } : {}) })}.${b64url(payload)}.${signature}`,
  /** The key-confusion attack: HS256 with the issuer's public key (PEM) as the HMAC secret. */
  hs256WithPublicKey: (key: SigningKey, payload: Record<string, unknown>): string => {
    const input = `${b64url({ alg: 'HS256', typ: 'JWT', kid: key.kid })}.${b64url(payload)}`;
    const secret = key.publicKey.export({ type: 'spki', format: 'pem' });
    return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
  },
  /** Cut `chars` characters off the end (the signature loses bytes). */
  truncated: (token: string, chars = 1): string => token.slice(0, Math.max(0, token.length - chars)),
  /** The same header (kid of the genuine key) and payload, signed by another key of the same alg. */
  resigned: (token: string, other: SigningKey): string => {
    const [h, p] = token.split('.') as [string, string];
    const header = JSON.parse(Buffer.from(h, 'base64url').toString()) as Record<string, unknown>;
    const payload = JSON.parse(Buffer.from(p, 'base64url').toString()) as Record<string, unknown>;
    return signJwt(other, payload, header);
  },
  /** The payload changed after signing (privilege escalation attempt). */
  tampered: (token: string, change: Record<string, unknown>): string => {
    const [h, p, s] = token.split('.') as [string, string, string];
    const payload = JSON.parse(Buffer.from(p, 'base64url').toString()) as Record<string, unknown>;
    return `${h}.${b64url({ ...payload, ...change })}.${s}`;
  },
  withoutKid: (key: SigningKey, payload: Record<string, unknown>): string => signJwt(key, payload, { kid: undefined }),
  unknownKid: (key: SigningKey, payload: Record<string, unknown>, kid = `unknown-${randomUUID().slice(0, 8)}`): string =>
    signJwt(key, payload, { kid }),
  wrongIssuer: (issuer: TestIssuer, key: SigningKey, extra: Record<string, unknown> = {}): string =>
    signJwt(key, claims(issuer, { ...extra, iss: 'https://evil.idp.test/' })),
  wrongAudience: (issuer: TestIssuer, key: SigningKey, extra: Record<string, unknown> = {}): string =>
    signJwt(key, claims(issuer, { ...extra, aud: 'someone-else' })),
  expired: (issuer: TestIssuer, key: SigningKey, extra: Record<string, unknown> = {}): string =>
    signJwt(key, claims(issuer, extra, { now: Date.now() - 3_600_000, ttlSeconds: 60 })),
  notYetValid: (issuer: TestIssuer, key: SigningKey, extra: Record<string, unknown> = {}): string =>
    signJwt(key, claims(issuer, { ...extra, nbf: Math.floor(Date.now() / 1000) + 3600 })),
};

/**
 * A JWKS fetcher that records every call and answers with `respond` (by default it refuses, as
 * an unreachable IdP would): tests count fetches and never touch the network.
 */
export class CountingFetcher implements Fetcher {
  readonly calls: string[] = [];

  constructor(
    private readonly respond: (uri: string) => Promise<Jwks> = (uri) => Promise.reject(new FetchError(uri, 'offline in tests')),
  ) {}

  async fetch(uri: string): Promise<ArrayBuffer> {
    this.calls.push(uri);
    const body = Buffer.from(JSON.stringify(await this.respond(uri)));
    return body.buffer.slice(body.byteOffset, body.byteOffset + body.byteLength);
  }
}

/**
 * Points the authorizer at a JWT authenticator built from the current configuration with these
 * issuers' JWKS preloaded; a kid missing from them goes to `fetcher` (refusing by default).
 */
export function installJwtAuthorizer(
  issuers: TestIssuer[],
  fetcher: Fetcher = new CountingFetcher(),
): { authenticator: JwtAuthenticator; fetcher: Fetcher } {
  const settings = config().jwt;
  const authenticator = JwtAuthenticator.withJwks(
    settings,
    Object.fromEntries(issuers.map((i) => [i.jwksUri, i.jwks])),
    createJwksCache(settings, fetcher),
  );
  configureApp({ jwtAuthenticator: authenticator });
  return { authenticator, fetcher };
}
