/**
 * The console in a real browser (Debian's Chromium) against a real `npm start`: an admin signs
 * in with the master key, creates a team, a user and a key, copies the key and chats with it
 * through the API, sees the spend, blocks the key and sees the next chat refused, and reads the
 * audit log; then the team's internal user signs in and sees only what the API lets them see.
 * Every page passes axe-core (no serious or critical violation) and is saved as a screenshot
 * in docs/screenshots/. The steps share one browser tab and run in order.
 */
import type { Browser, BrowserContext, Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { axeViolations, call, launchChromium, npmStart, type Running, screenshot } from './support.js';

const MASTER = 'sk-browser-test-master-key';
const TEAM = 'console-team';
const USER = 'console-user';
// One "Hello" to the mock upstream's gpt-4o-mini: 1 prompt and 3 completion tokens at 0.15 / 0.60 per 1M.
const CHAT_COST = '$0.00000195';
const CHAT = { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Hello' }] };

let app: Running;
let browser: Browser;
let context: BrowserContext;
let page: Page;
const requested: string[] = [];
const pageErrors: string[] = [];
let teamKey = '';
let userKey = '';

const focusedId = () => page.evaluate('document.activeElement ? document.activeElement.id : ""') as Promise<string>;
const section = (id: string): Locator => page.locator(`section[aria-labelledby="${id}"]`);
const status = (scope: Locator | Page = page) => scope.locator('[role="status"]:not(:empty)');
const row = (scope: Locator, text: string | RegExp) => scope.locator('tbody tr', { hasText: text });

async function open(route: string, title: string | RegExp): Promise<void> {
  const target = `${app.url}/ui/#/${route}`;
  // The same URL again is no navigation at all: reload so the page reads the API afresh.
  if (page.url() === target) await page.reload();
  else await page.goto(target);
  await page.locator('h1', { hasText: title }).waitFor();
  // Let the page's reads settle (every list shows its rows, its refusal or "no ..."): on a loaded
  // 2-core machine the spend page's reads took longer than expect.poll's default second.
  await expect.poll(() => page.locator('p.muted', { hasText: /^Loading/ }).count(), { timeout: 10_000 }).toBe(0);
}

/** axe-core finds nothing serious or critical; the page is saved for the docs. */
async function accessibleAndSaved(name: string): Promise<void> {
  expect(await axeViolations(page)).toEqual([]);
  await screenshot(page, name);
}

/** Opens a record's editor from its list, changes one field, saves, sees it saved and listed, and closes the editor. */
async function editThrough(
  list: string,
  editLabel: string,
  field: string,
  value: string,
  seen: { saved: string; row: string },
): Promise<void> {
  await section(list).getByRole('button', { name: editLabel, exact: true }).click();
  await page.fill(field, value);
  await section(list)
    .getByRole('button', { name: /^Save /, exact: false })
    .click();
  await page.getByText(seen.saved, { exact: true }).waitFor();
  await row(section(list), seen.row).waitFor();
  await section(list).getByRole('button', { name: 'Close the editor', exact: true }).click();
  expect(await page.locator(field).count()).toBe(0);
}

async function signIn(credential: string): Promise<void> {
  await page.getByLabel('Master key, virtual key or JWT').fill(credential);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await page.getByRole('button', { name: 'Sign out', exact: true }).waitFor();
}

beforeAll(async () => {
  // A 1 s cache TTL: a block reaches the authorizer within a second (the contract's bound, docs/deploy.md).
  app = await npmStart({ TOLLGATE_MASTER_KEY: MASTER, TOLLGATE_CACHE_TTL_SECONDS: '1' });
  browser = await launchChromium();
  context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: app.url });
  page = await context.newPage();
  page.on('dialog', (d) => void d.accept());
  page.on('request', (r) => requested.push(r.url()));
  page.on('pageerror', (e) => pageErrors.push(e.message));
});

afterAll(async () => {
  await browser?.close();
  await app?.stop();
});

