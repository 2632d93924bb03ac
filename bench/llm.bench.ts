/**
 * The llm function's costs: latency it adds to a request against a zero-latency mock upstream
 * (in process: the same request sent straight to the mock versus through the streaming Lambda
 * handler, which reloads the caller from cache, runs the checks, forwards, relays and settles
 * the spend in DynamoDB Local), the settlement's own share, and the deployed bundle's size.
 * Starts its own DynamoDB Local and mock upstream on loopback; touches no network.
 */
import { statSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { invokeStreaming } from '../infra/local/awslambda.js';
import { MOCK_UPSTREAM_KEY } from '../infra/local/mock-models.js';
import { configureApp, documentClient, entityReader } from '../lib/app/index.js';
import { callerContext } from '../lib/authorizer/context.js';
import { DynamoSettler, followMoves, type SpendSettler } from '../lib/store/spend-ledger.js';
import { seedKey, seedMember, seedOrg, seedTeam, seedUser } from '../test/support/seed.js';
import type { BenchSection } from './run.js';
import { added, bundleSize, chatEvent, coldImport, ms, startLlmBenchStack, stats, timed } from './support.js';

const IMPORT_RUNS = 7;

const RUNS = 400;
const WARMUP = 60;

export default async function llmBench(): Promise<BenchSection[]> {
  const stack = await startLlmBenchStack('bench-llm');
  const { llm, tableName } = stack;
  try {
    const org = await seedOrg({ organization_id: 'o-bench', max_budget: 1000, budget_duration: '1mo' });
    const team = await seedTeam({
      team_id: 't-bench',
      organization_id: 'o-bench',
      max_budget: 1000,
      budget_duration: '1d',
      models: ['standard'],
    });
    const user = await seedUser({ user_id: 'u-bench' });
    const member = await seedMember({ team_id: 't-bench', user_id: 'u-bench', max_budget: 1000 });
    const { record: key } = await seedKey({ team_id: 't-bench', user_id: 'u-bench', max_budget: 1000, models: ['gpt-4o-mini'] });
    // The authorizer's context for this key, as API Gateway would pass it on.
    const context = callerContext(
      {
        principal: 'virtual_key',
        role: 'internal_user',
        userId: 'u-bench',
        teamId: 't-bench',
        orgId: 'o-bench',
        keyHash: key.token,
        keyName: key.key_name,
        state: { key, user, team, member, org },
      },
      Date.now(),
    );

    // Every settlement timed, through the real DynamoDB settler.
    const settleMs: number[] = [];
    const real = new DynamoSettler(documentClient(), tableName, {
      ttlSeconds: 3600,
      onChanged: (moved) => followMoves(entityReader().loader, moved),
    });
    const timedSettler: SpendSettler = {
      settle: async (s) => {
        const t = performance.now();
        try {
          return await real.settle(s);
        } finally {
          settleMs.push(performance.now() - t);
        }
      },
      reserve: (r) => real.reserve(r),
    };
    configureApp({ spendSettler: timedSettler });

    const body = (stream: boolean) =>
      JSON.stringify({
        model: 'gpt-4o-mini',
        messages: [{ role: 'user', content: 'benchmark this short prompt please' }],
        user: 'eu-bench',
        ...(stream ? { stream: true } : {}),
      });
    const event = (i: number, stream: boolean) => chatEvent(`bench-${stream ? 's' : 'j'}-${i}`, context, body(stream));

    const direct = async (stream: boolean) => {
      const res = await fetch(`${stack.mockUrl}/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${MOCK_UPSTREAM_KEY}`, 'content-type': 'application/json' },
        body: stream ? JSON.stringify({ ...JSON.parse(body(true)), stream_options: { include_usage: true } }) : body(false),
      });
      await res.arrayBuffer();
      if (res.status !== 200) throw new Error(`direct call answered ${res.status}`);
    };
    // The client's last byte (the body's end) and the invocation's end (its settlement written) apart.
    const lastByte = { json: [] as number[], stream: [] as number[] };
    const through = async (i: number, stream: boolean, record = false) => {
      const t = performance.now();
      const res = await invokeStreaming(llm, event(i, stream));
      for await (const _ of res.body);
      if (record) (stream ? lastByte.stream : lastByte.json).push(performance.now() - t);
      await res.done;
      if (res.statusCode !== 200) throw new Error(`the handler answered ${res.statusCode}`);
    };

    for (let i = 0; i < WARMUP; i++) {
      await direct(i % 2 === 0);
      await through(1_000_000 + i, i % 2 === 0);
    }
    settleMs.length = 0;
    const load = loadavg()[0] ?? 0;
    // Interleaved so drift in machine load hits both sides alike.
    const d: number[] = [];
    const h: number[] = [];
    const ds: number[] = [];
    const hs: number[] = [];
    const readsBefore = entityReader().loader.stats.batches;
    for (let i = 0; i < RUNS; i++) {
      d.push(...(await timed(1, () => direct(false))));
      h.push(...(await timed(1, () => through(i, false, true))));
      ds.push(...(await timed(1, () => direct(true))));
      hs.push(...(await timed(1, () => through(i, true, true))));
    }
    const readsPerRequest = (entityReader().loader.stats.batches - readsBefore) / (2 * RUNS);

    // The function's own work, DynamoDB aside: the same runs with spend kept in an in-process
    // ledger (idempotent per request id), so nothing is written and no cached item is dropped.
    const ledger = new Map<string, number>();
    const seen = new Set<string>();
    configureApp({
      spendSettler: {
        settle: async (s) => {
          if (seen.has(s.requestId)) return { status: 'duplicate' };
          seen.add(s.requestId);
          for (const t of s.targets) ledger.set(t.ref.PK + t.ref.SK, (ledger.get(t.ref.PK + t.ref.SK) ?? 0) + s.costNanos);
          return { status: 'settled', moved: s.targets, skipped: [] };
        },
        // Fast mode only: nothing is reserved.
        reserve: async () => ({ status: 'reserved', hold: undefined }),
      },
    });
    const dm: number[] = [];
    const hm: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      dm.push(...(await timed(1, () => direct(false))));
      hm.push(...(await timed(1, () => through(10_000 + i, false))));
    }
    if (ledger.size === 0) throw new Error('the in-process ledger recorded nothing');
    const [dmm, hmm] = [stats(dm), stats(hm)];
    const [dj, hj, dst, hst, st] = [stats(d), stats(h), stats(ds), stats(hs), stats(settleMs)];
    const b = await bundleSize('llm');
    // The Lambda runtime's global the streaming handler is built with.
    const AWSLAMBDA = 'globalThis.awslambda = { streamifyResponse: (h) => h, HttpResponseStream: { from: (s) => s } };';
    const tokenizerFile = join(dirname(b.file), 'node_modules', 'gpt-tokenizer', 'index.mjs');
    const [cold, tokenizer, tokenizerKb] = (() => {
      try {
        return [coldImport(b.file, IMPORT_RUNS, AWSLAMBDA), coldImport(tokenizerFile, IMPORT_RUNS), statSync(tokenizerFile).size / 1024];
      } finally {
        b.cleanup();
      }
    })();

    return [
      {
        title: 'LLM function: added latency per request',
        method: `In process, sequential, ${RUNS} requests each, interleaved: a chat completion sent straight to the mock upstream (zero latency, loopback, keep-alive fetch) versus the same request through the streaming Lambda handler (middy, tracer off) with a warm cache. Through the handler a request also reloads the caller (cache hits), runs the checks, relays the answer and settles its spend in one TransactWriteItems against DynamoDB Local on loopback.`,
        rows: [
          { metric: 'direct upstream p50 / p99 (JSON)', value: `${ms(dj.p50)} / ${ms(dj.p99)}` },
          { metric: 'through the handler p50 / p99 (JSON)', value: `${ms(hj.p50)} / ${ms(hj.p99)}` },
          { metric: 'added p50 (JSON)', value: added(hj, dj) },
          { metric: 'direct upstream p50 / p99 (stream)', value: `${ms(dst.p50)} / ${ms(dst.p99)}` },
          { metric: 'through the handler p50 / p99 (stream)', value: `${ms(hst.p50)} / ${ms(hst.p99)}` },
          { metric: 'added p50 (stream)', value: added(hst, dst) },
          { metric: 'of which settlement p50 / p99 (DynamoDB Local)', value: `${ms(st.p50)} / ${ms(st.p99)}` },
          {
            metric: "added to the client's last byte p50 (JSON): the settlement follows the answer",
            value: added(stats(lastByte.json), dj),
          },
          {
            metric: "added to the client's last byte p50 (stream)",
            value: added(stats(lastByte.stream), dst),
          },
          { metric: 'added p50 without DynamoDB (in-process ledger, JSON)', value: `${ms(hmm.p50 - dmm.p50)}` },
          {
            metric: 'through the handler p50 / p99 without DynamoDB (JSON)',
            value: `${ms(hmm.p50)} / ${ms(hmm.p99)} (direct ${ms(dmm.p50)} / ${ms(dmm.p99)})`,
          },
          { metric: 'DynamoDB round trips per request', value: `${readsPerRequest.toFixed(2)} read + 1 write (TransactWriteItems)` },
        ],
        notes: [
          "No read: a settlement moves this instance's cached counters by the amounts it wrote (followMoves in lib/store/spend-ledger.ts), so the next request of the same caller reads nothing; other instances see the change within the cache TTL.",
          'The settlement runs after the answer is complete (after the last event of a stream), on the event loop’s next turn: the writes carrying the answer’s last bytes go first, so the client’s last byte waits for neither its writes nor its serializing and signing; the invocation ends after it.',
          'DynamoDB Local on loopback is slower per write than DynamoDB in a region seen from Lambda (single-digit ms); the settlement row is the figure to replace when judging a deployment.',
          `Machine load when the run started (1-minute load average): ${load.toFixed(2)} on ${cpus().length} cores.`,
        ],
      },
      {
        title: 'LLM function: bundle',
        method: `infra/bundling.ts buildFunction('llm') (esbuild, minified ESM, AWS SDK bundled, Node builtins from process.getBuiltinModule, the tokenizer, the tracer and undici's Agent in files of their own beside the bundle), as deployed. Cold import: a fresh \`node\` (${process.version}) process imports the bundle; median of ${IMPORT_RUNS}.`,
        rows: [
          { metric: 'bundle size', value: `${b.kb.toFixed(0)} KB` },
          { metric: 'gzipped', value: `${b.gzipKb.toFixed(0)} KB` },
          { metric: 'cold import time (tracing off)', value: `${cold.importMs.toFixed(0)} ms` },
          { metric: 'a bare node process (start, exit), for the machine’s speed in this run', value: `${cold.bareMs.toFixed(0)} ms` },
          {
            metric: 'the tokenizer beside it (gpt-tokenizer o200k_base): size, import on first use',
            value: `${tokenizerKb.toFixed(0)} KB, ${tokenizer.importMs.toFixed(0)} ms`,
          },
        ],
        notes: [
          'The tokenizer counts tokens only for an answer whose upstream reported no usage, after the answer: an instance loads it the first time it needs it. Inside the bundle its ranks were parsed at every cold start, used or not.',
          'Node builtins come from process.getBuiltinModule rather than ESM imports: an ESM import builds the module facade, which reads every export, and reading node:http’s lazy ones loads undici.',
        ],
      },
    ];
  } finally {
    await stack.stop();
  }
}
