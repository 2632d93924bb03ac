/** How budgeted records are shown and how their spend is set by the admin API. */
import type { Budgeted, WindowSpend } from '../model.js';
import { budgetResetAt, currentSpend, windowOf } from '../spend/periods.js';

/**
 * The record as the API shows it: window counters folded into `spend` (the spend that counts
 * now: the current window's when there is a period, else lifetime) with `total_spend` (lifetime)
 * and `budget_reset_at` beside it.
 */
export function budgetView<T extends Budgeted>(record: T, now: Date): Omit<T, 'window_spend' | 'window_reserved'> & { spend: number; total_spend: number; budget_reset_at: string | null } {
  const { window_spend: _ws, window_reserved: _wr, ...rest } = record;
  return {
    ...rest,
    spend: currentSpend(record, now.getTime()),
    total_spend: record.spend ?? 0,
    budget_reset_at: budgetResetAt(record.budget_duration, now.getTime()),
  };
}

/**
 * Setting `spend` (LiteLLM allows it on generate and update) sets lifetime spend and, with a
 * budget period, the current window's counter, so the budget check sees the value given.
 */
export function spendFields(spend: number, duration: string | null | undefined, now: Date): { spend: number; window_spend?: WindowSpend } {
  return duration ? { spend, window_spend: { [windowOf(duration, now.getTime()).id]: spend } } : { spend };
}
