/**
 * Pending objects nobody read (found by review: never billed): the schedule's sweep
 * (lib/llm/pending) reads each one due upstream, as a proxy admin, through the llm function's own
 * read path. One that ended is billed once, to its maker; one under way is looked at again later;
 * one that ended with nothing to bill is retired. The llm function answers the schedule's event.
 */
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { invokeStreaming } from '../../../infra/local/awslambda.js';
import { objectOwners } from '../../../lib/app/index.js';
import { costNanos } from '../../../lib/domain/cost.js';
import type { ModelRecord } from '../../../lib/domain/records.js';
import { BILL_PENDING_EVENT } from '../../../lib/domain/tenancy.js';
import { llmDeps } from '../../../lib/llm/deps.js';
import { billDuePending } from '../../../lib/llm/pending.js';
import { refs } from '../../../lib/store/keys.js';
import { DynamoObjectOwners } from '../../../lib/store/objects.js';
import { logger } from '../../../lib/telemetry.js';
import { bearer } from '../../support/authorizer.js';
import { seedKey, seedTeam } from '../../support/seed.js';
import { spendNanos } from '../../support/spend.js';
import { call, llmHandler, passthroughTable, standInUpstream } from './harness.js';

const usage = { input_tokens: 1000, output_tokens: 4000, total_tokens: 5000 };
const MINUTE = 60_000;
let mini: ModelRecord;
/** Upstream reads, by path. */
const reads: string[] = [];
let n = 0;

beforeAll(async () => {
  const upstream = await standInUpstream((req, raw, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const json = (v: unknown) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(v));
    };
    n++;
    if (req.method === 'GET') reads.push(url.pathname);
    if (req.method === 'POST' && url.pathname === '/v1/responses') {
      const { input } = JSON.parse(raw) as { input: string };
      return json({ id: `resp_${input}_${n}`, object: 'response', status: 'queued', output: [], usage: null });
    }
    if (req.method === 'GET' && url.pathname.startsWith('/v1/responses/')) {
      const id = url.pathname.split('/').at(-1) as string;
      // `gone`: deleted upstream (or past its retention).
      if (id.includes('gone')) {
        res.writeHead(404, { 'content-type': 'application/json' });
        return res.end(JSON.stringify({ error: { message: 'No response found', type: 'invalid_request_error', code: null } }));
      }
      const status = id.includes('busy') ? 'in_progress' : id.includes('failed') ? 'failed' : 'completed';
      return json({ id, object: 'response', status, output: [], usage: status === 'completed' ? usage : null });
    }
    if (req.method === 'POST' && url.pathname === '/v1/threads') return json({ id: `thread_${n}`, object: 'thread' });
    const run = /^\/v1\/threads\/(thread_\d+)\/runs(?:\/(run_\d+))?$/.exec(url.pathname);
    if (run && req.method === 'POST')
      return json({ id: `run_${n}`, object: 'thread.run', thread_id: run[1], status: 'queued', usage: null });
    if (run && req.method === 'GET') {
      const u = { prompt_tokens: usage.input_tokens, completion_tokens: usage.output_tokens, total_tokens: usage.total_tokens };
      return json({ id: run[2], object: 'thread.run', thread_id: run[1], status: 'completed', usage: u });
    }
    res.writeHead(404).end();
  });
  mini = await passthroughTable(upstream.base);
  await seedTeam({ team_id: 'team-sweep' });
  return () => upstream.close();
});

const fullCost = () => costNanos({ inputTokens: usage.input_tokens, outputTokens: usage.output_tokens }, mini);

async function background(input: string) {
  const { key, record } = await seedKey({ team_id: 'team-sweep' });
  const made = await call({ path: '/v1/responses', headers: bearer(key), body: { model: 'gpt-4o-mini', input, background: true } });
  expect(made.json.status).toBe('queued');
  return { id: made.json.id as string, spend: () => spendNanos(refs.key(record.token)) };
}

