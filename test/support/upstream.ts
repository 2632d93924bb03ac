/**
 * A stand-in upstream for tests that need answers the shared mock does not give: an HTTP server on
 * a free local port that reads each request's JSON body (`{}` when empty), then lets the test
 * answer.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface TestUpstream {
  /** `http://127.0.0.1:<port>`, no trailing slash. */
  url: string;
  server: Server;
  close(): Promise<void>;
}

export type Answer<B> = (body: B, res: ServerResponse, req: IncomingMessage) => void;

export function jsonUpstream<B = Record<string, unknown>>(answer: Answer<B>): Promise<TestUpstream> {
  const server = createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => answer(JSON.parse(Buffer.concat(parts).toString('utf8') || '{}') as B, res, req));
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({
        url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
        server,
        close: () => new Promise<void>((r) => server.close(() => r())),
      }),
    ),
  );
}
