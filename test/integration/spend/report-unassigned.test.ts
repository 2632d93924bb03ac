/**
 * A spend report's day holds every request of the day (found by review): /global/spend/report
 * listed a group's ids only, so a personal key's calls (no team), a JWT's (no api_key) and those
 * naming no customer were in no row, and a day's report by team summed to less than the day's
 * spend (/global/spend, the budgets). Those requests are a row of their own, named null, as
 * LiteLLM reports them (`Unassigned Team`, a null customer), for every group_by.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { handler as spendHandler } from '../../../functions/spend/handler.js';
import { spendLogStore } from '../../../lib/app/index.js';
import { dollarsToNanos } from '../../../lib/domain/cost.js';
import type { SpendLog } from '../../../lib/domain/spend-log.js';
import { callApi } from '../../support/admin.js';
import { spendLogFixture } from '../../support/spend-log.js';
import { useTestTable } from '../../support/table.js';

const logs: SpendLog[] = [];

beforeAll(async () => {
  await useTestTable();
  let i = 0;
  const add = (day: string, model: string, spend: number, who: Partial<SpendLog>) =>
    logs.push(
      spendLogFixture({
        request_id: `un-${++i}`,
        model,
        model_group: model,
        spend,
        prompt_tokens: i,
        completion_tokens: 2 * i,
        startTime: `${day}T0${i % 10}:00:00.000Z`,
        ...who,
      }),
    );
  for (const day of ['2026-11-02', '2026-11-03']) {
    add(day, 'gpt-4o-mini', 0.1, { api_key: 'a'.repeat(64), user: 'u-1', team_id: 't-1', end_user: 'c-1' });
    add(day, 'gpt-4o-mini', 0.2, { api_key: 'b'.repeat(64), user: 'u-1' });
    add(day, 'gpt-4o', 0.3, { user: 'u-2', team_id: 't-1' });
    add(day, 'gpt-4o', 0.000000007, {});
  }
  // A day whose only requests name no team: still a day of the report.
  add('2026-11-04', 'gpt-4o', 1.5, { api_key: 'b'.repeat(64) });
  await spendLogStore().applyMany(logs);
});

const FIELDS = {
  team: ['teams', 'team_name', 'team_id'],
  customer: ['customers', 'customer', 'end_user'],
  api_key: ['api_keys', 'api_key', 'api_key'],
  user: ['users', 'user_id', 'user'],
} as const;

describe("a report's day holds every request of the day", () => {
  for (const [group, [list, name, field]] of Object.entries(FIELDS))
    it(`group_by=${group}: the requests with no ${field} are a row named null; the day sums to its spend`, async () => {
      const res = await callApi(spendHandler, 'GET', '/global/spend/report', {
        start_date: '2026-11-01',
        end_date: '2026-11-05',
        group_by: group,
      });
      expect(res.status).toBe(200);
      const days = res.body as Record<string, any>[];
      expect(days.map((d) => d.group_by_day)).toEqual(['2026-11-02', '2026-11-03', '2026-11-04']);
      for (const d of days) {
        const ofDay = logs.filter((l) => l.startTime.startsWith(d.group_by_day));
        const rows = d[list] as Record<string, any>[];
        const nanos = (ls: SpendLog[]) => ls.reduce((t, l) => t + dollarsToNanos(l.spend), 0);
        expect([d.group_by_day, rows.reduce((t, r) => t + dollarsToNanos(r.total_spend), 0)]).toEqual([d.group_by_day, nanos(ofDay)]);
        const none = rows.filter((r) => r[name] === null);
        const unnamed = ofDay.filter((l) => l[field] === null);
        expect(none).toHaveLength(unnamed.length > 0 ? 1 : 0);
        if (unnamed.length === 0) continue;
        const row = none[0] as Record<string, any>;
        expect(dollarsToNanos(row.total_spend)).toBe(nanos(unnamed));
        const meta = row.metadata as { model: string; spend: number; total_tokens: number; requests: number }[];
        expect(meta.reduce((t, m) => t + m.requests, 0)).toBe(unnamed.length);
        expect(meta.reduce((t, m) => t + m.total_tokens, 0)).toBe(unnamed.reduce((t, l) => t + l.prompt_tokens + l.completion_tokens, 0));
      }
    });
});
