/** How budgeted records are shown and how their spend is set by the admin API. */

import { dollarsToNanos, NANOS_PER_DOLLAR } from '../../domain/cost.js';
import { budgetAnchor, budgetResetAt, currentSpend, windowOf } from '../../domain/periods.js';
import type { Budgeted, WindowSpend } from '../../domain/records.js';
import { COMMITTED_ATTR, WINDOW_COMMITTED_PREFIX, WINDOW_SPEND_PREFIX } from '../../store/codec.js';
import { Added } from '../../store/writes.js';

/** Bookkeeping the API never shows: budget counters, and when the rate limits last changed (lib/domain/rate-limits). */
type Internal =
  | 'window_spend'
  | 'window_committed'
  | 'committed'
  | 'committed_elsewhere'
  | 'rate_changed_at'
  | 'rev'
  | 'child_rev'
  | 'child_at';

/**
 * The record as the API shows it: window counters folded into `spend` (the spend that counts
 * now: the current window's when there is a period, else lifetime) with `total_spend` (lifetime)
 * and `budget_reset_at` beside it. Committed counters (strict mode's bookkeeping) stay inside.
 */
export function budgetView<T extends Budgeted>(
  record: T,
  now: Date,
  /** The period its budget checks count (an end user without one of its own follows its budget's). */
  duration: string | null | undefined = record.budget_duration,
): Omit<T, Internal> & { spend: number; total_spend: number; budget_reset_at: string | null } {
  const {
    window_spend: _ws,
    window_committed: _wc,
    committed: _c,
    committed_elsewhere: _ce,
    rate_changed_at: _rc,
    // The admin lock's revision (lib/store/writes): bookkeeping, like the counters.
    rev: _rev,
    // A parent's children witness and when it last moved (lib/store/writes addChild): bookkeeping too.
    child_rev: _cr,
    child_at: _cat,
    ...rest
  } = record as T & { rate_changed_at?: unknown; rev?: unknown; child_rev?: unknown; child_at?: unknown };
  return {
    ...rest,
    spend: currentSpend(record, now.getTime(), duration ?? undefined),
    total_spend: record.spend ?? 0,
    budget_reset_at: budgetResetAt(duration, now.getTime(), budgetAnchor(record)),
  };
}

export interface SpendFields {
  spend: number;
  committed: number;
  window_spend?: WindowSpend;
  window_committed?: WindowSpend;
}

/**
 * Setting `spend` (LiteLLM allows it on generate and update) sets lifetime spend and, with a
 * budget period, the current window's counter, so the budget check sees the value given. The
 * committed counters (which strict reservations are checked against) are set to the same
 * value: a new entity holds no reservation yet. An update moves them instead (spendAttributes).
 */
export function spendFields(
  spend: number,
  duration: string | null | undefined,
  now: Date,
  // A new entity's windows count from its creation, now.
  anchor = budgetAnchor({ created_at: now.toISOString() }),
): SpendFields {
  if (!duration) return { spend, committed: spend };
  const id = windowOf(duration, now.getTime(), anchor).id;
  return { spend, committed: spend, window_spend: { [id]: spend }, window_committed: { [id]: spend } };
}

/**
 * The same as item attributes, for updates of an existing item. Spend is set; each committed
 * counter is moved by the change of its spend counter on the entity item as read (`own`, no
 * shard summed in: reservations live on that item, lib/store/spend-ledger), so the strict
 * reservations in flight, those read and those landing before the write, stay counted (they
 * were forgotten: found by review). Another shard's counters are deleted with the write (lib/store/
 * admin-store), theirs are settled spend only. A settlement landing between the read and the
 * write is overwritten in spend and kept in committed: stricter by that call, never looser.
 */
export function spendAttributes(
  spend: number,
  duration: string | null | undefined,
  now: Date,
  anchor: number | undefined,
  own: Pick<Budgeted, 'spend' | 'window_spend'> | undefined,
): Record<string, number | Added> {
  const f = spendFields(spend, duration, now, anchor);
  const moved = (held: number | undefined): Added => new Added((dollarsToNanos(spend) - dollarsToNanos(held ?? 0)) / NANOS_PER_DOLLAR);
  const out: Record<string, number | Added> = { spend: f.spend, [COMMITTED_ATTR]: own ? moved(own.spend) : f.committed };
  for (const [id, v] of Object.entries(f.window_spend ?? {})) out[WINDOW_SPEND_PREFIX + id] = v;
  for (const [id, v] of Object.entries(f.window_committed ?? {}))
    out[WINDOW_COMMITTED_PREFIX + id] = own ? moved(own.window_spend?.[id]) : v;
  return out;
}

/**
 * What an update of an entity sets for its budget period and spend. A new period (a duration
 * other than the current one) is set from now: `budget_set_at`, from which its windows count. Its
 * first window carries the spend (and strict mode's committed amount) of the window that counted
 * until now, as LiteLLM keeps `spend` when `budget_duration` changes: changing the period never
 * hands a spent budget back (found by review: `24h` to `1d` restarted an exhausted key at zero).
 * A `spend` given is set in the window the period now has instead.
 */
export function budgetUpdateAttributes(
  current: Budgeted,
  setDuration: string | null | undefined,
  spend: number | undefined,
  now: Date,
  /**
   * The entity item alone (persistence's findOwn), read when `spend` is set on a kind with counter
   * shards (keys, teams); without it, `current` (a user's counters are all on its own item).
   */
  own?: Pick<Budgeted, 'spend' | 'window_spend'>,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const newPeriod = typeof setDuration === 'string' && setDuration !== current.budget_duration;
  if (newPeriod) out.budget_set_at = now.toISOString();
  if (spend !== undefined) {
    const duration = setDuration !== undefined ? setDuration : current.budget_duration;
    const anchor = budgetAnchor(newPeriod ? { budget_set_at: now.toISOString() } : current);
    Object.assign(out, spendAttributes(spend, duration, now, anchor, own ?? current));
  } else if (newPeriod) {
    const at = now.getTime();
    const id = windowOf(setDuration, at, budgetAnchor({ budget_set_at: now.toISOString() })).id;
    out[WINDOW_SPEND_PREFIX + id] = currentSpend(current, at);
    out[WINDOW_COMMITTED_PREFIX + id] = currentCommitted(current, at);
  }
  return out;
}

/** What strict mode counts as committed now (the current window's, else lifetime): never below the spend. */
function currentCommitted(b: Budgeted, now: number): number {
  const committed = b.budget_duration ? b.window_committed?.[windowOf(b.budget_duration, now, budgetAnchor(b)).id] : b.committed;
  return Math.max(committed ?? 0, currentSpend(b, now));
}
