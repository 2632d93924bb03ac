/**
 * A deferred bill (a batch, a background response) is reported in the day and window it counted
 * in, as the budgets count it (found by review): its spend log's startTime was when the work
 * began, so the rollups put its cost on that day (yesterday, last month) while the key's budget
 * window counted it today; a report of today, or /spend/logs for today, disagreed with the
 * key's spend today. LiteLLM logs a batch's cost when it tracks it, too (check_batch_cost).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { handler as spendHandler } from '../../../functions/spend/handler.js';
import { MOCK_UPSTREAM_KEY, mockLocalSecrets, mockModels } from '../../../infra/local/mock-models.js';
import { type MockUpstream, startMockUpstream } from '../../../infra/local/mock-upstream.js';
import { configureApp, spendLogStore } from '../../../lib/app/index.js';
import { dollarsToNanos } from '../../../lib/domain/cost.js';
import { spendLogConsumer } from '../../../lib/spend/stream.js';
import { refs } from '../../../lib/store/keys.js';
import { adminCtx, callApi } from '../../support/admin.js';
import { bearer } from '../../support/authorizer.js';
import { seedKey, seedTeam, seedUser } from '../../support/seed.js';
import { windowNanos } from '../../support/spend.js';
import { drainOnce } from '../../support/stream.js';
import { type TestTable, useTestTable } from '../../support/table.js';
import { call, seedModels } from '../llm/harness.js';

let mock: MockUpstream;
let table: TestTable;
let now = Date.UTC(2026, 11, 9, 23, 30, 0);

beforeAll(async () => {
  mock = await startMockUpstream({ apiKey: MOCK_UPSTREAM_KEY });
  table = await useTestTable(
    { TOLLGATE_LOCAL_SECRETS: JSON.stringify(mockLocalSecrets()), TOLLGATE_PASSTHROUGH_MODEL: 'gpt-4o-mini' },
    { stream: true },
  );
  configureApp({ clock: () => now });
  await seedModels(mockModels(mock.url));
  await seedTeam({ team_id: 'deferred' });
  await seedUser({ user_id: 'dee', user_role: 'internal_user' });
});
afterAll(async () => {
  configureApp({ clock: undefined });
  await mock?.close();
});

async function upload(key: string) {
  const form = new FormData();
  form.set('purpose', 'batch');
  form.set('file', new Blob(['{"custom_id":"1","body":{"model":"gpt-4o-mini"}}\n'], { type: 'application/jsonl' }), 'batch.jsonl');
  return call({ path: '/v1/files', headers: bearer(key), body: form });
}

const made = {
  batch: async (key: string) => {
    const file = await upload(key);
    const batch = await call({
      path: '/v1/batches',
      headers: bearer(key),
      body: { input_file_id: file.json.id, endpoint: '/v1/chat/completions', completion_window: '24h' },
    });
    expect(batch.status).toBe(200);
    return `/v1/batches/${batch.json.id}`;
  },
  'background response': async (key: string) => {
    const res = await call({
      path: '/v1/responses',
      headers: bearer(key),
      body: { model: 'gpt-4o-mini', input: 'Hello there', background: true },
    });
    expect(res.json.status).toBe('queued');
    return `/v1/responses/${res.json.id}`;
  },
};

describe('a deferred bill is reported in the day it counted in, as its budget window counts it', () => {
  for (const [kind, make] of Object.entries(made)) {
    it(`${kind}: made before midnight UTC, billed after: today's report and logs hold it, equal to the key's window`, async () => {
      const { key, record } = await seedKey({ team_id: 'deferred', user_id: 'dee', budget_duration: '1d' });
      now = Date.UTC(2026, 11, 9, 23, 30, 0);
      const path = await make(key);
      now = Date.UTC(2026, 11, 10, 0, 30, 0);
      expect((await call({ method: 'GET', path, headers: bearer(key) })).status).toBe(200);
      await drainOnce(table, [spendLogConsumer(spendLogStore)]);

      const counted = await windowNanos(refs.key(record.token), '1d', now);
      expect(counted).toBeGreaterThan(0);
      const report = await callApi(
        spendHandler,
        'GET',
        '/global/spend/report',
        { start_date: '2026-12-10', end_date: '2026-12-10', group_by: 'api_key' },
        adminCtx,
      );
      const row = report.body
        .flatMap((d: { api_keys: { api_key: string; total_spend: number }[] }) => d.api_keys)
        .find((r: { api_key: string }) => r.api_key === record.token);
      expect(dollarsToNanos(row?.total_spend ?? 0)).toBe(counted);
      const yesterday = await callApi(
        spendHandler,
        'GET',
        '/global/spend/report',
        { start_date: '2026-12-09', end_date: '2026-12-09', group_by: 'api_key' },
        adminCtx,
      );
      expect(JSON.stringify(yesterday.body)).not.toContain(record.token);
      const logs = await callApi(
        spendHandler,
        'GET',
        '/spend/logs',
        { api_key: record.token, start_date: '2026-12-10', end_date: '2026-12-10' },
        adminCtx,
      );
      expect(logs.body.data.map((l: { spend: number }) => dollarsToNanos(l.spend))).toEqual([counted]);
    });
  }
});
