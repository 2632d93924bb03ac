/**
 * A stored response read again as a stream (`GET /v1/responses/{id}?stream=true`) is not a new
 * call: its events carry the old usage, which is not charged again (found by review).
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
import { backgroundResponse, call, seedModels } from './harness.js';

let server: Server;
const usage = { input_tokens: 2, output_tokens: 4, total_tokens: 6 };
const resp = (status: string, withUsage: boolean, id = 'resp_custom1') => ({
  id,
  object: 'response',
  status,
  output: [],
  usage: withUsage ? usage : null,
});

beforeAll(async () => {
  server = createServer((req, res) => {
    let raw = '';
    req.on('data', (c) => {
      raw += c;
    });
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://x');
      if (url.pathname === '/v1/responses/resp_bg2' || (url.pathname === '/v1/responses' && raw.includes('still running'))) {
        res.writeHead(200, { 'content-type': 'application/json' });
        return res.end(JSON.stringify(resp('in_progress', false, 'resp_bg2')));
      }
      if (req.method === 'POST' && url.pathname === '/v1/responses' && raw.includes('"background":true')) {
        res.writeHead(200, { 'content-type': 'application/json' });
        return res.end(JSON.stringify(resp('queued', false, 'resp_bg1')));
      }
      if (req.method === 'GET' && url.pathname === '/v1/responses/resp_bg1' && url.searchParams.get('stream') === 'true') {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write(
          `event: response.in_progress\ndata: ${JSON.stringify({ type: 'response.in_progress', response: resp('in_progress', false, 'resp_bg1') })}\n\n`,
        );
        return res.end(
          `event: response.completed\ndata: ${JSON.stringify({ type: 'response.completed', response: resp('completed', true, 'resp_bg1') })}\n\n`,
        );
      }
      if (req.method === 'DELETE' && url.pathname === '/v1/responses/resp_bg1') {
        res.writeHead(200, { 'content-type': 'application/json' });
        return res.end(JSON.stringify({ id: 'resp_bg1', object: 'response', deleted: true }));
      }
      if (req.method === 'POST' && url.pathname === '/v1/responses') {
        res.writeHead(200, { 'content-type': 'application/json' });
        return res.end(JSON.stringify(resp('completed', true)));
      }
      if (req.method === 'GET' && url.pathname === '/v1/responses/resp_custom1' && url.searchParams.get('stream') === 'true') {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write(
          `event: response.created\ndata: ${JSON.stringify({ type: 'response.created', response: resp('in_progress', false) })}\n\n`,
        );
        return res.end(
          `event: response.completed\ndata: ${JSON.stringify({ type: 'response.completed', response: resp('completed', true) })}\n\n`,
        );
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(resp('completed', true)));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
  await useTestTable({
    TOLLGATE_MASTER_KEY: 'sk-master-rc-0123456789abcdef',
    TOLLGATE_LOCAL_SECRETS: JSON.stringify(mockLocalSecrets()),
    TOLLGATE_PASSTHROUGH_MODEL: 'gpt-4o-mini',
  });
  await seedModels(mockModels(url));
  await seedTeam({ team_id: 'team-a' });
  return () => new Promise<void>((r) => server.close(() => r()));
});

it('reading a stored response again as a stream never bills again', async () => {
  const { key, record } = await seedKey({ team_id: 'team-a' });
  const made = await call({ path: '/v1/responses', headers: bearer(key), body: { model: 'gpt-4o-mini', input: 'Hello there' } });
  expect(made.json.id).toBe('resp_custom1');
  const once = await spendNanos(refs.key(record.token));
  expect(once).toBeGreaterThan(0);
  const read = await call({ method: 'GET', path: '/v1/responses/resp_custom1', query: { stream: 'true' }, headers: bearer(key) });
  expect(read.status).toBe(200);
  expect(read.text).toContain('response.completed');
  expect(await spendNanos(refs.key(record.token))).toBe(once);
});

it('a background response read to its end as a stream is billed then, once (never $0 when it is deleted after)', async () => {
  const { key, record } = await backgroundResponse('gpt-4o-mini');
  expect(await spendNanos(refs.key(record.token))).toBe(0);
  for (let i = 0; i < 2; i++) {
    const read = await call({ method: 'GET', path: '/v1/responses/resp_bg1', query: { stream: 'true' }, headers: bearer(key) });
    expect(read.text).toContain('response.completed');
  }
  expect((await call({ method: 'DELETE', path: '/v1/responses/resp_bg1', headers: bearer(key) })).status).toBe(200);
  const billed = await spendNanos(refs.key(record.token));
  // gpt-4o-mini: 2 input and 4 output tokens.
  expect(billed).toBe(Math.round(2 * 0.15 * 1000 + 4 * 0.6 * 1000));
});

it('a background response still running is not deleted unbilled: 409, its record kept', async () => {
  const { key } = await seedKey({ team_id: 'team-a' });
  const made = await call({
    path: '/v1/responses',
    headers: bearer(key),
    body: { model: 'gpt-4o-mini', input: 'still running', background: true },
  });
  expect(made.json.status).toBe('in_progress');
  const del = await call({ method: 'DELETE', path: '/v1/responses/resp_bg2', headers: bearer(key) });
  expect([del.status, del.json.error?.code]).toEqual([409, 'object_pending']);
  expect((await call({ method: 'GET', path: '/v1/responses/resp_bg2', headers: bearer(key) })).status).toBe(200);
});
