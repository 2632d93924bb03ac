/** Recognising DynamoDB's outcomes without depending on class identity (bundles may hold two copies). */
export const isConditionalCheckFailed = (e: unknown): boolean =>
  (e as { name?: string } | null)?.name === 'ConditionalCheckFailedException';

export const isTransactionCanceled = (e: unknown): boolean => (e as { name?: string } | null)?.name === 'TransactionCanceledException';

/** The cancellation reason codes of a TransactWriteItems, in the order of its items. */
export const cancellationCodes = (e: unknown): (string | undefined)[] =>
  ((e as { CancellationReasons?: { Code?: string }[] } | null)?.CancellationReasons ?? []).map((r) => r.Code);
