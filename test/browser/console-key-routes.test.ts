/**
 * A key's `allowed_routes` through the console's Keys page, in a real browser against a real
 * `npm start`: a proxy admin generates a key limited to some routes, sees them in its row, edits
 * them, and sees an entry the API refuses (a 400 naming `allowed_routes.N`) next to the field,
 * with nothing written. The key then calls only what its list lets it. The steps run in order.
 */
import type { Browser, Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { axeViolations, call, launchChromium, npmStart, type Running } from './support.js';

const MASTER = 'sk-browser-routes-master-key';
const ALIAS = 'routes-key';
const CHAT = { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Hello' }] };

let app: Running;
let browser: Browser;
let page: Page;
const pageErrors: string[] = [];
let plaintext = '';
let token = '';

const keyList = (): Locator => page.locator('section[aria-labelledby="key-list"]');
const keyRow = (): Locator => keyList().locator('tbody tr', { hasText: ALIAS });
/** The row's "Allowed routes" cell, found by its column header. */
async function routesCell(): Promise<string> {
  const headers = await keyList().locator('thead th').allTextContents();
  return (await keyRow().locator('td').nth(headers.indexOf('Allowed routes')).textContent()) ?? '';
}
const focusedId = () => page.evaluate('document.activeElement ? document.activeElement.id : ""') as Promise<string>;
const storedRoutes = async () => (await call(app.url, `/key/info?key=${encodeURIComponent(token)}`, MASTER)).json?.info?.allowed_routes;

beforeAll(async () => {
  // A 1 s cache TTL: an edited list reaches the authorizer within a second.
  app = await npmStart({ TOLLGATE_MASTER_KEY: MASTER, TOLLGATE_CACHE_TTL_SECONDS: '1' });
  browser = await launchChromium();
  page = await (await browser.newContext({ viewport: { width: 1280, height: 860 } })).newPage();
  page.on('dialog', (d) => void d.accept());
  page.on('pageerror', (e) => pageErrors.push(e.message));
  await page.goto(`${app.url}/ui/`);
  await page.getByLabel('Master key, virtual key or JWT').fill(MASTER);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await page.getByRole('button', { name: 'Sign out', exact: true }).waitFor();
});

afterAll(async () => {
  await browser?.close();
  await app?.stop();
});

describe("a key's allowed routes on the Keys page", () => {
  it('an entry that covers no route is refused at generation, next to the field, and no key is made', async () => {
    await page.goto(`${app.url}/ui/#/keys`);
    await page.locator('h1', { hasText: 'Keys' }).waitFor();
    await page.fill('#new-key-key_alias', ALIAS);
    await page.fill('#new-key-allowed_routes', 'llm, /v1/nope');
    await page.getByRole('button', { name: 'Generate key', exact: true }).click();
    const error = page.locator('#new-key-allowed_routes-error');
    await error.waitFor();
    expect(await error.textContent()).toMatch(/allowed_routes\.1.*covers no route/);
    expect(await page.locator('#new-key-allowed_routes').getAttribute('aria-invalid')).toBe('true');
    await expect.poll(focusedId).toBe('new-key-allowed_routes');
    expect(await page.locator('#generated-value').count()).toBe(0);
    expect(await keyRow().count()).toBe(0);
  });

  it('generates a key limited to the LLM routes and /key/info, and lists them in its row', async () => {
    await page.fill('#new-key-allowed_routes', 'llm, /key/info');
    await page.getByRole('button', { name: 'Generate key', exact: true }).click();
    const shown = page.locator('#generated-value');
    await shown.waitFor();
    plaintext = await shown.inputValue();
    await keyRow().waitFor();
    expect(await routesCell()).toBe('llm, /key/info');
    expect(await page.locator('#new-key-allowed_routes-error').count()).toBe(0);
    token = (await call(app.url, `/key/info?key=${encodeURIComponent(plaintext)}`, MASTER)).json.key;
    expect(await storedRoutes()).toEqual(['llm', '/key/info']);
    expect((await call(app.url, '/v1/chat/completions', plaintext, CHAT)).status).toBe(200);
  });

  it("edits the list in the key's editor; the row and the API show the new list, and the key calls only that", async () => {
    await keyList()
      .getByRole('button', { name: new RegExp(`^Edit key ${ALIAS} `) })
      .click();
    const field = page.locator('#edit-key-allowed_routes');
    expect(await field.inputValue()).toBe('llm, /key/info');
    await field.fill('info');
    await keyList().getByRole('button', { name: 'Save key', exact: true }).click();
    await page.locator('#edit-key [role="status"]', { hasText: /^Key \S+ saved\.$/ }).waitFor();
    await expect.poll(routesCell).toBe('info');
    expect(await storedRoutes()).toEqual(['info']);
    await expect
      .poll(async () => (await call(app.url, '/v1/chat/completions', plaintext, CHAT)).json?.error?.code, {
        timeout: 15_000,
        interval: 300,
      })
      .toBe('key_route_not_allowed');
  });

  it("an entry the API refuses on edit is shown at the field with the API's message, and the list stays as it was", async () => {
    await page.fill('#edit-key-allowed_routes', 'info, chat/completions');
    await keyList().getByRole('button', { name: 'Save key', exact: true }).click();
    const error = page.locator('#edit-key-allowed_routes-error');
    await error.waitFor();
    expect(await error.textContent()).toMatch(/allowed_routes\.1.*must be a route group/);
    expect(await page.locator('#edit-key-allowed_routes').getAttribute('aria-invalid')).toBe('true');
    expect(await page.locator('#edit-key-allowed_routes').getAttribute('aria-describedby')).toContain('edit-key-allowed_routes-error');
    await expect.poll(focusedId).toBe('edit-key-allowed_routes');
    expect(await axeViolations(page)).toEqual([]);
    expect(await storedRoutes()).toEqual(['info']);
    expect(await routesCell()).toBe('info');

    // Emptied, the list is gone: the key may call every route its role may again.
    await page.fill('#edit-key-allowed_routes', '');
    await keyList().getByRole('button', { name: 'Save key', exact: true }).click();
    await expect.poll(routesCell).toBe('all');
    expect(await storedRoutes()).toEqual([]);
  });

  it('no page failed', () => {
    expect(pageErrors).toEqual([]);
  });
});
