/**
 * Who may do what, as one table: every key, team and user action against every kind of caller.
 * The entity functions decide this themselves (the authorizer's route groups are a first fence
 * only), so the API rows call the functions directly with each caller's authorizer context.
 * Each row runs on fresh fixtures: a team `t-<n>` where `ta` is admin and `tm` and `vw` are
 * members, plus whatever keys the row needs.
 */
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { handler as keys } from '../../../functions/keys/handler.js';
import { handler as teams } from '../../../functions/teams/handler.js';
import { handler as users } from '../../../functions/users/handler.js';
import { documentClient } from '../../../lib/app/index.js';
import type { CallerContext } from '../../../lib/authorizer/context.js';
import { isTollgateError } from '../../../lib/errors.js';
import { routes } from '../../../lib/routes.js';
import { adminCtx, callApi, invokeDirect, userCtx } from '../../support/admin.js';
import { seedKey, seedMember, seedTeam, seedUser } from '../../support/seed.js';
import { useTestTable } from '../../support/table.js';

const ACTORS = ['proxy_admin', 'admin_jwt', 'team_admin', 'team_member', 'internal_user', 'viewer', 'team_jwt', 'iam'] as const;
type ActorName = (typeof ACTORS)[number];

function caller(actor: Exclude<ActorName, 'iam'>, teamId: string): CallerContext {
  switch (actor) {
    case 'proxy_admin':
      return adminCtx;
    case 'admin_jwt':
      return { principal: 'jwt', role: 'proxy_admin' };
    case 'team_admin':
      return userCtx('ta');
    case 'team_member':
      return userCtx('tm');
    case 'internal_user':
      return userCtx('iu');
    case 'viewer':
      return { principal: 'virtual_key', role: 'internal_user_viewer', user_id: 'vw' };
    case 'team_jwt':
      return { principal: 'jwt', role: 'team', team_id: teamId };
  }
}

const ownUser: Partial<Record<ActorName, string>> = { team_admin: 'ta', team_member: 'tm', internal_user: 'iu', viewer: 'vw' };

let n = 0;
/** A fresh team with `ta` as admin and `tm`, `vw` as members. */
async function freshTeam(): Promise<string> {
  const teamId = `t-${++n}`;
  await seedTeam({ team_id: teamId });
  await seedMember({ team_id: teamId, user_id: 'ta', role: 'admin' });
  await seedMember({ team_id: teamId, user_id: 'tm' });
  await seedMember({ team_id: teamId, user_id: 'vw' });
  return teamId;
}

type Fn = 'keys' | 'teams' | 'users';
const handlers = { keys, teams, users };

interface Row {
  what: string;
  fn: Fn;
  action: string;
  /** The request for this actor in this team; undefined: the row does not apply to the actor. */
  input: (teamId: string, actor: ActorName) => Promise<Record<string, unknown> | undefined>;
  expect: readonly (200 | 400 | 403 | 404 | null)[];
}

const always = (f: (teamId: string) => Promise<Record<string, unknown>> | Record<string, unknown>) => async (teamId: string) => f(teamId);
const keyOf = async (fields: Parameters<typeof seedKey>[0]) => (await seedKey(fields)).key;
const ok = 200 as const;
const no = 403 as const;
/** Refused as if it did not exist: a key the caller may not read answers 404, like a missing one. */
const hid = 404 as const;
/** Allowed, but refused as a request: a team key of a user who is no member of the team (not_team_member). */
const bad = 400 as const;

