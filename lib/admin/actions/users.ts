/**
 * `/user/*`: internal users. Proxy admins create, change, delete and list them; a user reads
 * their own info (their keys and teams). `/user/new` also creates a personal key for the user
 * unless `auto_create_key` is false (LiteLLM's behaviour), in the same transaction; its
 * plaintext is in the answer, once.
 *
 * Deleting a user deletes their keys (personal ones, and team keys they own: a key outlives no
 * owner), their team memberships and their organization membership: in one transaction when it
 * fits, else keys and memberships in chunks and the user last, so repeating an interrupted delete
 * finishes it. Each deleted key stops at once at the next cache miss of the authorizer.
 */
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { AuditEntry } from '../../domain/audit.js';
import { dollarsToNanos, NANOS_PER_DOLLAR } from '../../domain/cost.js';
import { rateChangeStamp } from '../../domain/rate-limits.js';
import type { MemberRecord, UserRecord } from '../../domain/records.js';
import { ConflictError, InvalidRequestError } from '../../errors.js';
import { encode } from '../../store/codec.js';
import { refs } from '../../store/keys.js';
import { listings } from '../../store/listings.js';
import { membershipOps } from '../../store/org-members.js';
import { addChild, allOf, childrenUnchanged, definedFields, deleteExisting, putNew, setFields, stillHolds } from '../../store/writes.js';
import { cascadeCounts, cascadeUnits, commitInChunks, commitTogether, fitsInOne, type Unit, untilIndexed } from '../cascade.js';
import { type Actions, action } from '../http/handler.js';
import { find, load, notFound, queryAll, queryPage, type TxOp, transact } from '../persistence.js';
import { requireProxyAdmin } from '../rules/actor.js';
import { selfOrAdminDenial } from '../rules/teams.js';
import { budgetUpdateAttributes, budgetView, spendFields } from '../schema/budget-view.js';
import { alertFields, budgetLimitFields, id, limit, metadata, models, money, rateLimitFields } from '../schema/fields.js';
import { keyAlias, keyDuration, keyView, planNewKey, userKeysPage } from './keys.js';
import { childAdded, memberView } from './teams.js';

const USER_ROLES = ['proxy_admin', 'internal_user', 'internal_user_viewer'] as const;

const userFields = {
  user_email: z.email().max(320).nullable().optional(),
  user_alias: z.string().min(1).max(256).nullable().optional(),
  user_role: z.enum(USER_ROLES).optional(),
  models: models.optional(),
  ...budgetLimitFields,
  ...rateLimitFields,
  ...alertFields,
  spend: money.optional(),
  metadata: metadata.optional(),
  // No `blocked`: the authorizer checks no user flag (only keys, teams and end users), and a
  // field that changes nothing would mislead. Block a user's keys instead.
};

const userAudit = (verb: string, userId: string, changes?: Record<string, unknown>): AuditEntry => ({
  action: `user.${verb}`,
  entity_type: 'user',
  entity_id: userId,
  ...(changes ? { changes } : {}),
});

export const userView = (u: UserRecord, now: Date) => budgetView(u, now);

/** Keys summed for a user's `keys_total_spend` (beyond that, the sum is of the first ones). */
const MAX_KEYS_SUMMED = 10_000;

const membershipsOf = (userId: string) => queryAll<MemberRecord>(listings.membershipsOfUser(userId));

