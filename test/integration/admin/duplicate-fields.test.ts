/**
 * An admin request says one thing (found by review): a body whose object names a key twice, at
 * any depth and however the key is spelled in JSON, or a query string with a parameter twice,
 * is a 400 `duplicate_field` naming it, and changes nothing. `JSON.parse` would keep the last.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { handler as budgets } from '../../../functions/budgets/handler.js';
import { handler as customers } from '../../../functions/customers/handler.js';
import { handler as keys } from '../../../functions/keys/handler.js';
import { handler as models } from '../../../functions/models/handler.js';
import { handler as organizations } from '../../../functions/organizations/handler.js';
import { handler as teams } from '../../../functions/teams/handler.js';
import { handler as users } from '../../../functions/users/handler.js';
import { duplicateKey } from '../../../lib/admin/http/body.js';
import { apiEvent, callApi } from '../../support/admin.js';
import { scanTable } from '../../support/refusals.js';
import { useTestTable } from '../../support/table.js';

beforeAll(async () => {
  await useTestTable();
  await callApi(teams, 'POST', '/team/new', { team_id: 't-dup' });
});

describe('duplicateKey', () => {
  it.each([
    ['{"a":1,"b":2}', undefined],
    ['{"a":{"x":1},"b":{"x":2}}', undefined],
    ['[{"a":1},{"a":2}]', undefined],
    ['{"a":1,"a":2}', 'a'],
    ['{"a":{"b":{"c":1,"c":1}}}', 'a.b.c'],
    ['{"m":[{"u":1},{"u":1,"u":2}]}', 'm.1.u'],
    ['{"max_budget":1,"m\\u0061x_budget":1000}', 'max_budget'],
    ['{"__proto__":1,"__proto__":2}', '__proto__'],
    ['{"":1,"":2}', ''],
  ])('%s: %s', (text, path) => {
    JSON.parse(text);
    expect(duplicateKey(text)).toBe(path);
  });
});

const BODIES = [
  [keys, '/key/generate', '{"team_id":"t-dup","max_budget":1,"max_budget":1000}', 'max_budget'],
  [users, '/user/new', '{"user_id":"u-dup","user_id":"u-other"}', 'user_id'],
  [teams, '/team/new', '{"team_id":"t-dup2","metadata":{"x":1,"x":2}}', 'metadata.x'],
  [teams, '/team/member_add', '{"team_id":"t-dup","member":[{"user_id":"a","role":"user","role":"admin"}]}', 'member.0.role'],
  [organizations, '/organization/new', '{"organization_alias":"o","max_budget":5,"m\\u0061x_budget":50}', 'max_budget'],
  [customers, '/customer/new', '{"user_id":"eu-dup","blocked":true,"blocked":false}', 'blocked'],
  [budgets, '/budget/new', '{"budget_id":"b-dup","max_budget":1,"max_budget":2}', 'max_budget'],
  [
    models,
    '/model/new',
    '{"model_name":"m-dup","litellm_params":{"model":"gpt-4o","model":"gpt-4o-mini"},"model_info":{"input_cost_per_million":1,"output_cost_per_million":1}}',
    'litellm_params.model',
  ],
] as const;

describe('a body that names a field twice', () => {
  it.each(BODIES)('%#: %s → 400 duplicate_field `%s`, nothing written', async (handler, path, body, param) => {
    const before = await scanTable();
    const res = await callApi(handler, 'POST', path, body);
    expect([res.status, res.body.error?.code, res.body.error?.param]).toEqual([400, 'duplicate_field', param]);
    expect(res.body.error.message).toBe(`the request body gives \`${param}\` twice: give each field once`);
    expect(await scanTable()).toEqual(before);
  });

  it('the same request with each field once is taken', async () => {
    const res = await callApi(budgets, 'POST', '/budget/new', '{"budget_id":"b-dup","max_budget":1}');
    expect(res.status).toBe(200);
  });
});

describe('a query string that gives a parameter twice', () => {
  it.each([
    [keys, '/key/info', 'key'],
    [users, '/user/info', 'user_id'],
    [teams, '/team/info', 'team_id'],
  ] as const)('GET %s?%s=…&%s=… → 400 duplicate_field', async (handler, path, name) => {
    const event = apiEvent('GET', path, { [name]: 'b' }, { principal: 'master_key', role: 'proxy_admin' });
    event.multiValueQueryStringParameters = { [name]: ['a', 'b'] };
    const res = (await handler(event as never, { awsRequestId: 'r' } as never)) as { statusCode: number; body: string };
    const body = JSON.parse(res.body);
    expect([res.statusCode, body.error.code, body.error.param]).toEqual([400, 'duplicate_field', name]);
    expect(body.error.message).toBe(`the query string gives \`${name}\` 2 times: give it once`);
  });
});
