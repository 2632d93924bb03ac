/** Which mode a request runs in: strict when key, team or organization says so; else the default, unless one says fast. */
import { describe, expect, it } from 'vitest';
import { enforcementOf } from '../../../lib/domain/enforcement.js';
import type { EnforcementMode } from '../../../lib/domain/records.js';

const at = '2026-01-01T00:00:00Z';
const state = (key?: EnforcementMode | null, team?: EnforcementMode | null, org?: EnforcementMode | null) => ({
  key: { token: 'k', key_name: 'sk-...k', created_at: at, enforcement: key },
  team: { team_id: 't', created_at: at, enforcement: team },
  org: { organization_id: 'o', created_at: at, enforcement: org },
});

describe('enforcementOf', () => {
  it.each([
    [null, null, null, 'fast', 'fast'],
    [null, null, null, 'strict', 'strict'],
    ['strict', null, null, 'fast', 'strict'],
    [null, 'strict', null, 'fast', 'strict'],
    [null, null, 'strict', 'fast', 'strict'],
    ['fast', null, 'strict', 'fast', 'strict'],
    ['fast', null, null, 'strict', 'fast'],
    [null, 'fast', 'fast', 'strict', 'fast'],
  ] as const)('key %s, team %s, org %s, default %s: %s', (key, team, org, fallback, mode) => {
    expect(enforcementOf(state(key, team, org), fallback)).toBe(mode);
  });

  it('a caller with none of the three (master key, a JWT without team) takes the default', () => {
    expect(enforcementOf({}, 'strict')).toBe('strict');
  });
});
