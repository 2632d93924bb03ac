/**
 * The IAM allowlists of infra/constructs/access.ts, held against real writes (found by review:
 * UpdateItem was granted on the whole table, so the internet-facing llm function could rewrite a
 * model's upstream, a user's role or a key alias). A wrong allowlist fails silently in production
 * (AccessDenied: every settlement to the retry queue), so this records the partition key of every
 * write each function sends while its representative flows run (every UpdateItem, PutItem,
 * DeleteItem, BatchWriteItem request and every TransactWriteItems element, through the document
 * client or the low-level one) and judges each as IAM would, against the statements the
 * synthesized template gives that function's role: `ForAllValues:StringLike` on
 * `dynamodb:LeadingKeys`, `*` a wildcard. Each UpdateItem and DeleteItem pattern must also be
 * needed by some write: the flows reach every partition the allowlists name, so a pattern dropped
 * from an allowlist fails the first test, and one no flow needs fails the second.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, NumberValue, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { handler as keys } from '../../../functions/keys/handler.js';
import { handler as settlementReplay } from '../../../functions/settlement-replay/handler.js';
import { handler as sweeper } from '../../../functions/spend-sweeper/handler.js';
import { handler as users } from '../../../functions/users/handler.js';
import { MOCK_UPSTREAM_KEY, mockLocalSecrets, mockModels } from '../../../infra/local/mock-models.js';
import { type MockUpstream, startMockUpstream } from '../../../infra/local/mock-upstream.js';
import { adminStore, configureApp, documentClient, spendSettler, tableStreamConsumers } from '../../../lib/app/index.js';
import { nanosToDecimal } from '../../../lib/domain/cost.js';
import type { ObjectOwner } from '../../../lib/domain/tenancy.js';
import { StoreUnavailableError } from '../../../lib/errors.js';
import { llmDeps } from '../../../lib/llm/deps.js';
import { billDuePending } from '../../../lib/llm/pending.js';
import { tableName } from '../../../lib/store/client.js';
import { encode } from '../../../lib/store/codec.js';
import { refs } from '../../../lib/store/keys.js';
import { DynamoObjectOwners } from '../../../lib/store/objects.js';
import { journalRecord, ownersRecord, type SettlementJournal } from '../../../lib/store/settlement-journal.js';
import { DynamoSettler, type Settlement } from '../../../lib/store/spend-ledger.js';
import { KEY_COPY_SETTLE_AFTER_MS } from '../../../lib/store/sweep.js';
import { actionsOf, resourcesOf, type Statement, statementsOf, synth } from '../../infra/template.js';
import { callApi } from '../../support/admin.js';
import { bearer } from '../../support/authorizer.js';
import { put, seedEndUser, seedKey, seedOrg, seedTeam, seedUser } from '../../support/seed.js';
import { drainOnce } from '../../support/stream.js';
import { reconfigure, type TestTable, useTestTable } from '../../support/table.js';
import { call, chat, seedModels } from '../llm/harness.js';

type Fn = 'llm' | 'settlement-replay' | 'table-stream' | 'spend-sweeper';
const FUNCTIONS: readonly Fn[] = ['llm', 'settlement-replay', 'table-stream', 'spend-sweeper'];

/** One write as IAM authorizes it: the action and the item's partition key. */
interface Write {
  action: string;
  pk: string;
}

/** Which function's code is running (its flows run inside `as`); seeding runs outside any. */
const running = new AsyncLocalStorage<Fn>();
const as = <T>(fn: Fn, work: () => Promise<T>): Promise<T> => running.run(fn, work);
const written = new Map<Fn, Write[]>(FUNCTIONS.map((fn) => [fn, []]));

/** A key's partition key, from a document (plain) or a low-level (AttributeValue) item. */
const pkOf = (key: unknown): string => {
  const pk = (key as { PK?: unknown } | undefined)?.PK;
  if (typeof pk === 'string') return pk;
  if (pk && typeof pk === 'object' && typeof (pk as { S?: unknown }).S === 'string') return (pk as { S: string }).S;
  return `<no PK: ${JSON.stringify(key)}>`;
};

