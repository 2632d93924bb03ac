/**
 * Defects a review found in the console, each against a real `npm start` in a real browser (in
 * Tokyo's time zone, nine hours from the UTC the console shows): lists that stopped at their first
 * page, a plaintext key sent in a spend-log query, audit times read in the browser's zone, and a
 * regenerated key's plaintext lost when the list's reload failed. The steps run in order.
 */
import { createHash } from 'node:crypto';
import type { Browser, Locator, Page, Route } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { axeViolations, call, launchChromium, npmStart, type Running } from './support.js';

const MASTER = 'sk-browser-review-master-key';
const ADMIN_ALIAS = 'admin-own-key';
const OTHER_ALIAS = 'other-key';
const SPEND_ALIAS = 'spend-key';
const LISTS = ['/customer/list', '/budget/list', '/organization/list', '/key/list', '/team/list', '/user/list'];

let app: Running;
let browser: Browser;
let page: Page;
const pageErrors: string[] = [];
const requested: string[] = [];
let adminKey = '';
let spendKey = '';

const section = (id: string): Locator => page.locator(`section[aria-labelledby="${id}"]`);
const rows = (scope: Locator): Locator => scope.locator('tbody tr');
const sha256 = (s: string) => createHash('sha256').update(s, 'utf8').digest('hex');

async function ok(path: string, body: unknown): Promise<any> {
  const res = await call(app.url, path, MASTER, body);
  expect(res.status, `${path}: ${JSON.stringify(res.json)}`).toBe(200);
  return res.json;
}

async function open(route: string, title: string | RegExp): Promise<void> {
  const target = `${app.url}/ui/#/${route}`;
  if (page.url() === target) await page.reload();
  else await page.goto(target);
  await page.locator('h1', { hasText: title }).waitFor();
  await expect.poll(() => page.locator('p.muted', { hasText: /^Loading/ }).count(), { timeout: 10_000 }).toBe(0);
}

async function signIn(credential: string): Promise<void> {
  await page.goto(`${app.url}/ui/`);
  const signOut = page.getByRole('button', { name: 'Sign out', exact: true });
  const form = page.getByLabel('Master key, virtual key or JWT');
  await signOut.or(form).first().waitFor();
  if (await signOut.isVisible()) await signOut.click();
  await form.fill(credential);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await signOut.waitFor();
}

/** The API answers the console's lists two records a page (it takes `limit` from the query). */
async function twoPerPage(route: Route): Promise<void> {
  const url = new URL(route.request().url());
  url.searchParams.set('limit', '2');
  await route.continue({ url: url.toString() });
}
const isList = (url: URL) => LISTS.some((p) => url.pathname.endsWith(p));

