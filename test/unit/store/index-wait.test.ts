/**
 * How long a cascading delete waits before it lists a parent's children through an index
 * (lib/store/writes indexWaitMs): until INDEX_LAG_MS have passed since the parent last gained one.
 */
import { describe, expect, it } from 'vitest';
import { NotFoundError } from '../../../lib/errors.js';
import { addChild, CHILD_AT_ATTR, INDEX_LAG_MS, indexWaitMs } from '../../../lib/store/writes.js';

const NOW = 1_800_000_000_000;

describe('indexWaitMs', () => {
  it('no wait for a parent that never gained a child (or before the stamp came in)', () => {
    expect(indexWaitMs({}, NOW)).toBe(0);
    expect(indexWaitMs({ child_rev: 3 }, NOW)).toBe(0);
  });

  it('the rest of the lag after a child added just before; none once it has passed', () => {
    expect(indexWaitMs({ [CHILD_AT_ATTR]: NOW - 100 }, NOW)).toBe(INDEX_LAG_MS - 100);
    expect(indexWaitMs({ [CHILD_AT_ATTR]: NOW - INDEX_LAG_MS }, NOW)).toBe(0);
    expect(indexWaitMs({ [CHILD_AT_ATTR]: NOW - 60_000 }, NOW)).toBe(0);
  });

  it('at most the lag, whatever the stamp says (a clock ahead of this one)', () => {
    expect(indexWaitMs({ [CHILD_AT_ATTR]: NOW + 3_600_000 }, NOW)).toBe(INDEX_LAG_MS);
    expect(indexWaitMs({ [CHILD_AT_ATTR]: 'soon' }, NOW)).toBe(0);
  });
});

describe('addChild', () => {
  const ref = { PK: 'TEAM#t', SK: 'TEAM#t' };
  const missing = () => new NotFoundError('team', 't');
  const stampOf = (op: ReturnType<typeof addChild>) => (op.item.Update?.ExpressionAttributeValues as Record<string, number>)[':s0'];

  it('moves the witness and stamps when, in one update of an item that must exist', () => {
    const at = Date.now() + 60_000;
    const op = addChild(ref, missing, new Date(at));
    expect(op.item.Update).toMatchObject({
      UpdateExpression: 'ADD #c :d SET #s0 = :s0',
      ConditionExpression: 'attribute_exists(PK)',
      ExpressionAttributeNames: { '#c': 'child_rev', '#s0': CHILD_AT_ATTR },
      ExpressionAttributeValues: { ':d': 1, ':s0': at },
    });
  });

  it('stamps the time it is written, not an earlier one the request began at (found by review)', () => {
    const before = Date.now();
    const stamp = stampOf(addChild(ref, missing, new Date(before - 10_000)));
    expect(stamp).toBeGreaterThanOrEqual(before);
    expect(stamp).toBeLessThanOrEqual(Date.now());
  });
});
