/** The llm function's collaborators, from the app's wiring (lib/app) and the configuration. */

import { keptObjectOwners, modelRegistry, objectOwners, rateLimiter, settlementJournal, spendSettler } from '../app/llm.js';
import { checkSettings, clock, entityReader, providerClients, upstreamFetch } from '../app/wiring.js';
import type { CheckSettings } from '../checks/checks.js';
import { config } from '../config.js';
import type { EnforcementMode } from '../domain/records.js';
import type { ProviderClients } from '../providers/types.js';
import type { ModelRegistry } from '../registry/index.js';
import type { EntityReader } from '../store/entities.js';
import type { ObjectOwners } from '../store/objects.js';
import type { RateLimiter } from '../store/rate-limits.js';
import type { SettlementJournal } from '../store/settlement-journal.js';
import type { SpendSettler } from '../store/spend-ledger.js';
import type { FetchLike } from './upstream.js';

export interface LlmDeps {
  reader: EntityReader;
  registry: ModelRegistry;
  settler: SpendSettler;
  rateLimiter: RateLimiter;
  /** Owner records, the store's. */
  objects: ObjectOwners;
  /**
   * The same, but a record the store refuses is kept in the settlement journal for its replay
   * (KeptObjectOwners): for objects made by a JSON answer, whose client then gets them. Not for a
   * stream's own record, which its settlement reads back (found by review: kept, it read as billed
   * and the stream was charged $0).
   */
  keptObjects: ObjectOwners;
  /** Keeps a settlement the settler could not write, for its replay. */
  journal: SettlementJournal | undefined;
  /**
   * What keeping a settlement in the journal may take (its client's attempts, under the store's
   * timeouts, and a margin): a settlement still unwritten this long before the invocation ends is kept there.
   */
  journalMs: number;
  settings: CheckSettings;
  /** The mode of requests whose key, team and organization name none (TOLLGATE_ENFORCEMENT). */
  enforcement: EnforcementMode;
  strictDefaultMaxTokens: number;
  /** Reads that bill work already done (the pending sweep's): no budget refuses them. */
  billsOwed?: boolean | undefined;
  /** How long after a call starts its reservation may be swept. */
  reservationTtlMs: number;
  upstreamTimeoutMs: number;
  passthroughModel: string | undefined;
  clock: () => number;
  fetch: FetchLike;
  /** How Bedrock, Azure and Anthropic models are reached (lib/llm/providers). */
  providers: ProviderClients;
}

/** Beyond the journal client's own attempts: the write's time on a busy instance. */
const JOURNAL_MARGIN_MS = 500;

/** Read per invocation: the instance's dependencies (built once) and the current configuration. */
export function llmDeps(): LlmDeps {
  const c = config();
  return {
    reader: entityReader(),
    registry: modelRegistry(),
    settler: spendSettler(),
    rateLimiter: rateLimiter(),
    objects: objectOwners(),
    keptObjects: keptObjectOwners(),
    journal: settlementJournal(),
    journalMs: c.store.timeoutMs * c.store.maxAttempts + JOURNAL_MARGIN_MS,
    settings: checkSettings(c),
    enforcement: c.enforcement,
    strictDefaultMaxTokens: c.strictDefaultMaxTokens,
    reservationTtlMs: c.reservationTtlSeconds * 1000,
    upstreamTimeoutMs: c.upstreamTimeoutMs,
    passthroughModel: c.passthroughModel,
    clock: clock(),
    fetch: upstreamFetch(),
    providers: providerClients(),
  };
}
