/**
 * Tokens per minute of calls whose usage comes later (a background response, a batch): billed by
 * the first read that finds them done (lib/llm/handle billOnce), their tokens count then, in that
 * minute, against the tpm limits of whoever made them, as a call's settled tokens do.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { MOCK_UPSTREAM_KEY, mockLocalSecrets, mockModels } from '../../../infra/local/mock-models.js';
import { type MockUpstream, startMockUpstream } from '../../../infra/local/mock-upstream.js';
import { configureApp } from '../../../lib/app/index.js';
import { MINUTE_MS } from '../../../lib/domain/rate-limits.js';
import { rateRefs } from '../../../lib/store/rate-limits.js';
import { bearer } from '../../support/authorizer.js';
import { seedKey, seedTeam } from '../../support/seed.js';
import { readItem } from '../../support/spend.js';
import { useTestTable } from '../../support/table.js';
import { call, seedModels } from './harness.js';

let mock: MockUpstream;
let now = Math.floor(Date.now() / MINUTE_MS) * MINUTE_MS + 5_000;

beforeAll(async () => {
  mock = await startMockUpstream({ apiKey: MOCK_UPSTREAM_KEY });
  await useTestTable({ TOLLGATE_LOCAL_SECRETS: JSON.stringify(mockLocalSecrets()), TOLLGATE_PASSTHROUGH_MODEL: 'gpt-4o-mini' });
  configureApp({ clock: () => now });
  await seedModels(mockModels(mock.url));
});
afterAll(() => mock.close());
beforeEach(() => {
  now += MINUTE_MS;
});

const background = (key: string) =>
  call({ path: '/v1/responses', headers: bearer(key), body: { model: 'gpt-4o-mini', input: 'Hello there', background: true } });
const read = (key: string, id: string) => call({ method: 'GET', path: `/v1/responses/${id}`, headers: bearer(key) });
const minute = () => Math.floor(now / MINUTE_MS);

describe('tpm_limit: a background response', () => {
  it('its tokens count when a read bills it, and the next call is refused', async () => {
    const { key, record } = await seedKey({ tpm_limit: 5 });
    const made = await background(key);
    expect(made.json.status).toBe('queued');
    // Two reads at once: one bills its 2 input + 4 output tokens, in this minute's window, once.
    const reads = await Promise.all([0, 1].map(() => read(key, made.json.id)));
    expect(reads.map((r) => r.json.status)).toEqual(['completed', 'completed']);
    const window = await readItem(rateRefs.window({ owner: 'key', id: record.token }, minute()));
    expect(window?.tokens).toBe(6);
    expect((await background(key)).json.error?.code).toBe('key_tpm_exceeded');
  });

  it("count against its maker's limits when a teammate's read bills it", async () => {
    await seedTeam({ team_id: `t-bg-${now}`, tpm_limit: 100 });
    const maker = await seedKey({ team_id: `t-bg-${now}`, tpm_limit: 5 });
    const reader = await seedKey({ team_id: `t-bg-${now}` });
    const made = await background(maker.key);
    expect((await read(reader.key, made.json.id)).json.status).toBe('completed');
    expect((await readItem(rateRefs.window({ owner: 'key', id: maker.record.token }, minute())))?.tokens).toBe(6);
    expect((await readItem(rateRefs.window({ owner: 'team', id: `t-bg-${now}` }, minute())))?.tokens).toBe(6);
    expect(await readItem(rateRefs.window({ owner: 'key', id: reader.record.token }, minute()))).toBeUndefined();
  });
});
