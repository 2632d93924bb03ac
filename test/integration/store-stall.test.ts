/**
 * Faults: "a frozen DynamoDB answers 503 store_unavailable within
 * TOLLGATE_STORE_TIMEOUT_MS x TOLLGATE_STORE_MAX_ATTEMPTS". store-frozen.test.ts freezes
 * DynamoDB *before* a request (SIGSTOP), so no response headers ever arrive. Here DynamoDB
 * freezes *mid-answer*: it sends the status line and headers of a 200, then nothing more
 * (a stalled endpoint / proxy / half-dead connection). The SDK's requestTimeout stops at the
 * headers; the body read is bounded only by the SDK's default socket timeout (300 s).
 */
import { createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { handler as teams } from '../../functions/teams/handler.js';
import { configureApp, entityReader, resetApp } from '../../lib/app/index.js';
import { callApi } from '../support/admin.js';
import { authorize, bearer } from '../support/authorizer.js';
import { authorizerEvent } from '../support/seed.js';

const TIMEOUT_MS = 500;
const ATTEMPTS = 2;
const BOUND_MS = TIMEOUT_MS * ATTEMPTS + 2500;
/** Give up waiting well before vitest does, and report "hung". */
const GIVE_UP_MS = 15_000;
const MASTER = 'sk-master-stall-0123456789abcdef';

let server: Server;
const sockets = new Set<Socket>();
let endpoint = '';
/**
 * `silent`: never answers (what store-frozen covers); `headers`: answers the headers, then stalls;
 * `slow`: answers the headers, then the rest of an empty Query's body in pieces, all within the deadline.
 */
let mode: 'silent' | 'headers' | 'slow' = 'headers';
/** Requests answered with headers and a stalled body. */
let stalled = 0;

beforeAll(async () => {
  // A DynamoDB that answers the headers of every request, then stalls the body forever.
  server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.once('data', () => {
      if (mode === 'silent') return;
      if (mode === 'slow') {
        const body = '{"Items":[],"Count":0,"ScannedCount":0}';
        socket.write(
          `HTTP/1.1 200 OK\r\ncontent-type: application/x-amz-json-1.0\r\ncontent-length: ${body.length}\r\n\r\n${body.slice(0, 5)}`,
        );
        setTimeout(() => socket.write(body.slice(5, 20)), TIMEOUT_MS / 4);
        setTimeout(() => socket.write(body.slice(20)), TIMEOUT_MS / 2);
        return;
      }
      stalled++;
      socket.write(
        'HTTP/1.1 200 OK\r\ncontent-type: application/x-amz-json-1.0\r\nx-amzn-requestid: stall\r\ncontent-length: 4096\r\n\r\n{"Ite',
      );
    });
    socket.on('error', () => {});
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const addr = server.address() as { port: number };
  endpoint = `http://127.0.0.1:${addr.port}`;
  resetApp();
  configureApp({
    config: {
      TOLLGATE_TABLE_NAME: 'stall',
      TOLLGATE_DYNAMODB_ENDPOINT: endpoint,
      TOLLGATE_MASTER_KEY: MASTER,
      TOLLGATE_LOG_LEVEL: 'SILENT',
      TOLLGATE_STORE_TIMEOUT_MS: String(TIMEOUT_MS),
      TOLLGATE_STORE_MAX_ATTEMPTS: String(ATTEMPTS),
    },
  });
});

afterAll(async () => {
  for (const s of sockets) s.destroy();
  await new Promise((r) => server.close(r));
  resetApp();
});

async function within<T>(fn: () => Promise<T>): Promise<{ ms: number; out: T | 'hung' }> {
  entityReader().loader.clear();
  const t = performance.now();
  const out = await Promise.race([fn(), new Promise<'hung'>((r) => setTimeout(() => r('hung'), GIVE_UP_MS))]);
  return { ms: Math.round(performance.now() - t), out };
}

/** Every connection the SDK gave up on is closed (destroyed, not left open in the agent's pool). */
async function socketsClosed(): Promise<number> {
  for (let i = 0; i < 20 && sockets.size > 0; i++) await new Promise((r) => setTimeout(r, 50));
  return sockets.size;
}

describe('DynamoDB stalls after its response headers', () => {
  it('control: a DynamoDB that never answers at all is a 503 within the deadline (holds)', async () => {
    mode = 'silent';
    try {
      const { ms, out } = await within(() => callApi(teams, 'GET', '/team/list', {}));
      expect(out).toMatchObject({ status: 503, body: { error: { code: 'store_unavailable' } } });
      expect(ms).toBeLessThanOrEqual(BOUND_MS);
    } finally {
      mode = 'headers';
    }
  }, 30_000);

  it('admin GET /team/list answers 503 store_unavailable within the store deadline', async () => {
    stalled = 0;
    const { ms, out } = await within(() => callApi(teams, 'GET', '/team/list', {}));
    expect(out).not.toBe('hung');
    expect(ms).toBeLessThanOrEqual(BOUND_MS);
    expect(out).toMatchObject({ status: 503, body: { error: { code: 'store_unavailable' } } });
    // each attempt had its own deadline: the stalled one was retried, on a new connection
    expect(stalled).toBe(ATTEMPTS);
    expect(await socketsClosed()).toBe(0);
  }, 30_000);

  it('the authorizer (a virtual key) answers 503 within the store deadline', async () => {
    const event = authorizerEvent({ method: 'POST', path: '/v1/chat/completions', headers: bearer(`sk-${'u'.repeat(43)}`) });
    const { ms, out } = await within(() => authorize(event));
    expect(out).not.toBe('hung');
    expect(ms).toBeLessThanOrEqual(BOUND_MS);
    expect(out).toMatchObject({ status: 503 });
    expect(await socketsClosed()).toBe(0);
  }, 30_000);

  it('a body that arrives in pieces within the deadline is read, not cut', async () => {
    mode = 'slow';
    try {
      const { out } = await within(() => callApi(teams, 'GET', '/team/list', {}));
      expect(out).toMatchObject({ status: 200 });
    } finally {
      mode = 'headers';
    }
  }, 30_000);
});
