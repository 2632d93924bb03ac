/**
 * An object lives on the upstream that made it (found by review): reading, cancelling or deleting
 * it goes to that model's upstream, not to the passthrough model's, which never saw it.
 */
import { beforeAll, expect, it } from 'vitest';
import { MOCK_UPSTREAM_KEY, mockLocalSecrets, mockModels } from '../../../infra/local/mock-models.js';
import { type MockUpstream, startMockUpstream } from '../../../infra/local/mock-upstream.js';
import type { ModelRecord } from '../../../lib/domain/records.js';
import { refs } from '../../../lib/store/keys.js';
import { bearer } from '../../support/authorizer.js';
import { seedKey, seedTeam } from '../../support/seed.js';
import { spendNanos } from '../../support/spend.js';
import { useTestTable } from '../../support/table.js';
import { backgroundResponse, call, seedModels } from './harness.js';

let main: MockUpstream;
let eu: MockUpstream;

beforeAll(async () => {
  main = await startMockUpstream({ apiKey: MOCK_UPSTREAM_KEY });
  eu = await startMockUpstream({ apiKey: MOCK_UPSTREAM_KEY });
  await useTestTable({
    TOLLGATE_MASTER_KEY: 'sk-master-upstreams',
    TOLLGATE_LOCAL_SECRETS: JSON.stringify(mockLocalSecrets()),
    TOLLGATE_PASSTHROUGH_MODEL: 'gpt-4o-mini',
  });
  const mini = mockModels(eu.url).find((m) => m.model_name === 'gpt-4o-mini') as ModelRecord;
  await seedModels([...mockModels(main.url), { ...mini, model_name: 'mini-eu', aliases: [] }]);
  await seedTeam({ team_id: 'team-a' });
  return async () => {
    await main.close();
    await eu.close();
  };
});

it('a response made on a second upstream is read, and deleted, there', async () => {
  const { key } = await seedKey({ team_id: 'team-a' });
  const made = await call({ path: '/v1/responses', headers: bearer(key), body: { model: 'mini-eu', input: 'Hello there' } });
  expect(made.status).toBe(200);
  const read = await call({ method: 'GET', path: `/v1/responses/${made.json.id}`, headers: bearer(key) });
  expect([read.status, read.json.id]).toEqual([200, made.json.id]);
  expect((await call({ method: 'DELETE', path: `/v1/responses/${made.json.id}`, headers: bearer(key) })).status).toBe(200);
  expect(main.requests.filter((r) => r.path.startsWith('/responses/'))).toEqual([]);
});

it('a background response made on a second upstream is billed when read there', async () => {
  const { key, record, made } = await backgroundResponse('mini-eu');
  expect((await call({ method: 'GET', path: `/v1/responses/${made.json.id}`, headers: bearer(key) })).json.status).toBe('completed');
  expect(await spendNanos(refs.key(record.token))).toBeGreaterThan(0);
});

it('a key that may not use the model that made it cannot reach that upstream through it', async () => {
  const { key } = await seedKey({ team_id: 'team-a' });
  const made = await call({ path: '/v1/responses', headers: bearer(key), body: { model: 'mini-eu', input: 'Hello there' } });
  const teammate = await seedKey({ team_id: 'team-a', models: ['gpt-4o-mini'] });
  const before = eu.requests.length;
  const read = await call({ method: 'GET', path: `/v1/responses/${made.json.id}`, headers: bearer(teammate.key) });
  expect([read.status, read.json.error?.code, eu.requests.length - before]).toEqual([403, 'model_not_allowed', 0]);
});