export const userActions: Actions = {
  new: action(
    z
      .object({
        user_id: id.optional(),
        ...userFields,
        teams: z.array(id).max(20).optional(),
        auto_create_key: z.boolean().optional(),
        key_alias: keyAlias.nullable().optional(),
        duration: keyDuration.optional(),
      })
      .strict(),
    async (input, { actor, now }) => {
      requireProxyAdmin(actor, 'create users');
      const { user_id, teams = [], auto_create_key, key_alias, duration, spend, ...fields } = input;
      const userId = user_id ?? randomUUID();
      const teamIds = [...new Set(teams)];
      if (auto_create_key === false && (key_alias !== undefined || duration !== undefined)) {
        throw new InvalidRequestError(
          '`key_alias` and `duration` describe the key `/user/new` creates; they make no sense with `auto_create_key: false`',
          'invalid_field',
          key_alias !== undefined ? 'key_alias' : 'duration',
        );
      }
      for (const t of teamIds) if (!(await find('team', t))) throw notFound('team', t)();
      const set = definedFields(fields);
      const at = now.toISOString();
      const user: UserRecord = {
        user_id: userId,
        ...set,
        user_role: fields.user_role ?? 'internal_user',
        created_at: at,
        ...spendFields(spend ?? 0, fields.budget_duration, now),
      };
      const ops: TxOp[] = [
        putNew(
          refs.user(userId),
          encode.user(user),
          () => new ConflictError('user_exists', `user \`${userId}\` already exists`, 'user_id'),
        ),
      ];
      const audit: AuditEntry[] = [
        userAudit('new', userId, { ...set, ...(spend !== undefined ? { spend } : {}), ...(teamIds.length ? { teams: teamIds } : {}) }),
      ];
      for (const t of teamIds) {
        const member: MemberRecord = { team_id: t, user_id: userId, role: 'user', max_budget: null, spend: 0, created_at: at };
        ops.push(
          putNew(
            refs.member(t, userId),
            encode.member(member),
            () => new ConflictError('member_exists', `user \`${userId}\` is already a member of team \`${t}\``, 'teams'),
          ),
        );
        ops.push(addChild(refs.team(t), notFound('team', t), now));
        audit.push({ action: 'team.member_add', entity_type: 'team_member', entity_id: `${t}/${userId}`, changes: { role: 'user' } });
      }
      const plan = auto_create_key === false ? undefined : planNewKey({ user_id: userId, key_alias, duration }, actor, now);
      if (plan) {
        ops.push(...plan.ops);
        audit.push(plan.audit);
      }
      await transact(ops, actor, audit, now);
      return {
        ...userView(user, now),
        teams: teamIds,
        ...(plan
          ? {
              key: plan.key,
              key_name: plan.record.key_name,
              token: plan.record.token,
              key_alias: plan.record.key_alias,
              expires: plan.record.expires,
            }
          : {}),
      };
    },
  ),

  update: action(z.object({ user_id: id, ...userFields }).strict(), async (input, { actor, now }) => {
    requireProxyAdmin(actor, 'update users');
    const { user_id: userId, spend, ...fields } = input;
    const set = definedFields(fields);
    if (Object.keys(set).length === 0 && spend === undefined)
      throw new InvalidRequestError('nothing to update: name at least one field besides `user_id`', 'nothing_to_update');
    const current = await load('user', userId);
    const attrs: Record<string, unknown> = { ...set, ...rateChangeStamp(current, set, now), updated_at: now.toISOString() };
    Object.assign(attrs, budgetUpdateAttributes(current, set.budget_duration, spend, now));
    await transact(
      [setFields(refs.user(userId), attrs, notFound('user', userId))],
      actor,
      userAudit('update', userId, { ...set, ...(spend !== undefined ? { spend } : {}) }),
      now,
    );
    return userView(await load('user', userId), now);
  }),

  delete: action(z.object({ user_ids: z.array(id).min(1).max(20) }).strict(), async ({ user_ids }, { actor, now }) => {
    requireProxyAdmin(actor, 'delete users');
    const ids = [...new Set(user_ids)];
    const users: UserRecord[] = [];
    for (const userId of ids) users.push(await load('user', userId));
    const plans = await Promise.all(
      users.map(async (u) => {
        await untilIndexed(u);
        const units = await cascadeUnits({ user: u.user_id }, 'user.delete');
        const counts = cascadeCounts(units);
        const last: Unit = {
          ops: [
            // Held to what it listed and the organization it releases: a key, a membership or an
            // organization move landing meanwhile refuses the delete (409, retry), never orphaned.
            deleteExisting(
              refs.user(u.user_id),
              childAdded('user', u.user_id),
              allOf(childrenUnchanged(u), stillHolds('organization_id', u.organization_id ?? null)),
            ),
            ...membershipOps(u.user_id, u.organization_id, null),
          ],
          audit: [userAudit('delete', u.user_id, { deleted_keys: counts.keys, deleted_memberships: counts.memberships })],
        };
        return { units, last };
      }),
    );
    const everything = plans.flatMap((p) => [...p.units, p.last]);
    if (fitsInOne(everything)) await commitTogether(everything, actor, now);
    else {
      for (const p of plans) {
        await commitInChunks(p.units, actor, now);
        await commitTogether([p.last], actor, now);
      }
    }
    return { deleted_user_ids: ids };
  }),

  info: action(z.object({ user_id: id.optional() }).strict(), async (input, { actor, now }) => {
    // Without `user_id`, the caller's own (LiteLLM's behaviour).
    const userId = input.user_id ?? actor.userId;
    if (!userId) throw new InvalidRequestError('`user_id` is required (the caller has no user of its own)', 'invalid_field', 'user_id');
    const denial = selfOrAdminDenial(actor, userId, 'read this user');
    if (denial) throw denial;
    const user = await load('user', userId);
    const [keys, memberships] = await Promise.all([userKeysPage(userId), membershipsOf(userId)]);
    // The first page is every key unless it says there are more: read the rest only then.
    const allKeys: { spend?: number }[] = keys.next_cursor
      ? await queryAll<{ spend?: number }>(listings.keysOfUser(userId), MAX_KEYS_SUMMED)
      : keys.data;
    const teams = await Promise.all(memberships.map((m) => find('team', m.team_id)));
    return {
      user_id: userId,
      user_info: {
        ...userView(user, now),
        // What the user's keys spent in all (every team and personal), beside the personal budget
        // window `spend` shows: `/user/info` showed 0 for a user whose team keys spent.
        keys_total_spend: allKeys.reduce((t, k) => t + dollarsToNanos(k.spend ?? 0), 0) / NANOS_PER_DOLLAR,
      },
      keys: keys.data.map((k) => keyView(k, now)),
      // More keys: `/key/list?user_id=...&cursor=...`.
      keys_next_cursor: keys.next_cursor,
      teams: memberships.map((m, i) => ({
        ...memberView(m, now),
        team_alias: teams[i]?.team_alias ?? null,
        team_blocked: teams[i]?.blocked ?? false,
      })),
    };
  }),

  list: action(z.object({ cursor: z.string().optional(), limit: limit.optional() }).strict(), async (q, { actor, now }) => {
    requireProxyAdmin(actor, 'list users');
    const page = await queryPage<UserRecord>({ ...listings.all('user'), cursor: q.cursor, limit: q.limit ?? 100 });
    return { data: page.data.map((u) => userView(u, now)), next_cursor: page.next_cursor };
  }),
};
