import { createHash } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { handler as audit } from '../../../functions/audit/handler.js';
import { handler as keys } from '../../../functions/keys/handler.js';
import { addDuration, parseDuration } from '../../../lib/domain/periods.js';
import { adminCtx, callApi, invokeDirect, userCtx } from '../../support/admin.js';
import { afterCacheTtl, expectUnchanged, otherInstance, scanTable } from '../../support/admin-checks.js';
import { seedKey, seedMember, seedOrg, seedTeam, seedUser } from '../../support/seed.js';
import { useTestTable } from '../../support/table.js';

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');
const generate = (input: Record<string, unknown>, caller = adminCtx) => callApi(keys, 'POST', '/key/generate', input, caller);
const info = async (key: string) => (await callApi(keys, 'GET', '/key/info', { key })).body.info;

beforeAll(async () => {
  await useTestTable({ TOLLGATE_CACHE_TTL_SECONDS: '1' });
  await seedOrg({ organization_id: 'org-1', models: ['gpt-4o', 'gpt-4o-mini', 'openai/*'], max_budget: 1000 });
  await seedTeam({ team_id: 't-1', organization_id: 'org-1', models: ['gpt-4o', 'gpt-4o-mini', 'openai/*'], max_budget: 100 });
  await seedTeam({ team_id: 't-2', max_budget: 50 });
  await seedTeam({ team_id: 't-open' });
  await seedUser({ user_id: 'alice' });
  await seedUser({ user_id: 'bob' });
  await seedMember({ team_id: 't-1', user_id: 'alice', role: 'admin' });
  await seedMember({ team_id: 't-1', user_id: 'bob' });
});

describe('/key/generate', () => {
  it('returns the plaintext once: sk- and 192 random bits; the table keeps only its hash and sk-...last4', async () => {
    const res = await generate({ user_id: 'alice', key_alias: 'gen-1', metadata: { purpose: 'test' } });
    expect(res.status).toBe(200);
    const { key, token, key_name } = res.body;
    expect(key).toMatch(/^sk-[A-Za-z0-9_-]{32}$/);
    expect(token).toBe(sha256(key));
    expect(key_name).toBe(`sk-...${key.slice(-4)}`);
    expect(res.body).toMatchObject({
      user_id: 'alice',
      key_alias: 'gen-1',
      blocked: false,
      expires: null,
      spend: 0,
      total_spend: 0,
      metadata: { purpose: 'test' },
    });
    const again = await info(token);
    expect(again.token).toBe(token);
    expect(JSON.stringify(again)).not.toContain(key);
    expect(JSON.stringify(await scanTable())).not.toContain(key);
    // Two keys never collide.
    const other = await generate({ user_id: 'alice' });
    expect(other.body.key).not.toBe(key);
  });

  it("answers with LiteLLM's fields: key, token and token_id (the hash), key_name, expires, user_id, team_id", async () => {
    const res = await generate({ team_id: 't-1', user_id: 'bob', duration: '1h' });
    expect(res.body).toMatchObject({
      key: expect.stringMatching(/^sk-/),
      key_name: expect.stringMatching(/^sk-\.\.\./),
      expires: expect.any(String),
      user_id: 'bob',
      team_id: 't-1',
    });
    expect(res.body.token).toBe(sha256(res.body.key));
    expect(res.body.token_id).toBe(res.body.token);
  });

  it('works by direct invocation with the same answer shape', async () => {
    const direct = await invokeDirect(keys, { action: 'generate', team_id: 't-2', user_id: null, max_budget: 5 });
    expect(direct).toMatchObject({
      team_id: 't-2',
      user_id: null,
      max_budget: 5,
      key: expect.stringMatching(/^sk-/),
      token: expect.any(String),
    });
    await expect(invokeDirect(keys, { action: 'generate', team_id: 'nope' })).rejects.toMatchObject({
      status: 404,
      code: 'team_not_found',
    });
  });

  it.each([
    ['30s', 30_000],
    ['24h', 86_400_000],
    ['30d', 30 * 86_400_000],
  ])('duration %s sets expires that far after creation', async (duration, ms) => {
    const res = await generate({ duration });
    expect(Date.parse(res.body.expires) - Date.parse(res.body.created_at)).toBe(ms);
  });

  it('duration 1mo is one calendar month; -1 and null mean no expiry', async () => {
    const month = await generate({ duration: '1mo' });
    expect(month.body.expires).toBe(new Date(addDuration(Date.parse(month.body.created_at), parseDuration('1mo'))).toISOString());
    expect((await generate({ duration: '-1' })).body.expires).toBeNull();
    expect((await generate({ duration: -1 })).body.expires).toBeNull();
    expect((await generate({ duration: null })).body.expires).toBeNull();
  });

  it('copies organization_id from the team and keeps models within the team', async () => {
    const res = await generate({ team_id: 't-1', user_id: 'bob', models: ['gpt-4o', 'openai/gpt-*'] });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ team_id: 't-1', organization_id: 'org-1', models: ['gpt-4o', 'openai/gpt-*'] });
    expect((await generate({ team_id: 't-1', organization_id: 'org-1' })).status).toBe(200);
  });

  it('sets spend (with a budget period, the current window too) so the budget check sees it', async () => {
    const res = await generate({ max_budget: 2, budget_duration: '30d', spend: 2 });
    expect(res.body).toMatchObject({ spend: 2, total_spend: 2, budget_reset_at: expect.any(String) });
    expect(await otherInstance().authorize(res.body.key)).toEqual({ effect: 'deny', code: 'key_budget_exceeded' });
  });

  it('writes an audit item with the changed fields and never the key', async () => {
    const res = await generate({ key_alias: 'audited', max_budget: 3 });
    const log = await invokeDirect(audit, { action: 'list', entity_type: 'key', entity_id: res.body.token });
    expect(log.data).toHaveLength(1);
    expect(log.data[0]).toMatchObject({
      action: 'key.generate',
      actor: 'master_key',
      changes: { key_alias: 'audited', max_budget: 3, key_name: res.body.key_name },
    });
    expect(JSON.stringify(log)).not.toContain(res.body.key);
  });
});

