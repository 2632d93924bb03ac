/**
 * A key's `allowed_routes` end to end: set through /key/generate and /key/update, stored, shown,
 * and enforced by the authorizer on every route outside the list, whatever the key's role.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { handler as keys } from '../../../functions/keys/handler.js';
import { handler as users } from '../../../functions/users/handler.js';
import { adminCtx, callApi, userCtx } from '../../support/admin.js';
import { authorize, bearer } from '../../support/authorizer.js';
import { authorizerEvent } from '../../support/seed.js';
import { useTestTable } from '../../support/table.js';

const MASTER = 'sk-master-allowed-routes-0123456789';
const at = (method: string, resource: string, key: string) => authorizerEvent({ method, resource, headers: bearer(key) });

beforeAll(async () => {
  await useTestTable({ TOLLGATE_MASTER_KEY: MASTER });
  await callApi(users, 'POST', '/user/new', { user_id: 'ana' });
  await callApi(users, 'POST', '/user/new', { user_id: 'root', user_role: 'proxy_admin' });
});

describe('a key limited to some routes', () => {
  it('calls those (and their /v1 twins) and is refused every other with key_route_not_allowed', async () => {
    const made = await callApi(keys, 'POST', '/key/generate', { user_id: 'ana', allowed_routes: ['/v1/embeddings', '/key/info'] });
    expect(made.status).toBe(200);
    expect(made.body.allowed_routes).toEqual(['/v1/embeddings', '/key/info']);
    const key = made.body.key as string;

    for (const [method, resource] of [
      ['POST', '/v1/embeddings'],
      ['POST', '/embeddings'],
      ['GET', '/key/info'],
      ['GET', '/health'],
    ]) {
      expect([method, resource, (await authorize(at(method as string, resource as string, key))).effect]).toEqual([
        method,
        resource,
        'allow',
      ]);
    }
    for (const [method, resource] of [
      ['POST', '/v1/chat/completions'],
      ['POST', '/chat/completions'],
      ['GET', '/v1/models'],
      ['GET', '/key/list'],
      ['POST', '/key/generate'],
    ]) {
      const out = await authorize(at(method as string, resource as string, key));
      expect(out.effect).toBe('deny');
      if (out.effect !== 'deny') continue;
      expect(out.status).toBe(403);
      expect(JSON.parse(out.body).error).toMatchObject({ type: 'permission_error', code: 'key_route_not_allowed' });
      expect(JSON.parse(out.body).error.message).toContain(`${method} ${resource}`);
    }
  });

  it("holds for a proxy admin's key: an admin key limited to info routes cannot write", async () => {
    const made = await callApi(keys, 'POST', '/key/generate', { user_id: 'root', allowed_routes: ['info'] });
    const key = made.body.key as string;
    expect((await authorize(at('GET', '/team/list', key))).effect).toBe('allow');
    const denied = await authorize(at('POST', '/team/new', key));
    expect(denied.effect === 'deny' && JSON.parse(denied.body).error.code).toBe('key_route_not_allowed');
  });

  it('never grants what the role may not: an internal user key listing /team/new is refused by its role', async () => {
    const made = await callApi(keys, 'POST', '/key/generate', { user_id: 'ana', allowed_routes: ['/team/new'] });
    const denied = await authorize(at('POST', '/team/new', made.body.key as string));
    expect(denied.effect === 'deny' && JSON.parse(denied.body).error.code).toBe('route_not_allowed');
  });

  it('an owner may narrow the list a proxy admin set, and /key/info shows it', async () => {
    const made = await callApi(keys, 'POST', '/key/generate', { user_id: 'ana', allowed_routes: ['llm'] });
    const key = made.body.key as string;
    const narrowed = await callApi(keys, 'POST', '/key/update', { key, allowed_routes: ['/v1/chat/completions'] }, userCtx('ana'));
    expect(narrowed.status).toBe(200);
    expect((await callApi(keys, 'GET', '/key/info', { key })).body.info.allowed_routes).toEqual(['/v1/chat/completions']);
    const widened = await callApi(keys, 'POST', '/key/update', { key, allowed_routes: ['llm'] }, userCtx('ana'));
    expect([widened.status, widened.body.error?.message]).toEqual([403, expect.stringContaining('`allowed_routes`')]);
    // A proxy admin may lift it.
    expect((await callApi(keys, 'POST', '/key/update', { key, allowed_routes: null }, adminCtx)).status).toBe(200);
  });
});

describe('a regenerated key keeps the list (found by review: checked, it holds)', () => {
  it('the new key and the old one in its grace period are refused outside the list; narrowing the new key narrows both', async () => {
    const made = await callApi(keys, 'POST', '/key/generate', { user_id: 'ana', allowed_routes: ['llm', '/key/info'] });
    const old = made.body.key as string;
    const again = await callApi(keys, 'POST', '/key/regenerate', { key: old, grace_period: '1h' }, userCtx('ana'));
    expect(again.status).toBe(200);
    const fresh = again.body.key as string;
    expect(again.body.allowed_routes).toEqual(['llm', '/key/info']);
    for (const key of [fresh, old]) {
      expect((await authorize(at('POST', '/v1/chat/completions', key))).effect).toBe('allow');
      const denied = await authorize(at('GET', '/key/list', key));
      expect(denied.effect === 'deny' && JSON.parse(denied.body).error.code).toBe('key_route_not_allowed');
    }
    expect((await callApi(keys, 'POST', '/key/update', { key: fresh, allowed_routes: ['/key/info'] }, userCtx('ana'))).status).toBe(200);
    for (const key of [fresh, old]) {
      const denied = await authorize(at('POST', '/v1/chat/completions', key));
      expect(denied.effect === 'deny' && JSON.parse(denied.body).error.code).toBe('key_route_not_allowed');
    }
  });
});

describe('a list that cannot be read is a 400 naming the entry, and nothing is written', () => {
  it.each<[unknown, string, string]>([
    [['/v1/chat/completions', '/v1/nope'], 'allowed_routes.1', 'covers no route'],
    [['chat/completions'], 'allowed_routes.0', 'must be a route group'],
    [['sk-abcdef0123456789abcdef'], 'allowed_routes.0', 'must be a route group'],
    [[''], 'allowed_routes.0', 'must be 1 to 200 characters'],
    [[7], 'allowed_routes.0', ''],
    ['/v1/chat/completions', 'allowed_routes', ''],
    [Array.from({ length: 101 }, () => 'llm'), 'allowed_routes', ''],
  ])('%j', async (allowed_routes, param, message) => {
    const before = (await callApi(keys, 'GET', '/key/list', { user_id: 'ana' })).body.keys.length;
    const res = await callApi(keys, 'POST', '/key/generate', { user_id: 'ana', allowed_routes });
    expect(res.status).toBe(400);
    expect(res.body.error.param).toBe(param);
    expect(res.body.error.message).toContain(message);
    expect(JSON.stringify(res.body)).not.toContain('sk-abcdef');
    expect((await callApi(keys, 'GET', '/key/list', { user_id: 'ana' })).body.keys.length).toBe(before);
  });
});
