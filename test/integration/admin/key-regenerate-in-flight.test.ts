/**
 * A call in flight when its key is regenerated (found by review): it was admitted under the old
 * key and settles after `/key/regenerate` copied the old key's spend into the new one. Without a
 * grace period the old item was gone and the settlement skipped the key; with one it landed on
 * the old copy, which nothing reads. Either way the new key, which carries the key's budget,
 * missed the call, and in strict mode its committed counter kept the call's reservation for good.
 * Its key-level spend now lands on the new key, once, whether settled at once or replayed.
 * Through the authorizer and the llm function against the mock upstream, the settlement held
 * until the key is regenerated.
 */
import { DeleteCommand, GetCommand, NumberValue, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { handler as keys } from '../../../functions/keys/handler.js';
import { handler as sweeper } from '../../../functions/spend-sweeper/handler.js';
import { handler as users } from '../../../functions/users/handler.js';
import { MOCK_UPSTREAM_KEY, mockLocalSecrets, mockModels } from '../../../infra/local/mock-models.js';
import { type MockUpstream, startMockUpstream } from '../../../infra/local/mock-upstream.js';
import { settleKeyCopy } from '../../../lib/admin/persistence.js';
import { adminStore, configureApp, documentClient, spendSettler } from '../../../lib/app/index.js';
import { costNanos, nanosToDecimal } from '../../../lib/domain/cost.js';
import type { ModelRecord } from '../../../lib/domain/records.js';
import { tableName } from '../../../lib/store/client.js';
import { applyLedger, packMoves, unpackMoves } from '../../../lib/store/counter-ledger.js';
import { TOMBSTONE_TTL_SECONDS } from '../../../lib/store/key-copy.js';
import { type ItemRef, refs } from '../../../lib/store/keys.js';
import { journalRecord, replaySettlement } from '../../../lib/store/settlement-journal.js';
import type { Settlement, SpendSettler, SpendTarget } from '../../../lib/store/spend-ledger.js';
import { KEY_COPY_SETTLE_AFTER_MS, releaseExpiredReservations, runSweep } from '../../../lib/store/sweep.js';
import { callApi, userCtx } from '../../support/admin.js';
import { bearer } from '../../support/authorizer.js';
import { countersOf, settleWithoutPause } from '../../support/spend.js';
import { useTestTable } from '../../support/table.js';
import { call, chat, seedModels } from '../llm/harness.js';

let mock: MockUpstream;
let gpt4o: ModelRecord;

beforeAll(async () => {
  mock = await startMockUpstream({ apiKey: MOCK_UPSTREAM_KEY });
  await useTestTable({ TOLLGATE_LOCAL_SECRETS: JSON.stringify(mockLocalSecrets()) });
  const models = mockModels(mock.url);
  gpt4o = models.find((m) => m.model_name === 'gpt-4o') as ModelRecord;
  await seedModels(models);
  await callApi(users, 'POST', '/user/new', { user_id: 'alice', auto_create_key: false });
});
afterEach(() => {
  configureApp({ spendSettler: undefined });
});
afterAll(async () => {
  await mock.close();
});

const BODY = chat('gpt-4o', Array.from({ length: 40 }, (_, i) => `w${i % 10}`).join(' '), { max_tokens: 40 });
const COST = () => costNanos({ inputTokens: 40, outputTokens: 40 }, gpt4o);
const dollars = (nanos: number) => Number(nanosToDecimal(nanos));

/** The real settler behind a gate: the call's settlement waits until `open()`, or is handed to `instead`. */
function heldSettler(instead?: (s: Settlement) => Promise<void>) {
  configureApp({ spendSettler: undefined });
  const real = spendSettler();
  let open!: () => void;
  const gate = new Promise<void>((r) => (open = r));
  let started!: () => void;
  const waiting = new Promise<void>((r) => (started = r));
  const settler: SpendSettler = {
    settle: async (s) => {
      started();
      await gate;
      if (instead) {
        await instead(s);
        return { status: 'settled', moved: [], skipped: [] };
      }
      return real.settle(s);
    },
    reserve: (r) => real.reserve(r),
  };
  configureApp({ spendSettler: settler });
  return { open, waiting, real };
}

/** `/key/regenerate` of `key` by its owner, with a grace period if given. */
const regenerate = (key: string, grace?: string) =>
  callApi(keys, 'POST', '/key/regenerate', { key, ...(grace ? { grace_period: grace } : {}) }, userCtx('alice'));

/** The key the last `/key/regenerate` made (its token). */
let regenerated = '';

/** One call with the old key, its settlement held while the key is regenerated; the new key's token. */
async function callAcrossRegenerate(opts: {
  enforcement?: 'strict';
  grace?: string;
  instead?: (s: Settlement, real: SpendSettler) => Promise<void>;
}): Promise<{ token: string; oldToken: string }> {
  const made = await callApi(keys, 'POST', '/key/generate', {
    user_id: 'alice',
    max_budget: dollars(10 * COST()),
    ...(opts.enforcement ? { enforcement: opts.enforcement } : {}),
  });
  expect(made.status).toBe(200);
  let real: SpendSettler | undefined;
  const held = heldSettler(opts.instead && ((s) => (opts.instead as NonNullable<typeof opts.instead>)(s, real as SpendSettler)));
  real = held.real;
  const pending = call({ path: '/v1/chat/completions', headers: bearer(made.body.key), body: BODY });
  await held.waiting;
  const regen = await regenerate(made.body.key, opts.grace);
  expect(regen.status).toBe(200);
  regenerated = regen.body.token_id as string;
  held.open();
  expect((await pending).status).toBe(200);
  return { token: regen.body.token_id as string, oldToken: made.body.token_id as string };
}

/** The new key: spend is the call's cost, and nothing stays reserved on it. */
async function expectCharged(token: string) {
  const info = (await callApi(keys, 'GET', '/key/info', { key: token })).body.info;
  expect(Number(info.spend)).toBeCloseTo(dollars(COST()), 9);
  const counters = await countersOf(refs.key(token));
  expect(counters).toEqual({ spend: COST(), committed: COST() });
}

describe('a call in flight across /key/regenerate is charged to the new key', () => {
  it('fast, no grace period', async () => {
    const { token } = await callAcrossRegenerate({});
    await expectCharged(token);
  });

  it('strict, no grace period: the reservation copied with the key is settled on the new key, not left held', async () => {
    const { token } = await callAcrossRegenerate({ enforcement: 'strict' });
    await expectCharged(token);
  });

  it('fast, with a grace period: not on the old copy, which nothing reads', async () => {
    const { token, oldToken } = await callAcrossRegenerate({ grace: '1h' });
    await expectCharged(token);
    expect((await countersOf(refs.key(oldToken))).spend).toBe(0);
  });

  it('strict, with a grace period', async () => {
    const { token, oldToken } = await callAcrossRegenerate({ enforcement: 'strict', grace: '1h' });
    await expectCharged(token);
    expect((await countersOf(refs.key(oldToken))).spend).toBe(0);
  });

  it('with a grace period that ended before it settles, the old item removed by the table TTL: the successor record names the new key', async () => {
    const { token } = await callAcrossRegenerate({
      grace: '1s',
      instead: async (s, real) => {
        // DynamoDB Local does not emulate TTL: the old copy is removed as the table's TTL would.
        const oldRef = s.targets.find((t) => t.entity === 'key')?.ref as ItemRef;
        await documentClient().send(new DeleteCommand({ TableName: tableName(), Key: oldRef }));
        await real.settle(s);
      },
    });
    await expectCharged(token);
  });

  it('regenerated twice before it settles: the newest key', async () => {
    let second: string | undefined;
    const { token } = await callAcrossRegenerate({
      instead: async (s, real) => {
        const again = await callApi(keys, 'POST', '/key/regenerate', { key: regenerated }, userCtx('alice'));
        second = again.body.token_id as string;
        await real.settle(s);
      },
    });
    expect(second).toBeDefined();
    await expectCharged(second as string);
    expect((await callApi(keys, 'GET', '/key/info', { key: token })).status).toBe(404);
  });
});

describe('a kept settlement of the old key, replayed after /key/regenerate', () => {
  it('fast and strict: lands on the new key, once', async () => {
    for (const enforcement of [undefined, 'strict'] as const) {
      let kept: Settlement | undefined;
      let replayer: SpendSettler | undefined;
      const { token } = await callAcrossRegenerate({
        ...(enforcement ? { enforcement } : {}),
        // Kept as the journal keeps it (JSON), as if DynamoDB had refused it.
        instead: async (s, real) => {
          kept = JSON.parse(JSON.stringify(s)) as Settlement;
          replayer = real;
        },
      });
      const text = journalRecord(kept as Settlement);
      expect((await replaySettlement(replayer as SpendSettler, text)).status).toBe('settled');
      expect((await replaySettlement(replayer as SpendSettler, text)).status).toBe('duplicate');
      await expectCharged(token);
    }
  });
});

/** A strict key target on the key `token`, as a request that read it with this budget holds it. */
const keyTarget = (token: string, maxNanos: number): SpendTarget => ({
  entity: 'key',
  id: token,
  ref: refs.key(token),
  budget: { maxNanos, elsewhereNanos: 0, expect: { max_budget: dollars(maxNanos) } },
});

describe('a strict reservation on the old key', () => {
  it('whose settlement never comes: the sweeper releases it on the new key, which holds it now', async () => {
    const max = 10 * COST();
    const made = await callApi(keys, 'POST', '/key/generate', { user_id: 'alice', max_budget: dollars(max), enforcement: 'strict' });
    const now = Date.now();
    const reserved = await spendSettler().reserve({
      requestId: `dead-${made.body.token_id}`,
      at: now,
      estimateNanos: COST(),
      model: 'gpt-4o',
      targets: [keyTarget(made.body.token_id, max)],
      expiresAt: now + 1000,
    });
    expect(reserved.status).toBe('reserved');
    const regen = await callApi(keys, 'POST', '/key/regenerate', { key: made.body.key }, userCtx('alice'));
    // The new key starts with what the old one had committed: the reservation.
    expect(await countersOf(refs.key(regen.body.token_id))).toEqual({ spend: 0, committed: COST() });
    expect((await releaseExpiredReservations(documentClient(), tableName(), now + 2000)).released).toBe(1);
    expect(await countersOf(refs.key(regen.body.token_id))).toEqual({ spend: 0, committed: 0 });
  });

  it('made by an instance that has not seen the regeneration, on a copy in its grace period: read again, never held there', async () => {
    const max = 10 * COST();
    const made = await callApi(keys, 'POST', '/key/generate', { user_id: 'alice', max_budget: dollars(max), enforcement: 'strict' });
    await callApi(keys, 'POST', '/key/regenerate', { key: made.body.key, grace_period: '1h' }, userCtx('alice'));
    const now = Date.now();
    const outcome = await spendSettler().reserve({
      requestId: `stale-${made.body.token_id}`,
      at: now,
      estimateNanos: COST(),
      model: 'gpt-4o',
      targets: [keyTarget(made.body.token_id, max)],
      expiresAt: now + 60_000,
    });
    expect(outcome.status).toBe('stale');
  });
});

describe('counters from the stream (TOLLGATE_SPEND_COUNTERS=stream): a record written before /key/regenerate, added after', () => {
  it.each([
    ['no grace period', undefined],
    ['a grace period', '1h'],
  ])('with %s: added to the new key, once', async (_, grace) => {
    const made = await callApi(keys, 'POST', '/key/generate', { user_id: 'alice', max_budget: dollars(10 * COST()) });
    // The moves a fast settlement of the old key keeps on its record, as the stream consumer reads them back.
    const moves = unpackMoves(
      packMoves([{ ref: refs.key(made.body.token_id), spendNanos: COST(), committedNanos: COST(), mustExist: true }]),
    );
    const record = { requestId: `stream-${made.body.token_id}`, moves };
    const regen = await regenerate(made.body.key, grace);
    const applied = await applyLedger(documentClient(), tableName(), [record], { markerTtlSeconds: 3600 });
    expect(applied).toMatchObject({ applied: 1, skipped: [] });
    expect(await countersOf(refs.key(regen.body.token_id))).toEqual({ spend: COST(), committed: COST() });
    expect((await countersOf(refs.key(made.body.token_id))).spend).toBe(0);
    // Delivered again: counted once.
    expect(await applyLedger(documentClient(), tableName(), [record], { markerTtlSeconds: 3600 })).toMatchObject({ duplicates: 1 });
    expect(await countersOf(refs.key(regen.body.token_id))).toEqual({ spend: COST(), committed: COST() });
  });
});

describe('settlements landing while /key/regenerate copies the key', () => {
  it('none is lost between the copy and the write: every one is in the new key, once', async () => {
    const made = await callApi(keys, 'POST', '/key/generate', { user_id: 'alice' });
    const token = made.body.token_id as string;
    const settler = spendSettler();
    const N = 120;
    // One settlement of the old key a millisecond, around the regeneration.
    const settlements = Array.from({ length: N }, async (_, i) => {
      await new Promise((r) => setTimeout(r, i));
      await settler.settle({
        requestId: `race-${token}-${i}`,
        at: Date.now(),
        costNanos: COST(),
        model: 'gpt-4o',
        targets: [{ entity: 'key', id: token, ref: refs.key(token) }],
      });
    });
    await new Promise((r) => setTimeout(r, N / 3));
    // A 409 concurrent_update says retry, as a client would.
    let regen = await callApi(keys, 'POST', '/key/regenerate', { key: made.body.key }, userCtx('alice'));
    for (let i = 0; regen.status === 409 && i < 50; i++)
      regen = await callApi(keys, 'POST', '/key/regenerate', { key: made.body.key }, userCtx('alice'));
    await Promise.all(settlements);
    expect(regen.status).toBe(200);
    const newToken = (regen.body as { token_id: string }).token_id;
    expect((await countersOf(refs.key(newToken))).spend).toBe(N * COST());
  });
});

describe('/key/regenerate of a hot key: settlements never pause, the rotation still succeeds', () => {
  for (const grace of [undefined, '1h']) {
    it(`${grace ? 'with' : 'without'} a grace period: 200 at the first attempt, and the new key holds every settlement exactly once`, async () => {
      const made = await callApi(keys, 'POST', '/key/generate', { user_id: 'alice' });
      const token = made.body.token_id as string;
      const hot = settleWithoutPause(token, COST());
      await new Promise((r) => setTimeout(r, 50));
      const regen = await regenerate(made.body.key, grace);
      await new Promise((r) => setTimeout(r, 50));
      const settled = await hot.stop();
      expect(regen.status).toBe(200);
      const newToken = (regen.body as { token_id: string }).token_id;
      expect(await countersOf(refs.key(newToken))).toEqual({ spend: settled * COST(), committed: settled * COST() });
      // Settled once: settling the copy again changes nothing.
      expect(await settleKeyCopy(token)).toBe(true);
      expect((await countersOf(refs.key(newToken))).spend).toBe(settled * COST());
      const old = await documentClient().send(new GetCommand({ TableName: tableName(), Key: refs.key(token), ConsistentRead: true }));
      if (grace) expect(old.Item?.copied_counters).toBeUndefined();
      else expect(old.Item).toBeUndefined();
    });
  }
});

/**
 * A key regenerated by an instance that dies between its transaction and settling the copy, then
 * a settlement of the old key that landed after the copy was read (written as its move would be;
 * `extra` set beside it).
 */
async function regenerateLeavingCopy(grace?: string, extra?: { set: string; values: Record<string, unknown> }) {
  const made = await callApi(keys, 'POST', '/key/generate', { user_id: 'alice' });
  const token = made.body.token_id as string;
  const store = adminStore();
  configureApp({ adminStore: Object.assign(Object.create(store) as typeof store, { settleKeyCopy: async () => true }) });
  const regen = await regenerate(made.body.key, grace);
  configureApp({ adminStore: undefined });
  expect(regen.status).toBe(200);
  await documentClient().send(
    new UpdateCommand({
      TableName: tableName(),
      Key: refs.key(token),
      UpdateExpression: `ADD spend :c, committed :c${extra ? ` SET ${extra.set}` : ''}`,
      ExpressionAttributeValues: { ':c': NumberValue.from(nanosToDecimal(COST())), ...extra?.values },
    }),
  );
  return { oldKey: made.body.key as string, token, newKey: regen.body.key as string, newToken: regen.body.token_id as string };
}

describe('a regeneration without a grace period that dies before it settles the copy', () => {
  it('leaves a tombstone the authorizer denies, no listing shows and the TTL removes within a day; settling it later is exact', async () => {
    const { oldKey, token, newToken } = await regenerateLeavingCopy();
    expect((await call({ path: '/v1/chat/completions', headers: bearer(oldKey), body: BODY })).status).toBe(401);
    const listed = await callApi(keys, 'GET', '/key/list', { user_id: 'alice' });
    expect(listed.status).toBe(200);
    expect(listed.body.keys).not.toContain(token);
    const old = await documentClient().send(new GetCommand({ TableName: tableName(), Key: refs.key(token), ConsistentRead: true }));
    expect(old.Item?.ttl).toBeLessThanOrEqual(Math.ceil(Date.now() / 1000) + TOMBSTONE_TTL_SECONDS);
    expect(await settleKeyCopy(token)).toBe(true);
    expect((await countersOf(refs.key(newToken))).spend).toBe(COST());
    expect(await settleKeyCopy(token)).toBe(true);
    expect((await countersOf(refs.key(newToken))).spend).toBe(COST());
  });

  it.each([
    ['without', undefined],
    ['with', '1h'],
  ])('%s a grace period: the spend sweeper settles it, a minute on, once (found in review: its TTL lost what landed)', async (_, grace) => {
    const { token, newToken } = await regenerateLeavingCopy(grace);
    const sweep = (at: number) =>
      runSweep(documentClient(), tableName(), at, { shards: {}, settleKeyCopy: (t, n) => adminStore().settleKeyCopy(t, n) });
    // Within the minute its regeneration may still be settling it: left alone.
    expect((await sweep(Date.now())).keyCopies).toEqual({ settled: 0, failed: 0 });
    // A run past its deadline leaves it for the next.
    const late = await runSweep(documentClient(), tableName(), Date.now() + KEY_COPY_SETTLE_AFTER_MS + 1000, {
      shards: {},
      deadline: Date.now() - 1,
      settleKeyCopy: (t, n) => adminStore().settleKeyCopy(t, n),
    });
    expect(late.keyCopies).toEqual({ settled: 0, failed: 0 });
    expect((await countersOf(refs.key(newToken))).spend).toBe(0);
    expect((await sweep(Date.now() + KEY_COPY_SETTLE_AFTER_MS + 1000)).keyCopies).toEqual({ settled: 1, failed: 0 });
    expect(await countersOf(refs.key(newToken))).toEqual({ spend: COST(), committed: COST() });
    const old = await documentClient().send(new GetCommand({ TableName: tableName(), Key: refs.key(token), ConsistentRead: true }));
    if (grace) expect(old.Item).toMatchObject({ replaced_by: newToken, grace_until: expect.any(String) });
    else expect(old.Item).toBeUndefined();
    expect(old.Item?.copied_counters).toBeUndefined();
    // Settled: no longer listed, and a later run changes nothing.
    expect((await sweep(Date.now() + KEY_COPY_SETTLE_AFTER_MS + 1000)).keyCopies).toEqual({ settled: 0, failed: 0 });
    expect((await countersOf(refs.key(newToken))).spend).toBe(COST());
  });

  it.each([
    ['regenerating the newest key without a grace period', 'regenerate'],
    ['blocking the newest key', 'block'],
  ])('a predecessor whose copy was left, its grace ended by %s: settled before it is deleted (found in review)', async (_, how) => {
    const { token, newKey, newToken } = await regenerateLeavingCopy('1h');
    let holder = newToken;
    if (how === 'regenerate') {
      const third = await callApi(keys, 'POST', '/key/regenerate', { key: newKey }, userCtx('alice'));
      expect(third.status).toBe(200);
      holder = third.body.token_id as string;
    } else {
      expect((await callApi(keys, 'POST', '/key/block', { key: newKey })).status).toBe(200);
    }
    expect(
      await documentClient().send(new GetCommand({ TableName: tableName(), Key: refs.key(token), ConsistentRead: true })),
    ).not.toHaveProperty('Item');
    expect(await countersOf(refs.key(holder))).toEqual({ spend: COST(), committed: COST() });
  });

  it.each([
    ['a copy in its grace period', '1h'],
    ['a tombstone', undefined],
  ])('a replaced key, %s, deleted directly, its copy left: settled first, the delete answers 200 (found in review)', async (_, grace) => {
    const { token, newToken } = await regenerateLeavingCopy(grace);
    expect((await callApi(keys, 'POST', '/key/delete', { keys: [token] })).status).toBe(200);
    expect(await countersOf(refs.key(newToken))).toEqual({ spend: COST(), committed: COST() });
  });

  it('a copy that cannot be settled now: the block is refused (503, retry) and deletes nothing', async () => {
    const made = await callApi(keys, 'POST', '/key/generate', { user_id: 'alice' });
    const store = adminStore();
    const regen = await callApi(keys, 'POST', '/key/regenerate', { key: made.body.key, grace_period: '1h' }, userCtx('alice'));
    configureApp({ adminStore: Object.assign(Object.create(store) as typeof store, { settleKeyCopy: async () => false }) });
    const blocked = await callApi(keys, 'POST', '/key/block', { key: regen.body.key });
    configureApp({ adminStore: undefined });
    expect(blocked.status).toBe(503);
    const old = await documentClient().send(
      new GetCommand({ TableName: tableName(), Key: refs.key(made.body.token_id), ConsistentRead: true }),
    );
    expect(old.Item?.replaced_by).toBe(regen.body.token_id);
  });

  it('the deployed sweeper function settles it on its schedule', async () => {
    const { newToken } = await regenerateLeavingCopy(undefined, {
      set: 'GSI1SK = :at',
      values: { ':at': new Date(Date.now() - 2 * KEY_COPY_SETTLE_AFTER_MS).toISOString() },
    });
    expect(await sweeper({}, {} as never)).toMatchObject({ keyCopies: { settled: 1, failed: 0 } });
    expect(await countersOf(refs.key(newToken))).toEqual({ spend: COST(), committed: COST() });
  });

  it('the new key regenerated again before it is settled: what landed goes to the newest key', async () => {
    const { token, newKey, newToken } = await regenerateLeavingCopy();
    const third = await callApi(keys, 'POST', '/key/regenerate', { key: newKey }, userCtx('alice'));
    expect(third.status).toBe(200);
    expect(await settleKeyCopy(token)).toBe(true);
    expect((await countersOf(refs.key(third.body.token_id))).spend).toBe(COST());
    expect((await countersOf(refs.key(newToken))).spend).toBe(0);
  });
});
