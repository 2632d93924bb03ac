/**
 * The counters `/key/regenerate` copies into the new key, and what lands on the old key after the
 * copy was read. A hot key settles many times a second, so the copy cannot wait for a quiet moment
 * (found by review: guarding the copy on unchanged counters answered 409 nearly every time, and a
 * leaked hot key could not be rotated). Instead the regeneration marks the old item replaced (every
 * counter move after that follows it to the new key: lib/store/key-successor) and records on it the
 * counters it copied (`copied_counters`); right after, `settleKeyCopy` adds to the new key what the
 * old item's counters moved since (settlements landing between the read and the transaction) and
 * clears the record, in one transaction, once. Without a grace period the old item is a tombstone
 * until then (replaced, no grace: the authorizer denies it, no listing shows it) and is deleted by
 * that same transaction. Until then the old item is listed (GSI1 `KEY_COPY`, lib/store/listings): if
 * the regeneration died in between, the spend sweeper settles it (lib/store/sweep), well within the
 * tombstone's TTL (a day), which removes it (and the key-level share of the in-between settlements)
 * only if the sweeper too could not for that long.
 */
import { NumberValue, TransactWriteCommand, type TransactWriteCommandInput } from '@aws-sdk/lib-dynamodb';
import { dollarsToNanos, nanosToDecimal } from '../domain/cost.js';
import { COMMITTED_ATTR, type Item, WINDOW_COMMITTED_PREFIX, WINDOW_SPEND_PREFIX } from './codec.js';
import { cancellationCodes, isTransactionCanceled } from './errors.js';
import { NOT_REPLACED } from './key-successor.js';
import type { ItemRef } from './keys.js';

type TxItem = NonNullable<TransactWriteCommandInput['TransactItems']>[number];

/** The attribute on a replaced key's item holding the counters copied into its successor. */
export const COPIED_COUNTERS_ATTR = 'copied_counters';

/**
 * How long a tombstone (a key replaced without grace, its copy not settled) may outlive a crash:
 * the sweeper settles it within minutes (lib/store/sweep); a day gives it as many runs.
 */
export const TOMBSTONE_TTL_SECONDS = 86_400;

/** Counter attribute -> nanos. */
type Counters = Map<string, number>;

interface CounterFields {
  spend?: number | undefined;
  committed?: number | undefined;
  window_spend?: Record<string, number> | undefined;
  window_committed?: Record<string, number> | undefined;
}

/** A record's counters (lifetime and per window) by the attribute that holds each. */
function countersOf(r: CounterFields): Counters {
  const out: Counters = new Map();
  const put = (attr: string, dollars: unknown) => {
    if (typeof dollars === 'number' && Number.isFinite(dollars)) out.set(attr, dollarsToNanos(dollars));
  };
  put('spend', r.spend);
  put(COMMITTED_ATTR, r.committed);
  for (const [w, v] of Object.entries(r.window_spend ?? {})) put(WINDOW_SPEND_PREFIX + w, v);
  for (const [w, v] of Object.entries(r.window_committed ?? {})) put(WINDOW_COMMITTED_PREFIX + w, v);
  return out;
}

const decimal = (nanos: number) => NumberValue.from(nanosToDecimal(nanos));

/** The attributes that record, on the old item, the counters of `copied` (what the new key starts with). */
export function copiedCountersSet(copied: CounterFields): Record<string, unknown> {
  return { [COPIED_COUNTERS_ATTR]: Object.fromEntries([...countersOf(copied)].map(([a, n]) => [a, decimal(n)])) };
}

/** What moved on the old key since the copy: its counters now (shards summed) minus those copied. */
export function movedSinceCopy(now: CounterFields, copied: unknown): Counters {
  const was: Counters = new Map();
  for (const [a, v] of Object.entries((copied ?? {}) as Record<string, unknown>)) was.set(a, dollarsToNanos(Number(v)));
  const is = countersOf(now);
  const out: Counters = new Map();
  for (const [a, n] of is) if (n !== (was.get(a) ?? 0)) out.set(a, n - (was.get(a) ?? 0));
  for (const [a, n] of was) if (!is.has(a) && n !== 0) out.set(a, -n);
  return out;
}

