/** Opaque cursors over DynamoDB's LastEvaluatedKey: base64url JSON, validated on the way in. */
import { InvalidRequestError } from '../errors.js';

export const encodeCursor = (lastKey: Record<string, unknown> | undefined): string | null =>
  lastKey ? Buffer.from(JSON.stringify(lastKey), 'utf8').toString('base64url') : null;

export function decodeCursor(cursor: string | undefined | null): Record<string, unknown> | undefined {
  if (!cursor) return undefined;
  try {
    const v = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown;
    if (v && typeof v === 'object' && !Array.isArray(v) && Object.values(v).every((x) => typeof x === 'string')) {
      return v as Record<string, unknown>;
    }
  } catch {
    // fall through
  }
  throw new InvalidRequestError('`cursor` is not a cursor this API returned', 'invalid_cursor', 'cursor');
}

export interface Page<T> {
  data: T[];
  /** Pass back as `cursor` for the next page; null on the last page. */
  next_cursor: string | null;
}
