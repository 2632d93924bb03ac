/**
 * Faults: the master key in Secrets Manager (TOLLGATE_MASTER_KEY_SECRET_ARN, the
 * deployed default). Secrets Manager reachable but not answering (a stalled endpoint, a VPC
 * endpoint that black-holes): the SecretsManagerClient of lib/secrets.ts has no request timeout,
 * so every credential that is not a known virtual key or a JWT (the master key, or any unknown
 * `sk-...`) holds the authorizer until Lambda kills it, instead of the documented 503.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { mockModels } from '../../infra/local/mock-models.js';
import { authorize, bearer } from '../support/authorizer.js';
import { authorizerEvent, seedKey } from '../support/seed.js';
import { useTestTable } from '../support/table.js';
import { call, chat, seedModels } from './llm/harness.js';

const GIVE_UP_MS = 15_000;
/** Secrets Manager has the store's deadline (TOLLGATE_STORE_TIMEOUT_MS x TOLLGATE_STORE_MAX_ATTEMPTS, set small here). */
const TIMEOUT_MS = 1500;
const ATTEMPTS = 2;
/** The deadline, plus room: what a frozen dependency should cost at most. */
const BOUND_MS = TIMEOUT_MS * ATTEMPTS + 2500;

let server: Server;
const sockets = new Set<Socket>();
let requests = 0;
/** `silent`: accepts, reads the request, never answers; `headers`: answers a 200's headers, then stalls the body. */
let mode: 'silent' | 'headers' = 'silent';

beforeAll(async () => {
  server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    socket.once('data', (d) => {
      if (d.toString().includes('GetSecretValue')) requests++;
      if (mode === 'headers') {
        socket.write('HTTP/1.1 200 OK\r\ncontent-type: application/x-amz-json-1.1\r\ncontent-length: 4096\r\n\r\n{"ARN');
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  const env = {
    AWS_ENDPOINT_URL_SECRETS_MANAGER: `http://127.0.0.1:${port}`,
    AWS_ACCESS_KEY_ID: 'local',
    AWS_SECRET_ACCESS_KEY: 'local',
    AWS_REGION: 'us-east-1',
  };
  for (const [k, v] of Object.entries(env)) vi.stubEnv(k, v);
  await useTestTable({
    TOLLGATE_MASTER_KEY_SECRET_ARN: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:tollgate-master',
    TOLLGATE_STORE_TIMEOUT_MS: String(TIMEOUT_MS),
    TOLLGATE_STORE_MAX_ATTEMPTS: String(ATTEMPTS),
  });
  // Models whose upstream key is a Secrets Manager secret (no TOLLGATE_LOCAL_SECRETS: as deployed).
  await seedModels(mockModels('http://127.0.0.1:9'));
});

afterAll(async () => {
  for (const s of sockets) s.destroy();
  await new Promise((r) => server.close(r));
  vi.unstubAllEnvs();
});

describe('Secrets Manager stalls', () => {
  it('an unknown sk- key (or the master key) is answered, 503 store_unavailable, within a bound', async () => {
    const event = authorizerEvent({ method: 'POST', path: '/v1/chat/completions', headers: bearer('sk-maybe-the-master-key') });
    const t = performance.now();
    const out = await Promise.race([authorize(event), new Promise<'hung'>((r) => setTimeout(() => r('hung'), GIVE_UP_MS))]);
    const ms = performance.now() - t;
    // the call did reach Secrets Manager (our stalled endpoint)
    expect(requests).toBeGreaterThan(0);
    expect(out).not.toBe('hung');
    expect(ms).toBeLessThanOrEqual(BOUND_MS);
    expect(out).toMatchObject({ status: 503 });
  }, 30_000);

  it('a chat with a valid virtual key (upstream key read from Secrets Manager) is answered within a bound', async () => {
    const { key } = await seedKey({});
    const before = requests;
    const t = performance.now();
    const out = await Promise.race([
      call({ path: '/v1/chat/completions', headers: bearer(key), body: chat('gpt-4o-mini', 'hi') }),
      new Promise<'hung'>((r) => setTimeout(() => r('hung'), GIVE_UP_MS)),
    ]);
    const ms = performance.now() - t;
    expect(requests).toBeGreaterThan(before);
    expect(out).not.toBe('hung');
    expect(ms).toBeLessThanOrEqual(BOUND_MS);
    // a clear 502 naming the unreadable upstream key
    expect(out).toMatchObject({ status: 502, json: { error: { code: 'upstream_failed' } } });
  }, 30_000);

  it('Secrets Manager that stalls after its headers: 503 within the bound, and the failure is not kept', async () => {
    mode = 'headers';
    try {
      const event = authorizerEvent({ method: 'POST', path: '/v1/chat/completions', headers: bearer('sk-maybe-the-master-key') });
      for (let i = 0; i < 2; i++) {
        const before = requests;
        const t = performance.now();
        const out = await Promise.race([authorize(event), new Promise<'hung'>((r) => setTimeout(() => r('hung'), GIVE_UP_MS))]);
        const ms = performance.now() - t;
        expect(out).not.toBe('hung');
        expect(ms).toBeLessThanOrEqual(BOUND_MS);
        expect(out).toMatchObject({ status: 503 });
        // each attempt is cut at its deadline and retried; the next request reads again
        expect(requests - before).toBe(ATTEMPTS);
      }
    } finally {
      mode = 'silent';
    }
  }, 40_000);
});
