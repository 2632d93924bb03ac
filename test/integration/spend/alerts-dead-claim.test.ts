/**
 * A level claimed by a consumer that died before delivering it (its Lambda timed out or ran out of
 * memory between the claim and the confirm) is announced by the retry of that very record once the
 * claim lapses (found by review): the retry found the claim held, took that as "announced by
 * someone else" and passed the record over, so the level waited for a later request of the entity,
 * and a budget spent (100 %) blocks every later request: that alert was never sent.
 */
import type { DynamoDBRecord } from 'aws-lambda';
import { beforeAll, describe, expect, it } from 'vitest';
import { type AlertDeps, alertConsumer } from '../../../lib/alerts/consume.js';
import { configureApp, spendSettler } from '../../../lib/app/index.js';
import type { BudgetAlert } from '../../../lib/domain/alerts.js';
import type { Caller } from '../../../lib/domain/caller.js';
import { spendTargets } from '../../../lib/spend/targets.js';
import { alertTestDeps } from '../../support/alerts.js';
import { seedKey, seedTeam } from '../../support/seed.js';
import { spendLogFixture } from '../../support/spend-log.js';
import { drainOnce } from '../../support/stream.js';
import { type TestTable, useTestTable } from '../../support/table.js';

let table: TestTable;
let now = Date.UTC(2026, 11, 7, 12, 0, 0);
const seen: BudgetAlert[] = [];
let deps: AlertDeps;

beforeAll(async () => {
  table = await useTestTable({}, { stream: true });
  configureApp({ clock: () => now });
  deps = alertTestDeps(table.tableName, { clock: () => now, thresholds: [100], seen });
});

/** The stream records of a team's spend that reaches its whole budget. */
async function spendAll(teamId: string): Promise<DynamoDBRecord[]> {
  await seedTeam({ team_id: teamId, max_budget: 10 });
  const { record } = await seedKey({ team_id: teamId });
  const reader = deps.reader();
  const [key, team] = await Promise.all([reader.key(record.token), reader.team(teamId)]);
  const caller: Caller = { principal: 'virtual_key', role: 'internal_user', teamId, keyHash: record.token, state: { key, team } };
  const requestId = `spent-${teamId}`;
  await spendSettler().settle({
    requestId,
    at: now,
    costNanos: 10e9,
    model: 'gpt-4o-mini',
    targets: spendTargets(caller, { now }),
    log: spendLogFixture({
      request_id: requestId,
      api_key: record.token,
      team_id: teamId,
      spend: 10,
      startTime: new Date(now).toISOString(),
    }),
  });
  const records: DynamoDBRecord[] = [];
  await drainOnce(table, [
    async (batch) => {
      records.push(...batch.filter((r) => JSON.stringify(r).includes(requestId)));
      return {};
    },
  ]);
  expect(records).toHaveLength(1);
  return records;
}

/** Another consumer of the same records whose sink is `sink` (its own alerts kept apart). */
const consumerWith = (sink: () => Promise<void>): AlertDeps => ({ ...deps, sinks: () => [sink] });

describe('a claim whose consumer died', () => {
  it('holds the record while it is live, and the retry after it lapses announces the level once', async () => {
    const records = await spendAll('orphaned');
    // A consumer claims the team's 100 % and dies in its delivery (it never returns).
    void alertConsumer(consumerWith(() => new Promise<void>(() => undefined)))(records);
    await new Promise((r) => setTimeout(r, 300));
    // The stream retries the batch at once: the claim is live, the record is not done.
    now += 1_000;
    const retried = await alertConsumer(deps)(records);
    expect(retried.failedAt).toBe(records[0]?.dynamodb?.SequenceNumber);
    expect(seen.filter((a) => a.id === 'orphaned')).toEqual([]);
    // A minute later the claim has lapsed: the retry announces it, and any retry after that nothing.
    now += 60_000;
    expect(await alertConsumer(deps)(records)).toEqual({});
    expect(await alertConsumer(deps)(records)).toEqual({});
    expect(seen.filter((a) => a.id === 'orphaned').map((a) => [a.entity, a.percent, a.spend])).toEqual([['team', 100, 10]]);
  });

  it('a claim that another consumer confirms while the record waits is not announced again, and the record is done', async () => {
    const records = await spendAll('busy');
    let delivered = 0;
    const other = alertConsumer(
      consumerWith(async () => {
        await new Promise((r) => setTimeout(r, 150));
        delivered++;
      }),
    )(records);
    await new Promise((r) => setTimeout(r, 30));
    expect(await alertConsumer(deps)(records)).toEqual({});
    expect(await other).toEqual({});
    expect([delivered, seen.filter((a) => a.id === 'busy')]).toEqual([1, []]);
  });
});
