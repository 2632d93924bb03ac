/**
 * The local gateway's console files: /ui redirects to /ui/, files carry the console's security
 * and cache headers, nothing outside the build folder is ever served, and the API beside it is
 * untouched. Plus the build npm start runs: when it is stale, and that it lands whole.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CACHE_IMMUTABLE, CACHE_REVALIDATE, CONSOLE_CSP, CONSOLE_SOURCE_DIR } from '../../infra/console-site.js';
import { buildConsole, consoleBuildIsStale } from '../../infra/local/console.js';
import { type Gateway, startGateway } from '../../infra/local/gateway.js';

let root: string;
let dist: string;
let gw: Gateway;

/** A raw request: the path goes out exactly as written (fetch would normalize `..`). */
function raw(
  method: string,
  path: string,
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  const { port } = new URL(gw.url);
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'tollgate-console-files-'));
  dist = join(root, 'dist');
  mkdirSync(join(dist, 'assets'), { recursive: true });
  writeFileSync(join(dist, 'index.html'), '<!doctype html><title>console</title>');
  writeFileSync(join(dist, 'assets', 'index-abc123.js'), 'console.log(1)');
  writeFileSync(join(root, 'secret.txt'), 'outside the build folder');
  gw = await startGateway({ port: 0, consoleDir: dist });
});

afterAll(async () => {
  await gw?.close();
  rmSync(root, { recursive: true, force: true });
});

describe('the console at /ui/', () => {
  it('/ui redirects to /ui/ (relative asset URLs resolve there), keeping the query', async () => {
    const r = await raw('GET', '/ui?x=1');
    expect(r.status).toBe(308);
    expect(r.headers.location).toBe('/ui/?x=1');
  });

  it('index.html: HTML, revalidated on every load, with the CSP and the other security headers', async () => {
    const r = await raw('GET', '/ui/');
    expect(r.status).toBe(200);
    expect(r.body).toContain('<title>console</title>');
    expect(r.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(r.headers['cache-control']).toBe(CACHE_REVALIDATE);
    expect(r.headers['content-security-policy']).toBe(CONSOLE_CSP);
    expect(CONSOLE_CSP).toContain("connect-src 'self'");
    expect(CONSOLE_CSP).toContain("script-src 'self'");
    expect(CONSOLE_CSP).not.toContain('unsafe');
    expect(r.headers['x-frame-options']).toBe('DENY');
    expect(r.headers['x-content-type-options']).toBe('nosniff');
    expect(r.headers['referrer-policy']).toBe('no-referrer');
    expect(r.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('hashed assets are cached for good; HEAD answers without a body', async () => {
    const r = await raw('GET', '/ui/assets/index-abc123.js');
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect(r.headers['cache-control']).toBe(CACHE_IMMUTABLE);
    const head = await raw('HEAD', '/ui/assets/index-abc123.js');
    expect(head.status).toBe(200);
    expect(head.body).toBe('');
    expect(head.headers['content-length']).toBe(String('console.log(1)'.length));
  });

  it.each([
    '/ui/../secret.txt',
    '/ui/..%2fsecret.txt',
    '/ui/assets/..%2f..%2fsecret.txt',
    '/ui/%2e%2e%2fsecret.txt',
    '/ui/assets/%00x',
    '/ui/%E0%A4%A',
  ])('never serves outside the build folder: %s', async (path) => {
    const r = await raw('GET', path);
    expect(r.status).toBe(404);
    expect(r.body).not.toContain('outside the build folder');
  });

  it('an unknown file is a 404 in the error shape; only GET and HEAD are served', async () => {
    const missing = await raw('GET', '/ui/assets/nope.js');
    expect(missing.status).toBe(404);
    expect(JSON.parse(missing.body)).toMatchObject({ error: { type: 'not_found_error', code: 'console_file_not_found' } });
    const post = await raw('POST', '/ui/');
    expect(post.status).toBe(405);
    expect(post.headers.allow).toBe('GET, HEAD');
  });

  it('without a build it says how to make one', async () => {
    const empty = await startGateway({ port: 0, consoleDir: join(root, 'no-build') });
    try {
      const r = await fetch(`${empty.url}/ui/`);
      expect(r.status).toBe(503);
      expect(((await r.json()) as { error: { message: string } }).error.message).toContain('npm run build:console');
    } finally {
      await empty.close();
    }
  });

  it('leaves the API as it was: /health answers, an unknown route is still route_not_found', async () => {
    expect((await raw('GET', '/health')).status).toBe(200);
    const r = await raw('GET', '/uix');
    expect(r.status).toBe(404);
    expect(JSON.parse(r.body)).toMatchObject({ error: { code: 'route_not_found' } });
  });
});

describe('the build npm start runs', () => {
  it('is stale without a build, fresh after one, stale again when a source changes', () => {
    const src = join(root, 'src-project');
    mkdirSync(join(src, 'src'), { recursive: true });
    writeFileSync(join(src, 'src', 'main.tsx'), 'export {}');
    const out = join(src, 'dist');
    expect(consoleBuildIsStale(src, out)).toBe(true);
    mkdirSync(out);
    writeFileSync(join(out, 'index.html'), '');
    const later = new Date(Date.now() + 60_000);
    utimesSync(join(out, 'index.html'), later, later);
    expect(consoleBuildIsStale(src, out)).toBe(false);
    const evenLater = new Date(Date.now() + 120_000);
    utimesSync(join(src, 'src', 'main.tsx'), evenLater, evenLater);
    expect(consoleBuildIsStale(src, out)).toBe(true);
  });

  it('builds the real console into a folder, whole, and leaves no scratch folder behind', async () => {
    const out = join(root, 'built', 'dist');
    mkdirSync(join(root, 'built'));
    await buildConsole(CONSOLE_SOURCE_DIR, out);
    expect(existsSync(join(out, 'index.html'))).toBe(true);
    expect(readdirSync(join(out, 'assets')).some((f) => f.endsWith('.js'))).toBe(true);
    // Built again over itself: the old build is replaced, not mixed in.
    await buildConsole(CONSOLE_SOURCE_DIR, out);
    expect(readdirSync(join(root, 'built'))).toEqual(['dist']);
  });
});
