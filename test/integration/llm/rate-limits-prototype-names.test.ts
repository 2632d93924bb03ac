/**
 * Per-model rate limits under every Object.prototype name, set through the admin API (as JSON, so
 * `__proto__` is an own key) and enforced by the llm function on a registry model of that name, or
 * one whose alias it is: no 500, the limit applies to that model only.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { handler as keys } from '../../../functions/keys/handler.js';
import { MOCK_UPSTREAM_KEY, mockLocalSecrets, mockModels } from '../../../infra/local/mock-models.js';
import { type MockUpstream, startMockUpstream } from '../../../infra/local/mock-upstream.js';
import { callApi } from '../../support/admin.js';
import { bearer } from '../../support/authorizer.js';
import { roomInMinute } from '../../support/rate.js';
import { useTestTable } from '../../support/table.js';
import { call, chat, seedModels } from './harness.js';

const NAMES = Object.getOwnPropertyNames(Object.prototype);
let mock: MockUpstream;

beforeAll(async () => {
  mock = await startMockUpstream({ apiKey: MOCK_UPSTREAM_KEY });
  await useTestTable({ TOLLGATE_LOCAL_SECRETS: JSON.stringify(mockLocalSecrets()) });
  const [base] = mockModels(mock.url);
  await seedModels([
    ...NAMES.map((name) => ({ ...base!, model_name: name, upstream_model: 'gpt-4o-mini', access_groups: [], aliases: [] })),
    ...NAMES.map((name, i) => ({
      ...base!,
      model_name: `aliased-${i}`,
      upstream_model: 'gpt-4o-mini',
      access_groups: [],
      aliases: [`nick-${name}`],
    })),
    { ...base!, model_name: 'plain', upstream_model: 'gpt-4o-mini', access_groups: [], aliases: [] },
  ]);
});
afterAll(() => mock.close());

const ask = (key: string, model: string) => call({ path: '/v1/chat/completions', headers: bearer(key), body: chat(model, 'hi') });
const outcome = (r: Awaited<ReturnType<typeof ask>>) => (r.status === 200 ? 200 : `${r.status} ${r.json?.error?.code}`);

describe('model_rpm_limit under every Object.prototype name', () => {
  it.each(NAMES)('%s: a model of that name and an alias of another are limited; others are not', async (name) => {
    const i = NAMES.indexOf(name);
    const made = await callApi(keys, 'POST', '/key/generate', {
      model_rpm_limit: JSON.parse(`{"${name}": 0, "nick-${name}": 1}`),
    });
    expect([made.status, made.body.error]).toEqual([200, undefined]);
    const key = made.body.key as string;
    await roomInMinute(5_000);
    expect(Object.hasOwn(made.body.model_rpm_limit, name)).toBe(true);
    expect(outcome(await ask(key, name))).toBe('429 key_model_rpm_exceeded');
    expect(outcome(await ask(key, `aliased-${i}`))).toBe(200);
    expect(outcome(await ask(key, `nick-${name}`))).toBe('429 key_model_rpm_exceeded');
    expect(outcome(await ask(key, 'plain'))).toBe(200);
  });
});
