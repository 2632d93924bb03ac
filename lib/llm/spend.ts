/**
 * Recording what a call cost: usage priced by the registry, then one settlement along the
 * caller's chain. Runs after the answer is complete (after the last byte of a stream) and
 * before the handler returns. A settlement that keeps failing does not turn a delivered answer
 * into an error: it is handed to the settlement journal (lib/store/settlement-journal: SQS deployed, a
 * folder locally), which keeps it until a replay lands it; retrying and replaying are safe
 * because a settlement counts once per request id. A strict call's reservation is settled here
 * too (with the actual cost, or with 0 when the call failed or was cancelled before an answer),
 * and travels with a kept settlement, so the replay settles it rather than the sweeper.
 * Only when the journal fails as well is the settlement logged as not recorded. Owner records
 * of objects an upstream made go to the same journal when the store refuses them (KeptObjectOwners).
 */
import type { Caller } from '../domain/caller.js';
import type { ProxyBudget } from '../domain/chain.js';
import { costNanos, NANOS_PER_DOLLAR, type ToolPrices, type Usage } from '../domain/cost.js';
import type { ModelRecord } from '../domain/records.js';
import type { SpendLog } from '../domain/spend-log.js';
import type { ObjectOwner } from '../domain/tenancy.js';
import { countMetric } from '../metrics.js';
import { spendTargets } from '../spend/targets.js';
import type { ObjectOwners, Prepayment } from '../store/objects.js';
import type { SettlementJournal } from '../store/settlement-journal.js';
import type { Hold, SpendSettler, UsageSource } from '../store/spend-ledger.js';
import { logger } from '../telemetry.js';
import { imageGenTokens } from './usage.js';

export interface SpendRecord {
  caller: Caller;
  model: ModelRecord;
  /** The prices of the models the call's hosted tools ran (its image generation tool's), when the path knows them. */
  toolPrices?: ToolPrices | undefined;
  usage: Usage | undefined;
  /** Where the usage came from: reported by the upstream, counted from the text, estimated, or none (refused by its gate). */
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
  /**
   * When the settlement must be kept, if the store has not taken it (epoch ms): the time the
   * journal needs before the invocation ends. An attempt still waiting then is left to finish on
   * its own (a replay of a settlement that landed changes nothing) and the journal keeps it.
   */
  keepBy?: number | undefined;
}

const ATTEMPTS = 3;

/** The error a settlement still waiting at its `keepBy` fails with. */
class KeepByPassed extends Error {
  override name = 'SettlementOutOfTime';
}

/** `work`, unless `by` (epoch ms) passes first; it goes on, its outcome unread. */
function before<T>(by: number | undefined, work: Promise<T>): Promise<T> {
  if (by === undefined) return work;
  work.catch(() => undefined);
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new KeepByPassed()), Math.max(0, by - Date.now()));
  });
  return Promise.race([work, late]).finally(() => clearTimeout(timer));
}

