import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { MOCK_UPSTREAM_KEY, mockLocalSecrets, mockModels } from '../../../infra/local/mock-models.js';
import { type MockUpstream, startMockUpstream } from '../../../infra/local/mock-upstream.js';
import { configureApp } from '../../../lib/app/index.js';
import { MINUTE_MS } from '../../../lib/domain/rate-limits.js';
import type { ModelRecord } from '../../../lib/domain/records.js';
import { refs } from '../../../lib/store/keys.js';
import { rateRefs } from '../../../lib/store/rate-limits.js';
import { bearer } from '../../support/authorizer.js';
import { seedKey, seedMember, seedOrg, seedTeam, seedUser } from '../../support/seed.js';
import { readItem } from '../../support/spend.js';
import { useTestTable } from '../../support/table.js';
import { type CallResult, call, chat, openStream, seedModels } from './harness.js';

let mock: MockUpstream;
let base: ModelRecord;
// A fixed clock, moved on by hand: every call of a test lands in the minute the test chose.
let now = Math.floor(Date.now() / MINUTE_MS) * MINUTE_MS + 5_000;

beforeAll(async () => {
  mock = await startMockUpstream({ apiKey: MOCK_UPSTREAM_KEY });
  // Hundreds of calls at once on a busy machine: these tests are about exactness, not store deadlines.
  await useTestTable({ TOLLGATE_LOCAL_SECRETS: JSON.stringify(mockLocalSecrets()), TOLLGATE_STORE_TIMEOUT_MS: '10000' });
  configureApp({ clock: () => now });
  base = mockModels(mock.url).find((m) => m.model_name === 'gpt-4o-mini') as ModelRecord;
  const variant = (name: string, extra: Partial<ModelRecord> = {}) => ({
    ...base,
    model_name: name,
    aliases: [],
    access_groups: [],
    ...extra,
  });
  await seedModels([
    base,
    variant('slow', { upstream_model: 'gpt-4o-mini+delay=150' }),
    variant('limited-model', { rpm: 3 }),
    variant('tpm-model', { tpm: 10 }),
    variant('other'),
    variant('failing', { upstream_model: 'gpt-4o-mini+status=500' }),
  ]);
});
afterAll(() => mock.close());
beforeEach(() => {
  now += MINUTE_MS;
});

const ask = (key: string, model = 'gpt-4o-mini', extra: Record<string, unknown> = {}): Promise<CallResult> =>
  call({ path: '/v1/chat/completions', headers: bearer(key), body: chat(model, 'Hello there', extra) });

const statuses = (results: CallResult[]) => results.map((r) => r.status).sort();
const count = (results: CallResult[], status: number) => results.filter((r) => r.status === status).length;

describe('requests per minute', () => {
  it('200 concurrent calls on a key with rpm_limit 50 admit exactly 50', async () => {
    const { key } = await seedKey({ rpm_limit: 50 });
    const results = await Promise.all(Array.from({ length: 200 }, () => ask(key)));
    expect(count(results, 200)).toBe(50);
    expect(results.filter((r) => r.status !== 200 && r.status !== 429).map((r) => r.text)).toEqual([]);
    const refused = results.find((r) => r.status === 429) as CallResult;
    expect(refused.json.error).toMatchObject({ type: 'rate_limit_error', code: 'key_rpm_exceeded', param: null });
    expect(refused.json.error.message).toMatch(/reached its limit of 50 requests per minute/);
    const resetS = Math.ceil((MINUTE_MS - (now % MINUTE_MS)) / 1000);
    expect(refused.headers).toMatchObject({
      'retry-after': String(resetS),
      'x-ratelimit-limit-requests': '50',
      'x-ratelimit-remaining-requests': '0',
      'x-ratelimit-reset-requests': `${resetS}s`,
    });
    // Every admitted answer says how many remain: 49 down to 0, each once.
    const remaining = results.filter((r) => r.status === 200).map((r) => Number(r.headers['x-ratelimit-remaining-requests']));
    expect(remaining.sort((a, b) => a - b)).toEqual(Array.from({ length: 50 }, (_, i) => i));
  });

  it('the next minute admits again; a refused call is not counted', async () => {
    const { key } = await seedKey({ rpm_limit: 2 });
    expect(statuses(await Promise.all([ask(key), ask(key), ask(key)]))).toEqual([200, 200, 429]);
    now += MINUTE_MS;
    const again = await ask(key);
    expect(again.status).toBe(200);
    expect(again.headers['x-ratelimit-remaining-requests']).toBe('1');
  });

  it('rpm_limit 0 admits nothing and writes nothing', async () => {
    const { key, record } = await seedKey({ rpm_limit: 0 });
    expect((await ask(key)).json.error.code).toBe('key_rpm_exceeded');
    expect(await readItem(rateRefs.window({ owner: 'key', id: record.token }, Math.floor(now / MINUTE_MS)))).toBeUndefined();
  });
});

