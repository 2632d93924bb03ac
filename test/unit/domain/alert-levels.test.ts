/**
 * A level is reached when spend is at or above it (docs/alerts.md), in exact money (found by
 * review): a threshold was computed in binary fractions (80 % of 0.07 is 0.05600000000000001),
 * so a spend of exactly 0.056, which is 80 % of the budget, did not reach it.
 */
import { describe, expect, it } from 'vitest';
import { alertLevels, reached } from '../../../lib/domain/alerts.js';
import { NANOS_PER_DOLLAR } from '../../../lib/domain/cost.js';

const names = (max: number, p: number, spend: number) => reached(alertLevels({ max_budget: max }, [p]), spend).map((l) => l.name);

describe('a spend equal to a threshold reaches it', () => {
  it.each([
    [0.07, 80, 0.056],
    [0.01, 90, 0.009],
    [12.34, 90, 11.106],
    [3, 33, 0.99],
    [10, 100, 10],
    // A budget's nano-dollars times the percentage is past 2^53: the product was rounded (found by review).
    [923353.191617566, 50, 461676.595808783],
  ] as const)('max %s at %s percent: a spend of %s', (max, p, spend) => {
    expect(names(max, p, spend)).toEqual([`pct:${p}`]);
  });

  it('a nano-dollar below it does not', () => {
    expect(names(0.07, 80, 0.056 - 1 / NANOS_PER_DOLLAR)).toEqual([]);
    // 50 % of one nano-dollar is half of one: the first whole nano-dollar reaches it.
    expect(names(1 / NANOS_PER_DOLLAR, 50, 1 / NANOS_PER_DOLLAR)).toEqual(['pct:50']);
  });

  it('the threshold an alert names is the exact amount', () => {
    expect(alertLevels({ max_budget: 0.07 }, [80])[0]?.amount).toBe(0.056);
  });
});
