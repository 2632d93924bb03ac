/**
 * A thread run is billed once, through its record, by its whole usage, whichever answer first
 * shows it ended (found by review): a run given tool outputs as a stream was billed twice (the
 * stream's cumulative usage, then the read); a run whose thread's runs were listed, or whose
 * thread was deleted, was never billed.
 */
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { objectOwners } from '../../../lib/app/index.js';
import { costNanos } from '../../../lib/domain/cost.js';
import type { ModelRecord } from '../../../lib/domain/records.js';
import { settlementsOf } from '../../../lib/llm/handle.js';
import { refs } from '../../../lib/store/keys.js';
import { DynamoObjectOwners } from '../../../lib/store/objects.js';
import { bearer } from '../../support/authorizer.js';
import { seedKey, seedTeam } from '../../support/seed.js';
import { spendNanos } from '../../support/spend.js';
import { call, passthroughTable, standInUpstream, startStream } from './harness.js';

const usage = { prompt_tokens: 1000, completion_tokens: 2000, total_tokens: 3000 };
let upstream: { base: string; close: () => Promise<void> };
let mini: ModelRecord;
let n = 0;
/** Runs the mock has made, by thread; a thread named `..._busy` keeps its runs under way. */
const runsOn = new Map<string, string[]>();
const sse = (type: string, data: unknown) => `event: ${type}\ndata: ${JSON.stringify(data)}\n\n`;

beforeAll(async () => {
  upstream = await standInUpstream((req, raw, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const body = raw ? (JSON.parse(raw) as Record<string, unknown>) : {};
    n++;
    const json = (v: unknown) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(v));
    };
    if (req.method === 'POST' && url.pathname === '/v1/threads')
      return json({ id: `thread_${n}${body.busy ? '_busy' : body.bare ? '_bare' : body.nolist ? '_nolist' : ''}`, object: 'thread' });
    // A thread's messages: the user's, then what each of its runs wrote (naming the run).
    const messages = /^\/v1\/threads\/(thread_\w+?)\/messages$/.exec(url.pathname);
    if (messages && req.method === 'GET') {
      const thread = messages[1] as string;
      const said = (id: string, role: string, run_id: string | null) => ({
        id,
        object: 'thread.message',
        thread_id: thread,
        role,
        run_id,
        content: [{ type: 'text', text: { value: 'words', annotations: [] } }],
      });
      const runs = runsOn.get(thread) ?? [];
      return json({
        object: 'list',
        data: [said('msg_user', 'user', null), ...runs.map((r) => said(`msg_${r}`, 'assistant', r))],
        has_more: false,
      });
    }
    const m = /^\/v1\/threads\/(thread_\w+?)(?:\/runs(?:\/(run_\d+))?(?:\/(\w+))?)?$/.exec(url.pathname);
    if (!m) return json({});
    const [, thread = '', runId, tail] = m;
    // A `_bare` thread's upstream leaves `object` out of its runs; a `_nolist` one lists none (405).
    const run = (id: string, status: string) => ({
      id,
      ...(thread.endsWith('_bare') ? {} : { object: 'thread.run' }),
      thread_id: thread,
      status,
      usage: status === 'completed' ? usage : null,
    });
    if (thread.endsWith('_nolist') && req.method === 'GET' && url.pathname.endsWith('/runs')) {
      res.writeHead(405, { 'content-type': 'application/json' });
      return res.end(JSON.stringify({ error: { message: 'no listing here', type: 'invalid_request_error' } }));
    }
    const ended = thread.endsWith('_busy') ? 'in_progress' : 'completed';
    if (req.method === 'DELETE' && !url.pathname.includes('/runs')) return json({ id: thread, object: 'thread.deleted', deleted: true });
    if (req.method === 'GET' && url.pathname.endsWith('/runs'))
      return json({ object: 'list', data: (runsOn.get(thread) ?? []).map((id) => run(id, ended)), has_more: false });
    if (req.method === 'GET' && runId) return json(run(runId, ended));
    if (req.method === 'POST') {
      const id = runId ?? `run_${n}`;
      if (!runId) runsOn.set(thread, [...(runsOn.get(thread) ?? []), id]);
      if (body.stream !== true) return json(run(id, 'queued'));
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      // Made as a stream: it stops for tool outputs; given them as a stream: it completes,
      // with the whole run's usage; `cut`: the stream stops mid-run (the client leaves).
      res.write(sse('thread.run.created', run(id, 'queued')));
      res.write(
        sse('thread.message.delta', {
          id: 'msg_1',
          object: 'thread.message.delta',
          delta: { content: [{ type: 'text', text: { value: 'some words here' } }] },
        }),
      );
      if (body.cut) return;
      if (tail === 'submit_tool_outputs') res.write(sse('thread.run.completed', run(id, 'completed')));
      else res.write(sse('thread.run.requires_action', run(id, 'requires_action')));
      return res.end(sse('done', '[DONE]'));
    }
    json({});
  });
  mini = await passthroughTable(upstream.base);
  await seedTeam({ team_id: 'team-a' });
  return () => upstream.close();
});

