/**
 * `/customer/*` and `/end_user/*`: end users (LiteLLM's customers), the callers' own customers
 * named by the body's `user` or a JWT claim. Proxy admins only, reads included: end-user ids
 * and budgets are the platform's business data.
 *
 * An end user may point to a reusable budget (`budget_id`); its own `max_budget` and
 * `budget_duration`, when set, take precedence (lib/checks). Each budget counts the end users
 * pointing to it (`end_user_count`, kept in the same transactions), so a budget in use cannot be
 * deleted. `/customer/block` creates an end user that does not exist yet, blocked, as LiteLLM
 * does: an abusive id can be blocked before it has a record. A block reaches the authorizer
 * and the llm function within the cache TTL.
 */
import { z } from 'zod';
import type { AuditEntry } from '../../domain/audit.js';
import type { BudgetRecord, EndUserRecord } from '../../domain/records.js';
import { ConflictError, InvalidRequestError } from '../../errors.js';
import { encode } from '../../store/codec.js';
import { refs } from '../../store/keys.js';
import { listings } from '../../store/listings.js';
import {
  addToCounter,
  blockEndUser,
  definedFields,
  deleteExisting,
  type Guard,
  putNew,
  setFields,
  stillHolds,
} from '../../store/writes.js';
import { type Actions, action } from '../http/handler.js';
import { find, load, notFound, queryPage, type TxOp, transact } from '../persistence.js';
import { requireProxyAdmin } from '../rules/actor.js';
import { budgetUpdateAttributes, budgetView } from '../schema/budget-view.js';
import { budgetLimitFields, id, limit } from '../schema/fields.js';

/** The attribute on a budget item counting the end users that point to it. */
export const END_USER_COUNT = 'end_user_count';

const customerFields = {
  alias: z.string().min(1).max(256).nullable().optional(),
  blocked: z.boolean().optional(),
  ...budgetLimitFields,
  budget_id: id.nullable().optional(),
  // Not `allowed_model_region` or `default_model`: no region routing here, and a field that
  // changes nothing would mislead (unknown_field).
};
const userIds = (max: number) => z.object({ user_ids: z.array(id).min(1).max(max) }).strict();

const concurrent = (userId: string) => () => new ConflictError('concurrent_update', `end user \`${userId}\` changed meanwhile; retry`);
const audit = (verb: string, userId: string, changes?: Record<string, unknown>): AuditEntry => ({
  action: `end_user.${verb}`,
  entity_type: 'end_user',
  entity_id: userId,
  ...(changes ? { changes } : {}),
});

/** Holds the end user's write to the budget it was read with, so the budgets' counts stay exact. */
function sameBudget(current: EndUserRecord): Guard {
  return current.budget_id
    ? { expression: '#bid = :bid', names: { '#bid': 'budget_id' }, values: { ':bid': current.budget_id } }
    : { expression: 'attribute_not_exists(#bid) OR #bid = :nobid', names: { '#bid': 'budget_id' }, values: { ':nobid': null } };
}

/** -1 on the budget an end user leaves, when that budget still exists (a dangling id is just dropped). */
async function leaveBudget(budgetId: string | null | undefined, count = 1): Promise<TxOp[]> {
  if (!budgetId || !(await find('budget', budgetId))) return [];
  return [addToCounter(refs.budget(budgetId), END_USER_COUNT, -count, notFound('budget', budgetId))];
}

/** The period an end user's checks count: its own, else its budget's (lib/domain/chain), and the budget read for it. */
async function periodOf(
  own: string | null | undefined,
  budgetId: string | null | undefined,
): Promise<{ period: string | null; budget?: BudgetRecord | undefined }> {
  if (own) return { period: own };
  const budget = budgetId ? await find('budget', budgetId) : undefined;
  return { period: budget?.budget_duration ?? null, budget };
}

