/**
 * The counters one call moves: the governing chain (lib/domain/chain) as spend targets, each with
 * the item its counters live on and, when it has a budget, what a strict reservation checks.
 * The settlement itself (one transaction, idempotent per request) is lib/store/spend-ledger.
 */

import type { Caller } from '../domain/caller.js';
import { type ChainLink, governingChain, type ProxyBudget } from '../domain/chain.js';
import { dollarsToNanos } from '../domain/cost.js';
import { budgetAnchor, windowOf } from '../domain/periods.js';
import type { Budgeted, EndUserRecord } from '../domain/records.js';
import { counterRef, createdOnFirstSpend, refs } from '../store/keys.js';
import type { SpendTarget, TargetBudget } from '../store/spend-ledger.js';

export interface TargetOptions extends ProxyBudget {
  now: number;
}

/** The counters one call moves, from the caller the checks saw: its governing chain, in order. */
export function spendTargets(caller: Caller, opts: TargetOptions): SpendTarget[] {
  const { now } = opts;
  // The proxy-wide counter is written only when a proxy budget reads it: no write for nothing.
  const links = governingChain(caller, opts).filter((link) => link.entity !== 'global' || opts.maxBudget !== undefined);
  return links.map((link) => ({
    entity: link.entity,
    id: link.id,
    ref: counterRef(link, caller),
    duration: link.duration,
    anchor: budgetAnchor(link.record),
    createWith: createdOnFirstSpend(link, now),
    budget: linkBudget(link, now),
  }));
}

/** A strict reservation's budget for a link: its cap, what other shards hold, the budget as read. */
function linkBudget(link: ChainLink, now: number): TargetBudget | undefined {
  const max = link.maxBudget;
  if (max === null || max === undefined) return undefined;
  const record = link.record ?? {};
  if (link.entity === 'global') return { maxNanos: dollarsToNanos(max), elsewhereNanos: elsewhere(record, link.duration, now), expect: {} };
  if (link.entity === 'end_user') {
    const endUser = link.record as EndUserRecord;
    return {
      maxNanos: dollarsToNanos(max),
      elsewhereNanos: 0,
      expect: {
        max_budget: endUser.max_budget ?? null,
        budget_duration: endUser.budget_duration ?? null,
        budget_id: endUser.budget_id ?? null,
      },
      also: link.follows
        ? {
            ref: refs.budget(link.follows.budget_id),
            expect: { max_budget: link.follows.max_budget ?? null, budget_duration: link.follows.budget_duration ?? null },
          }
        : undefined,
    };
  }
  return ownBudget(record, now);
}

function ownBudget(b: Budgeted, now: number): TargetBudget | undefined {
  if (b.max_budget === null || b.max_budget === undefined) return undefined;
  return {
    maxNanos: dollarsToNanos(b.max_budget),
    elsewhereNanos: elsewhere(b, b.budget_duration, now),
    // The anchor too: a window that starts elsewhere must be read again, as a changed period is.
    expect: { max_budget: b.max_budget, budget_duration: b.budget_duration ?? null, budget_set_at: b.budget_set_at ?? null },
  };
}

const elsewhere = (b: Budgeted, duration: string | null | undefined, now: number): number => {
  const e = b.committed_elsewhere;
  if (!e) return 0;
  return dollarsToNanos((duration ? e.windows[windowOf(duration, now, budgetAnchor(b)).id] : e.lifetime) ?? 0);
};
