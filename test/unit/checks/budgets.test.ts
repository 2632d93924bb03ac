/**
 * One budget rule for every entity: over when `spend >= max_budget`; no `max_budget` = no limit;
 * `0` = nothing may be spent; budgets gate only the routes that spend money; with a
 * `budget_duration` only the current window's spend counts.
 */
import { describe, expect, it } from 'vitest';
import { isOverBudget, runChecks } from '../../../lib/checks/checks.js';
import type { Budgeted } from '../../../lib/domain/records.js';
import { BudgetExceededError } from '../../../lib/errors.js';
import type { HttpMethod } from '../../../lib/routes.js';
import {
  CREATED,
  endUserRecord,
  type InputOptions,
  input,
  keyCaller,
  keyRecord,
  memberRecord,
  orgRecord,
  teamRecord,
  userRecord,
} from './fixtures.js';

/** The window NOW (2026-11-28T12:00Z) falls in, and the one before it. */
const TODAY = '1d@2026-11-28T00:00:00Z';
const YESTERDAY = '1d@2026-11-27T00:00:00Z';

interface BudgetCase {
  entity: string;
  code: string;
  /** How the denial names the entity. */
  who: string;
  /** A request whose only budget is `b`, on this entity. */
  place(b: Budgeted): InputOptions;
}

const cases: BudgetCase[] = [
  {
    entity: 'key',
    code: 'key_budget_exceeded',
    who: 'key `sk-...abcd`',
    place: (b) => ({ caller: keyCaller({ key: keyRecord({ user_id: 'u-1', ...b }) }) }),
  },
  {
    entity: 'user (personal key)',
    code: 'user_budget_exceeded',
    who: 'user `u-1`',
    place: (b) => ({ caller: keyCaller({ user: userRecord(b) }) }),
  },
  {
    entity: 'team',
    code: 'team_budget_exceeded',
    who: 'team `t-1`',
    place: (b) => ({ caller: keyCaller({ team: teamRecord(b) }) }),
  },
  {
    entity: 'team member',
    code: 'team_member_budget_exceeded',
    who: 'team member `u-1@t-1`',
    place: (b) => ({ caller: keyCaller({ team: teamRecord(), member: memberRecord(b) }) }),
  },
  {
    entity: 'organization via the key',
    code: 'organization_budget_exceeded',
    who: 'organization `o-1`',
    place: (b) => ({ caller: keyCaller({ key: keyRecord({ organization_id: 'o-1' }), org: orgRecord(b) }) }),
  },
  {
    entity: 'organization via the team',
    code: 'organization_budget_exceeded',
    who: 'organization `o-1`',
    place: (b) => ({ caller: keyCaller({ team: teamRecord({ organization_id: 'o-1' }), org: orgRecord(b) }) }),
  },
  {
    entity: 'end user, own budget',
    code: 'end_user_budget_exceeded',
    who: 'end user `eu-1`',
    place: (b) => ({ caller: keyCaller({ endUser: endUserRecord(b) }, { endUserId: 'eu-1' }) }),
  },
  {
    entity: 'end user, reusable budget',
    code: 'end_user_budget_exceeded',
    who: 'end user `eu-1`',
    place: ({ max_budget, budget_duration, ...spend }) => ({
      caller: keyCaller(
        {
          endUser: endUserRecord({ ...spend, budget_id: 'b-1' }),
          endUserBudget: { budget_id: 'b-1', max_budget, budget_duration, created_at: CREATED },
        },
        { endUserId: 'eu-1' },
      ),
    }),
  },
  {
    entity: 'global (proxy-wide)',
    code: 'global_budget_exceeded',
    who: 'the proxy',
    place: ({ max_budget, budget_duration, spend, window_spend }) => ({
      caller: keyCaller({ global: { spend, window_spend } }),
      settings: { maxBudget: max_budget ?? undefined, budgetDuration: budget_duration ?? undefined },
    }),
  },
];

describe('isOverBudget: spend >= max_budget', () => {
  it.each([
    [10, 10, true],
    [10.01, 10, true],
    [9.99, 10, false],
    [0, 0, true],
    [1e9, undefined, false],
    [1e9, null, false],
    [Number.NaN, 10, true],
    [0, Number.NaN, true],
  ] as const)('spend %s against max %s -> over: %s', (spend, max, over) => {
    expect(isOverBudget(spend, max)).toBe(over);
  });
});

