import { describe, expect, it } from 'vitest';
import type { ModelRecord } from '../../../lib/domain/records.js';
import { defaultSessionPrice } from '../../../lib/providers/tool-prices.js';
import { buildSnapshot } from '../../../lib/registry/registry.js';

describe("OpenAI's code interpreter price, where none was set", () => {
  it('is $0.03 a 1 GB container for a model served by OpenAI (its default base or api.openai.com) or Azure', () => {
    expect(defaultSessionPrice({})).toBe(0.03);
    expect(defaultSessionPrice({ provider: 'openai', upstream_base_url: 'https://api.openai.com/v1' })).toBe(0.03);
    expect(defaultSessionPrice({ provider: 'azure', upstream_base_url: 'https://acme.openai.azure.com' })).toBe(0.03);
  });

  it('is none for another OpenAI-compatible upstream (its container bill is its own), Bedrock or Anthropic', () => {
    expect(defaultSessionPrice({ provider: 'openai', upstream_base_url: 'http://vllm.internal:8000/v1' })).toBeUndefined();
    expect(defaultSessionPrice({ upstream_base_url: 'not a url' })).toBeUndefined();
    expect(defaultSessionPrice({ provider: 'bedrock' })).toBeUndefined();
    expect(defaultSessionPrice({ provider: 'anthropic', upstream_base_url: 'https://api.anthropic.com' })).toBeUndefined();
  });

  it('the registry charges a record made before it was kept at it (review: strict callers were refused the tool until an update)', () => {
    const record = (name: string, extra: Partial<ModelRecord>): ModelRecord => ({
      model_name: name,
      upstream_model: 'gpt-4.1',
      upstream_base_url: 'https://api.openai.com/v1',
      input_cost_per_million: 2,
      output_cost_per_million: 8,
      created_at: '2025-01-01T00:00:00.000Z',
      ...extra,
    });
    const snap = buildSnapshot([
      record('old', {}),
      record('set', { code_interpreter_cost_per_session: 0.05 }),
      record('self-hosted', { upstream_base_url: 'http://vllm.internal:8000/v1' }),
    ]);
    expect(snap.resolve('old')?.code_interpreter_cost_per_session).toBe(0.03);
    expect(snap.resolve('set')?.code_interpreter_cost_per_session).toBe(0.05);
    expect(snap.resolve('self-hosted')?.code_interpreter_cost_per_session).toBeUndefined();
  });
});
