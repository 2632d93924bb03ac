/**
 * A settlement the store holds (DynamoDB frozen with SIGSTOP, a stalled endpoint) is kept in the
 * journal before the invocation ends: found by review, its three attempts (each up to the store's
 * deadline) could outlast the time left after a call ended near the function's timeout, and the
 * invocation would die before the journal was tried: its spend in no counter, no journal, no log.
 * Now the attempts stop when the journal's own time before the end comes (recordSpend's keepBy).
 * This file runs its own DynamoDB Local, so pausing it stalls nothing else.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type LocalDynamo, startLocalDynamo } from '../../../infra/local/dynamodb.js';
import { MOCK_UPSTREAM_KEY, mockLocalSecrets, mockModels } from '../../../infra/local/mock-models.js';
import { type MockUpstream, startMockUpstream } from '../../../infra/local/mock-upstream.js';
import { documentClient, objectOwners, resetApp, settlementJournal, spendSettler } from '../../../lib/app/index.js';
import type { FileSettlementJournal } from '../../../lib/spend/file-journal.js';
import { refs } from '../../../lib/store/keys.js';
import { bearer } from '../../support/authorizer.js';
import { useOwnTable } from '../../support/own-table.js';
import { seedKey, seedTeam } from '../../support/seed.js';
import { readItem, spendNanos } from '../../support/spend.js';
import { call, chat, seedModels, sseData, withKnobs } from '../llm/harness.js';

const TABLE = 'out-of-time';
/** Each store call fails after about TIMEOUT_MS x ATTEMPTS (2.1 s): three settlement attempts, 6.4 s. */
const TIMEOUT_MS = 1000;
const ATTEMPTS = 2;
/** The time the invocation has: its call (10 words, 150 ms apart) ends long before the cut (a tenth of it). */
const INVOCATION_MS = 7_000;
const journalDir = mkdtempSync(join(tmpdir(), 'tollgate-out-of-time-journal-'));
let dynamo: LocalDynamo;
let mock: MockUpstream;

beforeAll(async () => {
  dynamo = await startLocalDynamo();
  mock = await startMockUpstream({ apiKey: MOCK_UPSTREAM_KEY });
  await useOwnTable(dynamo, TABLE, {
    TOLLGATE_STORE_TIMEOUT_MS: String(TIMEOUT_MS),
    TOLLGATE_STORE_MAX_ATTEMPTS: String(ATTEMPTS),
    TOLLGATE_LOCAL_SECRETS: JSON.stringify(mockLocalSecrets()),
    TOLLGATE_SETTLEMENT_JOURNAL_DIR: journalDir,
  });
  const base = mockModels(mock.url).find((m) => m.model_name === 'gpt-4o-mini');
  if (!base) throw new Error('the mock models changed');
  await seedModels([withKnobs(base, 'slow', 'delay=150')]);
  await seedTeam({ team_id: 't-out-of-time' });
}, 120_000);

afterAll(async () => {
  if (dynamo?.process.pid) process.kill(dynamo.process.pid, 'SIGCONT');
  await mock?.close();
  await dynamo?.stop();
  documentClient().destroy();
  resetApp();
  rmSync(journalDir, { recursive: true, force: true });
});

it('a settlement the frozen store holds is kept in the journal before the invocation ends, and lands once on the replay', async () => {
  const { key, record } = await seedKey({ team_id: 't-out-of-time' });
  const requestId = `req-out-of-time-${Date.now()}`;
  const started = Date.now();
  const end = started + INVOCATION_MS;
  // Frozen once the call is under way (its caller read): the answer streams, its settlement waits.
  const freeze = setTimeout(() => process.kill(dynamo.process.pid as number, 'SIGSTOP'), 600);
  const res = await call({
    path: '/v1/chat/completions',
    headers: bearer(key),
    body: chat('slow', 'one two three four five six seven eight nine ten', { stream: true }),
    requestId,
    context: { getRemainingTimeInMillis: () => end - Date.now() },
  });
  clearTimeout(freeze);
  const ended = Date.now();
  expect(res.status).toBe(200);
  expect(sseData(res.text).at(-1)).toBe('[DONE]');
  // The invocation (its answer and settlement) ended before its timeout, the settlement kept.
  expect(ended).toBeLessThan(end);
  const journal = settlementJournal() as FileSettlementJournal;
  expect(await journal.waiting()).toBe(1);

  process.kill(dynamo.process.pid as number, 'SIGCONT');
  expect(await journal.replay({ settler: spendSettler(), owners: objectOwners() })).toEqual({ landed: 1, waiting: 0, rejected: 0 });
  expect(await readItem(refs.settlement(requestId))).toMatchObject({ state: 'settled' });
  const spent = await spendNanos(refs.key(record.token));
  expect(spent).toBeGreaterThan(0);
  // A replay again (or the attempt left going when the journal took it) changes nothing.
  expect(await journal.replay({ settler: spendSettler(), owners: objectOwners() })).toEqual({ landed: 0, waiting: 0, rejected: 0 });
  expect(await spendNanos(refs.key(record.token))).toBe(spent);
}, 60_000);
