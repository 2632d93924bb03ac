/**
 * Faults: the AWS services Tollgate writes to besides DynamoDB and Secrets Manager (their own
 * tests: store-stall, secrets-stall). The settlement journal (SQS) is written while the llm
 * invocation waits, right after the store refused the settlement; the spend-log export (S3) and
 * budget alerts (EventBridge) while the table-stream function holds its batch. An endpoint that
 * never answers, or that answers a 200's headers and then stalls the body, fails the call within
 * the deadline (timeout x attempts) instead of holding the function until its timeout; each
 * stalled connection is closed, not left in the agent's pool.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { type AlertSink, alertSinks } from '../../lib/alerts/deliver.js';
import { SqsSettlementJournal } from '../../lib/aws/settlement-queue.js';
import type { BudgetAlert } from '../../lib/domain/alerts.js';
import { bucketSink } from '../../lib/spend/export.js';
import { refs } from '../../lib/store/keys.js';

const TIMEOUT_MS = 400;
const ATTEMPTS = 2;
const BOUND_MS = TIMEOUT_MS * ATTEMPTS + 2000;
const GIVE_UP_MS = 15_000;

let server: Server;
const sockets = new Set<Socket>();
let mode: 'silent' | 'headers' = 'silent';
let requests = 0;
/** The queue's URL, on the stalled endpoint (SQS sends to the queue URL's host). */
let queueUrl = '';

beforeAll(async () => {
  server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    socket.once('data', () => {
      requests++;
      if (mode === 'headers')
        socket.write('HTTP/1.1 200 OK\r\ncontent-type: application/x-amz-json-1.0\r\ncontent-length: 4096\r\n\r\n{"Mes');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  queueUrl = `http://127.0.0.1:${port}/123456789012/settlements`;
  const endpoint = `http://127.0.0.1:${port}`;
  const env = {
    AWS_ENDPOINT_URL_SQS: endpoint,
    AWS_ENDPOINT_URL_S3: endpoint,
    AWS_ENDPOINT_URL_EVENTBRIDGE: endpoint,
    AWS_ACCESS_KEY_ID: 'local',
    AWS_SECRET_ACCESS_KEY: 'local',
  };
  for (const [k, v] of Object.entries(env)) vi.stubEnv(k, v);
});

afterAll(async () => {
  for (const s of sockets) s.destroy();
  await new Promise((r) => server.close(r));
  vi.unstubAllEnvs();
});

const settlement = {
  requestId: 'r-stall',
  at: Date.now(),
  costNanos: 1,
  model: 'm',
  targets: [{ entity: 'team' as const, id: 't', ref: refs.team('t') }],
};

async function socketsClosed(): Promise<number> {
  for (let i = 0; i < 20 && sockets.size > 0; i++) await new Promise((r) => setTimeout(r, 50));
  return sockets.size;
}

const timeouts = { timeoutMs: TIMEOUT_MS, maxAttempts: ATTEMPTS };
const alert: BudgetAlert = {
  entity: 'team',
  id: 't',
  level: 'threshold',
  percent: 100,
  threshold: 1,
  spend: 1,
  max_budget: 1,
  soft_budget: null,
  budget_window: 'lifetime',
  at: new Date().toISOString(),
};
const calls: [string, () => Promise<unknown>][] = [
  ['the SQS settlement journal', () => new SqsSettlementJournal(queueUrl, 'us-east-1', timeouts).keep(settlement)],
  ['the S3 spend-log export', () => bucketSink('tollgate-export', 'us-east-1', timeouts)('logs/day.json', '[]')],
  [
    'the EventBridge budget alert',
    () => {
      const sinks = alertSinks({ region: 'us-east-1', store: timeouts, alerts: { eventBus: 'tollgate-bus' } as never });
      return (sinks[1] as AlertSink)(alert);
    },
  ],
];

describe.each(calls)('%s stalls', (_, call) => {
  for (const m of ['silent', 'headers'] as const) {
    it(`${m === 'silent' ? 'never answers' : 'stalls after its headers'}: the call fails within the deadline`, async () => {
      mode = m;
      requests = 0;
      const t = performance.now();
      const out = await Promise.race([
        call().then(
          () => 'done',
          (e: Error) => e.name,
        ),
        new Promise<'hung'>((r) => setTimeout(() => r('hung'), GIVE_UP_MS)),
      ]);
      const ms = performance.now() - t;
      expect(out).toBe('TimeoutError');
      expect(ms).toBeLessThanOrEqual(BOUND_MS);
      expect(requests).toBe(ATTEMPTS);
      expect(await socketsClosed()).toBe(0);
    }, 30_000);
  }
});
