/**
 * Stored fields are text in the console, never markup: every name, alias, id, metadata value and
 * model field a caller can write holds an HTML element, and no page of the console turns it into
 * one (found by review: the class had no test). Checked in the DOM, not by a script running: the
 * CSP would stop an inline handler even where markup got through, and this test must see that.
 */
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { call, launchChromium, npmStart, type Running } from './support.js';

const MASTER = 'sk-browser-markup-master-key';
/** A field's value: an element the test can find if it were ever parsed, and a quote breaking out of an attribute. */
const P = (field: string) => `<img data-injected="${field}" src="x">"'${field}`;
const TEAM = P('team_id');
const USER = P('user_id');
const ORG = P('organization_id');

let app: Running;
let browser: Browser;
let page: Page;
const dialogs: string[] = [];
let key = '';

async function ok(path: string, body?: unknown): Promise<any> {
  const r = await call(app.url, path, MASTER, body);
  if (r.status >= 300) throw new Error(`${path}: ${r.status} ${JSON.stringify(r.json)}`);
  return r.json;
}

beforeAll(async () => {
  app = await npmStart({ TOLLGATE_MASTER_KEY: MASTER, TOLLGATE_CACHE_TTL_SECONDS: '1' });
  browser = await launchChromium();
  page = await (await browser.newContext({ viewport: { width: 1280, height: 860 } })).newPage();
  page.on('dialog', (d) => {
    dialogs.push(d.message());
    void d.dismiss();
  });
  const metadata = { note: P('metadata'), tags: [P('tag')] };
  await ok('/organization/new', { organization_id: ORG, organization_alias: P('organization_alias'), metadata });
  await ok('/team/new', { team_id: TEAM, team_alias: P('team_alias'), organization_id: ORG, metadata, max_budget: 10 });
  await ok('/user/new', { user_id: USER, user_alias: P('user_alias'), user_email: 'markup@example.com', metadata });
  await ok('/team/member_add', { team_id: TEAM, member: { user_id: USER, role: 'admin' } });
  key = (await ok('/key/generate', { team_id: TEAM, user_id: USER, key_alias: P('key_alias'), metadata })).key;
  await ok('/customer/new', { user_id: P('end_user'), alias: P('end_user_alias'), max_budget: 5 });
  await ok('/budget/new', { budget_id: P('budget_id'), max_budget: 3 });
  await ok('/model/new', {
    // Model names, aliases and access groups are plain names (lib/admin/actions/models.ts); the upstream model is free text.
    model_name: 'markup-model',
    litellm_params: { model: P('upstream_model'), api_base: 'http://127.0.0.1:9/v1' },
    model_info: { input_cost_per_million: 1, output_cost_per_million: 2 },
  });
  // A chat with the key, naming an end user: the spend pages show its records.
  const chat = await call(app.url, '/chat/completions', key, {
    model: 'gpt-4o-mini',
    user: P('end_user'),
    messages: [{ role: 'user', content: 'Hello' }],
  });
  expect(chat.status).toBe(200);
  // Its spend log and rollups come off the table's stream, within its batching window (up to 5 s).
  await vi.waitFor(async () => expect((await call(app.url, '/spend/logs', MASTER)).json?.data?.length ?? 0).toBeGreaterThan(0), {
    timeout: 15_000,
    interval: 200,
  });
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await app?.stop();
});

async function signIn(): Promise<void> {
  await page.goto(`${app.url}/ui/`);
  await page.getByLabel('Master key, virtual key or JWT').fill(MASTER);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await page.getByRole('button', { name: 'Sign out', exact: true }).waitFor();
}

async function open(route: string): Promise<void> {
  await page.goto(`${app.url}/ui/#/${route}`);
  await page.locator('h1').first().waitFor();
  await expect.poll(() => page.locator('p.muted', { hasText: /^Loading/ }).count(), { timeout: 15_000 }).toBe(0);
}

describe('stored fields are text on every page', () => {
  it.each([
    ['overview', ['team_alias', 'key_alias']],
    ['teams', ['team_alias', 'team_id']],
    [`teams/:team`, ['team_alias', 'user_id', 'key_alias']],
    ['keys', ['key_alias', 'team_id']],
    ['users', ['user_id']],
    [`users/:user`, ['user_id', 'team_alias']],
    ['organizations', ['organization_alias']],
    ['end-users', ['end_user']],
    ['budgets', ['budget_id']],
    ['models', ['upstream_model']],
    ['spend', ['end_user']],
    ['audit', ['team_id']],
  ] as const)('%s: no stored value became an element, and each shows as its text', async (route, shown) => {
    if (route === 'overview') await signIn();
    await open(route.replace(':team', encodeURIComponent(TEAM)).replace(':user', encodeURIComponent(USER)));
    const injected = await page.locator('[data-injected]').evaluateAll((els) => els.map((e) => e.getAttribute('data-injected')));
    expect(injected).toEqual([]);
    const text = (await page.locator('main').textContent()) ?? '';
    for (const field of shown) expect(text, `${route} shows ${field} as text`).toContain(P(field));
    expect(dialogs).toEqual([]);
  });
});
