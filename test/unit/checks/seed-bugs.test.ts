/**
 * The two bugs of the seed (LiteLLM's auth_checks.py), each with a test that would have caught it.
 */
import { describe, expect, it } from 'vitest';
import { hashKey, keyName } from '../../../lib/auth/keys.js';
import { decide } from '../../../lib/authorizer/decide.js';
import { checkOrganizationBudget, checkUserBudget, runChecks } from '../../../lib/checks/checks.js';
import { encode, type Item } from '../../../lib/store/codec.js';
import { EntityReader } from '../../../lib/store/entities.js';
import { type ItemRef, refKey } from '../../../lib/store/keys.js';
import { type BatchSource, CachedLoader } from '../../../lib/store/loader.js';
import { CREATED, defaultSettings, input, keyCaller, keyRecord, NOW, orgRecord, teamRecord, userRecord } from './fixtures.js';

describe('seed bug: LiteLLM’s user-budget check compared backwards (under budget blocked, over budget passed)', () => {
  const personal = (spend: number) => keyCaller({ user: userRecord({ max_budget: 10, spend }) });

  it('a user under budget passes', () => {
    expect(checkUserBudget(input({ caller: personal(9.99) }))).toBeUndefined();
    expect(runChecks(input({ caller: personal(0) }))).toBeUndefined();
  });

  it('a user at budget is denied with user_budget_exceeded', () => {
    expect(runChecks(input({ caller: personal(10) }))).toMatchObject({
      status: 403,
      code: 'user_budget_exceeded',
      message: 'user `u-1` spent 10.00 of its 10.00 budget',
    });
  });

  it('a user over budget is denied with user_budget_exceeded', () => {
    expect(runChecks(input({ caller: personal(12) }))?.code).toBe('user_budget_exceeded');
  });
});

/** An in-memory table behind the real cached loader: counts round trips like DynamoDB would. */
class MemorySource implements BatchSource {
  readonly items = new Map<string, Item>();
  reads = 0;
  put(item: Item) {
    this.items.set(refKey(item as unknown as ItemRef), item);
  }
  async getMany(refs: readonly ItemRef[]): Promise<Map<string, Item>> {
    this.reads++;
    await new Promise((r) => setTimeout(r, 1)); // a real round trip is never synchronous
    const out = new Map<string, Item>();
    for (const ref of refs) {
      const item = this.items.get(refKey(ref));
      if (item) out.set(refKey(ref), item);
    }
    return out;
  }
}

describe('seed bug: LiteLLM’s org lookup never awaited its cache, so the org budget was silently skipped', () => {
  it('pure: an organization reached only through the team, over budget, is denied', () => {
    const caller = keyCaller({
      key: keyRecord({ team_id: 't-1', organization_id: null }),
      team: teamRecord({ organization_id: 'o-1' }),
      org: orgRecord({ max_budget: 100, spend: 100 }),
    });
    expect(checkOrganizationBudget(input({ caller }))).toMatchObject({
      code: 'organization_budget_exceeded',
      message: 'organization `o-1` spent 100.00 of its 100.00 budget',
    });
  });

  it('through the cached store: denied cold and again warm (from cache), key without organization_id', async () => {
    const key = 'sk-seedbugorgthroughteam0001';
    const source = new MemorySource();
    source.put(encode.key(keyRecord({ token: hashKey(key), key_name: keyName(key), team_id: 't-1', organization_id: null })));
    source.put(encode.team(teamRecord({ organization_id: 'o-1' })));
    source.put(encode.org(orgRecord({ max_budget: 100, spend: 250 })));
    const loader = new CachedLoader(source, { ttlMs: 60_000, negativeTtlMs: 60_000, maxEntries: 100 });
    const deps = { reader: new EntityReader(loader), masterKey: async () => undefined };
    const req = { method: 'POST', path: '/v1/chat/completions', headers: { Authorization: `Bearer ${key}` } };

    const cold = await decide(req, deps, defaultSettings(), NOW);
    expect(cold).toMatchObject({
      effect: 'deny',
      error: { code: 'organization_budget_exceeded', message: 'organization `o-1` spent 250.00 of its 100.00 budget' },
    });
    const readsCold = source.reads;

    // The seed's bug bit on the cache path: the warm decision must read the org from cache and still deny.
    const warm = await decide(req, deps, defaultSettings(), NOW);
    expect(warm).toMatchObject({ effect: 'deny', error: { code: 'organization_budget_exceeded' } });
    expect(source.reads).toBe(readsCold);
  });

  it('through the cached store: the same org under budget allows', async () => {
    const key = 'sk-seedbugorgthroughteam0002';
    const source = new MemorySource();
    source.put(encode.key(keyRecord({ token: hashKey(key), key_name: keyName(key), team_id: 't-1' })));
    source.put(encode.team(teamRecord({ organization_id: 'o-1' })));
    source.put(encode.org(orgRecord({ max_budget: 100, spend: 99.99, created_at: CREATED })));
    const deps = {
      reader: new EntityReader(new CachedLoader(source, { ttlMs: 60_000, negativeTtlMs: 60_000, maxEntries: 100 })),
      masterKey: async () => undefined,
    };
    const decision = await decide(
      { method: 'POST', path: '/v1/chat/completions', headers: { 'x-api-key': key } },
      deps,
      defaultSettings(),
      NOW,
    );
    expect(decision.effect).toBe('allow');
  });
});
