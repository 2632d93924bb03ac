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
