/**
 * `/key/*`: virtual keys. The plaintext `sk-...` is returned once (generate, regenerate,
 * `/user/new`) and never stored: items hold its SHA-256 `token` and `key_name` (`sk-...last4`).
 * A key's `organization_id` is copied from its team, so the authorizer reads it with the key.
 *
 * Who may manage a key (generate, update, delete, block, unblock, regenerate), one rule for all:
 * proxy admins; an admin of the key's team, for team keys owned by nobody or by a member of the
 * team; an internal user, for their own keys (personal, or in a team they belong to). A change
 * that moves a key (user_id, team_id) must be allowed for both the old and the new owner, and
 * needs as much authority as set the member or user limits that governed the key (it leaves them).
 * Reading adds the key itself and a team JWT for its own team's keys. Nobody else writes.
 *
 * A key acts as its user everywhere (their role, their teams, their own keys), so only that user
 * or a proxy admin may come to hold a key of theirs: a team admin manages members' keys (limits,
 * block, delete) but never generates, regenerates or moves one onto another user. A block records
 * the authority of whoever set it (`blocked_by`: proxy admin, team admin, owner) and is lifted only
 * by as much authority; a key's `spend` and `budget_duration` are changed by a proxy admin or the
 * team's admin, not by the key's own user, and lowering `spend` loosens the budget as raising
 * `max_budget` does (a new period carries the spend that counted: lib/admin/schema/budget-view).
 *
 * Regenerating with a grace period keeps the old item, marked `replaced_by`/`grace_until` (the
 * authorizer honours both), taken out of every listing and expired by the table's TTL; the new
 * item lists its predecessors in `replaces`, so blocking or deleting the new key ends their grace
 * at once. During the grace period the old copy acts as the newest key (lib/store/entities
 * newestKey, followed by the authorizer and the llm function): its calls are checked against and
 * charged to the newest key's budget, counters and limits, so the copies together never spend more
 * than the key's budget (the new key starts with the old one's spend). Regenerating again points
 * every copy still in its grace period at the newest key. With or without a grace period,
 * regenerate leaves a successor record, so a call still in flight under the old key settles on
 * the new one (lib/store/key-successor). What landed on the old key's counters between the copy's
 * read and its write is added to the new key right after (lib/store/key-copy); without a grace
 * period the old item stays as a denied, unlisted tombstone until then.
 */

import { z } from 'zod';
import { generateKey, hashKey, keyName, VIRTUAL_KEY_PREFIX } from '../../auth/keys.js';
import { effectiveModels, restrictionsOf } from '../../checks/models.js';
import { routesCovered } from '../../checks/route-access.js';
import { config } from '../../config.js';
import type { AuditEntry } from '../../domain/audit.js';
import {
  ALERT_FIELDS,
  alertDirections,
  compareAllowed,
  compareCap,
  compareEnforcement,
  compareExpiry,
  compareModels,
  compareSpend,
  compareWindow,
  type Direction,
  MODEL_RATE_LIMIT_FIELDS,
  RATE_LIMIT_FIELDS,
  rateDirections,
} from '../../domain/limits.js';
import { addDuration, currentSpend, parseDuration } from '../../domain/periods.js';
import { rateChangeStamp } from '../../domain/rate-limits.js';
import type { KeyRecord, TeamRecord } from '../../domain/records.js';
import {
  ConflictError,
  ForbiddenError,
  HierarchyViolationError,
  InvalidRequestError,
  NotFoundError,
  type TollgateError,
} from '../../errors.js';
import { encode } from '../../store/codec.js';
import { copiedCountersSet, TOMBSTONE_TTL_SECONDS } from '../../store/key-copy.js';
import { refs } from '../../store/keys.js';
import { type Listing, listings, reindex } from '../../store/listings.js';
import type { Page } from '../../store/pagination.js';
import {
  addChild,
  allOf,
  definedFields,
  deleteAny,
  deleteExisting,
  deleteIfStill,
  deleteReplacedKey,
  type Guard,
  putAny,
  putNew,
  requireExists,
  requireGuarded,
  stillHolds,
  unchangedSince,
  updateFields,
} from '../../store/writes.js';
import { type Actions, action } from '../http/handler.js';
import { keyFacts, memberRole } from '../membership.js';
import { find, findOwn, load, notFound, queryPage, settleKeyCopy, type TxOp, transact } from '../persistence.js';
import { type Actor, actorLabel, isProxyAdmin } from '../rules/actor.js';
import { keyModelRules, loadCatalog, requireBudgetWithin, requireModelsWithin } from '../rules/hierarchy.js';
import {
  type Authority,
  authorityOver,
  blockerAfter,
  holdKeyDenial,
  keyManagerDenial,
  keyReaderDenial,
  type Ownership,
  rank,
  readsEveryTeamKey,
  unblockDenial,
} from '../rules/keys.js';
import {
  dropLimitsDenial,
  fastKeyDenial,
  limitsDenial,
  memberLimits,
  proxyThresholdsDenial,
  setterAfter,
  teamLimitsMoveDenial,
  userLimits,
} from '../rules/limits.js';
import { budgetUpdateAttributes, budgetView, spendFields } from '../schema/budget-view.js';
import {
  alertFields,
  allowedRoutes,
  budgetFields,
  duration,
  flag,
  id,
  limit,
  metadata,
  modelRateLimitFields,
  models,
  money,
  rateLimitFields,
} from '../schema/fields.js';

/** A key item as stored: the record plus the predecessors still in their grace period. */
export interface StoredKey extends KeyRecord {
  replaces?: string[];
  /** Who set `blocked`: only as much authority lifts it (absent on a blocked key: a proxy admin). */
  blocked_by?: Authority | null;
}

const TOKEN_HASH = /^[0-9a-f]{64}$/;

