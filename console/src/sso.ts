/**
 * Single sign-on (optional): OIDC authorization code with PKCE, the console as a public client.
 * The deployment says whether it is on (`config.json` beside index.html: the issuer, the client
 * id, the scope, which token to use); the issuer's discovery document says where to send the
 * browser. Offered only when the issuer publishes an authorization endpoint.
 *
 * The PKCE verifier and the state wait in this tab's session storage between the redirect and
 * the return, and are removed on return, whatever happens. The token the issuer hands back
 * becomes the tab's credential, exactly like a pasted JWT (session.ts): the authorizer verifies
 * it. Nothing here ever sends the credential anywhere but Tollgate's API.
 */
import { rememberCredential } from './session';

export interface SsoSettings {
  issuer: string;
  clientId: string;
  scope: string;
  token: 'id_token' | 'access_token';
  tokenEndpoint?: string;
}

export interface Sso {
  settings: SsoSettings;
  authorizationEndpoint: string;
  tokenEndpoint: string;
}

const PENDING_KEY = 'tollgate.sso.pending';

interface Pending {
  state: string;
  verifier: string;
  redirectUri: string;
}

const base64url = (bytes: Uint8Array): string =>
  btoa(String.fromCharCode(...bytes))
    .replace(/\+/g, '-')
    .replace(/\//g, '_')
    .replace(/=+$/, '');

const random = (n = 32): string => base64url(crypto.getRandomValues(new Uint8Array(n)));

/** RFC 7636: the S256 challenge of a verifier. */
export async function challengeOf(verifier: string): Promise<string> {
  return base64url(new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier))));
}

/** The console's own URL, without query or hash: where the issuer sends the browser back. */
const redirectUri = (): string => `${location.origin}${location.pathname}`;

/** The deployment's single sign-on, when it has one and its issuer publishes an authorization endpoint. */
export async function loadSso(): Promise<Sso | null> {
  const res = await fetch('config.json', { credentials: 'omit', cache: 'no-cache' }).catch(() => undefined);
  if (!res?.ok) return null;
  const settings = ((await res.json().catch(() => ({}))) as { oidc?: SsoSettings | null }).oidc;
  if (!settings?.issuer || !settings.clientId) return null;
  const discovery = await fetch(`${settings.issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`, {
    credentials: 'omit',
    referrerPolicy: 'no-referrer',
  })
    .then((r) => (r.ok ? (r.json() as Promise<{ authorization_endpoint?: unknown; token_endpoint?: unknown }>) : undefined))
    .catch(() => undefined);
  const authorizationEndpoint = discovery?.authorization_endpoint;
  const tokenEndpoint = settings.tokenEndpoint ?? discovery?.token_endpoint;
  if (typeof authorizationEndpoint !== 'string' || typeof tokenEndpoint !== 'string') return null;
  return { settings, authorizationEndpoint, tokenEndpoint };
}

/** Sends the browser to the issuer, with a fresh PKCE verifier and state kept in this tab. */
export async function startSignIn(sso: Sso): Promise<void> {
  const pending: Pending = { state: random(16), verifier: random(32), redirectUri: redirectUri() };
  sessionStorage.setItem(PENDING_KEY, JSON.stringify(pending));
  const url = new URL(sso.authorizationEndpoint);
  url.searchParams.set('response_type', 'code');
  url.searchParams.set('client_id', sso.settings.clientId);
  url.searchParams.set('redirect_uri', pending.redirectUri);
  url.searchParams.set('scope', sso.settings.scope);
  url.searchParams.set('state', pending.state);
  url.searchParams.set('code_challenge', await challengeOf(pending.verifier));
  url.searchParams.set('code_challenge_method', 'S256');
  location.assign(url.toString());
}

/** True when this page load is the issuer sending the browser back. */
export const isSignInReturn = (): boolean => {
  const q = new URLSearchParams(location.search);
  return q.has('state') && (q.has('code') || q.has('error'));
};

/**
 * Completes a return from the issuer: checks the state, exchanges the code (with the verifier)
 * for tokens and keeps the configured one as the tab's credential. The query is removed from
 * the address bar either way. Throws a message fit to show.
 */
export async function completeSignIn(sso: Sso | null): Promise<void> {
  const q = new URLSearchParams(location.search);
  const raw = sessionStorage.getItem(PENDING_KEY);
  sessionStorage.removeItem(PENDING_KEY);
  history.replaceState(null, '', `${location.pathname}${location.hash}`);
  const pending = raw ? (JSON.parse(raw) as Pending) : undefined;
  // Nothing in the address bar is shown or used unless this tab started the sign-in (a crafted
  // link could otherwise put any text on this origin).
  if (!sso) throw new Error('Single sign-on is not configured for this console.');
  if (!pending || pending.state !== q.get('state'))
    throw new Error('This sign-in was not started from this tab (its state does not match); sign in again.');
  if (q.has('error')) throw new Error(`The identity provider refused the sign-in: ${q.get('error_description') || q.get('error')}`);
  const res = await fetch(sso.tokenEndpoint, {
    method: 'POST',
    credentials: 'omit',
    referrerPolicy: 'no-referrer',
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
    body: new URLSearchParams({
      grant_type: 'authorization_code',
      code: q.get('code') ?? '',
      redirect_uri: pending.redirectUri,
      client_id: sso.settings.clientId,
      code_verifier: pending.verifier,
    }),
  }).catch(() => undefined);
  const answer = (await res?.json().catch(() => undefined)) as Record<string, unknown> | undefined;
  if (!res?.ok) {
    const why =
      typeof answer?.error_description === 'string'
        ? answer.error_description
        : typeof answer?.error === 'string'
          ? answer.error
          : `HTTP ${res?.status ?? 'error'}`;
    throw new Error(`The identity provider would not issue a token: ${why}`);
  }
  const token = answer?.[sso.settings.token];
  if (typeof token !== 'string' || token.split('.').length !== 3)
    throw new Error(`The identity provider's answer has no ${sso.settings.token} that is a JWT.`);
  rememberCredential(token);
}
