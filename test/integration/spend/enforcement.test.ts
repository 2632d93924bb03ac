/**
 * The two enforcement modes under a burst, through the authorizer and the llm function in
 * process, against DynamoDB Local and the mock upstream: 200 concurrent requests on a team
 * budget that fits exactly 50 of them.
 *  - strict: at most 50 are admitted (each reservation is the call's estimate, an upper bound
 *    here, so the documented excess is 0), and the spend is exactly the sum of what they cost;
 *  - fast: the overshoot is measured and written down (docs/spend.md), the spend still exact.
 * Then what a strict call does when it does not complete: an upstream error, an unreachable
 * upstream each release the whole reservation; a client that goes away mid-stream settles what it
 * was sent and releases the rest.
 */

import { randomUUID } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MOCK_UPSTREAM_KEY, mockLocalSecrets, mockModels } from '../../../infra/local/mock-models.js';
import { type MockUpstream, startMockUpstream } from '../../../infra/local/mock-upstream.js';
import { configureApp, entityReader } from '../../../lib/app/index.js';
import { costNanos, nanosToDecimal } from '../../../lib/domain/cost.js';
import type { ModelRecord } from '../../../lib/domain/records.js';
import { estimateUsage } from '../../../lib/llm/estimate.js';
import { matchRoute } from '../../../lib/routes.js';
import { refs } from '../../../lib/store/keys.js';
import { bearer } from '../../support/authorizer.js';
import { seedKey, seedTeam } from '../../support/seed.js';
import { countersOf, readItem } from '../../support/spend.js';
import { reconfigure, type TestTable, useTestTable } from '../../support/table.js';
import { call, chat, openStream, seedModels } from '../llm/harness.js';

let mock: MockUpstream;
let table: TestTable;
let gpt4o: ModelRecord;
const env = () => ({
  TOLLGATE_LOCAL_SECRETS: JSON.stringify(mockLocalSecrets()),
  TOLLGATE_MAX_BUDGET: '1000',
  TOLLGATE_BUDGET_DURATION: '1mo',
});

/**
 * 200 requests in flight in one process share one client, where in Lambda they would be 200
 * instances with a client each: sockets and patience enough that none waits out the
 * production client's 1 s connection timeout behind the others (DynamoDB Local is slow).
 */
function burstClient(endpoint: string): DynamoDBDocumentClient {
  const base = new DynamoDBClient({
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    requestHandler: { connectionTimeout: 30_000, requestTimeout: 30_000, httpAgent: { maxSockets: 400 } },
  });
  return DynamoDBDocumentClient.from(base, { marshallOptions: { removeUndefinedValues: true, convertClassInstanceToMap: false } });
}

beforeAll(async () => {
  mock = await startMockUpstream({ apiKey: MOCK_UPSTREAM_KEY });
  table = await useTestTable(env());
  configureApp({ documentClient: burstClient(table.endpoint) });
  configureApp({ entityReader: undefined });
  const models = mockModels(mock.url);
  gpt4o = models.find((m) => m.model_name === 'gpt-4o') as ModelRecord;
  await seedModels([
    ...models,
    { ...gpt4o, model_name: 'gpt-4o-failing', upstream_model: 'gpt-4o+status=500', aliases: [] },
    { ...gpt4o, model_name: 'gpt-4o-slow', upstream_model: 'gpt-4o+delay=40', aliases: [] },
    { ...gpt4o, model_name: 'gpt-4o-gone', upstream_base_url: 'http://127.0.0.1:9/v1', aliases: [] },
  ]);
});
afterAll(async () => {
  await mock.close();
});

/** 40 words in, 40 words out (max_tokens): every call costs the same. */
const BODY = chat('gpt-4o', Array.from({ length: 40 }, (_, i) => `w${i % 10}`).join(' '), { max_tokens: 40 });
const COST = () => costNanos({ inputTokens: 40, outputTokens: 40 }, gpt4o);
const ESTIMATE = (body: Record<string, unknown> = BODY) =>
  costNanos(estimateUsage({ body: { kind: 'json', value: body }, route: matchRoute('POST', '/v1/chat/completions')!.route }, 4096), gpt4o);
