/**
 * Comparing model lists costs little whatever their entries. Found by review: a glob was matched
 * by backtracking, up to (name length x pattern length) steps a pair, and a key update compares
 * every entry of the new list with every pattern of the old (lib/domain/limits compareModels), up
 * to 1,000 x 1,000 pairs: an internal user who gave their own key 1,000 patterns like
 * `*aaa...ab` and then updated its models to 1,000 names like `aaa...a` kept the function busy
 * for about a minute, each time (and every request of that key paid for 1,000 such matches).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { handler as keys } from '../../../functions/keys/handler.js';
import { callApi, userCtx } from '../../support/admin.js';
import { seedUser } from '../../support/seed.js';
import { useTestTable } from '../../support/table.js';

beforeAll(async () => {
  await useTestTable();
  await seedUser({ user_id: 'u-globs' });
});

describe('a key update against 1,000 hostile patterns', () => {
  it('answers within a few seconds', { timeout: 120_000 }, async () => {
    const patterns = [...Array.from({ length: 999 }, (_, i) => `*${'a'.repeat(120)}b${i}`), 'a*'];
    const made = await callApi(keys, 'POST', '/key/generate', { models: patterns }, userCtx('u-globs'));
    expect(made.status).toBe(200);
    const names = Array.from({ length: 1000 }, (_, i) => `${'a'.repeat(250)}${String.fromCharCode(97 + (i % 26))}${i}`);
    const started = performance.now();
    const res = await callApi(keys, 'POST', '/key/update', { key: made.body.key, models: names }, userCtx('u-globs'));
    const took = performance.now() - started;
    expect(res.status).toBe(200);
    expect(took).toBeLessThan(5000);
  });
});
