import { beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { handler as audit } from '../../../functions/audit/handler.js';
import { action, createAdminHandler } from '../../../lib/admin/http/handler.js';
import { transact } from '../../../lib/admin/persistence.js';
import { iamActor } from '../../../lib/admin/rules/actor.js';
import { adminCtx, callApi, invokeDirect, userCtx } from '../../support/admin.js';
import { useTestTable } from '../../support/table.js';

describe('admin framework (through the audit function)', () => {
  beforeAll(async () => {
    await useTestTable();
    // An audited change with a secret-looking field, written the way every action writes.
    await transact(
      [],
      iamActor,
      { action: 'team.new', entity_type: 'team', entity_id: 't-audit', changes: { team_alias: 'ml', api_key: 'sk-abcdefghijkl' } },
      new Date('2026-11-20T10:00:00Z'),
    );
    await transact(
      [],
      iamActor,
      { action: 'team.update', entity_type: 'team', entity_id: 't-audit', changes: { max_budget: 5, note: 'rotated sk-abcdefghijklmnop' } },
      new Date('2026-11-21T10:00:00Z'),
    );
  });

  it('lists an entity history newest first, through both entry points alike', async () => {
    const api = await callApi(audit, 'GET', '/audit', { entity_type: 'team', entity_id: 't-audit' });
    expect(api.status).toBe(200);
    expect(api.body.data.map((r: { action: string }) => r.action)).toEqual(['team.update', 'team.new']);
    const direct = await invokeDirect(audit, { action: 'list', entity_type: 'team', entity_id: 't-audit' });
    expect(direct).toEqual(api.body);
  });

  it('never stores a secret in the audit log', async () => {
    const api = await callApi(audit, 'GET', '/audit', { since: '2026-11-01T00:00:00Z' });
    const text = JSON.stringify(api.body);
    expect(text).not.toContain('sk-abcdefghijkl');
    expect(api.body.data[1].changes).toEqual({ team_alias: 'ml', api_key: '[redacted]' });
  });

  it('filters by time and paginates with a cursor', async () => {
    const first = await callApi(audit, 'GET', '/audit', { since: '2026-11-01T00:00:00Z', until: '2026-11-30T00:00:00Z', limit: 1 });
    expect(first.body.data).toHaveLength(1);
    expect(first.body.next_cursor).toEqual(expect.any(String));
    const second = await callApi(audit, 'GET', '/audit', {
      since: '2026-11-01T00:00:00Z',
      until: '2026-11-30T00:00:00Z',
      limit: 1,
      cursor: first.body.next_cursor,
    });
    expect(second.body.data[0].action).not.toBe(first.body.data[0].action);
    const none = await callApi(audit, 'GET', '/audit', { since: '2026-11-22T00:00:00Z' });
    expect(none.body.data).toEqual([]);
  });

  it('gives 400 naming an unknown field, and the same error when invoked directly', async () => {
    const api = await callApi(audit, 'GET', '/audit', { entity: 'x' });
    expect(api).toEqual({
      status: 400,
      body: { error: { message: 'unknown field `entity`', type: 'invalid_request_error', param: 'entity', code: 'unknown_field' } },
    });
    await expect(invokeDirect(audit, { action: 'list', entity: 'x' })).rejects.toMatchObject({
      status: 400,
      code: 'unknown_field',
      param: 'entity',
    });
  });

  it('gives 400 for a bad cursor, a bad time and a lone entity_type', async () => {
    expect((await callApi(audit, 'GET', '/audit', { cursor: 'nope' })).body.error.code).toBe('invalid_cursor');
    expect((await callApi(audit, 'GET', '/audit', { since: 'yesterday' })).body.error.param).toBe('since');
    // A reversed range, or a year the sort keys cannot order, is the caller's mistake (was a 503 from DynamoDB's BETWEEN).
    for (const range of [
      { since: '2026-12-01T00:00:00Z', until: '2026-11-01T00:00:00Z' },
      { until: '+010000-01-01T00:00:00Z' },
      { since: '+010000-01-01T00:00:00Z' },
      { since: '-000001-01-01T00:00:00Z' },
    ]) {
      const refused = await callApi(audit, 'GET', '/audit', range);
      expect(refused.status, JSON.stringify(range)).toBe(400);
      expect(refused.body.error.param).toBe('since' in range ? 'since' : 'until');
    }
    expect((await callApi(audit, 'GET', '/audit', { entity_type: 'team' })).body.error.param).toBe('entity_id');
  });

  it('refuses an unknown direct action, listing the known ones', async () => {
    await expect(invokeDirect(audit, { action: 'drop' })).rejects.toMatchObject({
      code: 'unknown_action',
      message: expect.stringContaining('list'),
    });
  });

  it('turns an unexpected failure into an opaque 500 internal_error, over HTTP and when invoked directly', async () => {
    const broken = createAdminHandler('audit', {
      list: action(z.object({}).strict(), async () => {
        throw new Error('connection to sk-secret-in-a-message failed');
      }),
    });
    const internal = { message: 'internal error', type: 'internal_error', param: null, code: 'internal_error' };
    expect(await callApi(broken, 'GET', '/audit', {})).toEqual({ status: 500, body: { error: internal } });
    await expect(invokeDirect(broken, { action: 'list' })).rejects.toMatchObject({ status: 500, ...internal });
  });

  it('refuses non-admins and callers without an authorizer context', async () => {
    expect((await callApi(audit, 'GET', '/audit', {}, userCtx('u-1'))).status).toBe(403);
    expect((await callApi(audit, 'GET', '/audit', {}, null)).status).toBe(401);
    expect((await callApi(audit, 'GET', '/audit', {}, adminCtx)).status).toBe(200);
  });
});
