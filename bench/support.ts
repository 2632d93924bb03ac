/**
 * What the benchmarks share: percentiles, a sequential timer, the deployed bundle's size, and an
 * in-process llm stack (its own DynamoDB Local, table, mock upstream and priced models) with the
 * REST proxy event API Gateway would hand the llm function. Loopback only.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { gzipSync } from 'node:zlib';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { APIGatewayProxyEvent } from 'aws-lambda';
import { buildFunction } from '../infra/bundling.js';
import { installAwsLambdaGlobal, type StreamingHandler } from '../infra/local/awslambda.js';
import { type LocalDynamo, startLocalDynamo } from '../infra/local/dynamodb.js';
import { MOCK_UPSTREAM_KEY, mockLocalSecrets, mockModels } from '../infra/local/mock-models.js';
import { startMockUpstream } from '../infra/local/mock-upstream.js';
import { configureApp } from '../lib/app/index.js';
import type { CallerContext } from '../lib/authorizer/context.js';
import { createDocumentClient } from '../lib/store/client.js';
import { encode } from '../lib/store/codec.js';
import { ensureTable } from '../lib/store/schema.js';
import { put } from '../test/support/seed.js';

export const ms = (x: number): string => `${x.toFixed(2)} ms`;

export const quantile = (sorted: ArrayLike<number>, q: number): number =>
  sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number;

export function stats(xs: number[]): { p50: number; p99: number } {
  const s = [...xs].sort((a, b) => a - b);
  return { p50: quantile(s, 0.5), p99: quantile(s, 0.99) };
}

/**
 * What `a` adds to `b`: the difference of the medians, and the two p99s side by side. A p99 of one
 * minus a p99 of the other is no percentile of anything (it came out negative once).
 */
export const added = (a: { p50: number; p99: number }, b: { p50: number; p99: number }): string =>
  `${ms(a.p50 - b.p50)} (p99 ${ms(a.p99)} against ${ms(b.p99)})`;

/** `p50 / p99` of samples in milliseconds. */
export const p50p99 = (xs: number[]): string => {
  const s = stats(xs);
  return `${ms(s.p50)} / ${ms(s.p99)}`;
};

/** Runs `fn` n times one after the other; each run's duration in ms. */
export async function timed(n: number, fn: (i: number) => Promise<void>): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await fn(i);
    out.push(performance.now() - t);
  }
  return out;
}

/** The function bundled as deployed (infra/bundling.ts buildFunction), written to a temp folder and measured. */
export async function bundleSize(fn: string): Promise<{ kb: number; gzipKb: number; file: string; cleanup(): void }> {
  const dir = mkdtempSync(join(tmpdir(), `tollgate-${fn}-bundle-`));
  const file = join(dir, `${fn}.mjs`);
  await buildFunction(fn, file);
  return {
    kb: statSync(file).size / 1024,
    gzipKb: gzipSync(readFileSync(file)).length / 1024,
    file,
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

/**
 * Cold import of a module, as a new Lambda instance loads its handler: a fresh `node` process per
 * run (nothing of the module graph cached between them) imports `file` after `preamble`; medians
 * of `runs` of the import alone and of the whole process, and of a bare node process (start,
 * exit) for the machine's speed in the same run.
 */
export function coldImport(
  file: string,
  runs: number,
  preamble = '',
  env: Record<string, string> = {},
): { importMs: number; processMs: number; bareMs: number } {
  const script = `${preamble} const t = performance.now(); await import(process.env.BUNDLE_URL); process.stdout.write(String(performance.now() - t));`;
  const imports: number[] = [];
  const processes: number[] = [];
  for (let i = 0; i < runs; i++) {
    const started = performance.now();
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
      env: { PATH: process.env.PATH, BUNDLE_URL: pathToFileURL(file).href, TOLLGATE_LOG_LEVEL: 'SILENT', ...env },
      encoding: 'utf8',
    });
    processes.push(performance.now() - started);
    if (r.status !== 0) throw new Error(`importing ${file} failed: ${r.stderr.slice(0, 500)}`);
    imports.push(Number(r.stdout));
  }
  const bare: number[] = [];
  for (let i = 0; i < runs; i++) {
    const started = performance.now();
    spawnSync(process.execPath, ['-e', ''], { env: { PATH: process.env.PATH } });
    bare.push(performance.now() - started);
  }
  return { importMs: median(imports), processMs: median(processes), bareMs: median(bare) };
}

export interface LlmBenchStack {
  llm: StreamingHandler;
  dynamo: LocalDynamo;
  mockUrl: string;
  tableName: string;
  stop(): Promise<void>;
}

