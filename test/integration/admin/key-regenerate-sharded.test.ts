/**
 * A key whose counters are spread over shards (TOLLGATE_SPEND_SHARDS key=32): a fast settlement
 * lands on a random shard `SPEND#<n>`, an item created on first use. Found by review: after
 * `/key/regenerate` only a move on shard 0 (the key item, which asserts it was not replaced)
 * followed the successor; one on shards 1..3 landed on the old key's shard, which nothing reads
 * (the new key missed the call), or re-created a shard of a deleted key. The admin store now
 * retires a replaced or deleted key's shards in the same transaction, and a move on a retired
 * shard follows the successor like one on the key item.
 */
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { handler as keys } from '../../../functions/keys/handler.js';
import { handler as users } from '../../../functions/users/handler.js';
import { settleKeyCopy } from '../../../lib/admin/persistence.js';
import { adminStore, configureApp, spendSettler } from '../../../lib/app/index.js';
import { config } from '../../../lib/config.js';
import { refs } from '../../../lib/store/keys.js';
import type { Settlement } from '../../../lib/store/spend-ledger.js';
import { callApi, userCtx } from '../../support/admin.js';
import { counterItems, countersOf, readItem, settleWithoutPause } from '../../support/spend.js';
import { useTestTable } from '../../support/table.js';

// The most a kind may have: the regeneration's transaction holds a retire per shard.
const SHARDS = 32;
const COST = 1_234_567;

beforeAll(async () => {
  await useTestTable({ TOLLGATE_SPEND_SHARDS: `key=${SHARDS}` });
  await callApi(users, 'POST', '/user/new', { user_id: 'alice', auto_create_key: false });
});
afterEach(() => {
  vi.restoreAllMocks();
  configureApp({ adminStore: undefined });
});

const settlementOf = (token: string, id: string): Settlement => ({
  requestId: id,
  at: Date.now(),
  costNanos: COST,
  model: 'gpt-4o',
  targets: [{ entity: 'key', id: token, ref: refs.key(token) }],
});

/** Settles `s` on the key's shard `shard` (the settler picks a shard with Math.random). */
async function settleOnShard(s: Settlement, shard: number) {
  const random = vi.spyOn(Math, 'random').mockReturnValue((shard + 0.5) / SHARDS);
  try {
    return await spendSettler().settle(s);
  } finally {
    random.mockRestore();
  }
}

async function newKey(): Promise<{ key: string; token: string }> {
  const made = await callApi(keys, 'POST', '/key/generate', { user_id: 'alice' });
  expect(made.status).toBe(200);
  return { key: made.body.key as string, token: made.body.token_id as string };
}

async function regenerate(key: string, grace?: string): Promise<string> {
  const regen = await callApi(keys, 'POST', '/key/regenerate', { key, ...(grace ? { grace_period: grace } : {}) }, userCtx('alice'));
  expect(regen.status).toBe(200);
  return regen.body.token_id as string;
}

/** The old key's other shards: present, retired, kept until at least `atLeast` (seconds) and unchanged since `spend`. */
async function expectRetired(token: string, atLeast: number) {
  for (let n = 1; n < SHARDS; n++) {
    const shard = await readItem({ PK: refs.key(token).PK, SK: `SPEND#${n}` });
    expect(shard?.retired, `shard ${n}`).toBe(true);
    expect(Number(shard?.ttl)).toBeGreaterThanOrEqual(atLeast);
  }
}

describe.each([
  ['no grace period', undefined],
  ['a grace period', '1h'],
])('settlements of the old key on every shard after /key/regenerate, with %s', (_, grace) => {
  it('land on the new key, once each; none on the old shards', async () => {
    const { key, token } = await newKey();
    // Spend on every shard before: copied into the new key.
    for (let n = 0; n < SHARDS; n++) expect((await settleOnShard(settlementOf(token, `before-${token}-${n}`), n)).status).toBe('settled');
    const newToken = await regenerate(key, grace);
    expect(await countersOf(refs.key(newToken))).toEqual({ spend: SHARDS * COST, committed: SHARDS * COST });
    const now = Math.ceil(Date.now() / 1000);
    await expectRetired(token, now + config().settlementTtlSeconds + (grace ? 3600 : 0) - 5);
    for (let n = 0; n < SHARDS; n++) {
      const s = settlementOf(token, `after-${token}-${n}`);
      expect((await settleOnShard(s, n)).status).toBe('settled');
      // Delivered again (a replay): counted once.
      expect((await settleOnShard(s, (n + 1) % SHARDS)).status).toBe('duplicate');
    }
    expect(await countersOf(refs.key(newToken))).toEqual({ spend: 2 * SHARDS * COST, committed: 2 * SHARDS * COST });
    // The new key's counters are on its own item: every late move was redirected there.
    expect(await counterItems(refs.key(newToken))).toHaveLength(1);
    // The old copy (when kept) still shows only what it had when it was copied.
    if (grace) expect((await countersOf(refs.key(token))).spend).toBe(SHARDS * COST);
  });
});

