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
 * Single sign-on for the console (optional): OIDC authorization code with PKCE, as a public
 * client. The console reads these settings from `/ui/config.json`, finds the issuer's endpoints
 * in its discovery document, and offers "Sign in with SSO" only when the issuer publishes an
 * authorization endpoint. The token it gets (the ID token unless `token` says otherwise) is then
 * used like a pasted JWT: the authorizer verifies it as it verifies any.
 */
export interface ConsoleOidc {
  /** The issuer (its `/.well-known/openid-configuration` is read by the browser). */
  issuer: string;
  /** The console's client id at the issuer; its redirect URI is the console's own `/ui/` URL. */
  clientId: string;
  scope: string;
  /** Which token of the answer signs the console in (its audience must be one the authorizer accepts). */
  token: 'id_token' | 'access_token';
  /** When the token endpoint is on another origin than the issuer (Cognito's hosted UI): allowed by the CSP. */
  tokenEndpoint?: string | undefined;
}

/** What `/ui/config.json` holds. Nothing secret: a public client has no secret. */
export interface ConsoleSettings {
  oidc: ConsoleOidc | null;
}

const originOf = (url: string): string => new URL(url).origin;

/**
 * Scripts, styles and API calls from this origin only; nothing framed, nothing posted elsewhere.
 * The console needs no inline script or style (styles are set through the CSSOM, which CSP
 * does not govern), so none is allowed. With single sign-on, the browser may also call the
 * issuer (its discovery document and token endpoint), and nothing else.
 */
export function consoleCsp(oidc: ConsoleOidc | null = null): string {
  const connect = [
    "'self'",
    ...(oidc ? [...new Set([originOf(oidc.issuer), ...(oidc.tokenEndpoint ? [originOf(oidc.tokenEndpoint)] : [])])] : []),
  ];
  return [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    `connect-src ${connect.join(' ')}`,
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
}

export const CONSOLE_CSP = consoleCsp();

export const consoleHeaders = (oidc: ConsoleOidc | null = null): Readonly<Record<string, string>> => ({
  'content-security-policy': consoleCsp(oidc),
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
});

export const CONSOLE_HEADERS = consoleHeaders();

/** The settings file's name, beside index.html. */
export const CONSOLE_SETTINGS_FILE = 'config.json';

/**
 * The console's single sign-on settings from a configuration: a client id turns it on; the
 * issuer defaults to the first trusted JWT issuer. Throws a message naming what is wrong.
 */
export function consoleOidcOf(o: {
  clientId?: string | undefined;
  issuer?: string | undefined;
  jwtIssuers: readonly string[];
  scope?: string | undefined;
  token?: string | undefined;
  tokenEndpoint?: string | undefined;
}): ConsoleOidc | null {
  if (!o.clientId) return null;
  const issuer = o.issuer ?? o.jwtIssuers[0];
  if (!issuer) throw new Error('console single sign-on needs an issuer: set the console OIDC issuer or a JWT issuer');
  if (!o.jwtIssuers.includes(issuer))
    throw new Error(`the console OIDC issuer \`${issuer}\` is not a trusted JWT issuer: its tokens would be refused`);
  for (const [what, url] of [
    ['issuer', issuer],
    ['token endpoint', o.tokenEndpoint],
  ] as const) {
    if (url === undefined) continue;
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new Error(`the console OIDC ${what} \`${url}\` is not a URL`);
    }
    if (parsed.protocol !== 'https:' && parsed.hostname !== '127.0.0.1' && parsed.hostname !== 'localhost')
      throw new Error(`the console OIDC ${what} must be https:// (got \`${url}\`)`);
  }
  const token = o.token ?? 'id_token';
  if (token !== 'id_token' && token !== 'access_token')
    throw new Error(`the console OIDC token must be id_token or access_token (got \`${token}\`)`);
  return {
    issuer,
    clientId: o.clientId,
    scope: o.scope ?? 'openid',
    token,
    ...(o.tokenEndpoint ? { tokenEndpoint: o.tokenEndpoint } : {}),
  };
}

/** Hashed assets never change; index.html is checked on every load so a deploy shows at once. */
export const CACHE_IMMUTABLE = 'public, max-age=31536000, immutable';
export const CACHE_REVALIDATE = 'no-cache';
