/**
 * A deferred object (a background response) made for an end user (the body's `user`) is billed to
 * that end user's budget too when a read finds it ended, whoever reads it (found by review: the
 * bill went to the key, team and organization only, so an end user's budget capped nothing made
 * in the background).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { MOCK_UPSTREAM_KEY, mockLocalSecrets, mockModels } from '../../../infra/local/mock-models.js';
import { type MockUpstream, startMockUpstream } from '../../../infra/local/mock-upstream.js';
import type { ModelRecord } from '../../../lib/domain/records.js';
import { unpackLog } from '../../../lib/domain/spend-log.js';
import { refs } from '../../../lib/store/keys.js';
import { objectRef } from '../../../lib/store/objects.js';
import { SPEND_LOG_ATTR } from '../../../lib/store/spend-ledger.js';
import { bearer } from '../../support/authorizer.js';
import { seedEndUser, seedKey, seedTeam } from '../../support/seed.js';
import { readItem, spendNanos } from '../../support/spend.js';
import { useTestTable } from '../../support/table.js';
import { call, chat, seedModels } from './harness.js';

let mock: MockUpstream;
let mini: ModelRecord;

beforeAll(async () => {
  mock = await startMockUpstream({ apiKey: MOCK_UPSTREAM_KEY });
  await useTestTable({ TOLLGATE_LOCAL_SECRETS: JSON.stringify(mockLocalSecrets()) });
  mini = mockModels(mock.url).find((m) => m.model_name === 'gpt-4o-mini') as ModelRecord;
  await seedModels(mockModels(mock.url));
  await seedTeam({ team_id: 'team-eu' });
  return () => mock.close();
});

/** n input and m output tokens of gpt-4o-mini, in nano-dollars. */
const price = (input: number, output: number) =>
  Math.round(input * mini.input_cost_per_million * 1000 + output * mini.output_cost_per_million * 1000);

describe("a deferred bill charges its maker's end user", () => {
  it('a background response made for an end user is billed to them when a teammate reads it, and their budget then refuses them', async () => {
    // A budget the one bill exhausts.
    await seedEndUser({ user_id: 'eu-deferred', max_budget: price(2, 4) / 1e9 });
    const maker = await seedKey({ team_id: 'team-eu' });
    const reader = await seedKey({ team_id: 'team-eu' });
    const made = await call({
      path: '/v1/responses',
      headers: bearer(maker.key),
      body: { model: 'gpt-4o-mini', input: 'Hello there', background: true, user: 'eu-deferred' },
    });
    expect(made.json.status).toBe('queued');
    expect(await readItem(objectRef(made.json.id))).toMatchObject({ billing: 'pending', end_user_id: 'eu-deferred' });
    expect(await spendNanos(refs.endUser('eu-deferred'))).toBe(0);

    const read = await call({ method: 'GET', path: `/v1/responses/${made.json.id}`, headers: bearer(reader.key) });
    expect(read.json.status).toBe('completed');
    expect(await spendNanos(refs.endUser('eu-deferred'))).toBe(price(2, 4));
    expect(await spendNanos(refs.key(maker.record.token))).toBe(price(2, 4));
    expect(await spendNanos(refs.key(reader.record.token))).toBe(0);
    const settlement = await readItem(refs.settlement(`object:${made.json.id}`));
    expect(unpackLog(settlement?.[SPEND_LOG_ATTR] as string)).toMatchObject({ end_user: 'eu-deferred', api_key: maker.record.token });

    const refused = await call({
      path: '/v1/chat/completions',
      headers: bearer(maker.key),
      body: chat('gpt-4o-mini', 'x', { user: 'eu-deferred' }),
    });
    expect(refused.status).toBe(403);
    expect(refused.json.error.code).toBe('end_user_budget_exceeded');
  });

  it("the maker reading it back bills the end user it named, not the read's (none)", async () => {
    const maker = await seedKey({ team_id: 'team-eu' });
    const made = await call({
      path: '/v1/responses',
      headers: bearer(maker.key),
      body: { model: 'gpt-4o-mini', input: 'Hello there', background: true, user: 'eu-own-read' },
    });
    await call({ method: 'GET', path: `/v1/responses/${made.json.id}`, headers: bearer(maker.key) });
    expect(await spendNanos(refs.endUser('eu-own-read'))).toBe(price(2, 4));
    expect(await spendNanos(refs.key(maker.record.token))).toBe(price(2, 4));
  });
});
