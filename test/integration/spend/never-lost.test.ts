/**
 * Never lost (issue 11): DynamoDB dies while answers are streaming. The answers still reach the
 * clients; their settlements, refused by the dead store, are kept in the settlement journal (the
 * local folder journal, as `npm start` runs it; SQS when deployed); once DynamoDB is back a replay
 * lands each exactly once, a strict call's reservation settled with the actual cost (not left to
 * the sweeper). Replaying again changes nothing. The same when DynamoDB is paused (SIGSTOP) instead:
 * the requests it held may still land when it resumes, and the replay counts each once. This file runs its own DynamoDB Local with its
 * data on disk, so it can be killed and started again with what it held.
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { type LocalDynamo, startLocalDynamo } from '../../../infra/local/dynamodb.js';
import { MOCK_UPSTREAM_KEY, mockLocalSecrets, mockModels } from '../../../infra/local/mock-models.js';
import { type MockUpstream, startMockUpstream } from '../../../infra/local/mock-upstream.js';
import { documentClient, objectOwners, resetApp, settlementJournal, spendSettler } from '../../../lib/app/index.js';
import { FileSettlementJournal, replayAndReport } from '../../../lib/spend/file-journal.js';
import { refs } from '../../../lib/store/keys.js';
import { objectRef } from '../../../lib/store/objects.js';
import { bearer } from '../../support/authorizer.js';
import { metricValues } from '../../support/metrics.js';
import { useOwnTable } from '../../support/own-table.js';
import { seedKey, seedTeam } from '../../support/seed.js';
import { countersOf, readItem } from '../../support/spend.js';
import { call, chat, seedModels, sseData } from '../llm/harness.js';

const TABLE = 'never-lost';
let dynamo: LocalDynamo;
let port: number;
let mock: MockUpstream;
const dataDir = mkdtempSync(join(tmpdir(), 'tollgate-never-lost-db-'));
const journalDir = mkdtempSync(join(tmpdir(), 'tollgate-never-lost-journal-'));

/** The SettlementsWaiting gauge a replay writes (the metric local mode and an operator's log pipeline read). */
async function waitingMetrics(run: () => Promise<number>): Promise<{ waiting: number; metrics: number[] }> {
  const { result, values } = await metricValues('SettlementsWaiting', run);
  return { waiting: result, metrics: values };
}

beforeAll(async () => {
  // Metrics on, for the SettlementsWaiting gauge (before the first metric is made).
  vi.stubEnv('POWERTOOLS_METRICS_DISABLED', 'false');
  // A picked port (tried again if taken before Java binds it); restarts reuse it.
  dynamo = await startLocalDynamo({ dataDir });
  port = dynamo.port;
  mock = await startMockUpstream({ apiKey: MOCK_UPSTREAM_KEY });
  await useOwnTable(dynamo, TABLE, {
    TOLLGATE_STORE_TIMEOUT_MS: '1500',
    TOLLGATE_STORE_MAX_ATTEMPTS: '1',
    TOLLGATE_LOCAL_SECRETS: JSON.stringify(mockLocalSecrets()),
    TOLLGATE_SETTLEMENT_JOURNAL_DIR: journalDir,
  });
  const base = mockModels(mock.url).find((m) => m.model_name === 'gpt-4o-mini');
  if (!base) throw new Error('the mock models changed');
  // Ten words streamed 150 ms apart: time enough to kill DynamoDB mid-answer.
  await seedModels([{ ...base, model_name: 'slow', upstream_model: 'gpt-4o-mini+delay=150', aliases: [], access_groups: [] }]);
}, 120_000);

afterAll(async () => {
  vi.unstubAllEnvs();
  await mock?.close();
  await dynamo?.stop();
  documentClient().destroy();
  resetApp();
  rmSync(dataDir, { recursive: true, force: true });
  rmSync(journalDir, { recursive: true, force: true });
});

const journal = () => settlementJournal() as FileSettlementJournal;

