/**
 * Recording what a call cost: usage priced by the registry, then one settlement along the
 * caller's chain. Runs after the answer is complete (after the last byte of a stream) and
 * before the handler returns. A settlement that keeps failing is logged with everything needed
 * to replay it (request id, cost, model) and does not turn a delivered answer into an error;
 * retrying is safe because a settlement counts once per request id. A strict call's
 * reservation is settled here too: with the actual cost, or with 0 (released) when the call
 * failed, was cancelled or reported no usage. If that settlement keeps failing, the sweeper
 * releases the reservation after it expires.
 */
import type { Caller } from '../domain/caller.js';
import type { ProxyBudget } from '../domain/chain.js';
import { costNanos, type Usage } from '../domain/cost.js';
import type { ModelRecord } from '../domain/records.js';
import { spendTargets } from '../spend/targets.js';
import type { Hold, SpendSettler, UsageSource } from '../store/spend-ledger.js';
import { logger } from '../telemetry.js';

export interface SpendRecord {
  caller: Caller;
  model: ModelRecord;
  usage: Usage | undefined;
  /** Whether the usage was reported by the upstream or estimated (it reported none usable). */
  usageSource: UsageSource;
  requestId: string;
  /** When the call started: picks the budget windows. */
  at: number;
  /** The strict reservation made for this call, if any. */
  hold?: Hold | undefined;
}

const ATTEMPTS = 3;

/** The cost in nano-dollars that was settled (0 when there was nothing to count). */
export async function recordSpend(settler: SpendSettler, proxy: ProxyBudget, r: SpendRecord): Promise<number> {
  const nanos = r.usage ? costNanos(r.usage, r.model) : 0;
  if (nanos <= 0 && !r.hold) return 0;
  const settlement = {
    requestId: r.requestId,
    at: r.at,
    costNanos: Math.max(0, nanos),
    model: r.model.model_name,
    usageSource: r.usageSource,
    targets: r.hold?.targets ?? spendTargets(r.caller, { ...proxy, now: r.at }),
    hold: r.hold,
  };
  for (let attempt = 1; ; attempt++) {
    try {
      await settler.settle(settlement);
      return settlement.costNanos;
    } catch (e) {
      if (attempt >= ATTEMPTS) {
        logger().error('spend not recorded', {
          requestId: r.requestId,
          model: r.model.model_name,
          costNanos: settlement.costNanos,
          reserved: r.hold?.estimateNanos,
          at: r.at,
          targets: settlement.targets.map((t) => `${t.ref.PK}|${t.ref.SK}`),
          error: (e as Error).name,
        });
        return 0;
      }
      await new Promise((res) => setTimeout(res, 25 * attempt));
    }
  }
}