const runCost = () => costNanos({ inputTokens: usage.prompt_tokens, outputTokens: usage.completion_tokens }, mini);

async function tenant(kind?: 'busy' | 'bare' | 'nolist') {
  const { key, record } = await seedKey({ team_id: 'team-a' });
  const thread = (await call({ path: '/v1/threads', headers: bearer(key), body: kind ? { [kind]: true } : {} })).json.id as string;
  return { key, thread, spend: () => spendNanos(refs.key(record.token)) };
}

describe('a run is billed once, by its whole usage', () => {
  it('made, its output then read from its thread’s messages only: billed once, by the messages read (found by review: never billed)', async () => {
    const t = await tenant();
    await call({ path: `/v1/threads/${t.thread}/runs`, headers: bearer(t.key), body: {} });
    expect(await t.spend()).toBe(0);
    for (let i = 0; i < 2; i++)
      expect((await call({ method: 'GET', path: `/v1/threads/${t.thread}/messages`, headers: bearer(t.key) })).status).toBe(200);
    expect(await t.spend()).toBe(runCost());
  });

  it('its messages read while it is under way: nothing yet, the run stays pending', async () => {
    const t = await tenant('busy');
    const run = (await call({ path: `/v1/threads/${t.thread}/runs`, headers: bearer(t.key), body: {} })).json.id as string;
    expect((await call({ method: 'GET', path: `/v1/threads/${t.thread}/messages`, headers: bearer(t.key) })).status).toBe(200);
    expect(await t.spend()).toBe(0);
    expect((await objectOwners().get(run))?.billing).toBe('pending');
  });

  it('made as JSON, given tool outputs as a stream that shows it completed, then read: once', async () => {
    const t = await tenant();
    const run = (await call({ path: `/v1/threads/${t.thread}/runs`, headers: bearer(t.key), body: {} })).json.id as string;
    const streamed = await call({
      path: `/v1/threads/${t.thread}/runs/${run}/submit_tool_outputs`,
      headers: bearer(t.key),
      body: { tool_outputs: [], stream: true },
    });
    expect(streamed.text).toContain('thread.run.completed');
    expect(await t.spend()).toBe(runCost());
    await call({ method: 'GET', path: `/v1/threads/${t.thread}/runs/${run}`, headers: bearer(t.key) });
    expect(await t.spend()).toBe(runCost());
  });

  it('made as a stream that stops for tool outputs (nothing charged yet), given them as JSON, then read: once', async () => {
    const t = await tenant();
    const made = await call({ path: `/v1/threads/${t.thread}/runs`, headers: bearer(t.key), body: { stream: true } });
    expect(made.text).toContain('thread.run.requires_action');
    expect(await t.spend()).toBe(0);
    const run = /"id":"(run_\d+)"/.exec(made.text)?.[1] as string;
    await call({ path: `/v1/threads/${t.thread}/runs/${run}/submit_tool_outputs`, headers: bearer(t.key), body: { tool_outputs: [] } });
    expect(await t.spend()).toBe(0);
    await call({ method: 'GET', path: `/v1/threads/${t.thread}/runs/${run}`, headers: bearer(t.key) });
    expect(await t.spend()).toBe(runCost());
  });

  it("found ended in a list of its thread's runs: billed then, once", async () => {
    const t = await tenant();
    await call({ path: `/v1/threads/${t.thread}/runs`, headers: bearer(t.key), body: {} });
    await call({ path: `/v1/threads/${t.thread}/runs`, headers: bearer(t.key), body: {} });
    expect(await t.spend()).toBe(0);
    for (let i = 0; i < 2; i++) {
      const list = await call({ method: 'GET', path: `/v1/threads/${t.thread}/runs`, headers: bearer(t.key) });
      expect(list.json.data).toHaveLength(2);
      expect(await t.spend()).toBe(2 * runCost());
    }
  });

  it('its thread deleted: its ended runs are billed first, once; a run under way makes it a 409 that deletes nothing', async () => {
    const t = await tenant();
    await call({ path: `/v1/threads/${t.thread}/runs`, headers: bearer(t.key), body: {} });
    const deleted = await call({ method: 'DELETE', path: `/v1/threads/${t.thread}`, headers: bearer(t.key) });
    expect(deleted.status).toBe(200);
    expect(await t.spend()).toBe(runCost());
    const busy = await tenant('busy');
    await call({ path: `/v1/threads/${busy.thread}/runs`, headers: bearer(busy.key), body: {} });
    const refused = await call({ method: 'DELETE', path: `/v1/threads/${busy.thread}`, headers: bearer(busy.key) });
    expect([refused.status, refused.json.error?.code]).toEqual([409, 'object_pending']);
    expect((await call({ method: 'GET', path: `/v1/threads/${busy.thread}/runs`, headers: bearer(busy.key) })).status).toBe(200);
    expect(await busy.spend()).toBe(0);
  });

  it('a stream its client leaves mid-run: what it was sent now, the rest when a read finds it ended, its cost once in all', async () => {
    const t = await tenant();
    const { event, body } = await startStream({
      path: `/v1/threads/${t.thread}/runs`,
      headers: bearer(t.key),
      body: { stream: true, cut: true },
      requestId: `req-cut-${Math.random()}`,
    });
    let seen = '';
    for await (const chunk of body) {
      seen += String(chunk);
      if (seen.includes('some words here')) break;
    }
    await settlementsOf(event);
    const atOnce = await t.spend();
    expect(atOnce).toBeGreaterThan(0);
    expect(atOnce).toBeLessThan(runCost());
    const run = /"id":"(run_\d+)"/.exec(seen)?.[1] as string;
    await call({ method: 'GET', path: `/v1/threads/${t.thread}/runs/${run}`, headers: bearer(t.key) });
    expect(await t.spend()).toBe(runCost());
  });

  it('from an upstream that leaves `object` out of its runs: recorded, and billed once by the read that finds it ended', async () => {
    const t = await tenant('bare');
    const made = await call({ path: `/v1/threads/${t.thread}/runs`, headers: bearer(t.key), body: {} });
    expect(made.json.object).toBeUndefined();
    expect(await t.spend()).toBe(0);
    for (let i = 0; i < 2; i++) await call({ method: 'GET', path: `/v1/threads/${t.thread}/runs/${made.json.id}`, headers: bearer(t.key) });
    expect(await t.spend()).toBe(runCost());
    const other = await tenant('bare');
    await call({ path: `/v1/threads/${other.thread}/runs`, headers: bearer(other.key), body: {} });
    await call({ method: 'GET', path: `/v1/threads/${other.thread}/runs`, headers: bearer(other.key) });
    expect(await other.spend()).toBe(runCost());
  });

  it('a thread whose upstream lists no runs (405) is still deleted', async () => {
    const t = await tenant('nolist');
    expect((await call({ method: 'DELETE', path: `/v1/threads/${t.thread}`, headers: bearer(t.key) })).status).toBe(200);
  });

  it('a run stream whose record the store fails to write: charged as any stream, its hold released, nothing thrown (found by review)', async () => {
    const t = await tenant();
    const failing = vi
      .spyOn(DynamoObjectOwners.prototype, 'putNew')
      .mockRejectedValueOnce(Object.assign(new Error('down'), { name: 'InternalServerError' }));
    const made = await call({ path: `/v1/threads/${t.thread}/runs`, headers: bearer(t.key), body: { stream: true } });
    failing.mockRestore();
    expect(made.text).toContain('thread.run.requires_action');
    expect(await t.spend()).toBeGreaterThan(0);
  });

  it('a run started while its records cannot be read back: the client gets its run, the run is recorded pending (found by review: a 503 for a run that existed)', async () => {
    const t = await tenant();
    const failing = vi
      .spyOn(DynamoObjectOwners.prototype, 'getMany')
      .mockRejectedValueOnce(Object.assign(new Error('down'), { name: 'InternalServerError' }));
    const made = await call({ path: `/v1/threads/${t.thread}/runs`, headers: bearer(t.key), body: {} });
    failing.mockRestore();
    expect([made.status, made.json.status]).toEqual([200, 'queued']);
    expect(await objectOwners().get(made.json.id as string)).toMatchObject({ billing: 'pending', thread_id: t.thread });
  });
});
