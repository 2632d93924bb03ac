import { beforeAll, describe, expect, it } from 'vitest';
import { handler as audit } from '../../../functions/audit/handler.js';
import { handler as budgets } from '../../../functions/budgets/handler.js';
import { handler as customers } from '../../../functions/customers/handler.js';
import { customerActions } from '../../../lib/admin/actions/customers.js';
import { configureApp, entityReader } from '../../../lib/app/index.js';
import { type CheckInput, checkEndUserBlocked } from '../../../lib/checks/index.js';
import type { EntityReader } from '../../../lib/store/index.js';
import { adminCtx, callApi, invokeDirect, userCtx } from '../../support/admin.js';
import { expectRefused, expectSampleEvents, scanTable } from '../../support/refusals.js';
import { seedEndUser } from '../../support/seed.js';
import { useTestTable } from '../../support/table.js';

const getItem = async (PK: string, SK: string) => (await scanTable()).find((i) => i.PK === PK && i.SK === SK);
const budgetCount = async (id: string) => (await getItem(`BUDGET#${id}`, 'BUDGET'))?.end_user_count as number;

// Every action answers under /customer/... and LiteLLM's /end_user/... alias alike.
const BASES = ['/customer', '/end_user'] as const;

describe('customers (end users)', () => {
  beforeAll(async () => {
    await useTestTable({ TOLLGATE_CACHE_TTL_SECONDS: '1' });
    await invokeDirect(budgets, { action: 'new', budget_id: 'b-1', max_budget: 5 });
    await invokeDirect(budgets, { action: 'new', budget_id: 'b-2', max_budget: 9 });
  });

  describe('new', () => {
    it.each(BASES)('creates an end user through %s/new with every field', async (base) => {
      const id = `c-new${base.replace('/', '-')}`;
      const res = await callApi(customers, 'POST', `${base}/new`, {
        user_id: id,
        alias: 'Acme',
        blocked: false,
        max_budget: 3,
        budget_duration: '30d',
      });
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({
        user_id: id,
        alias: 'Acme',
        blocked: false,
        max_budget: 3,
        budget_duration: '30d',
        spend: 0,
        budget_reset_at: expect.any(String),
      });
      expect(await getItem(`END_USER#${id}`, 'END_USER')).toMatchObject({ kind: 'end_user', GSI1PK: 'END_USER', GSI1SK: id });
    });

    it('links a reusable budget (direct invocation) and counts the end user on it', async () => {
      const res = await invokeDirect(customers, { action: 'new', user_id: 'c-b', budget_id: 'b-1' });
      expect(res).toMatchObject({ user_id: 'c-b', budget_id: 'b-1', spend: 0 });
      expect(await budgetCount('b-1')).toBe(1);
      const log = await callApi(audit, 'GET', '/audit', { entity_type: 'end_user', entity_id: 'c-b' });
      expect(log.body.data).toEqual([expect.objectContaining({ action: 'end_user.new', changes: { budget_id: 'b-1' } })]);
    });

    it('404 for a budget that does not exist, 409 for a duplicate; nothing written', async () => {
      for (const base of BASES) {
        await expectRefused(customers, {
          route: `POST ${base}/new`,
          action: 'new',
          input: { user_id: 'c-x', budget_id: 'b-ghost' },
          status: 404,
          code: 'budget_not_found',
        });
        await expectRefused(customers, {
          route: `POST ${base}/new`,
          action: 'new',
          input: { user_id: 'c-b', budget_id: 'b-1' },
          status: 409,
          code: 'end_user_exists',
          param: 'user_id',
        });
      }
    });
  });

  describe('update', () => {
    beforeAll(async () => {
      await invokeDirect(customers, { action: 'new', user_id: 'c-u', budget_id: 'b-1', alias: 'before' });
    });

    it.each(BASES)('sets only the fields named (%s/update)', async (base) => {
      const res = await callApi(customers, 'POST', `${base}/update`, { user_id: 'c-u', alias: `via ${base}` });
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ user_id: 'c-u', alias: `via ${base}`, budget_id: 'b-1' });
    });

    it('moving to another budget moves the counts; null unlinks', async () => {
      const before = await budgetCount('b-1');
      await invokeDirect(customers, { action: 'update', user_id: 'c-u', budget_id: 'b-2' });
      expect(await budgetCount('b-1')).toBe(before - 1);
      expect(await budgetCount('b-2')).toBe(1);
      const res = await callApi(customers, 'POST', '/customer/update', { user_id: 'c-u', budget_id: null, max_budget: 1 });
      expect(res.body).toMatchObject({ budget_id: null, max_budget: 1 });
      expect(await budgetCount('b-2')).toBe(0);
    });

    it('404 for a missing end user or budget, 400 for nothing to update; nothing written', async () => {
      await expectRefused(customers, {
        route: 'POST /customer/update',
        action: 'update',
        input: { user_id: 'c-ghost', alias: 'x' },
        status: 404,
        code: 'end_user_not_found',
      });
      await expectRefused(customers, {
        route: 'POST /end_user/update',
        action: 'update',
        input: { user_id: 'c-u', budget_id: 'b-ghost' },
        status: 404,
        code: 'budget_not_found',
      });
      await expectRefused(customers, {
        route: 'POST /customer/update',
        action: 'update',
        input: { user_id: 'c-u' },
        status: 400,
        code: 'nothing_to_update',
      });
    });
  });

  describe('delete', () => {
    it.each(BASES)('deletes end users and releases their budget (%s/delete)', async (base) => {
      const id = `c-del${base.replace('/', '-')}`;
      await invokeDirect(customers, { action: 'new', user_id: id, budget_id: 'b-2' });
      const before = await budgetCount('b-2');
      const res = await callApi(customers, 'POST', `${base}/delete`, { user_ids: [id] });
      // LiteLLM's `deleted_customers` is the count; the ids come beside it.
      expect(res).toEqual({ status: 200, body: { deleted_customers: 1, deleted_user_ids: [id] } });
      expect(await getItem(`END_USER#${id}`, 'END_USER')).toBeUndefined();
      expect(await budgetCount('b-2')).toBe(before - 1);
    });

    it('deletes several at once by direct invocation', async () => {
      await seedEndUser({ user_id: 'c-d1' });
      await seedEndUser({ user_id: 'c-d2' });
      expect(await invokeDirect(customers, { action: 'delete', user_ids: ['c-d1', 'c-d2'] })).toEqual({
        deleted_customers: 2,
        deleted_user_ids: ['c-d1', 'c-d2'],
      });
    });

    it('refuses the whole request when one is missing (404), deleting none', async () => {
      await seedEndUser({ user_id: 'c-keep' });
      await expectRefused(customers, {
        route: 'POST /customer/delete',
        action: 'delete',
        input: { user_ids: ['c-keep', 'c-ghost'] },
        status: 404,
        code: 'end_user_not_found',
      });
    });
  });

  describe('info', () => {
    beforeAll(async () => {
      await invokeDirect(customers, { action: 'new', user_id: 'c-info', budget_id: 'b-1', budget_duration: '1d' });
    });

    it.each(BASES)('GET %s/info?end_user_id= (LiteLLM) or ?user_id= shows the end user and its budget', async (base) => {
      const a = await callApi(customers, 'GET', `${base}/info`, { end_user_id: 'c-info' });
      expect(a.status).toBe(200);
      expect(a.body).toMatchObject({
        user_id: 'c-info',
        spend: 0,
        total_spend: 0,
        budget_reset_at: expect.any(String),
        litellm_budget_table: { budget_id: 'b-1', max_budget: 5 },
      });
      expect((await callApi(customers, 'GET', `${base}/info`, { user_id: 'c-info' })).body).toEqual(a.body);
      expect(await invokeDirect(customers, { action: 'info', end_user_id: 'c-info' })).toEqual(a.body);
    });

    it('404 when missing; 400 without an id or with two different ids', async () => {
      await expectRefused(customers, {
        route: 'GET /customer/info',
        action: 'info',
        input: { end_user_id: 'c-ghost' },
        status: 404,
        code: 'end_user_not_found',
      });
      await expectRefused(customers, {
        route: 'GET /end_user/info',
        action: 'info',
        input: {},
        status: 400,
        code: 'missing_field',
        param: 'end_user_id',
      });
      await expectRefused(customers, {
        route: 'GET /customer/info',
        action: 'info',
        input: { end_user_id: 'c-info', user_id: 'c-u' },
        status: 400,
        code: 'invalid_field',
        param: 'user_id',
      });
    });
  });

  describe('list', () => {
    it.each(BASES)('pages with a cursor (%s/list) and agrees with direct invocation', async (base) => {
      const seen: string[] = [];
      let cursor: string | undefined;
      do {
        const page = await callApi(customers, 'GET', `${base}/list`, { limit: 3, ...(cursor ? { cursor } : {}) });
        expect(page.status).toBe(200);
        seen.push(...page.body.data.map((e: { user_id: string }) => e.user_id));
        cursor = page.body.next_cursor ?? undefined;
      } while (cursor);
      const direct = await invokeDirect(customers, { action: 'list' });
      expect(seen).toEqual(direct.data.map((e: { user_id: string }) => e.user_id));
      expect(seen.length).toBeGreaterThan(3);
    });
  });

  describe('block and unblock', () => {
    it.each(BASES)('block sets blocked; unblock clears it (%s)', async (base) => {
      const id = `c-blk${base.replace('/', '-')}`;
      await seedEndUser({ user_id: id, alias: 'kept' });
      expect(await callApi(customers, 'POST', `${base}/block`, { user_ids: [id] })).toEqual({ status: 200, body: { blocked_users: [id] } });
      expect(await getItem(`END_USER#${id}`, 'END_USER')).toMatchObject({ blocked: true, alias: 'kept' });
      expect(await callApi(customers, 'POST', `${base}/unblock`, { user_ids: [id] })).toEqual({
        status: 200,
        body: { unblocked_users: [id] },
      });
      expect(await getItem(`END_USER#${id}`, 'END_USER')).toMatchObject({ blocked: false });
    });

    it('blocking an unknown end user creates it, blocked, in the codec shape (LiteLLM does the same)', async () => {
      expect(await invokeDirect(customers, { action: 'block', user_ids: ['c-abuser'] })).toEqual({ blocked_users: ['c-abuser'] });
      const info = await invokeDirect(customers, { action: 'info', end_user_id: 'c-abuser' });
      expect(info).toMatchObject({ user_id: 'c-abuser', blocked: true, spend: 0 });
      expect(await getItem('END_USER#c-abuser', 'END_USER')).toMatchObject({ kind: 'end_user', GSI1PK: 'END_USER', GSI1SK: 'c-abuser' });
      const log = await callApi(audit, 'GET', '/audit', { entity_type: 'end_user', entity_id: 'c-abuser' });
      expect(log.body.data[0].changes).toEqual({ blocked: true, created: true });
    });

    it('unblocking an unknown end user is a 404; nothing written', async () => {
      await expectRefused(customers, {
        route: 'POST /customer/unblock',
        action: 'unblock',
        input: { user_ids: ['c-abuser', 'c-ghost'] },
        status: 404,
        code: 'end_user_not_found',
      });
    });

    it('the authorizer side sees a block after the cache TTL, not before', async () => {
      await seedEndUser({ user_id: 'c-ttl' });
      const denial = (reader: EntityReader) => async () =>
        checkEndUserBlocked({
          caller: { principal: 'jwt', role: 'internal_user', endUserId: 'c-ttl', state: await reader.state({ endUserId: 'c-ttl' }) },
        } as CheckInput)?.code;
      // An instance that has read the end user before the block...
      const warm = entityReader();
      const readAt = Date.now();
      expect(await denial(warm)()).toBeUndefined();
      // ...while the admin function runs in another instance (its own cache).
      configureApp({ entityReader: undefined });
      await callApi(customers, 'POST', '/customer/block', { user_ids: ['c-ttl'] });
      expect(await denial(entityReader())()).toBe('end_user_blocked');
      // The warm instance keeps its copy until the TTL (1 s) runs out, then sees the block.
      expect(await denial(warm)()).toBeUndefined();
      expect(Date.now() - readAt).toBeLessThan(1000);
      await new Promise((r) => setTimeout(r, 1100 - (Date.now() - readAt)));
      expect(await denial(warm)()).toBe('end_user_blocked');
    });
  });

  describe('bad input: 400 naming the field, nothing written', () => {
    const cases = [
      ['POST /customer/new', 'new', { user_id: 'c-bad', max_budget: -1 }, 'invalid_field', 'max_budget'],
      ['POST /customer/new', 'new', { user_id: 'c-bad', max_budget: '5' }, 'invalid_type', 'max_budget'],
      ['POST /end_user/new', 'new', { user_id: 'c-bad', budget_duration: 'monthly' }, 'invalid_field', 'budget_duration'],
      ['POST /customer/new', 'new', { user_id: 'c-bad', blocked: 'yes' }, 'invalid_type', 'blocked'],
      // No region routing here: LiteLLM's allowed_model_region would be stored and ignored, so it is refused.
      ['POST /customer/new', 'new', { user_id: 'c-bad', allowed_model_region: 'eu' }, 'unknown_field', 'allowed_model_region'],
      ['POST /customer/update', 'update', { user_id: 'c-u', allowed_model_region: 'us' }, 'unknown_field', 'allowed_model_region'],
      ['POST /customer/new', 'new', { user_id: 'c-bad', default_model: 'gpt-4o' }, 'unknown_field', 'default_model'],
      // The mode is the key's, team's or organization's (lib/domain/enforcement): on an end user it would change nothing.
      ['POST /customer/new', 'new', { user_id: 'c-bad', enforcement: 'strict' }, 'unknown_field', 'enforcement'],
      ['POST /end_user/update', 'update', { user_id: 'c-u', enforcement: 'strict' }, 'unknown_field', 'enforcement'],
      ['POST /customer/new', 'new', { alias: 'no id' }, 'invalid_type', 'user_id'],
      ['POST /customer/new', 'new', { user_id: 'has space ' }, 'invalid_field', 'user_id'],
      ['POST /customer/update', 'update', { user_id: 'c-u', max_budget: -5 }, 'invalid_field', 'max_budget'],
      ['POST /end_user/update', 'update', { user_id: 'c-u', budget_duration: '-1d' }, 'invalid_field', 'budget_duration'],
      ['POST /customer/update', 'update', { user_id: 'c-u', spend: 3 }, 'unknown_field', 'spend'],
      ['POST /customer/delete', 'delete', { user_ids: [] }, 'invalid_field', 'user_ids'],
      ['POST /end_user/delete', 'delete', { user_ids: [7] }, 'invalid_type', 'user_ids.0'],
      ['GET /customer/info', 'info', { end_user_id: 'c-info', extra: '1' }, 'unknown_field', 'extra'],
      ['GET /customer/list', 'list', { limit: 'many' }, 'invalid_type', 'limit'],
      ['GET /end_user/list', 'list', { cursor: '!!' }, 'invalid_cursor', 'cursor'],
      ['POST /customer/block', 'block', { user_ids: 'c-u' }, 'invalid_type', 'user_ids'],
      ['POST /end_user/block', 'block', { user_ids: ['c-u'], reason: 'x' }, 'unknown_field', 'reason'],
      ['POST /customer/unblock', 'unblock', {}, 'invalid_type', 'user_ids'],
    ] as const;
    it.each(cases)('%s %j -> %s (%s)', async (route, action, input, code, param) => {
      await expectRefused(customers, { route, action, input: { ...input }, status: 400, code, param });
    });
  });

  describe('permissions: every route is proxy-admin only, reads included (403, nothing written)', () => {
    const cases = [
      ['POST /customer/new', 'new', { user_id: 'c-perm' }],
      ['POST /customer/update', 'update', { user_id: 'c-u', alias: 'x' }],
      ['POST /customer/delete', 'delete', { user_ids: ['c-u'] }],
      ['GET /customer/info', 'info', { end_user_id: 'c-u' }],
      ['GET /end_user/info', 'info', { end_user_id: 'c-u' }],
      ['GET /customer/list', 'list', {}],
      ['POST /customer/block', 'block', { user_ids: ['c-u'] }],
      ['POST /end_user/unblock', 'unblock', { user_ids: ['c-u'] }],
    ] as const;
    it.each(cases)('%s refused to an internal user and a team JWT', async (route, action, input) => {
      for (const caller of [userCtx('u-1'), { principal: 'jwt', role: 'team', team_id: 't-1' } as const]) {
        await expectRefused(customers, { route, action, input: { ...input }, status: 403, code: 'forbidden' }, { caller, apiOnly: true });
      }
    });
    it('the master key passes', async () => {
      expect((await callApi(customers, 'GET', '/customer/info', { end_user_id: 'c-u' }, adminCtx)).status).toBe(200);
    });
  });

  it('has a valid sample event for every action (functions/customers/events)', async () => {
    await expectSampleEvents('customers', customerActions);
  });
});
