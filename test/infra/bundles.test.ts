/**
 * Every function's bundle, built as deployed (infra/bundling.ts buildFunction) and imported in a
 * bare `node`.
 *
 * Cold start: no bundle imports a Node builtin through ESM (whose facade reads every export: for
 * node:http that loads undici); the llm function leaves the tokenizer's 2.7 MB of ranks out of its
 * bundle and finds it beside it when it counts; no bundle holds the tracer or the X-Ray SDK, which
 * are loaded from beside it when tracing is on (the tests below import every bundle traced).
 *
 * Tracing: with tracing off (local mode, tests, or a stack deployed with `tracing: false`, which sets
 * POWERTOOLS_TRACE_ENABLED=false) no function evaluates the tracer or the X-Ray SDK: each bundle,
 * built with the deployed options (infra/bundling.ts), is imported in a bare `node`. The X-Ray
 * SDK's context library (cls-hooked) leaves `process.namespaces` behind when it is evaluated,
 * and the tracer's namespace `AWSXRay` when a tracer is built.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { App, Duration, Stack } from 'aws-cdk-lib';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { countTokens } from 'gpt-tokenizer/encoding/o200k_base';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildFunction, ESM_REQUIRE_BANNER, LAZY_PACKAGES, lazyModuleCommands, PROJECT_ROOT } from '../../infra/bundling.js';
import { TollgateFunction } from '../../infra/constructs/function.js';

const FUNCTIONS = readdirSync(join(PROJECT_ROOT, 'functions'), { withFileTypes: true })
  .filter((d) => d.isDirectory())
  .map((d) => d.name);
const dir = mkdtempSync(join(tmpdir(), 'tollgate-tracing-'));
const bundleOf = (fn: string) => join(dir, `${fn}.mjs`);

beforeAll(async () => {
  await Promise.all(FUNCTIONS.map((fn) => buildFunction(fn, bundleOf(fn))));
}, 120_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** What a fresh node sees after importing the bundle: whether the X-Ray SDK and a tracer were evaluated. */
function importIn(fn: string, env: Record<string, string>): { sdk: boolean; tracer: boolean } {
  // The Lambda runtime's global the llm function's streaming handler is built with.
  const script = `globalThis.awslambda = { streamifyResponse: (h) => h, HttpResponseStream: { from: (s) => s } };
await import(${JSON.stringify(pathToFileURL(bundleOf(fn)).href)});
process.stdout.write(JSON.stringify({ sdk: process.namespaces !== undefined, tracer: Boolean(process.namespaces?.AWSXRay) }));`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
    env: { PATH: process.env.PATH ?? '', TOLLGATE_LOG_LEVEL: 'SILENT', AWS_REGION: 'us-east-1', TOLLGATE_TABLE_NAME: 't', ...env },
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(`importing ${fn} failed: ${r.stderr.slice(-1500)}`);
  return JSON.parse(r.stdout) as { sdk: boolean; tracer: boolean };
}

