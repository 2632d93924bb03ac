/** Spend logs as stored (compact) and read back (every field), tags, days and rollup rows. */
import { describe, expect, it } from 'vitest';
import {
  daysBetween,
  packLog,
  requestTags,
  rollupRowsOf,
  type SpendLog,
  secretTagIndex,
  unpackLog,
} from '../../../lib/domain/spend-log.js';

const log: SpendLog = {
  request_id: 'r-1',
  call_type: '/v1/chat/completions',
  model: 'gpt-4o-mini',
  model_group: 'mini',
  api_key: 'ab',
  key_alias: null,
  user: 'u',
  team_id: null,
  organization_id: null,
  end_user: null,
  prompt_tokens: 1,
  completion_tokens: 3,
  total_tokens: 4,
  spend: 0.00000195,
  usage_source: 'reported',
  startTime: '2026-12-05T10:00:00.000Z',
  endTime: '2026-12-05T10:00:01.000Z',
  status: 'success',
  request_tags: [],
};

describe('spend logs', () => {
  it('are stored without null or empty fields and read back whole', () => {
    const packed = packLog(log);
    expect(packed).not.toContain('null');
    expect(packed).not.toContain('request_tags');
    expect(unpackLog(packed)).toEqual(log);
    expect(packed.length).toBeLessThan(JSON.stringify(log).length);
  });
  it('a text that is no log is refused when read back, never read as a log of defaults', () => {
    const packed = JSON.parse(packLog(log)) as Record<string, unknown>;
    const without = (field: string) => JSON.stringify({ ...packed, [field]: undefined });
    for (const text of ['not json', 'null', '[]', '"text"', '5', without('request_id'), without('startTime')])
      expect(() => unpackLog(text), text).toThrow();
    expect(() => unpackLog(JSON.stringify({ ...packed, request_id: 5 }))).toThrow('request_id');
    expect(() => unpackLog(JSON.stringify({ ...packed, startTime: 'yesterday' }))).toThrow('startTime');
  });
  it('tags: body, then key, then team; strings only, each once, bounded', () => {
    expect(requestTags({ metadata: { tags: ['a', 'b', 1] } }, { tags: ['b', 'c'] }, { tags: 'x' })).toEqual(['a', 'b', 'c']);
    expect(requestTags(undefined, undefined, { tags: Array.from({ length: 30 }, (_, i) => `t${i}`) })).toHaveLength(20);
    expect(requestTags({ metadata: { tags: ['x'.repeat(129)] } }, null, null)).toEqual([]);
  });
  it('rows: the model, and every group the log names', () => {
    expect(rollupRowsOf({ ...log, team_id: 't', request_tags: ['n'] }).map((r) => r.group)).toEqual([
      'model',
      'api_key',
      'user',
      'team',
      'tag',
    ]);
  });
  it.each([
    ['2026-12-01', '2026-12-03', 3],
    ['2026-12-03', '2026-12-01', undefined],
    ['2026-02-28', '2026-03-01', 2],
    ['not', '2026-03-01', undefined],
    ['2026-02-30', '2026-03-05', undefined],
    ['2026-03-01', '2026-04-31', undefined],
    ['2028-02-29', '2028-03-01', 2],
  ] as const)('days %s..%s', (a, b, n) => {
    expect(daysBetween(a, b)?.length).toBe(n);
  });
});

describe('tags never hold a secret', () => {
  const JWT = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1LTEifQ.c2lnbmF0dXJl';
  it('secretTagIndex names the first tag that looks like a key or token', () => {
    expect(secretTagIndex(['prod', `Bearer ${JWT}`, 'sk-Zq3vQm8TnR2pL5xW7yK9bC1dF4gH6jA0'])).toBe(1);
    expect(secretTagIndex(['prod', 'team-a'])).toBeUndefined();
    expect(secretTagIndex('prod')).toBeUndefined();
  });
  it('a key or team metadata tag that looks like one is left out of the log', () => {
    expect(requestTags({}, { tags: ['a', JWT] }, { tags: ['https://x.org/h?token=abc123', 'b'] })).toEqual(['a', 'b']);
  });
});
