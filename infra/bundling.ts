/**
 * How every function is bundled: esbuild, minified ESM for nodejs24.x on ARM64, the AWS SDK
 * bundled (smallest full bundle, fastest cold load). The CDK stack and the bundle-size
 * benchmark both use these options, so the benchmark measures what is deployed.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

export const PROJECT_ROOT = fileURLToPath(new URL('..', import.meta.url));

/** Without this banner the tracer's X-Ray SDK fails at load: "Dynamic require of "util" is not supported". */
export const ESM_REQUIRE_BANNER =
  "import { createRequire as __tollgateCreateRequire } from 'node:module'; const require = __tollgateCreateRequire(import.meta.url);";

export const functionEntry = (fn: string): string => join(PROJECT_ROOT, 'functions', fn, 'handler.ts');

/** Where the CommonJS stand-ins for Node's builtins are written (generated, never committed). */
export const BUILTINS_DIR = join(PROJECT_ROOT, 'node_modules', '.cache', 'tollgate-builtins');

/**
 * Node's builtins, loaded as CommonJS. An ESM `import { Agent } from 'node:http'` makes Node build
 * the module's ESM facade, which reads every export once; reading node:http's lazy exports
 * (WebSocket and its kin) loads undici, about 30 ms of every cold start for a module nobody asked
 * for. Each builtin is aliased to a one-line CommonJS module that takes it from
 * `process.getBuiltinModule`, so an export is read only when the code uses it. The stand-ins
 * are written here, once per build machine.
 */
export function builtinAliases(): Record<string, string> {
  mkdirSync(BUILTINS_DIR, { recursive: true });
  const alias: Record<string, string> = {};
  // `_http_agent` and kin are deprecated internals; `node:`-only names (node:test) are not aliased.
  for (const name of builtinModules.filter((m) => !m.startsWith('_') && !m.startsWith('node:'))) {
    const file = join(BUILTINS_DIR, `${name.replaceAll('/', '-')}.cjs`);
    const text = `module.exports = process.getBuiltinModule(${JSON.stringify(`node:${name}`)});\n`;
    if (!existsSync(file) || readFileSync(file, 'utf8') !== text) writeFileSync(file, text);
    alias[name] = file;
    alias[`node:${name}`] = file;
  }
  return alias;
}

/**
 * Modules a function loads only on a rare path, kept out of its bundle and written beside it: the
 * bundle's whole text is parsed at every cold start, and gpt-tokenizer's o200k_base ranks (2.7 MB of
 * JavaScript, for the few answers whose upstream reports no usage) cost the llm function about
 * 210 ms of each. Each is external to the bundle and bundled alone into a package of its own
 * (node_modules/<name> next to the handler), where Node finds it when the code `import()`s it.
 */
export const LAZY_MODULES = ['gpt-tokenizer/encoding/o200k_base'] as const;

const ESBUILD_BIN = join(PROJECT_ROOT, 'node_modules', '.bin', 'esbuild');
const sh = (s: string): string => `'${s.replaceAll("'", "'\\''")}'`;

/**
 * The shell commands that write the lazy modules a bundle imports next to it (CDK's afterBundling
 * hook runs them as deployed; buildFunction runs the same for tests and benchmarks). A module the
 * bundle does not name is not written.
 */
export function lazyModuleCommands(outputDir: string, bundleFile: string): string[] {
  return LAZY_MODULES.map((spec) => {
    const [scopeOrName = '', ...rest] = spec.split('/');
    const pkg = scopeOrName.startsWith('@') ? `${scopeOrName}/${rest.shift()}` : scopeOrName;
    const subpath = rest.join('/');
    const dir = join(outputDir, 'node_modules', pkg);
    const file = join(dir, `${subpath}.mjs`);
    const manifest = JSON.stringify({ name: pkg, type: 'module', exports: { [`./${subpath}`]: `./${subpath}.mjs` } });
    const bundle = [
      `printf '%s' ${sh(`export * from '${spec}';`)}`,
      `${sh(ESBUILD_BIN)} --bundle --platform=node --format=esm --target=node24 --minify --legal-comments=none --log-level=warning --outfile=${sh(file)}`,
    ].join(' | ');
    return `if grep -qF ${sh(`"${spec}"`)} ${sh(bundleFile)}; then (mkdir -p ${sh(dirname(file))} && cd ${sh(PROJECT_ROOT)} && ${bundle} && printf '%s' ${sh(manifest)} > ${sh(join(dir, 'package.json'))}); fi`;
  });
}

/** A function built as deployed: its bundle at `file` and the lazy modules it imports beside it. */
export async function buildFunction(fn: string, file: string): Promise<void> {
  await build({ ...esbuildOptions(fn), outfile: file, logLevel: 'silent' });
  for (const command of lazyModuleCommands(dirname(file), file)) execFileSync('bash', ['-c', command], { stdio: 'pipe' });
}

/** Options for esbuild's build() that match the CDK NodejsFunction bundling below. */
export const esbuildOptions = (fn: string) => ({
  entryPoints: [functionEntry(fn)],
  bundle: true,
  platform: 'node' as const,
  target: 'node24',
  format: 'esm' as const,
  minify: true,
  mainFields: ['module', 'main'],
  banner: { js: ESM_REQUIRE_BANNER },
  external: [...LAZY_MODULES] as string[],
  alias: {
    ...builtinAliases(),
    '@aws-sdk/credential-provider-node': join(PROJECT_ROOT, 'lib', 'aws', 'lambda-credentials.ts'),
  },
  legalComments: 'none' as const,
});
