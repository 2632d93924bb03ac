/** Virtual keys: how they are made, hashed, named, compared; and what looks like a JWT. */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { generateKey, hashKey, keyName, looksLikeJwt, secretEquals } from '../../../lib/auth/keys.js';

describe('hashKey: lowercase hex SHA-256 of the whole key', () => {
  it('matches the published SHA-256 test vector', () => {
    expect(hashKey('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });

  it('is 64 lowercase hex characters', () => {
    expect(hashKey(generateKey())).toMatch(/^[0-9a-f]{64}$/);
  });

  it('hashes the whole key, prefix included', () => {
    expect(hashKey('sk-1234')).not.toBe(hashKey('1234'));
    expect(hashKey('sk-1234')).not.toBe(hashKey('sk-1235'));
  });

  it('hashes the UTF-8 bytes of the key', () => {
    expect(hashKey('\u00e9')).toBe(
      createHash('sha256')
        .update(Buffer.from([0xc3, 0xa9]))
        .digest('hex'),
    );
  });
});

describe('generateKey: `sk-` and at least 128 bits from the CSPRNG', () => {
  const draws = Array.from({ length: 20_000 }, generateKey);

  it('has the sk- prefix and a base64url body', () => {
    for (const k of draws.slice(0, 100)) expect(k).toMatch(/^sk-[A-Za-z0-9_-]+$/);
  });

  it('carries at least 128 bits', () => {
    for (const k of draws.slice(0, 100)) expect(Buffer.from(k.slice(3), 'base64url').length * 8).toBeGreaterThanOrEqual(128);
  });

  it('never repeats over 20,000 draws', () => {
    expect(new Set(draws).size).toBe(draws.length);
  });

  it('every body position takes many values (no constant or low-entropy part)', () => {
    const body = draws.slice(0, 2000).map((k) => k.slice(3));
    for (let i = 0; i < (body[0] as string).length; i++) {
      expect(new Set(body.map((b) => b[i])).size, `position ${i}`).toBeGreaterThan(40);
    }
  });
});

describe('keyName: sk-...last4', () => {
  it('shows only the last four characters', () => {
    expect(keyName('sk-abcdefghijWXYZ')).toBe('sk-...WXYZ');
  });
});

describe('secretEquals', () => {
  it.each([
    ['sk-master', 'sk-master', true],
    ['sk-master', 'sk-mastex', false],
    ['sk-master', 'sk-master-longer', false],
    ['sk-master', 'sk-maste', false],
    ['', '', true],
    ['', 'x', false],
    ['clé', 'clé', true],
    ['clé', 'cle', false],
  ])('%j vs %j -> %s', (a, b, equal) => {
    expect(secretEquals(a, b)).toBe(equal);
  });
});

describe('looksLikeJwt: three non-empty base64url segments', () => {
  const seg = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const realShape = `${seg({ alg: 'ES256', kid: 'k1' })}.${seg({ sub: 'u-1' })}.${'A'.repeat(86)}`;

  it.each([
    [realShape, true],
    ['a.b.c', true],
    ['a-_.b_-.c-_', true],
    ['a.b', false],
    ['a.b.', false],
    [`${seg({ alg: 'none' })}.${seg({ sub: 'x' })}.`, false],
    ['a..c', false],
    ['.b.c', false],
    ['a.b.c.d', false],
    ['a=.b.c', false],
    ['a+b.c.d', false],
    ['a/b.c.d', false],
    ['sk-abc', false],
    ['', false],
  ])('%j -> %s', (token, jwt) => {
    expect(looksLikeJwt(token)).toBe(jwt);
  });
});