describe.each(cases)('$entity budget', ({ code, who, place }) => {
  const deny = (b: Budgeted, o: Partial<InputOptions> = {}) => runChecks(input({ ...place(b), ...o }));

  it('spend equal to budget denies, naming the entity and the limit', () => {
    const denial = deny({ max_budget: 10, spend: 10 });
    expect(denial).toBeInstanceOf(BudgetExceededError);
    expect(denial).toMatchObject({ status: 403, type: 'budget_exceeded', code });
    expect(denial?.message).toBe(`${who} spent 10.00 of its 10.00 budget`);
  });

  it('spend over budget denies', () => {
    expect(deny({ max_budget: 10, spend: 10.02 })?.code).toBe(code);
  });

  it('an unreadable (NaN) spend denies: fail closed', () => {
    expect(deny({ max_budget: 10, spend: Number.NaN })?.code).toBe(code);
  });

  it('one cent below the budget passes', () => {
    expect(deny({ max_budget: 10, spend: 9.99 })).toBeUndefined();
  });

  it('no max_budget means no limit', () => {
    expect(deny({ spend: 1e9 })).toBeUndefined();
    expect(deny({ max_budget: null, spend: 1e9 })).toBeUndefined();
  });

  it('max_budget 0 denies with nothing spent', () => {
    expect(deny({ max_budget: 0, spend: 0 })?.code).toBe(code);
  });

  it.each<[HttpMethod, string]>([
    ['GET', '/models'],
    ['GET', '/v1/models'],
    ['GET', '/v1/models/gpt-4o'],
    ['GET', '/key/info'],
    ['GET', '/team/info'],
  ])('over budget still reaches %s %s (routes that do not spend)', (method, path) => {
    expect(deny({ max_budget: 0, spend: 50 }, { method, path })).toBeUndefined();
  });

  it('with budget_duration, spend from another window does not count', () => {
    expect(deny({ max_budget: 10, budget_duration: '1d', spend: 500, window_spend: { [YESTERDAY]: 500 } })).toBeUndefined();
  });

  it('with budget_duration, the current window at the budget denies', () => {
    const denial = deny({ max_budget: 10, budget_duration: '1d', spend: 500, window_spend: { [YESTERDAY]: 490, [TODAY]: 10 } });
    expect(denial?.code).toBe(code);
    expect(denial?.message).toBe(`${who} spent 10.00 of its 10.00 budget`);
  });

  it('with budget_duration, a new window with no counter yet starts at zero', () => {
    expect(deny({ max_budget: 10, budget_duration: '1d', spend: 500 })).toBeUndefined();
  });
});

describe('max_budget 0 denies every spending route', () => {
  const zeroKey = () => keyCaller({ key: keyRecord({ user_id: 'u-1', max_budget: 0 }) });
  it.each<[HttpMethod, string]>([
    ['POST', '/chat/completions'],
    ['POST', '/v1/embeddings'],
    ['POST', '/v1/images/generations'],
    ['POST', '/v1/audio/transcriptions'],
    ['POST', '/v1/responses'],
    ['POST', '/v1/messages'],
    ['POST', '/openai/deployments/gpt-4o/chat/completions'],
    ['POST', '/v1/files'],
    ['POST', '/v1/threads/th_1/runs'],
  ])('%s %s', (method, path) => {
    expect(runChecks(input({ method, path, caller: zeroKey() }))?.code).toBe('key_budget_exceeded');
  });
});

describe('user budget applies to personal keys only', () => {
  const overUser = userRecord({ max_budget: 5, spend: 5 });

  it('a team key of an over-budget user passes', () => {
    expect(runChecks(input({ caller: keyCaller({ user: overUser, team: teamRecord() }) }))).toBeUndefined();
  });

  it('a team-less JWT of an over-budget user is denied', () => {
    const caller = keyCaller({ user: overUser }, { principal: 'jwt', keyHash: undefined, keyName: undefined });
    caller.state.key = undefined;
    expect(runChecks(input({ caller }))?.code).toBe('user_budget_exceeded');
  });
});

describe('end user budget: its own max_budget, else its reusable budget', () => {
  const withBoth = (own: number, reusable: number) =>
    keyCaller(
      {
        endUser: endUserRecord({ max_budget: own, budget_id: 'b-1', spend: 6 }),
        endUserBudget: { budget_id: 'b-1', max_budget: reusable, created_at: CREATED },
      },
      { endUserId: 'eu-1' },
    );

  it('own budget below spend denies even when the reusable budget would pass', () => {
    const denial = runChecks(input({ caller: withBoth(5, 100) }));
    expect(denial?.message).toBe('end user `eu-1` spent 6.00 of its 5.00 budget');
  });

  it('own budget above spend passes even when the reusable budget would deny', () => {
    expect(runChecks(input({ caller: withBoth(100, 5) }))).toBeUndefined();
  });

  it('the reusable budget period applies to the end user’s own window counters', () => {
    const caller = keyCaller(
      {
        endUser: endUserRecord({ budget_id: 'b-1', spend: 40, window_spend: { [TODAY]: 3 } }),
        endUserBudget: { budget_id: 'b-1', max_budget: 3, budget_duration: '1d', created_at: CREATED },
      },
      { endUserId: 'eu-1' },
    );
    expect(runChecks(input({ caller }))?.message).toBe('end user `eu-1` spent 3.00 of its 3.00 budget');
  });
});

describe('global budget', () => {
  it('without TOLLGATE_MAX_BUDGET nothing is checked, whatever was spent', () => {
    expect(runChecks(input({ caller: keyCaller({ global: { spend: 1e9 } }) }))).toBeUndefined();
  });

  it('spend not loaded counts as zero: a 0 budget still denies', () => {
    expect(runChecks(input({ settings: { maxBudget: 0 } }))?.code).toBe('global_budget_exceeded');
  });
});
