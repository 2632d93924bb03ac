/**
 * Budget alerts (issue 12): a team crossing 80 % then 100 % of its budget is announced exactly
 * twice, even with two settlers and two stream consumers at once, and never again in the same
 * window; a new window re-arms them. The soft budget is a level of its own. Alerts are read off
 * DynamoDB Local's real stream, as the deployed consumer reads it.
 */

import { BatchGetCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startTableStream, type TableStream } from '../../../infra/local/table-stream.js';
import { alertConsumer } from '../../../lib/alerts/consume.js';
import { alertDeps, configureApp, documentClient, spendSettler } from '../../../lib/app/index.js';
import { alertLevels, type BudgetAlert, reached } from '../../../lib/domain/alerts.js';
import type { Caller } from '../../../lib/domain/caller.js';
import type { SpendLog } from '../../../lib/domain/spend-log.js';
import { settledLogOf } from '../../../lib/spend/stream.js';
import { spendTargets } from '../../../lib/spend/targets.js';
import { EntityReader } from '../../../lib/store/entities.js';
import { refs } from '../../../lib/store/keys.js';
import { CachedLoader, DynamoBatchSource } from '../../../lib/store/loader.js';
import { seedKey, seedTeam } from '../../support/seed.js';
import { type TestTable, useTestTable } from '../../support/table.js';

let table: TestTable;
const seen: BudgetAlert[] = [];
let now = Date.UTC(2026, 11, 7, 12, 0, 0); // a Monday
const streams: TableStream[] = [];

beforeAll(async () => {
  table = await useTestTable({}, { stream: true });
  configureApp({ alertSinks: [async (a) => void seen.push(a)], clock: () => now });
  // Two consumers over the same stream, as two concurrent Lambda invocations could be.
  for (let i = 0; i < 2; i++)
    streams.push(
      await startTableStream({ endpoint: table.endpoint, tableName: table.tableName, consumers: [alertConsumer(alertDeps())], everyMs: 0 }),
    );
});
afterAll(async () => {
  for (const s of streams) await s.stop();
});

const drain = () => Promise.all(streams.map((s) => s.drain()));

/** Settles `dollars` on the team's chain (its key and the team), with a spend log, at `now`. */
async function spendOnTeam(teamId: string, keyToken: string, keyName: string, dollars: number, i: number) {
  const reader = new EntityReader(
    new CachedLoader(new DynamoBatchSource(documentClient(), table.tableName, true), { ttlMs: 1, negativeTtlMs: 1, maxEntries: 10 }),
  );
  const [key, team] = await Promise.all([reader.key(keyToken), reader.team(teamId)]);
  const caller: Caller = { principal: 'virtual_key', role: 'internal_user', teamId, keyHash: keyToken, keyName, state: { key, team } };
  const requestId = `alert-${teamId}-${now}-${i}`;
  const log: SpendLog = {
    request_id: requestId,
    call_type: '/v1/chat/completions',
    model: 'gpt-4o-mini',
    model_group: 'gpt-4o-mini',
    api_key: keyToken,
    key_alias: null,
    user: null,
    team_id: teamId,
    organization_id: null,
    end_user: null,
    prompt_tokens: 1,
    completion_tokens: 1,
    total_tokens: 2,
    spend: dollars,
    usage_source: 'reported',
    startTime: new Date(now).toISOString(),
    endTime: new Date(now).toISOString(),
    status: 'success',
    request_tags: [],
  };
  await spendSettler().settle({
    requestId,
    at: now,
    costNanos: Math.round(dollars * 1e9),
    model: 'gpt-4o-mini',
    targets: spendTargets(caller, { now }),
    log,
  });
}