describe('hierarchy: a key within its team', () => {
  it('refuses models outside the team, naming both sides, and changes nothing', async () => {
    await expectUnchanged(async () => {
      const res = await generate({ team_id: 't-1', models: ['gpt-4o', 'claude-3'] });
      expect(res.status).toBe(400);
      expect(res.body.error).toMatchObject({ code: 'hierarchy_violation', param: 'models' });
      expect(res.body.error.message).toContain('key');
      expect(res.body.error.message).toContain('claude-3');
      expect(res.body.error.message).toContain('team `t-1`');
    });
  });

  it('refuses a broader glob under a restricted team; an unrestricted team allows anything', async () => {
    expect((await generate({ team_id: 't-1', models: ['gpt-*'] })).body.error.code).toBe('hierarchy_violation');
    expect((await generate({ team_id: 't-1', models: ['openai/gpt-4o', 'gpt-4o', 'claude-*'] })).body.error.message).toContain(
      '`claude-*`',
    );
    // An unrestricted key list adds nothing of its own: it gets the team's models.
    expect((await generate({ team_id: 't-1', models: ['*'] })).status).toBe(200);
    expect((await generate({ team_id: 't-1', models: ['all-proxy-models'] })).status).toBe(200);
    expect((await generate({ team_id: 't-1', models: ['all-team-models'] })).status).toBe(200);
    expect((await generate({ team_id: 't-open', models: ['anything', '*'] })).status).toBe(200);
  });

  it('refuses a max_budget above the team, naming both', async () => {
    const res = await generate({ team_id: 't-2', max_budget: 50.01 });
    expect(res.body.error).toMatchObject({ code: 'hierarchy_violation', param: 'max_budget' });
    expect(res.body.error.message).toMatch(/key max_budget 50\.01 is above team `t-2` max_budget 50\.00/);
    expect((await generate({ team_id: 't-2', max_budget: 50 })).status).toBe(200);
  });

  it("refuses an organization_id that is not the team's, or without a team", async () => {
    expect((await generate({ team_id: 't-1', organization_id: 'org-other' })).body.error).toMatchObject({
      code: 'hierarchy_violation',
      param: 'organization_id',
    });
    expect((await generate({ organization_id: 'org-1' })).body.error).toMatchObject({
      code: 'hierarchy_violation',
      param: 'organization_id',
    });
  });

  it('checks the new team when an update moves a key, and models/budget when they change', async () => {
    const k = (await generate({ models: ['claude-3'] })).body;
    await expectUnchanged(async () => {
      expect((await callApi(keys, 'POST', '/key/update', { key: k.token, team_id: 't-1' })).body.error.code).toBe('hierarchy_violation');
    });
    const inTeam = (await generate({ team_id: 't-2' })).body;
    expect((await callApi(keys, 'POST', '/key/update', { key: inTeam.token, max_budget: 51 })).body.error.code).toBe('hierarchy_violation');
  });
});

