/**
 * A key without `alert_thresholds` is alerted at the proxy's (TOLLGATE_ALERT_THRESHOLDS, a proxy
 * admin's setting; default 50, 80, 100). Thresholds are limits in the sense of "authority only
 * tightens" (docs/alerts.md). Found by review: a key's owner or a team admin could generate or
 * update a key with `alert_thresholds: []` (or fewer than the proxy's) and so silence the alerts
 * the platform set for every key; the comparison ran only against a list set on the key itself.
 * Less authority than a proxy admin may add thresholds to the proxy's, never drop one.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { handler as keys } from '../../../functions/keys/handler.js';
import { adminCtx, callApi, userCtx } from '../../support/admin.js';
import { expectUnchanged } from '../../support/admin-checks.js';
import { seedKey, seedMember, seedTeam, seedUser } from '../../support/seed.js';
import { useTestTable } from '../../support/table.js';

beforeAll(async () => {
  await useTestTable({ TOLLGATE_ALERT_THRESHOLDS: '50,80,100' });
  await seedUser({ user_id: 'u-own' });
  await seedUser({ user_id: 'u-tadmin' });
  await seedTeam({ team_id: 't-al' });
  await seedMember({ team_id: 't-al', user_id: 'u-own', role: 'user' });
  await seedMember({ team_id: 't-al', user_id: 'u-tadmin', role: 'admin' });
});

const dropping = [[], [100], [50, 80], [80, 100, 120]];

describe("less authority than a proxy admin never drops the proxy's alert thresholds", () => {
  it('/key/generate: 403 for its owner and for a team admin, nothing written', async () => {
    for (const thresholds of dropping)
      for (const [input, caller] of [
        [{}, userCtx('u-own')],
        [{ team_id: 't-al', user_id: null }, userCtx('u-tadmin')],
      ] as const)
        await expectUnchanged(async () => {
          const res = await callApi(keys, 'POST', '/key/generate', { ...input, alert_thresholds: thresholds }, caller);
          expect([thresholds, res.status, res.body.error?.code]).toEqual([thresholds, 403, 'forbidden']);
        });
  });

  it('/key/update of a key following the proxy’s: 403 for the owner of a key it made and for a team admin; the key unchanged', async () => {
    const own = await seedKey({ user_id: 'u-own', limits_set_by: 'owner' });
    const member = await seedKey({ user_id: 'u-own', team_id: 't-al', limits_set_by: 'owner' });
    for (const thresholds of dropping)
      for (const [key, caller] of [
        [own.key, userCtx('u-own')],
        [member.key, userCtx('u-tadmin')],
      ] as const)
        await expectUnchanged(async () => {
          const res = await callApi(keys, 'POST', '/key/update', { key, alert_thresholds: thresholds }, caller);
          expect([thresholds, res.status, res.body.error?.code]).toEqual([thresholds, 403, 'forbidden']);
        });
  });

  it('a list less authority set (a superset of the proxy’s) cannot then drop one of the proxy’s: 403 for its owner and a team admin (found by review: two steps did)', async () => {
    for (const [input, caller] of [
      [{}, userCtx('u-own')],
      [{ team_id: 't-al', user_id: null }, userCtx('u-tadmin')],
    ] as const) {
      const made = await callApi(keys, 'POST', '/key/generate', { ...input, alert_thresholds: [50, 80, 90, 100] }, caller);
      expect(made.status).toBe(200);
      for (const thresholds of dropping)
        await expectUnchanged(async () => {
          const res = await callApi(keys, 'POST', '/key/update', { key: made.body.key, alert_thresholds: thresholds }, caller);
          expect([thresholds, res.status, res.body.error?.code]).toEqual([thresholds, 403, 'forbidden']);
        });
      // Its own extra threshold may go: the proxy's stay.
      const kept = await callApi(keys, 'POST', '/key/update', { key: made.body.key, alert_thresholds: [50, 80, 100] }, caller);
      expect([kept.status, kept.body.alert_thresholds]).toEqual([200, [50, 80, 100]]);
    }
  });

  it('more thresholds, or the proxy’s again (null), are anyone’s; a proxy admin may drop them', async () => {
    const made = await callApi(keys, 'POST', '/key/generate', { alert_thresholds: [50, 80, 90, 100] }, userCtx('u-own'));
    expect(made.status).toBe(200);
    expect((await callApi(keys, 'POST', '/key/update', { key: made.body.key, alert_thresholds: null }, userCtx('u-own'))).status).toBe(200);
    const silenced = await callApi(keys, 'POST', '/key/generate', { user_id: 'u-own', alert_thresholds: [] }, adminCtx);
    expect([silenced.status, silenced.body.alert_thresholds]).toEqual([200, []]);
  });
});
