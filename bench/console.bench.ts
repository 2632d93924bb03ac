/**
 * The console's production bundle: the JavaScript the first page loads (the entry and its
 * static imports, gzipped as CloudFront serves them), the lazy uPlot chunk apart, and how long
 * a build takes (npm start runs one when the sources changed).
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, posix } from 'node:path';
import { gzipSync } from 'node:zlib';
import { buildConsole } from '../infra/local/console.js';
import type { BenchSection } from './run.js';

export const FIRST_PAGE_JS_TARGET_KB = 150;

export interface ScriptSize {
  file: string;
  bytes: number;
  gzipBytes: number;
}

const size = (dist: string, file: string): ScriptSize => {
  const body = readFileSync(join(dist, file));
  return { file, bytes: body.length, gzipBytes: gzipSync(body, { level: 9 }).length };
};

/** Every script index.html loads, and everything those import statically (not `import()`: loaded later). */
export function firstPageJs(dist: string): ScriptSize[] {
  const html = readFileSync(join(dist, 'index.html'), 'utf8');
  const pending = [...html.matchAll(/<script[^>]*\ssrc="\.\/([^"]+)"|<link[^>]*rel="modulepreload"[^>]*href="\.\/([^"]+)"/g)].map(
    (m) => (m[1] ?? m[2]) as string,
  );
  const seen = new Set<string>();
  while (pending.length > 0) {
    const file = pending.pop() as string;
    if (seen.has(file)) continue;
    seen.add(file);
    const code = readFileSync(join(dist, file), 'utf8');
    // Static imports only: `import{a}from"./x.js"`, `import"./x.js"`; `import("./x.js")` is lazy.
    for (const m of code.matchAll(/\bimport\s*(?:[\w$*{},\s]+?\s*from\s*)?["'](\.\.?\/[^"']+)["']/g)) {
      pending.push(posix.normalize(posix.join(posix.dirname(file), m[1] as string)));
    }
  }
  return [...seen].sort().map((f) => size(dist, f));
}

export const allJs = (dist: string): ScriptSize[] =>
  readdirSync(join(dist, 'assets'))
    .filter((f) => f.endsWith('.js'))
    .map((f) => size(dist, `assets/${f}`));

const kb = (n: number) => `${(n / 1024).toFixed(1)} KB`;

export default async function consoleBench(): Promise<BenchSection> {
  const dist = join(mkdtempSync(join(tmpdir(), 'tollgate-console-bench-')), 'dist');
  try {
    const started = performance.now();
    await buildConsole(undefined, dist);
    const buildMs = performance.now() - started;
    const first = firstPageJs(dist);
    const all = allJs(dist);
    const lazy = all.filter((a) => !first.some((f) => f.file === a.file));
    const sum = (xs: ScriptSize[], k: 'bytes' | 'gzipBytes') => xs.reduce((s, x) => s + x[k], 0);
    return {
      title: 'Console: production bundle',
      method:
        "`vite build console` (Preact, Vite 8), then the JavaScript the first page loads (index.html's scripts and their static imports), gzipped at level 9; the uPlot chart library is a separate chunk loaded only on the Spend page when there is a report to draw.",
      rows: [
        { metric: 'first page JavaScript, gzipped', value: kb(sum(first, 'gzipBytes')), target: `≤ ${FIRST_PAGE_JS_TARGET_KB} KB` },
        { metric: 'first page JavaScript, minified', value: kb(sum(first, 'bytes')) },
        { metric: 'lazy chunks (uPlot), gzipped', value: kb(sum(lazy, 'gzipBytes')) },
        { metric: 'build time (npm start rebuilds when stale)', value: `${Math.round(buildMs)} ms` },
      ],
      notes: [`First page files: ${first.map((f) => `${f.file} (${kb(f.gzipBytes)} gzipped)`).join(', ')}.`],
    };
  } finally {
    rmSync(join(dist, '..'), { recursive: true, force: true });
  }
}