const BURST = 200;
const FITS = 50;

async function burst(teamId: string, enforcement: 'fast' | 'strict', concurrency = BURST) {
  await seedTeam({ team_id: teamId, max_budget: Number(nanosToDecimal(FITS * COST())), enforcement });
  const { key } = await seedKey({ team_id: teamId });
  const statuses: number[] = [];
  const codes = new Set<string>();
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < BURST) {
        next++;
        const res = await call({ path: '/v1/chat/completions', headers: bearer(key), body: BODY });
        statuses.push(res.status);
        if (res.status !== 200) codes.add(res.json?.error?.code);
      }
    }),
  );
  return { admitted: statuses.filter((s) => s === 200).length, statuses, codes, counters: await countersOf(refs.team(teamId), undefined) };
}

describe(`${BURST} concurrent requests on a budget that fits ${FITS}`, () => {
  it('strict: at most 50 admitted, the spend exactly their cost, nothing left reserved', async () => {
    const cost = COST();
    expect(ESTIMATE()).toBeGreaterThanOrEqual(cost);
    const { admitted, statuses, codes, counters } = await burst('t-strict', 'strict');
    expect(statuses.filter((s) => s !== 200 && s !== 403)).toEqual([]);
    expect([...codes]).toEqual(['team_budget_exceeded']);
    expect(admitted).toBeLessThanOrEqual(FITS);
    // Never fewer than the estimates alone allow, even with every call in flight at once.
    expect(admitted).toBeGreaterThanOrEqual(Math.floor((FITS * cost) / ESTIMATE()));
    expect(counters).toEqual({ spend: admitted * cost, committed: admitted * cost });
    // The proxy item was reserved on too, and released to exactly what was spent.
    const global = await countersOf(refs.globalSpend(), undefined);
    expect(global.committed).toBe(global.spend);
    console.info(
      `strict burst: ${admitted} of ${BURST} admitted on a budget of ${FITS} (estimate ${(ESTIMATE() / cost).toFixed(2)}x the cost), overshoot 0`,
    );
  });

  it('fast: the overshoot, measured; the spend still exactly what was admitted', async () => {
    const cost = COST();
    const all = await burst('t-fast', 'fast');
    expect(all.statuses.every((s) => s === 200 || s === 403)).toBe(true);
    expect(all.admitted).toBeGreaterThanOrEqual(FITS);
    expect(all.counters).toEqual({ spend: all.admitted * cost, committed: all.admitted * cost });
    // The same burst 20 at a time: this instance sees its own settlements at once, so what
    // overshoots is about the requests in flight.
    const waves = await burst('t-fast-20', 'fast', 20);
    expect(waves.counters.spend).toBe(waves.admitted * cost);
    expect(waves.admitted).toBeLessThan(all.admitted);
    console.info(
      `fast burst: ${all.admitted} of ${BURST} admitted at once (overshoot ${all.admitted - FITS} requests, ${((all.admitted / FITS) * 100).toFixed(0)}% of the budget); ` +
        `20 at a time: ${waves.admitted} admitted (overshoot ${waves.admitted - FITS})`,
    );
  });
});

