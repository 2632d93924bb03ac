/**
 * Per-model rate limits (`model_rpm_limit`, `model_tpm_limit`) and the registry's aliases: a limit
 * set under any name a model answers to (its public name or an alias) counts every call to that
 * model, whichever name the call uses. A limit under an alias the registry gave to another model
 * (or ignored) does not apply.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { MOCK_UPSTREAM_KEY, mockLocalSecrets, mockModels } from '../../../infra/local/mock-models.js';
import { type MockUpstream, startMockUpstream } from '../../../infra/local/mock-upstream.js';
import { configureApp } from '../../../lib/app/index.js';
import { MINUTE_MS } from '../../../lib/domain/rate-limits.js';
import type { ModelRecord } from '../../../lib/domain/records.js';
import { bearer } from '../../support/authorizer.js';
import { seedKey, seedTeam } from '../../support/seed.js';
import { useTestTable } from '../../support/table.js';
import { type CallResult, call, chat, seedModels } from './harness.js';

let mock: MockUpstream;
let now = Math.floor(Date.now() / MINUTE_MS) * MINUTE_MS + 5_000;

beforeAll(async () => {
  mock = await startMockUpstream({ apiKey: MOCK_UPSTREAM_KEY });
  await useTestTable({ TOLLGATE_LOCAL_SECRETS: JSON.stringify(mockLocalSecrets()) });
  configureApp({ clock: () => now });
  const base = mockModels(mock.url).find((m) => m.model_name === 'gpt-4o-mini') as ModelRecord;
  await seedModels([
    { ...base, model_name: 'aliased', aliases: ['nick', 'other-public'], access_groups: [] },
    { ...base, model_name: 'other-public', aliases: [], access_groups: [] },
  ]);
});
afterAll(() => mock.close());
beforeEach(() => {
  now += MINUTE_MS;
});

const ask = (key: string, model: string): Promise<CallResult> =>
  call({ path: '/v1/chat/completions', headers: bearer(key), body: chat(model, 'Hello there') });
const outcome = (r: CallResult) => (r.status === 200 ? 200 : `${r.status} ${r.json?.error?.code}`);

describe('per-model limits under an alias', () => {
  it("a key's model_rpm_limit under an alias limits calls by the alias", async () => {
    const { key } = await seedKey({ model_rpm_limit: { nick: 1 } });
    expect(outcome(await ask(key, 'nick'))).toBe(200);
    expect(outcome(await ask(key, 'nick'))).toBe('429 key_model_rpm_exceeded');
  });

  it('and calls by the public name: one model, one limit, whichever name is used', async () => {
    const { key } = await seedKey({ model_rpm_limit: { nick: 1 } });
    expect(outcome(await ask(key, 'aliased'))).toBe(200);
    expect(outcome(await ask(key, 'nick'))).toBe('429 key_model_rpm_exceeded');
    expect(outcome(await ask(key, 'aliased'))).toBe('429 key_model_rpm_exceeded');
  });

  it('a limit under the public name limits calls by an alias (as before); the tighter of two entries for one model wins', async () => {
    const { key } = await seedKey({ model_rpm_limit: { aliased: 3, nick: 2 } });
    expect(outcome(await ask(key, 'nick'))).toBe(200);
    expect(outcome(await ask(key, 'aliased'))).toBe(200);
    const third = await ask(key, 'aliased');
    expect(outcome(third)).toBe('429 key_model_rpm_exceeded');
    expect(third.json.error.message).toMatch(/limit of 2 requests per minute/);
  });

  it("a team's model_tpm_limit under an alias", async () => {
    await seedTeam({ team_id: `t-alias-${now}`, model_tpm_limit: { nick: 1 } });
    const { key } = await seedKey({ team_id: `t-alias-${now}` });
    expect(outcome(await ask(key, 'aliased'))).toBe(200);
    expect(outcome(await ask(key, 'nick'))).toBe('429 team_model_tpm_exceeded');
  });

  it("an alias the registry ignored (it is another model's public name) limits only that other model", async () => {
    const { key } = await seedKey({ model_rpm_limit: { 'other-public': 0 } });
    expect(outcome(await ask(key, 'aliased'))).toBe(200);
    expect(outcome(await ask(key, 'other-public'))).toBe('429 key_model_rpm_exceeded');
  });
});
