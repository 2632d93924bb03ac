/**
 * The authorizer's costs: warm decision latency in process (the full Lambda handler, every item
 * cached), DynamoDB round trips of a cold authorization (counted, not timed), and the deployed
 * bundle's size and cold import time. Starts its own DynamoDB Local; touches no network.
 */
import { cpus, loadavg } from 'node:os';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { APIGatewayRequestAuthorizerEvent } from 'aws-lambda';
import { handler } from '../functions/authorizer/handler.js';
import { startLocalDynamo } from '../infra/local/dynamodb.js';
import { configureApp, entityReader } from '../lib/app/index.js';
import { createDocumentClient } from '../lib/store/client.js';
import { ensureTable } from '../lib/store/schema.js';
import { claims, installJwtAuthorizer, jwtEnv, signJwt, testIssuer } from '../test/support/jwt.js';
import { authorizerEvent, seedEndUser, seedGlobal, seedKey, seedMember, seedOrg, seedTeam, seedUser } from '../test/support/seed.js';
import type { BenchSection } from './run.js';
import { bundleSize, coldImport, quantile } from './support.js';

const WARM_DECISIONS = 100_000;
const WARM_JWT_DECISIONS = 20_000;
const IMPORT_RUNS = 7;

const us = (ns: number) => `${(ns / 1000).toFixed(1)} µs`;

/** Per-decision latency (ns) of `n` sequential warm calls of the handler, after a warm-up. */
async function warmLatency(
  event: APIGatewayRequestAuthorizerEvent,
  n: number,
): Promise<{ p50: number; p99: number; p999: number; mean: number; trips: number }> {
  const call = () => handler(event, {} as never);
  for (let i = 0; i < Math.min(5000, n / 10); i++) await call();
  const before = entityReader().loader.stats.batches;
  const samples = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const t = process.hrtime.bigint();
    const res = await call();
    samples[i] = Number(process.hrtime.bigint() - t);
    if (res.policyDocument.Statement[0]?.Effect !== 'Allow') throw new Error('the warm benchmark request was not allowed');
  }
  const trips = entityReader().loader.stats.batches - before;
  const mean = samples.reduce((a, b) => a + b, 0) / n;
  samples.sort();
  return { p50: quantile(samples, 0.5), p99: quantile(samples, 0.99), p999: quantile(samples, 0.999), mean, trips };
}

/** Round trips and wall time of one authorization on a fresh instance (empty cache). */
async function cold(
  event: APIGatewayRequestAuthorizerEvent,
  install: () => void,
): Promise<{ trips: number; ms: number; warmTrips: number }> {
  configureApp({ entityReader: undefined });
  install();
  const before = entityReader().loader.stats.batches;
  const t = performance.now();
  const res = await handler(event, {} as never);
  const ms = performance.now() - t;
  if (res.policyDocument.Statement[0]?.Effect !== 'Allow') throw new Error('the cold benchmark request was not allowed');
  const trips = entityReader().loader.stats.batches - before;
  await handler(event, {} as never);
  return { trips, ms, warmTrips: entityReader().loader.stats.batches - before - trips };
}

async function bundle(): Promise<{ kb: number; importMs: number; processMs: number; bareMs: number; tracedMs: number }> {
  const b = await bundleSize('authorizer');
  try {
    // Tracing on, as the stack deploys by default: what Powertools sees in Lambda.
    const traced = coldImport(b.file, IMPORT_RUNS, '', {
      AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs24.x',
      AWS_LAMBDA_FUNCTION_NAME: 'tollgate-bench',
      AWS_REGION: 'us-east-1',
    });
    return { kb: b.kb, ...coldImport(b.file, IMPORT_RUNS), tracedMs: traced.importMs };
  } finally {
    b.cleanup();
  }
}

