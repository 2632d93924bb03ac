/**
 * What the provider layer adds to the llm function's bundle, built as deployed (infra/bundling.ts:
 * esbuild, minified ESM, the AWS SDK bundled): the llm handler alone, then with the provider
 * registry and the Bedrock client factory the wiring will import, with the Bedrock runtime SDK
 * bundled or left to the Lambda runtime's own copy, then with the price library. Each module's
 * share comes from esbuild's metafile (bytes in the minified output).
 */

import { gzipSync } from 'node:zlib';
import { build, type Metafile } from 'esbuild';
import { esbuildOptions, functionEntry, PROJECT_ROOT } from '../infra/bundling.js';
import type { BenchSection } from './run.js';

const BEDROCK_SDK = '@aws-sdk/client-bedrock-runtime';

interface Built {
  bytes: number;
  gzip: number;
  metafile: Metafile;
}

async function bundle(lines: string[], external: string[] = []): Promise<Built> {
  const base = esbuildOptions('llm');
  const out = await build({
    ...base,
    entryPoints: undefined,
    stdin: { contents: lines.join('\n'), resolveDir: PROJECT_ROOT, sourcefile: 'entry.ts', loader: 'ts' },
    external: [...base.external, ...external],
    write: false,
    metafile: true,
    outfile: 'llm.mjs',
    logLevel: 'silent',
  });
  const file = out.outputFiles[0] as { contents: Uint8Array };
  return { bytes: file.contents.length, gzip: gzipSync(file.contents).length, metafile: out.metafile };
}

const kb = (n: number) => `${(n / 1024).toFixed(1)} KB`;

/** Minified bytes per group of input files. */
function shares(meta: Metafile, groups: [string, RegExp][]): Map<string, number> {
  const out = new Map<string, number>(groups.map(([name]) => [name, 0]));
  for (const output of Object.values(meta.outputs)) {
    for (const [path, { bytesInOutput }] of Object.entries(output.inputs)) {
      const group = groups.find(([, re]) => re.test(path));
      if (group) out.set(group[0], (out.get(group[0]) ?? 0) + bytesInOutput);
    }
  }
  return out;
}

export default async function providersBundle(): Promise<BenchSection> {
  const handler = `export * from ${JSON.stringify(functionEntry('llm'))};`;
  const registry = [
    handler,
    `export { providerFor, operationOf } from './lib/providers/index.js';`,
    `export { bedrockRuntime } from './lib/providers/bedrock/client.js';`,
  ];
  const today = await bundle([handler]);
  const withSdk = await bundle(registry);
  const sdkExternal = await bundle(registry, [BEDROCK_SDK]);
  const withPrices = await bundle([...registry, `export { priceOf } from './lib/providers/prices.js';`], [BEDROCK_SDK]);

  const groups: [string, RegExp][] = [
    ['lib/providers/bedrock (chat, stream, responses, messages, embeddings, errors, client)', /lib\/providers\/bedrock\//],
    ['lib/providers/anthropic.ts', /lib\/providers\/anthropic\.ts$/],
    ['lib/providers/azure.ts', /lib\/providers\/azure\.ts$/],
    ['lib/providers/openai.ts', /lib\/providers\/openai\.ts$/],
    ['lib/providers shared (index, http, usage, errors, deadline)', /lib\/providers\/(index|http|usage|errors|deadline|types)\.ts$/],
    [`${BEDROCK_SDK} itself`, /@aws-sdk\/client-bedrock-runtime\//],
  ];
  const parts = shares(withSdk.metafile, groups);
  const prices = shares(withPrices.metafile, [['@pydantic/genai-prices', /@pydantic\/genai-prices\//]]);
  const delta = (b: Built) => `+${kb(b.bytes - today.bytes)} (gzip +${kb(b.gzip - today.gzip)})`;

  return {
    title: 'Provider layer: bundle impact on the llm function',
    method:
      'esbuild as deployed (minified ESM, AWS SDK bundled); module shares from the metafile. Dynamic imports are inlined (no code splitting): they cost bytes in the file, but nothing runs until a model of that provider is called.',
    rows: [
      { metric: 'llm today', value: `${kb(today.bytes)} (gzip ${kb(today.gzip)})` },
      { metric: `+ provider registry, Bedrock SDK bundled`, value: delta(withSdk) },
      { metric: `+ provider registry, ${BEDROCK_SDK} external (the Lambda runtime's copy)`, value: delta(sdkExternal) },
      { metric: '+ price library too (SDK external)', value: delta(withPrices) },
      ...[...parts].map(([metric, bytes]) => ({ metric: `  ${metric}`, value: kb(bytes) })),
      ...[...prices].map(([metric, bytes]) => ({ metric: `  ${metric}`, value: kb(bytes) })),
    ],
  };
}
