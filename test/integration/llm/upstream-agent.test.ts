/**
 * Upstream calls wait as long as their deadline says, not undici's own limits (300 s for the
 * headers and for each silence by default): found by review, a non-streamed call answered after
 * 5 minutes failed at 300 s whatever TOLLGATE_UPSTREAM_TIMEOUT_MS said, and cost $0.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Agent } from 'undici';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { UPSTREAM_AGENT_OPTIONS, upstreamFetch } from '../../../lib/app/wiring.js';

const LATE_MS = 1_500;
let server: Server;
let url: string;

beforeAll(async () => {
  // Headers after LATE_MS, then a body that is silent for LATE_MS before it ends.
  server = createServer((_req, res) => {
    setTimeout(() => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('first ');
      setTimeout(() => res.end('last'), LATE_MS);
    }, LATE_MS);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

const fetchWith = async (dispatcher: Agent) => {
  const res = await fetch(url, { dispatcher } as RequestInit);
  return res.text();
};

describe('the upstream dispatcher', () => {
  it('turns off the limits on the headers and on silences, which undici would otherwise apply', async () => {
    expect(UPSTREAM_AGENT_OPTIONS).toEqual({ headersTimeout: 0, bodyTimeout: 0 });
    // undici's limits, shortened to below the server's delays, fail the call...
    const limited = { headersTimeout: LATE_MS / 3, bodyTimeout: LATE_MS / 3 };
    await expect(fetchWith(new Agent(limited))).rejects.toMatchObject({ cause: { code: 'UND_ERR_HEADERS_TIMEOUT' } });
    // ...and the options lift them.
    expect(await fetchWith(new Agent({ ...limited, ...UPSTREAM_AGENT_OPTIONS }))).toBe('first last');
  });

  it('is what upstream calls go through: the fetch is given an undici Agent (found by review: a plain fetch passed the test)', async () => {
    const seen = vi.spyOn(globalThis, 'fetch');
    try {
      const res = await upstreamFetch()(url, { method: 'GET' });
      expect(res.status).toBe(200);
      expect(await res.text()).toBe('first last');
      const init = seen.mock.calls.at(-1)?.[1] as { dispatcher?: unknown } | undefined;
      expect(init?.dispatcher).toBeInstanceOf(Agent);
      // With undici's limits off: its options, as it keeps them (a plain `new Agent()` has 300 s each).
      const dispatcher = init?.dispatcher as Record<symbol, unknown>;
      const options = Object.getOwnPropertySymbols(dispatcher).find((s) => s.description === 'options');
      expect(options && dispatcher[options]).toMatchObject(UPSTREAM_AGENT_OPTIONS);
    } finally {
      seen.mockRestore();
    }
  });
});
