/** The master key's lifetime in memory (issue 10, item 13): a rotated secret is read again after the TTL. */
import { describe, expect, it } from 'vitest';
import { SecretCache } from '../../../lib/secrets.js';

function fakeSecrets() {
  let value = 'sk-master-1';
  let reads = 0;
  let failing = false;
  return {
    fetch: async (_id: string) => {
      reads++;
      if (failing) throw new Error('Secrets Manager is down');
      return value;
    },
    rotate: (v: string) => {
      value = v;
    },
    fail: (f: boolean) => {
      failing = f;
    },
    reads: () => reads,
  };
}

describe('SecretCache', () => {
  it('keeps a secret for the TTL, then reads it again: a rotated master key stops working within the TTL', async () => {
    let now = 0;
    const sm = fakeSecrets();
    const cache = new SecretCache(sm.fetch, 300_000, () => now);
    expect(await cache.get('master')).toBe('sk-master-1');
    sm.rotate('sk-master-2');
    now = 299_999;
    expect(await cache.get('master')).toBe('sk-master-1');
    now = 300_000;
    expect(await cache.get('master')).toBe('sk-master-2');
    expect(sm.reads()).toBe(2);
  });

  it('concurrent reads share one fetch', async () => {
    const sm = fakeSecrets();
    const cache = new SecretCache(sm.fetch, 1000, () => 0);
    await Promise.all(Array.from({ length: 10 }, () => cache.get('master')));
    expect(sm.reads()).toBe(1);
  });

  it('a failed read is not kept: the next call tries again', async () => {
    const sm = fakeSecrets();
    const cache = new SecretCache(sm.fetch, 1000, () => 0);
    sm.fail(true);
    await expect(cache.get('master')).rejects.toThrow('down');
    sm.fail(false);
    expect(await cache.get('master')).toBe('sk-master-1');
  });
});