describe('every entity kind, and the tightest names itself', () => {
  const kinds = ['key', 'user', 'team', 'team_member', 'organization'] as const;
  const fields = { rpm: 'rpm_limit', tpm: 'tpm_limit', parallel: 'max_parallel_requests' } as const;
  const cases = kinds.flatMap((kind) => (['rpm', 'tpm', 'parallel'] as const).map((limit) => [kind, limit] as const));
  it.each(cases)('a %s %s limit is enforced on its calls', async (kind, limit) => {
    const id = `${kind}-${limit}-${now}`;
    const limited = { [fields[limit]]: 1 };
    const on = (k: (typeof kinds)[number]) => (k === kind ? limited : {});
    await seedOrg({ organization_id: `o-${id}`, ...on('organization') });
    await seedTeam({ team_id: `t-${id}`, organization_id: `o-${id}`, ...on('team') });
    await seedUser({ user_id: `u-${id}`, user_role: 'internal_user', ...on('user') });
    await seedMember({ team_id: `t-${id}`, user_id: `u-${id}`, role: 'user', ...on('team_member') });
    const { key } = await seedKey({ team_id: `t-${id}`, user_id: `u-${id}`, organization_id: `o-${id}`, ...on('key') }, { member: false });
    // rpm 1: the second call of the minute is refused. tpm 1: the first call's 6 tokens fill the
    // minute, so the next is refused. parallel 1: of two slow calls at once, one is refused.
    const [a, b] = limit === 'parallel' ? await Promise.all([ask(key, 'slow'), ask(key, 'slow')]) : [await ask(key), await ask(key)];
    expect([a?.status, b?.status].sort()).toEqual([200, 429]);
    const code = limit === 'parallel' ? 'max_parallel_requests_exceeded' : `${kind}_${limit}_exceeded`;
    expect([a, b].find((r) => r?.status === 429)?.json.error.code).toBe(code);
  });

  it('key and team both limited: the tighter wins, whichever it is', async () => {
    await seedTeam({ team_id: `t-tight-${now}`, rpm_limit: 2 });
    const { key } = await seedKey({ team_id: `t-tight-${now}`, rpm_limit: 5 });
    // An answer reports the limit with the least remaining: the team's (1 of 2 left, the key 4 of 5).
    const first = await ask(key);
    expect(first.headers).toMatchObject({ 'x-ratelimit-limit-requests': '2', 'x-ratelimit-remaining-requests': '1' });
    // At once, never more than the team's one left; a call both refuse names the tighter, the team.
    // (Concurrent refusals count for an instant before they are taken back, so fewer may pass.)
    const results = await Promise.all(Array.from({ length: 6 }, () => ask(key)));
    expect(count(results, 200)).toBeLessThanOrEqual(1);
    expect(results.filter((r) => r.status === 429).map((r) => r.json.error.code)).toContain('team_rpm_exceeded');
    // Then one at a time: the minute's second team request is admitted exactly once in all.
    const after = [await ask(key), await ask(key)];
    expect(count(results, 200) + count(after, 200)).toBe(1);
    expect(after.find((r) => r.status === 429)?.json.error.code).toBe('team_rpm_exceeded');
  });

  it("a key's model_rpm_limit counts only that model", async () => {
    const { key } = await seedKey({ model_rpm_limit: { 'gpt-4o-mini': 1 } });
    expect((await ask(key)).status).toBe(200);
    expect((await ask(key)).json.error.code).toBe('key_model_rpm_exceeded');
    expect((await ask(key, 'other')).status).toBe(200);
  });

  it("a team's model_tpm_limit counts only that model", async () => {
    await seedTeam({ team_id: `t-mt-${now}`, model_tpm_limit: { 'gpt-4o-mini': 5 } });
    const { key } = await seedKey({ team_id: `t-mt-${now}` });
    expect((await ask(key)).status).toBe(200); // 2 + 4 tokens: the limit of 5 is reached
    expect((await ask(key)).json.error.code).toBe('team_model_tpm_exceeded');
    expect((await ask(key, 'other')).status).toBe(200);
  });

  it("a registry model's own rpm is shared by every caller", async () => {
    const keys = await Promise.all([seedKey({}), seedKey({}), seedKey({})]);
    const results = await Promise.all(keys.flatMap(({ key }) => [ask(key, 'limited-model'), ask(key, 'limited-model')]));
    expect(count(results, 200)).toBe(3);
    expect(results.find((r) => r.status === 429)?.json.error.code).toBe('model_rpm_exceeded');
  });

  it("a registry model's own tpm", async () => {
    const { key } = await seedKey({});
    expect((await ask(key, 'tpm-model')).status).toBe(200);
    expect((await ask(key, 'tpm-model')).status).toBe(200); // 12 tokens now: over 10
    expect((await ask(key, 'tpm-model')).json.error.code).toBe('model_tpm_exceeded');
  });
});