/** The llm handler in process over its own DynamoDB Local and mock upstream, models seeded. */
export async function startLlmBenchStack(tableName: string): Promise<LlmBenchStack> {
  installAwsLambdaGlobal();
  const { handler } = await import('../functions/llm/handler.js');
  const dynamo = await startLocalDynamo();
  const mock = await startMockUpstream({ apiKey: MOCK_UPSTREAM_KEY });
  const stop = async () => {
    configureApp({ clock: undefined, spendSettler: undefined, fetch: undefined });
    await mock.close();
    await dynamo.stop();
  };
  try {
    configureApp({
      config: {
        TOLLGATE_TABLE_NAME: tableName,
        TOLLGATE_DYNAMODB_ENDPOINT: dynamo.endpoint,
        TOLLGATE_LOG_LEVEL: 'ERROR',
        TOLLGATE_CACHE_TTL_SECONDS: '3600',
        TOLLGATE_MAX_BUDGET: '1000000',
        TOLLGATE_BUDGET_DURATION: '1mo',
        TOLLGATE_LOCAL_SECRETS: JSON.stringify(mockLocalSecrets()),
      },
    });
    const raw = new DynamoDBClient({
      endpoint: dynamo.endpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    });
    await ensureTable(raw, tableName, undefined, { stream: false });
    raw.destroy();
    configureApp({ documentClient: createDocumentClient({ endpoint: dynamo.endpoint, region: 'us-east-1' }) });
    configureApp({ entityReader: undefined });
    configureApp({ modelRegistry: undefined });
    for (const m of mockModels(mock.url)) await put(encode.model(m));
  } catch (e) {
    await stop();
    throw e;
  }
  return { llm: handler as unknown as StreamingHandler, dynamo, mockUrl: mock.url, tableName, stop };
}

/** A chat completion as API Gateway hands it to the llm function behind the authorizer. */
export const chatEvent = (requestId: string, authorizer: CallerContext, body: string): APIGatewayProxyEvent =>
  ({
    resource: '/v1/chat/completions',
    path: '/v1/chat/completions',
    httpMethod: 'POST',
    headers: { 'content-type': 'application/json' },
    multiValueHeaders: {},
    queryStringParameters: null,
    multiValueQueryStringParameters: null,
    pathParameters: null,
    stageVariables: null,
    requestContext: { requestId, authorizer },
    body,
    isBase64Encoded: false,
  }) as unknown as APIGatewayProxyEvent;

/**
 * An item's size as DynamoDB bills it, from its plain (document client) form: attribute names
 * and values in UTF-8 bytes, numbers at about one byte per two digits plus one, 3 bytes of
 * overhead per list or map and 1 per element (AWS's published item-size rules).
 */
export function itemBytes(value: unknown): number {
  const text = (s: string) => Buffer.byteLength(s, 'utf8');
  const size = (v: unknown): number => {
    if (v === null || v === undefined || typeof v === 'boolean') return 1;
    if (typeof v === 'string') return text(v);
    if (typeof v === 'number' || typeof v === 'bigint') return Math.ceil(String(v).replace(/[-.]/g, '').replace(/^0+/, '').length / 2) + 1;
    if (typeof v === 'object' && 'value' in (v as object) && Object.keys(v as object).length === 1)
      return size(Number((v as { value: string }).value));
    if (Array.isArray(v)) return 3 + v.reduce((n: number, e) => n + 1 + size(e), 0);
    if (v instanceof Set) return [...v].reduce((n: number, e) => n + size(e), 0);
    return 3 + Object.entries(v as object).reduce((n, [k, e]) => n + 1 + text(k) + size(e), 0);
  };
  return Object.entries(value as object).reduce((n, [k, v]) => n + text(k) + size(v), 0);
}

/** CPU time (utime + stime, in clock ticks) of a process and every descendant, per pid, from /proc. */
export function treeCpuTicks(rootPids: readonly number[]): Map<number, number> {
  const procs: { pid: number; ppid: number; ticks: number }[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // The command name may hold spaces and parentheses: fields are counted after its last ')'.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      procs.push({ pid: Number(entry), ppid: Number(fields[1]), ticks: Number(fields[11]) + Number(fields[12]) });
    } catch {
      // gone meanwhile
    }
  }
  const inTree = new Set(rootPids);
  for (let grew = true; grew; ) {
    grew = false;
    for (const p of procs)
      if (!inTree.has(p.pid) && inTree.has(p.ppid)) {
        inTree.add(p.pid);
        grew = true;
      }
  }
  return new Map(procs.filter((p) => inTree.has(p.pid)).map((p) => [p.pid, p.ticks]));
}

/** Ticks spent between two samples: by the processes alive at the second (one born since counts whole; one gone is not). */
const ticksBetween = (before: Map<number, number>, after: Map<number, number>): number =>
  [...after].reduce((sum, [pid, t]) => sum + Math.max(0, t - (before.get(pid) ?? 0)), 0);

/**
 * Waits until the processes (and their children) are idle: under `busy` of one core over a
 * 500 ms sample (clock ticks are 1/100 s). So a phase's leftovers (a gateway still settling, a
 * stream consumer catching up, DynamoDB Local writing) do not run into the next one's figures.
 * Resolves with the time waited (at least one sample); gives up after `maxMs`, resolving with it.
 */
export async function untilQuiet(pids: readonly number[], opts: { busy?: number; maxMs?: number } = {}): Promise<number> {
  const busy = opts.busy ?? 0.05;
  const maxMs = opts.maxMs ?? 60_000;
  const start = performance.now();
  let before = treeCpuTicks(pids);
  for (;;) {
    await new Promise((r) => setTimeout(r, 500));
    const now = treeCpuTicks(pids);
    const waited = performance.now() - start;
    if (ticksBetween(before, now) <= busy * 50 || waited >= maxMs) return waited;
    before = now;
  }
}
