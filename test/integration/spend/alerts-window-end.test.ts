/**
 * A budget alert is judged in the window its request counted in (found by review): the stream
 * hands a settlement to the alert consumer a moment (or, behind a failing webhook, up to an hour)
 * after it landed, so a level crossed in a window's last moments was judged on the next window's
 * counter, still empty, and never announced. The window is the request's, as its settlement's is.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTableStream, type TableStream } from '../../../infra/local/table-stream.js';
import { alertConsumer } from '../../../lib/alerts/consume.js';
import { alertDeps, configureApp, documentClient, spendSettler } from '../../../lib/app/index.js';
import type { BudgetAlert } from '../../../lib/domain/alerts.js';
import type { Caller } from '../../../lib/domain/caller.js';
import { spendTargets } from '../../../lib/spend/targets.js';
import { EntityReader } from '../../../lib/store/entities.js';
import { CachedLoader, DynamoBatchSource } from '../../../lib/store/loader.js';
import { seedKey, seedTeam } from '../../support/seed.js';
import { spendLogFixture } from '../../support/spend-log.js';
import { type TestTable, useTestTable } from '../../support/table.js';

let table: TestTable;
let stream: TableStream;
const seen: BudgetAlert[] = [];
let now = 0;

beforeAll(async () => {
  table = await useTestTable({}, { stream: true });
  configureApp({ alertSinks: [async (a) => void seen.push(a)], clock: () => now });
  stream = await startTableStream({
    endpoint: table.endpoint,
    tableName: table.tableName,
    consumers: [alertConsumer(alertDeps())],
    everyMs: 0,
  });
});
afterAll(async () => {
  await stream?.stop();
});

/** Settles `dollars` on the team's chain (its key and the team) at `at`, with its spend log. */
async function spend(teamId: string, keyToken: string, dollars: number, at: number, requestId: string, startedAt = at) {
  const reader = new EntityReader(
    new CachedLoader(new DynamoBatchSource(documentClient(), table.tableName, true), { ttlMs: 1, negativeTtlMs: 1, maxEntries: 10 }),
  );
  const [key, team] = await Promise.all([reader.key(keyToken), reader.team(teamId)]);
  const caller: Caller = { principal: 'virtual_key', role: 'internal_user', teamId, keyHash: keyToken, state: { key, team } };
  const startTime = new Date(startedAt).toISOString();
  await spendSettler().settle({
    requestId,
    at,
    costNanos: Math.round(dollars * 1e9),
    model: 'gpt-4o-mini',
    targets: spendTargets(caller, { now: at }),
    log: spendLogFixture({
      request_id: requestId,
      api_key: keyToken,
      team_id: teamId,
      spend: dollars,
      startTime,
      endTime: new Date(at).toISOString(),
    }),
  });
}

describe('a level crossed at the end of a window', () => {
  it('is announced for that window when the stream hands it over after midnight', async () => {
    await seedTeam({ team_id: 'late', max_budget: 10, budget_duration: '1d', alert_thresholds: [100] });
    const { record } = await seedKey({ team_id: 'late', max_budget: 10, budget_duration: '1d', alert_thresholds: [100] });
    const lastMoment = Date.UTC(2026, 11, 7, 23, 59, 59, 900);
    now = lastMoment;
    await spend('late', record.token, 10, lastMoment, 'late-1');
    // The consumer reads it a second later: the next day's window.
    now = lastMoment + 1_100;
    await stream.drain();
    const mine = seen.filter((a) => a.id === 'late' || a.key_hash === record.token);
    expect(mine.map((a) => [a.entity, a.percent, a.spend, a.budget_window])).toEqual([
      ['key', 100, 10, '1d@2026-12-07T00:00:00Z'],
      ['team', 100, 10, '1d@2026-12-07T00:00:00Z'],
    ]);
  });

  it('and a request of the new window is judged on the new window: nothing spent there yet', async () => {
    const before = seen.length;
    await seedTeam({ team_id: 'fresh', max_budget: 10, budget_duration: '1d', alert_thresholds: [50] });
    const { record } = await seedKey({ team_id: 'fresh' });
    now = Date.UTC(2026, 11, 8, 0, 0, 5);
    await spend('fresh', record.token, 1, now, 'fresh-1');
    await stream.drain();
    expect(seen.slice(before)).toEqual([]);
  });
});

describe('a deferred bill (a batch, a background response)', () => {
  it('is judged in the window it was billed in, not the one its work began in', async () => {
    await seedTeam({ team_id: 'deferred', max_budget: 10, budget_duration: '1d', alert_thresholds: [100] });
    const { record } = await seedKey({ team_id: 'deferred' });
    // Made yesterday, found ended and billed today: its spend counts in today's window.
    const made = Date.UTC(2026, 11, 9, 12, 0, 0);
    const billed = Date.UTC(2026, 11, 10, 9, 0, 0);
    now = billed;
    await spend('deferred', record.token, 10, billed, 'deferred-1', made);
    await stream.drain();
    const mine = seen.filter((a) => a.id === 'deferred');
    expect(mine.map((a) => [a.entity, a.percent, a.spend, a.budget_window])).toEqual([['team', 100, 10, '1d@2026-12-10T00:00:00Z']]);
  });
});