/** `key` in a request: the plaintext `sk-...` or its token hash (LiteLLM accepts both). */
export const keyRef = z.string().min(1).max(512);

/** The token hash a `key` field names. The message never repeats the value. */
export function tokenOf(key: string, param = 'key'): string {
  if (key.startsWith(VIRTUAL_KEY_PREFIX)) return hashKey(key);
  if (TOKEN_HASH.test(key)) return key;
  throw new InvalidRequestError(`\`${param}\` must be an \`sk-...\` key or its 64-hex-digit token hash`, 'invalid_field', param);
}

/** How messages name a key given in a request: `sk-...last4` for a plaintext, else the hash. */
const describeKey = (key: string): string => (key.startsWith(VIRTUAL_KEY_PREFIX) ? keyName(key) : key);

/** A key alias follows the id rule (lib/domain/ids): no white space around it, no control characters. */
export const keyAlias = id;

/** `duration`: a period from now, or `-1`/null for no expiry. */
export const keyDuration = z.union([duration, z.literal('-1'), z.literal(-1), z.null()], {
  error: 'must look like 30s, 24h, 30d or 1mo, or be -1 or null for no expiry',
});
type KeyDuration = z.output<typeof keyDuration>;

/** `expires` for a `duration`: undefined when not given, null for no expiry. */
export function expiresAt(d: KeyDuration | undefined, now: Date): string | null | undefined {
  if (d === undefined) return undefined;
  if (d === null || d === '-1' || d === -1) return null;
  return new Date(addDuration(now.getTime(), parseDuration(d, 'duration'))).toISOString();
}

/** The marker that makes `key_alias` unique: created in the same transaction as the key. */
export const aliasPut = (alias: string, token: string): TxOp =>
  putNew(
    refs.keyAlias(alias),
    encode.keyAlias(alias, token),
    () => new ConflictError('key_alias_taken', `key_alias \`${alias}\` is already used by another key`, 'key_alias'),
  );

export const keyNotFound = (key: string) => () => new NotFoundError('key', key);

/**
 * Deletes a key's alias marker only while it still names that key: a stale read of the key (a
 * cascade's listing, an update racing a rename) must not take the alias another key holds now (409).
 */
export const aliasDelete = (alias: string, token: string): TxOp =>
  deleteIfStill(
    refs.keyAlias(alias),
    stillHolds('token', token, 'atk'),
    () => new ConflictError('concurrent_update', `key_alias \`${alias}\` moved to another key meanwhile; retry`, 'key_alias'),
  );

/** The key's own item has not been replaced meanwhile (a concurrent regenerate). */
const notReplaced: Guard = { expression: 'attribute_not_exists(#rb)', names: { '#rb': 'replaced_by' } };

export const keyView = (k: StoredKey, now: Date) => {
  // Where its rate counters live is Tollgate's business, not the caller's.
  const { rate_id: _r, ...shown } = k;
  return budgetView(shown as StoredKey, now);
};

export const teamLabel = (teamId: string) => `team \`${teamId}\``;

/** A replaced key (in its grace period) can only be read or deleted. */
function requireLive(k: StoredKey): void {
  if (k.replaced_by) {
    throw new ConflictError(
      'key_replaced',
      `key \`${k.key_name}\` was regenerated; it works only until ${k.grace_until ?? 'now'} and can only be read or deleted`,
      'key',
    );
  }
}

/**
 * The key a `key` field names (plaintext or hash), as the actor may see it: a key the actor may
 * not read answers exactly like one that does not exist (the same 404, naming it as given), so
 * nothing can be learnt by probing keys or aliases that are somebody else's.
 */
export async function loadKey(actor: Actor, key: string, shownAs = describeKey(key)): Promise<StoredKey> {
  const record = await find('key', tokenOf(key));
  if (!record || keyReaderDenial(actor, record, await keyFacts(actor, record))) throw keyNotFound(shownAs)();
  return record;
}

const refuse = (denial: TollgateError | undefined): void => {
  if (denial) throw denial;
};

/** The one rule for writing a key (lib/admin/rules/keys), on the memberships it needs. */
export async function requireKeyManager(actor: Actor, k: Ownership, what: string): Promise<void> {
  refuse(keyManagerDenial(actor, k, await keyFacts(actor, k), what));
}

const authorityOn = async (actor: Actor, k: Ownership): Promise<Authority> => authorityOver(actor, await keyFacts(actor, k));

/** The `blocked_by` a read saw still holds when the write lands (a concurrent block is not undone). */
const sameBlocker = (k: StoredKey): Guard =>
  k.blocked_by
    ? {
        expression: 'attribute_not_exists(#rb) AND #bb = :bb',
        names: { '#rb': 'replaced_by', '#bb': 'blocked_by' },
        values: { ':bb': k.blocked_by },
      }
    : { expression: 'attribute_not_exists(#rb) AND attribute_not_exists(#bb)', names: { '#rb': 'replaced_by', '#bb': 'blocked_by' } };

const changedMeanwhile = (k: StoredKey) => () =>
  new ConflictError('concurrent_update', `key \`${k.key_name}\` changed meanwhile; retry`, 'key');

/**
 * A team key of a user needs the user to be a member of the team: checked now for a clear answer,
 * and again inside the key's transaction, so a removal that lands first refuses the key.
 */
async function membershipGuards(teamId: string | null, userId: string | null): Promise<TxOp[]> {
  if (!teamId || !userId) return [];
  const notMember = () =>
    new InvalidRequestError(
      `user \`${userId}\` is not a member of team \`${teamId}\`: add them first (/team/member_add)`,
      'not_team_member',
      'user_id',
    );
  if (!(await find('team_member', teamId, userId))) throw notMember();
  return [requireExists(refs.member(teamId, userId), notMember)];
}

