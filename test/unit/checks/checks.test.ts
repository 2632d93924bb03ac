/** The non-budget checks of lib/checks, and the order in which every check runs. */
import { describe, expect, it } from 'vitest';
import {
  allChecks,
  authorizerChecks,
  type CheckInput,
  checkEndUserBlocked,
  checkEndUserBudget,
  checkGlobalBudget,
  checkKeyBlocked,
  checkKeyBudget,
  checkKeyExpired,
  checkKeyOwnerIsMember,
  checkKeyRoutes,
  checkModelAccess,
  checkOrganizationBudget,
  checkRequestedModels,
  checkRouteAllowed,
  checkTeamBlocked,
  checkTeamBudget,
  checkTeamMemberBudget,
  checkUserBudget,
  checkUserParam,
  runChecks,
} from '../../../lib/checks/checks.js';
import { EndUserBlockedError, KeyBlockedError, KeyExpiredError, TeamBlockedError, UserParamRequiredError } from '../../../lib/errors.js';
import type { HttpMethod } from '../../../lib/routes.js';
import {
  endUserRecord,
  input,
  keyCaller,
  keyRecord,
  memberRecord,
  NOW,
  orgRecord,
  roleCaller,
  teamRecord,
  userRecord,
} from './fixtures.js';

const iso = (ms: number) => new Date(ms).toISOString();
const withKey = (f: Parameters<typeof keyRecord>[0]) => keyCaller({ key: keyRecord({ user_id: 'u-1', ...f }) });

describe('key blocked', () => {
  it('a blocked key is denied with key_blocked, naming the key', () => {
    const denial = runChecks(input({ caller: withKey({ blocked: true }) }));
    expect(denial).toBeInstanceOf(KeyBlockedError);
    expect(denial).toMatchObject({ status: 403, type: 'permission_error', code: 'key_blocked', message: 'key `sk-...abcd` is blocked' });
  });

  it.each<[HttpMethod, string]>([
    ['GET', '/models'],
    ['GET', '/key/info'],
  ])('a blocked key is denied on %s %s too (not only spending routes)', (method, path) => {
    expect(runChecks(input({ method, path, caller: withKey({ blocked: true }) }))?.code).toBe('key_blocked');
  });

  it('blocked: false passes', () => {
    expect(checkKeyBlocked(input({ caller: withKey({ blocked: false }) }))).toBeUndefined();
  });

  it('callers without a key (master key, JWT) are not checked', () => {
    expect(checkKeyBlocked(input({ caller: roleCaller('master_key', 'proxy_admin') }))).toBeUndefined();
  });
});

describe('key expired: `expires` earlier than now', () => {
  it('expired a millisecond ago denies with key_expired, naming the key and the time', () => {
    const expires = iso(NOW - 1);
    const denial = runChecks(input({ caller: withKey({ expires }) }));
    expect(denial).toBeInstanceOf(KeyExpiredError);
    expect(denial).toMatchObject({ status: 403, code: 'key_expired', message: `key \`sk-...abcd\` expired at ${expires}` });
  });

  it('expiring exactly now passes', () => {
    expect(checkKeyExpired(input({ caller: withKey({ expires: iso(NOW) }) }))).toBeUndefined();
  });

  it('expiring a millisecond from now passes', () => {
    expect(checkKeyExpired(input({ caller: withKey({ expires: iso(NOW + 1) }) }))).toBeUndefined();
  });

  it('no expiry (null or absent) never expires', () => {
    expect(checkKeyExpired(input({ caller: withKey({ expires: null }), now: 8.64e15 }))).toBeUndefined();
    expect(checkKeyExpired(input({ caller: withKey({}), now: 8.64e15 }))).toBeUndefined();
  });

  it.each(['not a date', '', '2026-13-45T00:00:00Z'])('an unreadable expiry (%j) denies: fail closed', (expires) => {
    expect(checkKeyExpired(input({ caller: withKey({ expires }) }))?.code).toBe('key_expired');
  });

  it('an expired key is denied on info routes too', () => {
    expect(runChecks(input({ method: 'GET', path: '/key/info', caller: withKey({ expires: iso(NOW - 1) }) }))?.code).toBe('key_expired');
  });
});

