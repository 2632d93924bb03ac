/**
 * What the browser tests share: `npm start` as a child process (as a user runs it), Debian's
 * Chromium driven by playwright-core, an axe-core check, screenshots, and API calls made the
 * way any client makes them.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AxeBuilder } from '@axe-core/playwright';
import { type Browser, chromium, type Page } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';
export const REPO = fileURLToPath(new URL('../../', import.meta.url));
export const SCREENSHOTS = join(REPO, 'docs', 'screenshots');

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--no-sandbox',
      '--headless',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

export interface Running {
  url: string;
  stop(): Promise<void>;
  output(): string;
}

async function waitFor<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/**
 * `npm start` in its own process group, with a user's environment plus `env`; resolves once the
 * banner is out. PORT=0: the gateway binds a port of the kernel's choosing and the banner names
 * it (a port picked here and bound seconds later was once taken in between on CI).
 */
export async function npmStart(env: Record<string, string>): Promise<Running> {
  const clean: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env))
    if (!k.startsWith('TOLLGATE_') && !k.startsWith('VITEST') && k !== 'NODE_ENV') clean[k] = v;
  const child: ChildProcess = spawn('npm', ['start'], {
    cwd: REPO,
    env: { ...clean, TOLLGATE_LOG_LEVEL: 'WARN', ...env, PORT: '0' },
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const pgid = child.pid as number;
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const gone = new Promise((r) => child.once('exit', r));
    process.kill(pgid, 'SIGTERM');
    const late = setTimeout(() => {
      try {
        process.kill(-pgid, 'SIGKILL');
      } catch {
        // already gone
      }
    }, 20_000);
    await gone;
    clearTimeout(late);
  };
  try {
    const url = await waitFor('the npm start banner', 90_000, async () => {
      if (child.exitCode !== null) throw new Error(`npm start exited with ${child.exitCode}: ${out}`);
      return /Console\s+(http:\/\/\S+)\/ui\//.exec(out)?.[1];
    });
    return { url, stop, output: () => out };
  } catch (e) {
    await stop();
    throw e;
  }
}

/** axe-core on the page as it is: no serious or critical violation (each listed with its nodes when one fails). */
export async function axeViolations(page: Page): Promise<string[]> {
  const result = await new AxeBuilder({ page }).analyze();
  return result.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id} (${v.impact}): ${v.help} at ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
}

export async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  // From the top of the page, wherever the last step scrolled to.
  await page.evaluate('window.scrollTo(0, 0)');
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), scale: 'css', animations: 'disabled' });
}

/** A call as any client makes it (the openai SDK would do the same): JSON in, status and JSON out. */
export async function call(url: string, path: string, key: string, body?: unknown): Promise<{ status: number; json: any }> {
  const res = await fetch(`${url}${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : undefined };
}