beforeAll(async () => {
  app = await npmStart({ TOLLGATE_MASTER_KEY: MASTER });
  for (const n of [1, 2, 3]) {
    await ok('/customer/new', { user_id: `paged-customer-${n}` });
    await ok('/budget/new', { budget_id: `paged-budget-${n}`, max_budget: n });
    await ok('/organization/new', { organization_id: `paged-org-${n}` });
  }
  adminKey = (await ok('/user/new', { user_id: 'review-admin', user_role: 'proxy_admin', key_alias: ADMIN_ALIAS })).key;
  await ok('/key/generate', { key_alias: OTHER_ALIAS });
  spendKey = (await ok('/key/generate', { key_alias: SPEND_ALIAS })).key;
  const chat = await call(app.url, '/chat/completions', spendKey, { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Hello' }] });
  expect(chat.status).toBe(200);
  // Its spend log comes off the table's stream, within its batching window (up to 5 s).
  await vi.waitFor(
    async () => expect((await call(app.url, `/spend/logs?api_key=${sha256(spendKey)}`, MASTER)).json?.data?.length ?? 0).toBeGreaterThan(0),
    { timeout: 15_000, interval: 200 },
  );

  browser = await launchChromium();
  page = await (await browser.newContext({ viewport: { width: 1280, height: 860 }, timezoneId: 'Asia/Tokyo' })).newPage();
  page.on('dialog', (d) => void d.accept());
  page.on('pageerror', (e) => pageErrors.push(e.message));
  page.on('request', (r) => requested.push(r.url()));
  await signIn(MASTER);
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await app?.stop();
});

describe('lists are read page by page', () => {
  for (const [route, title, list, what, prefix] of [
    ['end-users', 'End users', 'end-user-list', 'end users', 'paged-customer-'],
    ['budgets', 'Budgets', 'budget-list', 'budgets', 'paged-budget-'],
    ['organizations', 'Organizations', 'org-list', 'organizations', 'paged-org-'],
  ] as const) {
    it(`${title}: the records past the first page are a "Load more ${what}" away`, async () => {
      await page.route(isList, twoPerPage);
      try {
        await open(route, title);
        const listed = section(list);
        const more = listed.getByRole('button', { name: `Load more ${what}`, exact: true });
        await more.waitFor({ timeout: 5_000 });
        expect(await rows(listed).count()).toBe(2);
        while (await more.isVisible()) {
          const before = await rows(listed).count();
          await more.click();
          await expect.poll(() => rows(listed).count()).toBeGreaterThan(before);
        }
        for (const n of [1, 2, 3])
          expect(
            await rows(listed)
              .filter({ hasText: `${prefix}${n}` })
              .count(),
          ).toBe(1);
        expect(await axeViolations(page)).toEqual([]);
      } finally {
        await page.unroute(isList, twoPerPage);
      }
    });
  }

  it('the overview says which lists it read only in part, never leaving the rest out silently', async () => {
    await page.route(isList, twoPerPage);
    try {
      await open('overview', 'Overview');
      for (const [top, plural] of [
        ['top-end-users', 'end users'],
        ['top-orgs', 'organizations'],
      ] as const) {
        const notice = section(top).locator('.notice.partial');
        expect(await notice.textContent()).toContain(`only the first 2 ${plural} were read; there are more`);
        expect(
          await section('alerts')
            .locator('.notice.partial', { hasText: `first 2 ${plural}` })
            .count(),
        ).toBe(1);
      }
      expect(await axeViolations(page)).toEqual([]);
    } finally {
      await page.unroute(isList, twoPerPage);
    }
    // Read whole, nothing is said to be partial.
    await open('overview', 'Overview');
    expect(await page.locator('.notice.partial').count()).toBe(0);
  });
});

describe('the spend-log filter by key', () => {
  it('sends only the key’s SHA-256 hash, never the plaintext, and finds its logs', async () => {
    await open('spend', 'Spend');
    const since = requested.length;
    await page.getByLabel('Key (sk-… or its hash)').fill(spendKey);
    await page.getByRole('button', { name: 'Show logs', exact: true }).click();
    await expect.poll(() => requested.slice(since).some((u) => new URL(u).searchParams.get('api_key') === sha256(spendKey))).toBe(true);
    const logs = section('spend-logs');
    await rows(logs).filter({ hasText: SPEND_ALIAS }).first().waitFor();
    await expect.poll(async () => (await rows(logs).allTextContents()).every((t) => t.includes(SPEND_ALIAS))).toBe(true);
    const secret = spendKey.slice(3);
    expect(requested.filter((u) => u.includes(secret) || decodeURIComponent(u).includes(secret))).toEqual([]);
  });
});

describe('audit times', () => {
  it('Since and Until are read as UTC, as labelled, whatever the browser’s time zone', async () => {
    await open('audit', 'Audit log');
    const since = page.locator('#audit-form-since');
    const until = page.locator('#audit-form-until');
    // The records were made minutes ago: from an hour ago to two minutes from now, in UTC.
    const minute = (ms: number) => new Date(ms).toISOString().slice(0, 16);
    const from = minute(Date.now() - 3_600_000);
    const to = minute(Date.now() + 120_000);
    await page.selectOption('#audit-form-entity_type', 'budget');
    await page.fill('#audit-form-entity_id', 'paged-budget-3');
    await since.fill(from);
    await until.fill(to);
    const asked = page.waitForRequest((r) => new URL(r.url()).pathname.endsWith('/audit') && new URL(r.url()).searchParams.has('until'));
    await page.getByRole('button', { name: 'Show entries', exact: true }).click();
    const query = new URL((await asked).url()).searchParams;
    expect(query.get('since')).toBe(`${from}:00.000Z`);
    expect(query.get('until')).toBe(`${to}:00.000Z`);
    expect(await page.locator('label[for="audit-form-since"]').textContent()).toBe('Since (UTC)');
    expect(await page.locator('label[for="audit-form-until"]').textContent()).toBe('Until (UTC)');
    const entries = section('audit-entries');
    await rows(entries).filter({ hasText: 'budget paged-budget-3' }).first().waitFor({ timeout: 10_000 });
    expect(await axeViolations(page)).toEqual([]);
  });
});

describe('regenerating a key', () => {
  const keyList = () => section('key-list');
  const regenerate = (alias: string) =>
    keyList()
      .getByRole('button', { name: new RegExp(`^Regenerate key ${alias} `) })
      .click();

  it('a reload that fails after the regenerate keeps the new key on screen', async () => {
    await open('keys', 'Keys');
    const failOnce = (route: Route) =>
      route.fulfill({
        status: 500,
        contentType: 'application/json',
        body: JSON.stringify({ error: { message: 'injected by the test', type: 'api_error', param: null, code: 'internal_error' } }),
      });
    await page.route((url) => url.pathname.endsWith('/key/list'), failOnce, { times: 1 });
    await regenerate(OTHER_ALIAS);
    await keyList().getByText('The API failed.').waitFor();
    const shown = page.locator('#regenerated-value');
    expect(await shown.inputValue()).toMatch(/^sk-/);
    expect((await call(app.url, '/key/info', await shown.inputValue())).status).toBe(200);
    // Not the session's key: nothing is said of the session.
    expect(await page.locator('#regenerated-note').count()).toBe(0);
    expect(await axeViolations(page)).toEqual([]);
  });

  it('regenerating the key the session is signed in with keeps the new key and says to sign in with it', async () => {
    await signIn(adminKey);
    await open('keys', 'Keys');
    await regenerate(ADMIN_ALIAS);
    // The list's reload is refused: the old key was this session's credential.
    await keyList().getByText('Credential refused.').waitFor();
    const shown = page.locator('#regenerated-value');
    const fresh = await shown.inputValue();
    expect(fresh).toMatch(/^sk-/);
    expect(fresh).not.toBe(adminKey);
    expect(await page.locator('#regenerated-note').textContent()).toContain('This was the key you are signed in with');
    expect(await shown.getAttribute('aria-describedby')).toBe('regenerated-note');
    expect(await axeViolations(page)).toEqual([]);
    expect((await call(app.url, '/key/info', adminKey)).status).toBe(401);

    await signIn(fresh);
    await open('keys', 'Keys');
    await keyList().locator('tbody tr', { hasText: ADMIN_ALIAS }).waitFor();
  });

  it('no page failed', () => {
    expect(pageErrors).toEqual([]);
  });
});