/** Reads, and the local stream poller's look at the table (in AWS the event source mapping reads the stream, not the function). */
const READS = new Set([
  'GetCommand',
  'GetItemCommand',
  'BatchGetCommand',
  'BatchGetItemCommand',
  'QueryCommand',
  'TransactGetCommand',
  'DescribeTableCommand',
]);

/** The writes a command makes, as IAM sees them (a transaction's parts each as its own action). */
function writesOf(command: { constructor: { name: string }; input?: any }): Write[] {
  const name = command.constructor.name;
  const input = command.input ?? {};
  if (READS.has(name)) return [];
  switch (name.replace(/Item(s?)Command$/, '$1Command')) {
    case 'PutCommand':
      return [{ action: 'dynamodb:PutItem', pk: pkOf(input.Item) }];
    case 'UpdateCommand':
      return [{ action: 'dynamodb:UpdateItem', pk: pkOf(input.Key) }];
    case 'DeleteCommand':
      return [{ action: 'dynamodb:DeleteItem', pk: pkOf(input.Key) }];
    case 'TransactWritesCommand':
    case 'TransactWriteCommand':
      return (input.TransactItems ?? []).map((t: any) =>
        t.Put
          ? { action: 'dynamodb:PutItem', pk: pkOf(t.Put.Item) }
          : t.Update
            ? { action: 'dynamodb:UpdateItem', pk: pkOf(t.Update.Key) }
            : t.Delete
              ? { action: 'dynamodb:DeleteItem', pk: pkOf(t.Delete.Key) }
              : { action: 'dynamodb:ConditionCheckItem', pk: pkOf(t.ConditionCheck?.Key) },
      );
    case 'BatchWriteCommand':
      return Object.values(input.RequestItems ?? {}).flatMap((requests) =>
        (requests as any[]).map((r) => ({ action: 'dynamodb:BatchWriteItem', pk: pkOf(r.PutRequest?.Item ?? r.DeleteRequest?.Key) })),
      );
    default:
      // Anything else (PartiQL, a table change): no statement grants it, so it fails below.
      return [{ action: `unrecognized:${name}`, pk: '' }];
  }
}

/** Records the writes of every client, document and low-level alike, built now or later (the wiring rebuilds them). */
function recordWrites(): void {
  for (const proto of [DynamoDBDocumentClient.prototype, DynamoDBClient.prototype] as { send: (...a: unknown[]) => unknown }[]) {
    const send = proto.send;
    vi.spyOn(proto, 'send').mockImplementation(function (this: unknown, ...args: unknown[]) {
      const fn = running.getStore();
      if (fn) written.get(fn)?.push(...writesOf(args[0] as never));
      return send.apply(this, args);
    });
  }
}

// ---------------------------------------------------------------------------------------------
// What the template allows.

const template = synth();
const tableRef = JSON.stringify({
  'Fn::GetAtt': [template.stack.getLogicalId(template.stack.table.table.node.defaultChild as never), 'Arn'],
});

/** The LeadingKeys patterns a statement is limited to; `["*"]` (any key) when unconditioned. */
function patternsOf(st: Statement): string[] {
  if (!st.Condition) return ['*'];
  const keys = (st.Condition as Record<string, Record<string, string[]>>)['ForAllValues:StringLike']?.['dynamodb:LeadingKeys'];
  if (!keys || Object.keys(st.Condition).length !== 1)
    throw new Error(`a condition this test cannot judge: ${JSON.stringify(st.Condition)}`);
  return keys;
}

/** Every (action, pattern) a function's role is granted on the base table. */
function grantsOf(fn: Fn): { action: string; pattern: string }[] {
  return statementsOf(template, fn)
    .filter((st) => st.Effect === 'Allow' && resourcesOf(st).some((r) => JSON.stringify(r) === tableRef))
    .flatMap((st) => actionsOf(st).flatMap((action) => patternsOf(st).map((pattern) => ({ action, pattern }))));
}

/** IAM's StringLike: `*` any run of characters, `?` one; everything else literal. */
const like = (pattern: string, value: string): boolean =>
  new RegExp(
    `^${pattern
      .replace(/[.+^${}()|[\]\\]/g, '\\$&')
      .replace(/\*/g, '.*')
      .replace(/\?/g, '.')}$`,
    's',
  ).test(value);

