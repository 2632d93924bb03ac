/**
 * The table stream's consumers and the spend reports: spend logs and rollups (lib/store/spend-logs),
 * budget alerts (lib/alerts), built once per instance (again when the app is reconfigured).
 */

import type { AlertDeps } from '../alerts/consume.js';
import { alertConsumer } from '../alerts/consume.js';
import { alertSinks as buildSinks } from '../alerts/deliver.js';
import { config } from '../config.js';
import { bucketSink, type ExportSink, exportConsumer, folderSink } from '../spend/export.js';
import { afterward, counterConsumer, type StreamConsumer, spendLogConsumer } from '../spend/stream.js';
import { AlertMarkers } from '../store/alerts.js';
import { applyLedger, type LedgerRecord } from '../store/counter-ledger.js';
import { EntityReader } from '../store/entities.js';
import { CachedLoader, DynamoBatchSource } from '../store/loader.js';
import { SpendLogStore } from '../store/spend-logs.js';
import { clock, dependency, documentClient } from './wiring.js';

export const spendLogStore = /* @__PURE__ */ dependency(
  'spendLogStore',
  (c) => new SpendLogStore(documentClient(), c.tableName, c.spendLogRetentionDays * 86_400, { index: c.spendLogIndex }),
);

export const alertSinks = /* @__PURE__ */ dependency('alertSinks', (c) => buildSinks(c));

let parts: { reader: () => EntityReader; markers: AlertMarkers; table: string; client: unknown } | undefined;

/** How long a batch's reader keeps what it read: longer than a batch takes (it is made anew for each). */
const BATCH_READER_TTL_MS = 5 * 60_000;

/** A reader for each batch (each entity read once in it, afresh when made) and the markers, for the current wiring. */
function alertParts(): NonNullable<typeof parts> {
  const c = config();
  const client = documentClient();
  if (!parts || parts.table !== c.tableName || parts.client !== client) {
    const source = new DynamoBatchSource(client, c.tableName, true);
    const shards = c.spendShards;
    parts = {
      reader: () =>
        new EntityReader(
          new CachedLoader(source, { ttlMs: BATCH_READER_TTL_MS, negativeTtlMs: BATCH_READER_TTL_MS, maxEntries: 1_000 }),
          shards,
        ),
      markers: new AlertMarkers(client, c.tableName, clock()),
      table: c.tableName,
      client,
    };
  }
  return parts;
}

/** What the alert consumer needs, always from the current wiring. */
export const alertDeps = (): AlertDeps => ({
  reader: () => alertParts().reader(),
  markers: () => alertParts().markers,
  sinks: alertSinks,
  thresholds: () => config().alerts.thresholds,
  clock: () => clock()(),
});

/** The spend-log export's sink, when one is configured (lib/spend/export). */
export function exportSink(): ExportSink | undefined {
  const c = config();
  if (c.spendLogExport.bucket) return bucketSink(c.spendLogExport.bucket, c.region);
  if (c.spendLogExport.dir) return folderSink(c.spendLogExport.dir);
  return undefined;
}

/** Adds ledger settlements into the counters (lib/store/counter-ledger); markers outlive the records they guard. */
export const applyLedgerRecords = (records: LedgerRecord[]) =>
  applyLedger(documentClient(), config().tableName, records, { markerTtlSeconds: config().settlementTtlSeconds + 86_400 });

/**
 * Every consumer of the table's stream, as configured: ledger settlements into the counters first
 * (alerts judge counters), then spend logs and rollups, alerts, the export.
 */
export function tableStreamConsumers(): StreamConsumer[] {
  const sink = exportSink();
  return [
    afterward(counterConsumer(applyLedgerRecords), [
      spendLogConsumer(spendLogStore),
      alertConsumer(alertDeps()),
      ...(sink ? [exportConsumer(() => sink)] : []),
    ]),
  ];
}
