/**
 * A call still under way when the function's time limit nears is ended SETTLE_BEFORE_TIMEOUT_MS
 * before it, and settles: found by review, a stream that outlived the llm function's timeout was
 * killed with the invocation, never settled (the upstream billed it), its strict reservation left
 * for the sweeper. The handler reads the time left from its Lambda context.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MOCK_UPSTREAM_KEY, mockLocalSecrets, mockModels } from '../../../infra/local/mock-models.js';
import { type MockUpstream, startMockUpstream } from '../../../infra/local/mock-upstream.js';
import { callsEndAt, SETTLE_BEFORE_TIMEOUT_MS } from '../../../lib/llm/deadline.js';
import { refs } from '../../../lib/store/keys.js';
import { bearer } from '../../support/authorizer.js';
import { seedKey, seedTeam } from '../../support/seed.js';
import { readItem, spendNanos } from '../../support/spend.js';
import { useTestTable } from '../../support/table.js';
import { call, chat, seedModels, sseData, withKnobs } from './harness.js';

let mock: MockUpstream;
/** A Lambda context with `ms` left before the function's timeout (the cut comes a tenth of it earlier, at most 10 s). */
const leaving = (ms: number) => {
  const end = Date.now() + ms;
  return { getRemainingTimeInMillis: () => end - Date.now() };
};
const WORDS = Array.from({ length: 60 }, (_, i) => `w${i}`).join(' ');

beforeAll(async () => {
  mock = await startMockUpstream({ apiKey: MOCK_UPSTREAM_KEY });
  await useTestTable({ TOLLGATE_LOCAL_SECRETS: JSON.stringify(mockLocalSecrets()) });
  const base = mockModels(mock.url).find((m) => m.model_name === 'gpt-4o-mini')!;
  const knob = (name: string, knobs: string) => withKnobs(base, name, knobs);
  // 60 words at 100 ms a chunk: 6 s of stream; and an upstream that never answers. (Middy ends the
  // invocation 5 ms before the timeout: the cut leaves the settlement a tenth of the time left.)
  await seedModels([base, knob('slow', 'delay=100'), knob('hanging', 'hang')]);
  await seedTeam({ team_id: 'team-limit', max_budget: 10, enforcement: 'strict' });
});
afterAll(() => mock.close());

describe('when calls are ended', () => {
  it('SETTLE_BEFORE_TIMEOUT_MS before the timeout, or a tenth of the time left when less: a short timeout still leaves calls most of it', () => {
    const at = (ms: number) => callsEndAt(ms, 0) / 1000;
    expect(SETTLE_BEFORE_TIMEOUT_MS).toBe(10_000);
    expect([at(900_000), at(100_000), at(15_000), at(9_000), at(1_000)]).toEqual([890, 90, 13.5, 8.1, 0.9]);
  });
});

describe('the function’s time limit', () => {
  it('a stream still going is ended with an error event before it, and settles what it sent (strict: its reservation settled)', async () => {
    const { key, record } = await seedKey({ team_id: 'team-limit' });
    const requestId = `req-limit-stream-${Date.now()}`;
    const started = Date.now();
    const res = await call({
      path: '/v1/chat/completions',
      headers: bearer(key),
      body: chat('slow', WORDS, { stream: true }),
      requestId,
      context: leaving(3_000),
    });
    expect(Date.now() - started).toBeLessThan(4_500);
    expect(res.status).toBe(200);
    const data = sseData(res.text);
    expect(JSON.parse(data.at(-1) as string).error).toMatchObject({
      code: 'upstream_timeout',
      message: "the call to the upstream for `slow` was ended at the function's time limit",
    });
    const settlement = await readItem(refs.settlement(requestId));
    expect(settlement).toMatchObject({ state: 'settled', usage_source: 'counted' });
    expect(await spendNanos(refs.key(record.token))).toBeGreaterThan(0);
  });

  it('a JSON call still waiting: a 504 before it, charged the prompt it was sent', async () => {
    const { key, record } = await seedKey({ team_id: 'team-limit' });
    const requestId = `req-limit-json-${Date.now()}`;
    const res = await call({
      path: '/v1/chat/completions',
      headers: bearer(key),
      body: chat('hanging', 'x y z'),
      requestId,
      context: leaving(3_000),
    });
    expect(res.status).toBe(504);
    expect(res.json.error.message).toBe("the call to the upstream for `hanging` was ended at the function's time limit");
    expect(await readItem(refs.settlement(requestId))).toMatchObject({ state: 'settled', usage_source: 'counted' });
    expect(await spendNanos(refs.key(record.token))).toBeGreaterThan(0);
  });

  it('with time to spare, a stream runs to its end', async () => {
    const { key } = await seedKey({ team_id: 'team-limit' });
    const res = await call({
      path: '/v1/chat/completions',
      headers: bearer(key),
      body: chat('slow', 'a b c', { stream: true }),
      context: leaving(60_000),
    });
    expect(res.status).toBe(200);
    expect(sseData(res.text).at(-1)).toBe('[DONE]');
  });
});
