/**
 * The admin lock's revision (`rev`, lib/store/writes: every admin write adds 1) is bookkeeping:
 * no answer of the admin API shows it, for any entity, after a create and an update (found by
 * review: `/budget/*` answered the raw record with it).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { handler as budgets } from '../../../functions/budgets/handler.js';
import { handler as customers } from '../../../functions/customers/handler.js';
import { handler as keys } from '../../../functions/keys/handler.js';
import { handler as models } from '../../../functions/models/handler.js';
import { handler as organizations } from '../../../functions/organizations/handler.js';
import { handler as teams } from '../../../functions/teams/handler.js';
import { handler as users } from '../../../functions/users/handler.js';
import { callApi } from '../../support/admin.js';
import { useTestTable } from '../../support/table.js';

type Handler = Parameters<typeof callApi>[0];
type Step = [Handler, 'GET' | 'POST', string, Record<string, unknown>];

const hasRev = (v: unknown): boolean =>
  Array.isArray(v) ? v.some(hasRev) : typeof v === 'object' && v !== null && Object.entries(v).some(([k, x]) => k === 'rev' || hasRev(x));

beforeAll(async () => {
  await useTestTable();
});

describe('no answer shows the revision', () => {
  const entities: Record<string, (key: string) => Step[]> = {
    budget: () => [
      [budgets, 'POST', '/budget/new', { budget_id: 'b-rev', max_budget: 10 }],
      [budgets, 'POST', '/budget/update', { budget_id: 'b-rev', max_budget: 20 }],
      [budgets, 'POST', '/budget/info', { budgets: ['b-rev'] }],
      [budgets, 'GET', '/budget/list', {}],
    ],
    'end user': () => [
      [customers, 'POST', '/customer/new', { user_id: 'c-rev', max_budget: 10 }],
      [customers, 'POST', '/customer/update', { user_id: 'c-rev', max_budget: 20 }],
      [customers, 'GET', '/customer/info', { end_user_id: 'c-rev' }],
      [customers, 'GET', '/customer/list', {}],
    ],
    team: () => [
      [teams, 'POST', '/team/new', { team_id: 't-rev', max_budget: 10 }],
      [teams, 'POST', '/team/update', { team_id: 't-rev', max_budget: 20 }],
      [teams, 'GET', '/team/info', { team_id: 't-rev' }],
      [teams, 'GET', '/team/list', {}],
    ],
    user: () => [
      [users, 'POST', '/user/new', { user_id: 'u-rev', max_budget: 10 }],
      [users, 'POST', '/user/update', { user_id: 'u-rev', max_budget: 20 }],
      [users, 'GET', '/user/info', { user_id: 'u-rev' }],
      [users, 'GET', '/user/list', {}],
    ],
    organization: () => [
      [organizations, 'POST', '/organization/new', { organization_id: 'o-rev', organization_alias: 'o', max_budget: 10 }],
      [organizations, 'PATCH', '/organization/update', { organization_id: 'o-rev', max_budget: 20 }] as unknown as Step,
      [organizations, 'GET', '/organization/info', { organization_id: 'o-rev' }],
      [organizations, 'GET', '/organization/list', {}],
    ],
    model: () => [
      [
        models,
        'POST',
        '/model/new',
        { model_name: 'm-rev', litellm_params: { model: 'openai/gpt-4o-mini', api_key_secret: 'tollgate/x' } },
      ],
      [models, 'POST', '/model/update', { model_name: 'm-rev', model_info: { input_cost_per_million: 1, output_cost_per_million: 2 } }],
      [models, 'GET', '/model/info', {}],
    ],
  };

  it.each(Object.keys(entities))('%s: create, update, info and list', async (entity) => {
    for (const [handler, method, path, body] of (entities[entity] as (k: string) => Step[])('')) {
      const res = await callApi(handler, method, path, body);
      expect([path, res.status]).toEqual([path, 200]);
      expect([path, hasRev(res.body)]).toEqual([path, false]);
    }
  });

  it('key: generate, update, info and list', async () => {
    const made = await callApi(keys, 'POST', '/key/generate', { max_budget: 10 });
    expect(made.status).toBe(200);
    for (const [method, path, body] of [
      ['POST', '/key/update', { key: made.body.key, max_budget: 20 }],
      ['GET', '/key/info', { key: made.body.key }],
      ['GET', '/key/list', { return_full_object: 'true' }],
    ] as const) {
      const res = await callApi(keys, method, path, body);
      expect([path, res.status]).toEqual([path, 200]);
      expect([path, hasRev(res.body)]).toEqual([path, false]);
    }
  });
});