/** A key's organization is its team's: a different one given in the request is refused. */
function requireOrgOfTeam(orgId: string | null | undefined, team: TeamRecord | undefined): void {
  if (orgId === undefined) return;
  const teamOrg = team?.organization_id ?? null;
  if (orgId === teamOrg) return;
  throw new HierarchyViolationError(
    team
      ? `key organization_id \`${orgId ?? 'none'}\` is not team \`${team.team_id}\`'s organization \`${teamOrg ?? 'none'}\`: a key's organization is its team's`
      : '`organization_id` of a key comes from its team: give `team_id`',
    'organization_id',
  );
}

async function requireKeyWithinTeam(
  k: { models?: string[] | undefined; max_budget?: number | null | undefined },
  team: TeamRecord,
): Promise<void> {
  const child = { label: 'key', models: k.models, max_budget: k.max_budget };
  const parent = { label: teamLabel(team.team_id), models: team.models, max_budget: team.max_budget };
  await requireModelsWithin(child, parent);
  requireBudgetWithin(child, parent);
}

export interface NewKeyFields {
  key_alias?: string | null | undefined;
  duration?: KeyDuration | undefined;
  models?: string[] | undefined;
  allowed_routes?: string[] | null | undefined;
  max_budget?: number | null | undefined;
  budget_duration?: string | null | undefined;
  enforcement?: KeyRecord['enforcement'] | undefined;
  rpm_limit?: number | null | undefined;
  tpm_limit?: number | null | undefined;
  max_parallel_requests?: number | null | undefined;
  model_rpm_limit?: Record<string, number> | null | undefined;
  model_tpm_limit?: Record<string, number> | null | undefined;
  soft_budget?: number | null | undefined;
  alert_thresholds?: number[] | null | undefined;
  spend?: number | undefined;
  team_id?: string | null | undefined;
  user_id?: string | null | undefined;
  organization_id?: string | null | undefined;
  metadata?: Record<string, unknown> | undefined;
  blocked?: boolean | undefined;
  /** Who blocks a key made blocked (default: a proxy admin). */
  blocked_by?: Authority | undefined;
  /** Who sets its limits (default: a proxy admin): less authority may only tighten them. */
  limits_set_by?: Authority | undefined;
}

export interface NewKeyPlan {
  /** The plaintext: returned once, never written anywhere. */
  key: string;
  record: StoredKey;
  ops: TxOp[];
  audit: AuditEntry;
}

/** The rate limits a new key was given (absent ones are not stored: no limit). */
const rateLimitsOfInput = (f: NewKeyFields) =>
  definedFields({
    rpm_limit: f.rpm_limit ?? undefined,
    tpm_limit: f.tpm_limit ?? undefined,
    max_parallel_requests: f.max_parallel_requests ?? undefined,
    model_rpm_limit: f.model_rpm_limit ?? undefined,
    model_tpm_limit: f.model_tpm_limit ?? undefined,
    soft_budget: f.soft_budget ?? undefined,
    alert_thresholds: f.alert_thresholds ?? undefined,
  });

/** A new key's record, its writes (the key and its alias marker) and its audit entry. */
export function planNewKey(f: NewKeyFields, actor: Actor, now: Date): NewKeyPlan {
  const key = generateKey();
  const token = hashKey(key);
  const record: StoredKey = {
    token,
    key_name: keyName(key),
    key_alias: f.key_alias ?? null,
    user_id: f.user_id ?? null,
    team_id: f.team_id ?? null,
    organization_id: f.organization_id ?? null,
    models: f.models ?? [],
    ...(f.allowed_routes?.length ? { allowed_routes: f.allowed_routes } : {}),
    max_budget: f.max_budget ?? null,
    budget_duration: f.budget_duration ?? null,
    enforcement: f.enforcement ?? null,
    ...rateLimitsOfInput(f),
    ...spendFields(f.spend ?? 0, f.budget_duration, now),
    blocked: f.blocked ?? false,
    ...(f.blocked ? { blocked_by: f.blocked_by ?? 'proxy_admin' } : {}),
    limits_set_by: f.limits_set_by ?? 'proxy_admin',
    expires: expiresAt(f.duration, now) ?? null,
    metadata: f.metadata ?? {},
    created_at: now.toISOString(),
    created_by: actorLabel(actor),
  };
  const ops: TxOp[] = [
    putNew(refs.key(token), encode.key(record), () => new ConflictError('key_exists', `key \`${record.key_name}\` already exists`)),
  ];
  if (record.key_alias) ops.push(aliasPut(record.key_alias, token));
  const { duration: _d, ...changes } = definedFields(f as Record<string, unknown>);
  return {
    key,
    record,
    ops,
    audit: {
      action: 'key.generate',
      entity_type: 'key',
      entity_id: token,
      changes: { ...changes, key_name: record.key_name, expires: record.expires },
    },
  };
}

/**
 * The writes that delete a key: its item, its alias marker (a replaced key's alias belongs to its
 * successor) and the predecessors still in their grace period. `strict` makes the key's own
 * delete fail when it is gone (a request); cascades delete whatever is there.
 */
export function keyDeleteOps(k: StoredKey, strict: boolean): TxOp[] {
  // A replaced key (read or deleted only) may be gone when the delete comes: settling its copy deletes a tombstone.
  const own = k.replaced_by
    ? deleteReplacedKey(k.token)
    : strict
      ? deleteExisting(refs.key(k.token), keyNotFound(k.key_name))
      : deleteAny(refs.key(k.token));
  const ops: TxOp[] = [own];
  if (k.key_alias && !k.replaced_by) ops.push(aliasDelete(k.key_alias, k.token));
  for (const t of k.replaces ?? []) ops.push(deleteReplacedKey(t));
  return ops;
}

