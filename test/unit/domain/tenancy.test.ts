import { describe, expect, it } from 'vitest';
import type { Caller } from '../../../lib/domain/caller.js';
import { mayUse, type ObjectOwner, ownerOf } from '../../../lib/domain/tenancy.js';

const models = { priced: 'm', served: 'm' };
const at = new Date('2026-01-01T00:00:00Z');
const caller = (over: Partial<Caller> & { rateId?: string }): Caller => {
  const { rateId, ...rest } = over;
  return {
    principal: 'virtual_key',
    role: 'internal_user',
    state: rest.keyHash ? { key: { token: rest.keyHash, key_name: 'sk-...abcd', ...(rateId ? { rate_id: rateId } : {}) } as never } : {},
    ...rest,
  };
};

describe('who may use an object', () => {
  it('a team object: its team only (a member with a personal key too is another tenant)', () => {
    const owner = ownerOf(caller({ keyHash: 'k1', teamId: 't1', userId: 'u1' }), 'response', 'r', at, models);
    expect(mayUse(caller({ keyHash: 'k2', teamId: 't1' }), owner)).toBe(true);
    expect(mayUse(caller({ keyHash: 'k1', userId: 'u1' }), owner)).toBe(false);
    expect(mayUse(caller({ keyHash: 'k3', teamId: 't2' }), owner)).toBe(false);
  });

  it("a personal object: its user's calls without a team", () => {
    const owner = ownerOf(caller({ keyHash: 'k1', userId: 'u1' }), 'file', 'f', at, models);
    expect(mayUse(caller({ keyHash: 'k2', userId: 'u1' }), owner)).toBe(true);
    expect(mayUse(caller({ keyHash: 'k3', userId: 'u1', teamId: 't1' }), owner)).toBe(false);
    expect(mayUse(caller({ keyHash: 'k4', userId: 'u2' }), owner)).toBe(false);
  });

  it("a key-only object: its key and the key's line (every key that regenerated it), nobody else", () => {
    const owner = ownerOf(caller({ keyHash: 'k1' }), 'response', 'r', at, models);
    expect(owner.key_line).toBe('k1');
    expect(mayUse(caller({ keyHash: 'k1' }), owner)).toBe(true);
    expect(mayUse(caller({ keyHash: 'k2', rateId: 'k1' }), owner)).toBe(true);
    expect(mayUse(caller({ keyHash: 'k3' }), owner)).toBe(false);
    expect(mayUse(caller({ keyHash: 'k4', rateId: 'k9' }), owner)).toBe(false);
    // Made by a key that was a regeneration already: its line is the first key's.
    const later = ownerOf(caller({ keyHash: 'k2', rateId: 'k1' }), 'response', 'r2', at, models);
    expect(later.key_line).toBe('k1');
    expect(mayUse(caller({ keyHash: 'k5', rateId: 'k1' }), later)).toBe(true);
    expect(mayUse(caller({ keyHash: 'k1' }), later)).toBe(true);
  });

  it('a record made before lines were kept: its key, and regenerations of it when it was a first key', () => {
    const legacy: ObjectOwner = { object_id: 'r', object_kind: 'response', key_hash: 'k1', created_at: at.toISOString() };
    expect(mayUse(caller({ keyHash: 'k1' }), legacy)).toBe(true);
    expect(mayUse(caller({ keyHash: 'k2', rateId: 'k1' }), legacy)).toBe(true);
    expect(mayUse(caller({ keyHash: 'k3' }), legacy)).toBe(false);
  });

  it("nobody's (never seen made, or no key): a proxy admin only", () => {
    expect(mayUse(caller({ keyHash: 'k1' }), undefined)).toBe(false);
    expect(mayUse({ ...caller({}), role: 'proxy_admin' }, undefined)).toBe(true);
    const jwt = ownerOf({ principal: 'jwt', role: 'internal_user', state: {} }, 'file', 'f', at, models);
    expect(jwt.key_line).toBeNull();
    expect(mayUse({ principal: 'jwt', role: 'internal_user', state: {} }, jwt)).toBe(false);
  });
});
