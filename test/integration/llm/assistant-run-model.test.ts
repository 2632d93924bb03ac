/**
 * A run of an assistant that names no model runs the assistant's model: checked against the
 * caller's models and priced at it, and named to the upstream (found by review: a teammate whose
 * key allows only gpt-4o-mini ran a teammate's gpt-4o assistant, priced as gpt-4o-mini).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { objectOwners } from '../../../lib/app/index.js';
import { costNanos } from '../../../lib/domain/cost.js';
import type { ModelRecord } from '../../../lib/domain/records.js';
import { refs } from '../../../lib/store/keys.js';
import { bearer } from '../../support/authorizer.js';
import { seedKey, seedTeam } from '../../support/seed.js';
import { spendNanos } from '../../support/spend.js';
import { call, passthroughTable, standInUpstream } from './harness.js';

const usage = { prompt_tokens: 1000, completion_tokens: 2000, total_tokens: 3000 };
let upstream: { base: string; close: () => Promise<void> };
let n = 0;
/** The model each run was started with, as the upstream received it (absent: the assistant's). */
const runModels = new Map<string, unknown>();
/** The upstream's assistants and their models. */
const assistants = new Map<string, string>();
let gpt4o: ModelRecord;

beforeAll(async () => {
  upstream = await standInUpstream((req, raw, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const body = raw ? (JSON.parse(raw) as Record<string, unknown>) : {};
    n++;
    const json = (v: unknown) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(v));
    };
    const asst = /^\/v1\/assistants(?:\/(asst_\d+))?$/.exec(url.pathname);
    if (asst && req.method === 'POST') {
      const id = asst[1] ?? `asst_${n}`;
      assistants.set(id, String(body.model ?? assistants.get(id)));
      return json({ id, object: 'assistant', model: assistants.get(id) });
    }
    if (req.method === 'POST' && url.pathname === '/v1/threads') return json({ id: `thread_${n}`, object: 'thread' });
    const runs = /^\/v1\/threads(?:\/(thread_\d+))?\/runs$/.exec(url.pathname);
    if (runs && req.method === 'POST') {
      const id = `run_${n}`;
      runModels.set(id, body.model);
      const model = typeof body.model === 'string' ? body.model : assistants.get(String(body.assistant_id));
      return json({ id, object: 'thread.run', thread_id: runs[1] ?? `thread_${n}`, status: 'completed', model, usage });
    }
    json({});
  });
  const mini = await passthroughTable(upstream.base);
  gpt4o = (await import('../../../infra/local/mock-models.js'))
    .mockModels(`${upstream.base}/v1`)
    .find((m) => m.model_name === 'gpt-4o') as ModelRecord;
  expect(mini.model_name).toBe('gpt-4o-mini');
  await seedTeam({ team_id: 'team-asst' });
  return () => upstream.close();
});

const runCost = (m: ModelRecord) => costNanos({ inputTokens: usage.prompt_tokens, outputTokens: usage.completion_tokens }, m);

describe("a run of an assistant runs the assistant's model", () => {
  it("a key not allowed the assistant's model is refused its runs (both run routes) before any upstream call", async () => {
    const maker = await seedKey({ team_id: 'team-asst' });
    const narrow = await seedKey({ team_id: 'team-asst', models: ['gpt-4o-mini'] });
    const assistant = (await call({ path: '/v1/assistants', headers: bearer(maker.key), body: { model: 'gpt-4o' } })).json.id as string;
    const thread = (await call({ path: '/v1/threads', headers: bearer(narrow.key), body: {} })).json.id as string;
    const before = n;
    for (const path of [`/v1/threads/${thread}/runs`, '/v1/threads/runs']) {
      const refused = await call({ path, headers: bearer(narrow.key), body: { assistant_id: assistant } });
      expect([path, refused.status]).toEqual([path, 403]);
      expect(refused.json.error.message).toContain('gpt-4o');
    }
    expect(n).toBe(before);
    expect(await spendNanos(refs.key(narrow.record.token))).toBe(0);
  });

  it("a key allowed it runs it: the upstream is told the assistant's model, and the run is priced at it", async () => {
    const maker = await seedKey({ team_id: 'team-asst' });
    const assistant = (await call({ path: '/v1/assistants', headers: bearer(maker.key), body: { model: 'gpt-4o' } })).json.id as string;
    const thread = (await call({ path: '/v1/threads', headers: bearer(maker.key), body: {} })).json.id as string;
    const run = (await call({ path: `/v1/threads/${thread}/runs`, headers: bearer(maker.key), body: { assistant_id: assistant } })).json;
    expect(runModels.get(run.id)).toBe(gpt4o.upstream_model);
    // Billed by the answer that shows it ended (its own): at gpt-4o's prices.
    expect(await spendNanos(refs.key(maker.record.token))).toBe(runCost(gpt4o));
    expect((await objectOwners().get(run.id))?.model).toBe('gpt-4o');
  });

  it("an assistant whose recorded model left the registry runs as before, through the thread's model (found by review: a 404)", async () => {
    const maker = await seedKey({ team_id: 'team-asst' });
    const assistant = (await call({ path: '/v1/assistants', headers: bearer(maker.key), body: { model: 'gpt-4o' } })).json.id as string;
    await objectOwners().setModel(assistant, 'a-model-since-deleted');
    const thread = (await call({ path: '/v1/threads', headers: bearer(maker.key), body: {} })).json.id as string;
    const run = await call({ path: `/v1/threads/${thread}/runs`, headers: bearer(maker.key), body: { assistant_id: assistant } });
    expect(run.status).toBe(200);
    expect(runModels.get(run.json.id)).toBeUndefined();
  });

  it('recording a model never brings back the record of an assistant deleted meanwhile', async () => {
    await objectOwners().setModel('asst_never_recorded', 'gpt-4o');
    expect(await objectOwners().get('asst_never_recorded')).toBeUndefined();
  });

  it('an assistant given another model through Tollgate runs that one from then on', async () => {
    const maker = await seedKey({ team_id: 'team-asst' });
    const narrow = await seedKey({ team_id: 'team-asst', models: ['gpt-4o-mini'] });
    const assistant = (await call({ path: '/v1/assistants', headers: bearer(maker.key), body: { model: 'gpt-4o' } })).json.id as string;
    expect((await call({ path: `/v1/assistants/${assistant}`, headers: bearer(maker.key), body: { model: 'gpt-4o-mini' } })).status).toBe(
      200,
    );
    expect((await objectOwners().get(assistant))?.model).toBe('gpt-4o-mini');
    const run = await call({ path: '/v1/threads/runs', headers: bearer(narrow.key), body: { assistant_id: assistant } });
    expect(run.status).toBe(200);
    expect(runModels.get(run.json.id)).toBe('gpt-4o-mini');
  });
});
