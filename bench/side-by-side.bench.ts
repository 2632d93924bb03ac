/**
 * Tollgate beside the Portkey AI gateway, in one run, against one mock upstream. Six targets:
 * the mock itself (direct), Tollgate with a priced model (every call settled in DynamoDB
 * Local: counters in the settlement's transaction, and, in a second Tollgate on a table with its
 * stream, counters from the stream as deployed by default, measured with the stream's reader
 * beside it and again with the reader stopped during the phase, as it runs apart in AWS),
 * Tollgate with a zero-priced model (nothing to settle) and Portkey (no accounting).
 * Each runs in its own process (the mock, `npm start`'s entry point, Portkey's `start-server`),
 * so the client here shares an event loop with none of them. Per round: the p50 each adds to
 * the direct call at concurrency 1 (sequential, interleaved), and requests per second at
 * concurrency 16. Three rounds; the ratios to Portkey are printed min / median / max.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { freePort, startLocalDynamo } from '../infra/local/dynamodb.js';
import { MOCK_UPSTREAM_KEY, MOCK_UPSTREAM_SECRET, mockLocalSecrets } from '../infra/local/mock-models.js';
import { configureApp, resetApp } from '../lib/app/index.js';
import type { ModelRecord } from '../lib/domain/records.js';
import { createDocumentClient } from '../lib/store/client.js';
import { encode } from '../lib/store/codec.js';
import { ensureTable } from '../lib/store/schema.js';
import { TABLE_STREAM_BATCH } from '../lib/store/spend-ledger.js';
import { put } from '../test/support/seed.js';
import type { BenchSection } from './run.js';
import { ms, stats, treeCpuTicks, untilQuiet } from './support.js';

const ROUNDS = 3;
/** BENCH_SCALE below 1 shortens every round (for developing the bench, not for the figures). */
const scale = Number(process.env.BENCH_SCALE ?? '1');
const SEQUENTIAL = Math.max(20, Math.round(300 * scale));
const PARALLEL = Math.max(64, Math.round(1600 * scale));
const CONCURRENCY = 16;
const TABLE = 'bench-side-by-side';
/** The second Tollgate's table: with its stream, as deployed, for counters from the stream. */
const LEDGER_TABLE = 'bench-side-by-side-ledger';
const MASTER_KEY = 'sk-bench-master-side-by-side';
/** The stream gateway measured with its stream's reader stopped during the phase (as in AWS, where it runs apart). */
const READER_APART = 'tollgate priced, counters from the stream, its reader apart';

const root = fileURLToPath(new URL('..', import.meta.url));
const tsx = join(root, 'node_modules', '.bin', 'tsx');