const keysPage = (listing: Listing, cursor?: string, limit?: number): Promise<Page<StoredKey>> =>
  queryPage<StoredKey>({ ...listing, cursor, limit: limit ?? 100 });

/** A team's keys, one page; the cursor is the one `/key/list?team_id=` takes. */
export const teamKeysPage = (teamId: string, cursor?: string, limit?: number) => keysPage(listings.keysOfTeam(teamId), cursor, limit);
/** A user's keys, one page; the cursor is the one `/key/list?user_id=` takes. */
export const userKeysPage = (userId: string, cursor?: string, limit?: number) => keysPage(listings.keysOfUser(userId), cursor, limit);

export const keyFields = {
  key_alias: keyAlias.nullable().optional(),
  duration: keyDuration.optional(),
  models: models.optional(),
  allowed_routes: allowedRoutes.nullable().optional(),
  ...budgetFields,
  ...rateLimitFields,
  ...modelRateLimitFields,
  ...alertFields,
  spend: money.optional(),
  team_id: id.nullable().optional(),
  user_id: id.nullable().optional(),
  organization_id: id.nullable().optional(),
  metadata: metadata.optional(),
  blocked: z.boolean().optional(),
};

const keyAudit = (verb: string, token: string, changes?: Record<string, unknown>): AuditEntry => ({
  action: `key.${verb}`,
  entity_type: 'key',
  entity_id: token,
  ...(changes ? { changes } : {}),
});

/** Sets `blocked`; blocking also ends the grace period of the keys this one replaced. */
async function setBlocked(keyText: string, blocked: boolean, actor: Actor, now: Date) {
  const current = await loadKey(actor, keyText);
  requireLive(current);
  await requireKeyManager(actor, current, `${blocked ? 'block' : 'unblock'} key \`${current.key_name}\``);
  const authority = await authorityOn(actor, current);
  if (!blocked) refuse(unblockDenial(authority, current));
  const ended = blocked ? (current.replaces ?? []) : [];
  const by = blocked ? { blocked_by: blockerAfter(authority, current) } : {};
  const remove = [...(ended.length ? ['replaces'] : []), ...(blocked ? [] : ['blocked_by'])];
  const ops: TxOp[] = [
    updateFields(
      refs.key(current.token),
      { blocked, ...by, updated_at: now.toISOString() },
      remove,
      changedMeanwhile(current),
      sameBlocker(current),
    ),
    ...ended.map(deleteReplacedKey),
  ];
  await transact(
    ops,
    actor,
    keyAudit(blocked ? 'block' : 'unblock', current.token, { blocked, ...by, ...(ended.length ? { ended_grace_of: ended } : {}) }),
    now,
  );
  return keyView((await find('key', current.token)) as StoredKey, now);
}

/** A key's limits: less authority than the one that set them may only tighten them (lib/admin/rules/limits). */
export const KEY_LIMIT_FIELDS = [
  'max_budget',
  'budget_duration',
  'models',
  'allowed_routes',
  'duration',
  'enforcement',
  ...RATE_LIMIT_FIELDS,
  ...MODEL_RATE_LIMIT_FIELDS,
  ...ALERT_FIELDS,
] as const;
/** Every other field a key takes, and why it is not a limit: each is guarded its own way. */
export const KEY_OTHER_FIELDS = {
  key_alias: 'a name',
  spend: 'set only by a proxy admin or the team admin; lowering it loosens the budget, guarded with the limits (compareSpend)',
  team_id:
    "ownership: the manager rule holds for the old and the new team, the limits that governed the key stay (governingLimits), and limits a team admin set on it leave the team only with that team's admin (teamLimitsMoveDenial)",
  user_id: 'ownership: only that user or a proxy admin may come to hold the key, and the limits that governed it stay (governingLimits)',
  organization_id: "follows the key's team",
  metadata: 'free data',
  blocked: 'a block is lifted only by as much authority as set it',
} as const;

/** A key's own limits, as it holds them (`duration` is held as `expires`). */
const keyLimits = (k: StoredKey): unknown[] => KEY_LIMIT_FIELDS.map((f) => (f === 'duration' ? k.expires : k[f]));

/** What a key may call now: its list within its team's, its user's (personal keys) and its organization's. */
async function effectiveModelsOf(k: StoredKey): Promise<string[]> {
  const [team, user, org] = await Promise.all([
    k.team_id ? find('team', k.team_id) : undefined,
    !k.team_id && k.user_id ? find('user', k.user_id) : undefined,
    k.organization_id ? find('organization', k.organization_id) : undefined,
  ]);
  const restrictions = restrictionsOf({
    key: { name: k.key_name, models: k.models },
    team: team && { id: team.team_id, models: team.models },
    user: user && { id: user.user_id, models: user.models },
    org: org && { id: org.organization_id, models: org.models },
  });
  return effectiveModels(restrictions, restrictions.length > 1 ? await loadCatalog() : undefined);
}