const LAMBDA = { AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs24.x', AWS_LAMBDA_FUNCTION_NAME: 'tollgate-test' };

describe('the X-Ray SDK is loaded only when tracing is on', () => {
  it.each(FUNCTIONS)('%s: not outside Lambda, not with POWERTOOLS_TRACE_ENABLED=false, and traced in Lambda', (fn) => {
    expect(importIn(fn, {})).toEqual({ sdk: false, tracer: false });
    expect(importIn(fn, { ...LAMBDA, POWERTOOLS_TRACE_ENABLED: 'false' })).toEqual({ sdk: false, tracer: false });
    expect(importIn(fn, LAMBDA)).toEqual({ sdk: true, tracer: true });
  });
});

const BUILTINS = new Set(builtinModules.flatMap((m) => (m.startsWith('node:') ? [m] : [m, `node:${m}`])));

describe('cold start', () => {
  it.each(FUNCTIONS)('%s: no Node builtin is imported through ESM (each comes from process.getBuiltinModule)', (fn) => {
    const text = readFileSync(bundleOf(fn), 'utf8');
    expect(text.startsWith(ESM_REQUIRE_BANNER)).toBe(true);
    const rest = text.slice(ESM_REQUIRE_BANNER.length);
    // Static imports (`import{a as b}from"node:http"`, `import*as x from"zlib"`, `import"node:fs"`) and dynamic ones.
    const specifiers = [...rest.matchAll(/(?:\bfrom|\bimport)\s*\(?\s*["']([^"']+)["']/g)].map((m) => m[1] as string);
    expect(specifiers.filter((s) => BUILTINS.has(s))).toEqual([]);
    expect(rest).toContain('process.getBuiltinModule("node:');
  });

  it("the llm function's bundle leaves the tokenizer's ranks out and finds them beside it, counting as the library does", () => {
    const text = readFileSync(bundleOf('llm'), 'utf8');
    expect(text).toContain('import("gpt-tokenizer/encoding/o200k_base")');
    expect(statSync(bundleOf('llm')).size).toBeLessThan(1_500_000);
    const side = join(dir, 'node_modules', 'gpt-tokenizer', 'index.mjs');
    expect(statSync(side).size).toBeGreaterThan(2_000_000);
    // A fresh node in another folder, importing by bare name as the bundle does: the copy beside the bundles answers.
    const sample = 'Tollgate counts what the upstream did not report: héllo, 世界, 12345.';
    const probe = join(dir, 'probe.mjs');
    const script = `import { countTokens } from 'gpt-tokenizer/encoding/o200k_base';
import { fileURLToPath } from 'node:url';
process.stdout.write(JSON.stringify({ n: countTokens(${JSON.stringify(sample)}), from: fileURLToPath(import.meta.resolve('gpt-tokenizer/encoding/o200k_base')) }));`;
    writeFileSync(probe, script);
    const r = spawnSync(process.execPath, [probe], { cwd: tmpdir(), env: { PATH: process.env.PATH ?? '' }, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(r.stderr.slice(-1500));
    expect(JSON.parse(r.stdout)).toEqual({ n: countTokens(sample), from: side });
  });

  it("the llm function's upstream dispatcher is undici's Agent alone, beside the bundle, and the global fetch takes it", () => {
    expect(readFileSync(bundleOf('llm'), 'utf8')).toContain('import("undici")');
    const side = join(dir, 'node_modules', 'undici', 'index.mjs');
    // The Agent without the rest of undici (its fetch, cache, mocks: 535 KB).
    expect(statSync(side).size).toBeLessThan(400_000);
    const probe = join(dir, 'probe-undici.mjs');
    writeFileSync(
      probe,
      `import { createServer } from 'node:http';
import { fileURLToPath } from 'node:url';
const { Agent } = await import('undici');
const server = createServer((_q, r) => setTimeout(() => r.end('late'), 300)).listen(0, '127.0.0.1');
await new Promise((ok) => server.once('listening', ok));
const res = await fetch('http://127.0.0.1:' + server.address().port + '/', { dispatcher: new Agent({ headersTimeout: 0, bodyTimeout: 0 }) });
const text = await res.text();
server.close();
process.stdout.write(JSON.stringify({ status: res.status, text, from: fileURLToPath(import.meta.resolve('undici')) }));`,
    );
    const r = spawnSync(process.execPath, [probe], { cwd: tmpdir(), env: { PATH: process.env.PATH ?? '' }, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(r.stderr.slice(-1500));
    expect(JSON.parse(r.stdout)).toEqual({ status: 200, text: 'late', from: side });
  });

  it.each(FUNCTIONS)('%s: the tracer and the X-Ray SDK are not in the bundle, only imported when tracing is on', (fn) => {
    const text = readFileSync(bundleOf(fn), 'utf8');
    expect(text).toContain('import("@aws-lambda-powertools/tracer")');
    expect(text).toContain('import("@aws-lambda-powertools/tracer/middleware")');
    // The X-Ray SDK's own names and its context library.
    for (const inSdk of ['AWSXRay', 'cls-hooked', 'AWS_XRAY_DAEMON_ADDRESS']) expect(text).not.toContain(inSdk);
  });

  it.each(FUNCTIONS)('%s: every import of a lazy package names a subpath its copy exports (else it fails only in Lambda)', (fn) => {
    const text = readFileSync(bundleOf(fn), 'utf8');
    for (const [pkg, subpaths] of Object.entries(LAZY_PACKAGES)) {
      const named = [...text.matchAll(/(?:\bfrom|\bimport)\s*\(?\s*"([^"]+)"/g)]
        .map((m) => m[1] as string)
        .filter((s) => s === pkg || s.startsWith(`${pkg}/`));
      for (const s of named) expect(subpaths.map((sub) => (sub ? `${pkg}/${sub}` : pkg))).toContain(s);
      // Only dynamic imports: a static one would load the package at every cold start.
      expect(text).not.toMatch(new RegExp(`from\\s*"${pkg.replace(/[/.]/g, '\\$&')}`));
    }
  });

  it('a missing bundle fails the lazy-package step instead of writing nothing', () => {
    const [command] = lazyModuleCommands(dir, join(dir, 'no-such-bundle.mjs'));
    const r = spawnSync('bash', ['-c', command as string], { encoding: 'utf8' });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain('no bundle at');
  });

  it('a lazy package is written only beside a bundle that imports it', async () => {
    const alone = mkdtempSync(join(tmpdir(), 'tollgate-lazy-'));
    try {
      await buildFunction('authorizer', join(alone, 'authorizer.mjs'));
      expect(readdirSync(join(alone, 'node_modules', '@aws-lambda-powertools'))).toEqual(['tracer']);
      expect(existsSync(join(alone, 'node_modules', 'gpt-tokenizer'))).toBe(false);
      expect(existsSync(join(alone, 'node_modules', 'undici'))).toBe(false);
    } finally {
      rmSync(alone, { recursive: true, force: true });
    }
  }, 60_000);
});

describe('as `cdk deploy` bundles it', () => {
  it('the llm function asset holds the bundle, the tokenizer, the tracer and undici’s Agent beside it, as buildFunction writes them', () => {
    const outdir = mkdtempSync(join(tmpdir(), 'tollgate-cdk-asset-'));
    try {
      const stack = new Stack(new App({ outdir }), 'Bundles');
      new TollgateFunction(stack, 'Llm', {
        name: 'llm',
        description: 'bundling test',
        environment: {},
        timeout: Duration.seconds(30),
        memorySize: 1024,
        logRetention: RetentionDays.ONE_DAY,
        sourceMaps: false,
        tracing: false,
      });
      const assetDir = readdirSync(outdir)
        .map((d) => join(outdir, d))
        .find((d) => existsSync(join(d, 'index.mjs')));
      expect(assetDir).toBeDefined();
      const asset = assetDir as string;
      expect(readFileSync(join(asset, 'index.mjs'), 'utf8')).toBe(readFileSync(bundleOf('llm'), 'utf8'));
      for (const [pkg, exports] of [
        ['gpt-tokenizer', { './encoding/o200k_base': './index.mjs' }],
        ['@aws-lambda-powertools/tracer', { '.': './index.mjs', './middleware': './index.mjs' }],
        ['undici', { '.': './index.mjs' }],
      ] as const) {
        const side = join('node_modules', pkg, 'index.mjs');
        expect(readFileSync(join(asset, side), 'utf8')).toBe(readFileSync(join(dir, side), 'utf8'));
        expect(JSON.parse(readFileSync(join(asset, 'node_modules', pkg, 'package.json'), 'utf8'))).toEqual({
          name: pkg,
          type: 'module',
          exports,
        });
      }
    } finally {
      rmSync(outdir, { recursive: true, force: true });
    }
  }, 120_000);
});