const allowed = (grants: readonly { action: string; pattern: string }[], w: Write): boolean =>
  grants.some((g) => g.action === w.action && like(g.pattern, w.pk));

const distinct = (ws: readonly Write[]): Write[] => [...new Map(ws.map((w) => [`${w.action} ${w.pk}`, w])).values()];

// ---------------------------------------------------------------------------------------------
// The flows.

let mock: MockUpstream;
let table: TestTable;
const ENV = () => ({
  TOLLGATE_LOCAL_SECRETS: JSON.stringify(mockLocalSecrets()),
  // The proxy's own counters (`GLOBAL`) move too.
  TOLLGATE_MAX_BUDGET: '1000',
  TOLLGATE_BUDGET_DURATION: '1mo',
});
let teamKey: string;
let strictKey: string;
let limitedKey: string;
let personalKey: string;

/** Journal records the llm function kept (settlements and owner records the store refused), for the replay. */
const kept: string[] = [];
const capturingJournal: SettlementJournal = {
  keep: async (s: Settlement) => {
    kept.push(journalRecord(s));
  },
  keepOwners: async (owners: readonly ObjectOwner[]) => {
    kept.push(ownersRecord(owners));
  },
};

/** `work` with the settler (or the owner store's writes) refusing, as DynamoDB does in an outage: what it could not write is journaled. */
async function refused<T>(what: 'settle' | 'owners', work: () => Promise<T>): Promise<T> {
  const spies =
    what === 'settle'
      ? [vi.spyOn(DynamoSettler.prototype, 'settle').mockRejectedValue(new StoreUnavailableError())]
      : [
          vi.spyOn(DynamoObjectOwners.prototype, 'put').mockRejectedValue(new StoreUnavailableError()),
          vi.spyOn(DynamoObjectOwners.prototype, 'putNew').mockRejectedValue(new StoreUnavailableError()),
        ];
  try {
    return await work();
  } finally {
    for (const s of spies) s.mockRestore();
  }
}

async function replayKept(): Promise<void> {
  const records = kept.splice(0);
  expect(records.length).toBeGreaterThan(0);
  const out = await as('settlement-replay', () =>
    settlementReplay({ Records: records.map((body, i) => ({ messageId: `m-${i}`, body })) } as never, {} as never),
  );
  expect(out).toEqual({ batchItemFailures: [] });
}

const llm = (key: string, body: unknown, path = '/v1/chat/completions', method = 'POST') =>
  as('llm', () => call({ method, path, headers: bearer(key), body }));

/** Every flow of the llm function that writes, in the counters layout configured. */
async function llmFlows(layout: string): Promise<void> {
  // A priced chat, with an end user seen first in its `user` field, and a stream.
  expect((await llm(teamKey, chat('gpt-4o', 'hello', { user: `eu-new-${layout}` }))).status).toBe(200);
  expect((await llm(teamKey, chat('gpt-4o-mini', 'a stream', { stream: true }))).status).toBe(200);
  // A personal key (no team): its user's counters move.
  expect((await llm(personalKey, chat('gpt-4o', 'mine'))).status).toBe(200);
  // Strict: reserved then settled, on an end user following a reusable budget (its BUDGET# checked).
  expect((await llm(strictKey, chat('gpt-4o-mini', 'strictly', { user: 'eu-follows', max_tokens: 20 }))).status).toBe(200);
  // Rate limits: windows and a parallel lease counted, then released.
  expect((await llm(limitedKey, chat('gpt-4o-mini', 'limited'))).status).toBe(200);
  // A key whose budget the call crosses (one per layout: it refuses calls after): the table stream's alerts claim their markers.
  const alertKey = (await seedKey({ team_id: 't-iam', max_budget: 0.000_001 })).key;
  expect((await llm(alertKey, chat('gpt-4o', 'over budget'))).status).toBe(200);
  // A background response: its owner record, then its read bills it (the claim), then its deletion.
  const made = await llm(teamKey, { model: 'gpt-4o-mini', input: 'later', background: true }, '/v1/responses');
  expect(made.json.status).toBe('queued');
  expect((await llm(teamKey, undefined, `/v1/responses/${made.json.id}`, 'GET')).status).toBe(200);
  expect((await llm(teamKey, undefined, `/v1/responses/${made.json.id}`, 'DELETE')).status).toBe(200);
  // One nobody reads: the schedule's sweep of pending objects bills it (the llm function answers that event).
  const unread = await llm(teamKey, { model: 'gpt-4o-mini', input: 'unread', background: true }, '/v1/responses');
  expect(unread.json.status).toBe('queued');
  await as('llm', () => billDuePending(llmDeps(), { now: Date.now() + 120 * 60_000 }));
  // The store refusing: a fast and a strict settlement, and an owner record, kept for the replay.
  await refused('settle', async () => {
    expect((await llm(teamKey, chat('gpt-4o', 'kept', { user: 'eu-follows' }))).status).toBe(200);
    expect((await llm(personalKey, chat('gpt-4o', 'kept mine'))).status).toBe(200);
    expect((await llm(strictKey, chat('gpt-4o-mini', 'kept strictly', { user: 'eu-follows', max_tokens: 20 }))).status).toBe(200);
  });
  await refused('owners', async () => {
    const r = await llm(teamKey, { model: 'gpt-4o-mini', input: 'owner kept', background: true }, '/v1/responses');
    expect(r.status).toBe(200);
  });
}