describe('key_alias is unique', () => {
  it('gives 409 key_alias_taken on generate and update, changing nothing', async () => {
    await generate({ key_alias: 'unique-1' });
    const second = (await generate({ key_alias: 'unique-2' })).body;
    await expectUnchanged(async () => {
      const dup = await generate({ key_alias: 'unique-1' });
      expect(dup).toMatchObject({ status: 409, body: { error: { code: 'key_alias_taken', param: 'key_alias', type: 'conflict_error' } } });
      const upd = await callApi(keys, 'POST', '/key/update', { key: second.token, key_alias: 'unique-1' });
      expect(upd.body.error.code).toBe('key_alias_taken');
    });
  });

  it('frees an alias when the key renames, clears it or is deleted', async () => {
    const a = (await generate({ key_alias: 'free-1' })).body;
    expect((await callApi(keys, 'POST', '/key/update', { key: a.key, key_alias: 'free-2' })).body.key_alias).toBe('free-2');
    expect((await generate({ key_alias: 'free-1' })).status).toBe(200);
    await callApi(keys, 'POST', '/key/update', { key: a.key, key_alias: null });
    expect((await generate({ key_alias: 'free-2' })).status).toBe(200);
    const b = (await generate({ key_alias: 'free-3' })).body;
    await callApi(keys, 'POST', '/key/delete', { keys: [b.key] });
    expect((await generate({ key_alias: 'free-3' })).status).toBe(200);
  });
});

describe('/key/update', () => {
  it('takes the plaintext or the token hash and changes only the named fields', async () => {
    const k = (await generate({ user_id: 'alice', max_budget: 10, duration: '1h', metadata: { a: 1 } })).body;
    const byKey = await callApi(keys, 'POST', '/key/update', { key: k.key, max_budget: 20, models: ['gpt-4o'] });
    expect(byKey.status).toBe(200);
    expect(byKey.body).toMatchObject({ max_budget: 20, models: ['gpt-4o'], metadata: { a: 1 }, expires: k.expires, user_id: 'alice' });
    // LiteLLM answers `{key, ...}`: here `key` is the token hash, never the plaintext.
    expect(byKey.body.key).toBe(k.token);
    const byHash = await invokeDirect(keys, { action: 'update', key: k.token, duration: '-1', metadata: { b: 2 } });
    expect(byHash).toMatchObject({ expires: null, metadata: { b: 2 }, max_budget: 20 });
  });

  it('sets spend and a new duration from now', async () => {
    const k = (await generate({ max_budget: 10, budget_duration: '1d' })).body;
    const res = await callApi(keys, 'POST', '/key/update', { key: k.token, spend: 4.5, duration: '2h' });
    expect(res.body).toMatchObject({ spend: 4.5, total_spend: 4.5 });
    expect(Date.parse(res.body.expires) - Date.parse(res.body.updated_at)).toBe(2 * 3_600_000);
  });

  it('moves a key between teams and users, keeping listings and organization in step', async () => {
    const k = (await generate({ user_id: 'alice' })).body;
    const moved = await callApi(keys, 'POST', '/key/update', { key: k.token, team_id: 't-1', user_id: 'bob' });
    expect(moved.body).toMatchObject({ team_id: 't-1', user_id: 'bob', organization_id: 'org-1' });
    const inTeam = await callApi(keys, 'GET', '/key/list', { team_id: 't-1', limit: 1000 });
    expect(inTeam.body.data.map((x: { token: string }) => x.token)).toContain(k.token);
    const ofAlice = await callApi(keys, 'GET', '/key/list', { user_id: 'alice', limit: 1000 });
    expect(ofAlice.body.data.map((x: { token: string }) => x.token)).not.toContain(k.token);
    const out = await callApi(keys, 'POST', '/key/update', { key: k.token, team_id: null, user_id: null });
    expect(out.body).toMatchObject({ team_id: null, user_id: null, organization_id: null });
    const inTeamAfter = await callApi(keys, 'GET', '/key/list', { team_id: 't-1', limit: 1000 });
    expect(inTeamAfter.body.data.map((x: { token: string }) => x.token)).not.toContain(k.token);
  });
});

