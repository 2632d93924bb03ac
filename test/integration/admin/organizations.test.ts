import { DeleteCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { beforeAll, describe, expect, it } from 'vitest';
import { handler as audit } from '../../../functions/audit/handler.js';
import { handler as keys } from '../../../functions/keys/handler.js';
import { handler as orgs } from '../../../functions/organizations/handler.js';
import { organizationActions } from '../../../lib/admin/actions/organizations.js';
import { documentClient } from '../../../lib/app/index.js';
import type { ModelRecord } from '../../../lib/domain/records.js';
import { tableName } from '../../../lib/store/client.js';
import { encode } from '../../../lib/store/codec.js';
import { refs } from '../../../lib/store/keys.js';
import { adminCtx, callApi, invokeDirect, userCtx } from '../../support/admin.js';
import { expectRefused, expectSampleEvents, scanTable } from '../../support/refusals.js';
import { put, seedKey, seedOrg, seedTeam, seedUser } from '../../support/seed.js';
import { useTestTable } from '../../support/table.js';

const getItem = async (PK: string, SK: string) => (await scanTable()).find((i) => i.PK === PK && i.SK === SK);
const removeItem = (ref: { PK: string; SK: string }) => documentClient().send(new DeleteCommand({ TableName: tableName(), Key: ref }));

describe('organizations', () => {
  beforeAll(async () => {
    await useTestTable();
  });

  describe('new', () => {
    it('creates an organization through the API, with LiteLLM fields and a budget view', async () => {
      const res = await callApi(orgs, 'POST', '/organization/new', {
        organization_id: 'o-api',
        organization_alias: 'Research',
        models: ['gpt-4o'],
        max_budget: 100,
        budget_duration: '1mo',
        metadata: { cost_center: 'R-17' },
        enforcement: 'strict',
      });
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({
        organization_id: 'o-api',
        organization_alias: 'Research',
        models: ['gpt-4o'],
        max_budget: 100,
        budget_duration: '1mo',
        metadata: { cost_center: 'R-17' },
        enforcement: 'strict',
        spend: 0,
        total_spend: 0,
        budget_reset_at: expect.any(String),
      });
      expect(await getItem('ORG#o-api', 'ORG')).toMatchObject({ kind: 'org', GSI1PK: 'ORG', GSI1SK: 'o-api', max_budget: 100 });
    });

    it('generates an id when none is given (direct invocation)', async () => {
      const res = await invokeDirect(orgs, { action: 'new', organization_alias: 'Generated' });
      expect(res.organization_id).toMatch(/^[0-9a-f-]{36}$/);
      expect(await getItem(`ORG#${res.organization_id}`, 'ORG')).toMatchObject({ organization_alias: 'Generated' });
    });

    it('writes an audit item with the changed fields', async () => {
      await callApi(orgs, 'POST', '/organization/new', { organization_id: 'o-audited', max_budget: 7 });
      const log = await callApi(audit, 'GET', '/audit', { entity_type: 'organization', entity_id: 'o-audited' });
      expect(log.body.data).toEqual([
        expect.objectContaining({ action: 'organization.new', actor: 'master_key', changes: { max_budget: 7 } }),
      ]);
    });

    it('refuses a duplicate id with 409 and changes nothing', async () => {
      await expectRefused(orgs, {
        route: 'POST /organization/new',
        action: 'new',
        input: { organization_id: 'o-api', max_budget: 1 },
        status: 409,
        code: 'organization_exists',
        param: 'organization_id',
      });
    });
  });

  describe('update', () => {
    beforeAll(async () => {
      await seedOrg({ organization_id: 'o-upd', max_budget: 10, models: ['gpt-4o'] });
    });

    it('updates through POST and PATCH and by direct invocation, keeping fields not named', async () => {
      const post = await callApi(orgs, 'POST', '/organization/update', { organization_id: 'o-upd', organization_alias: 'Renamed' });
      expect(post.status).toBe(200);
      expect(post.body).toMatchObject({ organization_alias: 'Renamed', max_budget: 10, models: ['gpt-4o'] });
      const patch = await callApi(orgs, 'PATCH', '/organization/update', { organization_id: 'o-upd', max_budget: 20 });
      expect(patch.body).toMatchObject({ organization_alias: 'Renamed', max_budget: 20 });
      const direct = await invokeDirect(orgs, { action: 'update', organization_id: 'o-upd', max_budget: null, budget_duration: '7d' });
      expect(direct).toMatchObject({ max_budget: null, budget_duration: '7d', organization_alias: 'Renamed' });
    });

    it('keeps spend written meanwhile (fields are set, the item is not rewritten)', async () => {
      // As the llm function records spend: an atomic ADD on the item.
      await documentClient().send(
        new UpdateCommand({
          TableName: tableName(),
          Key: refs.org('o-upd'),
          UpdateExpression: 'ADD spend :s',
          ExpressionAttributeValues: { ':s': 3.5 },
        }),
      );
      const res = await callApi(orgs, 'POST', '/organization/update', { organization_id: 'o-upd', organization_alias: 'Again' });
      expect(res.body.total_spend).toBe(3.5);
    });

    it('refuses a missing organization with 404 and an empty update with 400', async () => {
      await expectRefused(orgs, {
        route: 'POST /organization/update',
        action: 'update',
        input: { organization_id: 'o-nope', max_budget: 1 },
        status: 404,
        code: 'organization_not_found',
      });
      await expectRefused(orgs, {
        route: 'POST /organization/update',
        action: 'update',
        input: { organization_id: 'o-upd' },
        status: 400,
        code: 'nothing_to_update',
      });
    });
  });

  describe('hierarchy: an organization narrows without editing its teams (issue 10, item 5)', () => {
    beforeAll(async () => {
      await seedOrg({ organization_id: 'o-h', max_budget: 100, models: ['gpt-4o', 'gpt-4o-mini', 'beta-models'] });
      await seedTeam({ team_id: 't-h1', organization_id: 'o-h', max_budget: 80, models: ['gpt-4o'] });
      await seedTeam({ team_id: 't-h2', organization_id: 'o-h', models: [] });
      await seedTeam({ team_id: 't-h3', organization_id: 'o-h', models: ['beta-models'] });
      // The registry's access group `beta-models` holds one model.
      const m: ModelRecord = {
        model_name: 'o1-preview',
        upstream_base_url: 'http://127.0.0.1:1/v1',
        upstream_model: 'o1',
        input_cost_per_million: 1,
        output_cost_per_million: 1,
        access_groups: ['beta-models'],
        created_at: new Date().toISOString(),
      };
      await put(encode.model(m));
    });

    it('max_budget below a team max_budget is allowed: every request checks both budgets', async () => {
      const res = await callApi(orgs, 'POST', '/organization/update', { organization_id: 'o-h', max_budget: 50 });
      expect([res.status, res.body.max_budget]).toEqual([200, 50]);
      expect((await callApi(orgs, 'POST', '/organization/update', { organization_id: 'o-h', max_budget: null })).status).toBe(200);
    });

    it('models that drop a team model are allowed: the team keeps only what both allow', async () => {
      const res = await callApi(orgs, 'PATCH', '/organization/update', { organization_id: 'o-h', models: ['gpt-4o-mini', 'beta-models'] });
      expect([res.status, res.body.models]).toEqual([200, ['gpt-4o-mini', 'beta-models']]);
      const { key } = await seedKey({ team_id: 't-h1', organization_id: 'o-h' });
      expect((await callApi(keys, 'GET', '/key/info', { key })).body.info.effective_models).toEqual([]);
      const { key: other } = await seedKey({ team_id: 't-h3', organization_id: 'o-h' });
      expect((await callApi(keys, 'GET', '/key/info', { key: other })).body.info.effective_models).toEqual(['beta-models']);
    });

    it('an unrestricted organization (empty list) allows every team list', async () => {
      expect((await invokeDirect(orgs, { action: 'update', organization_id: 'o-h', models: [] })).models).toEqual([]);
    });
  });

  describe('delete', () => {
    it('refuses while a team belongs to the organization, naming the team', async () => {
      await seedOrg({ organization_id: 'o-del-t' });
      await seedTeam({ team_id: 't-del', organization_id: 'o-del-t' });
      await expectRefused(orgs, {
        route: 'POST /organization/delete',
        action: 'delete',
        input: { organization_ids: ['o-del-t'] },
        status: 409,
        code: 'organization_has_teams',
        message: /`t-del`/,
      });
      await removeItem(refs.team('t-del'));
      const res = await callApi(orgs, 'DELETE', '/organization/delete', { organization_ids: ['o-del-t'] });
      expect(res).toEqual({ status: 200, body: { deleted_organization_ids: ['o-del-t'] } });
      expect(await getItem('ORG#o-del-t', 'ORG')).toBeUndefined();
    });

    it('releases its members in the same transaction', async () => {
      await seedOrg({ organization_id: 'o-del-m' });
      await seedUser({ user_id: 'u-del-m' });
      await callApi(orgs, 'POST', '/organization/member_add', { organization_id: 'o-del-m', member: { user_id: 'u-del-m' } });
      const res = await invokeDirect(orgs, { action: 'delete', organization_ids: ['o-del-m'] });
      expect(res).toEqual({ deleted_organization_ids: ['o-del-m'] });
      expect(await getItem('ORG#o-del-m', 'MEMBER#u-del-m')).toBeUndefined();
      expect((await getItem('USER#u-del-m', 'USER'))?.organization_id).toBeNull();
    });

    it('refuses the whole request when one id is missing (404), deleting none', async () => {
      await seedOrg({ organization_id: 'o-del-keep' });
      await expectRefused(orgs, {
        route: 'POST /organization/delete',
        action: 'delete',
        input: { organization_ids: ['o-del-keep', 'o-missing'] },
        status: 404,
        code: 'organization_not_found',
      });
      expect(await getItem('ORG#o-del-keep', 'ORG')).toBeDefined();
    });
  });

  describe('info', () => {
    beforeAll(async () => {
      await seedOrg({ organization_id: 'o-info', max_budget: 50, spend: 2 });
      await seedTeam({ team_id: 't-info', organization_id: 'o-info', max_budget: 20 });
      await seedUser({ user_id: 'u-in' });
      await seedUser({ user_id: 'u-out', organization_id: 'o-other' });
      await invokeDirect(orgs, { action: 'member_add', organization_id: 'o-info', member: [{ user_id: 'u-in', role: 'org_admin' }] });
    });

    it('shows the organization with its teams and members (GET, POST and direct alike)', async () => {
      const get = await callApi(orgs, 'GET', '/organization/info', { organization_id: 'o-info' });
      expect(get.status).toBe(200);
      expect(get.body).toMatchObject({
        organization_id: 'o-info',
        max_budget: 50,
        spend: 2,
        total_spend: 2,
        budget_reset_at: null,
        teams: [expect.objectContaining({ team_id: 't-info', max_budget: 20, spend: 0 })],
        members: [{ organization_id: 'o-info', user_id: 'u-in', user_role: 'org_admin', created_at: expect.any(String) }],
      });
      const post = await callApi(orgs, 'POST', '/organization/info', { organization_id: 'o-info' });
      const direct = await invokeDirect(orgs, { action: 'info', organization_id: 'o-info' });
      expect(post.body).toEqual(get.body);
      expect(direct).toEqual(get.body);
    });

    it('a member reads its own organization; anyone else gets 403, whether it exists or not', async () => {
      expect((await callApi(orgs, 'GET', '/organization/info', { organization_id: 'o-info' }, userCtx('u-in'))).status).toBe(200);
      for (const caller of [userCtx('u-out'), userCtx('u-unknown'), { principal: 'jwt', role: 'team', team_id: 't-info' } as const]) {
        await expectRefused(
          orgs,
          { route: 'GET /organization/info', action: 'info', input: { organization_id: 'o-info' }, status: 403, code: 'forbidden' },
          { caller, apiOnly: true },
        );
        await expectRefused(
          orgs,
          { route: 'GET /organization/info', action: 'info', input: { organization_id: 'o-ghost' }, status: 403, code: 'forbidden' },
          { caller, apiOnly: true },
        );
      }
    });

    it('404 for an admin asking about a missing organization', async () => {
      await expectRefused(orgs, {
        route: 'GET /organization/info',
        action: 'info',
        input: { organization_id: 'o-ghost' },
        status: 404,
        code: 'organization_not_found',
      });
    });
  });

  describe('list', () => {
    it('pages through every organization with a cursor (API and direct)', async () => {
      const all: string[] = [];
      let cursor: string | undefined;
      do {
        const page = await callApi(orgs, 'GET', '/organization/list', { limit: 2, ...(cursor ? { cursor } : {}) });
        expect(page.status).toBe(200);
        expect(page.body.data.length).toBeLessThanOrEqual(2);
        all.push(...page.body.data.map((o: { organization_id: string }) => o.organization_id));
        cursor = page.body.next_cursor ?? undefined;
      } while (cursor);
      const direct = await invokeDirect(orgs, { action: 'list', limit: 1000 });
      expect(all).toEqual(direct.data.map((o: { organization_id: string }) => o.organization_id));
      expect(all).toContain('o-api');
      expect(direct.next_cursor).toBeNull();
      expect(direct.data[0]).toHaveProperty('budget_reset_at');
    });
  });

  describe('member_add', () => {
    beforeAll(async () => {
      await seedOrg({ organization_id: 'o-m1' });
      await seedOrg({ organization_id: 'o-m2' });
      await seedUser({ user_id: 'u-m1' });
      await seedUser({ user_id: 'u-m2' });
    });

    it('sets the users organization and records their role (API: a list; direct: one member)', async () => {
      const res = await callApi(orgs, 'POST', '/organization/member_add', {
        organization_id: 'o-m1',
        member: [{ user_id: 'u-m1', role: 'org_admin' }, { user_id: 'u-m2' }],
      });
      expect(res.status).toBe(200);
      expect(res.body.updated_users).toEqual([
        { user_id: 'u-m1', organization_id: 'o-m1', previous_organization_id: null },
        { user_id: 'u-m2', organization_id: 'o-m1', previous_organization_id: null },
      ]);
      expect(res.body.updated_organization_memberships.map((m: { user_role: string }) => m.user_role)).toEqual([
        'org_admin',
        'internal_user',
      ]);
      expect((await getItem('USER#u-m1', 'USER'))?.organization_id).toBe('o-m1');
      // Re-adding changes the role and keeps the membership's creation time.
      const created = (await getItem('ORG#o-m1', 'MEMBER#u-m2'))?.created_at;
      await invokeDirect(orgs, {
        action: 'member_add',
        organization_id: 'o-m1',
        member: { user_id: 'u-m2', role: 'internal_user_viewer' },
      });
      expect(await getItem('ORG#o-m1', 'MEMBER#u-m2')).toMatchObject({ user_role: 'internal_user_viewer', created_at: created });
    });

    it('moves a user from another organization, saying so', async () => {
      const res = await invokeDirect(orgs, { action: 'member_add', organization_id: 'o-m2', member: { user_id: 'u-m1' } });
      expect(res.updated_users).toEqual([{ user_id: 'u-m1', organization_id: 'o-m2', previous_organization_id: 'o-m1' }]);
      expect(await getItem('ORG#o-m1', 'MEMBER#u-m1')).toBeUndefined();
      expect(await getItem('ORG#o-m2', 'MEMBER#u-m1')).toBeDefined();
      const log = await callApi(audit, 'GET', '/audit', { entity_type: 'user', entity_id: 'u-m1' });
      expect(log.body.data[0].changes).toEqual({
        organization_id: 'o-m2',
        organization_role: 'internal_user',
        previous_organization_id: 'o-m1',
      });
    });

    it('404 for a missing user or organization; nothing is written', async () => {
      await expectRefused(orgs, {
        route: 'POST /organization/member_add',
        action: 'member_add',
        input: { organization_id: 'o-m1', member: [{ user_id: 'u-m2' }, { user_id: 'u-ghost' }] },
        status: 404,
        code: 'user_not_found',
      });
      await expectRefused(orgs, {
        route: 'POST /organization/member_add',
        action: 'member_add',
        input: { organization_id: 'o-ghost', member: { user_id: 'u-m2' } },
        status: 404,
        code: 'organization_not_found',
      });
    });

    it('a user listed twice is a 400', async () => {
      await expectRefused(orgs, {
        route: 'POST /organization/member_add',
        action: 'member_add',
        input: { organization_id: 'o-m1', member: [{ user_id: 'u-m2' }, { user_id: 'u-m2' }] },
        status: 400,
        code: 'duplicate_member',
        param: 'member',
      });
    });
  });

  describe('bad input: 400 naming the field, nothing written', () => {
    const cases = [
      ['POST /organization/new', 'new', { organization_id: 'o-bad', max_budget: '10' }, 'invalid_type', 'max_budget'],
      ['POST /organization/new', 'new', { organization_id: 'o-bad', max_budget: -1 }, 'invalid_field', 'max_budget'],
      ['POST /organization/new', 'new', { organization_id: 'o-bad', budget_duration: '1 month' }, 'invalid_field', 'budget_duration'],
      ['POST /organization/new', 'new', { organization_id: 'o-bad', models: 'gpt-4o' }, 'invalid_type', 'models'],
      ['POST /organization/new', 'new', { organization_id: 'o-bad', blocked: true }, 'unknown_field', 'blocked'],
      ['POST /organization/new', 'new', { organization_id: 'o-1\t' }, 'invalid_field', 'organization_id'],
      ['POST /organization/new', 'new', { organization_id: 'o-bad', enforcement: 'lax' }, 'invalid_field', 'enforcement'],
      ['POST /organization/new', 'new', { organization_id: 'o-bad', metadata: [1] }, 'invalid_type', 'metadata'],
      ['POST /organization/update', 'update', { max_budget: 5 }, 'invalid_type', 'organization_id'],
      ['PATCH /organization/update', 'update', { organization_id: 'o-api', max_budget: -0.01 }, 'invalid_field', 'max_budget'],
      ['POST /organization/update', 'update', { organization_id: 'o-api', budget_duration: '0d' }, 'invalid_field', 'budget_duration'],
      ['POST /organization/update', 'update', { organization_id: 'o-api', team_id: 't' }, 'unknown_field', 'team_id'],
      ['POST /organization/delete', 'delete', { organization_ids: [] }, 'invalid_field', 'organization_ids'],
      ['POST /organization/delete', 'delete', { organization_ids: 'o-api' }, 'invalid_type', 'organization_ids'],
      [
        'POST /organization/delete',
        'delete',
        { organization_ids: ['o-api'], organization_id: 'o-api' },
        'unknown_field',
        'organization_id',
      ],
      ['GET /organization/info', 'info', {}, 'invalid_type', 'organization_id'],
      ['GET /organization/info', 'info', { organization_id: 'o-api', verbose: 'yes' }, 'unknown_field', 'verbose'],
      ['GET /organization/list', 'list', { limit: '0' }, 'invalid_field', 'limit'],
      ['GET /organization/list', 'list', { cursor: 'not-a-cursor' }, 'invalid_cursor', 'cursor'],
      [
        'POST /organization/member_add',
        'member_add',
        { organization_id: 'o-m1', member: { user_id: 'u-m2', role: 'owner' } },
        'invalid_field',
        'member.0.role',
      ],
      [
        'POST /organization/member_add',
        'member_add',
        { organization_id: 'o-m1', member: [{ user_id: 'u-m2' }, { user_id: 'u-m1', user_email: 'a@b' }] },
        'unknown_field',
        'member.1.user_email',
      ],
      ['POST /organization/member_add', 'member_add', { organization_id: 'o-m1' }, 'invalid_type', 'member'],
    ] as const;
    it.each(cases)('%s %j -> %s (%s)', async (route, action, input, code, param) => {
      await expectRefused(orgs, { route, action, input: { ...input }, status: 400, code, param });
    });
  });

  describe('permissions: writes and list are proxy-admin only (403, nothing written)', () => {
    beforeAll(async () => {
      await seedUser({ user_id: 'u-perm', organization_id: 'o-api' });
    });
    const cases = [
      ['POST /organization/new', 'new', { organization_id: 'o-perm' }],
      ['POST /organization/update', 'update', { organization_id: 'o-api', max_budget: 1 }],
      ['POST /organization/delete', 'delete', { organization_ids: ['o-api'] }],
      ['GET /organization/list', 'list', {}],
      ['POST /organization/member_add', 'member_add', { organization_id: 'o-api', member: { user_id: 'u-perm' } }],
    ] as const;
    it.each(cases)('%s by an internal user of the organization', async (route, action, input) => {
      await expectRefused(
        orgs,
        { route, action, input: { ...input }, status: 403, code: 'forbidden' },
        { caller: userCtx('u-perm'), apiOnly: true },
      );
    });
    it('an admin JWT and the master key pass', async () => {
      expect((await callApi(orgs, 'GET', '/organization/list', {}, { principal: 'jwt', role: 'proxy_admin' })).status).toBe(200);
      expect((await callApi(orgs, 'GET', '/organization/list', {}, adminCtx)).status).toBe(200);
    });
  });

  it('has a valid sample event for every action (functions/organizations/events)', async () => {
    await expectSampleEvents('organizations', organizationActions);
  });
});
