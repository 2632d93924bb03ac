import { beforeAll, describe, expect, it } from 'vitest';
import { handler as audit } from '../../../functions/audit/handler.js';
import { handler as budgets } from '../../../functions/budgets/handler.js';
import { handler as customers } from '../../../functions/customers/handler.js';
import { budgetActions } from '../../../lib/admin/actions/budgets.js';
import { adminCtx, callApi, invokeDirect, userCtx } from '../../support/admin.js';
import { expectRefused, expectSampleEvents, scanTable } from '../../support/refusals.js';
import { useTestTable } from '../../support/table.js';

const getItem = async (PK: string, SK: string) => (await scanTable()).find((i) => i.PK === PK && i.SK === SK);

describe('budgets', () => {
  beforeAll(async () => {
    await useTestTable();
  });

  describe('new', () => {
    it('creates a budget through the API with every field', async () => {
      const res = await callApi(budgets, 'POST', '/budget/new', { budget_id: 'b-api', max_budget: 10, budget_duration: '1mo' });
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ budget_id: 'b-api', max_budget: 10, budget_duration: '1mo', created_at: expect.any(String) });
      expect(await getItem('BUDGET#b-api', 'BUDGET')).toMatchObject({ kind: 'budget', GSI1PK: 'BUDGET', GSI1SK: 'b-api' });
      const log = await callApi(audit, 'GET', '/audit', { entity_type: 'budget', entity_id: 'b-api' });
      expect(log.body.data).toEqual([
        expect.objectContaining({ action: 'budget.new', changes: expect.objectContaining({ max_budget: 10 }) }),
      ]);
    });

    it('generates an id when none is given (direct invocation); zero is a real budget', async () => {
      const res = await invokeDirect(budgets, { action: 'new', max_budget: 0 });
      expect(res).toMatchObject({ budget_id: expect.stringMatching(/^[0-9a-f-]{36}$/), max_budget: 0 });
    });

    it('409 for a duplicate id; nothing written', async () => {
      await expectRefused(budgets, {
        route: 'POST /budget/new',
        action: 'new',
        input: { budget_id: 'b-api' },
        status: 409,
        code: 'budget_exists',
        param: 'budget_id',
      });
    });

    it.each(['soft_budget', 'tpm_limit', 'rpm_limit', 'max_parallel_requests'])(
      "refuses LiteLLM's %s (nothing enforces it) as an unknown field, on new and update",
      async (field) => {
        await expectRefused(budgets, {
          route: 'POST /budget/new',
          action: 'new',
          input: { budget_id: 'b-lim', max_budget: 5, [field]: 1 },
          status: 400,
          code: 'unknown_field',
          param: field,
        });
        await expectRefused(budgets, {
          route: 'POST /budget/update',
          action: 'update',
          input: { budget_id: 'b-api', [field]: 1 },
          status: 400,
          code: 'unknown_field',
          param: field,
        });
      },
    );
  });

  describe('update', () => {
    it('sets only the fields named (API and direct)', async () => {
      const res = await callApi(budgets, 'POST', '/budget/update', { budget_id: 'b-api', max_budget: 20 });
      expect(res.body).toMatchObject({ budget_id: 'b-api', max_budget: 20, budget_duration: '1mo', updated_at: expect.any(String) });
      expect(await invokeDirect(budgets, { action: 'update', budget_id: 'b-api', budget_duration: '7d' })).toMatchObject({
        budget_duration: '7d',
        max_budget: 20,
      });
    });

    it('404 for a missing budget; 400 when nothing changes', async () => {
      await expectRefused(budgets, {
        route: 'POST /budget/update',
        action: 'update',
        input: { budget_id: 'b-ghost', max_budget: 1 },
        status: 404,
        code: 'budget_not_found',
      });
      await expectRefused(budgets, {
        route: 'POST /budget/update',
        action: 'update',
        input: { budget_id: 'b-api' },
        status: 400,
        code: 'nothing_to_update',
      });
    });
  });

  describe('delete', () => {
    it('refuses while an end user points to the budget (409), then deletes once it is released', async () => {
      await invokeDirect(budgets, { action: 'new', budget_id: 'b-used', max_budget: 1 });
      await invokeDirect(customers, { action: 'new', user_id: 'e-1', budget_id: 'b-used' });
      await expectRefused(budgets, {
        route: 'POST /budget/delete',
        action: 'delete',
        input: { id: 'b-used' },
        status: 409,
        code: 'budget_in_use',
        param: 'id',
        message: /used by 1 end user/,
      });
      await invokeDirect(customers, { action: 'update', user_id: 'e-1', budget_id: null });
      // LiteLLM answers with the deleted budget row.
      const deleted = await callApi(budgets, 'POST', '/budget/delete', { id: 'b-used' });
      expect(deleted).toMatchObject({
        status: 200,
        body: { budget_id: 'b-used', max_budget: 1, created_at: expect.any(String), deleted_budget_id: 'b-used' },
      });
      expect(deleted.body).not.toHaveProperty('end_user_count');
      expect(await getItem('BUDGET#b-used', 'BUDGET')).toBeUndefined();
    });

    it('deleting the last end user that points to a budget releases it too (direct invocation)', async () => {
      await invokeDirect(budgets, { action: 'new', budget_id: 'b-used2' });
      await invokeDirect(customers, { action: 'new', user_id: 'e-2', budget_id: 'b-used2' });
      await invokeDirect(customers, { action: 'delete', user_ids: ['e-2'] });
      expect(await invokeDirect(budgets, { action: 'delete', id: 'b-used2' })).toMatchObject({
        budget_id: 'b-used2',
        deleted_budget_id: 'b-used2',
      });
    });

    it('404 for a missing budget; nothing written', async () => {
      await expectRefused(budgets, {
        route: 'POST /budget/delete',
        action: 'delete',
        input: { id: 'b-ghost' },
        status: 404,
        code: 'budget_not_found',
      });
    });
  });

  describe('info', () => {
    it('GET ?budgets=a,b, POST {budgets: [...]} and direct invocation give the same list', async () => {
      await invokeDirect(budgets, { action: 'new', budget_id: 'b-i1', max_budget: 1 });
      await invokeDirect(budgets, { action: 'new', budget_id: 'b-i2', max_budget: 2 });
      const get = await callApi(budgets, 'GET', '/budget/info', { budgets: 'b-i1,b-i2' });
      expect(get.status).toBe(200);
      expect(get.body.map((b: { budget_id: string; max_budget: number }) => [b.budget_id, b.max_budget])).toEqual([
        ['b-i1', 1],
        ['b-i2', 2],
      ]);
      expect((await callApi(budgets, 'POST', '/budget/info', { budgets: ['b-i1', 'b-i2'] })).body).toEqual(get.body);
      expect(await invokeDirect(budgets, { action: 'info', budgets: ['b-i1', 'b-i2'] })).toEqual(get.body);
    });

    it('404 naming the first missing budget', async () => {
      await expectRefused(budgets, {
        route: 'POST /budget/info',
        action: 'info',
        input: { budgets: ['b-i1', 'b-gone', 'b-gone2'] },
        status: 404,
        code: 'budget_not_found',
        message: /`b-gone`/,
      });
    });
  });

  describe('list', () => {
    it('pages with a cursor and agrees with direct invocation', async () => {
      const seen: string[] = [];
      let cursor: string | undefined;
      do {
        const page = await callApi(budgets, 'GET', '/budget/list', { limit: 2, ...(cursor ? { cursor } : {}) });
        expect(page.status).toBe(200);
        seen.push(...page.body.data.map((b: { budget_id: string }) => b.budget_id));
        cursor = page.body.next_cursor ?? undefined;
      } while (cursor);
      const direct = await invokeDirect(budgets, { action: 'list' });
      expect(seen).toEqual(direct.data.map((b: { budget_id: string }) => b.budget_id));
      expect(seen).toEqual(expect.arrayContaining(['b-api', 'b-i1', 'b-i2']));
    });
  });

  describe('bad input: 400 naming the field, nothing written', () => {
    const cases = [
      ['POST /budget/new', 'new', { budget_id: 'b-bad', max_budget: -1 }, 'invalid_field', 'max_budget'],
      ['POST /budget/new', 'new', { budget_id: 'b-bad', max_budget: 'ten' }, 'invalid_type', 'max_budget'],
      ['POST /budget/new', 'new', { budget_id: 'b-bad', budget_duration: '30 days' }, 'invalid_field', 'budget_duration'],
      ['POST /budget/new', 'new', { budget_id: 'b-bad', model_max_budget: {} }, 'unknown_field', 'model_max_budget'],
      ['POST /budget/new', 'new', { budget_id: 'b'.repeat(257) }, 'invalid_field', 'budget_id'],
      ['POST /budget/update', 'update', { max_budget: 1 }, 'invalid_type', 'budget_id'],
      ['POST /budget/update', 'update', { budget_id: 'b-api', budget_duration: '1y' }, 'invalid_field', 'budget_duration'],
      ['POST /budget/update', 'update', { budget_id: 'b-api', spend: 1 }, 'unknown_field', 'spend'],
      ['POST /budget/delete', 'delete', { budget_id: 'b-api' }, 'invalid_type', 'id'],
      ['POST /budget/delete', 'delete', { id: 'b-api', force: true }, 'unknown_field', 'force'],
      ['GET /budget/info', 'info', {}, 'invalid_type', 'budgets'],
      ['GET /budget/info', 'info', { budgets: 'b\u0001api' }, 'invalid_field', 'budgets.0'],
      ['POST /budget/info', 'info', { budgets: [] }, 'invalid_field', 'budgets'],
      ['GET /budget/list', 'list', { limit: '5000' }, 'invalid_field', 'limit'],
      ['GET /budget/list', 'list', { cursor: 'zz' }, 'invalid_cursor', 'cursor'],
    ] as const;
    it.each(cases)('%s %j -> %s (%s)', async (route, action, input, code, param) => {
      await expectRefused(budgets, { route, action, input: { ...input }, status: 400, code, param });
    });
  });

  describe('permissions: every route is proxy-admin only, reads included (403, nothing written)', () => {
    const cases = [
      ['POST /budget/new', 'new', { budget_id: 'b-perm' }],
      ['POST /budget/update', 'update', { budget_id: 'b-api', max_budget: 1 }],
      ['POST /budget/delete', 'delete', { id: 'b-api' }],
      ['GET /budget/info', 'info', { budgets: 'b-api' }],
      ['POST /budget/info', 'info', { budgets: ['b-api'] }],
      ['GET /budget/list', 'list', {}],
    ] as const;
    it.each(cases)('%s refused to an internal user and a viewer', async (route, action, input) => {
      for (const caller of [userCtx('u-1'), userCtx('u-2', { role: 'internal_user_viewer' })]) {
        await expectRefused(budgets, { route, action, input: { ...input }, status: 403, code: 'forbidden' }, { caller, apiOnly: true });
      }
    });
    it('the master key passes', async () => {
      expect((await callApi(budgets, 'GET', '/budget/info', { budgets: 'b-api' }, adminCtx)).status).toBe(200);
    });
  });

  it('has a valid sample event for every action (functions/budgets/events)', async () => {
    await expectSampleEvents('budgets', budgetActions);
  });
});
