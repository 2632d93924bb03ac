/**
 * Cursor tampering: a cursor is opaque to callers but only base64url JSON. A crafted one must
 * never start a listing in a partition the caller may not read, and a bad one is a 400, not a
 * store failure.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { handler as keys } from '../../functions/keys/handler.js';
import { handler as teams } from '../../functions/teams/handler.js';
import { handler as users } from '../../functions/users/handler.js';
import type { KeyRecord } from '../../lib/domain/records.js';
import { callApi, userCtx } from '../support/admin.js';
import { seedKey, seedMember, seedTeam, seedUser } from '../support/seed.js';
import { useTestTable } from '../support/table.js';

const cursorOf = (o: Record<string, string>) => Buffer.from(JSON.stringify(o)).toString('base64url');

/** The LastEvaluatedKey DynamoDB would give on GSI2 for a key of `user`. */
const gsi2Cursor = (k: KeyRecord) =>
  cursorOf({ PK: `KEY#${k.token}`, SK: 'KEY', GSI2PK: `USER#${k.user_id}`, GSI2SK: `KEY#${k.created_at}#${k.token}` });

const victimKeys: KeyRecord[] = [];

beforeAll(async () => {
  await useTestTable();
  await seedUser({ user_id: 'mallory' });
  await seedUser({ user_id: 'victim' });
  await seedKey({ user_id: 'mallory', created_at: '2020-01-01T00:00:00.000Z' });
  for (let i = 0; i < 3; i++) victimKeys.push((await seedKey({ user_id: 'victim', created_at: `2020-01-0${i + 1}T00:00:00.000Z` })).record);
  await seedTeam({ team_id: 't-victim' });
  await seedMember({ team_id: 't-victim', user_id: 'victim' });
});

describe("a crafted cursor stays in the caller's partition", () => {
  it("/key/list: a cursor pointing into another user's keys is refused (400), never a page of them", async () => {
    const res = await callApi(keys, 'GET', '/key/list', { cursor: gsi2Cursor(victimKeys[0] as KeyRecord) }, userCtx('mallory'));
    expect(JSON.stringify(res.body)).not.toContain('victim');
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ code: 'invalid_cursor', param: 'cursor' });
  });

  it("/team/list: a cursor into another user's memberships is refused", async () => {
    const cursor = cursorOf({ PK: 'TEAM#t-victim', SK: 'MEMBER#victim', GSI2PK: 'USER#victim', GSI2SK: 'MEMBER#t-victim' });
    const res = await callApi(teams, 'GET', '/team/list', { cursor }, userCtx('mallory'));
    expect(JSON.stringify(res.body)).not.toContain('t-victim');
    expect(res.status).toBe(400);
  });

  it('a cursor with attributes that are no key of the index is a 400, not a 503', async () => {
    const res = await callApi(keys, 'GET', '/key/list', { cursor: cursorOf({ PK: 'x', SK: 'y', evil: 'z' }) }, userCtx('mallory'));
    expect(res.status).toBe(400);
  });

  it.each([
    ['/key/list', keys, 'KEY'],
    ['/team/list', teams, 'TEAM'],
    ['/user/list', users, 'USER'],
  ] as const)(
    '%s (a proxy admin listing all): a cursor with an empty key value, or a sort key over 1 KB, is a 400 (found by review: a 503 logged as a store failure)',
    async (path, fn, partition) => {
      for (const cursor of [
        cursorOf({ PK: '', SK: '', GSI1PK: partition, GSI1SK: '' }),
        cursorOf({ PK: `${partition}#a`, SK: partition, GSI1PK: partition, GSI1SK: '' }),
        cursorOf({ PK: `${partition}#a`, SK: partition, GSI1PK: partition, GSI1SK: 'x'.repeat(1025) }),
      ]) {
        const res = await callApi(fn, 'GET', path, { cursor });
        expect([path, res.status, res.body.error?.code]).toEqual([path, 400, 'invalid_cursor']);
      }
    },
  );

  it('a genuine next_cursor still pages on', async () => {
    const first = await callApi(keys, 'GET', '/key/list', { limit: 1 }, userCtx('victim'));
    expect(first.status).toBe(200);
    expect(first.body.next_cursor).toEqual(expect.any(String));
    const second = await callApi(keys, 'GET', '/key/list', { limit: 1, cursor: first.body.next_cursor }, userCtx('victim'));
    expect(second.status).toBe(200);
    expect(second.body.data).toHaveLength(1);
    expect(second.body.data[0].token).not.toBe(first.body.data[0].token);
  });
});