/**
 * A new budget period counts from now (budget_set_at) and carries the spend that counted, as for
 * every entity with a budget (budgetUpdateAttributes). An end user's period is its own or its
 * budget's, so pointing it to a budget with another period, or dropping its own in favour of its
 * budget's, is a new period too (found by review: the windows kept counting from its creation).
 */
async function periodChange(
  current: EndUserRecord,
  set: { budget_duration?: string | null | undefined; budget_id?: string | null | undefined },
  now: Date,
): Promise<{ attrs: Record<string, unknown>; judgedBy?: BudgetRecord | undefined }> {
  const was = await periodOf(current.budget_duration, current.budget_id);
  const next = await periodOf(
    set.budget_duration !== undefined ? set.budget_duration : current.budget_duration,
    set.budget_id !== undefined ? set.budget_id : current.budget_id,
  );
  return {
    attrs: budgetUpdateAttributes({ ...current, budget_duration: was.period }, next.period ?? undefined, undefined, now),
    judgedBy: next.budget,
  };
}

/**
 * The budget whose period the update judged by still has it when the write lands (found by
 * review: a `/budget/update` giving it a period meanwhile let the end user start that period at zero).
 */
const samePeriod = (b: BudgetRecord): Guard => stillHolds('budget_duration', b.budget_duration ?? null, 'bd');
const budgetChanged = (budgetId: string) => () =>
  new ConflictError('concurrent_update', `budget \`${budgetId}\` changed meanwhile (or is gone); retry`, 'budget_id');

