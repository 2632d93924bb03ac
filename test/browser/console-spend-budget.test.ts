/**
 * Spend against a budget, as the console shows it, in a real browser against a real `npm start`
 * (the end users' answer supplied by the test): a spend just under its budget never reads as the
 * budget, one at or over it is shown as it is with "budget reached".
 */
import type { Browser, Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium, npmStart, type Running } from './support.js';

const MASTER = 'sk-browser-spend-master-key';

let app: Running;
let browser: Browser;
let page: Page;
const pageErrors: string[] = [];

const endUsers = [
  { user_id: 'just-under', spend: 99.996, max_budget: 100 },
  { user_id: 'cents-under', spend: 0.4996, max_budget: 0.5 },
  { user_id: 'exactly-at', spend: 100, max_budget: 100 },
  { user_id: 'just-over', spend: 10.1251, max_budget: 10.125 },
  { user_id: 'no-limit', spend: 99.996, max_budget: null },
];

const row = (id: string): Locator => page.locator('section[aria-labelledby="end-user-list"] tbody tr', { hasText: id });
const spendCell = async (id: string) => (await row(id).locator('.budget > span').first().textContent())?.trim();
const reached = (id: string) => row(id).locator('.reached', { hasText: 'budget reached' }).count();

beforeAll(async () => {
  app = await npmStart({ TOLLGATE_MASTER_KEY: MASTER });
  browser = await launchChromium();
  page = await (await browser.newContext({ viewport: { width: 1280, height: 860 } })).newPage();
  page.on('pageerror', (e) => pageErrors.push(e.message));
  await page.route(
    (url) => url.pathname.endsWith('/customer/list'),
    (route) => route.fulfill({ status: 200, contentType: 'application/json', body: JSON.stringify({ data: endUsers, next_cursor: null }) }),
  );
  await page.goto(`${app.url}/ui/`);
  await page.getByLabel('Master key, virtual key or JWT').fill(MASTER);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await page.getByRole('button', { name: 'Sign out', exact: true }).waitFor();
  await page.goto(`${app.url}/ui/#/end-users`);
  await row('just-under').waitFor();
});

afterAll(async () => {
  await browser?.close();
  await app?.stop();
});

describe('spend against a budget', () => {
  it('$99.996 of a $100 budget reads $99.99, not the budget, and is not reached', async () => {
    expect(await spendCell('just-under')).toBe('$99.99 of $100.00');
    expect(await reached('just-under')).toBe(0);
    expect(await row('just-under').locator('meter').getAttribute('aria-label')).toBe('End user just-under: $99.99 of $100.00');
  });

  it('under a dollar too: $0.4996 of $0.50 reads $0.499', async () => {
    expect(await spendCell('cents-under')).toBe('$0.499 of $0.50');
    expect(await reached('cents-under')).toBe(0);
  });

  it('spend equal to the budget is reached, and reads the budget', async () => {
    expect(await spendCell('exactly-at')).toBe('$100.00 of $100.00');
    expect(await reached('exactly-at')).toBe(1);
  });

  it('spend a hair over a budget with more than cents is reached, and never reads under it', async () => {
    expect(await spendCell('just-over')).toBe('$10.1251 of $10.125');
    expect(await reached('just-over')).toBe(1);
  });

  it('without a budget, spend reads as usual', async () => {
    expect(await spendCell('no-limit')).toBe('$99.99 of no limit');
  });

  it('no page failed', () => {
    expect(pageErrors).toEqual([]);
  });
});