describe('/key/delete', () => {
  it('deletes every listed key in one transaction, or none when one is missing', async () => {
    const a = (await generate({ key_alias: 'del-a' })).body;
    const b = (await generate({})).body;
    await expectUnchanged(async () => {
      const res = await callApi(keys, 'POST', '/key/delete', { keys: [a.key, 'sk-doesnotexist0000'] });
      expect(res.body.error).toMatchObject({ code: 'key_not_found', type: 'not_found_error' });
      expect(res.body.error.message).toContain('sk-...0000');
    });
    const res = await callApi(keys, 'POST', '/key/delete', { keys: [a.key, b.token] });
    expect(res.body).toEqual({ deleted_keys: [a.token, b.token] });
    expect((await callApi(keys, 'GET', '/key/info', { key: a.token })).status).toBe(404);
    expect(await invokeDirect(keys, { action: 'delete', keys: [(await generate({})).body.token] })).toMatchObject({
      deleted_keys: [expect.any(String)],
    });
  });

  it("deletes by LiteLLM's key_aliases, answering the aliases; keys or key_aliases, not both", async () => {
    const a = (await generate({ key_alias: 'del-by-alias-a' })).body;
    const b = (await generate({ key_alias: 'del-by-alias-b' })).body;
    await expectUnchanged(async () => {
      expect((await callApi(keys, 'POST', '/key/delete', { key_aliases: ['del-by-alias-a', 'no-such-alias'] })).body.error).toMatchObject({
        code: 'key_not_found',
      });
      expect((await callApi(keys, 'POST', '/key/delete', { keys: [a.token], key_aliases: ['del-by-alias-b'] })).body.error).toMatchObject({
        code: 'invalid_field',
        param: 'key_aliases',
      });
      expect((await callApi(keys, 'POST', '/key/delete', {})).body.error).toMatchObject({ code: 'invalid_field', param: 'keys' });
    });
    const res = await callApi(keys, 'POST', '/key/delete', { key_aliases: ['del-by-alias-a', 'del-by-alias-b'] });
    expect(res.body).toEqual({ deleted_keys: ['del-by-alias-a', 'del-by-alias-b'] });
    expect((await callApi(keys, 'GET', '/key/info', { key: a.token })).status).toBe(404);
    expect((await callApi(keys, 'GET', '/key/info', { key: b.token })).status).toBe(404);
    // The aliases are free again.
    expect((await generate({ key_alias: 'del-by-alias-a' })).status).toBe(200);
  });
});