/** Which way an update moves each of a key's limits (lib/domain/limits). */
async function limitDirections(
  current: StoredKey,
  set: {
    max_budget?: number | null;
    budget_duration?: string | null;
    models?: string[];
    allowed_routes?: string[] | null;
    duration?: KeyDuration;
    enforcement?: KeyRecord['enforcement'];
    rpm_limit?: number | null;
    tpm_limit?: number | null;
    max_parallel_requests?: number | null;
    model_rpm_limit?: Record<string, number> | null;
    model_tpm_limit?: Record<string, number> | null;
    soft_budget?: number | null;
    alert_thresholds?: number[] | null;
  },
  now: Date,
): Promise<Record<(typeof KEY_LIMIT_FIELDS)[number], Direction>> {
  let models: Direction = 'same';
  if (set.models !== undefined) {
    // Judged against the registry's access groups and aliases now.
    models = compareModels(current.models, set.models, keyModelRules(await loadCatalog()));
  }
  return {
    max_budget: set.max_budget !== undefined ? compareCap(current.max_budget, set.max_budget) : 'same',
    budget_duration: set.budget_duration !== undefined ? compareWindow(current.budget_duration, set.budget_duration) : 'same',
    models,
    allowed_routes:
      set.allowed_routes !== undefined ? compareAllowed(routesCovered(current.allowed_routes), routesCovered(set.allowed_routes)) : 'same',
    duration: set.duration !== undefined ? compareExpiry(current.expires, expiresAt(set.duration, now)) : 'same',
    enforcement: set.enforcement !== undefined ? compareEnforcement(current.enforcement, set.enforcement) : 'same',
    rpm_limit: 'same',
    tpm_limit: 'same',
    max_parallel_requests: 'same',
    model_rpm_limit: 'same',
    model_tpm_limit: 'same',
    soft_budget: 'same',
    alert_thresholds: 'same',
    ...rateDirections(current, set),
    ...alertDirections(current, set, config().alerts.thresholds),
  };
}

/**
 * Moved, a key leaves the member limits (and the user limits) that governed it (lib/domain/chain,
 * lib/domain/rate-limits): as dropping them whole, only as much authority as set them may move it
 * (the rule /team/member_delete applies). A user's limits are a proxy admin's. Less authority than
 * a proxy admin was judged on the member and user it read: `held` keeps the move to them (a limit
 * set meanwhile refuses it, 409). `from` is whose the key was, `what` names it, `how` the change.
 */
async function governingLimits(
  authority: Authority,
  from: Ownership,
  next: Ownership,
  what: string,
  how = `move ${what} out from under them`,
): Promise<{ denial?: TollgateError | undefined; held: TxOp[] }> {
  const userId = from.user_id ?? null;
  const teamId = from.team_id ?? null;
  const held: TxOp[] = [];
  if (!userId) return { held };
  const judged = rank(authority) < rank('proxy_admin');
  const changed = () => new ConflictError('concurrent_update', `the limits that govern ${what} changed meanwhile; retry`, 'key');
  if (teamId) {
    const member = await find('team_member', teamId, userId);
    const denial =
      member && dropLimitsDenial(authority, member.limits_set_by, memberLimits(member), `member \`${userId}\` of team \`${teamId}\``, how);
    if (denial) return { denial, held };
    if (member && judged) held.push(requireGuarded(refs.member(teamId, userId), unchangedSince(member), changed));
  }
  // A personal key moved into a team leaves its user's budget and models; any key moved off its user, all of them.
  const leavesUser = next.user_id !== userId || (!teamId && next.team_id);
  if (!leavesUser) return { held };
  const user = await find('user', userId);
  const denial = user && dropLimitsDenial(authority, 'proxy_admin', userLimits(user, !teamId), `user \`${userId}\``, how);
  if (denial) return { denial, held };
  if (user && judged) held.push(requireGuarded(refs.user(userId), unchangedSince(user), changed));
  return { held };
}

/**
 * A team key with no user, made by a team admin, is held to no member's or user's limits: as if
 * the admin's own key were moved out from under them (found by review: a team admin whose member
 * and user limits a proxy admin set escaped them all with `user_id: null`). So it is judged as
 * that move, on the admin's own member and user records.
 */
async function userlessKeyLimits(
  actor: Actor,
  authority: Authority,
  teamId: string | null,
  userId: string | null,
  doing = 'make a team key with no user',
): Promise<TxOp[]> {
  if (!teamId || userId || isProxyAdmin(actor) || !actor.userId) return [];
  const own = { user_id: actor.userId, team_id: teamId };
  const how = `${doing} (it would be held to none of their limits)`;
  const { denial, held } = await governingLimits(authority, own, { user_id: null, team_id: teamId }, 'a key', how);
  refuse(denial);
  return held;
}

