/**
 * With tracing off (local mode, tests, or a stack deployed with `tracing: false`, which sets
 * POWERTOOLS_TRACE_ENABLED=false) no function evaluates the tracer or the X-Ray SDK: each bundle,
 * built with the deployed options (infra/bundling.ts), is imported in a bare `node`. The X-Ray
 * SDK's context library (cls-hooked) leaves `process.namespaces` behind when it is evaluated,
 * and the tracer's namespace `AWSXRay` when a tracer is built.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { esbuildOptions, PROJECT_ROOT } from '../../infra/bundling.js';

const FUNCTIONS = readdirSync(join(PROJECT_ROOT, 'functions'), { withFileTypes: true })
  .filter((d) => d.isDirectory())
  .map((d) => d.name);
const dir = mkdtempSync(join(tmpdir(), 'tollgate-tracing-'));
const bundleOf = (fn: string) => join(dir, `${fn}.mjs`);

beforeAll(async () => {
  await Promise.all(FUNCTIONS.map((fn) => build({ ...esbuildOptions(fn), outfile: bundleOf(fn), logLevel: 'silent' })));
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
