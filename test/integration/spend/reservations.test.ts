/**
 * Strict reservations at the settler, against DynamoDB Local: what fits and what does not (the
 * edges), a budget changed or an entity deleted since it was read, shards the reservation must
 * leave room for, idempotency, and leaked reservations: one never settled expires and the
 * sweeper (and its scheduled function) releases it; a settlement that still comes afterwards
 * counts in full.
 */
import { readFileSync } from 'node:fs';
import { DeleteCommand } from '@aws-sdk/lib-dynamodb';
import { beforeAll, describe, expect, it } from 'vitest';
import { handler as keysApi } from '../../../functions/keys/handler.js';
import { handler } from '../../../functions/spend-sweeper/handler.js';
import { handler as teamsApi } from '../../../functions/teams/handler.js';
import { handler as usersApi } from '../../../functions/users/handler.js';
import { documentClient, entityReader } from '../../../lib/app/index.js';
import { config } from '../../../lib/config.js';
import type { Caller } from '../../../lib/domain/caller.js';
import { spendTargets } from '../../../lib/spend/targets.js';
import { tableName } from '../../../lib/store/client.js';
import { encode } from '../../../lib/store/codec.js';
import { refs } from '../../../lib/store/keys.js';
import { DynamoSettler, type Hold, type SpendTarget } from '../../../lib/store/spend-ledger.js';
import { releaseExpiredReservations } from '../../../lib/store/sweep.js';
import { adminCtx, callApi } from '../../support/admin.js';
import { put, seedEndUser, seedTeam } from '../../support/seed.js';
import { countersOf, readItem } from '../../support/spend.js';
import { useTestTable } from '../../support/table.js';

const CENT = 10_000_000;
const DOLLAR = 100 * CENT;

beforeAll(async () => {
  await useTestTable({ TOLLGATE_SPEND_SHARDS: 'team=4,global=4' });
});

const settler = () => new DynamoSettler(documentClient(), tableName(), { ttlSeconds: 3600, shards: config().spendShards });

/** The team as a fresh read sees it, as the one target of a call. */
async function teamTargets(teamId: string, opts: { maxBudget?: number } = {}): Promise<SpendTarget[]> {
  entityReader().loader.clear();
  const team = await entityReader().team(teamId);
  const caller: Caller = { principal: 'jwt', role: 'team', teamId, state: { team } };
  return spendTargets(caller, { now: Date.now(), ...opts }).filter((t) => t.entity === 'team' || opts.maxBudget !== undefined);
}

const reserve = (requestId: string, targets: readonly SpendTarget[], estimateNanos: number, expiresAt = Date.now() + 60_000) =>
  settler().reserve({ requestId, at: Date.now(), estimateNanos, model: 'gpt-4o', targets, expiresAt });

const held = async (requestId: string, targets: readonly SpendTarget[], estimateNanos: number, expiresAt?: number): Promise<Hold> => {
  const outcome = await reserve(requestId, targets, estimateNanos, expiresAt);
  if (outcome.status !== 'reserved' || !outcome.hold) throw new Error(`expected a reservation, got ${outcome.status}`);
  return outcome.hold;
};