describe('team blocked', () => {
  it('a key of a blocked team is denied with team_blocked, naming the team', () => {
    const denial = runChecks(input({ caller: keyCaller({ team: teamRecord({ blocked: true }) }) }));
    expect(denial).toBeInstanceOf(TeamBlockedError);
    expect(denial).toMatchObject({ status: 403, code: 'team_blocked', message: 'team `t-1` is blocked' });
  });

  it('a team JWT of a blocked team is denied', () => {
    const caller = { ...roleCaller('jwt', 'team'), teamId: 't-1', state: { team: teamRecord({ blocked: true }) } };
    expect(runChecks(input({ caller }))?.code).toBe('team_blocked');
  });

  it('an unblocked team passes', () => {
    expect(checkTeamBlocked(input({ caller: keyCaller({ team: teamRecord({ blocked: false }) }) }))).toBeUndefined();
  });
});

describe('end user blocked', () => {
  it('a blocked end user is denied with end_user_blocked, param `user`', () => {
    const denial = runChecks(input({ caller: keyCaller({ endUser: endUserRecord({ blocked: true }) }, { endUserId: 'eu-1' }) }));
    expect(denial).toBeInstanceOf(EndUserBlockedError);
    expect(denial).toMatchObject({ status: 403, code: 'end_user_blocked', param: 'user', message: 'end user `eu-1` is blocked' });
  });

  it('an end user that is not blocked passes', () => {
    expect(checkEndUserBlocked(input({ caller: keyCaller({ endUser: endUserRecord() }) }))).toBeUndefined();
  });
});

describe('enforce_user_param: POST on LLM routes must name the end user', () => {
  const on = { enforceUserParam: true };

  it('POST /chat/completions without `user` is a 400 user_param_required', () => {
    const denial = runChecks(input({ settings: on, body: { models: ['gpt-4o'] } }));
    expect(denial).toBeInstanceOf(UserParamRequiredError);
    expect(denial).toMatchObject({ status: 400, type: 'invalid_request_error', code: 'user_param_required', param: 'user' });
  });

  it('an empty `user` does not count', () => {
    expect(checkUserParam(input({ settings: on, body: { models: [], user: '' } }))?.code).toBe('user_param_required');
  });

  it('POST with `user` passes', () => {
    expect(checkUserParam(input({ settings: on, body: { models: [], user: 'alice' } }))).toBeUndefined();
  });

  it.each<[HttpMethod, string]>([
    ['GET', '/v1/models'],
    ['GET', '/v1/files'],
    ['GET', '/v1/threads/th_1/messages'],
  ])('GET on an LLM route passes (%s %s)', (method, path) => {
    expect(checkUserParam(input({ method, path, settings: on, body: { models: [] } }))).toBeUndefined();
  });

  it('management routes pass (POST /key/generate)', () => {
    expect(checkUserParam(input({ path: '/key/generate', settings: on, body: { models: [] } }))).toBeUndefined();
  });

  it('a JWT end-user claim satisfies it', () => {
    const caller = keyCaller({}, { principal: 'jwt', endUserId: 'eu-from-claim' });
    expect(checkUserParam(input({ settings: on, caller, body: { models: [] } }))).toBeUndefined();
  });

  it('off by default', () => {
    expect(checkUserParam(input({ body: { models: [] } }))).toBeUndefined();
  });

  it('skipped in the authorizer, which never sees the body', () => {
    expect(checkUserParam(input({ settings: on }))).toBeUndefined();
  });
});

