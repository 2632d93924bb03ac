/** The team rules of the admin API, without a store: who manages and who reads a team. */
import { describe, expect, it } from 'vitest';
import { requireProxyAdmin } from '../../../lib/admin/rules/actor.js';
import { selfOrAdminDenial, teamManagerDenial, teamReaderDenial } from '../../../lib/admin/rules/teams.js';
import type { Actor } from '../../../lib/domain/actor.js';
import type { MemberRole } from '../../../lib/domain/records.js';

const cases: { who: string; actor: Actor; role?: MemberRole; manage: boolean; read: boolean }[] = [
  { who: 'the master key', actor: { principal: 'master_key', role: 'proxy_admin' }, manage: true, read: true },
  { who: 'an admin JWT', actor: { principal: 'jwt', role: 'proxy_admin' }, manage: true, read: true },
  { who: 'IAM (direct invocation)', actor: { principal: 'iam', role: 'proxy_admin' }, manage: true, read: true },
  {
    who: 'an admin of the team',
    actor: { principal: 'virtual_key', role: 'internal_user', userId: 'ta' },
    role: 'admin',
    manage: true,
    read: true,
  },
  {
    who: 'a member of the team',
    actor: { principal: 'virtual_key', role: 'internal_user', userId: 'tm' },
    role: 'user',
    manage: false,
    read: true,
  },
  {
    who: 'a viewer made admin of the team',
    actor: { principal: 'virtual_key', role: 'internal_user_viewer', userId: 'vw' },
    role: 'admin',
    manage: false,
    read: true,
  },
  {
    who: 'an internal user outside the team',
    actor: { principal: 'virtual_key', role: 'internal_user', userId: 'iu' },
    manage: false,
    read: false,
  },
  { who: "the team's own JWT", actor: { principal: 'jwt', role: 'team', teamId: 't' }, manage: false, read: true },
  { who: "another team's JWT", actor: { principal: 'jwt', role: 'team', teamId: 'other' }, manage: false, read: false },
];

describe('teamManagerDenial: proxy admins and internal users who administer the team', () => {
  for (const c of cases) {
    it(`${c.who} ${c.manage ? 'may' : 'may not'} manage team t`, () => {
      const d = teamManagerDenial(c.actor, 't', c.role, 'update team `t`');
      expect(d === undefined).toBe(c.manage);
      if (d) expect(d.message).toBe('only a proxy admin or an admin of team `t` may update team `t`');
    });
  }
});

describe("teamReaderDenial: proxy admins, the team's members and its own JWT", () => {
  for (const c of cases) {
    it(`${c.who} ${c.read ? 'may' : 'may not'} read team t`, () => {
      expect(teamReaderDenial(c.actor, 't', c.role) === undefined).toBe(c.read);
    });
  }
});

describe('selfOrAdminDenial and requireProxyAdmin: users read themselves, only proxy admins manage users', () => {
  it('a user reads itself, not another user', () => {
    const u: Actor = { principal: 'virtual_key', role: 'internal_user', userId: 'u-1' };
    expect(selfOrAdminDenial(u, 'u-1', 'read this user')).toBeUndefined();
    expect(selfOrAdminDenial(u, 'u-2', 'read this user')?.message).toBe('only a proxy admin or user `u-2` may read this user');
  });
  it('an actor without a user is nobody: it cannot pass as a user whose id is missing', () => {
    expect(selfOrAdminDenial({ principal: 'jwt', role: 'team', teamId: 't' }, '', 'read this user')?.code).toBe('forbidden');
  });
  it('only proxy admins pass requireProxyAdmin', () => {
    expect(() => requireProxyAdmin({ principal: 'iam', role: 'proxy_admin' }, 'create users')).not.toThrow();
    expect(() => requireProxyAdmin({ principal: 'virtual_key', role: 'internal_user', userId: 'ta' }, 'create users')).toThrow(
      'only a proxy admin may create users',
    );
  });
});