describe('/key/regenerate', () => {
  it('without a grace period: a new plaintext, same settings and alias; the old key stops at once', async () => {
    const old = (await generate({ key_alias: 'regen-1', max_budget: 7, spend: 1 })).body;
    const authz = otherInstance();
    const res = await callApi(keys, 'POST', '/key/regenerate', { key: old.key });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ key_alias: 'regen-1', max_budget: 7, spend: 1, created_at: old.created_at });
    expect(res.body.key).not.toBe(old.key);
    expect(res.body.token).toBe(sha256(res.body.key));
    expect(res.body.token_id).toBe(res.body.token);
    expect((await callApi(keys, 'GET', '/key/info', { key: old.token })).status).toBe(404);
    expect(await authz.authorize(old.key)).toEqual({ effect: 'unauthorized' });
    expect(await authz.authorize(res.body.key)).toEqual({ effect: 'allow' });
    // The alias moved with the key: it is still taken.
    expect((await generate({ key_alias: 'regen-1' })).status).toBe(409);
  });

  it('with a grace period: the old key works until it ends, is hidden from lists, and can only be read or deleted', async () => {
    const old = (await generate({ user_id: 'alice' })).body;
    const res = await invokeDirect(keys, { action: 'regenerate', key: old.token, grace_period: '2s' });
    const oldInfo = await info(old.token);
    expect(oldInfo).toMatchObject({ replaced_by: res.token, grace_until: expect.any(String) });
    expect(res.replaces).toEqual([old.token]);
    const listed = (await callApi(keys, 'GET', '/key/list', { user_id: 'alice', limit: 1000 })).body.data.map(
      (k: { token: string }) => k.token,
    );
    expect(listed).toContain(res.token);
    expect(listed).not.toContain(old.token);
    expect((await callApi(keys, 'POST', '/key/update', { key: old.token, max_budget: 1 })).body.error.code).toBe('key_replaced');
    expect((await callApi(keys, 'POST', '/key/regenerate', { key: old.token })).body.error.code).toBe('key_replaced');
    const authz = otherInstance();
    expect(await authz.authorize(old.key)).toEqual({ effect: 'allow' });
    expect(await authz.authorize(res.key)).toEqual({ effect: 'allow' });
    await new Promise((r) => setTimeout(r, Date.parse(oldInfo.grace_until) - Date.now() + 50));
    await afterCacheTtl();
    expect(await authz.authorize(old.key)).toEqual({ effect: 'unauthorized' });
    expect(await authz.authorize(res.key)).toEqual({ effect: 'allow' });
  });

  it('blocking or deleting the new key ends the grace period of the old one', async () => {
    const a = (await generate({})).body;
    const a2 = (await callApi(keys, 'POST', '/key/regenerate', { key: a.key, grace_period: '1h' })).body;
    await callApi(keys, 'POST', '/key/block', { key: a2.key });
    expect((await callApi(keys, 'GET', '/key/info', { key: a.token })).status).toBe(404);
    expect(await otherInstance().authorize(a.key)).toEqual({ effect: 'unauthorized' });

    const b = (await generate({})).body;
    const b2 = (await callApi(keys, 'POST', '/key/regenerate', { key: b.key, grace_period: '1h' })).body;
    const b3 = (await callApi(keys, 'POST', '/key/regenerate', { key: b2.key, grace_period: '1h' })).body;
    expect(b3.replaces).toEqual([b2.token, b.token]);
    await callApi(keys, 'POST', '/key/delete', { keys: [b3.token] });
    const authz = otherInstance();
    for (const k of [b.key, b2.key, b3.key]) expect(await authz.authorize(k)).toEqual({ effect: 'unauthorized' });
  });

  it('deleting a key together with the predecessors it replaced deletes them all, once (found by review: a 503)', async () => {
    const c = (await generate({})).body;
    const c2 = (await callApi(keys, 'POST', '/key/regenerate', { key: c.key, grace_period: '1h' })).body;
    const c3 = (await callApi(keys, 'POST', '/key/regenerate', { key: c2.key, grace_period: '1h' })).body;
    const res = await callApi(keys, 'POST', '/key/delete', { keys: [c3.token, c2.token, c.token] });
    expect([res.status, res.body.deleted_keys]).toEqual([200, [c3.token, c2.token, c.token]]);
    const authz = otherInstance();
    for (const k of [c.key, c2.key, c3.key]) expect(await authz.authorize(k)).toEqual({ effect: 'unauthorized' });
  });
});

describe('/key/info', () => {
  it("shows the key by plaintext or hash, with its budget window; without `key`, the caller's own", async () => {
    const k = (await generate({ user_id: 'alice', max_budget: 5, budget_duration: '30d' })).body;
    const byKey = await callApi(keys, 'GET', '/key/info', { key: k.key });
    expect(byKey.body).toEqual({
      key: k.token,
      info: expect.objectContaining({ token: k.token, spend: 0, total_spend: 0, budget_reset_at: expect.any(String) }),
    });
    expect(byKey.body.info).not.toHaveProperty('window_spend');
    const own = await callApi(keys, 'GET', '/key/info', {}, userCtx('alice', { key_hash: k.token, key_name: k.key_name }));
    expect(own.body.key).toBe(k.token);
    expect(await invokeDirect(keys, { action: 'info', key: k.token })).toEqual(byKey.body);
  });
});