describe('proxy budget skips /models and /v1/models', () => {
  const over = { settings: { maxBudget: 10 }, caller: keyCaller({ global: { spend: 10 } }) };

  it.each(['/models', '/v1/models', '/models/gpt-4o', '/v1/models/gpt-4o'])('GET %s passes with the proxy over budget', (path) => {
    expect(checkGlobalBudget(input({ ...over, method: 'GET', path }))).toBeUndefined();
  });

  it('POST /v1/chat/completions is denied with the proxy over budget', () => {
    expect(checkGlobalBudget(input({ ...over, path: '/v1/chat/completions' }))?.message).toBe('the proxy spent 10.00 of its 10.00 budget');
  });

  it('management routes are never gated by the proxy budget', () => {
    expect(checkGlobalBudget(input({ ...over, caller: roleCaller('master_key', 'proxy_admin'), path: '/team/new' }))).toBeUndefined();
  });
});

describe('check order: the first denial wins', () => {
  it('the authorizer runs every check but the model checks, which need the registry and may deny with a 400', () => {
    expect(authorizerChecks).toEqual(allChecks.filter((c) => c !== checkRequestedModels && c !== checkModelAccess));
    expect(authorizerChecks).toHaveLength(allChecks.length - 2);
  });

  it('allChecks lists the checks in the documented order', () => {
    expect(allChecks).toEqual([
      checkRouteAllowed,
      checkKeyRoutes,
      checkKeyBlocked,
      checkKeyExpired,
      checkKeyOwnerIsMember,
      checkTeamBlocked,
      checkEndUserBlocked,
      checkRequestedModels,
      checkModelAccess,
      checkUserParam,
      checkKeyBudget,
      checkUserBudget,
      checkTeamBudget,
      checkTeamMemberBudget,
      checkOrganizationBudget,
      checkEndUserBudget,
      checkGlobalBudget,
    ]);
  });

  /** One fault per check, in allChecks order; a team key (so the user budget is in its own list below). */
  const teamFaults: [code: string, apply: (i: CheckInput) => void][] = [
    ['route_not_allowed', (i) => void (i.caller.role = 'internal_user_viewer')],
    ['key_blocked', (i) => void (i.caller.state.key!.blocked = true)],
    ['key_expired', (i) => void (i.caller.state.key!.expires = iso(NOW - 1))],
    // The member loaded is u-1's; the key now says it belongs to u-2, who is no member.
    ['not_team_member', (i) => void (i.caller.state.key!.user_id = 'u-2')],
    ['team_blocked', (i) => void (i.caller.state.team!.blocked = true)],
    ['end_user_blocked', (i) => void (i.caller.state.endUser!.blocked = true)],
    ['too_many_models', (i) => void (i.body = { models: Array(11).fill('gpt-4o') })],
    ['model_not_allowed', (i) => void (i.caller.state.key!.models = ['gpt-4o-mini'])],
    ['user_param_required', (i) => void (i.settings.enforceUserParam = true)],
    ['key_budget_exceeded', (i) => void (i.caller.state.key!.max_budget = 0)],
    ['team_budget_exceeded', (i) => void (i.caller.state.team!.max_budget = 0)],
    ['team_member_budget_exceeded', (i) => void (i.caller.state.member!.max_budget = 0)],
    ['organization_budget_exceeded', (i) => void (i.caller.state.org!.max_budget = 0)],
    ['end_user_budget_exceeded', (i) => void (i.caller.state.endUser!.max_budget = 0)],
    ['global_budget_exceeded', (i) => void (i.settings.maxBudget = 0)],
  ];
  const teamRequest = () =>
    input({
      caller: keyCaller({
        team: teamRecord({ organization_id: 'o-1' }),
        member: memberRecord(),
        org: orgRecord(),
        endUser: endUserRecord(),
      }),
      body: { models: ['gpt-4o'] },
    });

  it.each(teamFaults.map((f, k) => [f[0], k] as const))('%s wins over the denials of every later check', (code, k) => {
    const req = teamRequest();
    for (const [, apply] of teamFaults.slice(k)) apply(req);
    expect(runChecks(req)?.code).toBe(code);
  });

  it('with no fault the request passes', () => {
    expect(runChecks(teamRequest())).toBeUndefined();
  });

  it('for a personal key the user budget comes after the key budget and before the organization budget', () => {
    const req = () => input({ caller: keyCaller({ key: keyRecord({ organization_id: 'o-1' }), user: userRecord(), org: orgRecord() }) });
    const all = req();
    all.caller.state.key!.max_budget = 0;
    all.caller.state.user!.max_budget = 0;
    all.caller.state.org!.max_budget = 0;
    expect(runChecks(all)?.code).toBe('key_budget_exceeded');
    const userAndOrg = req();
    userAndOrg.caller.state.user!.max_budget = 0;
    userAndOrg.caller.state.org!.max_budget = 0;
    expect(runChecks(userAndOrg)?.code).toBe('user_budget_exceeded');
  });

  it('runChecks runs only the checks it is given', () => {
    const req = input({ caller: withKey({ blocked: true, max_budget: 0 }) });
    expect(runChecks(req, [checkKeyBudget, checkKeyBlocked])?.code).toBe('key_budget_exceeded');
    expect(runChecks(req, [])).toBeUndefined();
  });
});

