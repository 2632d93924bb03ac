/** Which way a change moves a limit: the comparisons behind "authority only tightens". */
import { describe, expect, it } from 'vitest';
import { KEY_LIMIT_FIELDS, KEY_OTHER_FIELDS, keyFields } from '../../../lib/admin/actions/keys.js';
import { keyModelRules, modelGrowable, modelOutside } from '../../../lib/admin/rules/hierarchy.js';
import {
  dropLimitsDenial,
  limitsDenial,
  memberLimits,
  setterAfter,
  teamLimitsMoveDenial,
  userLimits,
} from '../../../lib/admin/rules/limits.js';
import { isUnrestricted, keyUnrestricted, type ModelCatalog } from '../../../lib/checks/models.js';
import { routesCovered } from '../../../lib/checks/route-access.js';
import {
  compareAllowed,
  compareCap,
  compareEnforcement,
  compareExpiry,
  compareModels,
  compareSpend,
  compareThresholds,
  compareWindow,
  loosened,
} from '../../../lib/domain/limits.js';

describe('compareCap: a lower cap is tighter; no cap is the loosest', () => {
  it.each([
    [10, 5, 'tighter'],
    [10, 10, 'same'],
    [10, 11, 'looser'],
    [0.00001, 9, 'looser'],
    [null, 5, 'tighter'],
    [undefined, 0, 'tighter'],
    [5, null, 'looser'],
    [null, undefined, 'same'],
  ] as const)('%s -> %s is %s', (current, next, want) => {
    expect(compareCap(current, next)).toBe(want);
  });
});

describe('compareExpiry: an earlier expiry is tighter; no expiry is the loosest', () => {
  const h1 = '2026-12-05T13:00:00.000Z';
  const h2 = '2026-12-05T14:00:00.000Z';
  it.each([
    [h2, h1, 'tighter'],
    [h1, h2, 'looser'],
    [h1, null, 'looser'],
    [null, h1, 'tighter'],
    [null, null, 'same'],
    [h1, h1, 'same'],
    ['not a time', h1, 'looser'],
  ] as const)('%s -> %s is %s', (current, next, want) => {
    expect(compareExpiry(current, next)).toBe(want);
  });
});

describe('compareWindow: a lifetime budget is the tightest; a longer window resets less often', () => {
  it.each([
    ['1d', '30d', 'tighter'],
    ['30d', '1d', 'looser'],
    ['1d', null, 'tighter'],
    [null, '1mo', 'looser'],
    ['24h', '1d', 'same'],
    ['1w', '7d', 'same'],
    [null, null, 'same'],
  ] as const)('%s -> %s is %s', (current, next, want) => {
    expect(compareWindow(current, next)).toBe(want);
  });
});

describe('compareWindow: a calendar window is as short as its shortest month, as long as its longest', () => {
  it.each([
    ['30d', '1mo', 'looser'], // February's window is 28 days: it resets sooner
    ['28d', '1mo', 'tighter'],
    ['1mo', '31d', 'tighter'],
    ['1mo', '30d', 'looser'],
    ['1mo', '4w', 'looser'],
    ['1mo', '1mo', 'same'],
    ['2mo', '2mo', 'same'],
    ['1mo', '2mo', 'tighter'],
    ['2mo', '1mo', 'looser'],
    ['2mo', '62d', 'tighter'], // July and August
    ['2mo', '61d', 'looser'],
    ['12mo', '365d', 'looser'], // a leap year is 366 days
    ['12mo', '366d', 'tighter'],
    ['365d', '12mo', 'tighter'],
    ['1mo', null, 'tighter'],
  ] as const)('%s -> %s is %s', (current, next, want) => {
    expect(compareWindow(current, next)).toBe(want);
  });
});

describe('compareEnforcement: strict > the proxy default > fast', () => {
  it.each([
    [null, 'strict', 'tighter'],
    ['fast', null, 'tighter'],
    ['strict', 'fast', 'looser'],
    ['strict', null, 'looser'],
    [null, 'fast', 'looser'],
    ['strict', 'strict', 'same'],
  ] as const)('%s -> %s is %s', (current, next, want) => {
    expect(compareEnforcement(current, next)).toBe(want);
  });
});

