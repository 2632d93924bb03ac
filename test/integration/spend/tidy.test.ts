/**
 * The sweeper's tidy pass (lib/store/sweep), against DynamoDB Local: the counters of windows that
 * ended more than one window ago go, on every kind of counter item (keys, users, teams, members,
 * organizations, end users, the proxy, and the shards of sharded kinds); the current and previous
 * windows, lifetime counters, unparsable ids and everything else stay; the spend a budget check
 * sees does not move; a second run writes nothing; items with nothing to remove are never
 * written; a run with bounded work continues from its cursor; settlements racing it lose nothing.
 */
import { type DynamoDBDocumentClient, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { beforeAll, describe, expect, it } from 'vitest';
import { documentClient } from '../../../lib/app/index.js';
import type { Caller } from '../../../lib/domain/caller.js';
import { currentSpend, windowOf } from '../../../lib/domain/periods.js';
import type { Budgeted, TeamRecord } from '../../../lib/domain/records.js';
import type { ShardCounts } from '../../../lib/domain/sharding.js';
import { spendTargets } from '../../../lib/spend/targets.js';
import { tableName } from '../../../lib/store/client.js';
import { decode, type Item } from '../../../lib/store/codec.js';
import { type ItemRef, refKey, refs } from '../../../lib/store/keys.js';
import { mergeShards } from '../../../lib/store/shards.js';
import { DynamoSettler } from '../../../lib/store/spend-ledger.js';
import { endedWindowTest, TIDY_CURSOR, type TidyResult, tidyItem, tidyWindowCounters } from '../../../lib/store/sweep.js';
import { put, seedEndUser, seedGlobal, seedKey, seedMember, seedOrg, seedTeam, seedUser } from '../../support/seed.js';
import { counterItems, readItem } from '../../support/spend.js';
import { useTestTable } from '../../support/table.js';

const SHARDS: ShardCounts = { key: 2, team: 3, organization: 2, global: 3 };
const DAY = 86_400_000;
// Saturday 2026-11-28 12:30:05 UTC.
const NOW = Date.UTC(2026, 10, 28, 12, 30, 5);

beforeAll(async () => {
  await useTestTable({ TOLLGATE_SPEND_SHARDS: 'key=2,team=3,organization=2,global=3' });
});

/** The document client, counting the items it updates. */
function countingClient(): { client: DynamoDBDocumentClient; updated: string[] } {
  const real = documentClient();
  const updated: string[] = [];
  const client = {
    send: (command: unknown) => {
      if (command instanceof UpdateCommand) updated.push(refKey(command.input.Key as unknown as ItemRef));
      return real.send(command as never);
    },
  } as unknown as DynamoDBDocumentClient;
  return { client, updated };
}

const tidy = (client: DynamoDBDocumentClient, opts: Partial<Parameters<typeof tidyWindowCounters>[3]> = {}): Promise<TidyResult> =>
  tidyWindowCounters(client, tableName(), NOW, { shards: SHARDS, ...opts });

/** Window ids of a duration around NOW. */
function windows(duration: string) {
  const current = windowOf(duration, NOW);
  const previous = windowOf(duration, current.start - 1);
  const ended = windowOf(duration, previous.start - 1);
  return {
    current: current.id,
    previous: previous.id,
    ended: ended.id,
    ancient: windowOf(duration, NOW - 400 * DAY).id,
    next: windowOf(duration, current.end).id,
  };
}

const UNPARSABLE = [
  'garbage',
  '1h@yesterday',
  '0h@2020-01-01T00:00:00Z',
  '1h@2020-01-01T00:00:00',
  '1x@2020-01-01T00:00:00Z',
  '@2020-01-01T00:00:00Z',
];

/** Counters of `duration` (current, previous, two ended windows, the next one), an ended one of another duration, and unparsable ids. */
function counters(duration: string, scale = 1): { window_spend: Record<string, number>; window_committed: Record<string, number> } {
  const w = windows(duration);
  const other = windows(duration === '1d' ? '1h' : '1d');
  const ids: Record<string, number> = { [w.current]: 2, [w.previous]: 1, [w.ended]: 4, [w.ancient]: 8, [w.next]: 0.5, [other.ancient]: 16 };
  for (const u of UNPARSABLE) ids[u] = 0.25;
  const scaled = (k: number) => Object.fromEntries(Object.entries(ids).map(([id, v]) => [id, v * k * scale]));
  return { window_spend: scaled(1), window_committed: scaled(1.5) };
}

/** Only the current and previous windows (and an unparsable id). */
function freshCounters(duration: string) {
  const w = windows(duration);
  return { window_spend: { [w.current]: 3, [w.previous]: 1, garbage: 1 }, window_committed: { [w.current]: 3.5, [w.previous]: 1 } };
}

const lifetime = { spend: 123.456789012, committed: 130.5 };

/** A counter shard item as settlements leave it. */
async function putShard(ref: ItemRef, n: number, duration: string): Promise<void> {
  const c = counters(duration, 0.5);
  const item: Item = { PK: ref.PK, SK: `SPEND#${n}`, spend: 1.5, committed: 2 };
  for (const [id, v] of Object.entries(c.window_spend)) item[`ws#${id}`] = v;
  for (const [id, v] of Object.entries(c.window_committed)) item[`wc#${id}`] = v;
  await put(item);
}

interface Entity {
  ref: ItemRef;
  duration: string;
}

/** Every kind of counter item, with stale windows; returns the entities and the refs that must be written. */
async function seedEverything(prefix: string): Promise<{ entities: Entity[]; stale: ItemRef[]; fresh: ItemRef[] }> {
  const entities: Entity[] = [];
  const stale: ItemRef[] = [];
  const fresh: ItemRef[] = [];
  const add = (ref: ItemRef, duration: string, shards = 0) => {
    entities.push({ ref, duration });
    stale.push(ref);
    for (let n = 1; n <= shards; n++) stale.push({ PK: ref.PK, SK: `SPEND#${n}` });
  };

  const { record: key } = await seedKey({ budget_duration: '1h', max_budget: 500, ...lifetime, ...counters('1h') });
  await putShard(refs.key(key.token), 1, '1h');
  add(refs.key(key.token), '1h', 1);
  await seedUser({ user_id: `${prefix}-u`, budget_duration: '1d', max_budget: 500, ...lifetime, ...counters('1d') });
  add(refs.user(`${prefix}-u`), '1d');
  await seedTeam({ team_id: `${prefix}-t`, budget_duration: '1w', max_budget: 500, ...lifetime, ...counters('1w') });
  await putShard(refs.team(`${prefix}-t`), 1, '1w');
  await putShard(refs.team(`${prefix}-t`), 2, '1w');
  add(refs.team(`${prefix}-t`), '1w', 2);
  await seedMember({ team_id: `${prefix}-t`, user_id: `${prefix}-m1`, budget_duration: '24h', ...lifetime, ...counters('24h') });
  add(refs.member(`${prefix}-t`, `${prefix}-m1`), '24h');
  await seedMember({ team_id: `${prefix}-t`, user_id: `${prefix}-m2`, budget_duration: '1mo', ...lifetime, ...counters('1mo') });
  add(refs.member(`${prefix}-t`, `${prefix}-m2`), '1mo');
  await seedOrg({ organization_id: `${prefix}-o`, budget_duration: '1mo', max_budget: 500, ...lifetime, ...counters('1mo') });
  await putShard(refs.org(`${prefix}-o`), 1, '1mo');
  add(refs.org(`${prefix}-o`), '1mo', 1);
  await seedEndUser({ user_id: `${prefix}-e`, budget_duration: '30m', ...lifetime, ...counters('30m') });
  add(refs.endUser(`${prefix}-e`), '30m');

  // Nothing to remove: never written.
  await seedUser({ user_id: `${prefix}-fresh`, budget_duration: '1h', ...lifetime, ...freshCounters('1h') });
  fresh.push(refs.user(`${prefix}-fresh`));
  const { record: plainKey } = await seedKey({ ...lifetime });
  fresh.push(refs.key(plainKey.token));
  // A team with nothing to remove whose member has (only the member is written).
  await seedTeam({ team_id: `${prefix}-quiet`, budget_duration: '1d', ...lifetime, ...freshCounters('1d') });
  fresh.push(refs.team(`${prefix}-quiet`));
  await seedMember({ team_id: `${prefix}-quiet`, user_id: `${prefix}-m3`, budget_duration: '1h', ...lifetime, ...counters('1h') });
  add(refs.member(`${prefix}-quiet`, `${prefix}-m3`), '1h');
  return { entities, stale, fresh };
}

async function seedProxy(): Promise<Entity> {
  await seedGlobal({ ...lifetime, ...counters('1h') });
  for (let n = 1; n <= 2; n++) await putShard(refs.globalSpend(), n, '1h');
  return { ref: refs.globalSpend(), duration: '1h' };
}

/** The record a budget check reads: the entity item with its shards summed in. */
async function reread(ref: ItemRef): Promise<Budgeted> {
  const items = await counterItems(ref);
  const entity = items.find((i) => i.SK === ref.SK);
  const merged = mergeShards(
    entity,
    items.filter((i) => i !== entity),
    true,
  );
  if (!merged) throw new Error(`${ref.PK} ${ref.SK} is gone`);
  return decode<Budgeted>(merged);
}

/** Everything a budget can see of an entity, per moment. */
async function seen(e: Entity) {
  const r = await reread(e.ref);
  const current = windowOf(e.duration, NOW);
  return {
    current: currentSpend(r, NOW, e.duration),
    previous: currentSpend(r, current.start - 1, e.duration),
    committedNow: r.window_committed?.[current.id],
    spend: r.spend,
    committed: r.committed,
  };
}

const omit = (item: Item, names: string[]): Item => Object.fromEntries(Object.entries(item).filter(([k]) => !names.includes(k)));

describe('the tidy pass', () => {
  it('removes ended windows from every kind of counter item, and nothing else', async () => {
    const proxy = await seedProxy();
    const { entities, stale, fresh } = await seedEverything('all');
    stale.push(proxy.ref, { PK: 'GLOBAL', SK: 'SPEND#1' }, { PK: 'GLOBAL', SK: 'SPEND#2' });
    entities.push(proxy);

    const itemsBefore = new Map<string, Item>();
    for (const ref of [...stale, ...fresh]) itemsBefore.set(refKey(ref), (await readItem(ref)) as Item);
    const seenBefore = await Promise.all(entities.map(seen));

    const { client, updated } = countingClient();
    const result = await tidy(client);
    expect(result).toMatchObject({ updated: stale.length, gone: 0, failed: 0, complete: true });
    // One UpdateItem per item with ended windows; none for the others.
    expect([...updated].sort()).toEqual(stale.map(refKey).sort());

    const isEnded = endedWindowTest(NOW);
    let removed = 0;
    for (const ref of [...stale, ...fresh]) {
      const before = itemsBefore.get(refKey(ref)) as Item;
      const gone = Object.keys(before).filter(isEnded);
      removed += gone.length;
      const after = (await readItem(ref)) as Item;
      expect(after).toEqual(omit(before, gone));
      // What stays of the windows: current, previous, the next one, and whatever does not parse.
      const kept = Object.keys(after).filter((k) => k.startsWith('ws#') || k.startsWith('wc#'));
      for (const k of kept) expect(isEnded(k)).toBe(false);
    }
    expect(result.removed).toBe(removed);
    // On an entity: 2 ended windows of its duration, 1 of another, in ws# and wc#.
    const key = (await readItem(entities[0]?.ref as ItemRef)) as Item;
    const w = windows('1h');
    expect(
      Object.keys(key)
        .filter((k) => k.startsWith('ws#'))
        .sort(),
    ).toEqual([w.current, w.previous, w.next, ...UNPARSABLE].map((id) => `ws#${id}`).sort());
    expect(
      Object.keys(key)
        .filter((k) => k.startsWith('wc#'))
        .sort(),
    ).toEqual([w.current, w.previous, w.next, ...UNPARSABLE].map((id) => `wc#${id}`).sort());

    // Budgets see the same: this window, the previous one (late settlements), lifetime.
    expect(await Promise.all(entities.map(seen))).toEqual(seenBefore);
    for (const s of seenBefore) expect(s.current).toBeGreaterThan(0);

    // Again: nothing to do, nothing written.
    const again = countingClient();
    expect(await tidy(again.client)).toMatchObject({ updated: 0, removed: 0, complete: true });
    expect(again.updated).toEqual([]);
    for (const ref of [...stale, ...fresh])
      expect(await readItem(ref)).toEqual(
        omit(itemsBefore.get(refKey(ref)) as Item, Object.keys(itemsBefore.get(refKey(ref)) as Item).filter(isEnded)),
      );
    // A pass that completes in one run leaves no cursor behind.
    expect(await readItem(TIDY_CURSOR)).toBeUndefined();
  });

  it('with bounded work, continues from a cursor until the pass is complete', async () => {
    const { entities, stale } = await seedEverything('paged');
    const seenBefore = await Promise.all(entities.map(seen));
    const results: TidyResult[] = [];
    for (let run = 0; run < 60; run++) {
      const r = await tidy(documentClient(), { maxItems: 1, pageSize: 1 });
      results.push(r);
      if (r.complete) break;
      expect(await readItem(TIDY_CURSOR)).toMatchObject({ step: expect.any(Number) });
    }
    expect(results.length).toBeGreaterThan(5);
    expect(results.at(-1)?.complete).toBe(true);
    // The first pass's items (already tidy) are visited again but not written.
    expect(results.reduce((n, r) => n + r.updated, 0)).toBe(stale.length);
    const isEnded = endedWindowTest(NOW);
    for (const ref of stale) expect(Object.keys((await readItem(ref)) as Item).filter(isEnded)).toEqual([]);
    expect(await Promise.all(entities.map(seen))).toEqual(seenBefore);
    // The next pass starts from the beginning.
    expect(await readItem(TIDY_CURSOR)).toMatchObject({ step: 0 });
    expect((await readItem(TIDY_CURSOR))?.start_key).toBeUndefined();
    const next = countingClient();
    expect(await tidy(next.client)).toMatchObject({ updated: 0, complete: true });
    expect(next.updated).toEqual([]);
  });

  it('settlements racing it lose nothing', async () => {
    await seedTeam({ team_id: 'busy', budget_duration: '1h', max_budget: 1000, ...lifetime, ...counters('1h') });
    for (let n = 1; n <= 2; n++) await putShard(refs.team('busy'), n, '1h');
    const entity: Entity = { ref: refs.team('busy'), duration: '1h' };
    const before = await seen(entity);
    const settler = new DynamoSettler(documentClient(), tableName(), { ttlSeconds: 3600, shards: SHARDS });
    const team = (await reread(refs.team('busy'))) as TeamRecord;
    const caller: Caller = { principal: 'jwt', role: 'team', teamId: 'busy', state: { team } };
    const targets = spendTargets(caller, { now: NOW }).filter((t) => t.entity === 'team');
    const CENT = 10_000_000;
    await Promise.all([
      ...Array.from({ length: 20 }, (_, i) =>
        settler.settle({ requestId: `busy-${i}`, at: NOW, costNanos: CENT, model: 'gpt-4o', targets }),
      ),
      tidy(documentClient()),
      tidy(documentClient()),
    ]);
    const after = await seen(entity);
    expect(after.current).toBeCloseTo(before.current + 0.2, 9);
    expect(after.spend).toBeCloseTo((before.spend ?? 0) + 0.2, 9);
    expect(after.previous).toBe(before.previous);
    const isEnded = endedWindowTest(NOW);
    for (const item of await counterItems(refs.team('busy'))) expect(Object.keys(item).filter(isEnded)).toEqual([]);
  });

  it('never re-creates an item deleted after it was listed', async () => {
    const ghost: Item = { PK: 'KEY#ghost', SK: 'KEY', [`ws#${windows('1h').ancient}`]: 1 };
    expect(await tidyItem(documentClient(), tableName(), ghost, endedWindowTest(NOW))).toEqual({ removed: 0, gone: true, failed: false });
    expect(await readItem({ PK: 'KEY#ghost', SK: 'KEY' })).toBeUndefined();
  });

  it('clears a long backlog in chunks', async () => {
    const w = windowOf('1h', NOW);
    const window_spend: Record<string, number> = { [w.id]: 1 };
    for (let h = 2; h < 352; h++) window_spend[windowOf('1h', w.start - h * 3_600_000).id] = 0.01;
    await seedUser({ user_id: 'backlog', budget_duration: '1h', ...lifetime, window_spend });
    const { client, updated } = countingClient();
    const outcome = await tidyItem(client, tableName(), (await readItem(refs.user('backlog'))) as Item, endedWindowTest(NOW));
    expect(outcome).toEqual({ removed: 350, gone: false, failed: false });
    expect(updated).toHaveLength(4);
    const after = (await readItem(refs.user('backlog'))) as Item;
    expect(Object.keys(after).filter((k) => k.startsWith('ws#'))).toEqual([`ws#${w.id}`]);
    expect(after.spend).toBe(lifetime.spend);
  });
});