describe('tokens per minute', () => {
  it('a team tpm_limit stops admitting once settled tokens reach it; the next window admits again', async () => {
    await seedTeam({ team_id: `t-tpm-${now}`, tpm_limit: 20 });
    const { key } = await seedKey({ team_id: `t-tpm-${now}` });
    // Each call settles 2 input + 4 output tokens: 6, 12, 18 admitted (below 20), then 24.
    for (let i = 0; i < 4; i++) expect((await ask(key)).status).toBe(200);
    const refused = await ask(key);
    expect(refused.status).toBe(429);
    expect(refused.json.error.code).toBe('team_tpm_exceeded');
    expect(refused.headers).toMatchObject({ 'x-ratelimit-limit-tokens': '20', 'x-ratelimit-remaining-tokens': '0' });
    const window = await readItem(rateRefs.window({ owner: 'team', id: `t-tpm-${now}` }, Math.floor(now / MINUTE_MS)));
    expect(window).toMatchObject({ tokens: 24, requests: 4 });
    now += MINUTE_MS;
    const next = await ask(key);
    expect(next.status).toBe(200);
    expect(next.headers).toMatchObject({ 'x-ratelimit-limit-tokens': '20', 'x-ratelimit-remaining-tokens': '20' });
  });

  it('a strict caller is admitted only while its estimate fits, and the estimate is replaced by the usage', async () => {
    const { key, record } = await seedKey({ tpm_limit: 1000, enforcement: 'strict', max_budget: 100 });
    const res = await ask(key, 'gpt-4o-mini', { max_tokens: 600 });
    expect(res.status).toBe(200);
    const window = await readItem(rateRefs.window({ owner: 'key', id: record.token }, Math.floor(now / MINUTE_MS)));
    expect(window?.tokens).toBe(6);
    // 600 output tokens (plus the prompt's bytes) no longer fit beside a second such call's estimate.
    expect((await ask(key, 'gpt-4o-mini', { max_tokens: 995 })).json.error.code).toBe('key_tpm_exceeded');
    expect((await ask(key, 'gpt-4o-mini', { max_tokens: 100 })).status).toBe(200);
  });

  it('a strict caller’s estimate is not left on a window that limits requests only (found by review: it counted against a tpm added later)', async () => {
    const { key, record } = await seedKey({ rpm_limit: 100, enforcement: 'strict', max_budget: 100 });
    expect((await ask(key, 'gpt-4o-mini', { max_tokens: 600 })).status).toBe(200);
    const window = await readItem(rateRefs.window({ owner: 'key', id: record.token }, Math.floor(now / MINUTE_MS)));
    expect([window?.requests, window?.tokens ?? 0]).toEqual([1, 0]);
  });
});

