/**
 * LiteLLM reads per-model rate limits from an entity's metadata (`metadata.model_rpm_limit`,
 * `metadata.model_tpm_limit`, on keys, teams and organizations); Tollgate reads them only as
 * fields of their own (`model_rpm_limit` on keys and teams) and keeps metadata as free data.
 * Found by review: such a metadata entry was stored and enforced by nothing, so a limit a LiteLLM
 * client or script set there silently did not hold. It is a 400 naming it, and nothing is written.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { handler as keys } from '../../../functions/keys/handler.js';
import { handler as organizations } from '../../../functions/organizations/handler.js';
import { handler as teams } from '../../../functions/teams/handler.js';
import { handler as users } from '../../../functions/users/handler.js';
import { adminCtx, callApi, userCtx } from '../../support/admin.js';
import { expectUnchanged } from '../../support/admin-checks.js';
import { seedKey, seedMember, seedOrg, seedTeam, seedUser } from '../../support/seed.js';
import { useTestTable } from '../../support/table.js';

let ownKey: string;

beforeAll(async () => {
  await useTestTable();
  await seedUser({ user_id: 'u-meta' });
  await seedUser({ user_id: 'u-owner' });
  await seedTeam({ team_id: 't-meta' });
  await seedMember({ team_id: 't-meta', user_id: 'u-owner', role: 'admin' });
  await seedOrg({ organization_id: 'o-meta' });
  ownKey = (await seedKey({ user_id: 'u-owner' })).key;
});

const routes = () =>
  [
    [keys, '/key/generate', {}, adminCtx],
    [keys, '/key/generate', {}, userCtx('u-owner')],
    [keys, '/key/update', { key: ownKey }, userCtx('u-owner')],
    [teams, '/team/new', { team_id: 't-meta-new' }, adminCtx],
    [teams, '/team/update', { team_id: 't-meta' }, adminCtx],
    [teams, '/team/update', { team_id: 't-meta' }, userCtx('u-owner')],
    [users, '/user/new', { user_id: 'u-meta-new' }, adminCtx],
    [users, '/user/update', { user_id: 'u-meta' }, adminCtx],
    [organizations, '/organization/new', { organization_id: 'o-meta-new' }, adminCtx],
    [organizations, '/organization/update', { organization_id: 'o-meta' }, adminCtx],
  ] as const;

describe("LiteLLM's limits in metadata are refused, not stored unenforced", () => {
  for (const field of ['model_rpm_limit', 'model_tpm_limit'])
    it(`metadata.${field}: 400 naming it on every route that takes metadata`, async () => {
      for (const [handler, path, base, caller] of routes())
        await expectUnchanged(async () => {
          const res = await callApi(handler, 'POST', path, { ...base, metadata: { team: 'ml', [field]: { 'gpt-4o': 5 } } }, caller);
          expect([path, res.status, res.body.error?.param]).toEqual([path, 400, `metadata.${field}`]);
          expect(res.body.error.message).toContain(`\`${field}\``);
        });
    });

  it('other metadata, and the limits given as fields of their own, are taken', async () => {
    const res = await callApi(keys, 'POST', '/key/generate', { metadata: { team: 'ml', note: 'rpm' }, model_rpm_limit: { 'gpt-4o': 5 } });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ metadata: { team: 'ml', note: 'rpm' }, model_rpm_limit: { 'gpt-4o': 5 } });
  });
});
