/**
 * Spend logs kept beyond their retention (optional): each settled request's log is written, from
 * the table's stream, as one JSON object under `spend-logs/dt=<day>/<request id>.json`, in an S3
 * bucket (the stack option `spendLogExport`) or, locally, a folder. Partitioned by day, one
 * object per request: Athena reads it with partition projection (docs/spend-logs.md has the
 * table), and a redelivered stream batch rewrites the same objects, never duplicates them.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { dayOf, type SpendLog } from '../domain/spend-log.js';
import { type AttemptTimeouts, boundAttempts, boundedClientConfig } from '../store/attempt-deadline.js';
import { failedOn, readableLogOf, type StreamConsumer } from './stream.js';

export type ExportSink = (key: string, body: string) => Promise<void>;

/** The object key of a log: its day's partition, its request id (made safe for a key). */
export const exportKey = (log: SpendLog): string => `spend-logs/dt=${dayOf(log.startTime)}/${encodeURIComponent(log.request_id)}.json`;

export function exportConsumer(sink: () => ExportSink): StreamConsumer {
  return async (records) => {
    for (const record of records) {
      const log = readableLogOf(record, 'the export');
      if (!log) continue;
      try {
        await sink()(exportKey(log), `${JSON.stringify(log)}\n`);
      } catch (e) {
        return failedOn(record, 'the spend-log export', e);
      }
    }
    return {};
  };
}

/** Local mode: a folder. */
export const folderSink =
  (dir: string): ExportSink =>
  async (key, body) => {
    const file = join(dir, ...key.split('/'));
    await mkdir(join(file, '..'), { recursive: true });
    await writeFile(file, body);
  };

/**
 * Each attempt of an export's upload: its body is a stream batch's logs (up to about a megabyte),
 * so longer than the store's; a stalled S3 fails the batch within about 30 s, and the stream
 * retries it, instead of holding the table-stream function until its timeout.
 */
export const EXPORT_TIMEOUTS: AttemptTimeouts = { timeoutMs: 10_000, maxAttempts: 3 };

/** AWS: a bucket (the S3 client loaded on first use: only the table-stream function carries it). */
export function bucketSink(bucket: string, region: string, timeouts: AttemptTimeouts = EXPORT_TIMEOUTS): ExportSink {
  let client: Promise<{ put: (key: string, body: string) => Promise<unknown> }> | undefined;
  return async (key, body) => {
    client ??= import('@aws-sdk/client-s3').then(({ S3Client, PutObjectCommand }) => {
      const s3 = boundAttempts(new S3Client({ region, ...boundedClientConfig(timeouts) }), timeouts.timeoutMs);
      return {
        put: (k: string, b: string) => s3.send(new PutObjectCommand({ Bucket: bucket, Key: k, Body: b, ContentType: 'application/json' })),
      };
    });
    await (await client).put(key, body);
  };
}