/** A key regenerated by an instance that died before settling its copy (test/integration/admin/key-regenerate-in-flight). */
async function regenerationLeavingCopy(): Promise<void> {
  const made = await callApi(keys, 'POST', '/key/generate', { user_id: 'alice' });
  const store = adminStore();
  configureApp({ adminStore: Object.assign(Object.create(store) as typeof store, { settleKeyCopy: async () => true }) });
  const regen = await callApi(keys, 'POST', '/key/regenerate', { key: made.body.key });
  configureApp({ adminStore: undefined });
  expect(regen.status).toBe(200);
  await documentClient().send(
    new UpdateCommand({
      TableName: tableName(),
      Key: refs.key(made.body.token_id as string),
      UpdateExpression: 'ADD spend :c, committed :c SET GSI1SK = :at',
      ExpressionAttributeValues: {
        ':c': NumberValue.from(nanosToDecimal(1000)),
        ':at': new Date(Date.now() - 2 * KEY_COPY_SETTLE_AFTER_MS).toISOString(),
      },
    }),
  );
}

beforeAll(async () => {
  mock = await startMockUpstream({ apiKey: MOCK_UPSTREAM_KEY });
  // As deployed by default: counters added by the table stream (lib/config's own default is `transaction`).
  table = await useTestTable({ ...ENV(), TOLLGATE_SPEND_COUNTERS: 'stream' }, { stream: true });
  await seedModels(mockModels(mock.url));
  recordWrites();
  configureApp({ settlementJournal: capturingJournal });

  await seedOrg({ organization_id: 'o-iam', max_budget: 100 });
  await seedTeam({ team_id: 't-iam', organization_id: 'o-iam', max_budget: 100, budget_duration: '1d' });
  await seedTeam({ team_id: 't-strict', max_budget: 100, enforcement: 'strict' });
  await seedUser({ user_id: 'u-iam', max_budget: 100 });
  await put(encode.budget({ budget_id: 'b-reused', max_budget: 50, created_at: new Date().toISOString() }));
  await seedEndUser({ user_id: 'eu-follows', budget_id: 'b-reused' });
  teamKey = (await seedKey({ team_id: 't-iam', user_id: 'u-iam', max_budget: 100 })).key;
  strictKey = (await seedKey({ team_id: 't-strict', max_budget: 100 })).key;
  personalKey = (await seedKey({ user_id: 'u-iam' })).key;
  limitedKey = (await seedKey({ rpm_limit: 100, tpm_limit: 1_000_000, max_parallel_requests: 5 })).key;

  // The llm function in both counter layouts, the replay of what each kept.
  await llmFlows('stream');
  await replayKept();
  reconfigure(table.config, { ...ENV(), TOLLGATE_SPEND_COUNTERS: 'transaction' });
  configureApp({ settlementJournal: capturingJournal });
  await llmFlows('transaction');
  await replayKept();

  // The table stream: ledger records into counters, spend-log index, rollups, alerts.
  await as('table-stream', () => drainOnce(table, tableStreamConsumers()));

  // The sweeper: an expired reservation, ended windows to tidy (a run cut short saves its cursor), a key copy left.
  await callApi(users, 'POST', '/user/new', { user_id: 'alice', auto_create_key: false });
  await regenerationLeavingCopy();
  await spendSettler().reserve({
    requestId: 'iam-expired',
    at: Date.now() - 3_600_000,
    estimateNanos: 1000,
    model: 'gpt-4o',
    expiresAt: Date.now() - 60_000,
    targets: [
      {
        entity: 'team',
        id: 't-iam',
        ref: refs.team('t-iam'),
        budget: { maxNanos: 100e9, elsewhereNanos: 0, expect: {} },
      },
    ],
  });
  const ended = { 'ws#1d@2020-01-01T00:00:00.000Z': 1, 'wc#1d@2020-01-01T00:00:00.000Z': 1 };
  for (const ref of [refs.globalSpend(), refs.team('t-iam'), refs.org('o-iam'), refs.user('u-iam'), refs.endUser('eu-follows')])
    await documentClient().send(
      new UpdateCommand({
        TableName: tableName(),
        Key: ref,
        UpdateExpression: 'SET #a = :v, #b = :v',
        ExpressionAttributeNames: { '#a': Object.keys(ended)[0] as string, '#b': Object.keys(ended)[1] as string },
        ExpressionAttributeValues: { ':v': 1 },
      }),
    );
  const full = await as('spend-sweeper', () => sweeper({}, {} as never));
  expect(full).toMatchObject({ released: 1, keyCopies: { settled: 1 }, tidy: { complete: true } });
  expect(full.tidy.removed).toBeGreaterThan(0);
  // A run cut short saves where it stopped; the next one goes on from there and starts the next pass afresh.
  const cutShort = { getRemainingTimeInMillis: () => 30_000 };
  expect(await as('spend-sweeper', () => sweeper({}, cutShort as never))).toMatchObject({ tidy: { complete: false } });
  expect(await as('spend-sweeper', () => sweeper({}, {} as never))).toMatchObject({ tidy: { complete: true } });
}, 240_000);

