/**
 * Whatever a caller may not see answers exactly like what does not exist (issue 10, item 3):
 * every route that names a key, by plaintext, hash or alias, gives somebody else's key the same
 * 404 as a missing one, and changes nothing.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { handler as keys } from '../../../functions/keys/handler.js';
import { handler as teams } from '../../../functions/teams/handler.js';
import { handler as users } from '../../../functions/users/handler.js';
import { adminCtx, callApi, userCtx } from '../../support/admin.js';
import { useTestTable } from '../../support/table.js';

let carol: { key: string; token: string };
const mallory = userCtx('mallory');

beforeAll(async () => {
  await useTestTable();
  for (const user_id of ['carol', 'mallory']) await callApi(users, 'POST', '/user/new', { user_id });
  await callApi(teams, 'POST', '/team/new', { team_id: 't2', members_with_roles: [{ user_id: 'carol' }] });
  const made = await callApi(keys, 'POST', '/key/generate', { team_id: 't2', user_id: 'carol', key_alias: 'carol-t2' }, adminCtx);
  carol = { key: made.body.key, token: made.body.token };
});

/** The answer with the name it gives replaced, to compare a hidden key's answer with a missing one's. */
const shape = (a: { status: number; body: { error?: { message: string } } }, name: string) => ({
  status: a.status,
  body: JSON.parse(JSON.stringify(a.body).replaceAll(name, '<name>')),
});

const MISSING_HASH = 'f'.repeat(64);
const MISSING_KEY = `sk-${'x'.repeat(43)}`;

type Call = [what: string, method: string, path: string, input: (ref: string) => Record<string, unknown>];
const CALLS: Call[] = [
  ['info', 'GET', '/key/info', (key) => ({ key })],
  ['update', 'POST', '/key/update', (key) => ({ key, max_budget: 1 })],
  ['delete', 'POST', '/key/delete', (key) => ({ keys: [key] })],
  ['block', 'POST', '/key/block', (key) => ({ key })],
  ['unblock', 'POST', '/key/unblock', (key) => ({ key })],
  ['regenerate', 'POST', '/key/regenerate', (key) => ({ key })],
];

describe("another user's key answers like a key that does not exist", () => {
  for (const [what, method, path, input] of CALLS) {
    it(`${what}, by hash and by plaintext: 404 key_not_found, the same as a missing key`, async () => {
      const hidden = await callApi(keys, method, path, input(carol.token), mallory);
      const missing = await callApi(keys, method, path, input(MISSING_HASH), mallory);
      expect(hidden.status).toBe(404);
      expect(shape(hidden, carol.token)).toEqual(shape(missing, MISSING_HASH));
      const byPlaintext = await callApi(keys, method, path, input(carol.key), mallory);
      const missingPlaintext = await callApi(keys, method, path, input(MISSING_KEY), mallory);
      expect(byPlaintext.body.error.message).not.toContain(carol.key);
      expect(byPlaintext.body.error.code).toBe('key_not_found');
      expect(byPlaintext.status).toBe(missingPlaintext.status);
    });
  }

  it('delete by alias: an alias of somebody else answers like an alias nobody has, naming only the alias', async () => {
    const hidden = await callApi(keys, 'POST', '/key/delete', { key_aliases: ['carol-t2'] }, mallory);
    const missing = await callApi(keys, 'POST', '/key/delete', { key_aliases: ['nobody-has-this'] }, mallory);
    expect(shape(hidden, 'carol-t2')).toEqual(shape(missing, 'nobody-has-this'));
    expect(hidden.body.error).toEqual({
      message: 'key `carol-t2` does not exist',
      type: 'not_found_error',
      param: null,
      code: 'key_not_found',
    });
    expect(JSON.stringify(hidden.body)).not.toMatch(/sk-\.\.\.|team/);
  });

  it('nothing changed: carol’s key is still there, unblocked, with its budget', async () => {
    const info = await callApi(keys, 'GET', '/key/info', { key: carol.token });
    expect(info.status).toBe(200);
    expect(info.body.info).toMatchObject({ token: carol.token, blocked: false, max_budget: null });
  });
});