export const customerActions: Actions = {
  new: action(z.object({ user_id: id, ...customerFields }).strict(), async (input, { actor, now }) => {
    requireProxyAdmin(actor, 'create end users');
    const { user_id: userId, ...fields } = input;
    const set = definedFields(fields);
    const record: EndUserRecord = { user_id: userId, ...set, spend: 0, created_at: now.toISOString() };
    const ops: TxOp[] = [
      putNew(
        refs.endUser(userId),
        encode.endUser(record),
        () => new ConflictError('end_user_exists', `end user \`${userId}\` already exists`, 'user_id'),
      ),
    ];
    if (set.budget_id) ops.push(addToCounter(refs.budget(set.budget_id), END_USER_COUNT, 1, notFound('budget', set.budget_id)));
    await transact(ops, actor, audit('new', userId, set), now);
    return budgetView(record, now);
  }),

  update: action(z.object({ user_id: id, ...customerFields }).strict(), async (input, { actor, now }) => {
    requireProxyAdmin(actor, 'update end users');
    const { user_id: userId, ...fields } = input;
    const set = definedFields(fields);
    if (Object.keys(set).length === 0)
      throw new InvalidRequestError('nothing to update: name at least one field besides `user_id`', 'nothing_to_update');
    const current = await load('end_user', userId);
    const movesBudget = set.budget_id !== undefined && set.budget_id !== (current.budget_id ?? null);
    const period = await periodChange(current, set, now);
    const attrs = { ...set, ...period.attrs, updated_at: now.toISOString() };
    const judgedBy = period.judgedBy;
    // Held to the budget it was read with, moving or not: an update restating the budget it read
    // (or whose period it judged by that budget) must not land after a move to another, which it
    // would undo without the budgets' counts (found by review: a deleted budget still followed).
    const ops: TxOp[] = [setFields(refs.endUser(userId), attrs, concurrent(userId), sameBudget(current))];
    if (movesBudget) {
      if (set.budget_id) {
        const held = judgedBy?.budget_id === set.budget_id;
        ops.push(
          addToCounter(
            refs.budget(set.budget_id),
            END_USER_COUNT,
            1,
            held ? budgetChanged(set.budget_id) : notFound('budget', set.budget_id),
            held ? samePeriod(judgedBy) : undefined,
          ),
        );
      }
      ops.push(...(await leaveBudget(current.budget_id)));
    }
    await transact(ops, actor, audit('update', userId, set), now);
    return budgetView(await load('end_user', userId), now);
  }),

  delete: action(userIds(25), async ({ user_ids }, { actor, now }) => {
    requireProxyAdmin(actor, 'delete end users');
    const ids = [...new Set(user_ids)];
    const ops: TxOp[] = [];
    const leaving = new Map<string, number>();
    for (const userId of ids) {
      const current = await load('end_user', userId);
      ops.push(deleteExisting(refs.endUser(userId), concurrent(userId), sameBudget(current)));
      if (current.budget_id) leaving.set(current.budget_id, (leaving.get(current.budget_id) ?? 0) + 1);
    }
    for (const [budgetId, n] of leaving) ops.push(...(await leaveBudget(budgetId, n)));
    await transact(
      ops,
      actor,
      ids.map((u) => audit('delete', u)),
      now,
    );
    // LiteLLM's `deleted_customers` is the count; the ids beside it.
    return { deleted_customers: ids.length, deleted_user_ids: ids };
  }),

  info: action(z.object({ end_user_id: id.optional(), user_id: id.optional() }).strict(), async (q, { actor, now }) => {
    requireProxyAdmin(actor, 'read end users');
    if (q.end_user_id && q.user_id && q.end_user_id !== q.user_id) {
      throw new InvalidRequestError('`end_user_id` and `user_id` name different end users; give one', 'invalid_field', 'user_id');
    }
    const userId = q.end_user_id ?? q.user_id;
    if (!userId) throw new InvalidRequestError('`end_user_id` is required', 'missing_field', 'end_user_id');
    const endUser = await load('end_user', userId);
    const budget = endUser.budget_id ? await find('budget', endUser.budget_id) : undefined;
    return { ...budgetView(endUser, now, endUser.budget_duration ?? budget?.budget_duration), litellm_budget_table: budget ?? null };
  }),

  list: action(z.object({ cursor: z.string().optional(), limit: limit.optional() }).strict(), async (q, { actor, now }) => {
    requireProxyAdmin(actor, 'list end users');
    const page = await queryPage<EndUserRecord>({ ...listings.all('end_user'), cursor: q.cursor, limit: q.limit ?? 100 });
    // An end user without a period of its own counts its budget's, as its checks do (lib/domain/chain).
    const ids = [...new Set(page.data.flatMap((e) => (!e.budget_duration && e.budget_id ? [e.budget_id] : [])))];
    const budgets = new Map(
      (await Promise.all(ids.map(async (b) => [b, await find('budget', b)] as const))).map(([b, r]) => [b, r?.budget_duration]),
    );
    const durationOf = (e: EndUserRecord) => e.budget_duration ?? (e.budget_id ? budgets.get(e.budget_id) : undefined);
    return { data: page.data.map((e) => budgetView(e, now, durationOf(e))), next_cursor: page.next_cursor };
  }),

  block: action(userIds(50), async ({ user_ids }, { actor, now }) => {
    requireProxyAdmin(actor, 'block end users');
    const ids = [...new Set(user_ids)];
    const at = now.toISOString();
    const created = await Promise.all(ids.map(async (u) => !(await find('end_user', u))));
    await transact(
      ids.map((u) => blockEndUser(u, at)),
      actor,
      ids.map((u, i) => audit('block', u, { blocked: true, ...(created[i] ? { created: true } : {}) })),
      now,
    );
    return { blocked_users: ids };
  }),

  unblock: action(userIds(50), async ({ user_ids }, { actor, now }) => {
    requireProxyAdmin(actor, 'unblock end users');
    const ids = [...new Set(user_ids)];
    const at = now.toISOString();
    for (const u of ids) await load('end_user', u);
    await transact(
      ids.map((u) => setFields(refs.endUser(u), { blocked: false, updated_at: at }, notFound('end_user', u))),
      actor,
      ids.map((u) => audit('unblock', u, { blocked: false })),
      now,
    );
    return { unblocked_users: ids };
  }),
};