describe('/key/list', () => {
  it('lists by team (GSI3), by user (GSI2) and all (GSI1), a page at a time', async () => {
    await seedTeam({ team_id: 't-list' });
    await seedUser({ user_id: 'lister' });
    await seedMember({ team_id: 't-list', user_id: 'lister' });
    const made: string[] = [];
    for (let i = 0; i < 3; i++) made.push((await generate({ team_id: 't-list', user_id: 'lister' })).body.token);
    const first = await callApi(keys, 'GET', '/key/list', { team_id: 't-list', limit: 2 });
    expect(first.body.data).toHaveLength(2);
    const second = await callApi(keys, 'GET', '/key/list', { team_id: 't-list', limit: 2, cursor: first.body.next_cursor });
    const seen = [...first.body.data, ...second.body.data].map((k: { token: string }) => k.token);
    expect(seen.sort()).toEqual([...made].sort());
    expect(second.body.next_cursor).toBeNull();
    const byUser = await invokeDirect(keys, { action: 'list', user_id: 'lister' });
    expect(byUser.data.map((k: { token: string }) => k.token).sort()).toEqual([...made].sort());
    const all = await callApi(keys, 'GET', '/key/list', { limit: 1000 });
    expect(all.body.data.length).toBeGreaterThan(made.length);
    expect(all.body.data[0]).not.toHaveProperty('key');
  });

  it("also answers LiteLLM's `keys`: token hashes, or the records with return_full_object", async () => {
    const made = (await generate({ team_id: 't-list' })).body;
    const res = await callApi(keys, 'GET', '/key/list', { team_id: 't-list', limit: 1000 });
    expect(res.body.keys).toEqual(res.body.data.map((k: { token: string }) => k.token));
    expect(res.body.keys).toContain(made.token);
    const full = await callApi(keys, 'GET', '/key/list', { team_id: 't-list', limit: 1000, return_full_object: 'true' });
    expect(full.body.keys).toEqual(full.body.data);
    expect(full.body.keys.map((k: { token: string }) => k.token)).toContain(made.token);
    expect((await invokeDirect(keys, { action: 'list', team_id: 't-list', return_full_object: false })).keys).toContain(made.token);
    const bad = await callApi(keys, 'GET', '/key/list', { team_id: 't-list', return_full_object: 'yes' });
    expect([bad.status, bad.body.error?.param, bad.body.error?.message]).toEqual([
      400,
      'return_full_object',
      '`return_full_object`: must be true or false',
    ]);
  });

  it('shows a non-admin only their own keys', async () => {
    await seedUser({ user_id: 'carol' });
    const mine = (await generate({}, userCtx('carol'))).body;
    const res = await callApi(keys, 'GET', '/key/list', {}, userCtx('carol'));
    expect(res.body.data.map((k: { token: string }) => k.token)).toEqual([mine.token]);
    expect((await callApi(keys, 'GET', '/key/list', { user_id: 'alice' }, userCtx('carol'))).status).toBe(403);
  });
});

describe('/key/block and /key/unblock', () => {
  it('set blocked, through both entry points', async () => {
    const k = (await generate({})).body;
    expect((await callApi(keys, 'POST', '/key/block', { key: k.key })).body).toMatchObject({ token: k.token, blocked: true });
    expect(await invokeDirect(keys, { action: 'unblock', key: k.token })).toMatchObject({ blocked: false });
    expect(await invokeDirect(keys, { action: 'block', key: k.token })).toMatchObject({ blocked: true });
  });
});

describe('the authorizer sees key changes after the cache TTL, not before', () => {
  it('a block, then an unblock', async () => {
    const k = (await generate({})).body;
    const authz = otherInstance();
    expect(await authz.authorize(k.key)).toEqual({ effect: 'allow' });
    await callApi(keys, 'POST', '/key/block', { key: k.key });
    expect(await authz.authorize(k.key)).toEqual({ effect: 'allow' });
    await afterCacheTtl();
    expect(await authz.authorize(k.key)).toEqual({ effect: 'deny', code: 'key_blocked' });
    await callApi(keys, 'POST', '/key/unblock', { key: k.key });
    await afterCacheTtl();
    expect(await authz.authorize(k.key)).toEqual({ effect: 'allow' });
  });

  it('a budget change', async () => {
    const k = (await generate({ max_budget: 10, spend: 5 })).body;
    const authz = otherInstance();
    expect(await authz.authorize(k.key)).toEqual({ effect: 'allow' });
    await callApi(keys, 'POST', '/key/update', { key: k.token, max_budget: 5 });
    expect(await authz.authorize(k.key)).toEqual({ effect: 'allow' });
    await afterCacheTtl();
    expect(await authz.authorize(k.key)).toEqual({ effect: 'deny', code: 'key_budget_exceeded' });
  });

  it('a deletion', async () => {
    const k = (await generate({})).body;
    const authz = otherInstance();
    expect(await authz.authorize(k.key)).toEqual({ effect: 'allow' });
    await callApi(keys, 'POST', '/key/delete', { keys: [k.key] });
    expect(await authz.authorize(k.key)).toEqual({ effect: 'allow' });
    await afterCacheTtl();
    expect(await authz.authorize(k.key)).toEqual({ effect: 'unauthorized' });
  });
});

