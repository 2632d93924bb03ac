/**
 * The key rules of the admin API, without a store: the permission matrix's key rows
 * (test/integration/admin/permissions.test.ts) as pure decisions over an actor and the membership
 * facts an action loads. Team `t` has `ta` as admin and `tm` as a member.
 */
import { describe, expect, it } from 'vitest';
import {
  AUTHORITIES,
  type Authority,
  authorityOver,
  blockerAfter,
  holdKeyDenial,
  type KeyFacts,
  keyManagerDenial,
  keyReaderDenial,
  type Ownership,
  unblockDenial,
} from '../../../lib/admin/rules/keys.js';
import type { Actor } from '../../../lib/domain/actor.js';
import type { MemberRole } from '../../../lib/domain/records.js';

const ACTORS = {
  proxy_admin: { principal: 'master_key', role: 'proxy_admin' },
  admin_jwt: { principal: 'jwt', role: 'proxy_admin' },
  iam: { principal: 'iam', role: 'proxy_admin' },
  team_admin: { principal: 'virtual_key', role: 'internal_user', userId: 'ta' },
  team_member: { principal: 'virtual_key', role: 'internal_user', userId: 'tm' },
  internal_user: { principal: 'virtual_key', role: 'internal_user', userId: 'iu' },
  viewer: { principal: 'virtual_key', role: 'internal_user_viewer', userId: 'vw' },
  team_jwt: { principal: 'jwt', role: 'team', teamId: 't' },
} as const satisfies Record<string, Actor>;
type ActorName = keyof typeof ACTORS;
const NAMES = Object.keys(ACTORS) as ActorName[];

const MEMBERS: Record<string, MemberRole> = { ta: 'admin', tm: 'user', vw: 'user' };

/** The facts an action would load for this actor and key, from team `t`'s memberships. */
function facts(actor: Actor, k: Ownership): KeyFacts {
  const actorTeamRole = k.team_id === 't' && actor.userId ? MEMBERS[actor.userId] : undefined;
  const ownerIsMember = k.user_id ? MEMBERS[k.user_id] !== undefined : undefined;
  return { actorTeamRole, ownerIsMember };
}

const allowed = (name: ActorName, k: Ownership) =>
  keyManagerDenial(ACTORS[name], k, facts(ACTORS[name], k), 'manage this key') === undefined;

describe('keyManagerDenial: who may write a key (generate, update, delete, block, regenerate)', () => {
  // Each row: the key's ownership (for the own-user rows, the actor's own user) and who may write it.
  const rows: { what: string; key: (self: string | undefined) => Ownership; may: readonly ActorName[] }[] = [
    {
      what: "a personal key of one's own",
      key: (self) => ({ user_id: self }),
      may: ['proxy_admin', 'admin_jwt', 'iam', 'team_admin', 'team_member', 'internal_user'],
    },
    { what: "another user's personal key", key: () => ({ user_id: 'other' }), may: ['proxy_admin', 'admin_jwt', 'iam'] },
    {
      what: "a team key of one's own",
      key: (self) => ({ team_id: 't', user_id: self }),
      may: ['proxy_admin', 'admin_jwt', 'iam', 'team_admin', 'team_member'],
    },
    {
      what: "a member's team key",
      key: () => ({ team_id: 't', user_id: 'tm' }),
      may: ['proxy_admin', 'admin_jwt', 'iam', 'team_admin', 'team_member'],
    },
    {
      what: 'a team key with no user',
      key: () => ({ team_id: 't', user_id: null }),
      may: ['proxy_admin', 'admin_jwt', 'iam', 'team_admin'],
    },
    {
      what: 'a team key of a user outside the team',
      key: () => ({ team_id: 't', user_id: 'outsider' }),
      may: ['proxy_admin', 'admin_jwt', 'iam'],
    },
    { what: 'a key of another team', key: (self) => ({ team_id: 'other-team', user_id: self }), may: ['proxy_admin', 'admin_jwt', 'iam'] },
  ];
  for (const row of rows) {
    it(`${row.what}: ${row.may.join(', ')} and nobody else`, () => {
      for (const name of NAMES) {
        expect([name, allowed(name, row.key((ACTORS[name] as Actor).userId))]).toEqual([name, row.may.includes(name)]);
      }
    });
  }

  it('a viewer and a team JWT never write keys, whatever the key', () => {
    for (const k of [{}, { user_id: 'vw' }, { team_id: 't' }, { team_id: 't', user_id: 'vw' }]) {
      expect(allowed('viewer', k)).toBe(false);
      expect(allowed('team_jwt', k)).toBe(false);
    }
  });

  it('the denial names the team and the user it is about', () => {
    const d = keyManagerDenial(
      ACTORS.team_admin,
      { team_id: 't', user_id: 'outsider' },
      { actorTeamRole: 'admin', ownerIsMember: false },
      'update key `sk-...abcd`',
    );
    expect(d?.code).toBe('forbidden');
    expect(d?.message).toBe(
      'an admin of team `t` may update key `sk-...abcd` only for members of the team, and user `outsider` is not one',
    );
  });
});

