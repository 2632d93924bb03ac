/** The cache bound counts entities: an entity's counter shards ride along without pushing callers out. */
import { describe, expect, it } from 'vitest';
import type { Item } from '../../../lib/store/codec.js';
import { type ItemRef, refKey, refs } from '../../../lib/store/keys.js';
import { type BatchSource, CachedLoader } from '../../../lib/store/loader.js';
import { otherShardRefs } from '../../../lib/store/shards.js';

/** Answers every ref with an item, counting round trips. */
class EverythingSource implements BatchSource {
  reads = 0;
  async getMany(rs: readonly ItemRef[]): Promise<Map<string, Item>> {
    this.reads++;
    return new Map(rs.map((r) => [refKey(r), { ...r, spend: 1 }]));
  }
}

const teamWithShards = (id: string) => [refs.team(id), ...otherShardRefs(refs.team(id), 32)];

describe('the cache bound counts entities, not items', () => {
  it('three teams with 31 counter shards each fit a bound of 3', async () => {
    const source = new EverythingSource();
    const loader = new CachedLoader(source, { ttlMs: 60_000, negativeTtlMs: 60_000, maxEntries: 3 });
    const all = ['a', 'b', 'c'].flatMap(teamWithShards);
    expect(all).toHaveLength(96);
    await loader.loadMany(all);
    const reads = source.reads;
    await loader.loadMany(all);
    expect(source.reads).toBe(reads);
    expect(loader.size).toBe(3);
  });

  it('a fourth entity pushes the least recently used one out', async () => {
    const source = new EverythingSource();
    const loader = new CachedLoader(source, { ttlMs: 60_000, negativeTtlMs: 60_000, maxEntries: 3 });
    for (const t of ['a', 'b', 'c', 'd']) await loader.load(refs.team(t));
    const reads = source.reads;
    await loader.load(refs.team('d'));
    expect(source.reads).toBe(reads);
    await loader.load(refs.team('a'));
    expect(source.reads).toBe(reads + 1);
  });
});

/** Knows only the refs given; every other is absent. Counts round trips. */
class SomeSource implements BatchSource {
  reads = 0;
  constructor(private readonly known: ReadonlySet<string>) {}
  async getMany(rs: readonly ItemRef[]): Promise<Map<string, Item>> {
    this.reads++;
    return new Map(rs.filter((r) => this.known.has(refKey(r))).map((r) => [refKey(r), { ...r, spend: 1 }]));
  }
}

describe('absences are kept apart (found by review)', () => {
  it('made-up keys, as many as the bound, never push a real entity out; each is still read once', async () => {
    const source = new SomeSource(new Set([refKey(refs.team('t-1'))]));
    const loader = new CachedLoader(source, { ttlMs: 60_000, negativeTtlMs: 60_000, maxEntries: 100 });
    expect(await loader.load(refs.team('t-1'))).toBeDefined();
    for (let i = 0; i < 250; i++) expect(await loader.load(refs.key(`garbage-${i}`))).toBeUndefined();
    const reads = source.reads;
    expect(await loader.load(refs.team('t-1'))).toBeDefined();
    expect(await loader.loadMany([refs.team('t-1'), refs.key('garbage-249')])).toEqual([expect.anything(), undefined]);
    expect(source.reads).toBe(reads);
    expect(loader.size).toBe(1);
  });

  it('an absence is forgotten by invalidate, and replaced by what a write of ours made', async () => {
    const known = new Set<string>();
    const source = new SomeSource(known);
    const loader = new CachedLoader(source, { ttlMs: 60_000, negativeTtlMs: 60_000, maxEntries: 10 });
    expect(await loader.load(refs.user('u-1'))).toBeUndefined();
    known.add(refKey(refs.user('u-1')));
    expect(await loader.load(refs.user('u-1'))).toBeUndefined(); // still remembered absent
    loader.invalidate(refs.user('u-1'));
    expect(await loader.load(refs.user('u-1'))).toBeDefined();
    expect(await loader.load(refs.endUser('eu-1'))).toBeUndefined();
    loader.follow(
      refs.endUser('eu-1'),
      (i) => i,
      () => ({ ...refs.endUser('eu-1'), spend: 2 }),
    );
    const reads = source.reads;
    expect(await loader.load(refs.endUser('eu-1'))).toMatchObject({ spend: 2 });
    expect(source.reads).toBe(reads);
  });
});
