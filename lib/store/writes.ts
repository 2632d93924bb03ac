/**
 * The transaction ops the entity actions compose (for lib/store/admin-store.ts `transact`). Updates
 * SET only the fields a request names, never rewrite the whole item: the llm function `ADD`s
 * spend to the same items concurrently, and a read-modify-put would lose those increments.
 */
import type { TollgateError } from '../errors.js';
import type { TxOp } from './admin-store.js';
import { tableName } from './client.js';
import type { Item } from './codec.js';
import { encode, storedValue } from './codec.js';
import { type ItemRef, refs } from './keys.js';

/**
 * A number added to what the attribute holds when the write lands (0 when absent), instead of a
 * value set: for counters other writers move meanwhile (strict reservations on `committed`).
 */
export class Added {
  constructor(readonly delta: number) {}
}

/** An extra condition on an op; its names and values must not clash with the op's own (`#u<n>`, `#r<n>`, `:u<n>`). */
export interface Guard {
  expression: string;
  names?: Record<string, string>;
  values?: Record<string, unknown>;
}

const withGuard = (base: string, guard: Guard | undefined): string => (guard ? `${base} AND (${guard.expression})` : base);

/**
 * The attribute every admin write adds 1 to (one that sets `updated_at`, see updateFields): the
 * lock's witness. `updated_at` alone is a millisecond taken when a request began, which two writes
 * can share (begun together, or instances' clocks apart); a count cannot.
 */
export const REVISION_ATTR = 'rev';

/** What an item's lock reads: the revision and timestamps it was read at. */
export interface ReadAt {
  updated_at?: string | null;
  created_at?: string | null;
  rev?: number;
}

/**
 * The item has not been changed through the admin API since it was read: every admin write adds
 * to its revision and sets `updated_at` (settlements move counters only), and an item removed and
 * made again has another `created_at`. A write judged on what it read holds to it.
 */
export function unchangedSince(read: ReadAt): Guard {
  const names: Record<string, string> = { '#ua': 'updated_at', '#rv': REVISION_ATTR };
  const values: Record<string, unknown> = {};
  const parts = [
    read.updated_at ? '#ua = :ua' : 'attribute_not_exists(#ua)',
    typeof read.rev === 'number' ? '#rv = :rv' : 'attribute_not_exists(#rv)',
  ];
  if (read.updated_at) values[':ua'] = read.updated_at;
  if (typeof read.rev === 'number') values[':rv'] = read.rev;
  if (read.created_at) {
    names['#ca'] = 'created_at';
    values[':ca'] = read.created_at;
    parts.push('#ca = :ca');
  }
  return { expression: parts.join(' AND '), names, ...(Object.keys(values).length > 0 ? { values } : {}) };
}

/**
 * The attribute still holds what a read saw (null: absent or null). `tag` names the guard's
 * placeholders (`#<tag>`, `:<tag>`), to keep two of them in one condition apart.
 */
export function stillHolds(attr: string, value: unknown, tag = 'sh'): Guard {
  const names = { [`#${tag}`]: attr };
  if (value === null || value === undefined)
    return { expression: `attribute_not_exists(#${tag}) OR attribute_type(#${tag}, :${tag})`, names, values: { [`:${tag}`]: 'NULL' } };
  return { expression: `#${tag} = :${tag}`, names, values: { [`:${tag}`]: value } };
}

/**
 * The attribute a parent (team, user, organization) adds 1 to in every transaction that gives it
 * a child (a key, a membership, a team): the witness a cascading delete holds its listing to. The
 * listings go through indexes, so a child landing after the parent's read would be missed and
 * left behind; the parent's delete is conditioned on this being what it read before listing.
 */
export const CHILDREN_ATTR = 'child_rev';

/**
 * When a parent last gained a child (epoch ms), set with the witness. An index shows a new item
 * some time after it lands (typically well under a second): a child that landed just before the
 * parent was read may not be listed yet, and the witness cannot tell. A cascading delete waits
 * until INDEX_LAG_MS have passed since this before it lists (lib/admin/cascade untilIndexed).
 */
export const CHILD_AT_ATTR = 'child_at';

/** How long a cascading delete gives the indexes it lists to show a child added just before. */
export const INDEX_LAG_MS = 2_500;

/**
 * The parent gains a child in this transaction: it must exist, its children witness moves, and it
 * notes when: the later of the request's time and this clock's now, as the transaction is built
 * (found by review: a request that read long before it wrote noted a time the lag had run from).
 * A `guard` must hold too (`onMissing` then also answers its failure).
 */
export const addChild = (ref: ItemRef, onMissing: () => TollgateError, now: Date, guard?: Guard): TxOp =>
  addToCounter(ref, CHILDREN_ATTR, 1, onMissing, guard, { [CHILD_AT_ATTR]: Math.max(now.getTime(), Date.now()) });

