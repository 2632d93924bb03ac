/**
 * Dates the spend routes take (found by review): a day that is not on the calendar
 * (`2026-02-30`, `2026-04-31`, `2026-13-01`) was read as the day it rolls over to (2026-02-30 as
 * March 2nd) or refused as if the range were backwards. It is a 400 naming the field that holds it.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { handler as spendHandler } from '../../../functions/spend/handler.js';
import { callApi } from '../../support/admin.js';
import { useTestTable } from '../../support/table.js';

beforeAll(async () => {
  await useTestTable();
});

describe('a day not on the calendar is a 400 naming its field', () => {
  const cases: [string, Record<string, string>, string][] = [
    ['/spend/logs', { start_date: '2026-02-30', end_date: '2026-03-05' }, 'start_date'],
    ['/spend/logs', { start_date: '2026-03-01', end_date: '2026-04-31' }, 'end_date'],
    ['/global/spend/report', { start_date: '2026-02-29', end_date: '2026-03-05' }, 'start_date'],
    ['/spend/tags', { start_date: '2026-13-01', end_date: '2026-12-31' }, 'start_date'],
    ['/user/daily/activity', { user_id: 'u-1', start_date: '2026-06-00' }, 'start_date'],
  ];
  for (const [path, q, param] of cases)
    it(`${path} ${JSON.stringify(q)}`, async () => {
      const res = await callApi(spendHandler, 'GET', path, q);
      expect([res.status, res.body.error?.param, res.body.error?.type]).toEqual([400, param, 'invalid_request_error']);
    });

  it('a leap day is a day', async () => {
    const res = await callApi(spendHandler, 'GET', '/global/spend/report', { start_date: '2028-02-29', end_date: '2028-03-01' });
    expect(res.status).toBe(200);
  });
});

describe("LiteLLM's `summarize` on /spend/logs (found by review: any value was a 400 unknown field)", () => {
  it('`summarize=false` lists the logs, as without it', async () => {
    const q = { start_date: '2026-11-01', end_date: '2026-11-02' };
    const res = await callApi(spendHandler, 'GET', '/spend/logs', { ...q, summarize: 'false' });
    expect([res.status, res.body]).toEqual([200, (await callApi(spendHandler, 'GET', '/spend/logs', q)).body]);
  });

  it('`summarize=true` is a 400 naming it and the reports that sum by day', async () => {
    const res = await callApi(spendHandler, 'GET', '/spend/logs', { start_date: '2026-11-01', end_date: '2026-11-02', summarize: 'true' });
    expect([res.status, res.body.error?.param, res.body.error?.code]).toEqual([400, 'summarize', 'invalid_field']);
    expect(res.body.error.message).toContain('/global/spend/report');
  });

  it('any other value is a 400 naming it', async () => {
    const res = await callApi(spendHandler, 'GET', '/spend/logs', { summarize: 'yes' });
    expect([res.status, res.body.error?.param]).toEqual([400, 'summarize']);
    expect(res.body.error.message).toContain('must be true or false');
  });
});
