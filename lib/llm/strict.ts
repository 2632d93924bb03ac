/**
 * Strict mode in the llm function. Before a call is forwarded, its estimate (lib/llm/estimate)
 * is reserved on every entity of the chain that has a budget, all or nothing
 * (lib/store/spend-ledger `reserve`); the call goes ahead only if every reservation fits, else the
 * caller gets the 403 budget_exceeded the checks give, naming the entity. An entity that changed
 * since it was read (a new max_budget or period, or deleted) is read again, fresh, the checks
 * run again, and the reservation is retried. The reservation is settled (or released) by
 * recordSpend once the call is over.
 */
import type { Caller } from '../domain/caller.js';
import { maxCostNanos, NANOS_PER_DOLLAR } from '../domain/cost.js';
import type { ModelRecord } from '../domain/records.js';
import { BudgetExceededError, StoreUnavailableError, UnboundedServerToolError } from '../errors.js';
import { spendTargets } from '../spend/targets.js';
import type { Hold, SpendTarget } from '../store/spend-ledger.js';
import type { LlmDeps } from './deps.js';
import { estimateUsage, reachableTiers } from './estimate.js';
import type { LlmRequest } from './request.js';

export interface ReservingCall {
  caller: Caller;
  now: number;
  req: Pick<LlmRequest, 'body' | 'route'>;
  deps: Pick<LlmDeps, 'settler' | 'settings' | 'reader' | 'strictDefaultMaxTokens' | 'reservationTtlMs'>;
  /** Reads the caller again and reruns the checks (throwing their denial); updates `caller`. */
  recheck(): Promise<void>;
}

const ATTEMPTS = 3;

/** Reserves the call's estimate; undefined when nothing needs holding (no budget, or a retried request). */
export async function reserveCall(call: ReservingCall, model: ModelRecord, requestId: string): Promise<Hold | undefined> {
  const { deps, now } = call;
  const estimate = estimateUsage(call.req, deps.strictDefaultMaxTokens);
  // Searches on a model without a per-search price (a record made before it was kept) have no known cost to hold.
  if (estimate.webSearches && model.search_context_cost_per_query === undefined)
    throw new UnboundedServerToolError(
      'web_search',
      `model \`${model.model_name}\` has no per-search price (\`search_context_cost_per_query\`) to hold its searches at; an admin's /model/update sets it`,
    );
  // Nor file searches on a model without a file search price.
  if (estimate.fileSearches && model.file_search_cost_per_1k_calls === undefined)
    throw new UnboundedServerToolError(
      'file_search',
      `model \`${model.model_name}\` has no file search price (\`file_search_cost_per_1k_calls\`) to hold its file searches at; an admin's /model/update sets it`,
    );
  // Nor code interpreter sessions on a model without a session price.
  if (estimate.codeInterpreterSessions && model.code_interpreter_cost_per_session === undefined)
    throw new UnboundedServerToolError(
      'code_interpreter',
      `model \`${model.model_name}\` has no code interpreter price (\`code_interpreter_cost_per_session\`) to hold its containers at; an admin's /model/update sets it`,
    );
  const estimateNanos = maxCostNanos(estimate, model, reachableTiers(call.req));
  for (let attempt = 1; ; attempt++) {
    const targets = spendTargets(call.caller, { budgetDuration: deps.settings.budgetDuration, maxBudget: deps.settings.maxBudget, now });
    const outcome = await deps.settler.reserve({
      requestId,
      at: now,
      estimateNanos,
      model: model.model_name,
      targets,
      expiresAt: now + deps.reservationTtlMs,
    });
    switch (outcome.status) {
      case 'reserved':
        return outcome.hold;
      case 'duplicate':
        return undefined;
      case 'denied': {
        const t = outcome.target;
        const dollars = (n: number) => n / NANOS_PER_DOLLAR;
        throw new BudgetExceededError(
          t.entity,
          t.id,
          dollars(outcome.committedNanos),
          dollars(t.budget?.maxNanos ?? 0),
          dollars(estimateNanos),
        );
      }
      case 'stale':
        if (attempt >= ATTEMPTS) throw new StoreUnavailableError();
        forget(call, targets);
        await call.recheck();
    }
  }
}

/** Drops the chain's items (every shard, and an end user's reusable budget) from this instance's cache. */
function forget(call: ReservingCall, targets: readonly SpendTarget[]): void {
  const { reader } = call.deps;
  for (const t of targets) {
    for (const ref of reader.counterRefs(t.ref, t.entity)) reader.loader.invalidate(ref);
    if (t.budget?.also) reader.loader.invalidate(t.budget.also.ref);
  }
}