describe('budget alerts', () => {
  it('80 % then 100 %: exactly two team alerts, with two settlers and two consumers, none again in the window', async () => {
    await seedTeam({ team_id: 'alerted', max_budget: 10, budget_duration: '1d', alert_thresholds: [80, 100] });
    const { record } = await seedKey({ team_id: 'alerted' });
    // 7.5 of 10: below 80 %.
    await Promise.all([0, 1, 2].map((i) => spendOnTeam('alerted', record.token, record.key_name, 2.5, i)));
    await drain();
    expect(seen.filter((a) => a.entity === 'team')).toEqual([]);
    // Two settlers at once cross 80 % (8.5, 9.5).
    await Promise.all([3, 4].map((i) => spendOnTeam('alerted', record.token, record.key_name, 1, i)));
    await drain();
    // Then 100 % (10.5), and more spend past it.
    await Promise.all([5, 6, 7].map((i) => spendOnTeam('alerted', record.token, record.key_name, 1, i)));
    await drain();
    const team = seen.filter((a) => a.entity === 'team');
    expect(team.map((a) => [a.id, a.level, a.percent, a.threshold])).toEqual([
      ['alerted', 'threshold', 80, 8],
      ['alerted', 'threshold', 100, 10],
    ]);
    expect(team[0]?.budget_window).toMatch(/^1d@2026-12-07/);
    expect(team[1]?.spend).toBeGreaterThanOrEqual(10);
  });

  it('a new window re-arms them', async () => {
    const before = seen.length;
    now += 86_400_000;
    const { record } = await seedKey({ team_id: 'alerted' });
    for (let i = 0; i < 9; i++) await spendOnTeam('alerted', record.token, record.key_name, 1.25, 100 + i);
    await drain();
    const team = seen.slice(before).filter((a) => a.entity === 'team');
    expect(team.map((a) => a.percent)).toEqual([80, 100]);
    expect(team.every((a) => a.budget_window.startsWith('1d@2026-12-08'))).toBe(true);
  });

  it('a soft budget alerts once; the proxy thresholds apply where the entity names none', async () => {
    await seedTeam({ team_id: 'soft', soft_budget: 1 });
    const { record } = await seedKey({ team_id: 'soft', max_budget: 4 });
    const before = seen.length;
    for (let i = 0; i < 5; i++) await spendOnTeam('soft', record.token, record.key_name, 1, 200 + i);
    await drain();
    const mine = seen.slice(before);
    expect(mine.filter((a) => a.entity === 'team').map((a) => [a.level, a.threshold])).toEqual([['soft_budget', 1]]);
    // The key's max_budget 4 with the proxy's 50/80/100 %: 2, 3.2, 4.
    expect(mine.filter((a) => a.entity === 'key').map((a) => a.percent)).toEqual([50, 80, 100]);
    expect(JSON.stringify(mine)).not.toMatch(/sk-[A-Za-z0-9]{20,}/);
  });
});

describe('reads', () => {
  it("read each entity once per batch, not once per record: the batch's counters are all in before alerts run", async () => {
    await seedTeam({ team_id: 'batched', max_budget: 10, budget_duration: '1d', alert_thresholds: [80] });
    const { record } = await seedKey({ team_id: 'batched' });
    for (let i = 0; i < 10; i++) await spendOnTeam('batched', record.token, record.key_name, 0.9, 400 + i);
    const deps = alertDeps();
    // Reads of the team's item from the table, whoever makes them (the consumer's readers).
    let teamReads = 0;
    let batches = 0;
    const client = documentClient();
    const send = client.send.bind(client);
    const spy = vi.spyOn(client, 'send').mockImplementation(((command: { input?: unknown }) => {
      if (command instanceof BatchGetCommand && JSON.stringify(command.input).includes(JSON.stringify(refs.team('batched').PK)))
        teamReads++;
      return send(command as never);
    }) as typeof client.send);
    const alerts = alertConsumer(deps);
    const stream = await startTableStream({
      endpoint: table.endpoint,
      tableName: table.tableName,
      consumers: [
        (records) => {
          if (records.some((r) => settledLogOf(r)?.team_id === 'batched')) batches++;
          return alerts(records);
        },
      ],
      everyMs: 0,
    });
    try {
      await stream.drain();
    } finally {
      await stream.stop();
      spy.mockRestore();
    }
    expect(batches).toBeGreaterThan(0);
    expect(teamReads).toBe(batches);
    expect(teamReads).toBeLessThan(10);
    expect(seen.filter((a) => a.id === 'batched').map((a) => a.percent)).toEqual([80]);
  });
});

describe('a delivery that fails', () => {
  it('gives its claim back: the stream retries it, and the alert is delivered exactly once', async () => {
    let failures = 1;
    configureApp({
      alertSinks: [
        async (a) => {
          if (a.id === 'retried' && failures-- > 0) throw new Error('the webhook is down');
          seen.push(a);
        },
      ],
    });
    await seedTeam({ team_id: 'retried', max_budget: 10, budget_duration: '1d', alert_thresholds: [50] });
    const { record } = await seedKey({ team_id: 'retried' });
    await spendOnTeam('retried', record.token, record.key_name, 6, 300);
    await drain();
    expect(failures).toBeLessThan(1);
    expect(seen.filter((a) => a.id === 'retried').map((a) => a.percent)).toEqual([50]);
  });
});

describe('levels (pure)', () => {
  it.each([
    [{ max_budget: 10 }, [50, 80, 100], 8, ['pct:50', 'pct:80']],
    [{ max_budget: 10, alert_thresholds: [] }, [50], 9, []],
    [{ max_budget: null, soft_budget: 2 }, [50], 2, ['soft']],
    [{ max_budget: 0 }, [50], 1, []],
    [{ max_budget: 10, soft_budget: 5 }, [90], 0, []],
  ] as const)('%j with proxy %j at %d: %j', (b, proxy, spend, want) => {
    expect(reached(alertLevels(b as never, proxy), spend).map((l) => l.name)).toEqual(want);
  });
});
