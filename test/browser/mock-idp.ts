/**
 * A small OpenID provider for the console's single-sign-on test: discovery, an authorization
 * endpoint that signs in a fixed user at once (no login page), a token endpoint that checks the
 * PKCE verifier against the challenge, and its JWKS over HTTPS (Tollgate fetches keys over HTTPS
 * only) with a self-signed certificate that `npm start` is told to trust (NODE_EXTRA_CA_CERTS).
 * Browser-facing endpoints answer CORS as real providers do for public clients.
 */
import { execFileSync } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateSigningKey, jwksOf, signJwt } from '../support/jwt.js';

export interface MockIdp {
  issuer: string;
  jwksUri: string;
  /** The PEM file of the JWKS server's certificate (for NODE_EXTRA_CA_CERTS). */
  caFile: string;
  clientId: string;
  /** Every authorization request and token request, as received. */
  authorizations: URLSearchParams[];
  tokenRequests: URLSearchParams[];
  close(): Promise<void>;
}

const listen = (server: ReturnType<typeof createServer>): Promise<number> =>
  new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));

async function body(req: IncomingMessage): Promise<string> {
  let s = '';
  for await (const c of req) s += c.toString();
  return s;
}

export async function startMockIdp(opts: { clientId: string; subject: string; audience?: string }): Promise<MockIdp> {
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-idp-'));
  const keyFile = join(dir, 'key.pem');
  const caFile = join(dir, 'cert.pem');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      keyFile,
      '-out',
      caFile,
      '-days',
      '1',
      '-subj',
      '/CN=127.0.0.1',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
    ],
    { stdio: 'ignore' },
  );
  const signing = generateSigningKey('RS256');
  const jwksServer = createHttpsServer({ key: readFileSync(keyFile), cert: readFileSync(caFile) }, (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(jwksOf(signing)));
  });
  const jwksPort = await listen(jwksServer as unknown as ReturnType<typeof createServer>);

  const codes = new Map<string, { challenge: string; redirectUri: string }>();
  const authorizations: URLSearchParams[] = [];
  const tokenRequests: URLSearchParams[] = [];
  let issuer = '';
  const cors = { 'access-control-allow-origin': '*', 'access-control-allow-headers': 'content-type, accept' };
  const json = (res: ServerResponse, status: number, value: unknown) => {
    res.writeHead(status, { ...cors, 'content-type': 'application/json', 'cache-control': 'no-store' });
    res.end(JSON.stringify(value));
  };
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', issuer);
    if (req.method === 'OPTIONS') {
      res.writeHead(204, { ...cors, 'access-control-allow-methods': 'GET, POST' });
      return res.end();
    }
    if (url.pathname === '/.well-known/openid-configuration') {
      return json(res, 200, {
        issuer,
        authorization_endpoint: `${issuer}authorize`,
        token_endpoint: `${issuer}token`,
        jwks_uri: `https://127.0.0.1:${jwksPort}/jwks`,
        response_types_supported: ['code'],
        code_challenge_methods_supported: ['S256'],
      });
    }
    if (url.pathname === '/authorize') {
      const q = url.searchParams;
      authorizations.push(q);
      const redirect = q.get('redirect_uri') ?? '';
      const ok = q.get('client_id') === opts.clientId && q.get('response_type') === 'code' && q.get('code_challenge_method') === 'S256';
      const back = new URL(redirect);
      if (!ok || !q.get('code_challenge')) back.searchParams.set('error', 'invalid_request');
      else {
        const code = randomUUID();
        codes.set(code, { challenge: q.get('code_challenge') as string, redirectUri: redirect });
        back.searchParams.set('code', code);
      }
      back.searchParams.set('state', q.get('state') ?? '');
      res.writeHead(302, { location: back.toString() });
      return res.end();
    }
    if (url.pathname === '/token' && req.method === 'POST') {
      void body(req).then((text) => {
        const f = new URLSearchParams(text);
        tokenRequests.push(f);
        const grant = codes.get(f.get('code') ?? '');
        codes.delete(f.get('code') ?? '');
        const verifier = f.get('code_verifier') ?? '';
        const challenge = createHash('sha256').update(verifier).digest('base64url');
        if (!grant || f.get('grant_type') !== 'authorization_code' || f.get('client_id') !== opts.clientId)
          return json(res, 400, { error: 'invalid_grant', error_description: 'unknown code' });
        if (grant.challenge !== challenge) return json(res, 400, { error: 'invalid_grant', error_description: 'PKCE verification failed' });
        if (grant.redirectUri !== f.get('redirect_uri'))
          return json(res, 400, { error: 'invalid_grant', error_description: 'redirect_uri mismatch' });
        const iat = Math.floor(Date.now() / 1000);
        const idToken = signJwt(signing, { iss: issuer, aud: opts.audience ?? opts.clientId, sub: opts.subject, iat, exp: iat + 600 });
        return json(res, 200, { id_token: idToken, access_token: randomUUID(), token_type: 'Bearer', expires_in: 600 });
      });
      return;
    }
    res.writeHead(404, cors);
    res.end();
  });
  const port = await listen(server);
  issuer = `http://127.0.0.1:${port}/`;
  return {
    issuer,
    jwksUri: `https://127.0.0.1:${jwksPort}/jwks`,
    caFile,
    clientId: opts.clientId,
    authorizations,
    tokenRequests,
    close: async () => {
      await Promise.all([new Promise((r) => server.close(r)), new Promise((r) => jwksServer.close(r))]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
