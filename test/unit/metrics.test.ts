/** The llm function's metrics: one EMF record per call with the model as dimension; denials by code. */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

let lines: string[] = [];
beforeEach(() => {
  vi.stubEnv('POWERTOOLS_METRICS_DISABLED', 'false');
  lines = [];
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    lines.push(String(chunk));
    return true;
  });
  vi.resetModules();
});
afterEach(() => {
  vi.restoreAllMocks();
  vi.unstubAllEnvs();
});

const emf = () =>
  lines
    .flatMap((l) => l.split('\n'))
    .filter((l) => l.includes('"_aws"'))
    .map((l) => JSON.parse(l) as Record<string, any>);

describe('metrics', () => {
  it('a call: Requests, SpendUsd and tokens, by model', async () => {
    const { callMetrics } = await import('../../lib/metrics.js');
    await callMetrics({
      model: 'gpt-4o-mini',
      spendUsd: 0.00000195,
      inputTokens: 1,
      outputTokens: 3,
      addedMs: 2.5,
      cache: { hits: 10, misses: 2 },
    });
    await callMetrics({ model: 'gpt-4o-mini', spendUsd: 0, inputTokens: 0, outputTokens: 0, cache: { hits: 15, misses: 2 } });
    const [record, cache, , cache2] = emf();
    expect(record?.AddedLatency).toBe(2.5);
    // The entity cache's hits and misses since the last record: a ratio by metric math.
    expect([cache?.CacheHits, cache?.CacheMisses, cache2?.CacheHits, cache2?.CacheMisses]).toEqual([10, 2, 5, 0]);
    expect(record?._aws.CloudWatchMetrics[0].Namespace).toBe('Tollgate');
    expect(record?._aws.CloudWatchMetrics[0].Dimensions[0]).toContain('model');
    expect(record).toMatchObject({ model: 'gpt-4o-mini', Requests: 1, SpendUsd: 0.00000195, InputTokens: 1, OutputTokens: 3 });
  });

  it('a denial, by its code', async () => {
    const { denialMetric } = await import('../../lib/metrics.js');
    await denialMetric('key_rpm_exceeded');
    expect(emf()[0]).toMatchObject({ code: 'key_rpm_exceeded', Denials: 1 });
  });
});
