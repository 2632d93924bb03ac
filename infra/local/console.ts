/**
 * The console in local mode: built with the project's Vite when its build is missing or older
 * than its sources (about half a second, run beside DynamoDB Local's start), and served by the
 * local gateway at /ui/ with the headers CloudFront gives it in AWS.
 */
import { existsSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { dirname, extname, join, resolve, sep } from 'node:path';
import { PROJECT_ROOT } from '../bundling.js';
import {
  CACHE_IMMUTABLE,
  CACHE_REVALIDATE,
  CONSOLE_ASSETS_DIR,
  CONSOLE_DIST_DIR,
  CONSOLE_PATH,
  CONSOLE_SETTINGS_FILE,
  CONSOLE_SOURCE_DIR,
  type ConsoleSettings,
  consoleHeaders,
} from '../console-site.js';

/** Newest modification time under a folder (the build output and other builds' scratch folders skipped). */
function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === 'dist' || entry.name.startsWith('.dist-') || entry.name === 'node_modules') continue;
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(path) : statSync(path).mtimeMs);
  }
  return newest;
}

/** True when console/dist is missing or older than a source file (or the lock file: a dependency changed). */
export function consoleBuildIsStale(sourceDir = CONSOLE_SOURCE_DIR, distDir = join(sourceDir, 'dist')): boolean {
  const index = join(distDir, 'index.html');
  if (!existsSync(index)) return true;
  const lock = join(PROJECT_ROOT, 'package-lock.json');
  const sources = Math.max(newestMtime(sourceDir), existsSync(lock) ? statSync(lock).mtimeMs : 0);
  return statSync(index).mtimeMs < sources;
}

/**
 * Builds the console into `distDir`. The build goes to a scratch folder first and replaces the
 * old one in a rename, so a server reading the folder meanwhile never sees half a build, and
 * two builds at once (two `npm start`s) cannot mix their files.
 */
export async function buildConsole(sourceDir = CONSOLE_SOURCE_DIR, distDir = join(sourceDir, 'dist')): Promise<void> {
  // Vite is a dev dependency: loaded only when a build is needed.
  const { build } = await import('vite');
  // Beside the output folder, so the final rename stays on one file system.
  const scratch = join(dirname(distDir), `.dist-${process.pid}-${Date.now()}`);
  try {
    await build({ root: sourceDir, logLevel: 'warn', build: { outDir: scratch, emptyOutDir: true } });
    const old = `${scratch}-old`;
    try {
      if (existsSync(distDir)) renameSync(distDir, old);
    } catch {
      // Another build moved it away first: its own output follows.
    }
    try {
      renameSync(scratch, distDir);
    } catch (e) {
      // Another build's output landed first; it is as fresh as this one.
      if (!existsSync(join(distDir, 'index.html'))) throw e;
    }
    rmSync(old, { recursive: true, force: true });
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

/** Builds the console if it is stale; says what it did (`npm start` prints it). */
export async function ensureConsoleBuilt(): Promise<'fresh' | 'built'> {
  if (!consoleBuildIsStale()) return 'fresh';
  await buildConsole();
  return 'built';
}

export const isConsolePath = (path: string): boolean => path === CONSOLE_PATH || path.startsWith(`${CONSOLE_PATH}/`);

const TYPES = new Map([
  ['.html', 'text/html; charset=utf-8'],
  ['.js', 'text/javascript; charset=utf-8'],
  ['.css', 'text/css; charset=utf-8'],
  ['.svg', 'image/svg+xml'],
  ['.png', 'image/png'],
  ['.json', 'application/json'],
  ['.txt', 'text/plain; charset=utf-8'],
]);

function sendError(res: ServerResponse, status: number, code: string, message: string): void {
  const body = JSON.stringify({
    error: { message, type: status === 404 ? 'not_found_error' : 'invalid_request_error', param: null, code },
  });
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

/**
 * Serves a console file from `dir`: GET and HEAD only, nothing outside `dir`. `config.json` is
 * the deployment's settings (single sign-on), as the stack writes it beside the files in AWS.
 */
export async function serveConsole(
  req: IncomingMessage,
  res: ServerResponse,
  dir = CONSOLE_DIST_DIR,
  settings: ConsoleSettings = { oidc: null },
): Promise<void> {
  const method = req.method ?? 'GET';
  if (method !== 'GET' && method !== 'HEAD') {
    res.setHeader('allow', 'GET, HEAD');
    return sendError(res, 405, 'method_not_allowed', `the console's files are read with GET or HEAD, not ${method.slice(0, 16)}`);
  }
  const url = new URL(req.url ?? '/', 'http://local');
  // Relative asset URLs in index.html resolve against /ui/, never /.
  if (url.pathname === CONSOLE_PATH) {
    res.writeHead(308, { location: `${CONSOLE_PATH}/${url.search}` });
    res.end();
    return;
  }
  if (!existsSync(join(dir, 'index.html'))) {
    return sendError(
      res,
      503,
      'console_not_built',
      'the console is not built: run `npm run build:console` (npm start builds it when it starts)',
    );
  }
  let rel: string;
  try {
    rel = decodeURIComponent(url.pathname.slice(CONSOLE_PATH.length + 1)) || 'index.html';
  } catch {
    return sendError(res, 404, 'console_file_not_found', 'no such console file');
  }
  const headers = consoleHeaders(settings.oidc);
  if (rel === CONSOLE_SETTINGS_FILE) {
    const json = Buffer.from(JSON.stringify(settings));
    res.writeHead(200, {
      ...headers,
      'content-type': 'application/json',
      'content-length': json.length,
      'cache-control': CACHE_REVALIDATE,
    });
    res.end(method === 'HEAD' ? undefined : json);
    return;
  }
  const root = resolve(dir);
  const file = resolve(root, rel);
  if (rel.includes('\0') || !file.startsWith(root + sep)) return sendError(res, 404, 'console_file_not_found', 'no such console file');
  let body: Buffer;
  try {
    body = await readFile(file);
  } catch {
    return sendError(res, 404, 'console_file_not_found', 'no such console file');
  }
  res.writeHead(200, {
    ...headers,
    'content-type': TYPES.get(extname(file)) ?? 'application/octet-stream',
    'content-length': body.length,
    'cache-control': rel.startsWith(`${CONSOLE_ASSETS_DIR}/`) ? CACHE_IMMUTABLE : CACHE_REVALIDATE,
  });
  res.end(method === 'HEAD' ? undefined : body);
}