describe('the sweep of pending objects nobody read', () => {
  it('bills an ended response once, to its maker; one not due yet is not read', async () => {
    const done = await background('done');
    const before = reads.length;
    // Not due until 15 minutes after it was made.
    await billDuePending(llmDeps(), { now: Date.now() + MINUTE });
    expect(reads.slice(before)).not.toContain(`/v1/responses/${done.id}`);
    expect(await done.spend()).toBe(0);
    await billDuePending(llmDeps(), { now: Date.now() + 16 * MINUTE });
    expect(await done.spend()).toBe(fullCost());
    expect((await objectOwners().get(done.id))?.billing).toBe('billed');
    // Billed: never read again.
    const after = reads.length;
    await billDuePending(llmDeps(), { now: Date.now() + 120 * MINUTE });
    expect(reads.slice(after)).not.toContain(`/v1/responses/${done.id}`);
    expect(await done.spend()).toBe(fullCost());
  });

  it('one under way stays pending and is looked at again later, not at every sweep; one that failed is retired unbilled', async () => {
    const busy = await background('busy');
    const failed = await background('failed');
    const at = Date.now() + 16 * MINUTE;
    await billDuePending(llmDeps(), { now: at });
    expect((await objectOwners().get(busy.id))?.billing).toBe('pending');
    expect((await objectOwners().get(failed.id))?.billing).toBe('billed');
    expect([await busy.spend(), await failed.spend()]).toEqual([0, 0]);
    const before = reads.length;
    await billDuePending(llmDeps(), { now: at + MINUTE });
    expect(reads.slice(before)).not.toContain(`/v1/responses/${busy.id}`);
    await billDuePending(llmDeps(), { now: at + 16 * MINUTE });
    expect(reads.slice(before)).toContain(`/v1/responses/${busy.id}`);
    expect(reads.slice(before)).not.toContain(`/v1/responses/${failed.id}`);
  });

  it('an ended response whose bill fails on the way (the store) stays pending, never retired at $0; the next look bills it (review)', async () => {
    const blip = await background('blip');
    const failing = vi
      .spyOn(DynamoObjectOwners.prototype, 'claimBilling')
      .mockRejectedValueOnce(Object.assign(new Error('throttled'), { name: 'ProvisionedThroughputExceededException' }));
    const at = Date.now() + 16 * MINUTE;
    try {
      await billDuePending(llmDeps(), { now: at });
    } finally {
      failing.mockRestore();
    }
    expect((await objectOwners().get(blip.id))?.billing).toBe('pending');
    expect(await blip.spend()).toBe(0);
    await billDuePending(llmDeps(), { now: at + 16 * MINUTE });
    expect(await blip.spend()).toBe(fullCost());
  });

  it('a 404 is not trusted at once (its model may have moved); a week on, a definite 4xx retires it unbilled, loudly, once (review)', async () => {
    const gone = await background('gone');
    const soon = Date.now() + 16 * MINUTE;
    await billDuePending(llmDeps(), { now: soon });
    expect((await objectOwners().get(gone.id))?.billing).toBe('pending');
    const weekOn = Date.now() + 8 * 24 * 60 * MINUTE;
    const errors = vi.spyOn(logger(), 'error');
    try {
      await billDuePending(llmDeps(), { now: weekOn });
      const said = errors.mock.calls.filter(
        ([message, facts]) => message === 'pending object retired unbilled' && (facts as { objectId?: string })?.objectId === gone.id,
      );
      expect(said).toHaveLength(1);
    } finally {
      errors.mockRestore();
    }
    expect((await objectOwners().get(gone.id))?.billing).toBe('billed');
    expect(await gone.spend()).toBe(0);
    const before = reads.length;
    await billDuePending(llmDeps(), { now: weekOn + 2 * 24 * 60 * MINUTE });
    expect(reads.slice(before)).not.toContain(`/v1/responses/${gone.id}`);
  });

  it('a spent proxy budget does not stop the sweep billing what is owed (found by review: its reads were refused, and a week on given up)', async () => {
    const done = await background('owed');
    const deps = llmDeps();
    // The proxy's budget spent (a budget of 0): a call that would spend is refused, but the bill
    // of work done is read, and charged, all the same.
    // A strict proxy too: the read reserves nothing (its reservation would be refused).
    const spent = { ...deps, enforcement: 'strict' as const, settings: { ...deps.settings, maxBudget: 0 } };
    const swept = await billDuePending(spent, { now: Date.now() + 16 * MINUTE });
    expect(swept.billed).toBeGreaterThanOrEqual(1);
    expect(await done.spend()).toBe(fullCost());
    expect((await objectOwners().get(done.id))?.billing).toBe('billed');
  });

  it('a run nobody read is read on its thread and billed once', async () => {
    const { key, record } = await seedKey({ team_id: 'team-sweep' });
    const thread = (await call({ path: '/v1/threads', headers: bearer(key), body: {} })).json.id as string;
    const run = (await call({ path: `/v1/threads/${thread}/runs`, headers: bearer(key), body: {} })).json.id as string;
    await billDuePending(llmDeps(), { now: Date.now() + 16 * MINUTE });
    expect(reads).toContain(`/v1/threads/${thread}/runs/${run}`);
    const runCost = costNanos({ inputTokens: usage.input_tokens, outputTokens: usage.output_tokens }, mini);
    expect(await spendNanos(refs.key(record.token))).toBe(runCost);
  });

  it('the llm function answers the schedule’s event with what the sweep did', async () => {
    const res = await invokeStreaming(llmHandler, BILL_PENDING_EVENT as never);
    let text = '';
    for await (const chunk of res.body) text += chunk.toString('utf8');
    await res.done;
    expect(res.statusCode).toBe(200);
    expect(JSON.parse(text)).toMatchObject({ looked: expect.any(Number), billed: expect.any(Number), waiting: expect.any(Number) });
  });
});
