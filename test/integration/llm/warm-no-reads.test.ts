/**
 * No re-reads (issue 11): a settlement updates this instance's cached view by the amounts it
 * wrote, so the next priced request on the same instance reads nothing, and the cached view
 * equals what the table holds. Other instances see the change within the cache TTL, as before.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MOCK_UPSTREAM_KEY, mockLocalSecrets, mockModels } from '../../../infra/local/mock-models.js';
import { type MockUpstream, startMockUpstream } from '../../../infra/local/mock-upstream.js';
import { documentClient, entityReader, spendSettler } from '../../../lib/app/index.js';
import { config } from '../../../lib/config.js';
import type { Caller } from '../../../lib/domain/caller.js';
import { spendTargets } from '../../../lib/spend/targets.js';
import { tableName } from '../../../lib/store/client.js';
import { refs } from '../../../lib/store/keys.js';
import { DynamoSettler, type Settlement } from '../../../lib/store/spend-ledger.js';
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

describe('a settlement whose outcome this instance cannot know leaves no stale view behind', () => {
  const settlementOf = async (teamId: string, requestId: string): Promise<Settlement> => {
    const team = await entityReader().team(teamId);
    const caller: Caller = { principal: 'jwt', role: 'team', teamId, state: { team } };
    const targets = spendTargets(caller, { now: Date.now() }).filter((t) => t.entity === 'team');
    return { requestId, at: Date.now(), costNanos: 7_000, model: 'gpt-4o', targets };
  };

  it('a settlement the table already holds (an earlier attempt landed) makes this instance read the team again', async () => {
    await seedTeam({ team_id: 't-dup', max_budget: 100 });
    const s = await settlementOf('t-dup', `req-dup-${randomUUID()}`);
    expect((await entityReader().team('t-dup'))?.spend).toBe(0);
    // Another writer (this call's first attempt whose answer was lost, a replay) landed it first.
    await new DynamoSettler(documentClient(), tableName(), { ttlSeconds: 3600, shards: config().spendShards }).settle(s);
    expect((await entityReader().team('t-dup'))?.spend).toBe(0);
    expect(await spendSettler().settle(s)).toEqual({ status: 'duplicate' });
    expect((await entityReader().team('t-dup'))?.spend).toBeCloseTo(7e-6, 12);
  });

  it('a commit whose answer is lost tells the cache which items to read again, settling or reserving', async () => {
    await seedTeam({ team_id: 't-lost', max_budget: 100 });
    const s = await settlementOf('t-lost', `req-lost-${randomUUID()}`);
    const real = documentClient();
    // The transaction lands, its answer does not (a timeout after the commit).
    const lossy = {
      send: async (command: unknown) => {
        await real.send(command as never);
        throw new Error('socket hang up');
      },
    };
    const uncertain: string[] = [];
    const settler = new DynamoSettler(lossy as never, tableName(), {
      ttlSeconds: 3600,
      shards: config().spendShards,
      onChanged: () => uncertain.push('changed'),
      onUncertain: (refs) => uncertain.push(...refs.map((r) => r.PK)),
    });
    await expect(settler.settle(s)).rejects.toThrow();
    await expect(
      settler.reserve({ ...s, requestId: `${s.requestId}-r`, estimateNanos: 1, expiresAt: Date.now() + 60_000 }),
    ).rejects.toThrow();
    expect(uncertain.length).toBeGreaterThanOrEqual(1);
    expect(uncertain).not.toContain('changed');
    // The team item and its 3 other shards (TOLLGATE_SPEND_SHARDS team=4), for each of the two calls.
    expect(uncertain).toHaveLength(8);
    expect(uncertain.every((pk) => pk.startsWith(refs.team('t-lost').PK))).toBe(true);
  });
});