describe('bad input: 400 naming the field, 404, 409; the table unchanged', () => {
  let live: { key: string; token: string };
  beforeAll(async () => {
    const seeded = await seedKey({ user_id: 'alice' });
    live = { key: seeded.key, token: seeded.record.token };
  });

  const cases: [string, string, string, Record<string, unknown>, number, string, string | null][] = [
    ['generate', 'POST', '/key/generate', { models: 'gpt-4o' }, 400, 'invalid_type', 'models'],
    ['generate', 'POST', '/key/generate', { max_budget: -1 }, 400, 'invalid_field', 'max_budget'],
    ['generate', 'POST', '/key/generate', { max_budget: '5' }, 400, 'invalid_type', 'max_budget'],
    ['generate', 'POST', '/key/generate', { spend: -0.01 }, 400, 'invalid_field', 'spend'],
    ['generate', 'POST', '/key/generate', { duration: '10x' }, 400, 'invalid_field', 'duration'],
    ['generate', 'POST', '/key/generate', { duration: '0d' }, 400, 'invalid_field', 'duration'],
    ['generate', 'POST', '/key/generate', { budget_duration: 'monthly' }, 400, 'invalid_field', 'budget_duration'],
    ['generate', 'POST', '/key/generate', { team_id: 'a\u0000b' }, 400, 'invalid_field', 'team_id'],
    ['generate', 'POST', '/key/generate', { blocked: 'yes' }, 400, 'invalid_type', 'blocked'],
    ['generate', 'POST', '/key/generate', { guardrails: ['pii'] }, 400, 'unknown_field', 'guardrails'],
    ['generate', 'POST', '/key/generate', { key_alias: '' }, 400, 'invalid_field', 'key_alias'],
    ['generate', 'POST', '/key/generate', { team_id: 'missing' }, 404, 'team_not_found', null],
    ['generate', 'POST', '/key/generate', { user_id: 'missing' }, 404, 'user_not_found', null],
    ['update', 'POST', '/key/update', { key: 'LIVE_TOKEN' }, 400, 'nothing_to_update', null],
    ['update', 'POST', '/key/update', { max_budget: 1 }, 400, 'invalid_type', 'key'],
    ['update', 'POST', '/key/update', { key: 'not-a-key', max_budget: 1 }, 400, 'invalid_field', 'key'],
    ['update', 'POST', '/key/update', { key: 'LIVE_TOKEN', max_budget: -5 }, 400, 'invalid_field', 'max_budget'],
    ['update', 'POST', '/key/update', { key: 'LIVE_TOKEN', duration: '1 day' }, 400, 'invalid_field', 'duration'],
    ['update', 'POST', '/key/update', { key: 'LIVE_TOKEN', colour: 'red' }, 400, 'unknown_field', 'colour'],
    ['update', 'POST', '/key/update', { key: 'LIVE_TOKEN', team_id: 'missing' }, 404, 'team_not_found', null],
    ['update', 'POST', '/key/update', { key: 'sk-nope', max_budget: 1 }, 404, 'key_not_found', null],
    ['delete', 'POST', '/key/delete', { keys: [] }, 400, 'invalid_field', 'keys'],
    ['delete', 'POST', '/key/delete', { keys: 'LIVE_KEY' }, 400, 'invalid_type', 'keys'],
    ['delete', 'POST', '/key/delete', { keys: ['LIVE_TOKEN', 'zz'] }, 400, 'invalid_field', 'keys.1'],
    ['delete', 'POST', '/key/delete', { keys: ['0'.repeat(64)] }, 404, 'key_not_found', null],
    ['delete', 'POST', '/key/delete', { keys: ['LIVE_TOKEN'], key: 'LIVE_TOKEN' }, 400, 'unknown_field', 'key'],
    ['delete', 'POST', '/key/delete', { key_aliases: [] }, 400, 'invalid_field', 'key_aliases'],
    ['delete', 'POST', '/key/delete', { key_aliases: ['missing-alias'] }, 404, 'key_not_found', null],
    ['regenerate', 'POST', '/key/regenerate', { key: 'LIVE_TOKEN', grace_period: 'soon' }, 400, 'invalid_field', 'grace_period'],
    ['regenerate', 'POST', '/key/regenerate', { key: 5 }, 400, 'invalid_type', 'key'],
    ['regenerate', 'POST', '/key/regenerate', { key: 'sk-missing' }, 404, 'key_not_found', null],
    ['regenerate', 'POST', '/key/regenerate', { key: 'LIVE_TOKEN', max_budget: 1 }, 400, 'unknown_field', 'max_budget'],
    ['info', 'GET', '/key/info', { key: 'sk-missing' }, 404, 'key_not_found', null],
    ['info', 'GET', '/key/info', {}, 400, 'invalid_field', 'key'],
    ['info', 'GET', '/key/info', { key: 'LIVE_TOKEN', verbose: 'true' }, 400, 'unknown_field', 'verbose'],
    ['list', 'GET', '/key/list', { limit: '0' }, 400, 'invalid_field', 'limit'],
    ['list', 'GET', '/key/list', { cursor: 'garbage' }, 400, 'invalid_cursor', 'cursor'],
    ['list', 'GET', '/key/list', { page: '2' }, 400, 'unknown_field', 'page'],
    ['list', 'GET', '/key/list', { return_full_object: 'yes' }, 400, 'invalid_field', 'return_full_object'],
    ['list', 'GET', '/key/list', { key_alias: 'x' }, 400, 'unknown_field', 'key_alias'],
    ['block', 'POST', '/key/block', {}, 400, 'invalid_type', 'key'],
    ['block', 'POST', '/key/block', { key: 'sk-missing' }, 404, 'key_not_found', null],
    ['unblock', 'POST', '/key/unblock', { key: 'LIVE_TOKEN', reason: 'x' }, 400, 'unknown_field', 'reason'],
    ['unblock', 'POST', '/key/unblock', { key: '1'.repeat(64) }, 404, 'key_not_found', null],
  ];

  /** Puts the live key into a case's input (it exists only once beforeAll ran). */
  const fill = (input: Record<string, unknown>): Record<string, unknown> =>
    JSON.parse(JSON.stringify(input).replaceAll('LIVE_TOKEN', live.token).replaceAll('LIVE_KEY', live.key));

  it.each(cases)('%s: %s %s %j -> %i %s', async (actionName, method, path, raw, status, code, param) => {
    const input = () => fill(raw);
    await expectUnchanged(async () => {
      const res = await callApi(keys, method, path, input());
      expect(res.status).toBe(status);
      expect(res.body.error.code).toBe(code);
      if (param !== null) expect(res.body.error.param).toBe(param);
      await expect(invokeDirect(keys, { action: actionName, ...input() })).rejects.toMatchObject({ status, code });
    });
  });

  it('a body that is not JSON is a 400', async () => {
    const res = await callApi(keys, 'POST', '/key/generate', '{not json');
    expect(res.body.error.code).toBe('invalid_body');
  });
});

describe('sample events for direct invocation', () => {
  it('every action of the keys, teams and users functions has one, and it is a valid request', async () => {
    const { readdir, readFile } = await import('node:fs/promises');
    const { keyActions } = await import('../../../lib/admin/actions/keys.js');
    const { teamActions } = await import('../../../lib/admin/actions/teams.js');
    const { userActions } = await import('../../../lib/admin/actions/users.js');
    const { parseInput } = await import('../../../lib/admin/schema/fields.js');
    for (const [fn, actions] of [
      ['keys', keyActions],
      ['teams', teamActions],
      ['users', userActions],
    ] as const) {
      const dir = new URL(`../../../functions/${fn}/events/`, import.meta.url);
      const seen = new Set<string>();
      for (const file of await readdir(dir)) {
        const { action: name, ...fields } = JSON.parse(await readFile(new URL(file, dir), 'utf8')) as { action: string };
        const def = actions[name];
        expect(def, `${fn}/events/${file} names action ${name}`).toBeDefined();
        expect(() => parseInput(def!.schema, fields), `${fn}/events/${file}`).not.toThrow();
        seen.add(name);
      }
      expect([...seen].sort()).toEqual(Object.keys(actions).sort());
    }
  });
});