describe('a strict call that does not complete releases its whole reservation', () => {
  async function strictKey(teamId: string) {
    await seedTeam({ team_id: teamId, max_budget: 10, enforcement: 'strict' });
    return (await seedKey({ team_id: teamId })).key;
  }

  it('an upstream error (passed through)', async () => {
    const key = await strictKey('t-err');
    const res = await call({
      path: '/v1/chat/completions',
      headers: bearer(key),
      body: { ...BODY, model: 'gpt-4o-failing' },
      requestId: 'req-err',
    });
    expect(res.status).toBe(500);
    expect(await countersOf(refs.team('t-err'))).toEqual({ spend: 0, committed: 0 });
    expect(await readItem(refs.settlement('req-err'))).toMatchObject({ state: 'settled', cost: 0, estimate: expect.any(Number) });
  });

  it('an upstream that cannot be reached (502)', async () => {
    const key = await strictKey('t-unreachable');
    const res = await call({ path: '/v1/chat/completions', headers: bearer(key), body: { ...BODY, model: 'gpt-4o-gone' } });
    expect(res.status).toBe(502);
    expect(await countersOf(refs.team('t-unreachable'))).toEqual({ spend: 0, committed: 0 });
  });

  it('a client that goes away mid-stream', async () => {
    const key = await strictKey('t-gone');
    const opts = {
      path: '/v1/chat/completions',
      headers: bearer(key),
      body: { ...BODY, model: 'gpt-4o-slow', stream: true },
      requestId: `req-gone-${randomUUID()}`,
    };
    const { status, first, body } = await openStream(opts);
    expect(status).toBe(200);
    expect(first).not.toBeNull();
    // Reserved while the stream runs...
    expect((await countersOf(refs.team('t-gone'))).committed).toBe(ESTIMATE(opts.body));
    body.destroy();
    await new Promise((r) => body.once('close', r));
    await expect.poll(async () => (await readItem(refs.settlement(opts.requestId)))?.state, { timeout: 5000 }).toBe('settled');
    // ...settled when the client left: what it was sent, counted (found by review: it was free),
    // and the rest of the estimate released.
    const counters = await countersOf(refs.team('t-gone'));
    expect(counters.spend).toBeGreaterThan(0);
    expect(counters.spend).toBeLessThan(ESTIMATE(opts.body));
    expect(counters.committed).toBe(counters.spend);
    expect((await readItem(refs.settlement(opts.requestId)))?.usage_source).toBe('counted');
  });

  it('a completed stream settles what it cost and releases the rest', async () => {
    const key = await strictKey('t-stream');
    const res = await call({ path: '/v1/chat/completions', headers: bearer(key), body: { ...BODY, stream: true } });
    expect(res.status).toBe(200);
    expect(await countersOf(refs.team('t-stream'))).toEqual({ spend: COST(), committed: COST() });
  });
});

describe('a strict reservation reads a changed budget again, never ignores it', () => {
  it('denies once the new budget leaves no room for the estimate, though the cached one would', async () => {
    await seedTeam({ team_id: 't-lowered', max_budget: 10, enforcement: 'strict' });
    const { key } = await seedKey({ team_id: 't-lowered' });
    expect((await call({ path: '/v1/chat/completions', headers: bearer(key), body: BODY })).status).toBe(200);
    await entityReader().team('t-lowered');
    // Lowered behind the cache's back (another instance's admin call): spent < new max < spent + estimate.
    const newMax = Number(nanosToDecimal(COST() + Math.floor(ESTIMATE() / 2)));
    await seedTeam({
      team_id: 't-lowered',
      max_budget: newMax,
      enforcement: 'strict',
      spend: Number(nanosToDecimal(COST())),
      committed: Number(nanosToDecimal(COST())),
    });
    expect((await entityReader().team('t-lowered'))?.max_budget).toBe(10);
    const res = await call({ path: '/v1/chat/completions', headers: bearer(key), body: BODY });
    expect(res.status).toBe(403);
    expect(res.json.error).toMatchObject({ code: 'team_budget_exceeded', type: 'budget_exceeded' });
    expect(res.json.error.message).toContain('may cost up to');
    expect(await countersOf(refs.team('t-lowered'))).toEqual({ spend: COST(), committed: COST() });
  });

  it('admits under a raised budget the cache has not seen yet', async () => {
    await seedTeam({ team_id: 't-raised', max_budget: Number(nanosToDecimal(COST() + Math.floor(ESTIMATE() / 2))), enforcement: 'strict' });
    const { key } = await seedKey({ team_id: 't-raised' });
    expect((await call({ path: '/v1/chat/completions', headers: bearer(key), body: BODY })).status).toBe(200);
    await entityReader().team('t-raised');
    await seedTeam({
      team_id: 't-raised',
      max_budget: 10,
      enforcement: 'strict',
      spend: Number(nanosToDecimal(COST())),
      committed: Number(nanosToDecimal(COST())),
    });
    expect((await call({ path: '/v1/chat/completions', headers: bearer(key), body: BODY })).status).toBe(200);
    expect((await countersOf(refs.team('t-raised'))).spend).toBe(2 * COST());
  });
});