export default async function authorizerBench(): Promise<BenchSection[]> {
  const idp = testIssuer('bench');
  const dynamo = await startLocalDynamo();
  try {
    const tableName = 'bench-authorizer';
    configureApp({
      config: {
        TOLLGATE_TABLE_NAME: tableName,
        TOLLGATE_DYNAMODB_ENDPOINT: dynamo.endpoint,
        TOLLGATE_LOG_LEVEL: 'SILENT',
        // Long enough that nothing expires during the warm runs.
        TOLLGATE_CACHE_TTL_SECONDS: '3600',
        // A proxy budget puts the global spend item on every LLM authorization too.
        TOLLGATE_MAX_BUDGET: '1000000',
        ...jwtEnv([idp]),
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

    await seedOrg({ organization_id: 'o-bench', max_budget: 1000, spend: 10, models: ['gpt-4o*'] });
    await seedTeam({ team_id: 't-bench', organization_id: 'o-bench', max_budget: 100, spend: 1, models: ['gpt-4o', 'gpt-4o-mini'] });
    await seedUser({ user_id: 'u-bench' });
    await seedMember({ team_id: 't-bench', user_id: 'u-bench', max_budget: 10, spend: 0.5 });
    await seedEndUser({ user_id: 'cust-bench', max_budget: 5 });
    await seedGlobal({ spend: 100 });
    const { key } = await seedKey({
      team_id: 't-bench',
      user_id: 'u-bench',
      organization_id: 'o-bench',
      max_budget: 50,
      spend: 2,
      models: ['gpt-4o'],
    });
    const token = signJwt(
      idp.keys.ES256,
      claims(idp, { sub: 'u-bench', team_id: 't-bench', org_id: 'o-bench', end_user_id: 'cust-bench' }, { ttlSeconds: 3600 }),
    );
    const keyEvent = authorizerEvent({ headers: { Authorization: `Bearer ${key}` } });
    const jwtEvent = authorizerEvent({ headers: { Authorization: `Bearer ${token}` } });
    const install = () => installJwtAuthorizer([idp]);

    // Warm the SDK client and DynamoDB Local's JVM first: "cold" below means a cold cache.
    install();
    await handler(authorizerEvent({ headers: { Authorization: 'Bearer sk-bench-warm-up-unknown' } }), {} as never).catch(() => undefined);
    const coldKey = await cold(keyEvent, install);
    const coldJwt = await cold(jwtEvent, install);

    const load = loadavg()[0] ?? 0;
    const warmKey = await warmLatency(keyEvent, WARM_DECISIONS);
    const warmJwt = await warmLatency(jwtEvent, WARM_JWT_DECISIONS);

    const b = await bundle();

    return [
      {
        title: 'Authorizer: warm decision latency',
        method: `The Lambda handler (middy, tracer off) called in process, sequentially, with every item cached: ${WARM_DECISIONS.toLocaleString('en')} decisions for a virtual key in a team with a user, member, organization and proxy budget, ${WARM_JWT_DECISIONS.toLocaleString('en')} for an ES256 JWT naming the same entities and an end user. Each decision is timed with process.hrtime.`,
        rows: [
          { metric: 'virtual key p50', value: us(warmKey.p50) },
          { metric: 'virtual key p99', value: us(warmKey.p99), target: '≤ 100 µs' },
          { metric: 'virtual key p99.9', value: us(warmKey.p999) },
          { metric: 'virtual key mean', value: us(warmKey.mean) },
          { metric: 'JWT (ES256) p50', value: us(warmJwt.p50) },
          { metric: 'JWT (ES256) p99', value: us(warmJwt.p99) },
          { metric: 'DynamoDB round trips during the timed warm runs', value: String(warmKey.trips + warmJwt.trips), target: '0' },
        ],
        notes: [
          'A warm JWT decision finds its token among those verified before (lib/auth/jwt: up to 10,000 tokens, each for at most 60 s and never past its `exp`), so it costs about what a key decision costs; the first decision of a token verifies its signature (aws-jwt-verify caches the public key).',
          `Machine load when the run started (1-minute load average): ${load.toFixed(2)} on ${cpus().length} cores; the tail percentiles grow with contention (preemption, not work).`,
        ],
      },
      {
        title: 'Authorizer: DynamoDB round trips of a cold authorization',
        method:
          'A fresh instance (empty cache; SDK client and DynamoDB Local already warm) authorizes once against DynamoDB Local; round trips are the CachedLoader batches it made. Wall time is on loopback and only indicative.',
        rows: [
          { metric: 'virtual key, cold', value: `${coldKey.trips} (${coldKey.ms.toFixed(1)} ms)`, target: '≤ 2' },
          { metric: 'JWT (org from its claim), cold', value: `${coldJwt.trips} (${coldJwt.ms.toFixed(1)} ms)`, target: '≤ 1' },
          { metric: 'virtual key, warm', value: String(coldKey.warmTrips), target: '0' },
          { metric: 'JWT, warm', value: String(coldJwt.warmTrips), target: '0' },
        ],
        notes: [
          'Cold virtual key: the key item, then user, team, member, organization and proxy spend in one BatchGetItem. An organization known only through an uncached team costs one more.',
        ],
      },
      {
        title: 'Authorizer: bundle',
        method: `infra/bundling.ts buildFunction('authorizer') (esbuild, minified ESM, AWS SDK bundled, Node builtins from process.getBuiltinModule, the tracer in a file of its own beside the bundle), as deployed. Cold import: a fresh \`node\` (${process.version}) process imports the bundle; median of ${IMPORT_RUNS}.`,
        rows: [
          { metric: 'bundle size', value: `${b.kb.toFixed(0)} KB`, target: '≤ 500 KB' },
          {
            metric: 'cold import time (tracing off: the tracer and the X-Ray SDK are not loaded)',
            value: `${b.importMs.toFixed(0)} ms`,
            target: '≤ 90 ms',
          },
          {
            metric: 'cold import time, tracing on (the stack’s default: the tracer and the X-Ray SDK loaded from beside the bundle)',
            value: `${b.tracedMs.toFixed(0)} ms`,
          },
          { metric: 'whole process (start, import, exit)', value: `${b.processMs.toFixed(0)} ms` },
          { metric: 'a bare node process (start, exit), for the machine’s speed in this run', value: `${b.bareMs.toFixed(0)} ms` },
        ],
      },
    ];
  } finally {
    await dynamo.stop();
  }
}
