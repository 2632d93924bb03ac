/**
 * The scopes a spend log is indexed under are the ones `/spend/logs` lists by: an index item no
 * route reads costs a write unit per request for nothing (the organization's, found by review).
 */
import { describe, expect, it } from 'vitest';
import type { SpendLog } from '../../../lib/domain/spend-log.js';
import { logScopes } from '../../../lib/store/spend-logs.js';

const log = {
  request_id: 'r-1',
  startTime: '2026-12-06T10:00:00.000Z',
  api_key: 'hash',
  user: 'u-1',
  team_id: 't-1',
  organization_id: 'o-1',
  end_user: 'c-1',
} as SpendLog;

describe('logScopes', () => {
  it('a log with every owner: the day, key, user, team and end user, never the organization', () => {
    expect(logScopes(log)).toEqual([
      ['all', '2026-12-06'],
      ['key', 'hash'],
      ['user', 'u-1'],
      ['team', 't-1'],
      ['end_user', 'c-1'],
    ]);
  });

  it('a log with none: the day only', () => {
    expect(logScopes({ request_id: 'r-2', startTime: '2026-12-06T10:00:00.000Z', organization_id: 'o-1' } as SpendLog)).toEqual([
      ['all', '2026-12-06'],
    ]);
  });
});
