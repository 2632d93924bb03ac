/**
 * The promise about secrets, checked end to end: run every key-issuing path (and the paths that
 * take a plaintext back: update, info, block, delete, refused and failing requests, the
 * authorizer) with logging at DEBUG, then read every item in the table and every line written to
 * stdout/stderr, and find no plaintext key anywhere.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { handler as audit } from '../../../functions/audit/handler.js';
import { handler as keys } from '../../../functions/keys/handler.js';
import { handler as teams } from '../../../functions/teams/handler.js';
import { handler as users } from '../../../functions/users/handler.js';
import { documentClient } from '../../../lib/app/index.js';
import { callApi, invokeDirect } from '../../support/admin.js';
import { otherInstance, scanTable } from '../../support/admin-checks.js';
import { useTestTable } from '../../support/table.js';

const SK_PATTERN = /sk-[A-Za-z0-9_-]{12,}/;

const captured: string[] = [];
const restore: (() => void)[] = [];

function capture(): void {
  for (const stream of [process.stdout, process.stderr]) {
    const original = stream.write;
    // Kept, not passed on: the run's output stays quiet at DEBUG.
    stream.write = ((chunk: unknown, ...rest: unknown[]) => {
      captured.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString('utf8'));
      const done = rest.find((r) => typeof r === 'function') as (() => void) | undefined;
      done?.();
      return true;
    }) as typeof stream.write;
    restore.push(() => {
      stream.write = original;
    });
  }
  for (const level of ['log', 'info', 'warn', 'error', 'debug'] as const) {
    const spy = vi.spyOn(console, level).mockImplementation((...args: unknown[]) => {
      captured.push(args.map((a) => (typeof a === 'string' ? a : JSON.stringify(a))).join(' '));
    });
    restore.push(() => spy.mockRestore());
  }
}

describe('no plaintext key is ever stored or logged', () => {
  const plaintexts: string[] = [];
  const keep = <T extends { key?: string }>(r: T): T => {
    if (r.key) plaintexts.push(r.key);
    return r;
  };

  beforeAll(async () => {
    await useTestTable({ TOLLGATE_LOG_LEVEL: 'DEBUG', TOLLGATE_CACHE_TTL_SECONDS: '1' });
    capture();

    // Issue keys every way there is, through both entry points.
    await invokeDirect(teams, { action: 'new', team_id: 't-secret', max_budget: 100 });
    const user = keep((await callApi(users, 'POST', '/user/new', { user_id: 'sam', teams: ['t-secret'], key_alias: 'sam-default' })).body);
    const viaApi = keep(
      (await callApi(keys, 'POST', '/key/generate', { user_id: 'sam', team_id: 't-secret', key_alias: 'sam-team', max_budget: 5 })).body,
    );
    const viaDirect = keep(await invokeDirect(keys, { action: 'generate', user_id: 'sam', metadata: { note: 'direct' } }));
    // A plaintext handed over as data, nested in metadata (issue 10, item 7): the audit item must not keep it.
    await callApi(keys, 'POST', '/key/update', {
      key: viaDirect.key,
      metadata: { nested: { api_key: viaDirect.key, deeper: [{ note: `copy of ${viaDirect.key}` }] } },
    });
    const graced = keep((await callApi(keys, 'POST', '/key/regenerate', { key: viaApi.key, grace_period: '1h' })).body);
    const rotated = keep(await invokeDirect(keys, { action: 'regenerate', key: viaDirect.key }));
    keep(await invokeDirect(users, { action: 'new', user_id: 'tess' }));

    // Hand plaintexts back: updates, reads, blocks, deletes.
    await callApi(keys, 'POST', '/key/update', { key: graced.key, max_budget: 4, key_alias: 'sam-team-2' });
    await callApi(keys, 'GET', '/key/info', { key: user.key });
    await invokeDirect(keys, { action: 'info', key: graced.key });
    await callApi(keys, 'POST', '/key/block', { key: graced.key });
    await invokeDirect(keys, { action: 'unblock', key: graced.key });

    // Refused and failing requests that carry a plaintext.
    const never = `sk-${randomBytes(24).toString('base64url')}`;
    plaintexts.push(never);
    expect((await callApi(keys, 'GET', '/key/info', { key: never })).status).toBe(404);
    expect((await callApi(keys, 'POST', '/key/update', { key: user.key, colour: 'red' })).status).toBe(400);
    expect((await callApi(keys, 'POST', '/key/update', { key: rotated.key, max_budget: -1 })).status).toBe(400);
    await expect(invokeDirect(keys, { action: 'delete', keys: [never] })).rejects.toMatchObject({ code: 'key_not_found' });
    const client = documentClient();
    const send = client.send.bind(client);
    // A store failure whose message quotes the key must not carry it into the logs.
    const spy = vi.spyOn(client, 'send').mockImplementation(((cmd: never) => {
      if ((cmd as { constructor: { name: string } }).constructor.name === 'TransactWriteCommand')
        return Promise.reject(Object.assign(new Error(`failed on ${rotated.key}`), { name: 'InternalServerError' }));
      return send(cmd);
    }) as typeof client.send);
    expect((await callApi(keys, 'POST', '/key/update', { key: rotated.key, max_budget: 1 })).status).toBe(503);
    spy.mockRestore();

    // The authorizer, allowing and refusing.
    const authz = otherInstance();
    expect(await authz.authorize(user.key)).toEqual({ effect: 'allow' });
    expect(await authz.authorize(graced.key)).toEqual({ effect: 'allow' });
    // Blocking `graced` ended the grace period of the key it replaced.
    expect(await authz.authorize(viaApi.key)).toEqual({ effect: 'unauthorized' });
    expect(await authz.authorize(never)).toEqual({ effect: 'unauthorized' });

    // Cascades.
    await callApi(keys, 'POST', '/key/delete', { keys: [rotated.key] });
    await callApi(teams, 'POST', '/team/delete', { team_ids: ['t-secret'] });
    await invokeDirect(users, { action: 'delete', user_ids: ['tess'] });
  });

  afterAll(() => {
    for (const r of restore.reverse()) r();
  });

  it('issued real keys and logged what happened (so the checks below can fail)', () => {
    expect(plaintexts.length).toBeGreaterThanOrEqual(7);
    for (const k of plaintexts) expect(k).toMatch(/^sk-[A-Za-z0-9_-]{32}$/);
    const logs = captured.join('\n');
    expect(logs).toContain('admin action refused');
    expect(logs).toContain('store transaction failed');
  });

  it('finds no plaintext key in any item the API wrote, including the audit log', async () => {
    const items = await scanTable();
    expect(items.length).toBeGreaterThan(10);
    expect(items.some((i) => i.kind === 'audit')).toBe(true);
    expect(items.some((i) => i.kind === 'key')).toBe(true);
    const text = JSON.stringify(items);
    for (const k of plaintexts) expect(text).not.toContain(k);
    expect(text).not.toMatch(SK_PATTERN);
    // What a key item keeps instead: the hash and `sk-...last4`.
    for (const i of items.filter((x) => x.kind === 'key')) {
      expect(i.token).toMatch(/^[0-9a-f]{64}$/);
      expect(i.key_name).toMatch(/^sk-\.\.\..{4}$/);
    }
  });

  it('finds no plaintext key in the logs', () => {
    const logs = captured.join('\n');
    for (const k of plaintexts) expect(logs).not.toContain(k);
    expect(logs).not.toMatch(SK_PATTERN);
  });

  it('finds no plaintext key in what the audit log answers', async () => {
    const log = await invokeDirect(audit, { action: 'list', limit: 1000 });
    expect(log.data.length).toBeGreaterThan(10);
    const text = JSON.stringify(log);
    for (const k of plaintexts) expect(text).not.toContain(k);
  });
});