describe('regenerated again and again with a grace period (found in review: predecessors re-retired their shards)', () => {
  /** A key regenerated four times with a grace period: every token, the newest last, and its plaintext. */
  async function chain(): Promise<{ key: string; tokens: string[] }> {
    let { key, token } = await newKey();
    const tokens = [token];
    for (let i = 0; i < 4; i++) {
      const regen = await callApi(keys, 'POST', '/key/regenerate', { key, grace_period: '1h' }, userCtx('alice'));
      expect(regen.status).toBe(200);
      ({ key, token_id: token } = regen.body as { key: string; token_id: string });
      tokens.push(token);
    }
    return { key, tokens };
  }

  it('each regeneration retires only the key it replaces: predecessors in grace fit one transaction', async () => {
    const { tokens } = await chain();
    const newest = tokens.at(-1) as string;
    // A late settlement of the first key, on a shard: it follows the chain to the newest.
    expect((await settleOnShard(settlementOf(tokens[0] as string, `chain-${newest}`), 7)).status).toBe('settled');
    expect(await countersOf(refs.key(newest))).toEqual({ spend: COST, committed: COST });
  });

  it.each([
    ['blocked', '/key/block'],
    ['deleted', '/key/delete'],
    ['regenerated without a grace period', '/key/regenerate'],
  ])("the newest key %s, ending four predecessors' grace: their deletes leave their retired shards (one transaction)", async (_, path) => {
    const { key, tokens } = await chain();
    const body = path === '/key/delete' ? { keys: [tokens.at(-1)] } : { key };
    expect((await callApi(keys, 'POST', path, body, userCtx('alice'))).status).toBe(200);
    for (const t of tokens.slice(0, -1)) {
      expect(await readItem(refs.key(t))).toBeUndefined();
      await expectRetired(t, 0);
    }
  });
});

describe('a hot key over shards, regenerated while it settles without pause', () => {
  it.each([
    ['without', undefined],
    ['with', '1h'],
  ])('%s a grace period: the new key holds every settlement exactly once', async (_, grace) => {
    const { key, token } = await newKey();
    const hot = settleWithoutPause(token, COST);
    await new Promise((r) => setTimeout(r, 50));
    const newToken = await regenerate(key, grace);
    await new Promise((r) => setTimeout(r, 50));
    const settled = await hot.stop();
    expect(settled).toBeGreaterThan(1);
    expect(await countersOf(refs.key(newToken))).toEqual({ spend: settled * COST, committed: settled * COST });
    expect(await settleKeyCopy(token)).toBe(true);
    expect((await countersOf(refs.key(newToken))).spend).toBe(settled * COST);
  });
});

describe('a regeneration that dies before it settles the copy', () => {
  it('the old shards are retired by its own transaction: a later settlement goes to the new key', async () => {
    const { key, token } = await newKey();
    const store = adminStore();
    configureApp({ adminStore: Object.assign(Object.create(store) as typeof store, { settleKeyCopy: async () => true }) });
    const newToken = await regenerate(key);
    configureApp({ adminStore: undefined });
    await expectRetired(token, Math.ceil(Date.now() / 1000) + config().settlementTtlSeconds - 5);
    expect((await settleOnShard(settlementOf(token, `late-${token}`), 2)).status).toBe('settled');
    // On the new key at once, not left for the reconcile to find (it may never come).
    expect(await countersOf(refs.key(newToken))).toEqual({ spend: COST, committed: COST });
    expect(await settleKeyCopy(token)).toBe(true);
    expect(await countersOf(refs.key(newToken))).toEqual({ spend: COST, committed: COST });
    // The tombstone is gone; its retired shards stay until their TTL.
    expect(await readItem(refs.key(token))).toBeUndefined();
    await expectRetired(token, 0);
  });
});

describe('/key/delete of a sharded key', () => {
  it('a late settlement on any shard is dropped, not kept on a re-created shard', async () => {
    const { token } = await newKey();
    expect((await settleOnShard(settlementOf(token, `pre-${token}`), 3)).status).toBe('settled');
    const deleted = await callApi(keys, 'POST', '/key/delete', { keys: [token] });
    expect(deleted.status).toBe(200);
    await expectRetired(token, Math.ceil(Date.now() / 1000) + config().settlementTtlSeconds - 5);
    for (let n = 0; n < SHARDS; n++) {
      const outcome = await settleOnShard(settlementOf(token, `gone-${token}-${n}`), n);
      expect(outcome).toMatchObject({ status: 'settled', moved: [], skipped: [{ entity: 'key', id: token }] });
    }
    // Nothing moved after the delete: the shard that had spend keeps it, the others have none.
    const items = await counterItems(refs.key(token));
    const expected = Array.from({ length: SHARDS - 1 }, (_, n) => [`SPEND#${n + 1}`, n + 1 === 3 ? COST / 1e9 : 0]);
    expect(items.map((i) => [i.SK, Number(i.spend ?? 0)]).sort()).toEqual(expected.sort());
  });
});
