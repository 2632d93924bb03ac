/**
 * Bad input gets a clear 400 and changes nothing (found by review): fields each within their own
 * bound that together exceed what one DynamoDB item holds (400 KB) are a 400 `item_too_large`,
 * not a 503 telling the caller to retry; on every entity that holds lists and maps.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { handler as keys } from '../../../functions/keys/handler.js';
import { handler as teams } from '../../../functions/teams/handler.js';
import { handler as users } from '../../../functions/users/handler.js';
import { callApi, userCtx } from '../../support/admin.js';
import { scanTable } from '../../support/refusals.js';
import { useTestTable } from '../../support/table.js';

beforeAll(async () => {
  await useTestTable();
  await callApi(users, 'POST', '/user/new', { user_id: 'alice', auto_create_key: false });
});

const names = (p: string) => Array.from({ length: 1000 }, (_, i) => `${p}${String(i).padStart(4, '0')}`.padEnd(256, 'x'));
const caps = (p: string) => Object.fromEntries(names(p).map((m) => [m, 1]));

describe('fields each within bounds, an item too large together', () => {
  it('key/generate by an internal user: a 400 naming the problem, not a 500', async () => {
    const res = await callApi(
      keys,
      'POST',
      '/key/generate',
      { models: names('m'), model_rpm_limit: caps('r'), model_tpm_limit: caps('t') },
      userCtx('alice'),
    );
    expect([res.status, res.body.error?.code]).toEqual([400, 'item_too_large']);
  });

  it('key/update: a 400, and the key unchanged', async () => {
    const made = await callApi(keys, 'POST', '/key/generate', {}, userCtx('alice'));
    const res = await callApi(
      keys,
      'POST',
      '/key/update',
      { key: made.body.key, models: names('m'), model_rpm_limit: caps('r'), model_tpm_limit: caps('t') },
      userCtx('alice'),
    );
    expect([res.status, res.body.error?.code]).toEqual([400, 'item_too_large']);
    expect((await callApi(keys, 'GET', '/key/info', { key: made.body.key })).body.info.models).toEqual([]);
  });
});

// Organizations and users hold no per-model maps: their largest lists fit.
describe('a team too', () => {
  const big = { models: names('m'), model_rpm_limit: caps('r'), model_tpm_limit: caps('t') };
  it.each([['/team/new', teams, { team_id: 't-big', ...big }]])('%s: 400 item_too_large, nothing written', async (path, handler, body) => {
    const before = await scanTable();
    const res = await callApi(handler, 'POST', path, body);
    expect([res.status, res.body.error?.code]).toEqual([400, 'item_too_large']);
    expect(await scanTable()).toEqual(before);
  });
});