describe('holdKeyDenial: a key acts as its user, so only that user or a proxy admin comes to hold one', () => {
  it('a team admin may not mint a key for a member of its own team', () => {
    expect(holdKeyDenial(ACTORS.team_admin, 'tm', 'generate a key for them')?.code).toBe('forbidden');
  });
  it('a user may hold their own key; proxy admins may give anyone one; a key with no user is no one', () => {
    expect(holdKeyDenial(ACTORS.team_member, 'tm', 'x')).toBeUndefined();
    for (const admin of ['proxy_admin', 'admin_jwt', 'iam'] as const) expect(holdKeyDenial(ACTORS[admin], 'anyone', 'x')).toBeUndefined();
    expect(holdKeyDenial(ACTORS.team_admin, null, 'x')).toBeUndefined();
  });
});

describe('authorityOver: proxy admin > team admin > owner', () => {
  it('proxy admins of every kind have proxy_admin authority', () => {
    for (const admin of ['proxy_admin', 'admin_jwt', 'iam'] as const) expect(authorityOver(ACTORS[admin], {})).toBe('proxy_admin');
  });
  it("an admin of the key's team has team_admin authority; its owner has owner authority", () => {
    expect(authorityOver(ACTORS.team_admin, { actorTeamRole: 'admin' })).toBe('team_admin');
    expect(authorityOver(ACTORS.team_member, { actorTeamRole: 'user' })).toBe('owner');
    expect(authorityOver(ACTORS.internal_user, {})).toBe('owner');
  });
});

describe('unblockDenial: a block is lifted only by as much authority as set it', () => {
  const key = (blocked_by: Authority | null | undefined) => ({ blocked: true, key_name: 'sk-...abcd', blocked_by });
  for (const by of AUTHORITIES) {
    for (const who of AUTHORITIES) {
      const may = AUTHORITIES.indexOf(who) >= AUTHORITIES.indexOf(by);
      it(`blocked by ${by}, lifted by ${who}: ${may ? 'allowed' : 'denied'}`, () => {
        expect(unblockDenial(who, key(by)) === undefined).toBe(may);
      });
    }
  }
  it('a block of unknown origin is a proxy admin block: an owner or a team admin cannot lift it', () => {
    expect(unblockDenial('owner', key(undefined))?.code).toBe('forbidden');
    expect(unblockDenial('team_admin', key(null))?.code).toBe('forbidden');
    expect(unblockDenial('proxy_admin', key(undefined))).toBeUndefined();
  });
  it('an unblocked key needs no authority to stay unblocked', () => {
    expect(unblockDenial('owner', { blocked: false, key_name: 'sk-...abcd', blocked_by: 'proxy_admin' })).toBeUndefined();
  });
});

describe('blockerAfter: a blocked key keeps the highest authority that blocked it', () => {
  it("an owner re-blocking a proxy admin's block does not lower it", () => {
    expect(blockerAfter('owner', { blocked: true, blocked_by: 'proxy_admin' })).toBe('proxy_admin');
  });
  it('a higher authority blocking takes the block over', () => {
    expect(blockerAfter('proxy_admin', { blocked: true, blocked_by: 'owner' })).toBe('proxy_admin');
  });
  it('blocking an unblocked key records who blocked it', () => {
    expect(blockerAfter('team_admin', { blocked: false })).toBe('team_admin');
  });
});

describe('keyReaderDenial: who may read a key', () => {
  const k = { token: 'h-1', key_name: 'sk-...abcd', user_id: 'tm', team_id: 't' };
  it('proxy admins, its user, the key itself, its team JWT and its team admin may read it', () => {
    for (const name of ['proxy_admin', 'admin_jwt', 'iam', 'team_member', 'team_jwt', 'team_admin'] as const) {
      expect([name, keyReaderDenial(ACTORS[name], k, facts(ACTORS[name], k))]).toEqual([name, undefined]);
    }
    expect(keyReaderDenial({ principal: 'virtual_key', role: 'internal_user', keyHash: 'h-1' }, k, {})).toBeUndefined();
  });
  it('another member, an outsider, a viewer of the team and another team JWT may not', () => {
    const other = { ...k, user_id: 'ta2' };
    expect(keyReaderDenial(ACTORS.internal_user, k, facts(ACTORS.internal_user, k))?.code).toBe('forbidden');
    expect(keyReaderDenial(ACTORS.viewer, other, facts(ACTORS.viewer, other))?.code).toBe('forbidden');
    expect(keyReaderDenial({ principal: 'jwt', role: 'team', teamId: 'other' }, k, {})?.code).toBe('forbidden');
  });
  it('a viewer who is an admin of the team still reads only as a member: only internal users administer', () => {
    expect(
      keyReaderDenial(
        { principal: 'virtual_key', role: 'internal_user_viewer', userId: 'x' },
        { ...k, user_id: 'y' },
        { actorTeamRole: 'admin' },
      )?.code,
    ).toBe('forbidden');
  });
});