describe('the mode of a request', () => {
  it('is the default (TOLLGATE_ENFORCEMENT) when key, team and organization say nothing; an explicit fast wins over it', async () => {
    reconfigure(table.config, { ...env(), TOLLGATE_ENFORCEMENT: 'strict' });
    try {
      await seedTeam({ team_id: 't-default', max_budget: 10 });
      const { key } = await seedKey({ team_id: 't-default' });
      const { key: fastKey } = await seedKey({ team_id: 't-default', enforcement: 'fast' });
      expect((await call({ path: '/v1/chat/completions', headers: bearer(key), body: BODY, requestId: 'req-default' })).status).toBe(200);
      expect((await call({ path: '/v1/chat/completions', headers: bearer(fastKey), body: BODY, requestId: 'req-fast-key' })).status).toBe(
        200,
      );
      expect(await readItem(refs.settlement('req-default'))).toMatchObject({ state: 'settled', estimate: ESTIMATE() / 1e9 });
      expect((await readItem(refs.settlement('req-fast-key')))?.estimate).toBeUndefined();
    } finally {
      reconfigure(table.config, env());
    }
  });
});

describe('strict settings from the environment', () => {
  it('TOLLGATE_STRICT_DEFAULT_MAX_TOKENS sizes the estimate, TOLLGATE_RESERVATION_TTL_SECONDS the sweep deadline, TOLLGATE_SETTLEMENT_TTL_SECONDS the record', async () => {
    reconfigure(table.config, {
      ...env(),
      TOLLGATE_STRICT_DEFAULT_MAX_TOKENS: '512',
      TOLLGATE_RESERVATION_TTL_SECONDS: '120',
      TOLLGATE_SETTLEMENT_TTL_SECONDS: '3600',
    });
    try {
      await seedTeam({ team_id: 't-settings', max_budget: 10, enforcement: 'strict' });
      const { key } = await seedKey({ team_id: 't-settings' });
      const body = chat('gpt-4o', 'w1 w2 w3');
      expect(body).not.toHaveProperty('max_tokens');
      expect((await call({ path: '/v1/chat/completions', headers: bearer(key), body, requestId: 'req-settings' })).status).toBe(200);
      const record = (await readItem(refs.settlement('req-settings'))) as Record<string, unknown>;
      expect(record).toMatchObject({
        state: 'settled',
        estimate:
          costNanos(
            estimateUsage({ body: { kind: 'json', value: body }, route: matchRoute('POST', '/v1/chat/completions')!.route }, 512),
            gpt4o,
          ) / 1e9,
      });
      const created = Date.parse(record.created_at as string);
      expect(Date.parse(record.expires_at as string) - created).toBe(120_000);
      expect(record.ttl).toBe(Math.floor(created / 1000) + 3600);
    } finally {
      reconfigure(table.config, env());
    }
  });
});

describe('a call across a window boundary', () => {
  it('counts in the window in which it started, its strict reservation and its settlement alike', async () => {
    const MIDNIGHT = Date.UTC(2026, 10, 28);
    // The llm function's clock: the call starts 1 ms before midnight, everything after is past it.
    let reads = 0;
    configureApp({ clock: () => (reads++ === 0 ? MIDNIGHT - 1 : MIDNIGHT + 60_000) });
    try {
      await seedTeam({ team_id: 't-boundary', max_budget: 10, budget_duration: '1d', enforcement: 'strict' });
      const { key } = await seedKey({ team_id: 't-boundary' });
      expect((await call({ path: '/v1/chat/completions', headers: bearer(key), body: BODY, requestId: 'req-boundary' })).status).toBe(200);
      expect(await readItem(refs.settlement('req-boundary'))).toMatchObject({
        state: 'settled',
        created_at: new Date(MIDNIGHT - 1).toISOString(),
      });
      expect((await countersOf(refs.team('t-boundary'), '1d', MIDNIGHT - 1)).window).toEqual({ spend: COST(), committed: COST() });
      expect((await countersOf(refs.team('t-boundary'), '1d', MIDNIGHT)).window).toEqual({ spend: 0, committed: 0 });
    } finally {
      configureApp({ clock: undefined, spendSettler: undefined, fetch: undefined });
    }
  });
});