describe('compareModels: a list within the current one is tighter; every model is the loosest', () => {
  const rules = {
    unrestricted: isUnrestricted,
    outside: (c: readonly string[] | null | undefined, p: readonly string[] | null | undefined) => modelOutside(c, p),
  };
  it.each([
    [['gpt-4o-mini'], ['gpt-4o'], 'looser'],
    [['gpt-4o-mini'], ['gpt-4o-mini', 'gpt-4o'], 'looser'],
    [['gpt-4o-mini', 'gpt-4o'], ['gpt-4o-mini'], 'tighter'],
    [['gpt-4o*'], ['gpt-4o-mini'], 'tighter'],
    [[], ['gpt-4o-mini'], 'tighter'],
    [['gpt-4o-mini'], [], 'looser'],
    [['gpt-4o-mini'], ['all-proxy-models'], 'looser'],
    [['b', 'a'], ['a', 'b'], 'same'],
    [[], ['all-proxy-models'], 'same'],
  ] as const)('%j -> %j is %s', (current, next, want) => {
    expect(compareModels(current, next, rules)).toBe(want);
  });
});

describe('compareModels: lists compare as sets, duplicates and order change nothing', () => {
  const rules = {
    unrestricted: keyUnrestricted,
    outside: (c: readonly string[] | null | undefined, p: readonly string[] | null | undefined) => modelOutside(c, p),
  };
  it.each([
    [['gpt-4o-mini'], ['gpt-4o-mini', 'gpt-4o-mini'], 'same'],
    [['gpt-4o-mini', 'gpt-4o-mini'], ['gpt-4o-mini'], 'same'],
    [['a', 'b', 'b'], ['b', 'a', 'a'], 'same'],
    [['gpt-4o-mini', 'gpt-4o-mini'], ['gpt-4o-mini', 'all-proxy-models'], 'looser'],
    [['gpt-4o-mini', 'gpt-4o-mini'], ['gpt-4o-mini', 'all-team-models'], 'looser'],
    [['gpt-4o-mini', 'gpt-4o-mini'], ['gpt-4o-mini', 'gpt-4o'], 'looser'],
    [['a', 'b'], ['b', 'b'], 'tighter'],
  ] as const)('%j -> %j is %s', (current, next, want) => {
    expect(compareModels(current, next, rules)).toBe(want);
  });
});

describe('compareModels: a new access group or alias loosens, whatever it holds now (an admin can grow it)', () => {
  const catalog: ModelCatalog = {
    aliases: new Map([['fast', 'gpt-4o-mini']]),
    accessGroups: new Map([['cheap', ['gpt-4o-mini']]]),
  };
  // As a key's update judges them (lib/admin/actions/keys).
  const rules = keyModelRules(catalog);
  it.each([
    [['gpt-4o-mini', 'gpt-4o'], ['cheap'], 'looser'],
    [['gpt-4o-mini'], ['cheap'], 'looser'],
    [['gpt-4o-mini'], ['fast'], 'looser'],
    [['gpt-4o*'], ['cheap'], 'looser'],
    [['gpt-4o-mini', 'gpt-4o'], ['gpt-4o-mini'], 'tighter'], // a literal model name stays tighter
    [['cheap', 'gpt-4o'], ['cheap'], 'tighter'], // a group already there adds nothing new
    [['fast', 'gpt-4o'], ['fast', 'fast'], 'tighter'],
    [[], ['cheap'], 'tighter'], // within every model, however it grows
    [['all-proxy-models'], ['fast'], 'tighter'],
    [['all-team-models'], ['gpt-4o-mini'], 'tighter'], // the team's models, whatever they are, then fewer
    [['all-team-models'], ['cheap'], 'tighter'],
    // A model named in place of a group or alias that holds it now (found by review): pinned, it
    // would stay allowed once an admin took it out of the group, or re-pointed the alias.
    [['cheap'], ['gpt-4o-mini'], 'looser'],
    [['fast'], ['gpt-4o-mini'], 'looser'],
    [['cheap', 'gpt-4o'], ['gpt-4o-mini', 'gpt-4o'], 'looser'],
  ] as const)('%j -> %j is %s', (current, next, want) => {
    expect(compareModels(current, next, rules)).toBe(want);
  });
  it('only groups and aliases grow', () => {
    expect(['cheap', 'fast', 'gpt-4o-mini', 'gpt-4o*'].map((e) => modelGrowable(e, catalog))).toEqual([true, true, false, false]);
  });
});

