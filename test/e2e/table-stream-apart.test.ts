/**
 * The table stream read by a process of its own (`npm run table-stream`), as the deployed
 * table-stream function runs apart from the llm function: a gateway started with
 * TOLLGATE_LOCAL_TABLE_STREAM=false answers and writes its ledger records, and nothing follows from
 * them (counters from the stream, spend logs) until that process reads them. Stopped (SIGSTOP)
 * while calls are answered, then resumed, it adds every one exactly once.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type LocalStack, startLocalStack } from '../../infra/local/stack.js';
import { configureApp } from '../../lib/app/index.js';
import { refs } from '../../lib/store/keys.js';
import { TABLE_STREAM_BATCH } from '../../lib/store/spend-ledger.js';
import { seedKey } from '../support/seed.js';
import { spendNanos } from '../support/spend.js';

const repo = fileURLToPath(new URL('../../', import.meta.url));
const MASTER = `sk-master-${randomUUID()}`;
const TABLE = `e2e-apart-${randomUUID().slice(0, 8)}`;
let stack: LocalStack;
const children: ChildProcess[] = [];

beforeAll(async () => {
  const config = configureApp({
    config: {
      TOLLGATE_TABLE_NAME: TABLE,
      TOLLGATE_MASTER_KEY: MASTER,
      TOLLGATE_LOG_LEVEL: 'SILENT',
      TOLLGATE_SPEND_COUNTERS: 'stream',
      TOLLGATE_LOCAL_TABLE_STREAM: 'false',
    },
  });
  stack = await startLocalStack({ config, dynamoEndpoint: inject('dynamoEndpoint'), port: 0 });
});
afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await stack?.stop();
});

/** `npm run table-stream`'s entry point with `env` (and none of this run's TOLLGATE_ settings). */
function tableStream(env: Record<string, string>) {
  const clean: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('TOLLGATE_') && !k.startsWith('VITEST')) clean[k] = v;
  const child = spawn(process.execPath, ['--import', 'tsx', 'infra/local/table-stream-main.ts'], {
    cwd: repo,
    env: { ...clean, TOLLGATE_LOG_LEVEL: 'WARN', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let out = '';
  let err = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  return { child, out: () => out, err: () => err, exited };
}

const chat = (key: string) =>
  fetch(`${stack.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Hello there' }] }),
  });

const logsOf = async (key: string): Promise<unknown[]> =>
  ((await (await fetch(`${stack.url}/spend/logs`, { headers: { authorization: `Bearer ${key}` } })).json()) as { data: unknown[] }).data;

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Longer than a running reader takes to hand a record over: the batching window, and a poll or two. */
const PAST_THE_WINDOW_MS = TABLE_STREAM_BATCH.windowSeconds * 1000 + 2000;

describe('the table stream in a process of its own', () => {
  it('the gateway reads no stream; the process adds what it finds, and after a stop and a resume each call exactly once', async () => {
    expect(stack.tableStream).toBeUndefined();
    const { key, record } = await seedKey({});
    const first = await chat(key);
    expect(first.status).toBe(200);
    await first.text();
    // Past the batching window a reader would wait: nothing reads the stream yet.
    await pause(PAST_THE_WINDOW_MS);
    expect(await spendNanos(refs.key(record.token))).toBe(0);
    expect(await logsOf(key)).toEqual([]);

    const consumer = tableStream({ TOLLGATE_DYNAMODB_ENDPOINT: stack.dynamoEndpoint, TOLLGATE_TABLE_NAME: TABLE });
    await expect.poll(() => consumer.out(), { timeout: 30_000, interval: 100 }).toContain(`reading the stream of table ${TABLE}`);
    await expect.poll(() => spendNanos(refs.key(record.token)), { timeout: 15_000, interval: 100 }).toBeGreaterThan(0);
    const one = await spendNanos(refs.key(record.token));
    await expect.poll(async () => (await logsOf(key)).length, { timeout: 15_000, interval: 100 }).toBe(1);

    // Stopped while three more calls are answered: they wait in the stream, and land once it resumes.
    consumer.child.kill('SIGSTOP');
    for (let i = 0; i < 3; i++) {
      const res = await chat(key);
      expect(res.status).toBe(200);
      await res.text();
    }
    // Past the window a running reader would have needed to add them.
    await pause(PAST_THE_WINDOW_MS);
    expect(await spendNanos(refs.key(record.token))).toBe(one);
    consumer.child.kill('SIGCONT');
    await expect.poll(() => spendNanos(refs.key(record.token)), { timeout: 15_000, interval: 100 }).toBe(4 * one);
    await expect.poll(async () => (await logsOf(key)).length, { timeout: 15_000, interval: 100 }).toBe(4);
    // Read again from the stream's start by a second reader: nothing is added twice.
    const again = tableStream({ TOLLGATE_DYNAMODB_ENDPOINT: stack.dynamoEndpoint, TOLLGATE_TABLE_NAME: TABLE });
    await expect.poll(() => again.out(), { timeout: 30_000, interval: 100 }).toContain('reading the stream');
    await pause(PAST_THE_WINDOW_MS);
    expect(await spendNanos(refs.key(record.token))).toBe(4 * one);
    expect(await logsOf(key)).toHaveLength(4);

    // A stop hands over the batch still gathering (one more call, read by both readers and held for
    // the window): it is added, once.
    const last = await chat(key);
    expect(last.status).toBe(200);
    await last.text();
    await pause(1500);
    expect(await spendNanos(refs.key(record.token))).toBe(4 * one);
    for (const c of [consumer, again]) c.child.kill('SIGTERM');
    expect(await Promise.all([consumer.exited, again.exited])).toEqual([0, 0]);
    expect(consumer.err() + again.err()).toBe('');
    expect(await spendNanos(refs.key(record.token))).toBe(5 * one);
    expect(await logsOf(key)).toHaveLength(5);
  }, 120_000);

  it('without an endpoint to read: one line, exit code 1', async () => {
    const run = tableStream({ TOLLGATE_TABLE_NAME: TABLE });
    expect(await run.exited).toBe(1);
    expect(run.err().trim().split('\n')).toHaveLength(1);
    expect(run.err()).toMatch(/^tollgate table-stream: TOLLGATE_DYNAMODB_ENDPOINT is not set/);
  });
});
