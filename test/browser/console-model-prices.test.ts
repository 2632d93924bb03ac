/**
 * A model's prices through the console's Models page, in a real browser against a real
 * `npm start`: a proxy admin adds a model with a cache price and a priority price pair from the
 * collapsed price groups, sees them in the model's detail and in /model/info, edits one price (only
 * that price is sent), and sees a service tier's input price alone refused next to the tier's
 * output price with nothing written. A model priced by the price library says so, with its
 * long-context tiers. The steps run in order.
 */
import type { Browser, Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { axeViolations, call, launchChromium, npmStart, type Running } from './support.js';

const MASTER = 'sk-browser-prices-master-key';
const MODEL = 'priced-model';
const LIBRARY_MODEL = 'library-model';

let app: Running;
let browser: Browser;
let page: Page;
const pageErrors: string[] = [];
/** The bodies the console posted to the model routes, in order. */
const sent: { path: string; body: unknown }[] = [];

const section = (id: string): Locator => page.locator(`section[aria-labelledby="${id}"]`);
const modelRow = (): Locator => section('model-list').locator('tbody tr', { hasText: MODEL });
const focusedId = () => page.evaluate('document.activeElement ? document.activeElement.id : ""') as Promise<string>;
/** The value a fact list shows for a label in the detail's Prices section. */
const price = (label: string) =>
  section('model-prices').locator(`xpath=.//dt[normalize-space()="${label}"]/following-sibling::dd[1]`).textContent();
const info = async (name: string) => call(app.url, `/model/info?model_name=${encodeURIComponent(name)}`, MASTER);
const sentTo = (path: string) => sent.filter((s) => s.path === path).map((s) => s.body);
/** The model's detail afresh (a goto to the hash already shown would keep the form's state). */
async function openModel(): Promise<void> {
  await page.goto(`${app.url}/ui/#/models`);
  await page.locator('h1', { hasText: 'Models' }).waitFor();
  await page.goto(`${app.url}/ui/#/models/${MODEL}`);
  await page.locator('h1', { hasText: `Model ${MODEL}` }).waitFor();
}
const upstream = () => section('model-summary').locator('xpath=.//dt[normalize-space()="Upstream"]/following-sibling::dd[1]').textContent();
const group = (form: string, name: string): Locator => page.locator(`#${form} details`, { hasText: name });

beforeAll(async () => {
  app = await npmStart({ TOLLGATE_MASTER_KEY: MASTER });
  browser = await launchChromium();
  page = await (await browser.newContext({ viewport: { width: 1280, height: 860 } })).newPage();
  page.on('dialog', (d) => void d.accept());
  page.on('pageerror', (e) => pageErrors.push(e.message));
  page.on('request', (r) => {
    const path = new URL(r.url()).pathname;
    if (path.startsWith('/model/') && r.method() === 'POST') sent.push({ path, body: r.postDataJSON() });
  });
  await page.goto(`${app.url}/ui/`);
  await page.getByLabel('Master key, virtual key or JWT').fill(MASTER);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await page.getByRole('button', { name: 'Sign out', exact: true }).waitFor();
});

// A step failed once in CI after 30 s of waiting for a summary to be "stable", with no retry in
// Playwright's log, as if the page drew no frame; it has passed in every run since. If it happens
// again, say whether the page still draws frames and what it threw.
beforeEach(({ onTestFailed }) => {
  onTestFailed(async () => {
    const frame = await Promise.race([
      page.evaluate('new Promise((r) => requestAnimationFrame(() => r("the page draws frames")))'),
      new Promise((r) => setTimeout(() => r('no frame within 2 s'), 2000)),
    ]).catch((e: Error) => `evaluate failed: ${e.message}`);
    console.error(`[console-model-prices] ${String(frame)}; at ${page.url()}; page errors: ${pageErrors.join(' | ') || 'none'}`);
  });
});

afterAll(async () => {
  await browser?.close();
  await app?.stop();
});

describe("a model's prices on the Models page", () => {
  it('a priority input price without its output price is refused next to the output price, and no model is made', async () => {
    await page.goto(`${app.url}/ui/#/models`);
    await section('model-list').locator('tbody tr', { hasText: 'gpt-4o-mini' }).first().waitFor();
    // The cache and tier prices are collapsed until opened.
    expect(await page.locator('#new-model-model_info-cache_read_cost_per_million').isVisible()).toBe(false);
    expect(await page.locator('#new-model-model_info-input_cost_per_million_priority').isVisible()).toBe(false);

    await page.fill('#new-model-model_name', MODEL);
    await page.fill('#new-model-litellm_params-model', 'gpt-4o-mini');
    await page.fill('#new-model-litellm_params-api_key_secret', 'tollgate/local/mock-upstream');
    await page.fill('#new-model-model_info-input_cost_per_million', '1');
    await page.fill('#new-model-model_info-output_cost_per_million', '2');
    await group('new-model', 'Cache, media and tool prices').locator('summary').click();
    await page.fill('#new-model-model_info-cache_read_cost_per_million', '0.5');
    await group('new-model', 'Service-tier prices').locator('summary').click();
    await page.fill('#new-model-model_info-input_cost_per_million_priority', '2');
    await page.getByRole('button', { name: 'Add model', exact: true }).click();

    const error = page.locator('#new-model-model_info-output_cost_per_million_priority-error');
    await error.waitFor();
    expect(await error.textContent()).toMatch(/model_info\.output_cost_per_million_priority.*required/);
    expect(await page.locator('#new-model-model_info-output_cost_per_million_priority').getAttribute('aria-invalid')).toBe('true');
    await expect.poll(focusedId).toBe('new-model-model_info-output_cost_per_million_priority');
    expect((await info(MODEL)).status).toBe(404);
    expect(await modelRow().count()).toBe(0);
  });

  it('with the pair, the model is added with only the prices given, and /model/info reports them', async () => {
    await page.fill('#new-model-model_info-output_cost_per_million_priority', '4');
    await page.getByRole('button', { name: 'Add model', exact: true }).click();
    await modelRow().waitFor();
    expect(sentTo('/model/new').at(-1)).toEqual({
      model_name: MODEL,
      litellm_params: { model: 'gpt-4o-mini', api_key_secret: 'tollgate/local/mock-upstream' },
      model_info: {
        input_cost_per_million: 1,
        output_cost_per_million: 2,
        cache_read_cost_per_million: 0.5,
        input_cost_per_million_priority: 2,
        output_cost_per_million_priority: 4,
      },
    });
    const m = (await info(MODEL)).json.data[0].model_info;
    expect(m).toMatchObject({
      cache_read_cost_per_million: 0.5,
      cache_write_cost_per_million: null,
      input_cost_per_million_priority: 2,
      output_cost_per_million_priority: 4,
      input_cost_per_million_flex: null,
      code_interpreter_cost_per_session: 0.03,
      price_source: 'registry',
    });
  });

  it("the model's detail shows every price, set by an admin, and its editor starts collapsed with what is given counted", async () => {
    await modelRow().getByRole('link', { name: MODEL, exact: true }).click();
    await page.locator('h1', { hasText: `Model ${MODEL}` }).waitFor();
    await section('model-prices').locator('dl').waitFor();
    expect(await price('Input price per 1M tokens')).toBe('$1.00');
    expect(await price('Cache read per 1M tokens')).toBe('$0.50');
    expect(await price('Cache write per 1M tokens')).toBe('—');
    expect(await price('Input per 1M tokens, priority')).toBe('$2.00');
    expect(await price('Output per 1M tokens, priority')).toBe('$4.00');
    expect(await price('Input per 1M tokens, flex')).toBe('—');
    expect(await page.locator('#model-price-source').textContent()).toContain('set by an admin');
    // OpenAI's code interpreter price comes with a model OpenAI serves, whoever prices its tokens.
    expect(await price('Per code interpreter session')).toBe('$0.03');
    expect(await group('edit-model', 'Cache, media and tool prices').locator('summary').textContent()).toBe(
      'Cache, media and tool prices (2 given)',
    );
    expect(await group('edit-model', 'Service-tier prices').locator('summary').textContent()).toBe('Service-tier prices (2 given)');
    expect(await page.locator('#edit-model-model_info-cache_write_cost_per_million').isVisible()).toBe(false);
    expect(await axeViolations(page)).toEqual([]);
  });

  it('an edited cache write price is sent alone, and the detail and /model/info show it', async () => {
    await group('edit-model', 'Cache, media and tool prices').locator('summary').click();
    await page.fill('#edit-model-model_info-cache_write_cost_per_million', '1.25');
    await page.getByRole('button', { name: 'Save model', exact: true }).click();
    await page.locator('#edit-model [role="status"]', { hasText: `Model ${MODEL} saved.` }).waitFor();
    expect(sentTo('/model/update').at(-1)).toEqual({ model_name: MODEL, model_info: { cache_write_cost_per_million: 1.25 } });
    await expect.poll(() => price('Cache write per 1M tokens')).toBe('$1.25');
    expect((await info(MODEL)).json.data[0].model_info).toMatchObject({
      cache_read_cost_per_million: 0.5,
      cache_write_cost_per_million: 1.25,
      input_cost_per_million_priority: 2,
      price_source: 'registry',
    });
  });

  it('a flex input price alone is refused next to the flex output price on edit, and nothing is written', async () => {
    const before = (await info(MODEL)).json;
    await group('edit-model', 'Service-tier prices').locator('summary').click();
    // Closed again: the error opens the group it lands in.
    await group('edit-model', 'Service-tier prices').locator('summary').click();
    await page.locator('#edit-model-model_info-input_cost_per_million_flex').waitFor({ state: 'hidden' });
    await group('edit-model', 'Service-tier prices').locator('summary').click();
    await page.fill('#edit-model-model_info-input_cost_per_million_flex', '0.5');
    await group('edit-model', 'Service-tier prices').locator('summary').click();
    await page.getByRole('button', { name: 'Save model', exact: true }).click();

    const error = page.locator('#edit-model-model_info-output_cost_per_million_flex-error');
    await error.waitFor();
    expect(await error.textContent()).toMatch(/model_info\.output_cost_per_million_flex.*required/);
    expect(await page.locator('#edit-model-model_info-output_cost_per_million_flex').isVisible()).toBe(true);
    await expect.poll(focusedId).toBe('edit-model-model_info-output_cost_per_million_flex');
    expect(sentTo('/model/update').at(-1)).toEqual({ model_name: MODEL, model_info: { input_cost_per_million_flex: 0.5 } });
    expect((await info(MODEL)).json).toEqual(before);
    expect(await price('Input per 1M tokens, flex')).toBe('—');
    expect(await axeViolations(page)).toEqual([]);
  });

  it("a model priced by the price library says so, with the library's long-context tiers", async () => {
    await page.goto(`${app.url}/ui/#/models`);
    await page.fill('#new-model-model_name', LIBRARY_MODEL);
    await page.fill('#new-model-litellm_params-model', 'anthropic/claude-sonnet-4-5');
    await page.fill('#new-model-litellm_params-api_key_secret', 'tollgate/local/mock-upstream');
    await page.getByRole('button', { name: 'Add model', exact: true }).click();
    await section('model-list').locator('tbody tr', { hasText: LIBRARY_MODEL }).waitFor();
    const m = (await info(LIBRARY_MODEL)).json.data[0].model_info;
    expect(m.price_source).toMatch(/^@pydantic\/genai-prices@/);

    await page.goto(`${app.url}/ui/#/models/${LIBRARY_MODEL}`);
    await section('model-prices').locator('dl').waitFor();
    expect(await page.locator('#model-price-source').textContent()).toBe(
      `the price library @pydantic/genai-prices ${m.price_source_version}, except the prices an admin set`,
    );
    expect(await price('Cache read per 1M tokens')).toBe('$0.30');
    expect(await price('Per web search')).toBe('$0.01');
    const tiers = section('model-prices').locator('table', { hasText: 'Long-context prices' });
    expect(await tiers.locator('tbody tr').first().textContent()).toContain('200,000');
    expect(await axeViolations(page)).toEqual([]);
  });

  it("emptied input and output prices and base go back to the library's prices and the default base, and the editor shows them", async () => {
    await openModel();
    await section('model-prices').locator('dl').waitFor();
    await page.fill('#edit-model-litellm_params-api_base', 'https://upstream.example/v1');
    await page.getByRole('button', { name: 'Save model', exact: true }).click();
    await expect.poll(() => upstream()).toBe('https://upstream.example/v1');
    expect(await page.locator('#edit-model-litellm_params-api_base-hint').textContent()).toContain('https://api.openai.com/v1');
    expect(await page.locator('#edit-model-model_info-input_cost_per_million-hint').textContent()).toContain("back to the library's");

    await page.fill('#edit-model-model_info-input_cost_per_million', '');
    await page.fill('#edit-model-model_info-output_cost_per_million', '');
    await page.fill('#edit-model-litellm_params-api_base', '');
    await page.getByRole('button', { name: 'Save model', exact: true }).click();
    await page.locator('#edit-model [role="status"]', { hasText: `Model ${MODEL} saved.` }).waitFor();
    expect(sentTo('/model/update').at(-1)).toEqual({
      model_name: MODEL,
      litellm_params: { api_base: null },
      model_info: { input_cost_per_million: null, output_cost_per_million: null },
    });
    const m = (await info(MODEL)).json.data[0];
    expect(m.model_info.price_source).toMatch(/^@pydantic\/genai-prices@/);
    expect(m.litellm_params.api_base).toBe('https://api.openai.com/v1');
    await expect.poll(() => upstream()).toBe('https://api.openai.com/v1');
    expect(await page.locator('#model-price-source').textContent()).toContain('the price library');
    expect(await price('Input price per 1M tokens')).toBe(`$${m.model_info.input_cost_per_million.toFixed(2)}`);
    // Saved, the emptied fields follow the record again: the library's prices, the default base.
    expect(await page.inputValue('#edit-model-model_info-input_cost_per_million')).toBe(String(m.model_info.input_cost_per_million));
    expect(await page.inputValue('#edit-model-litellm_params-api_base')).toBe('https://api.openai.com/v1');
    expect(await axeViolations(page)).toEqual([]);
  });

  it('an emptied cache read price (kept once set) is refused next to it, and nothing is sent', async () => {
    const before = (await info(MODEL)).json;
    const posted = sent.length;
    await group('edit-model', 'Cache, media and tool prices').locator('summary').click();
    await page.fill('#edit-model-model_info-cache_read_cost_per_million', '');
    await group('edit-model', 'Cache, media and tool prices').locator('summary').click();
    await page.getByRole('button', { name: 'Save model', exact: true }).click();
    const error = page.locator('#edit-model-model_info-cache_read_cost_per_million-error');
    await error.waitFor();
    expect(await error.textContent()).toContain('can be changed, not removed');
    await expect.poll(focusedId).toBe('edit-model-model_info-cache_read_cost_per_million');
    expect(sent.length).toBe(posted);
    expect((await info(MODEL)).json).toEqual(before);
  });

  it('prices are shown as given, to the nano-dollar: $1.125, $0.1875, $0.0000025, never rounded', async () => {
    await openModel();
    await section('model-prices').locator('dl').waitFor();
    await page.fill('#edit-model-model_info-input_cost_per_million', '1.125');
    await page.fill('#edit-model-model_info-output_cost_per_million', '0.1875');
    await group('edit-model', 'Cache, media and tool prices').locator('summary').click();
    await page.fill('#edit-model-model_info-cache_read_cost_per_million', '0.0000025');
    await page.getByRole('button', { name: 'Save model', exact: true }).click();
    await expect.poll(() => price('Input price per 1M tokens')).toBe('$1.125');
    expect(await price('Output price per 1M tokens')).toBe('$0.1875');
    expect(await price('Cache read per 1M tokens')).toBe('$0.0000025');
    await page.goto(`${app.url}/ui/#/models`);
    await modelRow().waitFor();
    expect(await modelRow().textContent()).toContain('$1.125');
    expect(await modelRow().textContent()).toContain('$0.1875');
  });

  it('a field typed as a reload lands keeps the typing, even the value shown before; untouched fields follow the record', async () => {
    await openModel();
    await section('model-prices').locator('dl').waitFor();
    const input = '#edit-model-model_info-input_cost_per_million';
    expect(await page.inputValue(input)).toBe('1.125');
    // The reload after the save is held until the admin has typed and another admin has changed the prices.
    let release = () => {};
    const held = new Promise<void>((r) => {
      release = r;
    });
    const isInfo = (url: URL) => url.pathname.endsWith('/model/info') && url.searchParams.get('model_name') === MODEL;
    let reloads = 0;
    await page.route(isInfo, async (route) => {
      reloads += 1;
      await held;
      await route.continue();
    });
    try {
      await page.fill('#edit-model-model_info-output_cost_per_million', '0.25');
      await page.getByRole('button', { name: 'Save model', exact: true }).click();
      await page.locator('#edit-model [role="status"]', { hasText: `Model ${MODEL} saved.` }).waitFor();
      await expect.poll(() => reloads).toBe(1);
      await page.fill(input, '');
      await page.fill(input, '1.125');
      expect(
        (
          await call(app.url, '/model/update', MASTER, {
            model_name: MODEL,
            model_info: { input_cost_per_million: 5, output_cost_per_million: 6, cache_read_cost_per_million: 0.75 },
          })
        ).status,
      ).toBe(200);
      release();
      // An untouched field follows the reloaded record: the form has taken it in.
      await expect.poll(() => page.inputValue('#edit-model-model_info-cache_read_cost_per_million')).toBe('0.75');
    } finally {
      await page.unroute(isInfo);
    }
    expect(await price('Input price per 1M tokens')).toBe('$5.00');
    expect(await page.inputValue(input)).toBe('1.125');
    expect(await page.inputValue('#edit-model-model_info-output_cost_per_million')).toBe('6');
    await page.getByRole('button', { name: 'Save model', exact: true }).click();
    await expect.poll(() => price('Input price per 1M tokens')).toBe('$1.125');
    expect(sentTo('/model/update').at(-1)).toEqual({ model_name: MODEL, model_info: { input_cost_per_million: 1.125 } });
    expect(await price('Cache read per 1M tokens')).toBe('$0.75');
    expect(await price('Output price per 1M tokens')).toBe('$6.00');
  });

  it('no page failed', () => {
    expect(pageErrors).toEqual([]);
  });
});
