/**
 * Ids and periods (issue 10, items 4 and 8): every id Tollgate can create, the admin API accepts
 * (IdP subjects, emails, UUIDs); white space around an id or a period is refused with a 400 that
 * names the field, never trimmed into another entity; periods are bounded.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { handler as budgets } from '../../../functions/budgets/handler.js';
import { handler as customers } from '../../../functions/customers/handler.js';
import { handler as keys } from '../../../functions/keys/handler.js';
import { handler as organizations } from '../../../functions/organizations/handler.js';
import { handler as teams } from '../../../functions/teams/handler.js';
import { handler as users } from '../../../functions/users/handler.js';
import { callApi } from '../../support/admin.js';
import { useTestTable } from '../../support/table.js';

beforeAll(async () => {
  await useTestTable();
  await callApi(teams, 'POST', '/team/new', { team_id: 't-ids' });
});

const SUBJECTS = [
  'auth0|65f1c2',
  'google-oauth2|103475628',
  'ada.lovelace+tollgate@example.com',
  '0f8fad5b-d9cb-469f-a165-70867728950e',
  'us-east-1:7d1c3f0a-1b2c',
  'CN=Ada, O=Example',
];

describe('every id an identity provider hands out is an id the admin API manages', () => {
  for (const userId of SUBJECTS) {
    it(`${userId}: created, updated, added to a team, given a key, deleted`, async () => {
      expect((await callApi(users, 'POST', '/user/new', { user_id: userId })).status).toBe(200);
      expect((await callApi(users, 'POST', '/user/update', { user_id: userId, max_budget: 5 })).status).toBe(200);
      expect((await callApi(users, 'GET', '/user/info', { user_id: userId })).body.user_id).toBe(userId);
      expect((await callApi(teams, 'POST', '/team/member_add', { team_id: 't-ids', member: { user_id: userId } })).status).toBe(200);
      expect((await callApi(keys, 'POST', '/key/generate', { team_id: 't-ids', user_id: userId })).status).toBe(200);
      expect((await callApi(teams, 'POST', '/team/member_delete', { team_id: 't-ids', user_id: userId })).status).toBe(200);
      expect((await callApi(users, 'POST', '/user/delete', { user_ids: [userId] })).status).toBe(200);
    });
  }
});

describe('white space around an id is refused, not trimmed into another entity', () => {
  const bad = ['eu-blocked ', ' eu-blocked', 'eu\tblocked\n', 'eu\u0000x'];
  it('an end user `eu-blocked ` cannot be created, blocked or unblocked beside `eu-blocked`', async () => {
    expect((await callApi(customers, 'POST', '/customer/block', { user_ids: ['eu-blocked'] })).status).toBe(200);
    for (const userId of bad) {
      for (const [path, body] of [
        ['/customer/new', { user_id: userId }],
        ['/customer/block', { user_ids: [userId] }],
        ['/customer/unblock', { user_ids: [userId] }],
      ] as const) {
        const res = await callApi(customers, 'POST', path, body);
        expect([path, JSON.stringify(userId), res.status, res.body.error?.code]).toEqual([
          path,
          JSON.stringify(userId),
          400,
          'invalid_field',
        ]);
      }
    }
    const info = await callApi(customers, 'GET', '/customer/info', { end_user_id: 'eu-blocked' });
    expect(info.body.blocked).toBe(true);
  });

  it('users, teams and key aliases follow the same rule', async () => {
    for (const [handler, path, body, param] of [
      [users, '/user/new', { user_id: 'ada ' }, 'user_id'],
      [teams, '/team/new', { team_id: ' t-x' }, 'team_id'],
      [keys, '/key/generate', { key_alias: 'alias\n' }, 'key_alias'],
    ] as const) {
      const res = await callApi(handler, 'POST', path, body);
      expect([path, res.status, res.body.error?.param]).toEqual([path, 400, param]);
      expect(res.body.error.message).toContain('must not start or end with white space');
    }
  });
});

describe('an id that looks like another and differs is refused, wherever ids enter (found by review)', () => {
  const LOOK_ALIKES = [
    ['a zero-width space', 'al\u200bice', /invisible formatting characters/],
    ['a right-to-left override', 'alice\u202egpj.exe', /invisible formatting characters/],
    ['a combining accent', 'jose\u0301', /composed form \(NFC\)/],
  ] as const;
  const entries = (id: string) =>
    [
      [users, '/user/new', { user_id: id }, 'user_id'],
      [teams, '/team/new', { team_id: id }, 'team_id'],
      [organizations, '/organization/new', { organization_id: id }, 'organization_id'],
      [customers, '/customer/new', { user_id: id }, 'user_id'],
      [budgets, '/budget/new', { budget_id: id, max_budget: 1 }, 'budget_id'],
      [keys, '/key/generate', { key_alias: id }, 'key_alias'],
      [teams, '/team/member_add', { team_id: 't-ids', member: { user_id: id } }, 'member.0.user_id'],
    ] as const;
  it.each(LOOK_ALIKES)('%s: 400 naming the field, on every route that creates an entity', async (_, id, message) => {
    for (const [handler, path, body, param] of entries(id)) {
      const res = await callApi(handler, 'POST', path, body);
      expect([path, res.status, res.body.error?.code, res.body.error?.param]).toEqual([path, 400, 'invalid_field', param]);
      expect(res.body.error.message).toMatch(message);
    }
  });
});

describe('periods are one spelling and at most ten years', () => {
  for (const [what, value] of [
    ['white space around', ' 1d '],
    ['a trailing space', '1d '],
    ['999999 months', '999999mo'],
    ['eleven years of days', '4018d'],
  ] as const) {
    it(`${what} (\`${value}\`): 400 on budget_duration and on a key's duration`, async () => {
      const team = await callApi(teams, 'POST', '/team/new', { team_id: `t-p-${value.trim()}`, budget_duration: value });
      expect([team.status, team.body.error?.param]).toEqual([400, 'budget_duration']);
      const key = await callApi(keys, 'POST', '/key/generate', { duration: value });
      expect([key.status, key.body.error?.param]).toEqual([400, 'duration']);
    });
  }
});

describe('ids are well-formed text (found by review)', () => {
  it.each(['u-\ud800', 'u-\udfff', '\udc00x', 'x\ud83d'])('%j: a 400 naming the field; nothing made', async (userId) => {
    const res = await callApi(users, 'POST', '/user/new', { user_id: userId });
    expect([res.status, res.body.error?.param]).toEqual([400, 'user_id']);
    expect(res.body.error.message).toContain('lone surrogate');
    const team = await callApi(teams, 'POST', '/team/new', { team_id: userId });
    expect([team.status, team.body.error?.param]).toEqual([400, 'team_id']);
  });
  it('a whole surrogate pair (an emoji) is an id like any other', async () => {
    expect((await callApi(users, 'POST', '/user/new', { user_id: 'u-\ud83d\ude00' })).status).toBe(200);
  });
});

describe('amounts are within what budgets and DynamoDB hold (found by review)', () => {
  it.each([1e308, 1e200, 1e13, 1e-320, 1e-10])('max_budget %d: a 400 naming it, nothing made (never a 503)', async (max_budget) => {
    const user = await callApi(users, 'POST', '/user/new', { user_id: `u-amount-${String(max_budget)}`, max_budget });
    expect([user.status, user.body.error?.param]).toEqual([400, 'max_budget']);
    expect((await callApi(users, 'GET', '/user/info', { user_id: `u-amount-${String(max_budget)}` })).status).toBe(404);
    const key = await callApi(keys, 'POST', '/key/generate', { max_budget });
    expect([key.status, key.body.error?.param]).toEqual([400, 'max_budget']);
  });
  it.each([0, 1e-9, 1e12])('max_budget %d is taken', async (max_budget) => {
    expect((await callApi(keys, 'POST', '/key/generate', { max_budget })).status).toBe(200);
  });
});
