/**
 * Privilege escalation through the admin API, each hole found in review pinned by a test that
 * failed before its fix. Calls go through the API Gateway entry point with the authorizer
 * contexts real callers get (test/support/admin.ts).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { handler as keys } from '../../functions/keys/handler.js';
import { handler as teams } from '../../functions/teams/handler.js';
import { checkSettings, identifyDeps } from '../../lib/app/index.js';
import { decide } from '../../lib/authorizer/decide.js';
import { adminCtx, callApi, userCtx } from '../support/admin.js';
import { seedKey, seedMember, seedTeam, seedUser } from '../support/seed.js';
import { useTestTable } from '../support/table.js';

const post = (path: string, input: unknown, caller = userCtx('ta')) => callApi(keys, 'POST', path, input, caller);

/** What the authorizer makes of a credential on an admin route: the caller's role. */
async function roleOf(key: string): Promise<string | undefined> {
  const d = await decide(
    { method: 'POST', path: '/team/new', headers: { authorization: `Bearer ${key}` } },
    identifyDeps(),
    checkSettings(),
    Date.now(),
  );
  return d.effect === 'unauthorized' ? undefined : d.caller?.role;
}

beforeAll(async () => {
  await useTestTable({ TOLLGATE_CACHE_TTL_SECONDS: '0' });
  await seedUser({ user_id: 'root', user_role: 'proxy_admin' });
  await seedUser({ user_id: 'ta' });
  await seedUser({ user_id: 'tm' });
  await seedUser({ user_id: 'other' });
  await seedTeam({ team_id: 't-sec', max_budget: 100 });
  await seedTeam({ team_id: 't-else', max_budget: 100 });
  await seedMember({ team_id: 't-sec', user_id: 'ta', role: 'admin' });
  await seedMember({ team_id: 't-sec', user_id: 'tm' });
  // The proxy admin is (or is made) a member of the team the team admin runs.
  await seedMember({ team_id: 't-sec', user_id: 'root' });
  // `tm` administers another team: whoever holds a key acting as `tm` runs that team too.
  await seedMember({ team_id: 't-else', user_id: 'tm', role: 'admin' });
});

describe('a team admin never holds a credential that acts as another user', () => {
  it('generating a team key for a member who is a proxy admin is refused (it would be a proxy-admin key)', async () => {
    const res = await post('/key/generate', { team_id: 't-sec', user_id: 'root' });
    expect(res.status).toBe(403);
    expect(res.body.key).toBeUndefined();
  });

  it('generating a team key for a plain member is refused (it would act as them, in every team they run)', async () => {
    const res = await post('/key/generate', { team_id: 't-sec', user_id: 'tm' });
    expect(res.status).toBe(403);
    expect(res.body.key).toBeUndefined();
  });

  it('regenerating the key of another member is refused: the new plaintext would go to the team admin', async () => {
    const { key } = await seedKey({ team_id: 't-sec', user_id: 'root' });
    const res = await post('/key/regenerate', { key });
    expect(res.status).toBe(403);
    expect(res.body.key).toBeUndefined();
    expect(await roleOf(key)).toBe('proxy_admin');
  });

  it('moving a key the team admin holds onto another member is refused', async () => {
    const mine = await post('/key/generate', { team_id: 't-sec', user_id: null });
    expect(mine.status).toBe(200);
    const res = await post('/key/update', { key: mine.body.key, user_id: 'root' });
    expect(res.status).toBe(403);
    expect(await roleOf(mine.body.key)).toBe('internal_user');
  });

  it("the team admin still manages members' keys without holding them: limits, block, delete", async () => {
    const { key } = await seedKey({ team_id: 't-sec', user_id: 'tm' });
    expect((await post('/key/update', { key, max_budget: 1 })).status).toBe(200);
    expect((await post('/key/block', { key })).status).toBe(200);
    expect((await post('/key/delete', { keys: [key] })).status).toBe(200);
  });

  it('a team admin still makes team keys for themself and service keys with no user', async () => {
    expect((await post('/key/generate', { team_id: 't-sec' })).status).toBe(200);
    expect((await post('/key/generate', { team_id: 't-sec', user_id: null })).status).toBe(200);
    expect((await post('/key/generate', { team_id: 't-sec', user_id: 'ta' })).status).toBe(200);
  });
});

