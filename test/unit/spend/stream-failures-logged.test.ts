/**
 * A table-stream consumer that fails says why (found by review): the spend-log index, the budget
 * alerts and the export each caught the error and only told the stream where to resume, so a
 * bucket the function may not write, or a webhook gone, left nothing in the logs but the stream
 * falling behind, and after an hour "given up on" without a reason. Each failure is logged with
 * the consumer, the record and the error, never a secret (a webhook URL is one).
 */
import { marshall } from '@aws-sdk/util-dynamodb';
import type { DynamoDBRecord } from 'aws-lambda';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { alertConsumer } from '../../../lib/alerts/consume.js';
import { alertSinks } from '../../../lib/alerts/deliver.js';
import { packLog } from '../../../lib/domain/spend-log.js';
import { exportConsumer } from '../../../lib/spend/export.js';
import { spendLogConsumer } from '../../../lib/spend/stream.js';
import { SPEND_LOG_ATTR } from '../../../lib/store/spend-ledger.js';
import type { SpendLogStore } from '../../../lib/store/spend-logs.js';
import { logger } from '../../../lib/telemetry.js';
import { spendLogFixture } from '../../support/spend-log.js';

const WEBHOOK = 'https://hooks.slack.com/services/T0AAAAAAA/B0BBBBBBB/abcdefghijklmnopqrstuvwx';
const settled: DynamoDBRecord = {
  eventName: 'INSERT',
  dynamodb: {
    SequenceNumber: '7',
    NewImage: marshall({
      PK: 'REQ#r-1',
      SK: 'SETTLEMENT',
      kind: 'settlement',
      state: 'settled',
      [SPEND_LOG_ATTR]: packLog(spendLogFixture({ request_id: 'r-1', team_id: 't-1' })),
    }) as never,
  },
};

let written = '';
beforeEach(() => {
  written = '';
  const capture = (chunk: unknown) => {
    written += String(chunk);
    return true;
  };
  vi.spyOn(process.stdout, 'write').mockImplementation(capture);
  vi.spyOn(process.stderr, 'write').mockImplementation(capture);
  logger().setLogLevel('DEBUG');
});
afterEach(() => {
  logger().setLogLevel('SILENT');
  vi.restoreAllMocks();
});

describe('a consumer that fails logs why', () => {
  it('the export', async () => {
    const out = await exportConsumer(() => async () => {
      throw Object.assign(new Error('Access Denied'), { name: 'AccessDenied' });
    })([settled]);
    expect(out).toEqual({ failedAt: '7' });
    expect(written).toContain('Access Denied');
    expect(written).toMatch(/export/);
    expect(written).toContain('"sequenceNumber":"7"');
  });

  it('the spend-log index and rollups', async () => {
    const store = {
      applyMany: async () => {
        throw new Error('ProvisionedThroughputExceededException');
      },
    } as unknown as SpendLogStore;
    expect(await spendLogConsumer(() => store)([settled])).toEqual({ failedAt: '7' });
    expect(written).toContain('ProvisionedThroughputExceededException');
  });

  it('the budget alerts, without the webhook URL', async () => {
    const answering = (async () => new Response('no', { status: 404 })) as unknown as typeof fetch;
    const unreachable = (async () => {
      throw new TypeError(`Failed to parse URL from ${WEBHOOK}`);
    }) as unknown as typeof fetch;
    for (const fetchFn of [answering, unreachable]) {
      const [, webhook] = alertSinks(
        { alerts: { webhookUrl: WEBHOOK, thresholds: [] } as never, region: 'us-east-1', store: { timeoutMs: 2000, maxAttempts: 2 } },
        fetchFn,
      );
      const record = { token: 'h', key_name: 'sk-...abcd', max_budget: 1, spend: 2 };
      const out = await alertConsumer({
        reader: () =>
          ({
            key: async () => undefined,
            user: async () => undefined,
            team: async () => ({ team_id: 't-1', ...record }),
            state: async () => ({}),
          }) as never,
        markers: () =>
          ({ claim: async () => ({ delivered: new Set([0]) }), release: async () => undefined, confirm: async () => undefined }) as never,
        sinks: () => [async () => undefined, webhook as never],
        thresholds: () => [100],
        clock: () => Date.now(),
      })([settled]);
      expect(out).toEqual({ failedAt: '7' });
    }
    expect(written).toContain('HTTP 404');
    expect(written).toMatch(/alert/);
    expect(written).not.toContain('abcdefghijklmnopqrstuvwx');
  });
});