//                                                   proxy  admin  team   team    intern  viewer team  iam
//                                                   admin  jwt    admin  member  user           jwt
const rows: Row[] = [
  {
    what: 'generate a personal key for oneself',
    fn: 'keys',
    action: 'generate',
    input: async () => ({}),
    expect: [ok, ok, ok, ok, ok, no, no, ok],
  },
  {
    what: 'generate a personal key for another user',
    fn: 'keys',
    action: 'generate',
    input: always(() => ({ user_id: 'other' })),
    expect: [ok, ok, no, no, no, no, no, ok],
  },
  {
    what: 'generate a team key for oneself',
    fn: 'keys',
    action: 'generate',
    input: always((t) => ({ team_id: t })),
    expect: [ok, ok, ok, ok, no, no, no, ok],
  },
  // A key acts as its user: a team admin never holds one for somebody else (test/integration/security-admin.test.ts).
  {
    what: 'generate a team key for a member',
    fn: 'keys',
    action: 'generate',
    input: always((t) => ({ team_id: t, user_id: 'tm' })),
    expect: [ok, ok, no, ok, no, no, no, ok],
  },
  {
    what: 'generate a team key with no user',
    fn: 'keys',
    action: 'generate',
    input: always((t) => ({ team_id: t, user_id: null })),
    expect: [ok, ok, ok, no, no, no, no, ok],
  },
  {
    what: 'generate a team key for a non-member',
    fn: 'keys',
    action: 'generate',
    input: always((t) => ({ team_id: t, user_id: 'iu' })),
    expect: [bad, bad, no, no, no, no, no, bad],
  },
  {
    what: 'update a personal key of `iu`',
    fn: 'keys',
    action: 'update',
    input: always(async () => ({ key: await keyOf({ user_id: 'iu' }), max_budget: 1 })),
    expect: [ok, ok, hid, hid, ok, hid, hid, ok],
  },
  {
    what: 'update a team key of `tm`',
    fn: 'keys',
    action: 'update',
    input: always(async (t) => ({ key: await keyOf({ team_id: t, user_id: 'tm' }), max_budget: 1 })),
    expect: [ok, ok, ok, ok, hid, hid, no, ok],
  },
  {
    what: 'move a key of `iu` into the team',
    fn: 'keys',
    action: 'update',
    input: always(async (t) => ({ key: await keyOf({ user_id: 'iu' }), team_id: t })),
    expect: [bad, bad, hid, hid, no, hid, hid, bad],
  },
  {
    what: 'delete a personal key of `iu`',
    fn: 'keys',
    action: 'delete',
    input: always(async () => ({ keys: [await keyOf({ user_id: 'iu' })] })),
    expect: [ok, ok, hid, hid, ok, hid, hid, ok],
  },
  {
    what: 'delete a team key of `tm`',
    fn: 'keys',
    action: 'delete',
    input: always(async (t) => ({ keys: [await keyOf({ team_id: t, user_id: 'tm' })] })),
    expect: [ok, ok, ok, ok, hid, hid, no, ok],
  },
  {
    what: 'regenerate a personal key of `iu`',
    fn: 'keys',
    action: 'regenerate',
    input: always(async () => ({ key: await keyOf({ user_id: 'iu' }) })),
    expect: [ok, ok, hid, hid, ok, hid, hid, ok],
  },
  {
    what: 'regenerate a team key with no user',
    fn: 'keys',
    action: 'regenerate',
    input: always(async (t) => ({ key: await keyOf({ team_id: t }) })),
    expect: [ok, ok, ok, hid, hid, hid, no, ok],
  },
  {
    what: 'block a personal key of `iu`',
    fn: 'keys',
    action: 'block',
    input: always(async () => ({ key: await keyOf({ user_id: 'iu' }) })),
    expect: [ok, ok, hid, hid, ok, hid, hid, ok],
  },
  {
    what: 'block a team key of `tm`',
    fn: 'keys',
    action: 'block',
    input: always(async (t) => ({ key: await keyOf({ team_id: t, user_id: 'tm' }) })),
    expect: [ok, ok, ok, ok, hid, hid, no, ok],
  },
  {
    what: 'unblock a personal key `iu` blocked',
    fn: 'keys',
    action: 'unblock',
    input: always(async () => ({ key: await keyOf({ user_id: 'iu', blocked: true, ...{ blocked_by: 'owner' } }) })),
    expect: [ok, ok, hid, hid, ok, hid, hid, ok],
  },
  {
    what: 'unblock a personal key of `iu` a proxy admin blocked',
    fn: 'keys',
    action: 'unblock',
    input: always(async () => ({ key: await keyOf({ user_id: 'iu', blocked: true, ...{ blocked_by: 'proxy_admin' } }) })),
    expect: [ok, ok, hid, hid, no, hid, hid, ok],
  },
  {
    what: 'read a personal key of `iu`',
    fn: 'keys',
    action: 'info',
    input: always(async () => ({ key: await keyOf({ user_id: 'iu' }) })),
    expect: [ok, ok, hid, hid, ok, hid, hid, ok],
  },
  {
    what: 'read a team key of `tm`',
    fn: 'keys',
    action: 'info',
    input: always(async (t) => ({ key: await keyOf({ team_id: t, user_id: 'tm' }) })),
    expect: [ok, ok, ok, ok, hid, hid, ok, ok],
  },
  {
    what: 'read a personal key of the viewer',
    fn: 'keys',
    action: 'info',
    input: always(async () => ({ key: await keyOf({ user_id: 'vw' }) })),
    expect: [ok, ok, hid, hid, hid, ok, hid, ok],
  },
  {
    what: "list the team's keys",
    fn: 'keys',
    action: 'list',
    input: always((t) => ({ team_id: t })),
    expect: [ok, ok, ok, ok, ok, ok, ok, ok],
  },
  {
    what: 'list the keys of `tm`',
    fn: 'keys',
    action: 'list',
    input: always(() => ({ user_id: 'tm' })),
    expect: [ok, ok, no, ok, no, no, no, ok],
  },
  { what: 'create a team', fn: 'teams', action: 'new', input: always(() => ({})), expect: [ok, ok, no, no, no, no, no, ok] },
  {
    what: 'rename the team',
    fn: 'teams',
    action: 'update',
    input: always((t) => ({ team_id: t, team_alias: 'renamed' })),
    expect: [ok, ok, ok, no, no, no, no, ok],
  },
  {
    what: "change the team's budget",
    fn: 'teams',
    action: 'update',
    input: always((t) => ({ team_id: t, max_budget: 5 })),
    expect: [ok, ok, no, no, no, no, no, ok],
  },
  {
    what: 'delete the team',
    fn: 'teams',
    action: 'delete',
    input: always((t) => ({ team_ids: [t] })),
    expect: [ok, ok, no, no, no, no, no, ok],
  },
  {
    what: 'block the team',
    fn: 'teams',
    action: 'block',
    input: always((t) => ({ team_id: t })),
    expect: [ok, ok, no, no, no, no, no, ok],
  },
  {
    what: 'unblock the team',
    fn: 'teams',
    action: 'unblock',
    input: always((t) => ({ team_id: t })),
    expect: [ok, ok, no, no, no, no, no, ok],
  },
  { what: 'read the team', fn: 'teams', action: 'info', input: always((t) => ({ team_id: t })), expect: [ok, ok, ok, ok, no, ok, ok, ok] },
  { what: 'list teams', fn: 'teams', action: 'list', input: always(() => ({})), expect: [ok, ok, ok, ok, ok, ok, ok, ok] },
  {
    what: 'add a member',
    fn: 'teams',
    action: 'member_add',
    input: always((t) => ({ team_id: t, member: { user_id: 'iu' } })),
    expect: [ok, ok, ok, no, no, no, no, ok],
  },
  {
    what: 'change a member',
    fn: 'teams',
    action: 'member_update',
    input: always((t) => ({ team_id: t, user_id: 'tm', role: 'admin' })),
    expect: [ok, ok, ok, no, no, no, no, ok],
  },
  {
    what: 'remove a member',
    fn: 'teams',
    action: 'member_delete',
    input: always((t) => ({ team_id: t, user_id: 'tm' })),
    expect: [ok, ok, ok, no, no, no, no, ok],
  },
  {
    what: 'create a user',
    fn: 'users',
    action: 'new',
    input: always(() => ({ auto_create_key: false })),
    expect: [ok, ok, no, no, no, no, no, ok],
  },
  {
    what: 'update a user',
    fn: 'users',
    action: 'update',
    input: always(() => ({ user_id: 'iu', metadata: { touched: true } })),
    expect: [ok, ok, no, no, no, no, no, ok],
  },
  {
    what: 'update oneself',
    fn: 'users',
    action: 'update',
    input: async (_t, a) => (ownUser[a] ? { user_id: ownUser[a], max_budget: 1000 } : undefined),
    expect: [null, null, no, no, no, no, null, null],
  },
  {
    what: 'delete a user',
    fn: 'users',
    action: 'delete',
    input: always(async () => {
      const u = `u-${++n}`;
      await seedUser({ user_id: u });
      return { user_ids: [u] };
    }),
    expect: [ok, ok, no, no, no, no, no, ok],
  },
  { what: 'list users', fn: 'users', action: 'list', input: always(() => ({})), expect: [ok, ok, no, no, no, no, no, ok] },
  { what: 'read `iu`', fn: 'users', action: 'info', input: always(() => ({ user_id: 'iu' })), expect: [ok, ok, no, no, ok, no, no, ok] },
  {
    what: 'read oneself',
    fn: 'users',
    action: 'info',
    input: async (_t, a) => (ownUser[a] ? { user_id: ownUser[a] } : undefined),
    expect: [null, null, ok, ok, ok, ok, null, null],
  },
];