describe('what fits', () => {
  it('fits exactly up to the budget, and not a nano-dollar beyond', async () => {
    await seedTeam({ team_id: 't-edge', max_budget: 1 });
    const targets = await teamTargets('t-edge');
    await held('edge-1', targets, 60 * CENT);
    expect(await reserve('edge-2', targets, 40 * CENT + 1)).toMatchObject({
      status: 'denied',
      committedNanos: 60 * CENT,
      target: { entity: 'team', id: 't-edge' },
    });
    await held('edge-3', targets, 40 * CENT);
    // Committed is now the budget: nothing more, not even a call estimated at 0.
    expect(await reserve('edge-4', targets, 0)).toMatchObject({ status: 'denied', committedNanos: DOLLAR });
    expect(await countersOf(refs.team('t-edge'))).toEqual({ spend: 0, committed: DOLLAR });
  });

  it('a budget of 0 admits nothing; no budget reserves nothing', async () => {
    await seedTeam({ team_id: 't-zero', max_budget: 0 });
    expect(await reserve('zero-1', await teamTargets('t-zero'), 0)).toMatchObject({ status: 'denied', committedNanos: 0 });
    await seedTeam({ team_id: 't-free' });
    expect(await reserve('free-1', await teamTargets('t-free'), DOLLAR)).toEqual({ status: 'reserved', hold: undefined });
    expect(await readItem(refs.settlement('free-1'))).toBeUndefined();
  });

  it('leaves room for what fast settlements put on the other shards', async () => {
    await seedTeam({ team_id: 't-mixed', max_budget: 1 });
    const plain = await teamTargets('t-mixed');
    for (let i = 0; i < 30; i++)
      await settler().settle({ requestId: `mixed-${i}`, at: Date.now(), costNanos: 3 * CENT, model: 'gpt-4o', targets: plain });
    const targets = await teamTargets('t-mixed');
    expect(targets[0]?.budget?.elsewhereNanos).toBeGreaterThan(0);
    expect(await reserve('mixed-big', targets, 10 * CENT + 1)).toMatchObject({ status: 'denied', committedNanos: 90 * CENT });
    await held('mixed-small', targets, 10 * CENT);
  });

  it('reserves on every budgeted entity or on none (the proxy among them)', async () => {
    await seedTeam({ team_id: 't-all', max_budget: 10 });
    const targets = await teamTargets('t-all', { maxBudget: 0.5 });
    expect(targets.map((t) => t.entity)).toEqual(['team', 'global']);
    expect(await reserve('all-1', targets, DOLLAR)).toMatchObject({ status: 'denied', target: { entity: 'global' } });
    expect(await countersOf(refs.team('t-all'))).toEqual({ spend: 0, committed: 0 });
  });
});

describe('what changed since it was read', () => {
  it('a new max_budget or period, or a deleted entity, is stale: read again, never ignored', async () => {
    await seedTeam({ team_id: 't-stale', max_budget: 1 });
    const targets = await teamTargets('t-stale');
    await seedTeam({ team_id: 't-stale', max_budget: 5 });
    expect(await reserve('stale-1', targets, CENT)).toMatchObject({ status: 'stale', target: { entity: 'team' } });
    await seedTeam({ team_id: 't-stale', max_budget: 1, budget_duration: '1d' });
    expect(await reserve('stale-2', targets, CENT)).toMatchObject({ status: 'stale' });
    await documentClient().send(new DeleteCommand({ TableName: tableName(), Key: refs.team('t-stale') }));
    expect(await reserve('stale-3', targets, CENT)).toMatchObject({ status: 'stale' });
    // Nothing was written by any of them.
    expect(await readItem(refs.settlement('stale-1'))).toBeUndefined();
  });

  it("an end user's reusable budget, changed, is stale too; unchanged, it holds the reservation", async () => {
    await put(encode.budget({ budget_id: 'b-shared', max_budget: 1, created_at: new Date().toISOString() }));
    await seedEndUser({ user_id: 'eu-shared', budget_id: 'b-shared' });
    entityReader().loader.clear();
    const state = await entityReader().state({ endUserId: 'eu-shared' });
    const caller: Caller = { principal: 'jwt', role: 'team', endUserId: 'eu-shared', state };
    const targets = spendTargets(caller, { now: Date.now() }).filter((t) => t.entity === 'end_user');
    await held('shared-1', targets, 90 * CENT);
    expect(await reserve('shared-2', targets, 20 * CENT)).toMatchObject({
      status: 'denied',
      committedNanos: 90 * CENT,
      target: { entity: 'end_user' },
    });
    await put(encode.budget({ budget_id: 'b-shared', max_budget: 2, created_at: new Date().toISOString() }));
    expect(await reserve('shared-3', targets, 20 * CENT)).toMatchObject({ status: 'stale', target: { entity: 'end_user' } });
  });
});

