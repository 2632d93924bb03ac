/**
 * The console's place in a deployment, shared by the local gateway and the CDK stack so both
 * serve it alike: its path, its source and build folders, and the headers its files carry.
 */
import { join } from 'node:path';
import { PROJECT_ROOT } from './bundling.js';

/** The console is served under this path, on the API's own origin. */
export const CONSOLE_PATH = '/ui';

/** The Vite project (console/vite.config.ts) and where `vite build` writes it. */
export const CONSOLE_SOURCE_DIR = join(PROJECT_ROOT, 'console');
export const CONSOLE_DIST_DIR = join(CONSOLE_SOURCE_DIR, 'dist');

/** Build output in here has a content hash in its name: cached for good. */
export const CONSOLE_ASSETS_DIR = 'assets';

/**
 * Scripts, styles and API calls from this origin only; nothing framed, nothing posted elsewhere.
 * The console needs no inline script or style (styles are set through the CSSOM, which CSP
 * does not govern), so none is allowed.
 */
export const CONSOLE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

export const CONSOLE_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy': CONSOLE_CSP,
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
};

/** Hashed assets never change; index.html is checked on every load so a deploy shows at once. */
export const CACHE_IMMUTABLE = 'public, max-age=31536000, immutable';
export const CACHE_REVALIDATE = 'no-cache';
