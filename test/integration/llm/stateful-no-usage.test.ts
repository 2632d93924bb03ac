/**
 * A background response or a batch whose upstream reports no usage when it ends is not free
 * (found by review): as any call answered without usage, it is charged its estimate, once. A
 * batch is charged for the share of its requests that completed; one that failed ran nothing.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { beforeAll, expect, it } from 'vitest';
import { mockLocalSecrets, mockModels } from '../../../infra/local/mock-models.js';
import { refs } from '../../../lib/store/keys.js';
import { bearer } from '../../support/authorizer.js';
import { seedKey, seedTeam } from '../../support/seed.js';
import { spendNanos } from '../../support/spend.js';
import { useTestTable } from '../../support/table.js';
import { call, seedModels } from './harness.js';

let server: Server;
const SEARCH_PRICE = 0.01;
const SEARCH_NANOS = SEARCH_PRICE * 1e9;
let n = 0;
const batches = new Map<string, { status: string; total: number; completed: number }>();

beforeAll(async () => {
  server = createServer((req, res) => {
    let raw = '';
    req.on('data', (c) => {
      raw += c;
    });
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://x');
      res.writeHead(200, { 'content-type': 'application/json' });
      n++;
      // `zero`: usage that counts nothing, on the create answer and the read (some compatible upstreams).
      const zero = { input_tokens: 0, output_tokens: 0, total_tokens: 0 };
      if (req.method === 'POST' && url.pathname === '/v1/responses') {
        const id = raw.includes('zero') ? `resp_zero_nu${n}` : `resp_nu${n}`;
        return res.end(JSON.stringify({ id, object: 'response', status: 'queued', output: [], usage: id.includes('zero') ? zero : null }));
      }
      if (req.method === 'GET' && url.pathname.startsWith('/v1/responses/')) {
        const id = url.pathname.split('/').at(-1) as string;
        const output = [{ type: 'message', id: `msg_nu${n}`, role: 'assistant', content: [{ type: 'output_text', text: 'done' }] }];
        return res.end(JSON.stringify({ id, object: 'response', status: 'completed', output, usage: id.includes('zero') ? zero : null }));
      }
      if (req.method === 'POST' && url.pathname === '/v1/files')
        return res.end(JSON.stringify({ id: `file-nu${n}`, object: 'file', purpose: 'batch' }));
      if (req.method === 'POST' && url.pathname === '/v1/batches') {
        const id = `batch_nu${n}`;
        const failed = raw.includes('fail');
        batches.set(id, failed ? { status: 'failed', total: 0, completed: 0 } : { status: 'completed', total: 2, completed: 1 });
        return res.end(JSON.stringify({ id, object: 'batch', status: 'validating', usage: null }));
      }
      if (req.method === 'GET' && url.pathname.startsWith('/v1/batches/')) {
        const id = url.pathname.split('/').at(-1) as string;
        const b = batches.get(id);
        const request_counts = { total: b?.total, completed: b?.completed, failed: (b?.total ?? 0) - (b?.completed ?? 0) };
        return res.end(JSON.stringify({ id, object: 'batch', status: b?.status, request_counts }));
      }
      res.end('{}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  await useTestTable({
    TOLLGATE_MASTER_KEY: 'sk-master-no-usage-0123456789abcdef',
    TOLLGATE_LOCAL_SECRETS: JSON.stringify(mockLocalSecrets()),
    TOLLGATE_PASSTHROUGH_MODEL: 'gpt-4o-mini',
  });
  // A per-search price: a deferred bill charges the searches its request's tools allow, as a live call's estimate does.
  const models = mockModels(`http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`);
  await seedModels(models.map((m) => (m.model_name === 'gpt-4o-mini' ? { ...m, search_context_cost_per_query: SEARCH_PRICE } : m)));
  await seedTeam({ team_id: 'team-a' });
  return () => new Promise<void>((r) => server.close(() => r()));
});

it.each([
  ['without usage', 'Hello there'],
  ['with usage that counts nothing (found by review: billed $0)', 'Hello zero'],
])('a background response that ends %s is charged its estimate, once', async (_, input) => {
  const { key, record } = await seedKey({ team_id: 'team-a' });
  const made = await call({
    path: '/v1/responses',
    headers: bearer(key),
    body: { model: 'gpt-4o-mini', input, background: true, max_output_tokens: 100 },
  });
  expect(made.json.status).toBe('queued');
  for (let i = 0; i < 2; i++) await call({ method: 'GET', path: `/v1/responses/${made.json.id}`, headers: bearer(key) });
  const spent = await spendNanos(refs.key(record.token));
  // At most its body's bytes in, and its 100 output tokens out, at gpt-4o-mini's prices.
  expect(spent).toBeGreaterThan(100 * 0.6 * 1000);
  expect(spent).toBeLessThan(200 * 0.15 * 1000 + 100 * 0.6 * 1000);
});

it('with a web search tool: charged the searches its request allows too, as a live call without usage is (found in review)', async () => {
  const { key, record } = await seedKey({ team_id: 'team-a' });
  const made = await call({
    path: '/v1/responses',
    headers: bearer(key),
    body: {
      model: 'gpt-4o-mini',
      input: 'Hello there',
      background: true,
      max_output_tokens: 100,
      tools: [{ type: 'web_search' }],
      max_tool_calls: 2,
    },
  });
  expect(made.json.status).toBe('queued');
  for (let i = 0; i < 2; i++) await call({ method: 'GET', path: `/v1/responses/${made.json.id}`, headers: bearer(key) });
  const spent = await spendNanos(refs.key(record.token));
  // Its 2 searches, and tokens as above.
  expect(spent).toBeGreaterThan(2 * SEARCH_NANOS + 100 * 0.6 * 1000);
  expect(spent).toBeLessThan(2 * SEARCH_NANOS + 300 * 0.15 * 1000 + 100 * 0.6 * 1000);
});

async function batchOf(key: string, extra: Record<string, unknown> = {}, lineBody: Record<string, unknown> = {}) {
  const line = (i: number) =>
    JSON.stringify({
      custom_id: `r${i}`,
      method: 'POST',
      url: '/v1/chat/completions',
      body: { model: 'gpt-4o-mini', max_tokens: 100, messages: [{ role: 'user', content: 'hi' }], ...lineBody },
    });
  const form = new FormData();
  form.set('purpose', 'batch');
  form.set('file', new Blob([`${line(1)}\n${line(2)}\n`]), 'batch.jsonl');
  const file = await call({ path: '/v1/files', headers: bearer(key), body: form });
  return call({
    path: '/v1/batches',
    headers: bearer(key),
    body: { input_file_id: file.json.id, endpoint: '/v1/chat/completions', completion_window: '24h', ...extra },
  });
}

it('a batch that ends without usage is charged the estimate of the requests that completed, once', async () => {
  const { key, record } = await seedKey({ team_id: 'team-a' });
  const made = await batchOf(key);
  for (let i = 0; i < 2; i++) await call({ method: 'GET', path: `/v1/batches/${made.json.id}`, headers: bearer(key) });
  const spent = await spendNanos(refs.key(record.token));
  // One of its two requests completed: at least its 100 output tokens, not both requests' 200.
  expect(spent).toBeGreaterThan(100 * 0.6 * 1000);
  expect(spent).toBeLessThan(200 * 0.6 * 1000);
});

it("a batch of web search calls that ends without usage: its completed requests' searches too", async () => {
  const { key, record } = await seedKey({ team_id: 'team-a' });
  // A chat call with `web_search_options` is one search; one of the two requests completed.
  const made = await batchOf(key, {}, { web_search_options: {} });
  for (let i = 0; i < 2; i++) await call({ method: 'GET', path: `/v1/batches/${made.json.id}`, headers: bearer(key) });
  const spent = await spendNanos(refs.key(record.token));
  expect(spent).toBeGreaterThan(SEARCH_NANOS + 100 * 0.6 * 1000);
  expect(spent).toBeLessThan(SEARCH_NANOS + 200 * 0.6 * 1000);
});

it('a batch that failed before running anything costs nothing', async () => {
  const { key, record } = await seedKey({ team_id: 'team-a' });
  const made = await batchOf(key, { metadata: { note: 'fail' } });
  await call({ method: 'GET', path: `/v1/batches/${made.json.id}`, headers: bearer(key) });
  expect(await spendNanos(refs.key(record.token))).toBe(0);
});