/** Spawns a server and resolves once `ready` answers; its output is dropped (they log every request). */
async function serve(cmd: string, args: string[], env: Record<string, string>, ready: () => Promise<boolean>): Promise<ChildProcess> {
  const child = spawn(cmd, args, { cwd: root, env: { ...process.env, ...env }, stdio: 'ignore' });
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${args.join(' ')} exited with ${child.exitCode}`);
    if (await ready().catch(() => false)) return child;
    if (Date.now() > deadline) {
      child.kill('SIGTERM');
      throw new Error(`${args.join(' ')} did not start within a minute`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

const stop = (child: ChildProcess | undefined): Promise<void> =>
  new Promise((done) => {
    if (!child || child.exitCode !== null) return done();
    child.once('exit', () => done());
    child.kill('SIGTERM');
    setTimeout(() => child.kill('SIGKILL'), 5000).unref();
  });

interface Target {
  name: string;
  call(): Promise<void>;
  /** Around its phase at concurrency 16 (the stream's reader paused, then resumed). */
  phase?: { before(): void; after(): void };
  /** Measured at concurrency 16 only (its sequential calls would repeat another target's). */
  concurrentOnly?: boolean;
  /**
   * After its phase, once its processes look idle: what may still be held to come (a stream
   * reader's batch gathers for the batching window, polling too little to look busy).
   */
  drain?: () => Promise<void>;
}

/** Long enough for a reader's last batch to be handed over: the batching window, and a poll. */
const pastTheWindow = () => new Promise<void>((r) => setTimeout(r, TABLE_STREAM_BATCH.windowSeconds * 1000 + 500));

const chat = (model: string) => JSON.stringify({ model, messages: [{ role: 'user', content: 'benchmark this short prompt please' }] });

async function post(url: string, headers: Record<string, string>, body: string): Promise<void> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`${url} answered ${res.status}: ${text.slice(0, 300)}`);
}

/** Requests per second answered 200; the others are counted in `failed` (a shared machine overloads). */
async function perSecond(call: () => Promise<void>, n: number, concurrency: number, failed: string[]): Promise<number> {
  let next = 0;
  let ok = 0;
  const t = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next++ < n) {
        try {
          await call();
          ok++;
        } catch (e) {
          failed.push((e as Error).message);
        }
      }
    }),
  );
  return ok / ((performance.now() - t) / 1000);
}

/** Clock ticks in /proc are 1/100 s. */
const TICK_US = 10_000;

interface CpuPerRequest {
  gateway: number;
  dynamo: number;
  mock: number;
  client: number;
  after: number;
}

/** CPU ticks so far of each group of processes (with their children). */
function cpuOf<K extends string>(groups: Record<K, readonly number[]>): Record<K, number> {
  const sum = (pids: readonly number[]) => (pids.length === 0 ? 0 : [...treeCpuTicks(pids).values()].reduce((a, b) => a + b, 0));
  return Object.fromEntries(Object.entries<readonly number[]>(groups).map(([k, pids]) => [k, sum(pids)])) as Record<K, number>;
}

/** A copy of `xs` in random order (Fisher-Yates). */
function shuffled<T>(xs: readonly T[]): T[] {
  const out = [...xs];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

const summary = (xs: number[]): string => {
  const s = [...xs].sort((a, b) => a - b);
  return `${(s[0] as number).toFixed(2)} / ${(s[Math.floor(s.length / 2)] as number).toFixed(2)} / ${(s[s.length - 1] as number).toFixed(2)}`;
};

export default async function sideBySide(): Promise<BenchSection> {
  const dynamo = await startLocalDynamo();
  let mock: ChildProcess | undefined;
  let tollgate: ChildProcess | undefined;
  let ledger: ChildProcess | undefined;
  let reader: ChildProcess | undefined;
  const killReader = () => reader?.kill('SIGKILL');
  let portkey: ChildProcess | undefined;
  try {
    const raw = new DynamoDBClient({
      endpoint: dynamo.endpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    });
    await ensureTable(raw, TABLE, undefined, { stream: false });
    await ensureTable(raw, LEDGER_TABLE, undefined, { stream: true });
    raw.destroy();
    resetApp();
    const useTable = (name: string) => {
      configureApp({ config: { TOLLGATE_TABLE_NAME: name, TOLLGATE_DYNAMODB_ENDPOINT: dynamo.endpoint } });
      configureApp({ documentClient: createDocumentClient({ endpoint: dynamo.endpoint, region: 'us-east-1' }) });
    };

    // The mock upstream, alone in its process: it prints its URL.
    let mockUrl = '';
    mock = spawn(tsx, [join(root, 'bench', 'procs', 'mock-upstream.ts')], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
    mockUrl = await new Promise<string>((done, fail) => {
      mock?.stdout?.once('data', (d: Buffer) => done(d.toString().trim()));
      mock?.once('exit', (code) => fail(new Error(`the mock upstream exited with ${code}`)));
    });

    const model = (name: string, input: number, output: number): ModelRecord => ({
      model_name: name,
      upstream_base_url: mockUrl,
      upstream_model: 'gpt-4o-mini',
      api_key_secret: MOCK_UPSTREAM_SECRET,
      input_cost_per_million: input,
      output_cost_per_million: output,
      access_groups: [],
      aliases: [],
      created_at: '2024-07-18T00:00:00.000Z',
    });
    for (const name of [TABLE, LEDGER_TABLE]) {
      useTable(name);
      await put(encode.model(model('bench-priced', 0.15, 0.6)));
      await put(encode.model(model('bench-free', 0, 0)));
    }

    /** `npm start`'s entry point on its own table, and a caller with the usual chain: a key with a budget, in a team with one. */
    const startTollgate = async (table: string, env: Record<string, string>) => {
      const port = await freePort();
      const url = `http://127.0.0.1:${port}`;
      const child = await serve(
        tsx,
        [join(root, 'infra', 'local', 'main.ts')],
        {
          PORT: String(port),
          TOLLGATE_LOCAL_HOST: '127.0.0.1',
          TOLLGATE_TABLE_NAME: table,
          TOLLGATE_DYNAMODB_ENDPOINT: dynamo.endpoint,
          TOLLGATE_MASTER_KEY: MASTER_KEY,
          TOLLGATE_LOG_LEVEL: 'ERROR',
          TOLLGATE_LOCAL_SECRETS: JSON.stringify(mockLocalSecrets()),
          ...env,
        },
        async () => (await fetch(`${url}/health`)).status === 200,
      );
      const admin = { authorization: `Bearer ${MASTER_KEY}` };
      const team = await fetch(`${url}/team/new`, {
        method: 'POST',
        headers: { ...admin, 'content-type': 'application/json' },
        body: JSON.stringify({ team_alias: 'bench', max_budget: 1_000_000 }),
      }).then((r) => r.json() as Promise<{ team_id: string }>);
      const generated = await fetch(`${url}/key/generate`, {
        method: 'POST',
        headers: { ...admin, 'content-type': 'application/json' },
        body: JSON.stringify({ team_id: team.team_id, max_budget: 1_000_000 }),
      }).then((r) => r.json() as Promise<{ key: string }>);
      return { child, url, caller: { authorization: `Bearer ${generated.key}` } };
    };
    const tg = await startTollgate(TABLE, { TOLLGATE_SPEND_COUNTERS: 'transaction' });
    tollgate = tg.child;
    // Its table's stream read by a process of its own, as the deployed table-stream function runs
    // apart (npm run table-stream): one node process, so a signal stops it whole.
    const tgl = await startTollgate(LEDGER_TABLE, { TOLLGATE_SPEND_COUNTERS: 'stream', TOLLGATE_LOCAL_TABLE_STREAM: 'false' });
    ledger = tgl.child;
    reader = spawn(process.execPath, ['--import', 'tsx', join(root, 'infra', 'local', 'table-stream-main.ts')], {
      cwd: root,
      env: { ...process.env, TOLLGATE_DYNAMODB_ENDPOINT: dynamo.endpoint, TOLLGATE_TABLE_NAME: LEDGER_TABLE, TOLLGATE_LOG_LEVEL: 'ERROR' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    await new Promise<void>((done, fail) => {
      reader?.stdout?.once('data', () => done());
      reader?.once('exit', (code) => fail(new Error(`the table stream's reader exited with ${code}`)));
    });
    const streamReader = reader;
    // Never left stopped, nor running, if this process ends before the finally below runs.
    process.once('exit', killReader);
    const pkPort = await freePort();
    const pkUrl = `http://127.0.0.1:${pkPort}`;
    const portkeyMain = join(root, 'node_modules', '@portkey-ai', 'gateway', 'build', 'start-server.js');
    portkey = await serve(process.execPath, [portkeyMain, `--port=${pkPort}`, '--headless'], { NODE_ENV: 'production' }, async () => {
      await fetch(pkUrl);
      return true;
    });

    const targets: Target[] = [
      {
        name: 'direct',
        call: () => post(`${mockUrl}/chat/completions`, { authorization: `Bearer ${MOCK_UPSTREAM_KEY}` }, chat('gpt-4o-mini')),
      },
      { name: 'tollgate priced', call: () => post(`${tg.url}/v1/chat/completions`, tg.caller, chat('bench-priced')) },
      {
        name: 'tollgate priced, counters from the stream',
        call: () => post(`${tgl.url}/v1/chat/completions`, tgl.caller, chat('bench-priced')),
        drain: pastTheWindow,
      },
      {
        // The same gateway, its stream's reader stopped during the phase and resumed after it: the
        // request path alone, as in AWS, where the reader is another Lambda and DynamoDB's servers
        // are not the gateway's. What the reader then catches up on is in the after-phase CPU.
        name: READER_APART,
        call: () => post(`${tgl.url}/v1/chat/completions`, tgl.caller, chat('bench-priced')),
        phase: { before: () => streamReader.kill('SIGSTOP'), after: () => streamReader.kill('SIGCONT') },
        concurrentOnly: true,
        drain: pastTheWindow,
      },
      { name: 'tollgate zero-priced', call: () => post(`${tg.url}/v1/chat/completions`, tg.caller, chat('bench-free')) },
      {
        name: 'portkey',
        call: () =>
          post(
            `${pkUrl}/v1/chat/completions`,
            {
              authorization: `Bearer ${MOCK_UPSTREAM_KEY}`,
              'x-portkey-provider': 'openai',
              'x-portkey-custom-host': mockUrl,
            },
            chat('gpt-4o-mini'),
          ),
      },
    ];
    // Every process measured, with its children (tsx runs node in a child): a phase starts only
    // once they are idle, so no target's leftovers (settlements after their answers, a stream
    // consumer catching up, DynamoDB Local's writes) run into the next target's figures.
    const sequential = targets.filter((t) => !t.concurrentOnly);
    const measured = [dynamo.process, mock, tollgate, ledger, reader, portkey].flatMap((c) => (c?.pid ? [c.pid] : []));
    const quiet = () => untilQuiet(measured);
    /** Whose CPU a target's phase is charged: its own gateway, DynamoDB Local, the mock, this process (the client). */
    const pidsOf = (c: ChildProcess | undefined): number[] => (c?.pid ? [c.pid] : []);
    const own = new Map<string, number[]>([
      ['tollgate priced', pidsOf(tollgate)],
      ['tollgate priced, counters from the stream', [...pidsOf(ledger), ...pidsOf(reader)]],
      [READER_APART, [...pidsOf(ledger), ...pidsOf(reader)]],
      ['tollgate zero-priced', pidsOf(tollgate)],
      ['portkey', pidsOf(portkey)],
    ]);
    // Warm-up, unmeasured: every target at concurrency 16 too, so the JIT of each process
    // (DynamoDB Local's JVM most of all) has compiled the paths the rounds take.
    for (const t of targets) {
      for (let i = 0; i < 50; i++) await t.call();
      await perSecond(t.call, Math.round(PARALLEL / 2), CONCURRENCY, []);
      await quiet();
    }

    const load = loadavg()[0] ?? 0;
    const added = new Map<string, number[]>(targets.map((t) => [t.name, []]));
    const rps = new Map<string, number[]>(targets.map((t) => [t.name, []]));
    const failures = new Map<string, string[]>(targets.map((t) => [t.name, []]));
    /** Per target, how long its processes stayed busy after its phase at concurrency 16 ended. */
    const after = new Map<string, number[]>(targets.map((t) => [t.name, []]));
    /** Per target and round, CPU per request (µs) at concurrency 16, in its phase and until idle after it. */
    const cpu = new Map<string, CpuPerRequest[]>(targets.map((t) => [t.name, []]));
    for (let round = 0; round < ROUNDS; round++) {
      const samples = new Map<string, number[]>(targets.map((t) => [t.name, []]));
      // Interleaved, so drift in machine load hits every target alike, in a new order each time:
      // the work a call leaves after its answer (a settlement) lands on whichever call comes next,
      // so in a fixed order one target always took another's.
      for (let i = 0; i < SEQUENTIAL; i++) {
        for (const t of shuffled(sequential)) {
          const start = performance.now();
          await t.call();
          samples.get(t.name)?.push(performance.now() - start);
        }
      }
      const direct = stats(samples.get('direct') as number[]).p50;
      for (const t of sequential) added.get(t.name)?.push(stats(samples.get(t.name) as number[]).p50 - direct);
      for (const t of targets) {
        await quiet();
        const groups = { gateway: own.get(t.name) ?? [], dynamo: pidsOf(dynamo.process), mock: pidsOf(mock) };
        const start = cpuOf(groups);
        const client = process.cpuUsage();
        t.phase?.before();
        rps.get(t.name)?.push(await perSecond(t.call, PARALLEL, CONCURRENCY, failures.get(t.name) as string[]));
        const clientUs = process.cpuUsage(client);
        const phase = cpuOf(groups);
        t.phase?.after();
        let busy = await quiet();
        if (t.drain) {
          await t.drain();
          busy += await quiet();
        }
        after.get(t.name)?.push(busy);
        const end = cpuOf(groups);
        const perRequest = (ticks: number) => (ticks * TICK_US) / PARALLEL;
        cpu.get(t.name)?.push({
          gateway: perRequest(phase.gateway - start.gateway),
          dynamo: perRequest(phase.dynamo - start.dynamo),
          mock: perRequest(phase.mock - start.mock),
          client: (clientUs.user + clientUs.system) / PARALLEL,
          after: perRequest(end.gateway - phase.gateway + end.dynamo - phase.dynamo),
        });
      }
    }

    // The store's own ceiling: DynamoDB Local alone taking conditional PutItems the size of a
    // ledger record on the table with a stream, at the same concurrency, from this process.
    // The stream's reader is stopped meanwhile: reading these puts from the stream is not a put's cost.
    streamReader.kill('SIGSTOP');
    const store = createDocumentClient({ endpoint: dynamo.endpoint, region: 'us-east-1' });
    const filler = 'x'.repeat(800);
    let n = 0;
    const putOne = async () => {
      const id = `REQ#ceiling-${n++}`;
      await store.send(
        new PutCommand({
          TableName: LEDGER_TABLE,
          Item: { PK: id, SK: 'SETTLEMENT', kind: 'bench', filler },
          ConditionExpression: 'attribute_not_exists(PK)',
        }),
      );
    };
    // Warmed up first, unmeasured, as the gateways' clients are by their warm-up (the JIT compiles
    // the SDK's path over its first calls).
    await perSecond(putOne, Math.round(PARALLEL / 2), CONCURRENCY, []);
    await quiet();
    const storeStart = cpuOf({ gateway: [], dynamo: pidsOf(dynamo.process), mock: [] });
    const storeClient = process.cpuUsage();
    const storeRps = await perSecond(putOne, PARALLEL, CONCURRENCY, []);
    const storeClientUs = process.cpuUsage(storeClient);
    const storeJavaUs =
      ((cpuOf({ gateway: [], dynamo: pidsOf(dynamo.process), mock: [] }).dynamo - storeStart.dynamo) * TICK_US) / PARALLEL;
    const storeSdkUs = (storeClientUs.user + storeClientUs.system) / PARALLEL;
    store.destroy();
    streamReader.kill('SIGCONT');

    const ratio = (num: string, den: string, of: Map<string, number[]>) => {
      const a = of.get(num) as number[];
      const b = of.get(den) as number[];
      return a.map((x, i) => x / (b[i] as number));
    };
    const rows: BenchSection['rows'] = [];
    for (const t of sequential) {
      if (t.name !== 'direct')
        rows.push({ metric: `${t.name}: added p50, concurrency 1 (per round)`, value: (added.get(t.name) as number[]).map(ms).join(', ') });
    }
    for (const t of targets)
      rows.push({
        metric: `${t.name}: requests/s, concurrency ${CONCURRENCY} (per round)`,
        value: (rps.get(t.name) as number[]).map((x) => x.toFixed(0)).join(', '),
      });
    for (const t of targets)
      if (t.name.startsWith('tollgate priced'))
        rows.push({
          metric: `${t.name}: busy after its concurrency ${CONCURRENCY} phase ended (per round, in samples of 0.5 s: settling, stream consumer)`,
          value: (after.get(t.name) as number[]).map((x) => `${(x / 1000).toFixed(1)} s`).join(', '),
        });
    const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
    const us = (x: number): string => `${x.toFixed(0)} µs`;
    const total = (c: CpuPerRequest): number => c.gateway + c.dynamo + c.mock + c.client + c.after;
    for (const t of targets)
      if (t.name !== 'direct') {
        const c = cpu.get(t.name) as CpuPerRequest[];
        const m = (f: (x: CpuPerRequest) => number) => us(median(c.map(f)));
        rows.push({
          metric: `${t.name}: CPU per request at c${CONCURRENCY} (median of rounds): its gateway / DynamoDB Local / the mock / the client; after the phase (gateway and DynamoDB Local until idle); all`,
          value: `${m((x) => x.gateway)} / ${m((x) => x.dynamo)} / ${m((x) => x.mock)} / ${m((x) => x.client)}; ${m((x) => x.after)}; ${m(total)}`,
        });
      }
    const portkeyCpu = median((cpu.get('portkey') as CpuPerRequest[]).map(total));
    const zeroCpu = median((cpu.get('tollgate zero-priced') as CpuPerRequest[]).map(total));
    rows.push(
      {
        metric: `DynamoDB Local alone: conditional PutItem/s of a ledger record's size at c${CONCURRENCY}, table with a stream`,
        value: storeRps.toFixed(0),
      },
      {
        metric: 'DynamoDB Local alone: CPU per PutItem, its JVM / the SDK client in this process',
        value: `${us(storeJavaUs)} / ${us(storeSdkUs)}`,
      },
      {
        metric: `CPU-bound ceiling of requests/s at c${CONCURRENCY} ÷ Portkey for any call that writes one item (Portkey's CPU per request ÷ (zero-priced Tollgate's + one PutItem's))`,
        value: (portkeyCpu / (zeroCpu + storeJavaUs + storeSdkUs)).toFixed(2),
      },
      {
        metric: 'priced ÷ Portkey, added p50 at c1 (min / median / max)',
        value: summary(ratio('tollgate priced', 'portkey', added)),
        target: '≤ 1.5',
      },
      {
        metric: 'priced with counters from the stream ÷ Portkey, added p50 at c1',
        value: summary(ratio('tollgate priced, counters from the stream', 'portkey', added)),
        target: '≤ 1.5',
      },
      { metric: 'zero-priced ÷ Portkey, added p50 at c1', value: summary(ratio('tollgate zero-priced', 'portkey', added)) },
      {
        metric: `priced ÷ Portkey, requests/s at c${CONCURRENCY} (min / median / max)`,
        value: summary(ratio('tollgate priced', 'portkey', rps)),
        target: '≥ 0.5',
      },
      {
        metric: `priced with counters from the stream ÷ Portkey, requests/s at c${CONCURRENCY}, its stream's reader beside it on these cores`,
        value: summary(ratio('tollgate priced, counters from the stream', 'portkey', rps)),
        target: '≥ 0.5',
      },
      {
        metric: `priced with counters from the stream ÷ Portkey, requests/s at c${CONCURRENCY}, its stream's reader apart (stopped during the phase, caught up after it), as deployed`,
        value: summary(ratio(READER_APART, 'portkey', rps)),
        target: '≥ 0.5',
      },
      { metric: `zero-priced ÷ Portkey, requests/s at c${CONCURRENCY}`, value: summary(ratio('tollgate zero-priced', 'portkey', rps)) },
    );
    return {
      title: 'Side by side: Tollgate and the Portkey gateway',
      method: `One run, one mock upstream (its own process, zero latency), loopback HTTP with keep-alive from this process. Targets: the mock directly; Tollgate's local gateway (\`infra/local/main.ts\` in its own process: authorizer, llm function, DynamoDB Local) with a priced model (a settlement per call, its counters in the settlement's transaction), again with a priced model in a second gateway whose table has its stream and whose counters come from it (TOLLGATE_SPEND_COUNTERS=stream, the deployed default: one PutItem per call; the stream read by \`npm run table-stream\` in a process of its own, as the deployed table-stream function runs apart, adding batches into the counters), measured twice: with that reader running beside it, and with the reader stopped (SIGSTOP) for the phase at concurrency ${CONCURRENCY} and resumed after it, so the phase measures the request path alone and the catching up is in the after-phase CPU, and with a zero-priced model (none); @portkey-ai/gateway ${createRequire(import.meta.url)('@portkey-ai/gateway/package.json').version} (\`start-server --headless\`, its own process, no accounting), sent \`x-portkey-provider: openai\` and \`x-portkey-custom-host\` to the same mock. Each round: ${SEQUENTIAL} sequential requests per target, interleaved in a new random order each time (added p50 = the target's p50 minus the direct p50; the work a call leaves after its answer, a settlement, lands on whichever call follows it, so each target shares the others' alike), then ${PARALLEL} requests per target at concurrency ${CONCURRENCY}, each phase starting once every process measured (DynamoDB Local, the mock, both gateways, the stream's reader, Portkey, with their children) is idle: under 5 % of a core over 0.5 s, and after a stream gateway's phase the reader's batching window (${TABLE_STREAM_BATCH.windowSeconds} s) more, so the batch it still held is handed over and counted after that phase, not in the next. The reader-apart target is measured at concurrency ${CONCURRENCY} only (at concurrency 1 it is the reader-beside target). Before the rounds every target is warmed up, unmeasured: 50 sequential requests, then ${Math.round(PARALLEL / 2)} at concurrency ${CONCURRENCY}. ${ROUNDS} rounds.`,
      rows,
      notes: [
        ...targets.flatMap((t) => {
          const f = failures.get(t.name) as string[];
          return f.length === 0
            ? []
            : [
                `${t.name}: ${f.length} of ${ROUNDS * PARALLEL} requests at concurrency ${CONCURRENCY} failed (left out of requests/s), first: ${f[0]}`,
              ];
        }),
        `Requests per second at concurrency ${CONCURRENCY} are CPU-bound here: ${cpus().length} cores, shared by the client, the mock, the gateway and DynamoDB Local, so a target's requests per second follow the CPU a request costs all of them (the CPU rows, from /proc, in its phase and until every process is idle again). A priced call writes at least one item, and one conditional PutItem costs DynamoDB Local's JVM and the SDK client ${us(storeJavaUs + storeSdkUs)} of CPU, against ${us(portkeyCpu)} for a whole request through Portkey. The ceiling row is what any layout that writes one item per call could reach on this machine: Portkey's CPU per request over zero-priced Tollgate's plus one PutItem's (${(portkeyCpu / (zeroCpu + storeJavaUs + storeSdkUs)).toFixed(2)} this run, against the target of 0.5). With counters from the stream a priced call costs ${us(median((cpu.get('tollgate priced, counters from the stream') as CpuPerRequest[]).map(total)))} in all: beyond that one write, the stream consumer's work (${us(median((cpu.get('tollgate priced, counters from the stream') as CpuPerRequest[]).map((c) => c.after)))} after the phase, more during it: reading every stream record, the counters' and rollups' transaction per batch, the spend log's index items), which in AWS runs in its own Lambda and DynamoDB's own servers, not beside the request path. With the reader stopped during the phase (${READER_APART}), the phase costs ${us(median((cpu.get(READER_APART) as CpuPerRequest[]).map((c) => c.gateway + c.dynamo + c.mock + c.client)))} a request on these cores, and the reader catching up ${us(median((cpu.get(READER_APART) as CpuPerRequest[]).map((c) => c.after)))} after it: that row is the request path as deployed, the row before it the same path sharing ${cpus().length} cores with work AWS runs elsewhere.`,
        "Priced requests per second at concurrency 16 with counters in the transaction are bounded by DynamoDB Local: every priced call is one TransactWriteItems, and DynamoDB Local on this machine commits about 250 a second (docs/spend.md, hot counters). Spreading the key's counters over 8 shards (TOLLGATE_SPEND_SHARDS key=8) measured the same ratio (0.21 median, short rounds), so it is the store's rate, not conflicts on one item. In AWS the bound is DynamoDB's per-item write rate instead (about 1,000 write units a second per item, 2 per transactional write), not this machine's; this ratio is the local figure.",
        'The added p50 at concurrency 1 is the latency a client sees. A settlement runs after its answer, so its work falls on the calls that follow (in random order, any target alike) and is not in its own call’s figure; it is in the requests per second and CPU rows at concurrency 16.',
        'Tollgate here is the local gateway: the authorizer and the llm handler called in one Node process with API Gateway-shaped events. It includes what API Gateway and Lambda would do in AWS only as far as the handlers do it; it excludes their network hops.',
        `Machine load when the timed rounds started (1-minute load average): ${load.toFixed(2)} on ${cpus().length} cores; the machine is shared, so read the ratios (same moment, same load) rather than the absolute figures.`,
      ],
    };
  } finally {
    await stop(portkey);
    await stop(tollgate);
    await stop(ledger);
    // Resumed first in case a failure came while it was stopped: a stopped process takes no SIGTERM.
    reader?.kill('SIGCONT');
    await stop(reader);
    process.off('exit', killReader);
    await stop(mock);
    resetApp();
    await dynamo.stop();
  }
}
