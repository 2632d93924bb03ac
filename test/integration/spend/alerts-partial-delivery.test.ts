/**
 * An alert goes to every sink (the log, EventBridge, a webhook, Slack); when one of them fails,
 * the stream retries the record (found by review): the sinks that had it already were sent it
 * again on every retry, so an hour of a Slack outage mailed the same alert through EventBridge
 * on each retry. A retry now delivers only to the sinks that did not have it yet.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTableStream, type TableStream } from '../../../infra/local/table-stream.js';
import { alertConsumer } from '../../../lib/alerts/consume.js';
import { namedSink } from '../../../lib/alerts/deliver.js';
import { alertDeps, configureApp, spendSettler } from '../../../lib/app/index.js';
import type { BudgetAlert } from '../../../lib/domain/alerts.js';
import { refs } from '../../../lib/store/keys.js';
import { seedTeam } from '../../support/seed.js';
import { spendLogFixture } from '../../support/spend-log.js';
import { type TestTable, useTestTable } from '../../support/table.js';

let table: TestTable;
let stream: TableStream;
const now = Date.UTC(2026, 11, 7, 12, 0, 0);

beforeAll(async () => {
  table = await useTestTable({}, { stream: true });
  configureApp({ clock: () => now });
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

async function spendOnTeam(teamId: string, dollars: number, requestId: string) {
  const startTime = new Date(now).toISOString();
  await spendSettler().settle({
    requestId,
    at: now,
    costNanos: Math.round(dollars * 1e9),
    model: 'gpt-4o-mini',
    targets: [{ entity: 'team', id: teamId, ref: refs.team(teamId), duration: '1d', anchor: undefined }],
    log: spendLogFixture({ request_id: requestId, team_id: teamId, spend: dollars, startTime, endTime: startTime }),
  });
}

describe('one sink fails, the others delivered', () => {
  it('the retry delivers to the failed sink only: every sink has each alert once', async () => {
    const first: BudgetAlert[] = [];
    const second: BudgetAlert[] = [];
    const third: BudgetAlert[] = [];
    let failures = 3;
    configureApp({
      alertSinks: [
        async (a) => void first.push(a),
        async (a) => {
          if (failures-- > 0) throw new Error('the webhook is down');
          second.push(a);
        },
        async (a) => void third.push(a),
      ],
    });
    await seedTeam({ team_id: 'two-sinks', max_budget: 10, budget_duration: '1d', alert_thresholds: [50, 80] });
    await spendOnTeam('two-sinks', 9, 'two-sinks-1');
    await stream.drain();
    expect(failures).toBeLessThan(0);
    const levels = (list: BudgetAlert[]) => list.filter((a) => a.id === 'two-sinks').map((a) => a.percent);
    expect([levels(first), levels(second), levels(third)]).toEqual([
      [50, 80],
      [50, 80],
      [50, 80],
    ]);
  });
});

describe('sinks are known by name across a redeploy (found by review: by their place, a sink added before one that took the alert took its place)', () => {
  it('a sink added while a retry waits gets the alert; the one that took it does not get it again', async () => {
    const [log, eventBridge, webhook, slack]: BudgetAlert[][] = [[], [], [], []];
    const sink = (name: string, list: BudgetAlert[] | undefined, fail = () => false) =>
      namedSink(name, async (a) => {
        if (fail()) throw new Error(`${name} is down`);
        list?.push(a);
      });
    // Slack is down on the first try; before the retry the stack is redeployed with EventBridge,
    // which comes before the webhook in the list, and Slack is back.
    const redeploy = () => {
      configureApp({
        alertSinks: [sink('log', log), sink('eventbridge:default', eventBridge), sink('webhook', webhook), sink('slack', slack)],
      });
      return true;
    };
    configureApp({ alertSinks: [sink('log', log), sink('webhook', webhook), sink('slack', slack, redeploy)] });
    await seedTeam({ team_id: 'redeployed', max_budget: 10, budget_duration: '1d', alert_thresholds: [50] });
    await spendOnTeam('redeployed', 6, 'redeployed-1');
    await stream.drain();
    const levels = (list: BudgetAlert[] | undefined) => (list ?? []).filter((a) => a.id === 'redeployed').map((a) => a.percent);
    expect([levels(log), levels(eventBridge), levels(webhook), levels(slack)]).toEqual([[50], [50], [50], [50]]);
  });
});
