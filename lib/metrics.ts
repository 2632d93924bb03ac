/**
 * CloudWatch metrics of the spend path, in the Embedded Metric Format through Powertools
 * Metrics (namespace `Tollgate`). Only rare events are counted here (a settlement kept for
 * replay, lost, replayed), so the module is loaded on first use: no function pays for it at
 * cold start, and the authorizer's bundle does not hold it.
 *  - SettlementsDeferred: kept in the journal because DynamoDB refused it (alarm-worthy: it means
 *    settlements are waiting; the queue's depth says how many still are).
 *  - SettlementsLost: neither written nor kept (the journal failed too): page someone.
 *  - SettlementsReplayed: landed from the journal.
 */
import type { Metrics } from '@aws-lambda-powertools/metrics';

export type SpendMetric = 'SettlementsDeferred' | 'SettlementsLost' | 'SettlementsReplayed';

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
