/**
 * What a report reads (found by review): every report read each day's whole rollup partition,
 * every group of the proxy, and kept the rows it wanted. So one internal user's
 * `/user/daily/activity` over a year read every key's, user's, team's, end user's and tag's
 * rows of the proxy for 366 days (millions of rows on a busy proxy: a timeout, and read units
 * any user could spend at will). A report now reads its group's rows only, a user's activity that
 * user's, and still every row of them (a row whose key is a digest included).
 */
import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import { beforeAll, describe, expect, it } from 'vitest';
import { handler as spendHandler } from '../../../functions/spend/handler.js';
import { configureApp, documentClient, spendLogStore } from '../../../lib/app/index.js';
import { dollarsToNanos } from '../../../lib/domain/cost.js';
import type { SpendLog } from '../../../lib/domain/spend-log.js';
import { tableName } from '../../../lib/store/client.js';
import { SpendLogStore } from '../../../lib/store/spend-logs.js';
import { callApi, userCtx } from '../../support/admin.js';
import { spendLogFixture } from '../../support/spend-log.js';
import { useTestTable } from '../../support/table.js';

const day = '2026-11-20';
const range = { start_date: day, end_date: day };
const LONG_MODEL = `m-${'x'.repeat(1100)}`;
let read = 0;
const logs: SpendLog[] = [];

beforeAll(async () => {
  await useTestTable();
  for (let i = 0; i < 150; i++)
    logs.push(
      spendLogFixture({
        request_id: `r-${i}`,
        user: `user-${i}`,
        team_id: `team-${i % 3}`,
        end_user: `customer-${i}`,
        request_tags: [`tag-${i}`],
        spend: 0.01 * (1 + (i % 7)),
        startTime: `${day}T10:00:00.000Z`,
      }),
    );
  // alice: two requests, one of a model whose rollup row's key is a digest (too long for a sort key).
  logs.push(spendLogFixture({ request_id: 'alice-1', user: 'alice', spend: 0.5, startTime: `${day}T11:00:00.000Z` }));
  logs.push(spendLogFixture({ request_id: 'alice-2', user: 'alice', model: LONG_MODEL, spend: 0.25, startTime: `${day}T12:00:00.000Z` }));
  await spendLogStore().applyMany(logs);
  const real = documentClient();
  const counting = {
    send: async (command: unknown) => {
      const out = await real.send(command as never);
      if (command instanceof QueryCommand) read += ((out as { Items?: unknown[] }).Items ?? []).length;
      return out;
    },
  } as unknown as typeof real;
  configureApp({ spendLogStore: new SpendLogStore(counting, tableName(), 86_400) });
});

const reading = async <T>(fn: () => Promise<T>): Promise<[T, number]> => {
  read = 0;
  const out = await fn();
  return [out, read];
};

describe('a report reads its own rows', () => {
  it("a user's daily activity reads that user's rows, the digest one too", async () => {
    const [res, n] = await reading(() => callApi(spendHandler, 'GET', '/user/daily/activity', range, userCtx('alice')));
    expect(res.status).toBe(200);
    expect(dollarsToNanos(res.body.metadata.total_spend)).toBe(dollarsToNanos(0.75));
    expect(Object.keys(res.body.results[0].breakdown.models).sort()).toEqual(['gpt-4o-mini', LONG_MODEL].sort());
    expect(n).toBeLessThanOrEqual(4);
  });

  it('a report by team reads the team rows, and sums every request', async () => {
    const [res, n] = await reading(() => callApi(spendHandler, 'GET', '/global/spend/report', { ...range, group_by: 'team' }));
    const teams = res.body[0].teams as { team_name: string | null; total_spend: number }[];
    // alice's requests name no team: a row named null (with the model rows, read to find them).
    expect(teams.map((t) => t.team_name)).toEqual(['team-0', 'team-1', 'team-2', null]);
    const want = logs.reduce((t, l) => t + dollarsToNanos(l.spend), 0);
    expect(teams.reduce((t, r) => t + dollarsToNanos(r.total_spend), 0)).toBe(want);
    expect(n).toBeLessThanOrEqual(10);
  });

  it('a report by model has the model whose row key is a digest', async () => {
    const res = await callApi(spendHandler, 'GET', '/global/spend/report', { ...range, group_by: 'model' });
    const models = res.body[0].models as { model: string; total_spend: number }[];
    expect(models.map((m) => m.model).sort()).toEqual(['gpt-4o-mini', LONG_MODEL].sort());
    expect(models.reduce((t, r) => t + dollarsToNanos(r.total_spend), 0)).toBe(logs.reduce((t, l) => t + dollarsToNanos(l.spend), 0));
  });

  it('/global/spend reads the model rows; /spend/tags the tag rows', async () => {
    const [global, g] = await reading(() => callApi(spendHandler, 'GET', '/global/spend', {}));
    expect(global.status).toBe(200);
    expect(g).toBeLessThanOrEqual(60); // 30 days, at most two models a day here
    const [tags, t] = await reading(() => callApi(spendHandler, 'GET', '/spend/tags', range));
    expect(tags.body).toHaveLength(150);
    expect(t).toBeLessThanOrEqual(160);
  });
});
