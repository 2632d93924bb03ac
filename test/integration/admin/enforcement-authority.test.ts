/**
 * Enforcement is a limit (docs: authority only tightens budgets, models, expiry, enforcement, rate
 * limits), and the proxy's default (TOLLGATE_ENFORCEMENT) is a proxy admin's: a request is fast
 * when its key says `fast` and nothing beside it says `strict` (lib/domain/enforcement). Found by
 * review: with the proxy running strict, an internal user or a team admin could generate or set a
 * key `fast` and spend past every budget in its chain by calling concurrently. Only a proxy admin
 * sets a key `fast` while the proxy runs strict; `strict`, and back to the default, stay everyone's.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { handler as keys } from '../../../functions/keys/handler.js';
import type { Config } from '../../../lib/config.js';
import { adminCtx, callApi, userCtx } from '../../support/admin.js';
import { expectUnchanged } from '../../support/admin-checks.js';
import { seedKey, seedMember, seedTeam, seedUser } from '../../support/seed.js';
import { reconfigure, useTestTable } from '../../support/table.js';

let config: Config;

beforeAll(async () => {
  config = (await useTestTable({ TOLLGATE_ENFORCEMENT: 'strict' })).config;
  await seedUser({ user_id: 'u-own' });
  await seedUser({ user_id: 'u-tadmin' });
  await seedTeam({ team_id: 't-enf' });
  await seedMember({ team_id: 't-enf', user_id: 'u-own', role: 'user' });
  await seedMember({ team_id: 't-enf', user_id: 'u-tadmin', role: 'admin' });
});

describe('the proxy runs strict: a key is set fast only by a proxy admin', () => {
  it('/key/generate with enforcement fast: 403 for its owner and for a team admin, nothing written', async () => {
    for (const [input, caller] of [
      [{ enforcement: 'fast' }, userCtx('u-own')],
      [{ enforcement: 'fast', team_id: 't-enf' }, userCtx('u-own')],
      [{ enforcement: 'fast', team_id: 't-enf', user_id: null }, userCtx('u-tadmin')],
    ] as const)
      await expectUnchanged(async () => {
        const res = await callApi(keys, 'POST', '/key/generate', input, caller);
        expect([res.status, res.body.error?.code]).toEqual([403, 'forbidden']);
        expect(res.body.error.message).toContain('strict');
      });
  });

  it('/key/update to fast: 403 for the owner of a key it made and for a team admin of a member’s key; the key unchanged', async () => {
    const own = await seedKey({ user_id: 'u-own', limits_set_by: 'owner' });
    const member = await seedKey({ user_id: 'u-own', team_id: 't-enf', limits_set_by: 'owner' });
    for (const [key, caller] of [
      [own.key, userCtx('u-own')],
      [member.key, userCtx('u-tadmin')],
    ] as const)
      await expectUnchanged(async () => {
        const res = await callApi(keys, 'POST', '/key/update', { key, enforcement: 'fast' }, caller);
        expect([res.status, res.body.error?.code]).toEqual([403, 'forbidden']);
      });
  });

  it('strict and the default (null) stay everyone’s; a proxy admin may set fast', async () => {
    const made = await callApi(keys, 'POST', '/key/generate', { enforcement: 'strict' }, userCtx('u-own'));
    expect(made.status).toBe(200);
    expect((await callApi(keys, 'POST', '/key/update', { key: made.body.key, enforcement: null }, userCtx('u-own'))).status).toBe(200);
    const fast = await callApi(keys, 'POST', '/key/generate', { user_id: 'u-own', enforcement: 'fast' }, adminCtx);
    expect([fast.status, fast.body.enforcement]).toEqual([200, 'fast']);
  });
});

describe('the proxy runs fast: fast is its default, and anyone may name it', () => {
  it('an owner generates a key fast', async () => {
    reconfigure(config, { TOLLGATE_ENFORCEMENT: 'fast' });
    const res = await callApi(keys, 'POST', '/key/generate', { enforcement: 'fast' }, userCtx('u-own'));
    expect([res.status, res.body.enforcement]).toEqual([200, 'fast']);
  });
});
