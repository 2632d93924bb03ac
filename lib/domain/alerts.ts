/**
 * Budget alerts: a `soft_budget` (LiteLLM's field) and thresholds of `max_budget` (default 50, 80
 * and 100 %, per entity `alert_thresholds`, else the proxy's) on keys, users, teams and
 * organizations. Each level is announced once per budget window (once in all for a budget
 * without a period), however many settlements or consumers see it crossed. Pure.
 */

import { dollarsToNanos, NANOS_PER_DOLLAR } from './cost.js';
import { budgetAnchor, currentSpend, windowOf } from './periods.js';
import type { Budgeted } from './records.js';

export const DEFAULT_ALERT_THRESHOLDS: readonly number[] = [50, 80, 100];
export const MAX_ALERT_THRESHOLDS = 10;

/** The alert fields of an entity. */
export interface Alerting {
  soft_budget?: number | null;
  /** Percentages of `max_budget` that raise an alert; empty: none; absent: the proxy's. */
  alert_thresholds?: number[] | null;
}

export type AlertEntity = 'key' | 'user' | 'team' | 'organization';

/** One level an entity's spend can cross. */
export interface AlertLevel {
  /** `threshold`: a percentage of max_budget; `soft_budget`: the soft budget. */
  kind: 'threshold' | 'soft_budget';
  /** For thresholds: the percentage. */
  percent?: number;
  /** Dollars. */
  amount: number;
  /** Stable name within a window: `pct:80`, `soft`. */
  name: string;
}

/** The levels an entity has: its thresholds of max_budget (when it has one) and its soft budget. */
export function alertLevels(
  b: Alerting & Pick<Budgeted, 'max_budget'>,
  proxyThresholds: readonly number[] = DEFAULT_ALERT_THRESHOLDS,
): AlertLevel[] {
  const out: AlertLevel[] = [];
  const max = b.max_budget;
  if (typeof max === 'number' && max > 0)
    for (const p of b.alert_thresholds ?? proxyThresholds)
      out.push({ kind: 'threshold', percent: p, amount: percentOf(max, p), name: `pct:${p}` });
  if (typeof b.soft_budget === 'number' && b.soft_budget >= 0) out.push({ kind: 'soft_budget', amount: b.soft_budget, name: 'soft' });
  return out;
}

/**
 * `p` % of a budget in exact money: whole nano-dollars, rounded up (the first spend that is at
 * least that much), never a binary fraction above it (80 % of 0.07 is not 0.05600000000000001).
 * The product is a BigInt: a budget's nano-dollars times the percentage passes 2^53 from about
 * $90,000, where a float product was rounded (50 % of $923,353.191617566 came out a nano-dollar
 * above its half, which a spend of exactly half never reached).
 */
const percentOf = (max: number, p: number): number => {
  const nanos = dollarsToNanos(max);
  // Whole percentages only enter (config, admin API); anything else is never a thrown BigInt.
  if (!Number.isInteger(nanos) || !Number.isInteger(p)) return Math.ceil((nanos * p) / 100) / NANOS_PER_DOLLAR;
  return Number((BigInt(nanos) * BigInt(p) + 99n) / 100n) / NANOS_PER_DOLLAR;
};

/** The levels `spend` has reached (at or above), compared in nano-dollars. */
export const reached = (levels: readonly AlertLevel[], spend: number): AlertLevel[] =>
  levels.filter((l) => dollarsToNanos(spend) >= dollarsToNanos(l.amount) && spend > 0);

/** The budget window an entity's spend counts in now, for its alerts: the window's id, or `lifetime`. */
export function alertWindow(b: Pick<Budgeted, 'budget_duration' | 'budget_set_at' | 'created_at'>, now: number): string {
  return b.budget_duration ? windowOf(b.budget_duration, now, budgetAnchor(b)).id : 'lifetime';
}

/** The spend alerts are judged on: the current window's, else lifetime. */
export const alertSpend = (b: Budgeted, now: number): number => currentSpend(b, now);

/** What an alert says (EventBridge detail, webhook body): ids and amounts, never a key. */
export interface BudgetAlert {
  entity: AlertEntity;
  /** The entity's id; a key's is its `sk-...last4` name and its hash. */
  id: string;
  key_hash?: string | undefined;
  level: AlertLevel['kind'];
  percent: number | null;
  /** Dollars: the level's amount, the spend seen, the budget. */
  threshold: number;
  spend: number;
  max_budget: number | null;
  soft_budget: number | null;
  budget_window: string;
  at: string;
}

/** Thresholds as given: whole percentages 1..1000, each once, ascending. */
export function normalizeThresholds(list: readonly number[]): number[] {
  return [...new Set(list)].sort((a, b) => a - b);
}

/** The words of an alert, for a webhook or the local console. */
export function alertText(a: BudgetAlert): string {
  const who = `${a.entity} \`${a.id}\``;
  const what = a.level === 'soft_budget' ? `its soft budget of $${a.threshold}` : `${a.percent}% of its $${a.max_budget} budget`;
  return `${who} has spent $${a.spend}, reaching ${what} (${a.budget_window === 'lifetime' ? 'lifetime' : `window ${a.budget_window}`})`;
}