/** How long to wait before listing a parent's children so that the indexes show every child it read the witness of. */
export function indexWaitMs(read: object, nowMs: number): number {
  const at = (read as { [CHILD_AT_ATTR]?: unknown })[CHILD_AT_ATTR];
  return typeof at === 'number' ? Math.min(INDEX_LAG_MS, Math.max(0, at + INDEX_LAG_MS - nowMs)) : 0;
}

/** No child was added to the parent since it was read (lib/admin/cascade lists them after that read). */
export function childrenUnchanged(read: object): Guard {
  // Absent on a parent that gained no child since the witness came in (or ever): absent it must stay.
  const seen = (read as { [CHILDREN_ATTR]?: unknown })[CHILDREN_ATTR];
  return stillHolds(CHILDREN_ATTR, typeof seen === 'number' ? seen : null, 'cr');
}

/** Guards that must all hold (their names and values must not clash). */
export function allOf(...guards: (Guard | undefined)[]): Guard | undefined {
  const given = guards.filter((g): g is Guard => g !== undefined);
  if (given.length <= 1) return given[0];
  const names: Record<string, string> = Object.assign({}, ...given.map((g) => g.names ?? {}));
  const values: Record<string, unknown> = Object.assign({}, ...given.map((g) => g.values ?? {}));
  // DynamoDB refuses an empty map of names or values.
  return {
    expression: given.map((g) => `(${g.expression})`).join(' AND '),
    ...(Object.keys(names).length > 0 ? { names } : {}),
    ...(Object.keys(values).length > 0 ? { values } : {}),
  };
}

/** Creates an item that must not exist yet. */
export function putNew(ref: ItemRef, item: Item, onExists: () => TollgateError): TxOp {
  return {
    ref,
    item: { Put: { TableName: tableName(), Item: item, ConditionExpression: 'attribute_not_exists(PK)' } },
    onConditionFail: onExists,
  };
}

/** Creates or replaces an item that holds no counters (membership and alias markers). */
export function putAny(ref: ItemRef, item: Item): TxOp {
  return { ref, item: { Put: { TableName: tableName(), Item: item } } };
}

/**
 * Sets the given fields of an existing item (undefined fields are left alone; null is stored as
 * an explicit "unset").
 */
export function setFields(ref: ItemRef, fields: Record<string, unknown>, onFail: () => TollgateError, guard?: Guard): TxOp {
  return updateFields(ref, fields, [], onFail, guard);
}

/**
 * SETs the defined fields and REMOVEs the named attributes of an existing item (one that passes
 * the guard, if any). REMOVE is how an item leaves a listing: index key attributes cannot be null.
 * Guard names and values must not clash with `#u<n>`, `#r<n>`, `:u<n>`.
 */
export function updateFields(
  ref: ItemRef,
  set: Record<string, unknown>,
  remove: readonly string[],
  onFail: () => TollgateError,
  guard?: Guard,
): TxOp {
  const names: Record<string, string> = { ...guard?.names };
  const values: Record<string, unknown> = { ...guard?.values };
  const sets: string[] = [];
  // An admin write (it sets `updated_at`) counts itself in the revision the lock compares.
  const revised = set.updated_at !== undefined;
  if (revised) {
    names['#rev'] = REVISION_ATTR;
    values[':rev1'] = 1;
  }
  Object.entries(set)
    .filter(([name, v]) => v !== undefined && name !== REVISION_ATTR)
    .forEach(([name, value], i) => {
      names[`#u${i}`] = name;
      if (value instanceof Added) {
        values[`:u${i}`] = value.delta;
        values[':zero'] = 0;
        sets.push(`#u${i} = if_not_exists(#u${i}, :zero) + :u${i}`);
        return;
      }
      values[`:u${i}`] = storedValue(name, value);
      sets.push(`#u${i} = :u${i}`);
    });
  const removes = remove.map((name, i) => {
    names[`#r${i}`] = name;
    return `#r${i}`;
  });
  if (sets.length === 0 && removes.length === 0) throw new RangeError('an update needs a field to set or remove');
  const expression = [
    sets.length ? `SET ${sets.join(', ')}` : '',
    removes.length ? `REMOVE ${removes.join(', ')}` : '',
    revised ? 'ADD #rev :rev1' : '',
  ]
    .filter(Boolean)
    .join(' ');
  return {
    ref,
    item: {
      Update: {
        TableName: tableName(),
        Key: ref,
        UpdateExpression: expression,
        ConditionExpression: withGuard('attribute_exists(PK)', guard),
        ExpressionAttributeNames: names,
        ...(Object.keys(values).length ? { ExpressionAttributeValues: values } : {}),
      },
    },
    onConditionFail: onFail,
  };
}

/**
 * Adds `delta` to a number attribute of an existing item (one that passes the guard, if any), and
 * sets the attributes of `also` beside it (names `#c`, `:d`, `#s<n>`, `:s<n>` are taken).
 */
