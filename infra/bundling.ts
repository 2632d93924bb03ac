/**
 * How every function is bundled: esbuild, minified ESM for nodejs24.x on ARM64, the AWS SDK
 * bundled (smallest full bundle, fastest cold load). The CDK stack and the bundle-size
 * benchmark both use these options, so the benchmark measures what is deployed.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
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
let builtins: Record<string, string> | undefined;
export function builtinAliases(): Record<string, string> {
  // Once per process: a synth builds every function with these, and each would read 50-odd files again.
  if (builtins) return builtins;
  mkdirSync(BUILTINS_DIR, { recursive: true });
  const alias: Record<string, string> = {};
  // `_http_agent` and kin are deprecated internals; `node:`-only names (node:test) are not aliased.
  for (const name of builtinModules.filter((m) => !m.startsWith('_') && !m.startsWith('node:'))) {
    const file = join(BUILTINS_DIR, `${name.replaceAll('/', '-')}.cjs`);
    const text = `module.exports = process.getBuiltinModule(${JSON.stringify(`node:${name}`)});\n`;
    // Written aside and renamed: builds in other processes may be reading it (never a half file).
    if (!existsSync(file) || readFileSync(file, 'utf8') !== text) {
      writeFileSync(`${file}.${process.pid}`, text);
      renameSync(`${file}.${process.pid}`, file);
    }
    alias[name] = file;
    alias[`node:${name}`] = file;
  }
  builtins = alias;
  return alias;
}

/**
 * Packages a function loads only on some paths, kept out of its bundle and written beside it: the
 * bundle's whole text is parsed at every cold start, used or not.
 * - gpt-tokenizer's o200k_base ranks: 2.7 MB of JavaScript, for the few answers whose upstream
 *   reports no usage; they cost the llm function about 210 ms of each cold start.
 * - the tracer, with the X-Ray SDK (about 110 KB with cls-hooked and semver): loaded only when
 *   tracing is on (lib/telemetry), parsed by every function otherwise (about 7 ms of the authorizer's).
 * - undici's Agent, the upstream calls' dispatcher (lib/app/wiring): loaded on the first upstream
 *   call (LAZY_ENTRIES: the Agent alone, 286 KB and about 20 ms, not the whole package).
 * Each package is external to the bundle (its subpaths too) and bundled alone into one file,
 * `node_modules/<package>/index.mjs` beside the handler, with a package.json whose exports send every
 * subpath the code imports there (one module instance), where Node finds it on `import()`.
 */
export const LAZY_PACKAGES: Readonly<Record<string, readonly string[]>> = {
  'gpt-tokenizer': ['encoding/o200k_base'],
  '@aws-lambda-powertools/tracer': ['', 'middleware'],
  undici: [''],
};

/**
 * What a lazy package's bundle exports, where not everything its subpaths do: undici is CommonJS
 * (whose names `export *` cannot list, so it would export nothing), and only its Agent is used.
 */
export const LAZY_ENTRIES: Readonly<Record<string, string>> = {
  undici: "export { default as Agent } from 'undici/lib/dispatcher/agent.js';",
};

const ESBUILD_BIN = join(PROJECT_ROOT, 'node_modules', '.bin', 'esbuild');
const sh = (s: string): string => `'${s.replaceAll("'", "'\\''")}'`;
const specifier = (pkg: string, subpath: string) => (subpath ? `${pkg}/${subpath}` : pkg);

/**
 * The shell commands that write the lazy packages a bundle imports next to it (CDK's afterBundling
 * hook runs them as deployed; buildFunction runs the same for tests and benchmarks). A package the
 * bundle does not `import()` is not written. Built with the bundle's own banner and builtin aliases.
 */
export function lazyModuleCommands(outputDir: string, bundleFile: string): string[] {
  const flags = [
    '--bundle',
    '--platform=node',
    '--format=esm',
    '--target=node24',
    '--minify',
    '--legal-comments=none',
    '--main-fields=module,main',
    '--log-level=warning',
    `--banner:js=${ESM_REQUIRE_BANNER}`,
    ...Object.entries(builtinAliases()).map(([from, to]) => `--alias:${from}=${to}`),
  ];
  return Object.entries(LAZY_PACKAGES).map(([pkg, subpaths]) => {
    const dir = join(outputDir, 'node_modules', pkg);
    const entry = LAZY_ENTRIES[pkg] ?? subpaths.map((sub) => `export * from '${specifier(pkg, sub)}';`).join('\n');
    const exports = Object.fromEntries(subpaths.map((sub) => [sub ? `./${sub}` : '.', './index.mjs']));
    const manifest = JSON.stringify({ name: pkg, type: 'module', exports });
    const used = subpaths.map((sub) => `-e ${sh(`import("${specifier(pkg, sub)}")`)}`).join(' ');
    const bundle = `printf '%s' ${sh(entry)} | ${sh(ESBUILD_BIN)} ${flags.map(sh).join(' ')} --outfile=${sh(join(dir, 'index.mjs'))}`;
    // A missing bundle is an error, not "imports nothing" (grep would say so by its status, 2).
    return `test -f ${sh(bundleFile)} || { echo ${sh(`no bundle at ${bundleFile}`)} >&2; exit 1; }; if grep -qF ${used} ${sh(bundleFile)}; then (mkdir -p ${sh(dir)} && cd ${sh(PROJECT_ROOT)} && ${bundle} && printf '%s' ${sh(manifest)} > ${sh(join(dir, 'package.json'))}); fi`;
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
  external: Object.keys(LAZY_PACKAGES),
  alias: {
    ...builtinAliases(),
    '@aws-sdk/credential-provider-node': join(PROJECT_ROOT, 'lib', 'aws', 'lambda-credentials.ts'),
  },
  legalComments: 'none' as const,
});