describe('requested models', () => {
  const many = (n: number) => Array.from({ length: n }, () => 'gpt-4o');
  it('ten models (the fan-out limit) pass; eleven are a 400 too_many_models', () => {
    expect(checkRequestedModels(input({ body: { models: many(10) } }))).toBeUndefined();
    expect(checkRequestedModels(input({ body: { models: many(11) } }))).toMatchObject({
      status: 400,
      code: 'too_many_models',
      param: 'model',
    });
  });

  it('a name of 256 characters passes; 257 is a 400 invalid_model, path or body', () => {
    expect(checkRequestedModels(input({ body: { models: ['m'.repeat(256)] } }))).toBeUndefined();
    expect(checkRequestedModels(input({ body: { models: ['m'.repeat(257)] } }))?.code).toBe('invalid_model');
    expect(checkRequestedModels(input({ pathModel: 'm'.repeat(257) }))?.code).toBe('invalid_model');
  });

  it('only LLM routes are concerned', () => {
    expect(checkRequestedModels(input({ method: 'GET', path: '/key/info', body: { models: many(11) } }))).toBeUndefined();
  });
});

describe('checkKeyOwnerIsMember: a team key of a user works only while the user is a member', () => {
  const teamKey = (member: ReturnType<typeof memberRecord> | undefined, over: Partial<ReturnType<typeof keyCaller>> = {}) =>
    input({ caller: keyCaller({ team: teamRecord(), member }, over), body: { models: ['gpt-4o'] } });
  it('a member passes', () => {
    expect(checkKeyOwnerIsMember(teamKey(memberRecord()))).toBeUndefined();
  });
  it('a removed member is denied, naming the user, the key and the team', () => {
    const d = checkKeyOwnerIsMember(teamKey(undefined));
    expect(d?.code).toBe('not_team_member');
    expect(d?.status).toBe(403);
    expect(d?.message).toMatch(/^user `u-1` of key `sk-\.\.\.\w+` is not a member of team `t-1`$/);
  });
  it('a membership of another user or team does not count', () => {
    expect(checkKeyOwnerIsMember(teamKey(memberRecord({ user_id: 'u-9' })))?.code).toBe('not_team_member');
    expect(checkKeyOwnerIsMember(teamKey(memberRecord({ team_id: 't-9' })))?.code).toBe('not_team_member');
  });
  it('keys without a user or a team, and JWT callers, are not concerned', () => {
    expect(checkKeyOwnerIsMember(input({ caller: keyCaller({}) }))).toBeUndefined();
    expect(
      checkKeyOwnerIsMember(input({ caller: keyCaller({ team: teamRecord(), key: keyRecord({ user_id: null, team_id: 't-1' }) }) })),
    ).toBeUndefined();
    expect(checkKeyOwnerIsMember(teamKey(undefined, { principal: 'jwt' }))).toBeUndefined();
  });
});