/** The cost in nano-dollars that was settled or kept for replay (0 when there was nothing to count). */
export async function recordSpend(
  settler: SpendSettler,
  journal: SettlementJournal | undefined,
  proxy: ProxyBudget,
  r: SpendRecord,
): Promise<number> {
  const nanos = Math.max(0, (r.usage ? costNanos(r.usage, r.model, r.toolPrices) : 0) - (r.creditNanos ?? 0));
  if (r.usage?.webSearches && r.model.search_context_cost_per_query === undefined) {
    // A record made before it kept a per-search price (/model/update fills it from the price
    // library): the tokens are charged, the searches are on the spend log, logged and counted.
    logger().warn('web searches unpriced', { requestId: r.requestId, model: r.model.model_name, webSearches: r.usage.webSearches });
    await countMetric('WebSearchesUnpriced', r.usage.webSearches);
  }
  if (r.usage?.fileSearches && r.model.file_search_cost_per_1k_calls === undefined) {
    // The same for file search calls (a record made before it kept a file search price).
    logger().warn('file searches unpriced', { requestId: r.requestId, model: r.model.model_name, fileSearches: r.usage.fileSearches });
    await countMetric('FileSearchesUnpriced', r.usage.fileSearches);
  }
  if (r.usage?.codeInterpreterSessions && r.model.code_interpreter_cost_per_session === undefined) {
    // Containers made on a model with no session price (one the price library holds none for: set it).
    const sessions = r.usage.codeInterpreterSessions;
    logger().warn('code interpreter sessions unpriced', { requestId: r.requestId, model: r.model.model_name, sessions });
    await countMetric('CodeInterpreterUnpriced', sessions);
  }
  if (r.usage?.imageGen && !r.toolPrices?.imageGen) {
    // Image generation tokens with no image model to price them at (a tool the request did not
    // name, as a stored prompt's; a deferred bill of an object recorded without them): never at the call model's prices, which are
    // not the image model's; logged and counted.
    const tokens = imageGenTokens(r.usage);
    logger().warn('image generation unpriced', { requestId: r.requestId, model: r.model.model_name, imageGenerationTokens: tokens });
    await countMetric('ImageGenerationUnpriced', tokens);
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
  // With no journal to keep it, the attempts are all there is. The first attempt always has its
  // own deadline (the store's): a healthy store answers it, however little time is left, and
  // only a settlement the store holds goes to the journal (found by review: past `keepBy`, a
  // timer raced every settlement of a short timeout into the journal).
  const keepBy = journal ? r.keepBy : undefined;
  for (let attempt = 1; ; attempt++) {
    try {
      await (attempt === 1 ? settler.settle(settlement) : before(keepBy, settler.settle(settlement)));
      return settlement.costNanos;
    } catch (e) {
      // Out of attempts, or of time: a settlement that waited for its third attempt (three store
      // calls' deadlines) could outlast the time left, and die with the invocation unkept (found by review).
      if (attempt >= ATTEMPTS || (keepBy !== undefined && Date.now() >= keepBy)) {
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

/**
 * The llm function's owner records: the store's, but a record the store refuses (an outage, after
 * the upstream made the object) is kept in the settlement journal for its replay, and the call
 * goes on: its client gets the object it made, and a pending object is billed once the record
 * lands (found by review: a batch or background response made while DynamoDB failed ran unbilled
 * and its client got a 503 for an object that existed). Only when the journal fails too does the
 * write fail. The replay writes the record unless the object has one by then (`putNew`).
 */
export class KeptObjectOwners implements ObjectOwners {
  constructor(
    private readonly store: ObjectOwners,
    private readonly journal: Pick<SettlementJournal, 'keepOwners'> | undefined,
  ) {}

  get(objectId: string): Promise<ObjectOwner | undefined> {
    return this.store.get(objectId);
  }

  getMany(objectIds: readonly string[]): Promise<Map<string, ObjectOwner>> {
    return this.store.getMany(objectIds);
  }

  put(owner: ObjectOwner): Promise<void> {
    return this.kept(owner, this.store.put(owner));
  }

  putNew(owner: ObjectOwner): Promise<void> {
    return this.kept(owner, this.store.putNew(owner));
  }

  remove(objectId: string): Promise<void> {
    return this.store.remove(objectId);
  }

  claimBilling(objectId: string): Promise<ObjectOwner | undefined> {
    return this.store.claimBilling(objectId);
  }

  prepay(objectId: string, prepayment: Prepayment): Promise<boolean> {
    return this.store.prepay(objectId, prepayment);
  }

  duePending(now: Date, limit: number): Promise<ObjectOwner[]> {
    return this.store.duePending(now, limit);
  }

  postpone(objectId: string, at: Date): Promise<void> {
    return this.store.postpone(objectId, at);
  }

  setModel(objectId: string, model: string): Promise<void> {
    return this.store.setModel(objectId, model);
  }

  private async kept(owner: ObjectOwner, written: Promise<void>): Promise<void> {
    try {
      await written;
    } catch (e) {
      if (!this.journal) throw e;
      const facts = { objectId: owner.object_id, kind: owner.object_kind, billing: owner.billing ?? undefined, error: (e as Error).name };
      try {
        await this.journal.keepOwners([owner]);
      } catch (kept) {
        logger().error("owner record not recorded: its object is nobody's, and unbilled if pending", {
          ...facts,
          journal: (kept as Error).name,
        });
        throw e;
      }
      logger().warn('owner record kept for replay', facts);
      await countMetric('OwnersDeferred');
    }
  }
}
