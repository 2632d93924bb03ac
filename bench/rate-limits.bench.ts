/**
 * Rate limits on the request path: what a limited caller pays, and that an unlimited caller pays
 * nothing. Through the llm handler (in process, DynamoDB Local, zero-latency mock upstream), one
 * request after the other, interleaved: a key with no rate limit, and a key with rpm, tpm and
 * max_parallel_requests (limits high enough never to refuse). Every DynamoDB call the rate
 * limiter makes is counted, with its write units (1 per started KB of the item written).
 */
import { cpus, loadavg } from 'node:os';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { invokeStreaming } from '../infra/local/awslambda.js';
import { configureApp, documentClient } from '../lib/app/index.js';
import { callerContext } from '../lib/authorizer/context.js';
import type { Caller } from '../lib/domain/caller.js';
import type { KeyRecord } from '../lib/domain/records.js';
import { DynamoRateLimiter } from '../lib/store/rate-limits.js';
import { seedKey } from '../test/support/seed.js';
import type { BenchSection } from './run.js';
import { added, chatEvent, ms, startLlmBenchStack, stats } from './support.js';

const RUNS = 300;
const WARMUP = 30;

/** The document client, counting calls and the write units DynamoDB reports for them. */
function metered(real: DynamoDBDocumentClient) {
  const count = { calls: 0, wcu: 0 };
  const client = {
    send: async (command: { input: Record<string, unknown> }) => {
      // DynamoDB Local reports no consumed capacity: ask for the item after the write and price
      // it as DynamoDB does (an UpdateItem costs 1 WCU per started KB of the larger of the item
      // before and after; these items only grow by a lease, so after is the larger, or equal).
      const asked = command.input.ReturnValues;
      if (asked === undefined) command.input.ReturnValues = 'ALL_NEW';
      const out = (await real.send(command as never)) as { Attributes?: Record<string, unknown> };
      count.calls++;
      count.wcu += Math.max(1, Math.ceil(Buffer.byteLength(JSON.stringify(out.Attributes ?? {})) / 1024));
      return out;
    },
  } as unknown as DynamoDBDocumentClient;
  return { client, count };
}

export default async function rateLimitBench(): Promise<BenchSection> {
  const stack = await startLlmBenchStack('bench-rate');
  const { llm, tableName } = stack;
  try {
    const caller = (key: KeyRecord): Caller => ({
      principal: 'virtual_key',
      role: 'internal_user',
      keyHash: key.token,
      keyName: key.key_name,
      state: { key },
    });
    const { record: free } = await seedKey({});
    const { record: limited } = await seedKey({ rpm_limit: 1_000_000, tpm_limit: 1_000_000_000, max_parallel_requests: 1000 });
    const meters = { free: metered(documentClient()), limited: metered(documentClient()) };
    const body = JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'benchmark this short prompt please' }] });
    const through = async (which: 'free' | 'limited', i: number) => {
      configureApp({ rateLimiter: new DynamoRateLimiter(meters[which].client, tableName) });
      const key = which === 'free' ? free : limited;
      const t = performance.now();
      const res = await invokeStreaming(llm, chatEvent(`bench-rate-${which}-${i}`, callerContext(caller(key), Date.now()), body));
      for await (const _ of res.body);
      await res.done;
      if (res.statusCode !== 200) throw new Error(`the handler answered ${res.statusCode} for the ${which} key`);
      return performance.now() - t;
    };
    for (let i = 0; i < WARMUP; i++) {
      await through('free', 1_000_000 + i);
      await through('limited', 1_000_000 + i);
    }
    for (const m of Object.values(meters)) Object.assign(m.count, { calls: 0, wcu: 0 });
    const load = loadavg()[0] ?? 0;
    const times = { free: [] as number[], limited: [] as number[] };
    for (let i = 0; i < RUNS; i++) {
      times.free.push(await through('free', i));
      times.limited.push(await through('limited', i));
    }
    const [f, l] = [stats(times.free), stats(times.limited)];
    const per = (which: 'free' | 'limited') => {
      const c = meters[which].count;
      return `${(c.calls / RUNS).toFixed(2)} calls (all writes), ${(c.wcu / RUNS).toFixed(2)} WCU`;
    };
    return {
      title: 'Rate limits: cost per request',
      method: `${RUNS} chat completions per key through the llm handler, interleaved, warm cache, DynamoDB Local on loopback, zero-latency mock upstream. One key has no rate limit; the other has rpm_limit, tpm_limit and max_parallel_requests (high enough never to refuse). Only the rate limiter's DynamoDB calls are counted; write units priced from the size of each item written (DynamoDB Local reports no consumed capacity), 1 per started KB.`,
      rows: [
        { metric: 'rate-limit DynamoDB calls per request, no limit', value: per('free'), target: '0 calls, 0 WCU' },
        { metric: 'rate-limit DynamoDB calls per request, rpm + tpm + parallel', value: per('limited') },
        { metric: 'request through the handler, no limit, p50 / p99', value: `${ms(f.p50)} / ${ms(f.p99)}` },
        { metric: 'request through the handler, limited, p50 / p99', value: `${ms(l.p50)} / ${ms(l.p99)}` },
        { metric: 'added by the limits p50', value: added(l, f) },
      ],
      notes: [
        'Before the upstream call (on the time to first byte): one conditional UpdateItem on the minute window (rpm and tpm together) and one on the parallel item, concurrently: one round trip. After the answer (beside the settlement): the settled tokens added to the window, and the parallel lease released.',
        'A key with only rpm_limit makes one UpdateItem per request (1 WCU). DynamoDB on-demand bills about $1.25 per million write units: 4 WCU is about $5 per million limited requests.',
        `Machine load when the runs started (1-minute load average): ${load.toFixed(2)} on ${cpus().length} cores.`,
      ],
    };
  } finally {
    configureApp({ rateLimiter: undefined });
    await stack.stop();
  }
}
