import { describe, expect, it } from 'vitest';
import { configureApp } from '../../../lib/app/index.js';
import type { ModelRecord } from '../../../lib/domain/records.js';
import { buildSnapshot, ModelRegistry, type ModelSource, modelRecordProblem } from '../../../lib/registry/registry.js';

configureApp({ config: { TOLLGATE_LOG_LEVEL: 'SILENT' } });

const m = (name: string, extra: Partial<ModelRecord> = {}): ModelRecord => ({
  model_name: name,
  upstream_base_url: 'http://127.0.0.1:9/v1',
  upstream_model: name,
  input_cost_per_million: 1,
  output_cost_per_million: 2,
  created_at: '2025-01-01T00:00:00Z',
  ...extra,
});

describe('resolving a requested name', () => {
  const snap = buildSnapshot([
    m('gpt-4o', { aliases: ['gpt-4o-2024-08-06', 'latest'] }),
    m('gpt-4o-mini', { aliases: ['latest', 'gpt-4o'] }),
  ]);

  it('finds a model by its public name, then by alias', () => {
    expect(snap.resolve('gpt-4o-mini')?.model_name).toBe('gpt-4o-mini');
    expect(snap.resolve('gpt-4o-2024-08-06')?.model_name).toBe('gpt-4o');
    expect(snap.resolve('nope')).toBeUndefined();
  });

  it('never lets an alias shadow a public name; a shared alias goes to the first model by name', () => {
    expect(snap.resolve('gpt-4o')?.model_name).toBe('gpt-4o');
    expect(Object.fromEntries(snap.catalog.aliases)).toEqual({ 'gpt-4o-2024-08-06': 'gpt-4o', latest: 'gpt-4o' });
  });

  it('does not treat inherited object keys as aliases', () => {
    expect(snap.resolve('constructor')).toBeUndefined();
    expect(snap.resolve('__proto__')).toBeUndefined();
  });

  it('gathers access groups into the catalog', () => {
    const s = buildSnapshot([m('a', { access_groups: ['g1', 'g2'] }), m('b', { access_groups: ['g2'] })]);
    expect(Object.fromEntries(s.catalog.accessGroups)).toEqual({ g1: ['a'], g2: ['a', 'b'] });
  });

  it('lists models sorted by name', () => {
    expect(buildSnapshot([m('b'), m('a'), m('c')]).models.map((x) => x.model_name)).toEqual(['a', 'b', 'c']);
  });
});

describe('records the function cannot use are left out', () => {
  it.each([
    ['a negative price', { input_cost_per_million: -1 }, 'prices must be numbers >= 0'],
    ['a missing price', { output_cost_per_million: undefined as unknown as number }, 'prices must be numbers >= 0'],
    ['a non-http base URL', { upstream_base_url: 'file:///etc/passwd' }, 'upstream_base_url must be an http(s) URL'],
    ['an unparsable base URL', { upstream_base_url: 'not a url' }, 'upstream_base_url must be an http(s) URL'],
    ['a base URL with a query', { upstream_base_url: 'https://up.example/v1?api-key=k' }, /^upstream_base_url must have no query/],
    ['a base URL with an empty query', { upstream_base_url: 'https://up.example/v1?' }, /^upstream_base_url must have no query/],
    ['a base URL with a fragment', { upstream_base_url: 'https://up.example/v1#k' }, /^upstream_base_url must have no query/],
    ['a base URL with credentials', { upstream_base_url: 'https://u:k@up.example/v1' }, /^upstream_base_url must not carry credentials/],
    [
      'an Anthropic base URL with a query',
      { provider: 'anthropic' as const, upstream_base_url: 'https://up.example?k=1' },
      /^upstream_base_url must have no query/,
    ],
    ['no upstream model', { upstream_model: '' }, 'no upstream_model'],
  ])('%s', (_, patch, problem) => {
    expect(modelRecordProblem(m('x', patch))).toMatch(problem);
    expect(buildSnapshot([m('x', patch), m('y')]).models.map((r) => r.model_name)).toEqual(['y']);
  });
});

class CountingSource implements ModelSource {
  calls = 0;
  records: ModelRecord[] = [m('one')];
  fail = false;
  async listModels(): Promise<ModelRecord[]> {
    this.calls++;
    await new Promise((r) => setTimeout(r, 5));
    if (this.fail) throw new Error('store down');
    return this.records;
  }
}

describe('ModelRegistry caching', () => {
  it('reads once per TTL, and concurrent misses share one read', async () => {
    let now = 1_000;
    const source = new CountingSource();
    const registry = new ModelRegistry(source, { ttlMs: 10_000, clock: () => now });
    await Promise.all([registry.snapshot(), registry.snapshot(), registry.snapshot()]);
    expect(source.calls).toBe(1);
    now += 9_999;
    await registry.snapshot();
    expect(source.calls).toBe(1);
    source.records = [m('one'), m('two')];
    now += 1;
    expect((await registry.snapshot()).models).toHaveLength(2);
    expect(source.calls).toBe(2);
  });

  it('reads again after invalidate()', async () => {
    const source = new CountingSource();
    const registry = new ModelRegistry(source, { ttlMs: 10_000 });
    await registry.snapshot();
    registry.invalidate();
    await registry.snapshot();
    expect(source.calls).toBe(2);
  });

  it('does not cache a failed read', async () => {
    const source = new CountingSource();
    source.fail = true;
    const registry = new ModelRegistry(source, { ttlMs: 10_000 });
    await expect(registry.snapshot()).rejects.toThrow('store down');
    source.fail = false;
    expect((await registry.snapshot()).models).toHaveLength(1);
  });
});