export const keyActions: Actions = {
  generate: action(z.object(keyFields).strict(), async (input, { actor, now }) => {
    // A non-admin's key is their own unless they say otherwise (null: a team key with no user).
    const userId = input.user_id !== undefined ? input.user_id : isProxyAdmin(actor) ? null : (actor.userId ?? null);
    const teamId = input.team_id ?? null;
    await requireKeyManager(actor, { user_id: userId, team_id: teamId }, 'generate this key');
    refuse(holdKeyDenial(actor, userId, 'generate a key for them'));
    const authority = await authorityOn(actor, { user_id: userId, team_id: teamId });
    refuse(fastKeyDenial(authority, input.enforcement, config().enforcement, 'a key'));
    refuse(proxyThresholdsDenial(authority, undefined, undefined, input.alert_thresholds, config().alerts.thresholds, 'a new key'));
    const blockedBy = input.blocked ? authority : undefined;
    const team = teamId ? await load('team', teamId) : undefined;
    if (userId) await load('user', userId);
    requireOrgOfTeam(input.organization_id, team);
    if (team) await requireKeyWithinTeam(input, team);
    const held = await userlessKeyLimits(actor, authority, teamId, userId);
    const plan = planNewKey(
      {
        ...input,
        user_id: userId,
        team_id: teamId,
        organization_id: team?.organization_id ?? null,
        blocked_by: blockedBy,
        limits_set_by: authority,
      },
      actor,
      now,
    );
    // The team and user must still exist when the key lands, and the user still be a member; each
    // gains a child, so a delete of either that listed its keys before this lands is refused.
    const guards: TxOp[] = [
      ...(teamId ? [addChild(refs.team(teamId), notFound('team', teamId), now)] : []),
      ...(userId ? [addChild(refs.user(userId), notFound('user', userId), now)] : []),
      ...(await membershipGuards(teamId, userId)),
      ...held,
    ];
    await transact([...plan.ops, ...guards], actor, plan.audit, now);
    // LiteLLM's shape: the plaintext in `key` (this once), its hash in `token` and `token_id`.
    return { ...keyView(plan.record, now), key: plan.key, token_id: plan.record.token };
  }),

  update: action(z.object({ key: keyRef, ...keyFields }).strict(), async (input, { actor, now }) => {
    const { key: keyText, ...fields } = input;
    const set = definedFields(fields);
    if (Object.keys(set).length === 0)
      throw new InvalidRequestError('nothing to update: name at least one field besides `key`', 'nothing_to_update');
    const current = await loadKey(actor, keyText);
    requireLive(current);
    await requireKeyManager(actor, current, `update key \`${current.key_name}\``);
    const authority = await authorityOn(actor, current);
    if ((set.spend !== undefined || set.budget_duration !== undefined) && rank(authority) < rank('team_admin')) {
      const field = set.spend !== undefined ? 'spend' : 'budget_duration';
      throw new ForbiddenError(
        `only a proxy admin${current.team_id ? ` or an admin of team \`${current.team_id}\`` : ''} may change \`${field}\` of key \`${current.key_name}\``,
      );
    }
    if (set.blocked === false) refuse(unblockDenial(authority, current));
    if (current.enforcement !== 'fast')
      refuse(fastKeyDenial(authority, set.enforcement, config().enforcement, `key \`${current.key_name}\``));
    refuse(
      proxyThresholdsDenial(
        authority,
        current.limits_set_by,
        current.alert_thresholds,
        set.alert_thresholds,
        config().alerts.thresholds,
        `key \`${current.key_name}\``,
      ),
    );
    const limits = await limitDirections(current, set, now);
    // Lowering `spend` hands budget back: as loose as raising `max_budget`, and guarded the same way.
    const spendDirection = set.spend !== undefined ? compareSpend(currentSpend(current, now.getTime()), set.spend) : 'same';
    refuse(limitsDenial(authority, current.limits_set_by, `key \`${current.key_name}\``, { ...limits, spend: spendDirection }));
    const next = {
      user_id: set.user_id !== undefined ? set.user_id : (current.user_id ?? null),
      team_id: set.team_id !== undefined ? set.team_id : (current.team_id ?? null),
    };
    const teamMoved = next.team_id !== (current.team_id ?? null);
    const userMoved = next.user_id !== (current.user_id ?? null);
    if (teamMoved || userMoved) await requireKeyManager(actor, next, `move key \`${current.key_name}\` to this user and team`);
    if (userMoved) refuse(holdKeyDenial(actor, next.user_id, `move key \`${current.key_name}\` onto them`));
    // Moved, a blocked key could land where its owner has more say: move it only if you may unblock it.
    if (teamMoved || userMoved) refuse(unblockDenial(authority, current));
    if (teamMoved)
      refuse(
        teamLimitsMoveDenial(authority, current.limits_set_by, keyLimits(current), `key \`${current.key_name}\``, current.team_id ?? null),
      );
    const governing =
      teamMoved || userMoved ? await governingLimits(authority, current, next, `key \`${current.key_name}\``) : { held: [] };
    refuse(governing.denial);
    // Made (or moved into a team as) a key of nobody's there, it is judged as one generated so
    // (found by review: generated user-less in a team where the admin is free, then moved into
    // one where a proxy admin capped them, it escaped those limits).
    if (teamMoved || userMoved) governing.held.push(...(await userlessKeyLimits(actor, authority, next.team_id, next.user_id)));
    const team = next.team_id ? await load('team', next.team_id) : undefined;
    if (userMoved && next.user_id) await load('user', next.user_id);
    requireOrgOfTeam(set.organization_id, team);
    if (team && (set.models !== undefined || set.max_budget !== undefined || teamMoved)) {
      await requireKeyWithinTeam(
        { models: set.models ?? current.models, max_budget: set.max_budget !== undefined ? set.max_budget : current.max_budget },
        team,
      );
    }

    const token = current.token;
    const at = now.toISOString();
    const { key_alias, duration: dur, spend, user_id: _u, team_id: _t, organization_id: _o, ...plain } = set;
    const attrs: Record<string, unknown> = { ...plain, ...rateChangeStamp(current, plain, now), updated_at: at };
    const remove: string[] = [];
    if (dur !== undefined) attrs.expires = expiresAt(dur, now);
    Object.assign(
      attrs,
      budgetUpdateAttributes(current, set.budget_duration, spend, now, spend !== undefined ? await findOwn('key', token) : undefined),
    );
    if (teamMoved) {
      attrs.team_id = next.team_id;
      attrs.organization_id = team?.organization_id ?? null;
    }
    if (userMoved) attrs.user_id = next.user_id;
    const listed = reindex.keyOwners(
      { token, created_at: current.created_at, team_id: next.team_id, user_id: next.user_id },
      { team: teamMoved, user: userMoved },
    );
    Object.assign(attrs, listed.set);
    remove.push(...listed.remove);
    const ops: TxOp[] = [];
    const aliasChanged = key_alias !== undefined && key_alias !== (current.key_alias ?? null);
    if (aliasChanged) {
      attrs.key_alias = key_alias;
      if (current.key_alias) ops.push(aliasDelete(current.key_alias, token));
      if (key_alias) ops.push(aliasPut(key_alias, token));
    }
    if (set.blocked === true) attrs.blocked_by = blockerAfter(authority, current);
    // A spend correction is a limit like any: whoever made it is its setter (found by review: a
    // proxy admin's correction could be undone by a team admin).
    attrs.limits_set_by = setterAfter(authority, current.limits_set_by, { ...limits, spend: spendDirection });
    if (set.blocked === false) remove.push('blocked_by');
    const ended = set.blocked === true ? (current.replaces ?? []) : [];
    if (ended.length) remove.push('replaces');
    const guarded = set.blocked !== undefined;
    // Less authority than a proxy admin was judged on the limits (and their setter) it read: a
    // change landing meanwhile is not overwritten.
    // So is a rename by anyone: its marker writes were judged on the alias read (found by review).
    const locked = !isProxyAdmin(actor) || aliasChanged;
    ops.unshift(
      updateFields(
        refs.key(token),
        attrs,
        remove,
        guarded || locked ? changedMeanwhile(current) : keyNotFound(current.key_name),
        allOf(guarded ? sameBlocker(current) : notReplaced, locked ? unchangedSince(current) : undefined),
      ),
    );
    ops.push(...ended.map(deleteReplacedKey));
    // Its new team and user gain a key: a delete of either that listed its keys before is refused.
    if (teamMoved && next.team_id) ops.push(addChild(refs.team(next.team_id), notFound('team', next.team_id), now));
    if (userMoved && next.user_id) ops.push(addChild(refs.user(next.user_id), notFound('user', next.user_id), now));
    if (teamMoved || userMoved) ops.push(...(await membershipGuards(next.team_id, next.user_id)), ...governing.held);
    const changes: Record<string, unknown> = { ...set, ...(attrs.blocked_by ? { blocked_by: attrs.blocked_by } : {}) };
    if (dur !== undefined) changes.expires = attrs.expires;
    if (teamMoved) changes.organization_id = attrs.organization_id;
    await transact(ops, actor, keyAudit('update', token, changes), now);
    // LiteLLM answers `{key, ...fields}`; `key` is the token hash here, never the plaintext.
    return { key: token, ...keyView((await find('key', token)) as StoredKey, now) };
  }),

  // `keys` (plaintexts or token hashes) or `key_aliases`, as LiteLLM's KeyRequest; not both.
  delete: action(
    z.object({ keys: z.array(keyRef).min(1).max(25).optional(), key_aliases: z.array(keyAlias).min(1).max(25).optional() }).strict(),
    async ({ keys, key_aliases }, { actor, now }) => {
      if (!keys === !key_aliases)
        throw new InvalidRequestError('give `keys` or `key_aliases` (one of them)', 'invalid_field', keys ? 'key_aliases' : 'keys');
      const tokens = new Map<string, string>();
      keys?.forEach((k, i) => {
        tokens.set(tokenOf(k, `keys.${i}`), k);
      });
      const shownAs = new Map<string, string>();
      for (const alias of key_aliases ?? []) {
        const marker = await find('key_alias', alias);
        if (!marker) throw keyNotFound(alias)();
        tokens.set(marker.token, marker.token);
        shownAs.set(marker.token, alias);
      }
      const records: StoredKey[] = [];
      for (const keyText of tokens.values()) records.push(await loadKey(actor, keyText, shownAs.get(keyText)));
      for (const k of records) await requireKeyManager(actor, k, `delete key \`${k.key_name}\``);
      await transact(
        records.flatMap((k) => keyDeleteOps(k, true)),
        actor,
        records.map((k) =>
          keyAudit('delete', k.token, { key_name: k.key_name, ...(k.replaces?.length ? { ended_grace_of: k.replaces } : {}) }),
        ),
        now,
      );
      // LiteLLM echoes what was asked for: the aliases, or the keys (as token hashes here: never a plaintext).
      return { deleted_keys: key_aliases ? [...new Set(key_aliases)] : records.map((k) => k.token) };
    },
  ),

  regenerate: action(z.object({ key: keyRef, grace_period: duration.optional() }).strict(), async (input, { actor, now }) => {
    const current = await loadKey(actor, input.key);
    requireLive(current);
    await requireKeyManager(actor, current, `regenerate key \`${current.key_name}\``);
    refuse(holdKeyDenial(actor, current.user_id, `regenerate key \`${current.key_name}\``));
    // Its plaintext goes to the actor: a team key of nobody's is held to none of their limits, so
    // it is judged as one they generate (found by review: a capped team admin took one so).
    const held = await userlessKeyLimits(
      actor,
      await authorityOn(actor, current),
      current.team_id ?? null,
      current.user_id ?? null,
      'regenerate a team key with no user',
    );
    const key = generateKey();
    const token = hashKey(key);
    const at = now.toISOString();
    const { grace_until: _g, replaced_by: _r, replaces: previous = [], ...rest } = current;
    const ops: TxOp[] = [];
    // The new key is a copy of the limits read: a change landing meanwhile refuses it (retry), never lost.
    // Not so the counters: a hot key settles between any read and write. The old item records what
    // was copied, and what landed on it meanwhile is added to the new key right after (settleKeyCopy).
    const copied = allOf(notReplaced, unchangedSince(current));
    const snapshot = copiedCountersSet(current);
    // Listed until the copy is settled: the sweeper settles one this regeneration could not.
    const copyIndex = reindex.replacedKey(at);
    let replaces: string[] = [];
    let graceUntil: string | null = null;
    if (input.grace_period) {
      const until = addDuration(now.getTime(), parseDuration(input.grace_period, 'grace_period'));
      graceUntil = new Date(until).toISOString();
      // Predecessors still inside their own grace period stay tied to the newest key.
      const prev = await Promise.all(previous.map((t) => find('key', t)));
      const inGrace = prev.filter((p): p is StoredKey => !!p?.grace_until && Date.parse(p.grace_until) >= now.getTime());
      replaces = [current.token, ...inGrace.map((p) => p.token)];
      // Every copy answers to the newest key (the authorizer follows `replaced_by`): one hop, one budget.
      for (const p of inGrace) {
        ops.push(updateFields(refs.key(p.token), { replaced_by: token, updated_at: at }, [], changedMeanwhile(current)));
      }
      ops.push(
        updateFields(
          refs.key(current.token),
          { replaced_by: token, grace_until: graceUntil, ttl: Math.ceil(until / 1000), updated_at: at, ...snapshot, ...copyIndex.set },
          [...copyIndex.remove, 'replaces'],
          changedMeanwhile(current),
          copied,
        ),
      );
    } else {
      // No grace: the old key and any predecessors stop now. The old item stays, replaced with no
      // grace (the authorizer denies it) and in no listing, until settleKeyCopy deletes it; its TTL
      // removes it if that never comes.
      ops.push(
        updateFields(
          refs.key(current.token),
          {
            replaced_by: token,
            ttl: Math.ceil(now.getTime() / 1000) + TOMBSTONE_TTL_SECONDS,
            updated_at: at,
            ...snapshot,
            ...copyIndex.set,
          },
          [...copyIndex.remove, 'replaces', 'grace_until'],
          changedMeanwhile(current),
          copied,
        ),
        ...previous.map(deleteReplacedKey),
      );
    }
    // The new key shares the old one's rate-limit counters: copies in their grace period never multiply a limit.
    const record: StoredKey = {
      ...rest,
      token,
      key_name: keyName(key),
      rate_id: current.rate_id ?? current.token,
      updated_at: at,
      ...(replaces.length ? { replaces } : {}),
    };
    ops.unshift(
      putNew(refs.key(token), encode.key(record), () => new ConflictError('key_exists', `key \`${record.key_name}\` already exists`)),
    );
    if (current.key_alias) ops.push(putAny(refs.keyAlias(current.key_alias), encode.keyAlias(current.key_alias, token)));
    // A call made with the old key may settle (or be replayed) after this: its spend follows the
    // new key, which holds the budget now (lib/store/key-successor), as long as a settlement can come.
    const lastCall = graceUntil ? Date.parse(graceUntil) : now.getTime();
    const successorTtl = Math.ceil(lastCall / 1000) + config().settlementTtlSeconds;
    ops.push(putAny(refs.keySuccessor(current.token), encode.keySuccessor(current.token, token, successorTtl)));
    // The new key is a new child of the key's team and user: a delete that listed the old one is refused.
    if (current.team_id) ops.push(addChild(refs.team(current.team_id), notFound('team', current.team_id), now));
    if (current.user_id) ops.push(addChild(refs.user(current.user_id), notFound('user', current.user_id), now));
    ops.push(...held);
    await transact(
      ops,
      actor,
      [
        keyAudit('regenerate', current.token, { replaced_by: token, new_key_name: record.key_name, grace_until: graceUntil }),
        keyAudit('regenerate', token, { replaces: current.token, key_name: record.key_name }),
      ],
      now,
    );
    // Before the answer: a Lambda frozen after it would leave the settlements in between uncounted.
    await settleKeyCopy(current.token);
    return { ...keyView(record, now), key, token_id: token };
  }),

  info: action(z.object({ key: keyRef.optional() }).strict(), async (input, { actor, now }) => {
    // Without `key`, the caller's own key (LiteLLM's behaviour).
    const keyText = input.key ?? actor.keyHash;
    if (!keyText) throw new InvalidRequestError('`key` is required (or call with the key itself)', 'invalid_field', 'key');
    const record = await loadKey(actor, keyText);
    return { key: record.token, info: { ...keyView(record, now), effective_models: await effectiveModelsOf(record) } };
  }),

  list: action(
    z
      .object({
        team_id: id.optional(),
        user_id: id.optional(),
        cursor: z.string().optional(),
        limit: limit.optional(),
        // LiteLLM's `keys` holds token hashes unless `return_full_object` (`data` always holds the records).
        return_full_object: flag.optional(),
      })
      .strict(),
    async (q, { actor, now }) => {
      let page: Page<StoredKey>;
      const byTeam = async (teamId: string) => teamKeysPage(teamId, q.cursor, q.limit);
      const byUser = async (userId: string) => userKeysPage(userId, q.cursor, q.limit);
      if (isProxyAdmin(actor)) {
        page = q.team_id
          ? await byTeam(q.team_id)
          : q.user_id
            ? await byUser(q.user_id)
            : await keysPage(listings.all('key'), q.cursor, q.limit);
      } else if (q.team_id && readsEveryTeamKey(actor, q.team_id, await memberRole(actor, q.team_id))) {
        page = await byTeam(q.team_id);
      } else if (actor.userId) {
        if (q.user_id && q.user_id !== actor.userId)
          throw new ForbiddenError(`only a proxy admin or user \`${q.user_id}\` may list their keys`);
        page = await byUser(actor.userId);
      } else if (actor.role === 'team' && actor.teamId && !q.team_id && !q.user_id) {
        page = await byTeam(actor.teamId);
      } else {
        throw new ForbiddenError(`only a proxy admin, a team admin or a key's own user may list these keys`);
      }
      // A second filter narrows the page it came with (the cursor stays valid).
      const data = page.data.filter((k) => (!q.team_id || k.team_id === q.team_id) && (!q.user_id || k.user_id === q.user_id));
      const views = data.map((k) => keyView(k, now));
      return { data: views, keys: q.return_full_object ? views : data.map((k) => k.token), next_cursor: page.next_cursor };
    },
  ),

  block: action(z.object({ key: keyRef }).strict(), ({ key }, { actor, now }) => setBlocked(key, true, actor, now)),
  unblock: action(z.object({ key: keyRef }).strict(), ({ key }, { actor, now }) => setBlocked(key, false, actor, now)),
};