afterAll(async () => {
  vi.restoreAllMocks();
  configureApp({ settlementJournal: undefined });
  await mock?.close();
});

describe.each(FUNCTIONS)('the %s function', (fn) => {
  const grants = grantsOf(fn);

  it('is allowed every write it made (as IAM judges its LeadingKeys)', () => {
    const writes = distinct(written.get(fn) ?? []);
    expect(writes.length).toBeGreaterThan(0);
    expect(writes.filter((w) => !allowed(grants, w))).toEqual([]);
  });

  it('needs every partition its UpdateItem and DeleteItem grants name: without any one, some write it made is refused', () => {
    const writes = distinct(written.get(fn) ?? []);
    const limited = grants.filter((g) => ['dynamodb:UpdateItem', 'dynamodb:DeleteItem'].includes(g.action));
    const unneeded = limited.filter((g) =>
      writes.every((w) =>
        allowed(
          grants.filter((x) => x !== g),
          w,
        ),
      ),
    );
    expect(unneeded).toEqual([]);
  });
});

describe('the judge itself', () => {
  it('matches as StringLike does: a wildcard prefix, an exact key, nothing looser', () => {
    expect(like('KEY#*', 'KEY#abc')).toBe(true);
    expect(like('KEY#*', 'KEY_ALIAS#abc')).toBe(false);
    expect(like('GLOBAL', 'GLOBAL')).toBe(true);
    expect(like('GLOBAL', 'GLOBAL#x')).toBe(false);
    expect(like('SPENDROLL#*', 'SPENDROLLED#r')).toBe(false);
    expect(like('RATE#*', 'RATE#key#a?b*c')).toBe(true);
  });

  it('an admin item written by the llm function would be refused', () => {
    const grants = grantsOf('llm');
    for (const ref of [refs.model('gpt-4o'), refs.modelAlias('a'), refs.keyAlias('a'), refs.budget('b'), refs.readiness()])
      expect({ pk: ref.PK, update: allowed(grants, { action: 'dynamodb:UpdateItem', pk: ref.PK }) }).toEqual({ pk: ref.PK, update: false });
  });
});
