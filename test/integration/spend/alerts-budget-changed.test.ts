/**
 * A level is about the budget it was reached against (found by review): its marker was named by
 * the window and the level (`lifetime#pct:80`) only, so once a team had reached 80 % of $10 and
 * its budget was raised to $100, reaching 80 % of $100 ($80) in the same window was taken for
 * announced already, and so was a raised soft budget, and a team deleted and made again with the
 * same id: those alerts were never sent. A level announced for an amount is announced again when
 * the entity's amount for it is another; the same amount is still announced once.
 */
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import type { DynamoDBRecord } from 'aws-lambda';
import { beforeAll, describe, expect, it } from 'vitest';
import { handler as teamsHandler } from '../../../functions/teams/handler.js';
import { type AlertDeps, alertConsumer } from '../../../lib/alerts/consume.js';
import { configureApp, documentClient, spendSettler } from '../../../lib/app/index.js';
import type { BudgetAlert } from '../../../lib/domain/alerts.js';
import type { Caller } from '../../../lib/domain/caller.js';
import { spendTargets } from '../../../lib/spend/targets.js';
import { alertRef } from '../../../lib/store/alerts.js';
import { adminCtx, callApi } from '../../support/admin.js';
import { alertTestDeps } from '../../support/alerts.js';
import { seedKey } from '../../support/seed.js';
import { spendLogFixture } from '../../support/spend-log.js';
import { drainOnce } from '../../support/stream.js';
import { type TestTable, useTestTable } from '../../support/table.js';

let table: TestTable;
let now = Date.UTC(2026, 11, 7, 12, 0, 0);
const seen: BudgetAlert[] = [];
let deps: AlertDeps;
let spent = 0;

beforeAll(async () => {
  table = await useTestTable({}, { stream: true });
  configureApp({ clock: () => now });
  deps = alertTestDeps(table.tableName, { clock: () => now, thresholds: [80], seen });
});

const team = (input: Record<string, unknown>, path = '/team/update') =>
  callApi(teamsHandler, 'POST', path, input, adminCtx).then((r) => expect([r.status, r.body]).toEqual([200, expect.anything()]));

/** Settles `dollars` on a new key of the team, then hands its stream record to the alert consumer. */
async function spend(teamId: string, dollars: number): Promise<void> {
  const { record } = await seedKey({ team_id: teamId });
  const reader = deps.reader();
  const [key, t] = await Promise.all([reader.key(record.token), reader.team(teamId)]);
  const caller: Caller = { principal: 'virtual_key', role: 'internal_user', teamId, keyHash: record.token, state: { key, team: t } };
  const requestId = `spend-${teamId}-${++spent}`;
  await spendSettler().settle({
    requestId,
    at: now,
    costNanos: Math.round(dollars * 1e9),
    model: 'gpt-4o-mini',
    targets: spendTargets(caller, { now }),
    log: spendLogFixture({
      request_id: requestId,
      api_key: record.token,
      team_id: teamId,
      spend: dollars,
      startTime: new Date(now).toISOString(),
    }),
  });
  const records: DynamoDBRecord[] = [];
  await drainOnce(table, [
    async (batch) => {
      records.push(...batch.filter((r) => JSON.stringify(r.dynamodb?.NewImage).includes(requestId)));
      return {};
    },
  ]);
  expect(await alertConsumer(deps)(records)).toEqual({});
}

const alertsOf = (teamId: string) =>
  seen.filter((a) => a.entity === 'team' && a.id === teamId).map((a) => [a.level, a.threshold, a.max_budget, a.soft_budget]);

describe('a level reached again after its budget changed', () => {
  it('a raised max_budget: 80 % of the new budget is announced, in the same window', async () => {
    await team({ team_id: 'raised', max_budget: 10 }, '/team/new');
    await spend('raised', 8.5);
    await spend('raised', 0.5);
    expect(alertsOf('raised')).toEqual([['threshold', 8, 10, null]]);
    await team({ team_id: 'raised', max_budget: 100 });
    await spend('raised', 70);
    expect(alertsOf('raised')).toHaveLength(1);
    await spend('raised', 1.5);
    await spend('raised', 1);
    expect(alertsOf('raised')).toEqual([
      ['threshold', 8, 10, null],
      ['threshold', 80, 100, null],
    ]);
  });

  it('a raised soft budget: reaching the new one is announced', async () => {
    await team({ team_id: 'soft', soft_budget: 1 }, '/team/new');
    await spend('soft', 1);
    await team({ team_id: 'soft', soft_budget: 5 });
    await spend('soft', 1);
    expect(alertsOf('soft')).toEqual([['soft_budget', 1, null, 1]]);
    await spend('soft', 3);
    await spend('soft', 1);
    expect(alertsOf('soft')).toEqual([
      ['soft_budget', 1, null, 1],
      ['soft_budget', 5, null, 5],
    ]);
  });

  it('a team deleted and made again with the same id: its levels are its own', async () => {
    await team({ team_id: 'again', max_budget: 10 }, '/team/new');
    await spend('again', 9);
    await team({ team_ids: ['again'] }, '/team/delete');
    now += 60_000;
    await team({ team_id: 'again', max_budget: 10 }, '/team/new');
    await spend('again', 9);
    expect(alertsOf('again')).toEqual([
      ['threshold', 8, 10, null],
      ['threshold', 8, 10, null],
    ]);
  });

  it('a level announced before markers said what it was about is not announced again (no repeat on upgrade)', async () => {
    await team({ team_id: 'upgraded', max_budget: 10 }, '/team/new');
    await documentClient().send(
      new PutCommand({
        TableName: table.tableName,
        Item: { ...alertRef('team', 'upgraded', 'lifetime', 'pct:80'), kind: 'alert', state: 'sent', token: 'earlier' },
      }),
    );
    await spend('upgraded', 9);
    expect(alertsOf('upgraded')).toEqual([]);
  });
});