describe('compareThresholds and compareAllowed: duplicates change nothing', () => {
  it.each([
    [[50], [50, 50], 'same'],
    [[50, 50, 80], [80, 50], 'same'],
    [[50, 80], [80, 80], 'looser'],
    [[50, 50], [50, 80, 80], 'tighter'],
  ] as const)('thresholds %j -> %j is %s', (current, next, want) => {
    expect(compareThresholds(current, next, [])).toBe(want);
  });
  it('allowed routes', () => {
    const same = compareAllowed(routesCovered(['/chat/completions']), routesCovered(['/chat/completions', '/chat/completions']));
    expect(same).toBe('same');
  });
});

describe('limitsDenial: less authority than the setter may only tighten', () => {
  const loosen = { max_budget: 'looser', models: 'same' } as const;
  const tighten = { max_budget: 'tighter', models: 'tighter' } as const;
  it("an owner may not loosen a proxy admin's limits, and the denial names every loosened field", () => {
    const d = limitsDenial('owner', 'proxy_admin', 'key `sk-...abcd`', { max_budget: 'looser', models: 'looser', duration: 'tighter' });
    expect(d?.code).toBe('forbidden');
    expect(d?.message).toBe(
      'the limits of key `sk-...abcd` were set by a proxy admin: its owner may only make them stricter, and this change loosens `max_budget`, `models`',
    );
  });
  it('an owner may tighten them; the setter stays the proxy admin', () => {
    expect(limitsDenial('owner', 'proxy_admin', 'k', tighten)).toBeUndefined();
    expect(setterAfter('owner', 'proxy_admin', tighten)).toBe('proxy_admin');
  });
  it('a team admin may not loosen what a proxy admin set; a proxy admin may loosen anything', () => {
    expect(limitsDenial('team_admin', 'proxy_admin', 'k', loosen)?.code).toBe('forbidden');
    expect(limitsDenial('proxy_admin', 'proxy_admin', 'k', loosen)).toBeUndefined();
    expect(limitsDenial('proxy_admin', 'owner', 'k', loosen)).toBeUndefined();
  });
  it('limits an owner set itself, the owner may loosen; once a proxy admin changes them they are its', () => {
    expect(limitsDenial('owner', 'owner', 'k', loosen)).toBeUndefined();
    expect(setterAfter('proxy_admin', 'owner', loosen)).toBe('proxy_admin');
    expect(setterAfter('proxy_admin', 'owner', { max_budget: 'same' })).toBe('owner');
  });
  it('limits of unknown origin (made before their setter was recorded) count as a proxy admin’s', () => {
    expect(limitsDenial('owner', undefined, 'k', loosen)?.code).toBe('forbidden');
    expect(limitsDenial('team_admin', null, 'k', loosen)?.code).toBe('forbidden');
  });
  it('loosened lists the loosened fields in order', () => {
    expect(loosened({ a: 'looser', b: 'same', c: 'tighter', d: 'looser' })).toEqual(['a', 'd']);
  });
});

describe('every field a key takes is classified: a limit, or not one for a stated reason', () => {
  it('a field added to /key/generate or /key/update fails here until it is classified', () => {
    const classified = [...KEY_LIMIT_FIELDS, ...Object.keys(KEY_OTHER_FIELDS)].sort();
    expect(Object.keys(keyFields).sort()).toEqual(classified);
    expect(KEY_LIMIT_FIELDS.filter((f) => f in KEY_OTHER_FIELDS)).toEqual([]);
  });
});

