/**
 * /user/daily/activity in LiteLLM's shape (SpendAnalyticsPaginatedResponse; found by review): per
 * day `metrics` with `successful_requests` and `failed_requests` beside `api_requests`, and
 * `metadata` with LiteLLM's `total_*` names and its page fields. The metadata held the per-day
 * names (`prompt_tokens`, `api_requests`) instead, so a LiteLLM client read no total but the
 * spend, and a failed call counted as a request with nothing to tell it from an answered one.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { handler as spendHandler } from '../../../functions/spend/handler.js';
import { spendLogStore } from '../../../lib/app/index.js';
import { callApi } from '../../support/admin.js';
import { seedUser } from '../../support/seed.js';
import { spendLogFixture } from '../../support/spend-log.js';
import { useTestTable } from '../../support/table.js';

beforeAll(async () => {
  await useTestTable();
  await seedUser({ user_id: 'lite', user_role: 'internal_user' });
  const log = (i: number, day: string, status: 'success' | 'failure', spend: number) =>
    spendLogFixture({
      request_id: `lite-${i}`,
      user: 'lite',
      spend,
      prompt_tokens: 10,
      completion_tokens: status === 'success' ? 5 : 0,
      total_tokens: status === 'success' ? 15 : 10,
      status,
      startTime: `${day}T12:00:00.000Z`,
    });
  await spendLogStore().applyMany([
    log(1, '2026-11-02', 'success', 0.25),
    log(2, '2026-11-02', 'success', 0.5),
    log(3, '2026-11-02', 'failure', 0),
    log(4, '2026-11-03', 'failure', 0.125),
  ]);
});

describe("/user/daily/activity in LiteLLM's shape", () => {
  it('per day: successful and failed requests beside api_requests; the metadata: total_* and the page fields', async () => {
    const res = await callApi(spendHandler, 'GET', '/user/daily/activity', {
      user_id: 'lite',
      start_date: '2026-11-02',
      end_date: '2026-11-03',
    });
    expect(res.status).toBe(200);
    expect(res.body.results.map((d: { date: string; metrics: unknown }) => [d.date, d.metrics])).toEqual([
      [
        '2026-11-02',
        {
          spend: 0.75,
          prompt_tokens: 30,
          completion_tokens: 10,
          total_tokens: 40,
          api_requests: 3,
          successful_requests: 2,
          failed_requests: 1,
        },
      ],
      [
        '2026-11-03',
        {
          spend: 0.125,
          prompt_tokens: 10,
          completion_tokens: 0,
          total_tokens: 10,
          api_requests: 1,
          successful_requests: 0,
          failed_requests: 1,
        },
      ],
    ]);
    expect(res.body.results[0].breakdown.models['gpt-4o-mini'].metrics).toMatchObject({ successful_requests: 2, failed_requests: 1 });
    expect(res.body.metadata).toMatchObject({
      total_spend: 0.875,
      total_prompt_tokens: 40,
      total_completion_tokens: 10,
      total_tokens: 50,
      total_api_requests: 4,
      total_successful_requests: 2,
      total_failed_requests: 2,
      page: 1,
      total_pages: 1,
      has_more: false,
      start_date: '2026-11-02',
      end_date: '2026-11-03',
    });
  });

  it("LiteLLM's paging parameters: page and page_size are taken; bad ones are 400s naming them", async () => {
    const q = { user_id: 'lite', start_date: '2026-11-02', end_date: '2026-11-03' };
    const plain = await callApi(spendHandler, 'GET', '/user/daily/activity', q);
    const paged = await callApi(spendHandler, 'GET', '/user/daily/activity', { ...q, page: '1', page_size: '50' });
    expect([paged.status, paged.body]).toEqual([200, plain.body]);
    for (const bad of [{ page: '0' }, { page: 'two' }, { page_size: '0' }, { page_size: '1001' }]) {
      const res = await callApi(spendHandler, 'GET', '/user/daily/activity', { ...q, ...bad });
      expect([res.status, res.body.error?.param]).toEqual([400, Object.keys(bad)[0]]);
    }
  });

  it('page_size days a page: each page holds its days, the totals stay those of every day asked; past the last, none', async () => {
    const q = { user_id: 'lite', start_date: '2026-11-01', end_date: '2026-11-05', page_size: '2' };
    const pages = [];
    for (const page of ['1', '2', '3']) {
      const res = await callApi(spendHandler, 'GET', '/user/daily/activity', { ...q, page });
      expect(res.status).toBe(200);
      pages.push(res.body);
    }
    expect(pages.map((p) => p.results.map((d: { date: string }) => d.date))).toEqual([
      ['2026-11-01', '2026-11-02'],
      ['2026-11-03', '2026-11-04'],
      ['2026-11-05'],
    ]);
    expect(pages.map((p) => [p.metadata.page, p.metadata.total_pages, p.metadata.has_more])).toEqual([
      [1, 3, true],
      [2, 3, true],
      [3, 3, false],
    ]);
    for (const p of pages)
      expect(p.metadata).toMatchObject({ total_spend: 0.875, total_api_requests: 4, start_date: '2026-11-01', end_date: '2026-11-05' });
    expect(pages[0].results[1].metrics.spend).toBe(0.75);
    expect(pages[1].results[0].metrics.spend).toBe(0.125);
    // Past the last page, as LiteLLM: no days, has_more false, the totals still there.
    const past = await callApi(spendHandler, 'GET', '/user/daily/activity', { ...q, page: '4' });
    expect([past.status, past.body.results, past.body.metadata.page, past.body.metadata.total_pages, past.body.metadata.has_more]).toEqual([
      200,
      [],
      4,
      3,
      false,
    ]);
    expect(past.body.metadata.total_spend).toBe(0.875);
  });
});
