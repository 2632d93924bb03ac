/**
 * How every function is bundled: esbuild, minified ESM for nodejs24.x on ARM64, the AWS SDK
 * bundled (smallest full bundle, fastest cold load). The CDK stack and the bundle-size
 * benchmark both use these options, so the benchmark measures what is deployed.
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const PROJECT_ROOT = fileURLToPath(new URL('..', import.meta.url));

/** Without this banner the tracer's X-Ray SDK fails at load: "Dynamic require of "util" is not supported". */
export const ESM_REQUIRE_BANNER =
  "import { createRequire as __tollgateCreateRequire } from 'node:module'; const require = __tollgateCreateRequire(import.meta.url);";

export const functionEntry = (fn: string): string => join(PROJECT_ROOT, 'functions', fn, 'handler.ts');

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
  external: [] as string[],
  alias: { '@aws-sdk/credential-provider-node': join(PROJECT_ROOT, 'lib', 'aws', 'lambda-credentials.ts') },
  legalComments: 'none' as const,
});