describe('compareSpend', () => {
  it.each([
    [1, 1, 'same'],
    [1, 2, 'tighter'],
    [1, 0, 'looser'],
    [0, 0.5, 'tighter'],
  ] as const)('from %s to %s: %s', (current, next, direction) => {
    expect(compareSpend(current, next)).toBe(direction);
  });
});

describe('dropLimitsDenial: dropping limits whole (removing a member, moving a key off them) needs the setter’s authority', () => {
  const member = { team_id: 't', user_id: 'u', role: 'user' as const, created_at: '' };
  it('refuses less authority than the setter when a limit is set', () => {
    const denial = dropLimitsDenial('team_admin', 'proxy_admin', memberLimits({ ...member, rpm_limit: 5 }), 'member `u`', 'remove them');
    expect(denial?.message).toBe(
      'member `u` has limits a proxy admin set: only a proxy admin may remove them (a team admin may only make them stricter)',
    );
    expect(dropLimitsDenial('owner', 'team_admin', [1], 'x', 'y')?.message).toContain('only a proxy admin or a team admin may y');
  });
  it('allows as much authority, and nothing set', () => {
    expect(dropLimitsDenial('proxy_admin', 'proxy_admin', [1], 'x', 'y')).toBeUndefined();
    expect(dropLimitsDenial('team_admin', 'team_admin', [1], 'x', 'y')).toBeUndefined();
    expect(dropLimitsDenial('team_admin', 'proxy_admin', memberLimits(member), 'x', 'y')).toBeUndefined();
    expect(dropLimitsDenial('owner', undefined, [null, undefined, []], 'x', 'y')).toBeUndefined();
  });
  it('a setter not recorded is a proxy admin', () => {
    expect(dropLimitsDenial('team_admin', undefined, [0], 'x', 'y')).toBeDefined();
  });
  it('a user’s budget and models govern only personal keys; rate limits every key', () => {
    const user = { user_id: 'u', user_role: 'internal_user' as const, created_at: '', max_budget: 1, models: ['gpt-4o'] };
    expect(dropLimitsDenial('owner', 'proxy_admin', userLimits(user, false), 'x', 'y')).toBeUndefined();
    expect(dropLimitsDenial('owner', 'proxy_admin', userLimits(user, true), 'x', 'y')).toBeDefined();
    expect(dropLimitsDenial('owner', 'proxy_admin', userLimits({ ...user, tpm_limit: 9 }, false), 'x', 'y')).toBeDefined();
  });
});

describe('teamLimitsMoveDenial: limits a team admin set bind whoever has less authority over that team', () => {
  it('refuses an owner moving a key with a team admin’s limits, naming the team', () => {
    expect(teamLimitsMoveDenial('owner', 'team_admin', [1], 'key `k`', 't1')?.message).toBe(
      'the limits of key `k` were set by an admin of team `t1`: only a proxy admin or an admin of team `t1` may move it to another team (its owner may only make them stricter)',
    );
    expect(teamLimitsMoveDenial('owner', 'team_admin', [1], 'key `k`', null)?.message).toContain('only a proxy admin may move it');
  });
  it('allows the team’s admin and a proxy admin, a key with no limits, and limits not a team admin’s', () => {
    expect(teamLimitsMoveDenial('team_admin', 'team_admin', [1], 'k', 't1')).toBeUndefined();
    expect(teamLimitsMoveDenial('proxy_admin', 'team_admin', [1], 'k', 't1')).toBeUndefined();
    expect(teamLimitsMoveDenial('owner', 'team_admin', [null, undefined, []], 'k', 't1')).toBeUndefined();
    expect(teamLimitsMoveDenial('owner', 'owner', [1], 'k', 't1')).toBeUndefined();
    expect(teamLimitsMoveDenial('owner', 'proxy_admin', [1], 'k', 't1')).toBeUndefined();
  });
});
