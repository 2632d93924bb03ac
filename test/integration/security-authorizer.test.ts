/**
 * Fail-closed gaps of the authorizer found in review.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { authorize, bearer } from '../support/authorizer.js';
import { authorizerEvent, seedKey, seedTeam, seedUser } from '../support/seed.js';
import { useTestTable } from '../support/table.js';

const chat = (key: string) => authorizerEvent({ resource: '/chat/completions', method: 'POST', headers: bearer(key) });

beforeAll(async () => {
  await useTestTable();
  await seedTeam({ team_id: 't-1' });
});

describe('a key whose user is gone', () => {
  // A user delete removes the user's keys first (a bounded cascade); a key it missed must not
  // outlive its user as a default internal user with no user budget.
  it('a personal key of a user that does not exist is denied, not run as an unbudgeted internal user', async () => {
    const { key } = await seedKey({ user_id: 'ghost' });
    const out = await authorize(chat(key));
    expect(out.effect).toBe('deny');
    expect(out).toMatchObject({ status: 403, context: { code: 'user_not_found' } });
  });

  it('the same for a team key of a user that does not exist', async () => {
    const { key } = await seedKey({ user_id: 'ghost', team_id: 't-1' });
    expect(await authorize(chat(key))).toMatchObject({ effect: 'deny', context: { code: 'user_not_found' } });
  });

  it('a key of an existing user, and a team key with no user, still pass', async () => {
    await seedUser({ user_id: 'alive' });
    expect((await authorize(chat((await seedKey({ user_id: 'alive' })).key))).effect).toBe('allow');
    expect((await authorize(chat((await seedKey({ team_id: 't-1' })).key))).effect).toBe('allow');
  });
});
