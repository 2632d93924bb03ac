/**
 * A verified JWT is remembered (issue 11): a warm JWT costs no second verification, bounded in
 * count and never past its `exp` or the cache TTL.
 */
import { SimpleJwksCache } from 'aws-jwt-verify/jwk';
import { describe, expect, it, vi } from 'vitest';
import { JwtAuthenticator } from '../../../lib/auth/jwt.js';
import { parseConfig } from '../../../lib/config.js';
import { claims, jwtEnv, signJwt, testIssuer } from '../../support/jwt.js';

const issuer = testIssuer('verified-cache');
const settings = parseConfig({ TOLLGATE_TABLE_NAME: 't', ...jwtEnv([issuer]) }).jwt;

function authenticator(opts: { maxEntries: number; ttlMs: number; clock: () => number }) {
  const jwks = new SimpleJwksCache();
  jwks.addJwks(issuer.jwksUri, issuer.jwks);
  const a = new JwtAuthenticator(settings, jwks, opts);
  const spy = vi.spyOn(a as unknown as { verifyOnce(t: string): Promise<unknown> }, 'verifyOnce');
  return { a, spy };
}

describe('verified tokens are remembered', () => {
  it('a second call with the same token does not verify it again', async () => {
    const { a, spy } = authenticator({ maxEntries: 10, ttlMs: 60_000, clock: Date.now });
    const token = signJwt(issuer.keys.ES256, claims(issuer, { sub: 'u-1' }));
    await a.verify(token);
    await a.verify(token);
    expect(spy).toHaveBeenCalledTimes(1);
  });

  it('never past the token’s exp: after it, the token is verified again (and refused)', async () => {
    let now = Date.now();
    const { a, spy } = authenticator({ maxEntries: 10, ttlMs: 600_000, clock: () => now });
    const token = signJwt(issuer.keys.ES256, claims(issuer, { sub: 'u-1' }, { ttlSeconds: 30 }));
    await a.verify(token);
    now += 31_000;
    // The library checks exp against the real clock; the cache's own clock says the entry is stale.
    await a.verify(token).catch(() => undefined);
    expect(spy).toHaveBeenCalledTimes(2);
  });

  it('never past the cache TTL, and bounded in count', async () => {
    let now = Date.now();
    const { a, spy } = authenticator({ maxEntries: 2, ttlMs: 1_000, clock: () => now });
    const tokens = ['a', 'b', 'c'].map((sub) => signJwt(issuer.keys.ES256, claims(issuer, { sub })));
    await a.verify(tokens[0]!);
    now += 1_001;
    await a.verify(tokens[0]!);
    expect(spy).toHaveBeenCalledTimes(2);
    for (const t of tokens) await a.verify(t);
    // Three tokens through a cache of two: the first was evicted and is verified again.
    await a.verify(tokens[0]!);
    expect(spy).toHaveBeenCalledTimes(5);
  });

  it('its bound costs nothing up front: a bound of millions builds at once (found by review)', async () => {
    // lru-cache's `max` allocates every slot when the cache is made: 5M slots took seconds and
    // hundreds of MB on the authorizer's first JWT. The entity loader already bounds by size.
    const started = performance.now();
    const { a } = authenticator({ maxEntries: 5_000_000, ttlMs: 60_000, clock: Date.now });
    await a.verify(signJwt(issuer.keys.ES256, claims(issuer, { sub: 'u-1' })));
    expect(performance.now() - started).toBeLessThan(500);
  });

  it('a refused token is not remembered', async () => {
    const { a, spy } = authenticator({ maxEntries: 10, ttlMs: 60_000, clock: Date.now });
    const bad = `${signJwt(issuer.keys.ES256, claims(issuer, { sub: 'u-1' }))}x`;
    await expect(a.verify(bad)).rejects.toThrow();
    await expect(a.verify(bad)).rejects.toThrow();
    expect(spy).toHaveBeenCalledTimes(2);
  });
});