export type SettleStep =
  | { status: 'done' }
  /** The key it went to was replaced or deleted meanwhile: try the next one (undefined: gone). */
  | { status: 'target_moved'; replacedBy: unknown }
  /** The old item changed or another transaction crossed: read again. */
  | { status: 'retry' };

/**
 * One attempt: add `moved` to `target` (which must exist and not have been replaced) and, on the
 * same condition that the old item still holds the copy record and the counters read (`own`,
 * shard 0), clear the record (grace copy) or delete the tombstone, with `extra` (its shard deletes).
 * A `target` of undefined (the new key is gone): the old item is finished alone.
 */
export async function settleCopyOnce(
  send: (items: TxItem[]) => Promise<unknown>,
  table: string,
  old: { ref: ItemRef; own: Item; tombstone: boolean; extra: TxItem[] },
  target: ItemRef | undefined,
  moved: Counters,
): Promise<SettleStep> {
  const names: Record<string, string> = { '#cc': COPIED_COUNTERS_ATTR, '#sp': 'spend', '#cm': COMMITTED_ATTR };
  const values: Record<string, unknown> = {};
  const same = (alias: string, attr: string) => {
    const v = old.own[attr];
    if (v === undefined || v === null) return `attribute_not_exists(${alias})`;
    values[`:${alias.slice(1)}`] = decimal(dollarsToNanos(Number(v)));
    return `${alias} = :${alias.slice(1)}`;
  };
  const condition = `attribute_exists(#cc) AND ${same('#sp', 'spend')} AND ${same('#cm', COMMITTED_ATTR)}`;
  const guard = {
    ConditionExpression: condition,
    ExpressionAttributeNames: names,
    ...(Object.keys(values).length ? { ExpressionAttributeValues: values } : {}),
  };
  const finish: TxItem = old.tombstone
    ? { Delete: { TableName: table, Key: old.ref, ...guard } }
    : { Update: { TableName: table, Key: old.ref, UpdateExpression: 'REMOVE #cc, GSI1PK, GSI1SK', ...guard } };
  const items: TxItem[] = [finish, ...old.extra];
  if (target && moved.size > 0) {
    const addNames: Record<string, string> = {};
    const addValues: Record<string, unknown> = {};
    const adds = [...moved].map(([attr, nanos], i) => {
      addNames[`#a${i}`] = attr;
      addValues[`:a${i}`] = decimal(nanos);
      return `#a${i} :a${i}`;
    });
    items.unshift({
      Update: {
        TableName: table,
        Key: target,
        UpdateExpression: `ADD ${adds.join(', ')}`,
        ConditionExpression: `attribute_exists(PK) AND ${NOT_REPLACED}`,
        ExpressionAttributeNames: addNames,
        ExpressionAttributeValues: addValues,
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      },
    });
  }
  try {
    await send(items);
    return { status: 'done' };
  } catch (e) {
    if (!isTransactionCanceled(e)) throw e;
    const codes = cancellationCodes(e);
    if (target && moved.size > 0 && codes[0] === 'ConditionalCheckFailed') {
      const reasons = (e as { CancellationReasons?: { Item?: Record<string, { S?: string }> }[] }).CancellationReasons;
      return { status: 'target_moved', replacedBy: reasons?.[0]?.Item?.replaced_by?.S };
    }
    return { status: 'retry' };
  }
}

/** The transaction sender for `settleCopyOnce` on a document client. */
export const transactSender =
  (client: { send: (c: TransactWriteCommand) => Promise<unknown> }) =>
  (items: TxItem[]): Promise<unknown> =>
    client.send(new TransactWriteCommand({ TransactItems: items }));
