/**
 * No re-reads (issue 11): a settlement updates this instance's cached view by the amounts it
 * wrote, so the next priced request on the same instance reads nothing, and the cached view
 * equals what the table holds. Other instances see the change within the cache TTL, as before.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MOCK_UPSTREAM_KEY, mockLocalSecrets, mockModels } from '../../../infra/local/mock-models.js';
import { type MockUpstream, startMockUpstream } from '../../../infra/local/mock-upstream.js';
import { entityReader } from '../../../lib/app/index.js';
import { refs } from '../../../lib/store/keys.js';
import { bearer } from '../../support/authorizer.js';
import { seedKey, seedOrg, seedTeam, seedUser } from '../../support/seed.js';
import { countersOf } from '../../support/spend.js';
import { useTestTable } from '../../support/table.js';
import { call, chat, seedModels } from './harness.js';

let mock: MockUpstream;
beforeAll(async () => {
  mock = await startMockUpstream({ apiKey: MOCK_UPSTREAM_KEY });
  await useTestTable({
    TOLLGATE_LOCAL_SECRETS: JSON.stringify(mockLocalSecrets()),
    TOLLGATE_CACHE_TTL_SECONDS: '60',
    TOLLGATE_SPEND_SHARDS: 'team=4,organization=4,key=2',
  });
  await seedModels(mockModels(mock.url));
});
afterAll(() => mock.close());

describe('a warm priced request reads nothing', () => {
  it('after the first call, every later call on this instance makes no store read, and the cache equals the table', async () => {
    await seedOrg({ organization_id: 'o-warm', max_budget: 100, budget_duration: '1d' });
    await seedTeam({ team_id: 't-warm', organization_id: 'o-warm', max_budget: 100, budget_duration: '1d' });
    await seedUser({ user_id: 'u-warm' });
    const { key, record } = await seedKey({ team_id: 't-warm', user_id: 'u-warm', organization_id: 'o-warm', max_budget: 50 });
    const loader = entityReader().loader;
    const first = await call({ path: '/v1/chat/completions', headers: bearer(key), body: chat('gpt-4o-mini', 'warm up') });
    expect(first.status).toBe(200);
    for (let i = 0; i < 8; i++) {
      const before = loader.stats.batches;
      const res = await call({ path: '/v1/chat/completions', headers: bearer(key), body: chat('gpt-4o-mini', `call ${i}`) });
      expect(res.status).toBe(200);
      expect(loader.stats.batches - before).toBe(0);
    }
    // What this instance believes is exactly what the table holds, counters shard for shard.
    const cachedTeam = await entityReader().team('t-warm');
    const cachedKey = await entityReader().key(record.token);
    const tableTeam = await countersOf(refs.team('t-warm'), '1d');
    const tableKey = await countersOf(refs.key(record.token));
    expect(Math.round((cachedTeam?.spend ?? 0) * 1e9)).toBe(tableTeam.spend);
    expect(Math.round((cachedKey?.spend ?? 0) * 1e9)).toBe(tableKey.spend);
    expect(tableTeam.spend).toBeGreaterThan(0);
  });
});
