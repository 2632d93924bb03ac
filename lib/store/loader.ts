/**
 * The one cached loader that serves every entity. Items are kept in an LRU with a TTL and a
 * bound on entries; unknown items are cached as absent (negative caching, so a burst of garbage
 * keys makes one read); concurrent misses for one item share one read (single flight); misses
 * issued in the same tick are read together in one batch (one round trip).
 */
import { BatchGetCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import DataLoader from 'dataloader';
import { LRUCache } from 'lru-cache';
import { isTollgateError, StoreUnavailableError } from '../errors.js';
import { logger, traced } from '../telemetry.js';
import type { Item } from './codec.js';
import { type ItemRef, parseRefKey, refKey } from './keys.js';
import { SHARD_SK_PREFIX } from './shards.js';

/** Reads many items in one round trip. */
export interface BatchSource {
  getMany(refs: readonly ItemRef[]): Promise<Map<string, Item>>;
}

const ABSENT = Symbol('absent');
type Cached = Item | typeof ABSENT;

/**
 * The bound counts entities: `maxEntries` entity items in one LRU, as many absences in another
 * (so made-up ids never evict real entities), and their counter shards (lib/store/shards) in a third, bounded at 31 per entity (the most an entity
 * has), so a team read with its 7 other shards is one entity, not 8 entries, and shards never
 * push a caller's entities out.
 */
const SHARDS_PER_ENTITY = 31;
const isShard = (id: string): boolean => parseRefKey(id).SK.startsWith(SHARD_SK_PREFIX);

export interface LoaderOptions {
  ttlMs: number;
  negativeTtlMs: number;
  /** Entities kept (their counter shards beside them, see SHARDS_PER_ENTITY). */
  maxEntries: number;
}

export interface LoaderStats {
  hits: number;
  misses: number;
  /** Round trips to the source. */
  batches: number;
}

export class CachedLoader {
  readonly stats: LoaderStats = { hits: 0, misses: 0, batches: 0 };
  private readonly entities: LRUCache<string, Cached, ItemRef>;
  private readonly shards: LRUCache<string, Cached, ItemRef>;
  /**
   * Entities remembered as absent, apart: made-up credentials (anyone can send them) fill this
   * one and never push a real entity out of `entities`.
   */
  private readonly absences: LRUCache<string, Cached, ItemRef>;
  private readonly batcher: DataLoader<string, Cached>;

  constructor(
    private readonly source: BatchSource,
    private readonly options: LoaderOptions,
  ) {
    this.batcher = new DataLoader<string, Cached>((ids) => this.readBatch(ids), { cache: false, maxBatchSize: 100 });
    // Bounded by size (one per item), not by `max`: a `max` makes lru-cache allocate its whole
    // capacity up front (millions of slots for the shards' bound), at every instance's start.
    const lru = (bound: number) =>
      new LRUCache<string, Cached, ItemRef>({
        maxSize: bound,
        sizeCalculation: () => 1,
        ttl: Math.max(1, options.ttlMs),
        ttlAutopurge: false,
        // invalidate() during a read of the same item must not fail that read (lru-cache aborts it
        // by default): the reader gets what it read, and the cache does not keep it.
        ignoreFetchAbort: true,
        fetchMethod: async (id, _stale, { options: fetchOptions }) => {
          this.stats.misses++;
          // The TTL counts from before the read, not from its answer: a change written while the
          // read was in flight is served for at most the TTL, however slow the read.
          const started = performance.now();
          const value = await this.batcher.load(id);
          const ttl = value === ABSENT ? this.options.negativeTtlMs : this.options.ttlMs;
          fetchOptions.ttl = Math.max(1, ttl - (performance.now() - started));
          return value;
        },
      });
    this.entities = lru(Math.max(1, options.maxEntries));
    this.shards = lru(Math.max(1, options.maxEntries) * SHARDS_PER_ENTITY);
    this.absences = lru(Math.max(1, options.maxEntries));
  }

  private cacheOf(id: string): LRUCache<string, Cached, ItemRef> {
    return isShard(id) ? this.shards : this.entities;
  }

  /** What is cached for an item: the item, ABSENT, or undefined (not cached). */
  private cached(id: string): Cached | undefined {
    if (isShard(id)) return this.shards.get(id);
    return this.entities.get(id) ?? this.absences.get(id);
  }

  /** An entity read as absent moves to `absences`, with the TTL its read gave it. */
  private keepAbsence(id: string): void {
    if (isShard(id) || this.entities.get(id, { updateAgeOnGet: false }) !== ABSENT) return;
    const ttl = this.entities.getRemainingTTL(id);
    this.entities.delete(id);
    if (ttl > 0) this.absences.set(id, ABSENT, { ttl });
  }

  /** The item, or undefined when it does not exist. Throws StoreUnavailableError when the store fails. */
  async load(ref: ItemRef): Promise<Item | undefined> {
    const id = refKey(ref);
    const cached = this.cached(id);
    if (cached !== undefined) {
      this.stats.hits++;
      return cached === ABSENT ? undefined : cached;
    }
    try {
      const value = await this.cacheOf(id).fetch(id, { context: ref });
      if (value === ABSENT) this.keepAbsence(id);
      return value === ABSENT || value === undefined ? undefined : value;
    } catch (e) {
      if (isTollgateError(e)) throw e;
      logger().error('store read failed', { error: (e as Error).name });
      throw new StoreUnavailableError();
    }
  }

  /**
   * Loads several items; the misses among them are read in one round trip. When every item is
   * cached (the warm path of every authorization) it answers without a promise per item.
   */
  loadMany(refsToLoad: readonly (ItemRef | undefined)[]): Promise<(Item | undefined)[]> {
    const out: (Item | undefined)[] = new Array(refsToLoad.length);
    let hits = 0;
    for (let i = 0; i < refsToLoad.length; i++) {
      const ref = refsToLoad[i];
      if (!ref) continue;
      const id = refKey(ref);
      const cached = this.cached(id);
      if (cached === undefined) return Promise.all(refsToLoad.map((r) => (r ? this.load(r) : Promise.resolve(undefined))));
      out[i] = cached === ABSENT ? undefined : cached;
      hits++;
    }
    this.stats.hits += hits;
    return Promise.resolve(out);
  }

  /** Forgets one item (after a write in this instance). */
  /**
   * Replaces a cached item with what a write of ours made of it (`change`), keeping the entry's
   * remaining TTL: our own write is known without a read, and other instances' changes still
   * arrive within the TTL. An item not cached stays not cached; one cached as absent is replaced
   * by `created` when the write's result is fully known (a counter shard), else forgotten.
   */
  follow(ref: ItemRef, change: (item: Item) => Item, created?: () => Item): void {
    const id = refKey(ref);
    const cache = this.cacheOf(id);
    const absent = !isShard(id) && this.absences.has(id);
    const holder = absent ? this.absences : cache;
    const cached = holder.get(id, { updateAgeOnGet: false });
    if (cached === undefined) return;
    const ttl = holder.getRemainingTTL(id);
    if (ttl <= 0) return void holder.delete(id);
    if (cached === ABSENT) {
      holder.delete(id);
      if (created) cache.set(id, created(), { ttl });
      return;
    }
    cache.set(id, change(cached), { ttl });
  }

  invalidate(ref: ItemRef): void {
    const id = refKey(ref);
    this.cacheOf(id).delete(id);
    this.absences.delete(id);
  }

  clear(): void {
    this.entities.clear();
    this.shards.clear();
    this.absences.clear();
  }

  /** Entities cached (their counter shards not counted). */
  get size(): number {
    return this.entities.size;
  }

  private async readBatch(ids: readonly string[]): Promise<Cached[]> {
    this.stats.batches++;
    const toRead = ids.map(parseRefKey);
    const found = await this.source.getMany(toRead);
    return ids.map((id) => found.get(id) ?? ABSENT);
  }
}

/** BatchGetItem against the table, retrying unprocessed keys with a short backoff. */
export class DynamoBatchSource implements BatchSource {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
    private readonly consistentRead: boolean,
  ) {}

  getMany(refsToRead: readonly ItemRef[]): Promise<Map<string, Item>> {
    return traced('store.batchGet', async () => {
      const out = new Map<string, Item>();
      let pending: ItemRef[] = [...refsToRead];
      for (let attempt = 0; pending.length > 0; attempt++) {
        if (attempt > 0) {
          if (attempt > 5) throw new StoreUnavailableError();
          await new Promise((r) => setTimeout(r, 10 * 2 ** attempt));
        }
        const res = await this.client.send(
          new BatchGetCommand({
            RequestItems: { [this.tableName]: { Keys: pending.map(({ PK, SK }) => ({ PK, SK })), ConsistentRead: this.consistentRead } },
          }),
        );
        for (const item of res.Responses?.[this.tableName] ?? []) out.set(refKey(item as ItemRef), item);
        pending = (res.UnprocessedKeys?.[this.tableName]?.Keys as ItemRef[] | undefined) ?? [];
      }
      return out;
    });
  }
}