describe('a block stays until someone with as much authority lifts it', () => {
  it("the key's own user cannot unblock a key a proxy admin blocked", async () => {
    const { key } = await seedKey({ user_id: 'other' });
    expect((await post('/key/block', { key }, { principal: 'master_key', role: 'proxy_admin' })).status).toBe(200);
    expect((await post('/key/unblock', { key }, userCtx('other'))).status).toBe(403);
    expect((await post('/key/update', { key, blocked: false }, userCtx('other'))).status).toBe(403);
    expect((await callApi(keys, 'GET', '/key/info', { key }, userCtx('other'))).body.info.blocked).toBe(true);
  });

  it('a member cannot unblock a key their team admin blocked; the team admin can', async () => {
    const { key } = await seedKey({ team_id: 't-sec', user_id: 'tm' });
    expect((await post('/key/block', { key }, userCtx('ta'))).status).toBe(200);
    expect((await post('/key/unblock', { key }, userCtx('tm'))).status).toBe(403);
    expect((await post('/key/unblock', { key }, userCtx('ta'))).status).toBe(200);
  });

  it('a team admin cannot unblock their own key a proxy admin blocked', async () => {
    const { key } = await seedKey({ team_id: 't-sec', user_id: 'ta' });
    expect((await post('/key/block', { key }, { principal: 'master_key', role: 'proxy_admin' })).status).toBe(200);
    expect((await post('/key/unblock', { key }, userCtx('ta'))).status).toBe(403);
  });

  it('a member cannot move a key their team admin blocked into a team they run, to unblock it there', async () => {
    // `tm` is a plain member of t-sec and the admin of t-else.
    const { key } = await seedKey({ team_id: 't-sec', user_id: 'tm' });
    expect((await post('/key/block', { key }, userCtx('ta'))).status).toBe(200);
    expect((await post('/key/update', { key, team_id: 't-else' }, userCtx('tm'))).status).toBe(403);
    expect((await post('/key/unblock', { key }, userCtx('tm'))).status).toBe(403);
  });

  it('a key seeded blocked (no record of who blocked it) is unblocked only by a proxy admin', async () => {
    const { key } = await seedKey({ user_id: 'other', blocked: true });
    expect((await post('/key/unblock', { key }, userCtx('other'))).status).toBe(403);
    expect((await post('/key/unblock', { key }, { principal: 'master_key', role: 'proxy_admin' })).status).toBe(200);
  });

  it('a user who blocked their own key may unblock it', async () => {
    const { key } = await seedKey({ user_id: 'other' });
    expect((await post('/key/block', { key }, userCtx('other'))).status).toBe(200);
    expect((await post('/key/unblock', { key }, userCtx('other'))).status).toBe(200);
  });
});

describe("a key's own user cannot reset what was spent on it", () => {
  it("`spend` and `budget_duration` on /key/update need a proxy admin or the team's admin", async () => {
    const { key } = await seedKey({ team_id: 't-sec', user_id: 'tm', max_budget: 5, spend: 5 });
    expect((await post('/key/update', { key, spend: 0 }, userCtx('tm'))).status).toBe(403);
    expect((await post('/key/update', { key, budget_duration: '1mo' }, userCtx('tm'))).status).toBe(403);
    // The team's admin may charge it more, but not hand back the budget a proxy admin set.
    const raised = await post('/key/update', { key, spend: 6 }, userCtx('ta'));
    expect(raised.status, JSON.stringify(raised.body)).toBe(200);
    expect((await post('/key/update', { key, spend: 0 }, userCtx('ta'))).status).toBe(403);
    expect((await post('/key/update', { key, spend: 0 }, adminCtx)).status).toBe(200);
  });

  it('the same for a personal key: its spend is reset by a proxy admin only', async () => {
    const { key } = await seedKey({ user_id: 'other', max_budget: 5, spend: 5 });
    expect((await post('/key/update', { key, spend: 0 }, userCtx('other'))).status).toBe(403);
    expect((await post('/key/update', { key, key_alias: 'renamed-own' }, userCtx('other'))).status).toBe(200);
  });
});

describe("a team admin's powers over memberships", () => {
  it('a team admin cannot change their own member budget', async () => {
    await seedMember({ team_id: 't-sec', user_id: 'ta', role: 'admin', max_budget: 1 });
    const res = await callApi(
      teams,
      'POST',
      '/team/member_update',
      { team_id: 't-sec', user_id: 'ta', max_budget_in_team: 100 },
      userCtx('ta'),
    );
    expect(res.status).toBe(403);
    expect(
      (await callApi(teams, 'POST', '/team/member_update', { team_id: 't-sec', user_id: 'tm', max_budget_in_team: 3 }, userCtx('ta')))
        .status,
    ).toBe(200);
  });
});

describe('inputs that would cost more than they say', () => {
  it('metadata of more than 16 KB is a 400 naming it, not a store failure', async () => {
    const res = await post('/key/generate', { metadata: { blob: 'x'.repeat(100_000) } }, userCtx('other'));
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ param: 'metadata' });
  });

  it('metadata nested deeper than DynamoDB stores is a 400, not a store failure', async () => {
    let deep: unknown = 'leaf';
    for (let i = 0; i < 40; i++) deep = { d: deep };
    const res = await post('/key/generate', { metadata: { deep } }, userCtx('other'));
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ param: 'metadata' });
  });

  it('metadata nested 100,000 levels deep is a 400 too (no stack overflow on the way)', async () => {
    const body = `{"metadata":${'{"d":'.repeat(100_000)}1${'}'.repeat(100_000)}}`;
    const res = await post('/key/generate', body, userCtx('other'));
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ param: 'metadata' });
  });

  it('ordinary metadata passes', async () => {
    expect(
      (await post('/key/generate', { metadata: { team: 'ml', tags: ['a', 'b'], nested: { ok: true } } }, userCtx('other'))).status,
    ).toBe(200);
  });
});
