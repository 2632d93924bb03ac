/**
 * Spend: after N sequential calls (plain, streamed, embeddings) every counter of the chain holds
 * exactly the sum of the calls' costs, lifetime and current window; a retried settlement counts
 * once; a deleted entity is not resurrected; this instance sees its own settlements at once.
 * Counters are read summed over their shards (test/support/spend).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { MOCK_UPSTREAM_KEY, mockLocalSecrets, mockModels } from '../../../infra/local/mock-models.js';
import { countTokens, type MockUpstream, startMockUpstream } from '../../../infra/local/mock-upstream.js';
import { configureApp, documentClient, entityReader } from '../../../lib/app/index.js';
import { costNanos, type Usage } from '../../../lib/domain/cost.js';
import type { ModelRecord } from '../../../lib/domain/records.js';
import { tableName } from '../../../lib/store/client.js';
import { type ItemRef, refs } from '../../../lib/store/keys.js';
import { DynamoSettler, type SpendTarget } from '../../../lib/store/spend-ledger.js';
import { bearer } from '../../support/authorizer.js';
import { seedKey, seedMember, seedOrg, seedTeam, seedUser } from '../../support/seed.js';
import { countersOf, readItem, spendNanos, windowNanos } from '../../support/spend.js';
import { useTestTable } from '../../support/table.js';
import { call, chat, seedModels, sseData } from './harness.js';

let mock: MockUpstream;
let models: Record<string, ModelRecord>;

beforeAll(async () => {
  mock = await startMockUpstream({ apiKey: MOCK_UPSTREAM_KEY });
  await useTestTable({
    TOLLGATE_LOCAL_SECRETS: JSON.stringify(mockLocalSecrets()),
    TOLLGATE_MAX_BUDGET: '1000',
    TOLLGATE_BUDGET_DURATION: '1mo',
  });
  const list = mockModels(mock.url);
  await seedModels(list);
  models = Object.fromEntries(list.map((m) => [m.model_name, m]));
});
afterAll(async () => {
  await mock.close();
});
afterEach(() => configureApp({ clock: undefined, spendSettler: undefined, fetch: undefined }));

const read = readItem;

describe('spend after N sequential calls equals the sum of their costs on every counter', () => {
  it('moves key, team, member, organization, end user and proxy, lifetime and window, to the nano-dollar', async () => {
    await seedOrg({ organization_id: 'o-s', budget_duration: '1mo' });
    await seedTeam({ team_id: 't-s', organization_id: 'o-s', budget_duration: '1d', max_budget: 100 });
    await seedUser({ user_id: 'u-s' });
    await seedMember({ team_id: 't-s', user_id: 'u-s', budget_duration: '7d' });
    const { key, record } = await seedKey({ team_id: 't-s', user_id: 'u-s', budget_duration: '30d' });

    const N = 12;
    let expected = 0;
    for (let i = 0; i < N; i++) {
      const words = Array.from({ length: 3 + ((i * 7) % 11) }, (_, j) => `w${j}`).join(' ');
      let usage: Usage;
      let modelName: string;
      if (i % 3 === 0) {
        modelName = 'gpt-4o';
        const res = await call({ path: '/v1/chat/completions', headers: bearer(key), body: chat(modelName, words, { user: 'eu-spend' }) });
        expect(res.status).toBe(200);
        usage = { inputTokens: res.json.usage.prompt_tokens, outputTokens: res.json.usage.completion_tokens };
      } else if (i % 3 === 1) {
        // Streamed without asking for usage: Tollgate asks for it, counts it, and hides it.
        modelName = 'gpt-4o-mini';
        const res = await call({
          path: '/v1/chat/completions',
          headers: bearer(key),
          body: chat(modelName, words, { user: 'eu-spend', stream: true }),
        });
        expect(res.status).toBe(200);
        expect(sseData(res.text).some((d) => d.includes('"usage":{'))).toBe(false);
        usage = { inputTokens: countTokens(words), outputTokens: 2 + countTokens(words) };
      } else {
        modelName = 'text-embedding-3-small';
        const res = await call({
          path: '/v1/embeddings',
          headers: bearer(key),
          body: { model: modelName, input: words, user: 'eu-spend' },
        });
        expect(res.status).toBe(200);
        usage = { inputTokens: res.json.usage.prompt_tokens, outputTokens: 0 };
      }
      expected += costNanos(usage, models[modelName] as ModelRecord);
    }
    expect(expected).toBeGreaterThan(0);

    const chain: [string, ItemRef, string | undefined][] = [
      ['key', refs.key(record.token), '30d'],
      ['team', refs.team('t-s'), '1d'],
      ['member', refs.member('t-s', 'u-s'), '7d'],
      ['organization', refs.org('o-s'), '1mo'],
      ['end user', refs.endUser('eu-spend'), undefined],
      ['proxy', refs.globalSpend(), '1mo'],
    ];
    for (const [name, ref, duration] of chain) {
      // Committed moves with every settlement in fast mode too (strict reservations check it).
      const window = duration ? { window: { spend: expected, committed: expected } } : {};
      expect({ name, ...(await countersOf(ref, duration)) }).toEqual({ name, spend: expected, committed: expected, ...window });
    }
    // Calls made inside a team are the member's; the user's own counter is for calls without one.
    expect(await spendNanos(refs.user('u-s'))).toBe(0);
    // The end user the `user` field named did not exist: it now does, as a listable record.
    expect(await read(refs.endUser('eu-spend'))).toMatchObject({ kind: 'end_user', user_id: 'eu-spend', GSI1PK: 'END_USER' });
  });

  it("moves a personal key's user", async () => {
    await seedUser({ user_id: 'u-personal', budget_duration: '1d' });
    const { key } = await seedKey({ user_id: 'u-personal' });
    const res = await call({ path: '/v1/chat/completions', headers: bearer(key), body: chat('gpt-4o', 'personal call') });
    const cost = costNanos(
      { inputTokens: res.json.usage.prompt_tokens, outputTokens: res.json.usage.completion_tokens },
      models['gpt-4o'] as ModelRecord,
    );
    expect(await spendNanos(refs.user('u-personal'))).toBe(cost);
    expect(await windowNanos(refs.user('u-personal'), '1d')).toBe(cost);
  });
});

describe('a comma list', () => {
  it('settles every model it called, each under its own request id', async () => {
    await seedTeam({ team_id: 't-fan' });
    const { key } = await seedKey({ team_id: 't-fan' });
    const res = await call({
      path: '/v1/chat/completions',
      headers: bearer(key),
      body: chat('gpt-4o,gpt-4o-mini', 'fan out to both'),
      requestId: 'req-fan',
    });
    expect(res.status).toBe(200);
    const [big, small] = res.json as { usage: { prompt_tokens: number; completion_tokens: number } }[];
    const cost = (u: { prompt_tokens: number; completion_tokens: number }, m: string) =>
      costNanos({ inputTokens: u.prompt_tokens, outputTokens: u.completion_tokens }, models[m] as ModelRecord);
    expect(await spendNanos(refs.team('t-fan'))).toBe(cost(big!.usage, 'gpt-4o') + cost(small!.usage, 'gpt-4o-mini'));
    expect(await read(refs.settlement('req-fan#0'))).toMatchObject({ model: 'gpt-4o' });
    expect(await read(refs.settlement('req-fan#1'))).toMatchObject({ model: 'gpt-4o-mini' });
  });
});

describe('idempotency', () => {
  it('counts a retried invocation (same request id) once', async () => {
    await seedTeam({ team_id: 't-retry' });
    const { key } = await seedKey({ team_id: 't-retry' });
    const opts = {
      path: '/v1/chat/completions',
      headers: bearer(key),
      body: chat('gpt-4o', 'retry me please'),
      requestId: 'req-retried-1',
    };
    const first = await call(opts);
    const second = await call(opts);
    expect(second.status).toBe(200);
    const cost = costNanos(
      { inputTokens: first.json.usage.prompt_tokens, outputTokens: first.json.usage.completion_tokens },
      models['gpt-4o'] as ModelRecord,
    );
    expect(await spendNanos(refs.team('t-retry'))).toBe(cost);
    expect(await read(refs.settlement('req-retried-1'))).toMatchObject({ kind: 'settlement', model: 'gpt-4o', cost: cost / 1e9 });
  });

  it('reports a duplicate settlement and changes nothing', async () => {
    await seedTeam({ team_id: 't-dup' });
    const settler = new DynamoSettler(documentClient(), tableName(), { ttlSeconds: 3600 });
    const s = {
      requestId: 'req-dup',
      at: Date.now(),
      costNanos: 1_234_567,
      model: 'gpt-4o',
      targets: [{ entity: 'team', id: 't-dup', ref: refs.team('t-dup') }] satisfies SpendTarget[],
    };
    expect((await settler.settle(s)).status).toBe('settled');
    expect(await settler.settle(s)).toEqual({ status: 'duplicate' });
    expect(await spendNanos(refs.team('t-dup'))).toBe(1_234_567);
    const ttl = Number((await read(refs.settlement('req-dup')))?.ttl);
    expect(ttl - Math.floor(s.at / 1000)).toBe(3600);
  });

  it('does not resurrect an entity deleted before settlement, and still moves the rest', async () => {
    await seedTeam({ team_id: 't-kept' });
    const settler = new DynamoSettler(documentClient(), tableName(), { ttlSeconds: 3600 });
    const outcome = await settler.settle({
      requestId: 'req-gone',
      at: Date.now(),
      costNanos: 5000,
      model: 'gpt-4o',
      targets: [
        { entity: 'key', id: 'sk-...gone', ref: refs.key('deadbeef') },
        { entity: 'team', id: 't-kept', ref: refs.team('t-kept') },
      ],
    });
    expect(outcome).toMatchObject({ status: 'settled', skipped: [{ entity: 'key' }], moved: [{ entity: 'team' }] });
    expect(await read(refs.key('deadbeef'))).toBeUndefined();
    expect(await spendNanos(refs.team('t-kept'))).toBe(5000);
  });

  it('keeps concurrent settlements on the same counters exact (conflicts are retried)', async () => {
    await seedTeam({ team_id: 't-conc' });
    const settler = new DynamoSettler(documentClient(), tableName(), { ttlSeconds: 3600 });
    const costs = Array.from({ length: 20 }, (_, i) => 1_000_003 * (i + 1));
    await Promise.all(
      costs.map((c, i) =>
        settler.settle({
          requestId: `req-conc-${i}`,
          at: Date.now(),
          costNanos: c,
          model: 'gpt-4o',
          targets: [{ entity: 'team', id: 't-conc', ref: refs.team('t-conc') }],
        }),
      ),
    );
    expect(await spendNanos(refs.team('t-conc'))).toBe(costs.reduce((a, b) => a + b, 0));
  });
});

describe('this instance sees its own settlements', () => {
  it('denies the next call once a settlement spent the budget, without waiting for the cache TTL', async () => {
    await seedTeam({ team_id: 't-tiny', max_budget: 0.00001 });
    const { key } = await seedKey({ team_id: 't-tiny' });
    expect((await call({ path: '/v1/chat/completions', headers: bearer(key), body: chat('gpt-4o', 'spend it all') })).status).toBe(200);
    expect((await entityReader().team('t-tiny'))?.spend).toBeGreaterThan(0.00001);
    const next = await call({ path: '/v1/chat/completions', headers: bearer(key), body: chat('gpt-4o', 'again') });
    expect(next.status).toBe(403);
    expect(next.json.error.code).toBe('team_budget_exceeded');
  });

  it('still delivers the answer when settlement keeps failing (and counts nothing)', async () => {
    await seedTeam({ team_id: 't-unsettled' });
    const { key } = await seedKey({ team_id: 't-unsettled' });
    let attempts = 0;
    configureApp({
      spendSettler: {
        settle: async () => {
          attempts++;
          throw Object.assign(new Error('down'), { name: 'ServiceUnavailable' });
        },
        reserve: async () => {
          throw new Error('fast mode never reserves');
        },
      },
    });
    const res = await call({ path: '/v1/chat/completions', headers: bearer(key), body: chat('gpt-4o', 'x') });
    expect(res.status).toBe(200);
    expect(attempts).toBe(3);
    expect(await spendNanos(refs.team('t-unsettled'))).toBe(0);
  });
});
