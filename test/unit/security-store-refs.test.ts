/**
 * Ids from untrusted sources (JWT claims, the body's `user`) reach table keys unvalidated. `|`
 * joined PK and SK in the loader's cache key, so an id holding it could read or cache the wrong
 * item: a JWT `sub` such as `auth0|123` is ordinary.
 */
import { describe, expect, it } from 'vitest';
import { configureApp } from '../../lib/app/index.js';
import { type ItemRef, refKey, refs } from '../../lib/store/keys.js';
import { type BatchSource, CachedLoader } from '../../lib/store/loader.js';

configureApp({ config: { TOLLGATE_LOG_LEVEL: 'SILENT' } });

/** A table in memory: items by their exact PK and SK. */
class MemoryTable implements BatchSource {
  readonly asked: ItemRef[] = [];
  constructor(private readonly items: ItemRef[]) {}
  async getMany(list: readonly ItemRef[]) {
    this.asked.push(...list);
    const out = new Map<string, Record<string, unknown>>();
    for (const r of list) {
      const hit = this.items.find((i) => i.PK === r.PK && i.SK === r.SK);
      if (hit) out.set(refKey(hit), { ...hit });
    }
    return out;
  }
}

const loaderOver = (items: ItemRef[]) => {
  const table = new MemoryTable(items);
  return { table, loader: new CachedLoader(table, { ttlMs: 60_000, negativeTtlMs: 60_000, maxEntries: 100 }) };
};

describe('item refs whose ids hold key separators', () => {
  it('two different items never share a cache key', () => {
    expect(refKey(refs.member('T', 'x|TEAM'))).not.toBe(refKey(refs.team('T|MEMBER#x')));
  });

  it('a member whose user id holds `|` is read by its own PK and SK', async () => {
    const member = refs.member('t-1', 'auth0|123');
    const { table, loader } = loaderOver([member]);
    await expect(loader.load(member)).resolves.toMatchObject(member);
    expect(table.asked).toEqual([member]);
  });

  it('a membership and a team whose ids collide as strings stay apart, cached or not', async () => {
    const team = refs.team('T|MEMBER#x');
    const member = refs.member('T', 'x|TEAM');
    const { loader } = loaderOver([member]);
    const [m, t] = await loader.loadMany([member, team]);
    expect(m).toMatchObject(member);
    expect(t).toBeUndefined();
    await expect(loader.load(team)).resolves.toBeUndefined();
  });
});
