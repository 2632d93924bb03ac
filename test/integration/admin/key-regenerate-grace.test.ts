/**
 * Regenerating with a grace period never multiplies a budget (found by review): while its grace
 * lasts, the old key acts as the newest one, checked, reserved and charged on the newest key's
 * budget and counters. Through the authorizer and the llm function against the mock upstream.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { handler as keys } from '../../../functions/keys/handler.js';
import { handler as users } from '../../../functions/users/handler.js';
import { MOCK_UPSTREAM_KEY, mockLocalSecrets, mockModels } from '../../../infra/local/mock-models.js';
import { type MockUpstream, startMockUpstream } from '../../../infra/local/mock-upstream.js';
import { costNanos, nanosToDecimal } from '../../../lib/domain/cost.js';
import type { ModelRecord } from '../../../lib/domain/records.js';
import { callApi, userCtx } from '../../support/admin.js';
import { bearer } from '../../support/authorizer.js';
import { useTestTable } from '../../support/table.js';
import { call, chat, seedModels } from '../llm/harness.js';

let mock: MockUpstream;
let gpt4o: ModelRecord;

beforeAll(async () => {
  mock = await startMockUpstream({ apiKey: MOCK_UPSTREAM_KEY });
  await useTestTable({ TOLLGATE_LOCAL_SECRETS: JSON.stringify(mockLocalSecrets()) });
  const models = mockModels(mock.url);
  gpt4o = models.find((m) => m.model_name === 'gpt-4o') as ModelRecord;
  await seedModels(models);
  await callApi(users, 'POST', '/user/new', { user_id: 'alice', auto_create_key: false });
});
afterAll(async () => {
  await mock.close();
});

const BODY = chat('gpt-4o', Array.from({ length: 40 }, (_, i) => `w${i % 10}`).join(' '), { max_tokens: 40 });
const COST = () => costNanos({ inputTokens: 40, outputTokens: 40 }, gpt4o);

describe('regenerating with a grace period does not multiply a key budget a proxy admin set', () => {
  it('old and new copies together spend no more than max_budget', async () => {
    // A proxy admin gives alice a key that fits two calls.
    const made = await callApi(keys, 'POST', '/key/generate', { user_id: 'alice', max_budget: Number(nanosToDecimal(2 * COST())) });
    expect(made.status).toBe(200);
    const oldKey = made.body.key as string;
    const regen = await callApi(keys, 'POST', '/key/regenerate', { key: oldKey, grace_period: '1h' }, userCtx('alice'));
    expect(regen.status).toBe(200);
    const newKey = regen.body.key as string;
    let admitted = 0;
    for (const k of [oldKey, oldKey, oldKey, newKey, newKey, newKey]) {
      const res = await call({ path: '/v1/chat/completions', headers: bearer(k), body: BODY });
      if (res.status === 200) admitted++;
    }
    // What happens: 4 admitted (two on each copy), twice the key's budget.
    expect(admitted).toBe(2);
  });
});

describe('every copy in its grace period answers to the newest key', () => {
  it('regenerating again multiplies nothing: three copies together spend no more than max_budget', async () => {
    const made = await callApi(keys, 'POST', '/key/generate', { user_id: 'alice', max_budget: Number(nanosToDecimal(2 * COST())) });
    const first = made.body.key as string;
    const second = (await callApi(keys, 'POST', '/key/regenerate', { key: first, grace_period: '1h' }, userCtx('alice'))).body
      .key as string;
    const regen = await callApi(keys, 'POST', '/key/regenerate', { key: second, grace_period: '1h' }, userCtx('alice'));
    const third = regen.body.key as string;
    // Regenerating again points every copy still in its grace period at the newest key.
    const firstInfo = (await callApi(keys, 'GET', '/key/info', { key: made.body.token_id })).body.info;
    expect(firstInfo.replaced_by).toBe(regen.body.token_id);
    let admitted = 0;
    for (const k of [first, second, third, first, second, third]) {
      const res = await call({ path: '/v1/chat/completions', headers: bearer(k), body: BODY });
      if (res.status === 200) admitted++;
    }
    expect(admitted).toBe(2);
    // The spend is the newest key's, where its budget is.
    const info = (await callApi(keys, 'GET', '/key/info', { key: third })).body.info;
    expect(Number(info.spend)).toBeCloseTo(Number(nanosToDecimal(2 * COST())), 9);
  });

  it('in strict mode too: reservations are made on the newest key', async () => {
    const made = await callApi(keys, 'POST', '/key/generate', {
      user_id: 'alice',
      max_budget: Number(nanosToDecimal(2 * COST())),
      enforcement: 'strict',
    });
    const oldKey = made.body.key as string;
    const newKey = (await callApi(keys, 'POST', '/key/regenerate', { key: oldKey, grace_period: '1h' }, userCtx('alice'))).body
      .key as string;
    let admitted = 0;
    for (const k of [oldKey, newKey, oldKey, newKey]) {
      const res = await call({ path: '/v1/chat/completions', headers: bearer(k), body: BODY });
      if (res.status === 200) admitted++;
    }
    expect(admitted).toBeLessThanOrEqual(2);
    const info = (await callApi(keys, 'GET', '/key/info', { key: newKey })).body.info;
    expect(Number(info.spend)).toBeLessThanOrEqual(Number(nanosToDecimal(2 * COST())));
  });

  it('a limit tightened on the newest key holds for the old copy', async () => {
    const made = await callApi(keys, 'POST', '/key/generate', { user_id: 'alice' });
    const oldKey = made.body.key as string;
    const regen = await callApi(keys, 'POST', '/key/regenerate', { key: oldKey, grace_period: '1h' }, userCtx('alice'));
    expect((await callApi(keys, 'POST', '/key/update', { key: regen.body.token_id, max_budget: 0 })).status).toBe(200);
    const res = await call({ path: '/v1/chat/completions', headers: bearer(oldKey), body: BODY });
    expect(res.status).not.toBe(200);
  });
});
