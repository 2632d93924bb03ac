/**
 * Model access: exact names, globs (`*` only), `all-proxy-models`, access groups and aliases;
 * effective models are the intersection of every restricting entity's list.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkModelAccess } from '../../../lib/checks/checks.js';
import {
  effectiveModels,
  globMatch,
  listAllows,
  type ModelCatalog,
  requestedModels,
  resolveAlias,
  restrictionsOf,
} from '../../../lib/checks/models.js';
import { ModelNotAllowedError } from '../../../lib/errors.js';
import { matchRoute } from '../../../lib/routes.js';
import { input, keyCaller, keyRecord, orgRecord, teamRecord, userRecord } from './fixtures.js';

describe('list entries: exact names and globs, `*` the only pattern character', () => {
  it.each<[list: string[], model: string, allowed: boolean]>([
    [['gpt-4o'], 'gpt-4o', true],
    [['gpt-4o'], 'gpt-4o-mini', false],
    [['gpt-4o'], 'GPT-4o', false],
    [['openai/*'], 'openai/gpt-4o', true],
    [['openai/*'], 'openai/org/ft-model', true],
    [['openai/*'], 'anthropic/claude-3', false],
    [['openai/*'], 'openai', false],
    [['gpt-4o*'], 'gpt-4o', true],
    [['gpt-4o*'], 'gpt-4o-mini', true],
    [['gpt-4o*'], 'gpt-4', false],
    [['*-mini'], 'gpt-4o-mini', true],
    [['*'], 'anything/at-all', true],
    [['gpt-?o'], 'gpt-4o', false],
    [['gpt-?o'], 'gpt-?o', true],
    [['gpt-[45]o'], 'gpt-4o', false],
    [['gpt-[45]o'], 'gpt-[45]o', true],
    [['gpt.4o'], 'gpt-4o', false],
    [['gpt.4o*'], 'gpt-4o-mini', false],
    [['gpt-4o+'], 'gpt-4oo', false],
    [['all-proxy-models'], 'whatever', true],
    [[], 'whatever', true],
    [['gpt-4o', 'claude-*'], 'claude-3-opus', true],
  ])('%j allows %s: %s', (list, model, allowed) => {
    expect(listAllows(list, model)).toBe(allowed);
  });

  it('null and undefined lists are unrestricted', () => {
    expect(listAllows(null, 'x')).toBe(true);
    expect(listAllows(undefined, 'x')).toBe(true);
  });
});

describe('globMatch against a reference (escape everything, `*` -> `.*`)', () => {
  const reference = (pattern: string, name: string) =>
    new RegExp(
      `^${pattern
        .split('*')
        .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
        .join('.*')}$`,
      's',
    ).test(name);
  // A small alphabet so patterns and names collide often; every regex-special character included.
  const chars = fc.constantFrom('a', 'b', '-', '/', '*', '.', '?', '[', ']', '(', '\\', '^', '$', '+', '|', '{', '\n');
  const text = fc.string({ unit: chars, maxLength: 12 });

  it('agrees on random patterns and names', () => {
    fc.assert(
      fc.property(text, text, (pattern, name) => globMatch(pattern, name) === reference(pattern, name)),
      { numRuns: 5000 },
    );
  });

  it('agrees on names built from the pattern (so matches are frequent)', () => {
    const fill = fc.string({ unit: chars, maxLength: 4 });
    fc.assert(
      fc.property(text, fc.array(fill, { maxLength: 6 }), (pattern, fills) => {
        const name = pattern.split('*').reduce((acc, part, i) => acc + (i > 0 ? (fills[i - 1] ?? '') : '') + part, '');
        return globMatch(pattern, name) === reference(pattern, name);
      }),
      { numRuns: 2000 },
    );
  });
});

describe('key ∩ team', () => {
  const caller = (keyModels: string[], teamModels: string[]) =>
    keyCaller({ key: keyRecord({ models: keyModels, team_id: 't-1' }), team: teamRecord({ models: teamModels }) });
  const check = (keyModels: string[], teamModels: string[], model: string) =>
    checkModelAccess(input({ caller: caller(keyModels, teamModels), body: { models: [model] } }));

  it('allowed by both passes', () => {
    expect(check(['gpt-4o', 'gpt-4o-mini'], ['gpt-4o'], 'gpt-4o')).toBeUndefined();
  });

  it('allowed by the key, refused by the team: the denial names the team', () => {
    const denial = check(['gpt-4o', 'gpt-4o-mini'], ['gpt-4o'], 'gpt-4o-mini');
    expect(denial).toBeInstanceOf(ModelNotAllowedError);
    expect(denial).toMatchObject({ status: 403, type: 'permission_error', code: 'model_not_allowed', param: 'model' });
    expect(denial?.message).toBe('model `gpt-4o-mini` is not allowed for team `t-1` (allowed: gpt-4o)');
  });

  it('allowed by the team, refused by the key: the denial names the key', () => {
    expect(check(['gpt-4o'], ['gpt-4o', 'claude-3'], 'claude-3')?.message).toBe(
      'model `claude-3` is not allowed for key `sk-...abcd` (allowed: gpt-4o)',
    );
  });

  it('an empty key list leaves the team list in force', () => {
    expect(check([], ['gpt-4o'], 'claude-3')?.message).toContain('team `t-1`');
  });

  it('`all-proxy-models` on the key leaves the team list in force', () => {
    expect(check(['all-proxy-models'], ['gpt-4o'], 'claude-3')?.message).toContain('team `t-1`');
  });

  it('both unrestricted passes anything', () => {
    expect(check([], [], 'anything')).toBeUndefined();
  });
});

describe('`all-team-models` on a key defers to the team', () => {
  const caller = (teamModels: string[]) =>
    keyCaller({ key: keyRecord({ models: ['all-team-models'], team_id: 't-1' }), team: teamRecord({ models: teamModels }) });

  it('a team model passes', () => {
    expect(checkModelAccess(input({ caller: caller(['gpt-4o']), body: { models: ['gpt-4o'] } }))).toBeUndefined();
  });

  it('a model outside the team list is refused by the team', () => {
    expect(checkModelAccess(input({ caller: caller(['gpt-4o']), body: { models: ['claude-3'] } }))?.message).toContain('team `t-1`');
  });

  it('with an unrestricted team, anything passes', () => {
    expect(checkModelAccess(input({ caller: caller([]), body: { models: ['claude-3'] } }))).toBeUndefined();
  });

  it('restrictionsOf lists no key restriction', () => {
    expect(restrictionsOf({ key: { name: 'k', models: ['all-team-models', 'gpt-4o'] }, team: { id: 't-1', models: ['gpt-4o'] } })).toEqual([
      { entity: 'team `t-1`', models: ['gpt-4o'] },
    ]);
  });
});

describe('user models apply to personal keys only', () => {
  const user = userRecord({ models: ['gpt-4o'] });

  it('a personal key is held to its user’s models', () => {
    expect(checkModelAccess(input({ caller: keyCaller({ user }), body: { models: ['claude-3'] } }))?.message).toContain('user `u-1`');
  });

  it('a team key is not held to its user’s models', () => {
    expect(checkModelAccess(input({ caller: keyCaller({ user, team: teamRecord() }), body: { models: ['claude-3'] } }))).toBeUndefined();
  });
});

describe('organization models', () => {
  it('a model outside the organization list is refused by the organization', () => {
    const caller = keyCaller({ team: teamRecord({ organization_id: 'o-1' }), org: orgRecord({ models: ['gpt-4o'] }) });
    const denial = checkModelAccess(input({ caller, body: { models: ['claude-3'] } }));
    expect(denial?.message).toBe('model `claude-3` is not allowed for organization `o-1` (allowed: gpt-4o)');
  });
});

describe('a comma-separated model list: every entry is checked', () => {
  it('requestedModels splits, trims and drops empty entries', () => {
    expect(requestedModels(' gpt-4o , claude-3,,  ')).toEqual(['gpt-4o', 'claude-3']);
    expect(requestedModels('gpt-4o')).toEqual(['gpt-4o']);
    expect(requestedModels(undefined)).toEqual([]);
    expect(requestedModels(['gpt-4o'])).toEqual([]);
  });

  const caller = keyCaller({ key: keyRecord({ models: ['gpt-4o', 'gpt-4o-mini'] }) });

  it('all entries allowed passes', () => {
    expect(checkModelAccess(input({ caller, body: { models: requestedModels('gpt-4o,gpt-4o-mini') } }))).toBeUndefined();
  });

  it('one refused entry, even last, denies naming it', () => {
    expect(checkModelAccess(input({ caller, body: { models: requestedModels('gpt-4o,gpt-4o-mini,claude-3') } }))?.message).toMatch(
      /^model `claude-3`/,
    );
  });
});

describe('aliases and access groups via a ModelCatalog', () => {
  const catalog: ModelCatalog = {
    aliases: new Map([
      ['fast', 'gpt-4o-mini'],
      ['five', 'gpt-5'],
    ]),
    accessGroups: new Map([['beta', ['gpt-5', 'o3']]]),
  };
  const check = (models: string[], model: string) =>
    checkModelAccess(input({ caller: keyCaller({ key: keyRecord({ models }) }), body: { models: [model] }, catalog }));

  it('an alias of an allowed model passes', () => {
    expect(check(['gpt-4o-mini'], 'fast')).toBeUndefined();
  });

  it('an alias listed by name passes', () => {
    expect(check(['fast'], 'fast')).toBeUndefined();
  });

  it('an alias of a model not allowed is denied, naming the requested alias', () => {
    expect(check(['gpt-4o'], 'fast')?.message).toMatch(/^model `fast`/);
  });

  it('a model of a listed access group passes', () => {
    expect(check(['beta'], 'o3')).toBeUndefined();
  });

  it('an alias into a listed access group passes', () => {
    expect(check(['beta'], 'five')).toBeUndefined();
  });

  it('a model outside the access group is denied', () => {
    expect(check(['beta'], 'gpt-4o')?.code).toBe('model_not_allowed');
  });

  it('without a catalog, a group name is only a literal model name', () => {
    expect(checkModelAccess(input({ caller: keyCaller({ key: keyRecord({ models: ['beta'] }) }), body: { models: ['o3'] } }))?.code).toBe(
      'model_not_allowed',
    );
  });
});

describe('model from the Azure path (checked in the authorizer, without a body)', () => {
  const azure = '/openai/deployments/gpt-4o-mini/chat/completions';
  const caller = keyCaller({ key: keyRecord({ models: ['gpt-4o'] }) });

  it('a path model outside the key list is denied', () => {
    const pathModel = matchRoute('POST', azure)?.params.model;
    expect(pathModel).toBe('gpt-4o-mini');
    expect(checkModelAccess(input({ path: azure, caller, pathModel }))?.message).toMatch(/^model `gpt-4o-mini` is not allowed for key/);
  });

  it('a path model inside the key list passes', () => {
    expect(checkModelAccess(input({ path: '/openai/deployments/gpt-4o/chat/completions', caller, pathModel: 'gpt-4o' }))).toBeUndefined();
  });

  it('both path and body models are checked', () => {
    expect(checkModelAccess(input({ path: azure, caller, pathModel: 'gpt-4o', body: { models: ['claude-3'] } }))?.message).toMatch(
      /^model `claude-3`/,
    );
  });
});

describe('model access gates LLM routes only, and only when a model is named', () => {
  const caller = keyCaller({ key: keyRecord({ models: ['gpt-4o'] }) });

  it('no model named (the authorizer on a body route) passes', () => {
    expect(checkModelAccess(input({ caller }))).toBeUndefined();
  });

  it('a management route with a body model is not a model check', () => {
    const admin = { ...caller, role: 'proxy_admin' as const };
    expect(checkModelAccess(input({ path: '/key/generate', caller: admin, body: { models: ['claude-3'] } }))).toBeUndefined();
  });
});

describe('effectiveModels: what a caller may use under every restriction at once', () => {
  const cat: ModelCatalog = { aliases: new Map([['latest', 'gpt-4o']]), accessGroups: new Map([['beta', ['o1', 'o3']]]) };
  const r = (entity: string, models: string[]) => ({ entity, models });
  it('no restriction: every model', () => {
    expect(effectiveModels([])).toEqual(['all-proxy-models']);
  });
  it('the first list, narrowed to what the others allow', () => {
    expect(effectiveModels([r('key', ['gpt-4o', 'gpt-4o-mini']), r('team', ['gpt-4o-mini'])])).toEqual(['gpt-4o-mini']);
    expect(effectiveModels([r('key', ['gpt-4o']), r('team', ['gpt-4o-mini'])])).toEqual([]);
  });
  it('globs, aliases and access groups count by what they stand for', () => {
    expect(effectiveModels([r('key', ['gpt-4o-mini', 'o1']), r('team', ['gpt-4o*'])], cat)).toEqual(['gpt-4o-mini']);
    expect(effectiveModels([r('key', ['latest']), r('team', ['gpt-4o'])], cat)).toEqual(['latest']);
    expect(effectiveModels([r('key', ['beta']), r('team', ['o1', 'o3'])], cat)).toEqual(['beta']);
    expect(effectiveModels([r('key', ['beta']), r('team', ['o1'])], cat)).toEqual([]);
  });
});

describe('Object.prototype names are names: catalog lookups never reach the prototype (issue 10, item 6)', () => {
  const NAMES = Object.getOwnPropertyNames(Object.prototype);
  const cat: ModelCatalog = { aliases: new Map(), accessGroups: new Map() };
  it.each(NAMES)('%s: unknown as alias or group, it stands only for itself', (name) => {
    expect(resolveAlias(name, cat)).toBe(name);
    expect(listAllows([name], name, cat)).toBe(true);
    expect(listAllows([name], 'gpt-4o', cat)).toBe(false);
    expect(
      effectiveModels(
        [
          { entity: 'key', models: [name] },
          { entity: 'team', models: ['gpt-4o'] },
        ],
        cat,
      ),
    ).toEqual([]);
  });
  it.each(NAMES)('%s: known as an alias and a group, it stands for what the registry says', (name) => {
    const known: ModelCatalog = { aliases: new Map([[name, 'gpt-4o']]), accessGroups: new Map([[name, ['gpt-4o-mini']]]) };
    expect(resolveAlias(name, known)).toBe('gpt-4o');
    expect(listAllows([name], 'gpt-4o-mini', known)).toBe(true);
    expect(listAllows([name], 'o1', known)).toBe(false);
  });
});
