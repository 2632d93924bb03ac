/** Recognising DynamoDB's outcomes without depending on class identity (bundles may hold two copies). */
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';

export const isConditionalCheckFailed = (e: unknown): boolean =>
  (e as { name?: string } | null)?.name === 'ConditionalCheckFailedException';

/**
 * The record a refused conditional write returned (ReturnValuesOnConditionCheckFailure ALL_OLD),
 * as plain values: the document client leaves it in DynamoDB's attribute shapes. Empty when none.
 */
export function refusedItem(e: unknown): Record<string, unknown> {
  const raw = (e as { Item?: Record<string, unknown> } | null)?.Item ?? {};
  return Object.values(raw).every((v) => typeof v === 'object' && v !== null) ? unmarshall(raw as Record<string, AttributeValue>) : raw;
}

export const isTransactionCanceled = (e: unknown): boolean => (e as { name?: string } | null)?.name === 'TransactionCanceledException';

/** The cancellation reason codes of a TransactWriteItems, in the order of its items. */
export const cancellationCodes = (e: unknown): (string | undefined)[] =>
  ((e as { CancellationReasons?: { Code?: string }[] } | null)?.CancellationReasons ?? []).map((r) => r.Code);

/**
 * DynamoDB refused an item over its 400 KB: a ValidationException, or a transaction cancelled
 * for it (a `ValidationError` reason that speaks of the item's size).
 */
export function isItemTooLarge(e: unknown): boolean {
  const err = e as { name?: string; message?: string; CancellationReasons?: { Code?: string; Message?: string }[] } | null;
  if (err?.name === 'ValidationException') return /item size/i.test(err.message ?? '');
  if (err?.name !== 'TransactionCanceledException') return false;
  return (err.CancellationReasons ?? []).some((r) => r.Code === 'ValidationError' && /size/i.test(r.Message ?? ''));
}
