/**
 * The price library (@pydantic/genai-prices, about 466 KB minified) stays out of the llm
 * function's bundle: prices are resolved where models are written (the models function), and the
 * record carries them. Built with the deployed bundling options (infra/bundling.ts).
 */
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';
import { esbuildOptions } from '../../infra/bundling.js';

const inputsOf = async (fn: string): Promise<string[]> => {
  const out = await build({ ...esbuildOptions(fn), write: false, metafile: true, outfile: `/tmp/${fn}.mjs`, logLevel: 'silent' });
  return Object.keys(out.metafile.inputs);
};

describe('the price library is bundled only where models are written', () => {
  it('not in the llm function', async () => {
    const inputs = await inputsOf('llm');
    expect(inputs.some((i) => i.includes('lib/llm/providers.ts'))).toBe(true);
    expect(inputs.filter((i) => i.includes('genai-prices') || i.endsWith('lib/providers/prices.ts'))).toEqual([]);
  }, 60_000);

  it('in the models function', async () => {
    expect((await inputsOf('models')).some((i) => i.includes('genai-prices'))).toBe(true);
  }, 60_000);
});