describe('settling a reservation', () => {
  it('counts the actual cost, releases the rest, once', async () => {
    await seedTeam({ team_id: 't-settle', max_budget: 1, budget_duration: '1d' });
    const targets = await teamTargets('t-settle');
    const hold = await held('settle-1', targets, 30 * CENT);
    const s = { requestId: 'settle-1', at: Date.now(), costNanos: 12 * CENT, model: 'gpt-4o', targets, hold };
    expect(await settler().settle(s)).toMatchObject({ status: 'settled' });
    expect(await settler().settle(s)).toEqual({ status: 'duplicate' });
    expect(await reserve('settle-1', targets, CENT)).toEqual({ status: 'duplicate' });
    expect(await countersOf(refs.team('t-settle'), '1d')).toEqual({
      spend: 12 * CENT,
      committed: 12 * CENT,
      window: { spend: 12 * CENT, committed: 12 * CENT },
    });
    expect(await readItem(refs.settlement('settle-1'))).toMatchObject({ state: 'settled', cost: 0.12, estimate: 0.3 });
  });
});

describe('leaked reservations', () => {
  it('expire: the sweeper releases them; a settlement that still comes counts in full', async () => {
    await seedTeam({ team_id: 't-leak', max_budget: 1, budget_duration: '1d' });
    const targets = await teamTargets('t-leak');
    const now = Date.now();
    const lost = await held('leak-lost', targets, 20 * CENT, now - 1);
    const live = await held('leak-live', targets, 30 * CENT, now + 60_000);
    expect((await countersOf(refs.team('t-leak'), '1d')).window?.committed).toBe(50 * CENT);

    expect(await releaseExpiredReservations(documentClient(), tableName(), now)).toEqual({ released: 1, raced: 0 });
    expect(await countersOf(refs.team('t-leak'), '1d')).toMatchObject({ committed: 30 * CENT, window: { spend: 0, committed: 30 * CENT } });
    const record = await readItem(refs.settlement('leak-lost'));
    expect(record).toMatchObject({ state: 'expired' });
    expect(record?.GSI1PK).toBeUndefined();
    // Nothing left to sweep; the live reservation is not touched.
    expect(await releaseExpiredReservations(documentClient(), tableName(), now)).toEqual({ released: 0, raced: 0 });

    // The lost call was only slow: its settlement counts in full, and exactly once.
    const late = { requestId: 'leak-lost', at: now, costNanos: 15 * CENT, model: 'gpt-4o', targets, hold: lost };
    expect(await settler().settle(late)).toMatchObject({ status: 'settled' });
    expect(await settler().settle(late)).toEqual({ status: 'duplicate' });
    await settler().settle({ requestId: 'leak-live', at: now, costNanos: 5 * CENT, model: 'gpt-4o', targets, hold: live });
    expect(await countersOf(refs.team('t-leak'), '1d')).toEqual({
      spend: 20 * CENT,
      committed: 20 * CENT,
      window: { spend: 20 * CENT, committed: 20 * CENT },
    });
    expect(await readItem(refs.settlement('leak-lost'))).toMatchObject({ state: 'settled', cost: 0.15 });
  });

  it('the scheduled function (functions/spend-sweeper) does it with its sample event', async () => {
    await seedTeam({ team_id: 't-scheduled', max_budget: 1 });
    await held('scheduled-1', await teamTargets('t-scheduled'), 20 * CENT, Date.now() - 1);
    const event = JSON.parse(
      readFileSync(new URL('../../../functions/spend-sweeper/events/scheduled.json', import.meta.url), 'utf8'),
    ) as unknown;
    expect(await handler(event, {} as never)).toMatchObject({ released: 1, raced: 0, tidy: { complete: true, failed: 0 } });
    expect(await countersOf(refs.team('t-scheduled'))).toEqual({ spend: 0, committed: 0 });
  });

  it('a settlement racing the sweeper: whichever comes second changes nothing it should not', async () => {
    await seedTeam({ team_id: 't-race', max_budget: 1 });
    const targets = await teamTargets('t-race');
    const now = Date.now();
    const hold = await held('race-1', targets, 20 * CENT, now - 1);
    await Promise.all([
      settler().settle({ requestId: 'race-1', at: now, costNanos: 7 * CENT, model: 'gpt-4o', targets, hold }),
      releaseExpiredReservations(documentClient(), tableName(), now),
    ]);
    expect(await countersOf(refs.team('t-race'))).toEqual({ spend: 7 * CENT, committed: 7 * CENT });
  });
});

