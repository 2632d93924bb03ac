/**
 * Hot counters: 10,000 settlements for one team from 32 concurrent writers, through the real
 * settler against DynamoDB Local (about 40 s here: DynamoDB Local runs a few hundred
 * transactions a second). The totals are exact on every counter, lifetime and window, and the writes each item takes
 * (counted on the document client: successful transaction parts per item key per second) are
 * spread over the shards, so no item comes near DynamoDB's ~1,000 writes per second.
 * Also: readers sum the shards, and an admin write that sets spend folds the shards away.
 */
import { type DynamoDBDocumentClient, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { beforeAll, describe, expect, it } from 'vitest';
import { iamActor as actor } from '../../../lib/admin/rules/actor.js';
import { budgetView, spendAttributes } from '../../../lib/admin/schema/budget-view.js';
import { adminStore, documentClient, entityReader } from '../../../lib/app/index.js';
import { dollarsToNanos } from '../../../lib/domain/cost.js';
import type { TeamRecord } from '../../../lib/domain/records.js';
import { NotFoundError } from '../../../lib/errors.js';
import { tableName } from '../../../lib/store/client.js';
import { encode } from '../../../lib/store/codec.js';
import { refKey, refs } from '../../../lib/store/keys.js';
import { DynamoSettler, type SpendTarget } from '../../../lib/store/spend-ledger.js';
import { putNew, setFields } from '../../../lib/store/writes.js';
import { seedTeam } from '../../support/seed.js';
import { counterItems, countersOf } from '../../support/spend.js';
import { useTestTable } from '../../support/table.js';

const SETTLEMENTS = 10_000;
const WRITERS = 32;
const TEAM_SHARDS = 8;
/** DynamoDB's documented write throughput of one item (1 KB items): about 1,000 per second. */
const ITEM_WRITES_PER_SECOND = 1000;

beforeAll(async () => {
  await useTestTable({ TOLLGATE_SPEND_SHARDS: `team=${TEAM_SHARDS}` });
});

/** The document client, counting the items each successful transaction wrote, per second. */
function countingClient(real: DynamoDBDocumentClient) {
  const perItemSecond = new Map<string, Map<number, number>>();
  const t0 = performance.now();
  const client = {
    send: async (command: unknown) => {
      const out = await real.send(command as TransactWriteCommand);
      if (command instanceof TransactWriteCommand) {
        const second = Math.floor((performance.now() - t0) / 1000);
        for (const item of command.input.TransactItems ?? []) {
          const key = item.Update?.Key ?? item.Put?.Item;
          if (!key) continue;
          const id = refKey({ PK: key.PK as string, SK: key.SK as string });
          const seconds = perItemSecond.get(id) ?? new Map<number, number>();
          seconds.set(second, (seconds.get(second) ?? 0) + 1);
          perItemSecond.set(id, seconds);
        }
      }
      return out;
    },
  } as unknown as DynamoDBDocumentClient;
  return { client, perItemSecond };
}

describe('10,000 settlements for one team from 32 concurrent writers', () => {
  it('end exact on every counter, with every item far below its write limit', { timeout: 240_000 }, async () => {
    const now = Date.now();
    await seedTeam({ team_id: 't-hot', budget_duration: '1d' });
    const { client, perItemSecond } = countingClient(documentClient());
    const settler = new DynamoSettler(client, tableName(), { ttlSeconds: 3600, shards: { team: TEAM_SHARDS } });
    const targets: SpendTarget[] = [{ entity: 'team', id: 't-hot', ref: refs.team('t-hot'), duration: '1d' }];
    // Costs that are not round in binary: any float summing would show.
    const cost = (i: number) => 1_000_003 + (i % 97) * 10_007;
    let next = 0;
    let expected = 0;
    const started = performance.now();
    await Promise.all(
      Array.from({ length: WRITERS }, async () => {
        for (let i = next++; i < SETTLEMENTS; i = next++) {
          expected += cost(i);
          const outcome = await settler.settle({ requestId: `hot-${i}`, at: now, costNanos: cost(i), model: 'gpt-4o', targets });
          expect(outcome.status).toBe('settled');
        }
      }),
    );
    const seconds = (performance.now() - started) / 1000;

    expect(await countersOf(refs.team('t-hot'), '1d', now)).toEqual({
      spend: expected,
      committed: expected,
      window: { spend: expected, committed: expected },
    });
    // The reader sums the shards (in the batch it reads the team in).
    entityReader().loader.clear();
    expect(dollarsToNanos((await entityReader().team('t-hot'))?.spend ?? 0)).toBe(expected);

    const teamItems = [...perItemSecond.keys()].filter((k) => k.includes('TEAM#t-hot'));
    expect(teamItems).toHaveLength(TEAM_SHARDS);
    const totals = (ids: string[]) => ids.map((id) => [...(perItemSecond.get(id)?.values() ?? [])].reduce((a, b) => a + b, 0));
    const teamTotals = totals(teamItems);
    expect(teamTotals.reduce((a, b) => a + b, 0)).toBe(SETTLEMENTS);
    const hottestShare = Math.max(...teamTotals) / SETTLEMENTS;
    // Uniformly spread: the busiest of 8 shards takes about 1/8 of the writes (1/8 + 6 standard deviations at most).
    expect(hottestShare).toBeLessThan(1 / TEAM_SHARDS + 6 * Math.sqrt(((1 / TEAM_SHARDS) * (1 - 1 / TEAM_SHARDS)) / SETTLEMENTS));
    const peak = Math.max(...[...perItemSecond.entries()].filter(([k]) => !k.includes('REQ#')).flatMap(([, s]) => [...s.values()]));
    expect(peak).toBeLessThan(ITEM_WRITES_PER_SECOND);
    const rate = SETTLEMENTS / seconds;
    console.info(
      `hot counters: ${SETTLEMENTS} settlements in ${seconds.toFixed(1)} s (${rate.toFixed(0)}/s); busiest team shard took ${(hottestShare * 100).toFixed(1)}% ` +
        `(${(rate * hottestShare).toFixed(0)} writes/s, peak ${peak} in one second on any counter item); ` +
        `projected team limit ≈ ${(ITEM_WRITES_PER_SECOND / hottestShare).toFixed(0)} settlements/s`,
    );
  });
});

describe('admin writes and the shards', () => {
  it('an admin read shows the sum of the shards; setting spend leaves exactly that, shards gone', async () => {
    await seedTeam({ team_id: 't-set' });
    const settler = new DynamoSettler(documentClient(), tableName(), { ttlSeconds: 3600, shards: { team: TEAM_SHARDS } });
    const target: SpendTarget = { entity: 'team', id: 't-set', ref: refs.team('t-set') };
    for (let i = 0; i < 40; i++)
      await settler.settle({ requestId: `set-${i}`, at: Date.now(), costNanos: 250_000_000, model: 'gpt-4o', targets: [target] });
    expect((await counterItems(refs.team('t-set'))).length).toBeGreaterThan(1);
    expect(budgetView((await adminStore().getRecord<TeamRecord>(refs.team('t-set'))) as TeamRecord, new Date()).spend).toBe(10);

    const now = new Date();
    await adminStore().transact(
      [
        setFields(
          refs.team('t-set'),
          spendAttributes(2.5, null, now, undefined, await adminStore().getOwnRecord<TeamRecord>(refs.team('t-set'))),
          () => new NotFoundError('team', 't-set'),
        ),
      ],
      actor,
      { action: 'team.update', entity_type: 'team', entity_id: 't-set' },
      now,
    );
    expect(await counterItems(refs.team('t-set'))).toHaveLength(1);
    expect(await countersOf(refs.team('t-set'))).toEqual({ spend: 2_500_000_000, committed: 2_500_000_000 });
    expect(dollarsToNanos((await entityReader().team('t-set'))?.spend ?? 0)).toBe(2_500_000_000);
  });

  it('a team created again starts at zero, whatever shards its predecessor left', async () => {
    const settler = new DynamoSettler(documentClient(), tableName(), { ttlSeconds: 3600, shards: { team: TEAM_SHARDS } });
    // Spend of a call still in flight when its team was deleted lands on shards with no team.
    for (let i = 0; i < 20; i++) {
      await settler.settle({
        requestId: `orphan-${i}`,
        at: Date.now(),
        costNanos: 1_000_000,
        model: 'gpt-4o',
        targets: [{ entity: 'team', id: 't-again', ref: refs.team('t-again') }],
      });
    }
    const now = new Date();
    const team: TeamRecord = { team_id: 't-again', spend: 0, committed: 0, created_at: now.toISOString() };
    await adminStore().transact(
      [putNew(refs.team('t-again'), encode.team(team), () => new NotFoundError('team', 't-again'))],
      actor,
      { action: 'team.new', entity_type: 'team', entity_id: 't-again' },
      now,
    );
    expect(await countersOf(refs.team('t-again'))).toEqual({ spend: 0, committed: 0 });
  });
});
