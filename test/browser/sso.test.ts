/**
 * Single sign-on in the console (issue 14): against `npm start` configured with an OpenID
 * provider (test/browser/mock-idp.ts) and the console's client id, Debian's Chromium clicks
 * "Sign in with ...", goes through the provider's authorization endpoint with a PKCE challenge,
 * comes back, and is signed in as the provider's user; the token is kept in session storage only,
 * the PKCE verifier is gone, and the address bar holds no code. A tampered return is refused.
 */
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type MockIdp, startMockIdp } from './mock-idp.js';
import { axeViolations, call, launchChromium, npmStart, type Running } from './support.js';

const MASTER = 'sk-browser-sso-master-key';
const CLIENT_ID = 'tollgate-console';
const USER = 'sso-user';

let idp: MockIdp;
let app: Running;
let browser: Browser;
let page: Page;

beforeAll(async () => {
  idp = await startMockIdp({ clientId: CLIENT_ID, subject: USER });
  app = await npmStart({
    TOLLGATE_MASTER_KEY: MASTER,
    TOLLGATE_JWT_ISSUER: idp.issuer,
    TOLLGATE_JWT_JWKS_URI: idp.jwksUri,
    TOLLGATE_JWT_AUDIENCE: CLIENT_ID,
    TOLLGATE_CONSOLE_OIDC_CLIENT_ID: CLIENT_ID,
    NODE_EXTRA_CA_CERTS: idp.caFile,
  });
  const made = await call(app.url, '/user/new', MASTER, { user_id: USER, user_role: 'internal_user' });
  expect(made.status).toBe(200);
  browser = await launchChromium();
  page = await (await browser.newContext()).newPage();
});

afterAll(async () => {
  await browser?.close();
  await app?.stop();
  await idp?.close();
});

describe('single sign-on', () => {
  it('the console serves its settings, and its CSP allows the issuer and nothing else', async () => {
    const res = await fetch(`${app.url}/ui/config.json`);
    expect(await res.json()).toEqual({ oidc: { issuer: idp.issuer, clientId: CLIENT_ID, scope: 'openid', token: 'id_token' } });
    const csp = (await fetch(`${app.url}/ui/`)).headers.get('content-security-policy');
    expect(csp).toContain(`connect-src 'self' ${new URL(idp.issuer).origin};`);
  });

  it('signs in through the provider with PKCE and lands signed in as its user', async () => {
    await page.goto(`${app.url}/ui/`);
    const button = page.getByRole('button', { name: /^Sign in with 127\.0\.0\.1/ });
    await button.waitFor();
    expect(await axeViolations(page)).toEqual([]);
    await button.click();
    await page.getByText(`Signed in as user ${USER}`).waitFor();

    const auth = idp.authorizations.at(-1) as URLSearchParams;
    expect(auth.get('code_challenge_method')).toBe('S256');
    expect(auth.get('code_challenge')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(auth.get('redirect_uri')).toBe(`${app.url}/ui/`);
    const token = idp.tokenRequests.at(-1) as URLSearchParams;
    expect(token.get('code_verifier')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    // Nothing of the exchange stays behind: no code in the address bar, no verifier in storage.
    expect(new URL(page.url()).search).toBe('');
    const storage = (await page.evaluate(
      '({ session: Object.keys(sessionStorage), local: Object.keys(localStorage), cookie: document.cookie })',
    )) as { session: string[]; local: string[]; cookie: string };
    expect(storage).toEqual({ session: ['tollgate.credential'], local: [], cookie: '' });
    // The token is a JWT the API accepts as that user.
    const jwt = (await page.evaluate('sessionStorage.getItem("tollgate.credential")')) as string;
    expect((await call(app.url, '/user/info', jwt)).json.user_id).toBe(USER);
  });

  it('a return this tab did not start (state mismatch) is refused and signs nobody in', async () => {
    await page.evaluate('sessionStorage.clear()');
    await page.goto(`${app.url}/ui/?code=stolen&state=not-ours`);
    await page.getByRole('alert').filter({ hasText: 'not started from this tab' }).waitFor();
    expect(new URL(page.url()).search).toBe('');
    expect(await page.evaluate('sessionStorage.getItem("tollgate.credential")')).toBeNull();
  });

  it("the provider's refusal is shown for a sign-in this tab started; a crafted link's text never is", async () => {
    await page.goto(`${app.url}/ui/`);
    await page.evaluate(
      `sessionStorage.setItem('tollgate.sso.pending', JSON.stringify({ state: 's-1', verifier: 'v', redirectUri: location.origin + '/ui/' }))`,
    );
    await page.goto(`${app.url}/ui/?error=access_denied&error_description=${encodeURIComponent('the user said no')}&state=s-1`);
    await page.getByRole('alert').filter({ hasText: 'the user said no' }).waitFor();
    const crafted = encodeURIComponent('Session expired: paste your master key at https://evil.example');
    await page.goto(`${app.url}/ui/?error=x&error_description=${crafted}&state=not-ours`);
    await page.getByRole('alert').filter({ hasText: 'not started from this tab' }).waitFor();
    expect(await page.content()).not.toContain('evil.example');
  });
});