describe('spend set by hand keeps the reservations in flight (found by review: they were forgotten)', () => {
  type Kind = 'key' | 'team' | 'user';
  const ref = (kind: Kind, id: string) => (kind === 'key' ? refs.key(id) : kind === 'team' ? refs.team(id) : refs.user(id));
  /** Made through the admin API; its id as the store names it (a key's hash), and how /update names it. */
  async function made(kind: Kind, name: string, budget: Record<string, unknown>): Promise<{ id: string; named: Record<string, string> }> {
    if (kind === 'key') {
      const { key, token } = (await callApi(keysApi, 'POST', '/key/generate', budget, adminCtx)).body as { key: string; token: string };
      return { id: token, named: { key } };
    }
    const named: Record<string, string> = kind === 'team' ? { team_id: name } : { user_id: name };
    expect((await callApi(kind === 'team' ? teamsApi : usersApi, 'POST', `/${kind}/new`, { ...named, ...budget }, adminCtx)).status).toBe(
      200,
    );
    return { id: name, named };
  }
  async function targetsOf(kind: Kind, id: string): Promise<SpendTarget[]> {
    entityReader().loader.clear();
    const state =
      kind === 'key'
        ? { key: await entityReader().key(id) }
        : kind === 'team'
          ? { team: await entityReader().team(id) }
          : { user: await entityReader().user(id) };
    const caller: Caller = {
      principal: 'jwt',
      role: 'internal_user',
      ...(kind === 'key' ? { keyHash: id } : kind === 'team' ? { teamId: id } : { userId: id }),
      state,
    };
    return spendTargets(caller, { now: Date.now() }).filter((t) => t.entity === kind);
  }

  it.each([
    ['key', undefined],
    ['key', '1d'],
    ['team', undefined],
    ['team', '30d'],
    ['user', undefined],
    ['user', '1mo'],
  ] as const)('%s, period %s: committed is the spend set plus what is reserved, and settles back to the spend', async (kind, period) => {
    const name = `set-held-${kind}-${period ?? 'none'}`;
    const budget = { max_budget: 10, ...(period ? { budget_duration: period } : {}) };
    const { id, named } = await made(kind, name, budget);
    const targets = await targetsOf(kind, id);
    expect(targets).toHaveLength(1);
    for (let i = 0; i < 6; i++)
      await settler().settle({ requestId: `${name}-fast-${i}`, at: Date.now(), costNanos: 50 * CENT, model: 'gpt-4o', targets });
    const hold = await held(`${name}-strict`, targets, 2 * DOLLAR);
    const api = kind === 'key' ? keysApi : kind === 'team' ? teamsApi : usersApi;
    expect((await callApi(api, 'POST', `/${kind}/update`, { ...named, spend: 1 }, adminCtx)).status).toBe(200);
    const expectation = (spend: number, committed: number) => ({
      spend,
      committed,
      ...(period ? { window: { spend, committed } } : {}),
    });
    expect(await countersOf(ref(kind, id), period)).toEqual(expectation(DOLLAR, 3 * DOLLAR));

    await settler().settle({ requestId: `${name}-strict`, at: Date.now(), costNanos: 50 * CENT, model: 'gpt-4o', targets, hold });
    expect(await countersOf(ref(kind, id), period)).toEqual(expectation(150 * CENT, 150 * CENT));
  });
});