describe('the console, as a proxy admin', () => {
  it('signs in from the keyboard alone; a refused credential is shown next to its field', async () => {
    await page.goto(`${app.url}/ui/`);
    await page.getByRole('button', { name: 'Sign in', exact: true }).waitFor();
    await accessibleAndSaved('sign-in');

    await page.keyboard.press('Tab');
    await expect.poll(focusedId).toBe('signin-credential');
    await page.keyboard.type('sk-not-a-key-of-this-proxy');
    await page.keyboard.press('Enter');
    const error = page.locator('#signin-credential-error');
    await error.waitFor();
    expect(await error.textContent()).toContain('Authentication failed');
    expect(await page.locator('#signin-credential').getAttribute('aria-invalid')).toBe('true');
    expect(await page.locator('#signin-credential').getAttribute('aria-describedby')).toContain('signin-credential-error');
    await expect.poll(focusedId).toBe('signin-credential');

    await page.keyboard.press('Control+A');
    await page.keyboard.type(MASTER);
    await page.keyboard.press('Enter');
    await page.locator('h1', { hasText: 'Overview' }).waitFor();
    expect(await page.locator('.who').textContent()).toContain('no key or user of its own');

    // The credential lives in this tab's session storage, nowhere else.
    expect(await page.evaluate('sessionStorage.getItem("tollgate.credential")')).toBe(MASTER);
    expect(await page.evaluate('localStorage.length')).toBe(0);
    expect(await context.cookies()).toEqual([]);

    // To the Teams page by keyboard: Tab to its link, Enter; the new page's heading takes the focus.
    for (let i = 0; i < 30 && (await page.evaluate('document.activeElement && document.activeElement.textContent')) !== 'Teams'; i++)
      await page.keyboard.press('Tab');
    await page.keyboard.press('Enter');
    await page.locator('h1', { hasText: 'Teams' }).waitFor();
    expect(page.url()).toMatch(/#\/teams$/);
    await expect.poll(focusedId).toBe('page-title');
  });

  it('creates a team; a value the API refuses is shown next to the field its `param` names', async () => {
    await open('teams', 'Teams');
    await page.fill('#new-team-team_id', TEAM);
    await page.fill('#new-team-team_alias', 'Console team');
    await page.fill('#new-team-models', 'gpt-4o-mini, gpt-4o');
    await page.fill('#new-team-max_budget', '10');
    await page.fill('#new-team-budget_duration', 'someday');
    await page.getByRole('button', { name: 'Create team', exact: true }).click();
    const error = page.locator('#new-team-budget_duration-error');
    await error.waitFor();
    expect(await error.textContent()).toMatch(/budget_duration.*must look like 30s, 15m, 24h, 30d, 2w or 1mo/);
    expect(await page.locator('#new-team-budget_duration').getAttribute('aria-invalid')).toBe('true');
    await expect.poll(focusedId).toBe('new-team-budget_duration');
    expect(await row(section('team-list'), TEAM).count()).toBe(0);

    await page.fill('#new-team-budget_duration', '30d');
    await page.getByRole('button', { name: 'Create team', exact: true }).click();
    await status(page.locator('#new-team'))
      .filter({ hasText: `Team ${TEAM} created.` })
      .waitFor();
    await row(section('team-list'), `Console team (${TEAM})`).waitFor();
    expect(await page.locator('#new-team-budget_duration-error').count()).toBe(0);
    await accessibleAndSaved('teams');
  });

  it("creates the team's internal user with a personal key, shown once", async () => {
    await open('users', 'Users');
    await page.fill('#new-user-user_id', USER);
    await page.fill('#new-user-user_alias', 'Console user');
    await page.fill('#new-user-teams', TEAM);
    await page.fill('#new-user-key_alias', 'console-user-key');
    expect(await page.locator('#new-user-auto_create_key').isChecked()).toBe(true);
    await page.getByRole('button', { name: 'Create user', exact: true }).click();
    const secret = page.locator('#user-key-value');
    await secret.waitFor();
    userKey = await secret.inputValue();
    expect(userKey).toMatch(/^sk-/);
    await row(section('user-list'), USER).waitFor();
    await page.getByRole('button', { name: 'I have copied it', exact: true }).click();
    expect(await page.locator('#user-key-value').count()).toBe(0);
    await accessibleAndSaved('users');
  });

  it('generates a team key, shows its plaintext once and copies it to the clipboard', async () => {
    await open('keys', 'Keys');
    await page.fill('#new-key-team_id', TEAM);
    await page.fill('#new-key-key_alias', 'console-key');
    await page.fill('#new-key-models', 'gpt-4o-mini');
    await page.fill('#new-key-max_budget', '1');
    await page.getByRole('button', { name: 'Generate key', exact: true }).click();
    const shown = page.locator('#generated-value');
    await shown.waitFor();
    const plaintext = await shown.inputValue();
    expect(plaintext).toMatch(/^sk-/);
    await page.getByRole('button', { name: 'Copy key', exact: true }).click();
    await status(page.locator('.secret')).filter({ hasText: 'Copied to the clipboard.' }).waitFor();
    teamKey = (await page.evaluate('navigator.clipboard.readText()')) as string;
    expect(teamKey).toBe(plaintext);
    await row(section('key-list'), 'console-key').waitFor();
  });

  it('a chat with the copied key spends, and the overview shows that spend against the budgets', async () => {
    const chat = await call(app.url, '/v1/chat/completions', teamKey, CHAT);
    expect(chat.status).toBe(200);
    // Spend is settled after the answer: reload until the overview shows it.
    await expect
      .poll(
        async () => {
          await open('overview', 'Overview');
          return row(section('top-keys'), 'console-key').textContent();
        },
        { timeout: 20_000, interval: 500 },
      )
      .toContain(`${CHAT_COST} of $1.00`);
    expect(await row(section('top-teams'), TEAM).textContent()).toContain(`${CHAT_COST} of $10.00`);
    expect(await row(section('top-teams'), TEAM).textContent()).toContain('resets');
    await accessibleAndSaved('overview');
  });

  it('spend over time and the spend logs show the chat: its day in the chart, its record in the logs', async () => {
    const today = new Date().toISOString().slice(0, 10);
    // The logs and rollups are built off the request path (the table's stream): a moment later.
    await expect
      .poll(async () => (await call(app.url, '/spend/logs', MASTER)).json?.data?.length ?? 0, { timeout: 15_000, interval: 200 })
      .toBeGreaterThan(0);
    const report = await call(app.url, `/global/spend/report?start_date=${today}&end_date=${today}`, MASTER);
    expect(report.status).toBe(200);
    await open('spend', 'Spend');
    const chart = section('spend-chart');
    const logSection = section('spend-logs');
    await chart.locator('canvas').first().waitFor();
    expect(await row(chart, today).textContent()).toContain(CHAT_COST);
    expect(await row(logSection, 'gpt-4o-mini').first().textContent()).toContain(CHAT_COST);
    await accessibleAndSaved('spend');
  });

  it("draws a report of several days and teams in LiteLLM's /global/spend/report shape with uPlot (an answer supplied by the test)", async () => {
    const answer = [
      {
        group_by_day: '2026-11-30T00:00:00+00:00',
        teams: [{ team_name: 'a', total_spend: 0.5, metadata: [{ model: 'gpt-4o', spend: 0.5, total_tokens: 100 }] }],
      },
      {
        group_by_day: '2026-12-01T00:00:00+00:00',
        teams: [
          { team_name: 'a', total_spend: 1.25, metadata: [] },
          { team_name: 'b', total_spend: 2, metadata: [] },
        ],
      },
    ];
    const isReport = (url: URL) => url.pathname.endsWith('/global/spend/report');
    await page.route(isReport, (route) => route.fulfill({ status: 200, contentType: 'application/json', body: JSON.stringify(answer) }));
    try {
      await open('spend', 'Spend');
      const chart = section('spend-chart');
      await chart.locator('figure.chart canvas').first().waitFor();
      expect(await chart.locator('figure.chart [role="img"]').getAttribute('aria-label')).toContain('$3.75 in all');
      expect(await row(chart, '2026-12-01').textContent()).toContain('$3.25');
      expect(await row(chart, '2026-12-01').textContent()).toContain('b ($2.00)');
      expect(await axeViolations(page)).toEqual([]);
    } finally {
      await page.unroute(isReport);
    }
  });

  it('a deployment that does not serve the spend routes gets a plain "not available", never a made-up chart (answers supplied by the test)', async () => {
    const missing = (url: URL) => url.pathname.endsWith('/global/spend/report') || url.pathname.endsWith('/spend/logs');
    const body = { error: { message: 'No such route', type: 'not_found_error', param: null, code: 'route_not_found' } };
    await page.route(missing, (route) => route.fulfill({ status: 404, contentType: 'application/json', body: JSON.stringify(body) }));
    try {
      await open('spend', 'Spend');
      const chart = section('spend-chart');
      const logSection = section('spend-logs');
      expect(await chart.textContent()).toContain('Not available on this deployment');
      expect(await chart.locator('canvas').count()).toBe(0);
      expect(await logSection.textContent()).toContain('Not available on this deployment');
      expect(await row(logSection, 'gpt-4o-mini').count()).toBe(0);
    } finally {
      await page.unroute(missing);
    }
  });

  it('blocks the key from the keys page, and the next chat with it is refused', async () => {
    await open('keys', 'Keys');
    const keyRow = row(section('key-list'), 'console-key');
    await keyRow.getByRole('button', { name: /^Block key console-key/ }).click();
    await keyRow.filter({ hasText: 'blocked' }).waitFor();
    await expect
      .poll(async () => (await call(app.url, '/v1/chat/completions', teamKey, CHAT)).json?.error?.code, { timeout: 15_000, interval: 300 })
      .toBe('key_blocked');
    await accessibleAndSaved('keys');
  });

  it("the team's page: its members with their budgets (a refused budget shown at its field), and its keys", async () => {
    await open(`teams/${TEAM}`, `Team ${TEAM}`);
    await row(section('team-members'), USER).waitFor();
    expect(await row(section('team-keys'), 'console-key').textContent()).toContain('blocked');

    await page.fill('#member-update-user_id', USER);
    await page.fill('#member-update-max_budget_in_team', '20');
    await page.getByRole('button', { name: 'Change member', exact: true }).click();
    const error = page.locator('#member-update-max_budget_in_team-error');
    await error.waitFor();
    expect(await error.textContent()).toMatch(/max_budget_in_team/);

    await page.fill('#member-update-max_budget_in_team', '0.5');
    await page.getByRole('button', { name: 'Change member', exact: true }).click();
    await expect.poll(() => row(section('team-members'), USER).textContent()).toContain('$0 of $0.50');
    await accessibleAndSaved('team');
  });

  it('organizations, end users, budgets and models through their forms', async () => {
    await open('organizations', 'Organizations');
    await page.fill('#new-org-organization_id', 'console-org');
    await page.fill('#new-org-organization_alias', 'Console org');
    await page.fill('#new-org-max_budget', '100');
    await page.getByRole('button', { name: 'Create organization', exact: true }).click();
    await row(section('org-list'), 'Console org (console-org)').waitFor();
    await editThrough('org-list', 'Edit organization console-org', '#edit-org-organization_alias', 'Console organization', {
      saved: 'Organization console-org saved.',
      row: 'Console organization (console-org)',
    });
    // A rate limit through the same editor: the API's refusal lands on its field, then it saves.
    await section('org-list').getByRole('button', { name: 'Edit organization console-org', exact: true }).click();
    await page.fill('#edit-org-rpm_limit', '1.5');
    await section('org-list')
      .getByRole('button', { name: /^Save /, exact: false })
      .click();
    await page.locator('#edit-org-rpm_limit[aria-invalid="true"]').waitFor();
    await page.locator('#edit-org-rpm_limit-error', { hasText: 'whole number' }).waitFor();
    await page.fill('#edit-org-rpm_limit', '600');
    await section('org-list')
      .getByRole('button', { name: /^Save /, exact: false })
      .click();
    await page.getByText('Organization console-org saved.', { exact: true }).waitFor();
    const orgInfo = async () => (await call(app.url, '/organization/info?organization_id=console-org', MASTER)).json;
    expect((await orgInfo()).rpm_limit).toBe(600);
    // Text a number field cannot read is refused at its field and nothing is sent (review: a number
    // input reported `$50` as empty, which an edit sent as "no budget").
    for (const unreadable of ['$50', '1,000', '1e']) {
      await page.fill('#edit-org-max_budget', unreadable);
      await section('org-list')
        .getByRole('button', { name: /^Save /, exact: false })
        .click();
      await page.locator('#edit-org-max_budget-error', { hasText: `"${unreadable}" is not a number` }).waitFor();
    }
    expect((await orgInfo()).max_budget).toBe(100);
    await page.fill('#edit-org-max_budget', '100');
    // The editor compares with the record as the save reloaded it: a limit cleared after it was set
    // is sent (review: the row of the Edit click made it look unchanged), and so is setting it again.
    for (const [rpm, stored] of [
      ['', null],
      ['600', 600],
    ] as const) {
      await page.fill('#edit-org-rpm_limit', rpm);
      // The list read again after the save: the next step types into a form that shows it.
      const reloaded = page.waitForResponse((r) => r.url().includes('/organization/list'));
      await section('org-list')
        .getByRole('button', { name: /^Save /, exact: false })
        .click();
      await reloaded;
      await expect.poll(async () => (await orgInfo()).rpm_limit ?? null, { timeout: 10_000 }).toBe(stored);
      await expect.poll(() => page.inputValue('#edit-org-rpm_limit')).toBe(rpm);
    }
    await section('org-list').getByRole('button', { name: 'Close the editor', exact: true }).click();
    await accessibleAndSaved('organizations');

    await open('end-users', 'End users');
    await page.fill('#new-end-user-user_id', 'customer-1');
    await page.fill('#new-end-user-alias', 'First customer');
    await page.fill('#new-end-user-max_budget', '5');
    await page.getByRole('button', { name: 'Create end user', exact: true }).click();
    const customer = row(section('end-user-list'), 'customer-1');
    await customer.getByRole('button', { name: 'Block end user customer-1', exact: true }).click();
    await customer.filter({ hasText: 'blocked' }).waitFor();
    await editThrough('end-user-list', 'Edit end user customer-1', '#edit-end-user-alias', 'Renamed customer', {
      saved: 'End user customer-1 saved.',
      row: 'Renamed customer',
    });
    await accessibleAndSaved('end-users');

    await open('budgets', 'Budgets');
    await page.fill('#new-budget-budget_id', 'console-budget');
    await page.fill('#new-budget-max_budget', '25');
    await page.fill('#new-budget-budget_duration', '1mo');
    await page.getByRole('button', { name: 'Create budget', exact: true }).click();
    expect(await row(section('budget-list'), 'console-budget').textContent()).toContain('$25.00');
    await editThrough('budget-list', 'Edit budget console-budget', '#edit-budget-max_budget', '30', {
      saved: 'Budget console-budget saved.',
      row: 'console-budget',
    });
    expect(await row(section('budget-list'), 'console-budget').textContent()).toContain('$30.00');
    await accessibleAndSaved('budgets');

    await open('models', 'Models');
    await row(section('model-list'), 'gpt-4o-mini').first().waitFor();
    await page.fill('#new-model-model_name', 'console-model');
    await page.fill('#new-model-litellm_params-model', 'gpt-4o-mini');
    await page.fill('#new-model-litellm_params-api_base', 'http://127.0.0.1:9/v1');
    await page.fill('#new-model-litellm_params-api_key_secret', 'sk-this-looks-like-a-real-key-0123456789');
    await page.fill('#new-model-model_info-input_cost_per_million', '1');
    await page.fill('#new-model-model_info-output_cost_per_million', '2');
    await page.getByRole('button', { name: 'Add model', exact: true }).click();
    const error = page.locator('#new-model-litellm_params-api_key_secret-error');
    await error.waitFor();
    expect(await error.textContent()).toContain('looks like a key itself');
    await page.fill('#new-model-litellm_params-api_key_secret', 'tollgate/local/mock-upstream');
    await page.getByRole('button', { name: 'Add model', exact: true }).click();
    await row(section('model-list'), 'console-model').waitFor();
    await accessibleAndSaved('models');
  });

  it('the audit log shows every change made above, by whom, and never a key', async () => {
    await open('audit', 'Audit log');
    const entries = section('audit-entries');
    await row(entries, 'key.block').waitFor();
    const text = (await entries.textContent()) ?? '';
    for (const action of [
      'team.new',
      'user.new',
      'team.member_add',
      'key.generate',
      'key.block',
      'team.member_update',
      'organization.new',
      'end_user.new',
      'end_user.block',
      'budget.new',
      'model.new',
    ]) {
      expect(text).toContain(action);
    }
    expect(text).toContain('master_key (proxy_admin)');
    expect(await page.content()).not.toContain(teamKey);
    expect(await page.content()).not.toContain(userKey);
    await accessibleAndSaved('audit');

    await page.selectOption('#audit-form-entity_type', 'team');
    await page.fill('#audit-form-entity_id', TEAM);
    await page.getByRole('button', { name: 'Show entries', exact: true }).click();
    await expect
      .poll(async () => (await entries.locator('tbody tr').allTextContents()).every((t) => t.includes(`team ${TEAM}`)))
      .toBe(true);
    expect(await row(entries, 'team.new').count()).toBe(1);
    expect(await axeViolations(page)).toEqual([]);
  });
});

describe("the console, as the team's internal user", () => {
  it('signs out, and signs in with the personal key', async () => {
    await page.getByRole('button', { name: 'Sign out', exact: true }).click();
    await page.getByRole('button', { name: 'Sign in', exact: true }).waitFor();
    expect(await page.evaluate('sessionStorage.getItem("tollgate.credential")')).toBeNull();
    await signIn(userKey);
    expect(await page.locator('.who').textContent()).toMatch(new RegExp(`key sk-\\S+ of user ${USER} \\(internal_user\\)`));
  });

  it('sees only their own key and their own team', async () => {
    await open('keys', 'Keys');
    const keys = section('key-list');
    await row(keys, 'console-user-key').waitFor();
    expect(await keys.locator('tbody tr').count()).toBe(1);
    expect(await keys.textContent()).not.toContain('console-key (');
    await accessibleAndSaved('internal-user-keys');

    await open('teams', 'Teams');
    expect(await section('team-list').locator('tbody tr').allTextContents()).toEqual([expect.stringContaining(TEAM)]);

    await open('overview', 'Overview');
    expect(await section('top-keys').locator('tbody tr').count()).toBe(1);
    expect(await section('top-users').textContent()).toContain('Not visible with this credential');
    expect(await axeViolations(page)).toEqual([]);
  });

  it("is refused what the API refuses them, with the API's message: users, the audit log, blocking their team", async () => {
    await open('users', 'Users');
    expect(await section('user-list').textContent()).toMatch(/Not visible with this credential\..*\(HTTP 403/);
    expect(await section('me').textContent()).toContain(USER);
    expect(await axeViolations(page)).toEqual([]);

    await open('audit', 'Audit log');
    expect(await section('audit-entries').textContent()).toMatch(/Not visible with this credential\..*\(HTTP 403/);

    await open(`teams/${TEAM}`, `Team ${TEAM}`);
    await page.getByRole('button', { name: 'Block team', exact: true }).click();
    const alert = page.locator('[role="alert"]', { hasText: 'Not allowed.' });
    await alert.waitFor();
    expect(await alert.textContent()).toContain('HTTP 403');
    expect(await section('team-summary').textContent()).toContain('active');
    expect(await axeViolations(page)).toEqual([]);
  });

  it('every request of the session went to this origin, and no page failed', () => {
    const origin = new URL(app.url).origin;
    expect(requested.length).toBeGreaterThan(20);
    expect(requested.filter((u) => new URL(u).origin !== origin)).toEqual([]);
    expect(pageErrors).toEqual([]);
  });
});
