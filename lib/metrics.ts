/**
 * CloudWatch metrics of the spend path, in the Embedded Metric Format through Powertools
 * Metrics (namespace `Tollgate`). Only rare events are counted here (a settlement kept for
 * replay, lost, replayed), so the module is loaded on first use: no function pays for it at
 * cold start, and the authorizer's bundle does not hold it.
 *  - SettlementsDeferred: kept in the journal because DynamoDB refused it (alarm-worthy: it means
 *    settlements are waiting; the queue's depth says how many still are).
 *  - SettlementsLost: neither written nor kept (the journal failed too): page someone.
 *  - SettlementsReplayed: landed from the journal.
 *  - SettlementsWaiting: local mode's gauge of the journal (lib/spend/file-journal replayAndReport);
 *    in AWS the settlement queue's own metrics count them.
 *  - WebSearchesUnpriced: web searches reported on a model whose record has no per-search price
 *    (made before it was kept): charged nothing for them until `/model/update` fills it.
 *  - FileSearchesUnpriced: the same for file search calls (Responses `file_search_call` items) on a
 *    model whose record has no file search price (`file_search_cost_per_1k_calls`).
 *  - CodeInterpreterUnpriced: code interpreter sessions (containers made for a call, in 1 GB
 *    sessions) on a model whose record has no `code_interpreter_cost_per_session`.
 *  - ImageGenerationUnpriced: image generation tool tokens (Responses `tool_usage.image_gen`) with
 *    no image model known to price them at (a tool the request did not name; a deferred bill).
 *  - OwnersDeferred: owner records of objects an upstream made, kept in the journal (lib/llm/spend).
 *  - PendingUnbilled: pending objects given up on unbilled (lib/llm/pending): charge them by hand.
 */
import type { Metrics } from '@aws-lambda-powertools/metrics';

export type SpendMetric =
  | 'CodeInterpreterUnpriced'
  | 'FileSearchesUnpriced'
  | 'ImageGenerationUnpriced'
  | 'OwnersDeferred'
  | 'PendingUnbilled'
  | 'SettlementsDeferred'
  | 'SettlementsLost'
  | 'SettlementsReplayed'
  | 'SettlementsWaiting'
  | 'WebSearchesUnpriced';

let metrics: Promise<{ m: Metrics; count: string }> | undefined;

export async function countMetric(name: SpendMetric, value = 1): Promise<void> {
  metrics ??= import('@aws-lambda-powertools/metrics').then((mod) => ({
    m: new mod.Metrics({ namespace: 'Tollgate', serviceName: 'tollgate' }),
    count: mod.MetricUnit.Count,
  }));
  try {
    const { m, count } = await metrics;
    m.addMetric(name, count as 'Count', value);
    m.publishStoredMetrics();
  } catch {
    // A metric never stands in the way of spend: the log line beside it says the same.
  }
}

/** The entity cache's counters at the last record (they are cumulative per instance). */
let cacheSeen = { hits: 0, misses: 0 };

/**
 * One LLM call's figures, in one EMF record with the model as dimension: `Requests`, `SpendUsd`,
 * `InputTokens`, `OutputTokens`, and `AddedLatency`, from the request's arrival to its upstream call. Written
 * after the answer, beside the settlement.
 */
export async function callMetrics(c: {
  model: string;
  spendUsd: number;
  inputTokens: number;
  outputTokens: number;
  /** Time from the request's arrival to its upstream call: what Tollgate adds before the answer. */
  addedMs?: number | undefined;
  /** The instance's entity cache counters (cumulative): the record carries what changed since the last. */
  cache?: { hits: number; misses: number } | undefined;
}): Promise<void> {
  metrics ??= loadMetrics();
  try {
    const { m, count } = await metrics;
    // Synchronous from here to the publish: no other call's figures can slip in between.
    m.addDimension('model', c.model.slice(0, 250));
    m.addMetric('Requests', count as 'Count', 1);
    m.addMetric('SpendUsd', 'None' as 'Count', c.spendUsd);
    m.addMetric('InputTokens', count as 'Count', c.inputTokens);
    m.addMetric('OutputTokens', count as 'Count', c.outputTokens);
    if (c.addedMs !== undefined) m.addMetric('AddedLatency', 'Milliseconds' as 'Count', Math.max(0, c.addedMs));
    m.publishStoredMetrics();
    if (c.cache) {
      // Hits and misses of the entity cache, without a model dimension (a ratio by metric math).
      m.addMetric('CacheHits', count as 'Count', Math.max(0, c.cache.hits - cacheSeen.hits));
      m.addMetric('CacheMisses', count as 'Count', Math.max(0, c.cache.misses - cacheSeen.misses));
      cacheSeen = { hits: c.cache.hits, misses: c.cache.misses };
      m.publishStoredMetrics();
    }
  } catch {
    // Metrics never stand in the way of an answer or its spend.
  }
}

/** A denial or failure the llm function answered, by its error code. */
export async function denialMetric(code: string): Promise<void> {
  metrics ??= loadMetrics();
  try {
    const { m, count } = await metrics;
    m.addDimension('code', code);
    m.addMetric('Denials', count as 'Count', 1);
    m.publishStoredMetrics();
  } catch {
    // as above
  }
}

function loadMetrics(): Promise<{ m: Metrics; count: string }> {
  return import('@aws-lambda-powertools/metrics').then((mod) => ({
    m: new mod.Metrics({ namespace: 'Tollgate', serviceName: 'tollgate' }),
    count: mod.MetricUnit.Count,
  }));
}