describe('parallel requests', () => {
  it('max_parallel_requests 5 with 50 concurrent slow calls never has more than 5 at the upstream', async () => {
    const { key } = await seedKey({ max_parallel_requests: 5 });
    const from = mock.requests.length;
    const results = await Promise.all(Array.from({ length: 50 }, () => ask(key, 'slow')));
    const seen = mock.requests.slice(from);
    expect(seen.length).toBe(count(results, 200));
    expect(count(results, 200)).toBeGreaterThanOrEqual(5);
    const refused = results.find((r) => r.status === 429) as CallResult;
    expect(refused.json.error.code).toBe('max_parallel_requests_exceeded');
    expect(refused.headers['retry-after']).toBe('1');
    // The most calls in flight at the upstream at once.
    const edges = seen.flatMap((r) => [
      { at: r.receivedAt, d: 1 },
      { at: r.lastChunkAt ?? r.receivedAt, d: -1 },
    ]);
    edges.sort((a, b) => a.at - b.at || a.d - b.d);
    let inFlight = 0;
    let most = 0;
    for (const e of edges) most = Math.max(most, (inFlight += e.d));
    expect(most).toBeLessThanOrEqual(5);
    expect(most).toBeGreaterThan(1);
    // Every slot is released once the calls are over.
    const after = await Promise.all(Array.from({ length: 5 }, () => ask(key, 'slow')));
    expect(statuses(after)).toEqual([200, 200, 200, 200, 200]);
  });

  it('a failed upstream call releases its slot', async () => {
    const { key, record } = await seedKey({ max_parallel_requests: 1 });
    for (let i = 0; i < 3; i++) expect((await ask(key, 'failing')).status).toBe(500);
    expect((await readItem(rateRefs.parallel({ owner: 'key', id: record.token })))?.inflight).toBe(0);
  });

  it('a client that goes away mid-stream releases its slot (docs/rate-limits.md: "cancelled by the client")', async () => {
    const { key, record } = await seedKey({ max_parallel_requests: 1 });
    const opts = { path: '/v1/chat/completions', headers: bearer(key), body: chat('slow', 'Hello there', { stream: true }) };
    const { status, first, body } = await openStream(opts);
    expect(status).toBe(200);
    expect(first).not.toBeNull();
    // The slot is held while the stream runs...
    const slot = () => readItem(rateRefs.parallel({ owner: 'key', id: record.token }));
    expect((await slot())?.inflight).toBe(1);
    expect((await ask(key, 'slow')).json.error.code).toBe('max_parallel_requests_exceeded');
    body.destroy();
    await new Promise((r) => body.once('close', r));
    // ...and freed once the client has left.
    await expect.poll(async () => (await slot())?.inflight, { timeout: 5000 }).toBe(0);
    expect((await ask(key, 'slow')).status).toBe(200);
  });

  it("a dead instance's lease expires and is cleared by the next admission", async () => {
    const { key, record } = await seedKey({ max_parallel_requests: 1 });
    const { putItem } = await import('../../support/rate.js');
    // What an instance that died mid-call leaves: a count of 1 and its lease, expired.
    await putItem({ ...rateRefs.parallel({ owner: 'key', id: record.token }), inflight: 1, 'lease#dead': now - 1 });
    const res = await ask(key);
    expect(res.status).toBe(200);
    const item = await readItem(rateRefs.parallel({ owner: 'key', id: record.token }));
    expect(item?.inflight).toBe(0);
    expect(item && Object.keys(item).filter((k) => k.startsWith('lease#'))).toEqual([]);
  });

  it('a live lease is not cleared', async () => {
    const { key, record } = await seedKey({ max_parallel_requests: 1 });
    const { putItem } = await import('../../support/rate.js');
    await putItem({ ...rateRefs.parallel({ owner: 'key', id: record.token }), inflight: 1, 'lease#live': now + 60_000 });
    expect((await ask(key)).json.error.code).toBe('max_parallel_requests_exceeded');
  });
});

describe('review findings', () => {
  it('several models in `model`: one refused by its limit, none called and nothing billed', async () => {
    const { key, record } = await seedKey({ model_rpm_limit: { other: 0 } });
    const from = mock.requests.length;
    const res = await ask(key, 'gpt-4o-mini,other');
    expect([res.status, res.json.error.code]).toEqual([429, 'key_model_rpm_exceeded']);
    expect(mock.requests.length).toBe(from);
    expect((await readItem(refs.key(record.token)))?.spend ?? 0).toBe(0);
  });

  it('several models answered: the rate headers are the tightest of all their limits', async () => {
    const { key } = await seedKey({ rpm_limit: 10, model_rpm_limit: { other: 3 } });
    const res = await ask(key, 'gpt-4o-mini,other');
    expect(res.status).toBe(200);
    expect(res.headers).toMatchObject({ 'x-ratelimit-limit-requests': '3', 'x-ratelimit-remaining-requests': '2' });
  });

  it('a strict call refused by its budget does not use up the rpm', async () => {
    const { key, record } = await seedKey({ rpm_limit: 1, enforcement: 'strict', max_budget: 0.000000001 });
    expect((await ask(key)).json.error.code).toBe('key_budget_exceeded');
    const window = await readItem(rateRefs.window({ owner: 'key', id: record.token }, Math.floor(now / MINUTE_MS)));
    expect(window?.requests ?? 0).toBe(0);
  });

  it('a regenerated key and its copy in the grace period share one set of counters', async () => {
    const { key, record } = await seedKey({ rpm_limit: 1 });
    const { key: copy } = await seedKey({ rpm_limit: 1, rate_id: record.token });
    expect((await ask(key)).status).toBe(200);
    expect((await ask(copy)).json.error.code).toBe('key_rpm_exceeded');
  });
});

describe('no limit, no cost', () => {
  it('a caller with no limit gets no rate headers and leaves no rate item', async () => {
    const { key, record } = await seedKey({});
    const res = await ask(key);
    expect(res.status).toBe(200);
    expect(Object.keys(res.headers).filter((h) => h.startsWith('x-ratelimit-'))).toEqual([]);
    expect(await readItem(rateRefs.window({ owner: 'key', id: record.token }, Math.floor(now / MINUTE_MS)))).toBeUndefined();
  });
});
