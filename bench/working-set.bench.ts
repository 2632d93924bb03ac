/**
 * The authorizer with many callers: 20,000 virtual keys, each with its own user and team
 * membership, in 200 teams under 20 organizations, with a proxy budget (so every decision reads
 * key, user, member, team, organization, the proxy item and their counter shards). Decisions for
 * random callers through the Lambda handler, after one pass over all of them, at the default
 * cache bound and at a bound smaller than the working set. The items come from an in-process
 * source (the table's items, encoded as stored) so that what is measured is the cache: a miss
 * costs a round trip here only in the count, not in the latency.
 */
import type { APIGatewayRequestAuthorizerEvent } from 'aws-lambda';
import { handler } from '../functions/authorizer/handler.js';
import { configureApp, resetApp } from '../lib/app/index.js';
import { generateKey, hashKey, keyName } from '../lib/auth/keys.js';
import { config } from '../lib/config.js';
import { encode, type Item } from '../lib/store/codec.js';
import { EntityReader } from '../lib/store/entities.js';
import { type ItemRef, refKey } from '../lib/store/keys.js';
import { type BatchSource, CachedLoader } from '../lib/store/loader.js';
import { authorizerEvent } from '../test/support/seed.js';
import type { BenchSection } from './run.js';
import { quantile } from './support.js';

const CALLERS = 20_000;
const TEAMS = 200;
const ORGS = 20;
const DECISIONS = 50_000;
const CREATED = '2026-01-05T00:00:00.000Z';

class MemorySource implements BatchSource {
  reads = 0;
  constructor(private readonly items: Map<string, Item>) {}
  async getMany(refs: readonly ItemRef[]): Promise<Map<string, Item>> {
    this.reads++;
    const out = new Map<string, Item>();
    for (const r of refs) {
      const item = this.items.get(refKey(r));
      if (item) out.set(refKey(r), item);
    }
    return out;
  }
}

function world(): { items: Map<string, Item>; events: APIGatewayRequestAuthorizerEvent[] } {
  const items = new Map<string, Item>();
  const add = (item: Item) => items.set(refKey(item as unknown as ItemRef), item);
  for (let o = 0; o < ORGS; o++) add(encode.org({ organization_id: `o-${o}`, created_at: CREATED, max_budget: 1e6, spend: 1 }));
  for (let t = 0; t < TEAMS; t++)
    add(encode.team({ team_id: `t-${t}`, organization_id: `o-${t % ORGS}`, created_at: CREATED, max_budget: 1e6, spend: 1 }));
  add(encode.global({ spend: 1 }));
  const events: APIGatewayRequestAuthorizerEvent[] = [];
  for (let i = 0; i < CALLERS; i++) {
    const key = generateKey();
    const team = `t-${i % TEAMS}`;
    const user = `u-${i}`;
    add(encode.user({ user_id: user, user_role: 'internal_user', created_at: CREATED, spend: 0 }));
    add(encode.member({ team_id: team, user_id: user, role: 'user', created_at: CREATED, spend: 0 }));
    add(
      encode.key({
        token: hashKey(key),
        key_name: keyName(key),
        team_id: team,
        user_id: user,
        organization_id: `o-${(i % TEAMS) % ORGS}`,
        created_at: CREATED,
        max_budget: 100,
        spend: 0,
      }),
    );
    events.push(authorizerEvent({ headers: { Authorization: `Bearer ${key}` } }));
  }
  return { items, events };
}

async function run(items: Map<string, Item>, events: APIGatewayRequestAuthorizerEvent[], maxEntries: number) {
  const source = new MemorySource(items);
  const c = config();
  const loader = new CachedLoader(source, { ttlMs: c.cache.ttlMs, negativeTtlMs: c.cache.negativeTtlMs, maxEntries });
  configureApp({ entityReader: new EntityReader(loader, c.spendShards) });
  const decide = async (e: APIGatewayRequestAuthorizerEvent) => {
    const res = await handler(e, {} as never);
    if (res.policyDocument.Statement[0]?.Effect !== 'Allow') throw new Error('a working-set decision was not allowed');
  };
  for (const e of events) await decide(e);
  globalThis.gc?.();
  const heapBefore = process.memoryUsage().heapUsed;
  const reads = source.reads;
  const samples = new Float64Array(DECISIONS);
  for (let i = 0; i < DECISIONS; i++) {
    const e = events[Math.floor(Math.random() * events.length)] as APIGatewayRequestAuthorizerEvent;
    const t = process.hrtime.bigint();
    await decide(e);
    samples[i] = Number(process.hrtime.bigint() - t);
  }
  samples.sort();
  return {
    p50: quantile(samples, 0.5),
    p99: quantile(samples, 0.99),
    readsPerDecision: (source.reads - reads) / DECISIONS,
    misses: loader.stats.misses,
    entities: loader.size,
    heapMb: process.memoryUsage().heapUsed / 2 ** 20,
    heapBeforeMb: heapBefore / 2 ** 20,
  };
}

const us = (ns: number) => `${(ns / 1000).toFixed(1)} µs`;

export default async function workingSetBench(): Promise<BenchSection> {
  resetApp();
  configureApp({
    config: {
      TOLLGATE_TABLE_NAME: 'bench-working-set',
      TOLLGATE_LOG_LEVEL: 'SILENT',
      TOLLGATE_CACHE_TTL_SECONDS: '3600',
      TOLLGATE_MAX_BUDGET: '1000000',
    },
  });
  try {
    const { items, events } = world();
    const bound = config().cache.maxEntries;
    const fits = await run(items, events, bound);
    const small = await run(items, events, 10_000);
    return {
      title: 'Authorizer: a working set of 20,000 callers',
      method: `${CALLERS.toLocaleString('en')} virtual keys, each with its own user and membership, in ${TEAMS} teams under ${ORGS} organizations, with a proxy budget: about ${(3 * CALLERS + TEAMS + ORGS + 1).toLocaleString('en')} entities plus counter shards. Through the authorizer's Lambda handler in process: one pass over every caller, then ${DECISIONS.toLocaleString('en')} decisions for callers drawn at random. Items come from an in-process source, so a miss shows in the round trips, not in the latency.`,
      rows: [
        { metric: `default bound (${bound.toLocaleString('en')} entities): p50 / p99`, value: `${us(fits.p50)} / ${us(fits.p99)}` },
        { metric: 'default bound: DynamoDB round trips per decision', value: fits.readsPerDecision.toFixed(3), target: '0' },
        {
          metric: 'default bound: entities cached, heap used',
          value: `${fits.entities.toLocaleString('en')}, ${fits.heapMb.toFixed(0)} MB`,
        },
        { metric: 'bound of 10,000 entities (smaller than the working set): p50 / p99', value: `${us(small.p50)} / ${us(small.p99)}` },
        {
          metric: 'bound of 10,000: DynamoDB round trips per decision',
          value: `${small.readsPerDecision.toFixed(3)} (misses ${small.misses})`,
        },
      ],
      notes: [
        'The bound counts entities; counter shards are kept beside them (31 per entity at most) and never push an entity out (lib/store/loader.ts).',
        'With a bound smaller than the working set, random callers miss: each miss is a BatchGetItem (the key, then its chain) on a real table.',
        'The deployed authorizer and llm function have 1024 MB; the heap figure above is an upper bound of what 60,000 cached entities take (it includes the source copy of them). Lower TOLLGATE_CACHE_MAX_ENTRIES for smaller functions.',
      ],
    };
  } finally {
    resetApp();
  }
}
