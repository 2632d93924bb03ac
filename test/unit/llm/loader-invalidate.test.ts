/** A settlement invalidates cached items; a read of the same item in flight must still succeed. */
import { describe, expect, it } from 'vitest';
import { configureApp } from '../../../lib/app/index.js';
import { type ItemRef, refKey, refs } from '../../../lib/store/keys.js';
import { type BatchSource, CachedLoader } from '../../../lib/store/loader.js';

configureApp({ config: { TOLLGATE_LOG_LEVEL: 'SILENT' } });

class SlowSource implements BatchSource {
  reads = 0;
  constructor(private readonly spend: () => number) {}
  async getMany(list: readonly ItemRef[]) {
    this.reads++;
    const value = this.spend();
    await new Promise((r) => setTimeout(r, 20));
    return new Map(list.map((r) => [refKey(r), { ...r, spend: value }]));
  }
}

describe('CachedLoader.invalidate during a read', () => {
  it('lets the read finish with what it read, and does not cache it', async () => {
    let spend = 1;
    const source = new SlowSource(() => spend);
    const loader = new CachedLoader(source, { ttlMs: 60_000, negativeTtlMs: 60_000, maxEntries: 100 });
    const ref = refs.team('t-1');
    const inFlight = loader.load(ref);
    await new Promise((r) => setTimeout(r, 5));
    spend = 2;
    loader.invalidate(ref);
    await expect(inFlight).resolves.toMatchObject({ spend: 1 });
    // The read that raced the write is not kept: the next load reads again and sees the write.
    await expect(loader.load(ref)).resolves.toMatchObject({ spend: 2 });
    expect(source.reads).toBe(2);
  });
});
