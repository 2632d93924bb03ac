/**
 * Recording what a call cost: usage priced by the registry, then one settlement along the
 * caller's chain. Runs after the answer is complete (after the last byte of a stream) and
 * before the handler returns. A settlement that keeps failing does not turn a delivered answer
 * into an error: it is handed to the settlement journal (lib/store/settlement-journal: SQS deployed, a
 * folder locally), which keeps it until a replay lands it; retrying and replaying are safe
 * because a settlement counts once per request id. A strict call's reservation is settled here
 * too (with the actual cost, or with 0 when the call failed, was cancelled or reported no
 * usage), and travels with a kept settlement, so the replay settles it rather than the sweeper.
 * Only when the journal fails as well is the settlement logged as not recorded.
 */
import type { Caller } from '../domain/caller.js';
import type { ProxyBudget } from '../domain/chain.js';
import { costNanos, NANOS_PER_DOLLAR, type Usage } from '../domain/cost.js';
import type { ModelRecord } from '../domain/records.js';
import type { SpendLog } from '../domain/spend-log.js';
import { countMetric } from '../metrics.js';
import { spendTargets } from '../spend/targets.js';
import type { SettlementJournal } from '../store/settlement-journal.js';
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
  /** The request's spend log, completed here with its cost. */
  log?: Omit<SpendLog, 'spend'> | undefined;
  /** Charged already, by another settlement (a deferred bill's stream that was cut): the cost beyond it is settled. */
  creditNanos?: number | undefined;
}

const ATTEMPTS = 3;

/** The cost in nano-dollars that was settled or kept for replay (0 when there was nothing to count). */
export async function recordSpend(
  settler: SpendSettler,
  journal: SettlementJournal | undefined,
  proxy: ProxyBudget,
  r: SpendRecord,
): Promise<number> {
  const nanos = Math.max(0, (r.usage ? costNanos(r.usage, r.model) : 0) - (r.creditNanos ?? 0));
  if (r.usage?.webSearches && r.model.search_context_cost_per_query === undefined) {
    // A record made before it kept a per-search price (/model/update fills it from the price
    // library): the tokens are charged, the searches are on the spend log, logged and counted.
    logger().warn('web searches unpriced', { requestId: r.requestId, model: r.model.model_name, webSearches: r.usage.webSearches });
    await countMetric('WebSearchesUnpriced', r.usage.webSearches);
  }
  if (nanos <= 0 && !r.hold) return 0;
  const settlement = {
    requestId: r.requestId,
    at: r.at,
    costNanos: Math.max(0, nanos),
    model: r.model.model_name,
    usageSource: r.usageSource,
    targets: r.hold?.targets ?? spendTargets(r.caller, { ...proxy, now: r.at }),
    hold: r.hold,
    ...(r.log ? { log: { ...r.log, spend: Math.max(0, nanos) / NANOS_PER_DOLLAR } } : {}),
  };
  for (let attempt = 1; ; attempt++) {
    try {
      await settler.settle(settlement);
      return settlement.costNanos;
    } catch (e) {
      if (attempt >= ATTEMPTS) {
        const facts = {
          requestId: r.requestId,
          model: r.model.model_name,
          costNanos: settlement.costNanos,
          reserved: r.hold?.estimateNanos,
        };
        if (journal) {
          try {
            await journal.keep(settlement);
            logger().warn('settlement kept for replay', { ...facts, error: (e as Error).name });
            await countMetric('SettlementsDeferred');
            return settlement.costNanos;
          } catch (kept) {
            logger().error('settlement journal failed', { requestId: r.requestId, error: (kept as Error).name });
          }
        }
        await countMetric('SettlementsLost');
        logger().error('spend not recorded', {
          ...facts,
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
