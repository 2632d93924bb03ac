import { beforeAll, describe, expect, it } from 'vitest';
import { handler as spendHandler } from '../../../functions/spend/handler.js';
import { tableStreamConsumers } from '../../../lib/app/index.js';
import { dollarsToNanos } from '../../../lib/domain/cost.js';
import type { SpendLog } from '../../../lib/domain/spend-log.js';
import { type LogScope, logPartitionsOf } from '../../../lib/store/spend-logs.js';
import { callApi } from '../../support/admin.js';
import { drainOnce, partitionItems, settleLogs } from '../../support/stream.js';
import { type TestTable, useTestTable } from '../../support/table.js';

const day = '2026-12-01';
const logs: SpendLog[] = Array.from({ length: 12 }, (_, i) => ({
  request_id: `unindexed-${i}`,
  call_type: '/v1/chat/completions',
  model: 'gpt-4o-mini',
  model_group: 'gpt-4o-mini',
  api_key: `ab${i % 2}`.padEnd(64, '0'),
  key_alias: null,
  user: `u${i % 3}`,
  team_id: 'team-unindexed',
  organization_id: 'org-unindexed',
  end_user: 'customer-1',
  prompt_tokens: 10,
  completion_tokens: i,
  total_tokens: 10 + i,
  spend: (i + 1) / 1000,
  usage_source: 'reported',
  startTime: `${day}T10:00:${String(i).padStart(2, '0')}.000Z`,
  endTime: `${day}T10:00:${String(i).padStart(2, '0')}.500Z`,
  status: 'success',
  request_tags: [],
}));
let table: TestTable;

beforeAll(async () => {
  table = await useTestTable({ TOLLGATE_SPEND_LOG_INDEX: 'false' }, { stream: true });
  await settleLogs(logs);
  await drainOnce(table, tableStreamConsumers());
}, 60_000);

describe('spend logs not indexed', () => {
  it('writes no index item in any scope', async () => {
    const scopes: [LogScope, string][] = [
      ['all', day],
      ['key', logs[0]?.api_key as string],
      ['user', 'u0'],
      ['team', 'team-unindexed'],
      ['end_user', 'customer-1'],
    ];
    for (const [scope, id] of scopes)
      for (const pk of logPartitionsOf(scope, id)) {
        expect([pk, (await partitionItems(pk)).length]).toEqual([pk, 0]);
      }
  });

  it('a listing is a clear 400 naming the setting; a read by request id still answers', async () => {
    for (const input of [{}, { team_id: 'team-unindexed' }, { api_key: logs[0]?.api_key }, { start_date: day, end_date: day }]) {
      const res = await callApi(spendHandler, 'GET', '/spend/logs', input);
      expect([input, res.status, res.body.error?.code]).toEqual([input, 400, 'spend_logs_not_indexed']);
      expect(res.body.error.message).toContain('spendLogIndex');
    }
    const one = await callApi(spendHandler, 'GET', '/spend/logs', { request_id: 'unindexed-5' });
    expect(one.status).toBe(200);
    expect(one.body.data.map((l: SpendLog) => [l.request_id, l.spend])).toEqual([['unindexed-5', 0.006]]);
  });

  it('the reports still count every request, exactly', async () => {
    const res = await callApi(spendHandler, 'GET', '/global/spend/report', { start_date: day, end_date: day, group_by: 'team' });
    expect(res.status).toBe(200);
    const row = res.body[0]?.teams.find((t: { team_name: string }) => t.team_name === 'team-unindexed');
    expect(dollarsToNanos(row?.total_spend)).toBe(logs.reduce((t, l) => t + dollarsToNanos(l.spend), 0));
  });
});
