/**
 * Strict enforcement holds every call's cost before the call runs; work billed after the call
 * (a batch, a background response, a thread run) cannot be held for as long as it runs, so a
 * strict caller may not start it (found by review: a strict budget could be overspent by
 * batches, billed when a later read found them ended). The refusal reaches no upstream and
 * charges nothing; a fast caller starts the same work as before.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { beforeAll, describe, expect, it } from 'vitest';
import { mockLocalSecrets, mockModels } from '../../../infra/local/mock-models.js';
import { refs } from '../../../lib/store/keys.js';
import { bearer } from '../../support/authorizer.js';
import { seedKey, seedTeam } from '../../support/seed.js';
import { spendNanos } from '../../support/spend.js';
import { useTestTable } from '../../support/table.js';
import { call, seedModels } from './harness.js';

let server: Server;
const received: string[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      received.push(`${req.method} ${req.url}`);
      res.writeHead(200, { 'content-type': 'application/json' });
      if (req.url?.startsWith('/v1/responses'))
        return res.end(JSON.stringify({ id: `resp_${received.length}`, object: 'response', status: 'queued', output: [] }));
      if (req.url === '/v1/threads') return res.end(JSON.stringify({ id: `thread_${received.length}`, object: 'thread' }));
      if (req.url?.startsWith('/v1/threads'))
        return res.end(JSON.stringify({ id: `run_${received.length}`, object: 'thread.run', status: 'queued', thread_id: 'thread_x' }));
      res.end(JSON.stringify({ id: `x_${received.length}` }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  await useTestTable({
    TOLLGATE_MASTER_KEY: 'sk-master-strict-deferred',
    TOLLGATE_LOCAL_SECRETS: JSON.stringify(mockLocalSecrets()),
    TOLLGATE_PASSTHROUGH_MODEL: 'gpt-4o-mini',
  });
  await seedModels(mockModels(`http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`));
  await seedTeam({ team_id: 'team-strict', max_budget: 10, enforcement: 'strict' });
  await seedTeam({ team_id: 'team-fast', max_budget: 10 });
  return () => new Promise<void>((r) => server.close(() => r()));
});

const response = (background: unknown) => ({ model: 'gpt-4o-mini', input: 'Hello there', background, max_output_tokens: 50 });

describe('a strict caller', () => {
  it.each<[string, { method?: string; path: string; body?: unknown }, string | null]>([
    ['a background response', { path: '/v1/responses', body: response(true) }, 'background'],
    [
      'a background response asked with "true" (an upstream that coerces reads it so)',
      { path: '/v1/responses', body: response('true') },
      'background',
    ],
    ['a background response asked with 1', { path: '/v1/responses', body: response(1) }, 'background'],
    [
      'a batch',
      { path: '/v1/batches', body: { input_file_id: 'file-x', endpoint: '/v1/chat/completions', completion_window: '24h' } },
      null,
    ],
    ['a thread made and run', { path: '/v1/threads/runs', body: { assistant_id: 'asst_1' } }, null],
    ['a run on a thread', { path: '/v1/threads/{thread}/runs', body: { assistant_id: 'asst_1' } }, null],
    [
      'tool outputs that let a run go on',
      { path: '/v1/threads/{thread}/runs/run_1/submit_tool_outputs', body: { tool_outputs: [] } },
      null,
    ],
  ])('may not start %s: 403 deferred_work_not_allowed, no upstream call, nothing charged', async (_what, req, param) => {
    const { key, record } = await seedKey({ team_id: 'team-strict' });
    // A thread of the caller's own (making one starts nothing): another tenant's would be a 404 first.
    const thread = req.path.includes('{thread}') ? await call({ path: '/v1/threads', headers: bearer(key), body: {} }) : undefined;
    const path = thread ? req.path.replace('{thread}', thread.json.id) : req.path;
    const before = received.length;
    const res = await call({ method: req.method ?? 'POST', path, headers: bearer(key), body: req.body });
    expect(res.status).toBe(403);
    expect(res.json.error).toMatchObject({ type: 'permission_error', code: 'deferred_work_not_allowed', param });
    expect(res.json.error.message).toContain('strict enforcement cannot start');
    expect(received.length).toBe(before);
    // Nothing but the thread's own making, if any, which is not charged.
    expect(await spendNanos(refs.key(record.token))).toBe(0);
  });

  it('may still make a response in the foreground (background false or absent)', async () => {
    const { key } = await seedKey({ team_id: 'team-strict' });
    for (const background of [false, 'false', undefined]) {
      const res = await call({ path: '/v1/responses', headers: bearer(key), body: response(background) });
      expect([background, res.status]).toEqual([background, 200]);
    }
  });
});

describe('a fast caller', () => {
  it('starts a background response as before', async () => {
    const { key } = await seedKey({ team_id: 'team-fast' });
    const res = await call({ path: '/v1/responses', headers: bearer(key), body: response(true) });
    expect([res.status, res.json.status]).toEqual([200, 'queued']);
  });
});
