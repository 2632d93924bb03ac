import { describe, expect, it } from 'vitest';
import { costNanos } from '../../../lib/domain/cost.js';
import type { ModelRecord } from '../../../lib/domain/records.js';
import { imageToolPrices } from '../../../lib/llm/tool-models.js';
import { buildSnapshot } from '../../../lib/registry/registry.js';

const model = (name: string, prices: Partial<ModelRecord>): ModelRecord => ({
  model_name: name,
  upstream_model: name,
  upstream_base_url: 'https://api.openai.com/v1',
  input_cost_per_million: 0,
  output_cost_per_million: 0,
  created_at: '2025-01-01T00:00:00.000Z',
  ...prices,
});

// As the price library has them: gpt-image-1 (images out at its output price), gpt-image-1.5.
const one = model('gpt-image-1', { input_cost_per_million: 5, output_cost_per_million: 40, input_image_cost_per_million: 10 });
const onePointFive = model('gpt-image-1.5', {
  input_cost_per_million: 5,
  output_cost_per_million: 10,
  input_image_cost_per_million: 8,
  output_image_cost_per_million: 32,
  cache_read_cost_per_million: 1.25,
});
const registry = buildSnapshot([one, onePointFive]);

describe("the image generation tool's prices", () => {
  it('are its one image model’s record; none the registry has: undefined', () => {
    expect(imageToolPrices(['gpt-image-1.5'], registry)).toMatchObject(onePointFive);
    expect(imageToolPrices(['gone'], registry)).toBeUndefined();
  });

  it('with several image models (reported together), each price is the dearest, an image price without its own the text price', () => {
    expect(imageToolPrices(['gpt-image-1', 'gpt-image-1.5'], registry)).toEqual({
      input_cost_per_million: 5,
      output_cost_per_million: 40,
      cache_read_cost_per_million: 5,
      input_image_cost_per_million: 10,
      output_image_cost_per_million: 40,
    });
  });

  it('with several, images are never charged below either model’s image prices (found by review: they were charged the text prices)', () => {
    const prices = imageToolPrices(['gpt-image-1', 'gpt-image-1.5'], registry);
    const used = { inputTokens: 1000, outputTokens: 4000, imageInputTokens: 1000, imageOutputTokens: 4000 };
    const charged = costNanos(
      { inputTokens: 0, outputTokens: 0, imageGen: used },
      { input_cost_per_million: 0, output_cost_per_million: 0 },
      { imageGen: prices },
    );
    for (const m of [one, onePointFive]) expect(charged).toBeGreaterThanOrEqual(costNanos(used, m));
  });
});
