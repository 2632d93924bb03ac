/**
 * Updates that also REMOVE attributes (shared-writes' `setFields` only SETs). Needed when an
 * item leaves a listing: index key attributes cannot be set to null, they must be removed.
 */
import type { TollgateError } from '../errors.js';
import { tableName } from '../store/client.js';
import { WINDOW_SPEND_PREFIX } from '../store/codec.js';
import type { ItemRef } from '../store/keys.js';
import { spendFields } from './budget.js';
import type { Guard } from './shared-writes.js';
import type { TxOp } from './store.js';

/**
 * SETs the defined fields and REMOVEs the named attributes of an existing item (and one that
 * passes the guard). Guard names and values must not clash with `#u<n>`, `#r<n>`, `:u<n>`.
 */
export function updateFields(ref: ItemRef, set: Record<string, unknown>, remove: readonly string[], onFail: () => TollgateError, guard?: Guard): TxOp {
  const names: Record<string, string> = { ...guard?.names };
  const values: Record<string, unknown> = { ...guard?.values };
  const sets: string[] = [];
  Object.entries(set)
    .filter(([, v]) => v !== undefined)
    .forEach(([name, value], i) => {
      names[`#u${i}`] = name;
      values[`:u${i}`] = value;
      sets.push(`#u${i} = :u${i}`);
    });
  const removes = remove.map((name, i) => {
    names[`#r${i}`] = name;
    return `#r${i}`;
  });
  if (sets.length === 0 && removes.length === 0) throw new RangeError('updateFields needs a field to set or remove');
  const expression = [sets.length ? `SET ${sets.join(', ')}` : '', removes.length ? `REMOVE ${removes.join(', ')}` : ''].filter(Boolean).join(' ');
  return {
    ref,
    item: {
      Update: {
        TableName: tableName(),
        Key: ref,
        UpdateExpression: expression,
        ConditionExpression: guard ? `attribute_exists(PK) AND (${guard.expression})` : 'attribute_exists(PK)',
        ExpressionAttributeNames: names,
        ...(Object.keys(values).length ? { ExpressionAttributeValues: values } : {}),
      },
    },
    onConditionFail: onFail,
  };
}

/**
 * `spend` set by an admin, as item attributes: lifetime spend and, with a budget period, the
 * current window's counter (its `ws#<window>` attribute), so the budget check sees the value.
 */
export function spendAttributes(spend: number, duration: string | null | undefined, now: Date): Record<string, number> {
  const { spend: lifetime, window_spend } = spendFields(spend, duration, now);
  const out: Record<string, number> = { spend: lifetime };
  for (const [id, v] of Object.entries(window_spend ?? {})) out[WINDOW_SPEND_PREFIX + id] = v;
  return out;
}