const routeOf = (fn: Fn, action: string) => {
  const r = routes.find((x) => x.fn === fn && x.action === action);
  if (!r) throw new Error(`no route for ${fn}.${action}`);
  return { method: r.methods[0] as string, path: r.path };
};

const WRITE_COMMANDS = new Set(['PutCommand', 'UpdateCommand', 'DeleteCommand', 'TransactWriteCommand', 'BatchWriteCommand']);

/** Records every write command sent to the table until stopped. */
function watchWrites(): { sent: string[]; stop(): void } {
  const client = documentClient();
  const send = client.send.bind(client);
  const sent: string[] = [];
  const spy = vi.spyOn(client, 'send').mockImplementation(((cmd: { constructor: { name: string } }) => {
    if (WRITE_COMMANDS.has(cmd.constructor.name)) sent.push(cmd.constructor.name);
    return send(cmd as never);
  }) as never);
  return { sent, stop: () => spy.mockRestore() };
}

const cases = rows.flatMap((row) =>
  ACTORS.map((actor, i) => ({ ...row, actor, expected: row.expect[i] as 200 | 400 | 403 | 404 | null })).filter((c) => c.expected !== null),
);

beforeAll(async () => {
  await useTestTable();
  for (const u of ['ta', 'tm', 'iu', 'vw', 'other'])
    await seedUser({ user_id: u, user_role: u === 'vw' ? 'internal_user_viewer' : 'internal_user' });
});