export function addToCounter(
  ref: ItemRef,
  attribute: string,
  delta: number,
  onMissing: () => TollgateError,
  guard?: Guard,
  also: Record<string, unknown> = {},
): TxOp {
  const sets = Object.entries(also);
  return {
    ref,
    item: {
      Update: {
        TableName: tableName(),
        Key: ref,
        UpdateExpression: `ADD #c :d${sets.length > 0 ? ` SET ${sets.map((_, i) => `#s${i} = :s${i}`).join(', ')}` : ''}`,
        ConditionExpression: withGuard('attribute_exists(PK)', guard),
        ExpressionAttributeNames: { '#c': attribute, ...Object.fromEntries(sets.map(([name], i) => [`#s${i}`, name])), ...guard?.names },
        ExpressionAttributeValues: { ':d': delta, ...Object.fromEntries(sets.map(([, value], i) => [`:s${i}`, value])), ...guard?.values },
      },
    },
    onConditionFail: onMissing,
  };
}

/** Deletes an item that must exist (and pass the guard). */
export const deleteExisting = (ref: ItemRef, onFail: () => TollgateError, guard?: Guard): TxOp =>
  conditionalDelete(ref, withGuard('attribute_exists(PK)', guard), guard, onFail);

/** A delete under `condition`, whose names and values are the guard's. */
function conditionalDelete(ref: ItemRef, condition: string, guard: Guard | undefined, onFail: () => TollgateError): TxOp {
  return {
    ref,
    item: {
      Delete: {
        TableName: tableName(),
        Key: ref,
        ConditionExpression: condition,
        ...(guard?.names ? { ExpressionAttributeNames: guard.names } : {}),
        ...(guard?.values ? { ExpressionAttributeValues: guard.values } : {}),
      },
    },
    onConditionFail: onFail,
  };
}

/** Deletes an item if it is there (markers whose absence is fine). */
export function deleteAny(ref: ItemRef): TxOp {
  return { ref, item: { Delete: { TableName: tableName(), Key: ref } } };
}

/** Deletes a marker if it is absent or still passes the guard (a marker another item took over is left alone: 409). */
export const deleteIfStill = (ref: ItemRef, guard: Guard, onFail: () => TollgateError): TxOp =>
  conditionalDelete(ref, `attribute_not_exists(PK) OR (${guard.expression})`, guard, onFail);

/**
 * Deletes a replaced key's item if it is still there (a predecessor in its grace period, a
 * tombstone). The admin store settles its counter copy first (lib/store/key-copy: settling a
 * tombstone deletes it); its counter shards were retired when it was replaced
 * (lib/store/key-successor), so the delete leaves them, and the transaction holds no item per shard.
 */
export function deleteReplacedKey(token: string): TxOp {
  return { ...deleteAny(refs.key(token)), replacedKey: true };
}

/** Asserts inside the transaction that an item exists. */
export function requireExists(ref: ItemRef, onMissing: () => TollgateError): TxOp {
  return {
    ref,
    item: { ConditionCheck: { TableName: tableName(), Key: ref, ConditionExpression: 'attribute_exists(PK)' } },
    onConditionFail: onMissing,
  };
}

/** Asserts inside the transaction that an item exists and passes the guard. */
export function requireGuarded(ref: ItemRef, guard: Guard, onFail: () => TollgateError): TxOp {
  return {
    ref,
    item: {
      ConditionCheck: {
        TableName: tableName(),
        Key: ref,
        ConditionExpression: withGuard('attribute_exists(PK)', guard),
        ...(guard.names ? { ExpressionAttributeNames: guard.names } : {}),
        ...(guard.values ? { ExpressionAttributeValues: guard.values } : {}),
      },
    },
    onConditionFail: onFail,
  };
}

/** Asserts inside the transaction that an item does not exist. */
export function requireAbsent(ref: ItemRef, onPresent: () => TollgateError): TxOp {
  return {
    ref,
    item: { ConditionCheck: { TableName: tableName(), Key: ref, ConditionExpression: 'attribute_not_exists(PK)' } },
    onConditionFail: onPresent,
  };
}

/** The fields a request actually set (undefined dropped), for the record and the audit entry. */
export const definedFields = <T extends Record<string, unknown>>(fields: T): Partial<T> =>
  Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined)) as Partial<T>;

/** Sets `blocked`; blocking creates a missing end user with the codec's item shape. */
export function blockEndUser(userId: string, at: string): TxOp {
  const ref = refs.endUser(userId);
  const shape = encode.endUser({ user_id: userId, created_at: at, spend: 0 });
  return {
    ref,
    item: {
      Update: {
        TableName: tableName(),
        Key: ref,
        UpdateExpression:
          'SET blocked = :t, updated_at = :at, user_id = :id, created_at = if_not_exists(created_at, :at), spend = if_not_exists(spend, :zero), #kind = if_not_exists(#kind, :kind), GSI1PK = :g1pk, GSI1SK = :id',
        ExpressionAttributeNames: { '#kind': 'kind' },
        ExpressionAttributeValues: { ':t': true, ':at': at, ':id': userId, ':zero': 0, ':kind': shape.kind, ':g1pk': shape.GSI1PK },
      },
    },
  };
}