describe('DynamoDB killed or paused mid-stream, then back', () => {
  it('every answer is delivered; each spend arrives exactly once, a strict reservation settled by the replay', async () => {
    const fastTeam = await seedTeam({ team_id: 't-lost-fast', max_budget: 100 });
    const strictTeam = await seedTeam({ team_id: 't-lost-strict', max_budget: 100, enforcement: 'strict' });
    const fast = await seedKey({ team_id: fastTeam.team_id });
    const strict = await seedKey({ team_id: strictTeam.team_id });
    expect(journal()).toBeInstanceOf(FileSettlementJournal);

    const forwarded = mock.requests.length;
    const body = chat('slow', 'kill the store while this streams', {
      stream: true,
      stream_options: { include_usage: true },
      max_tokens: 64,
    });
    const calls = [
      call({ path: '/v1/chat/completions', headers: bearer(fast.key), body, requestId: 'req-lost-fast' }),
      call({ path: '/v1/chat/completions', headers: bearer(strict.key), body, requestId: 'req-lost-strict' }),
    ];
    // Both reached the upstream (the strict one has reserved) and are streaming: DynamoDB dies, with SIGKILL.
    while (mock.requests.length < forwarded + 2) await new Promise((r) => setTimeout(r, 10));
    dynamo.process.kill('SIGKILL');
    await new Promise((r) => dynamo.process.once('exit', r));

    const answers = await Promise.all(calls);
    for (const a of answers) {
      expect(a.status).toBe(200);
      expect(sseData(a.text).at(-1)).toBe('[DONE]');
    }
    // Nothing landed; both settlements wait in the journal, and the replay says so, as a metric.
    expect(await journal().waiting()).toBe(2);
    expect(await waitingMetrics(() => replayAndReport(journal(), { settler: spendSettler(), owners: objectOwners() }, 0))).toEqual({
      waiting: 2,
      metrics: [2],
    });

    // DynamoDB comes back with what it held (the strict reservation), on the same port.
    dynamo = await startLocalDynamo({ port, dataDir });
    const strictRef = refs.team(strictTeam.team_id);
    const held = await countersOf(strictRef);
    expect(held.spend).toBe(0);
    expect(held.committed).toBeGreaterThan(0);
    expect((await readItem(refs.settlement('req-lost-strict')))?.state).toBe('reserved');

    // Both land; the gauge says 0 once, then nothing more while none wait.
    expect(await waitingMetrics(() => replayAndReport(journal(), { settler: spendSettler(), owners: objectOwners() }, 2))).toEqual({
      waiting: 0,
      metrics: [0],
    });
    expect(await journal().waiting()).toBe(0);
    expect(await waitingMetrics(() => replayAndReport(journal(), { settler: spendSettler(), owners: objectOwners() }, 0))).toEqual({
      waiting: 0,
      metrics: [],
    });

    const fastCost = (await countersOf(refs.team(fastTeam.team_id))).spend;
    const strictAfter = await countersOf(strictRef);
    expect(fastCost).toBeGreaterThan(0);
    // The same call on each team: the same cost, and the reservation released down to it.
    expect(strictAfter.spend).toBe(fastCost);
    expect(strictAfter.committed).toBe(fastCost);
    expect((await countersOf(refs.key(fast.record.token))).spend).toBe(fastCost);
    expect((await readItem(refs.settlement('req-lost-strict')))?.state).toBe('settled');

    // Kept again (a settlement that landed but whose answer was lost is kept too): counted once.
    const settlement = (await readItem(refs.settlement('req-lost-fast'))) ?? {};
    expect(settlement.state).toBe('settled');
    const again = await countersOf(refs.team(fastTeam.team_id));
    await journal().keep({
      requestId: 'req-lost-fast',
      at: Date.now(),
      costNanos: fastCost,
      model: 'slow',
      targets: [{ entity: 'team', id: fastTeam.team_id, ref: refs.team(fastTeam.team_id) }],
    });
    expect(await journal().replay({ settler: spendSettler(), owners: objectOwners() })).toEqual({ landed: 1, waiting: 0, rejected: 0 });
    expect(await countersOf(refs.team(fastTeam.team_id))).toEqual(again);
  }, 120_000);

  it('DynamoDB paused mid-stream (SIGSTOP), then resumed: a settlement that may still land late and is replayed counts once', async () => {
    const fastTeam = await seedTeam({ team_id: 't-paused-fast', max_budget: 100 });
    const strictTeam = await seedTeam({ team_id: 't-paused-strict', max_budget: 100, enforcement: 'strict' });
    const fast = await seedKey({ team_id: fastTeam.team_id });
    const strict = await seedKey({ team_id: strictTeam.team_id });
    const forwarded = mock.requests.length;
    const body = chat('slow', 'pause the store while this streams', {
      stream: true,
      stream_options: { include_usage: true },
      max_tokens: 64,
    });
    const calls = [
      call({ path: '/v1/chat/completions', headers: bearer(fast.key), body, requestId: 'req-paused-fast' }),
      call({ path: '/v1/chat/completions', headers: bearer(strict.key), body, requestId: 'req-paused-strict' }),
    ];
    while (mock.requests.length < forwarded + 2) await new Promise((r) => setTimeout(r, 10));
    // Frozen, not gone: the settlements' requests reach it and wait, unanswered, past the deadline.
    dynamo.process.kill('SIGSTOP');
    let answers: Awaited<(typeof calls)[number]>[];
    try {
      answers = await Promise.all(calls);
    } finally {
      dynamo.process.kill('SIGCONT');
    }
    for (const a of answers) {
      expect(a.status).toBe(200);
      expect(sseData(a.text).at(-1)).toBe('[DONE]');
    }
    expect(await journal().waiting()).toBe(2);
    // Whatever the resumed store still does with the requests it held, the replay completes them once.
    await new Promise((r) => setTimeout(r, 500));
    expect(await journal().replay({ settler: spendSettler(), owners: objectOwners() })).toMatchObject({ waiting: 0, rejected: 0 });
    expect(await journal().waiting()).toBe(0);
    const fastCost = (await countersOf(refs.team(fastTeam.team_id))).spend;
    expect(fastCost).toBeGreaterThan(0);
    expect((await countersOf(refs.key(fast.record.token))).spend).toBe(fastCost);
    expect(await countersOf(refs.team(strictTeam.team_id))).toEqual({ spend: fastCost, committed: fastCost });
    expect((await readItem(refs.settlement('req-paused-strict')))?.state).toBe('settled');
  }, 120_000);

  it('DynamoDB killed while the upstream makes a background response: its client gets it; its owner record waits in the journal, and once landed a read bills it once (found by review: unbilled, and a 503)', async () => {
    const team = await seedTeam({ team_id: 't-lost-owner', max_budget: 100 });
    const { key } = await seedKey({ team_id: team.team_id });
    const forwarded = mock.requests.length;
    const made = call({
      path: '/v1/responses',
      headers: bearer(key),
      body: { model: 'slow', input: 'made while the store dies', background: true },
    });
    // The upstream has the request (it answers 150 ms later): DynamoDB dies before the owner record is written.
    while (mock.requests.length < forwarded + 1) await new Promise((r) => setTimeout(r, 5));
    dynamo.process.kill('SIGKILL');
    await new Promise((r) => dynamo.process.once('exit', r));
    const answer = await made;
    expect(answer.status).toBe(200);
    expect(answer.json.status).toBe('queued');
    const id = answer.json.id as string;
    expect(await journal().waiting()).toBe(1);

    dynamo = await startLocalDynamo({ port, dataDir });
    expect(await readItem(objectRef(id))).toBeUndefined();
    expect(await journal().replay({ settler: spendSettler(), owners: objectOwners() })).toEqual({ landed: 1, waiting: 0, rejected: 0 });
    expect(await readItem(objectRef(id))).toMatchObject({ team_id: team.team_id, billing: 'pending' });
    expect((await countersOf(refs.team(team.team_id))).spend).toBe(0);

    // Its maker reads it ended: billed, once.
    expect((await call({ method: 'GET', path: `/v1/responses/${id}`, headers: bearer(key) })).status).toBe(200);
    const billed = (await countersOf(refs.team(team.team_id))).spend;
    expect(billed).toBeGreaterThan(0);
    expect((await call({ method: 'GET', path: `/v1/responses/${id}`, headers: bearer(key) })).status).toBe(200);
    expect((await countersOf(refs.team(team.team_id))).spend).toBe(billed);
    // Kept twice (a record whose write landed after all): the replay never resets a billed record.
    await journal().keepOwners([
      { object_id: id, object_kind: 'response', team_id: team.team_id, billing: 'pending', created_at: new Date().toISOString() },
    ]);
    expect(await journal().replay({ settler: spendSettler(), owners: objectOwners() })).toEqual({ landed: 1, waiting: 0, rejected: 0 });
    expect(await readItem(objectRef(id))).toMatchObject({ billing: 'billed' });
  }, 120_000);

  it('DynamoDB paused (SIGSTOP) while the upstream makes a background response: its client gets it; the owner record, kept and perhaps landing late too, is written once and billed once', async () => {
    const team = await seedTeam({ team_id: 't-paused-owner', max_budget: 100 });
    const { key } = await seedKey({ team_id: team.team_id });
    const forwarded = mock.requests.length;
    const made = call({
      path: '/v1/responses',
      headers: bearer(key),
      body: { model: 'slow', input: 'made while the store is frozen', background: true },
    });
    while (mock.requests.length < forwarded + 1) await new Promise((r) => setTimeout(r, 5));
    // Frozen, not gone: the owner record's write reaches it and waits, unanswered, past the deadline.
    dynamo.process.kill('SIGSTOP');
    let answer: Awaited<typeof made>;
    try {
      answer = await made;
    } finally {
      dynamo.process.kill('SIGCONT');
    }
    expect([answer.status, answer.json.status]).toEqual([200, 'queued']);
    const id = answer.json.id as string;
    expect(await journal().waiting()).toBe(1);
    // Whatever the resumed store does with the write it held, the replay leaves one pending record.
    await new Promise((r) => setTimeout(r, 500));
    expect(await journal().replay({ settler: spendSettler(), owners: objectOwners() })).toEqual({ landed: 1, waiting: 0, rejected: 0 });
    expect(await readItem(objectRef(id))).toMatchObject({ team_id: team.team_id, billing: 'pending' });
    expect((await call({ method: 'GET', path: `/v1/responses/${id}`, headers: bearer(key) })).status).toBe(200);
    const billed = (await countersOf(refs.team(team.team_id))).spend;
    expect(billed).toBeGreaterThan(0);
    expect((await call({ method: 'GET', path: `/v1/responses/${id}`, headers: bearer(key) })).status).toBe(200);
    expect((await countersOf(refs.team(team.team_id))).spend).toBe(billed);
  }, 120_000);

  it('a journal record that is not a settlement is set aside, not replayed and not deleted', async () => {
    const { writeFileSync } = await import('node:fs');
    writeFileSync(join(journalDir, 'garbage.json'), '{"version":1,"settlement":{"requestId":""}}');
    // Owner records without an object id are not replayed either.
    writeFileSync(join(journalDir, 'garbage-owners.json'), '{"version":1,"owners":[{"object_kind":"response"}]}');
    expect(await journal().replay({ settler: spendSettler(), owners: objectOwners() })).toEqual({ landed: 0, waiting: 0, rejected: 2 });
    expect(readdirSync(join(journalDir, 'rejected')).sort()).toEqual(['garbage-owners.json', 'garbage.json']);
  });
});