describe('the permission matrix', () => {
  it('has a row for every key, team and user action', () => {
    const covered = new Set(rows.map((r) => `${r.fn}.${r.action}`));
    const all = routes.filter((r) => ['keys', 'teams', 'users'].includes(r.fn) && r.action).map((r) => `${r.fn}.${r.action}`);
    expect(all.filter((a) => !covered.has(a))).toEqual([]);
  });

  it.each(cases)('$actor: $what -> $expected', async ({ fn, action, input, actor, expected }) => {
    const teamId = await freshTeam();
    const body = await input(teamId, actor);
    if (!body) throw new Error('row does not apply');
    const handler = handlers[fn];
    if (actor === 'iam') {
      const outcome = await invokeDirect(handler, { action, ...body }).then(
        () => 200,
        (e) => (isTollgateError(e) ? e.status : e),
      );
      expect(outcome).toBe(expected);
      return;
    }
    const { method, path } = routeOf(fn, action);
    const writes = watchWrites();
    const res = await callApi(handler, method, path, body, caller(actor, teamId));
    writes.stop();
    if (expected === 403) {
      // A refusal names the rule and sends no write to the table at all.
      expect(res.status).toBe(403);
      expect(res.body.error).toMatchObject({ type: 'permission_error', code: 'forbidden' });
      expect(res.body.error.message).toMatch(/only|may not|may change only/);
      expect(writes.sent).toEqual([]);
    } else if (expected === 404) {
      // Exactly what a key that does not exist answers, and no write.
      expect([res.status, res.body.error?.type, res.body.error?.code]).toEqual([404, 'not_found_error', 'key_not_found']);
      expect(res.body.error.message).toMatch(/^key `.+` does not exist$/);
      expect(writes.sent).toEqual([]);
    } else if (expected === 400) {
      // Allowed to ask, refused for what it asks: nothing is written.
      expect([res.status, res.body.error?.code]).toEqual([400, 'not_team_member']);
      expect(writes.sent).toEqual([]);
    } else {
      expect(res.body.error).toBeUndefined();
      expect(res.status).toBe(expected);
      // Reads never write; an allowed change writes (one transaction, with its audit item). A
      // regeneration then settles the old key's copy (lib/store/key-copy): a second, small one.
      const transactions = action === 'info' || action === 'list' ? 0 : action === 'regenerate' ? 2 : 1;
      expect(writes.sent).toEqual(Array.from({ length: transactions }, () => 'TransactWriteCommand'));
    }
  });
});

describe('what a non-admin sees', () => {
  it('a non-admin listing a team it does not administer sees only its own keys there', async () => {
    const teamId = await freshTeam();
    const own = await seedKey({ team_id: teamId, user_id: 'tm' });
    await seedKey({ team_id: teamId, user_id: 'ta' });
    const asMember = await callApi(keys, 'GET', '/key/list', { team_id: teamId }, userCtx('tm'));
    expect(asMember.body.data.map((k: { token: string }) => k.token)).toEqual([own.record.token]);
    const asAdmin = await callApi(keys, 'GET', '/key/list', { team_id: teamId }, userCtx('ta'));
    expect(asAdmin.body.data).toHaveLength(2);
    const asOutsider = await callApi(keys, 'GET', '/key/list', { team_id: teamId }, userCtx('iu'));
    expect(asOutsider.body.data.filter((k: { team_id: string }) => k.team_id === teamId)).toEqual([]);
  });

  it("an internal user's generated key is their own, even when they name no user", async () => {
    const res = await callApi(keys, 'POST', '/key/generate', {}, userCtx('iu'));
    expect(res.body).toMatchObject({ user_id: 'iu', team_id: null, created_by: 'user:iu' });
  });
});
