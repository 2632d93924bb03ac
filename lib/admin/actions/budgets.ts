/**
 * `/budget/*`: reusable budgets that end users point to (`budget_id`). Proxy admins only.
 * A budget is deleted, or given a new period, only while no end user points to it (409
 * `budget_in_use`; a new period would start every end user following it at zero): the count is
 * kept on the budget item by the customer actions, in their transactions, so the check is exact
 * without an index.
 */
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { AuditEntry } from '../../domain/audit.js';
import type { BudgetRecord } from '../../domain/records.js';
import { ConflictError, InvalidRequestError } from '../../errors.js';
import { encode } from '../../store/codec.js';
import { refs } from '../../store/keys.js';
import { listings } from '../../store/listings.js';
import { definedFields, deleteExisting, putNew, REVISION_ATTR, setFields } from '../../store/writes.js';
import { type Actions, action } from '../http/handler.js';
import { load, notFound, queryPage, transact } from '../persistence.js';
import { requireProxyAdmin } from '../rules/actor.js';
import { duration, id, limit, optionalMoney } from '../schema/fields.js';
import { END_USER_COUNT } from './customers.js';

// Not LiteLLM's `soft_budget` (alerts), `tpm_limit`, `rpm_limit`, `max_parallel_requests` or
// `model_max_budget`: nothing here enforces them, and a stored limit nobody checks would mislead,
// so they are refused as unknown fields.
const budgetFields = {
  max_budget: optionalMoney,
  budget_duration: duration.nullable().optional(),
};

/** Ids as a JSON list (POST) or a comma-separated query value (GET `?budgets=a,b`). */
const idList = z.preprocess(
  (v) =>
    typeof v === 'string'
      ? v
          .split(',')
          .map((s) => s.trim())
          .filter((s) => s.length > 0)
      : v,
  z.array(id).min(1).max(100),
);

const audit = (verb: string, budgetId: string, changes?: Record<string, unknown>): AuditEntry => ({
  action: `budget.${verb}`,
  entity_type: 'budget',
  entity_id: budgetId,
  ...(changes ? { changes } : {}),
});

/** A budget as the API shows it: without the admin lock's revision (lib/store/writes), which is bookkeeping. */
function shown(b: BudgetRecord): BudgetRecord {
  const { [REVISION_ATTR]: _rev, ...rest } = b as BudgetRecord & { [REVISION_ATTR]?: unknown };
  return rest;
}

export const budgetActions: Actions = {
  new: action(z.object({ budget_id: id.optional(), ...budgetFields }).strict(), async (input, { actor, now }) => {
    requireProxyAdmin(actor, 'create budgets');
    const { budget_id, ...fields } = input;
    const budgetId = budget_id ?? randomUUID();
    const set = definedFields(fields);
    const record: BudgetRecord = { budget_id: budgetId, ...set, created_at: now.toISOString() };
    await transact(
      [
        putNew(
          refs.budget(budgetId),
          encode.budget(record),
          () => new ConflictError('budget_exists', `budget \`${budgetId}\` already exists`, 'budget_id'),
        ),
      ],
      actor,
      audit('new', budgetId, set),
      now,
    );
    return record;
  }),

  update: action(z.object({ budget_id: id, ...budgetFields }).strict(), async (input, { actor, now }) => {
    requireProxyAdmin(actor, 'update budgets');
    const { budget_id: budgetId, ...fields } = input;
    const set = definedFields(fields);
    if (Object.keys(set).length === 0)
      throw new InvalidRequestError('nothing to update: name at least one field besides `budget_id`', 'nothing_to_update');
    const current = await load('budget', budgetId);
    // The end users following this budget count their windows by its period: a new one would
    // start them all at zero (an end user's own change of period carries its spend: /customer/update).
    const newPeriod = typeof set.budget_duration === 'string' && set.budget_duration !== (current.budget_duration ?? null);
    const periodInUse = () =>
      new ConflictError(
        'budget_in_use',
        `budget \`${budgetId}\` is used by ${current.end_user_count ?? 'some'} end user(s), whose spend counts in its \`${current.budget_duration ?? 'lifetime'}\` period: a new period would start them at zero. Make a budget with the new period and point them to it (/customer/update \`budget_id\`), which carries their spend`,
        'budget_duration',
      );
    if (newPeriod && (current.end_user_count ?? 0) > 0) throw periodInUse();
    await transact(
      [
        setFields(
          refs.budget(budgetId),
          { ...set, updated_at: now.toISOString() },
          newPeriod ? periodInUse : notFound('budget', budgetId),
          newPeriod
            ? { expression: 'attribute_not_exists(#n) OR #n <= :none', names: { '#n': END_USER_COUNT }, values: { ':none': 0 } }
            : undefined,
        ),
      ],
      actor,
      audit('update', budgetId, set),
      now,
    );
    return shown(await load('budget', budgetId));
  }),

  delete: action(z.object({ id }).strict(), async ({ id: budgetId }, { actor, now }) => {
    requireProxyAdmin(actor, 'delete budgets');
    const current = await load('budget', budgetId);
    const inUse = () =>
      new ConflictError(
        'budget_in_use',
        `budget \`${budgetId}\` is used by ${current.end_user_count ?? 'some'} end user(s); point them to another budget first`,
        'id',
      );
    if ((current.end_user_count ?? 0) > 0) throw inUse();
    await transact(
      [
        deleteExisting(refs.budget(budgetId), inUse, {
          expression: 'attribute_not_exists(#n) OR #n <= :zero',
          names: { '#n': END_USER_COUNT },
          values: { ':zero': 0 },
        }),
      ],
      actor,
      audit('delete', budgetId),
      now,
    );
    // LiteLLM answers with the deleted budget.
    const { end_user_count: _n, ...deleted } = current;
    return { ...shown(deleted), deleted_budget_id: budgetId };
  }),

  info: action(z.object({ budgets: idList }).strict(), async ({ budgets }, { actor }) => {
    requireProxyAdmin(actor, 'read budgets');
    const out: BudgetRecord[] = [];
    // In order, so a 404 names the first missing id.
    for (const b of new Set(budgets)) out.push(shown(await load('budget', b)));
    return out;
  }),

  list: action(z.object({ cursor: z.string().optional(), limit: limit.optional() }).strict(), async (q, { actor }) => {
    requireProxyAdmin(actor, 'list budgets');
    const page = await queryPage<BudgetRecord>({ ...listings.all('budget'), cursor: q.cursor, limit: q.limit ?? 100 });
    return { ...page, data: page.data.map(shown) };
  }),
};
