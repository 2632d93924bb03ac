/**
 * A model's `service_tier` prices (`input_cost_per_million_priority` and kin, LiteLLM's
 * `input_cost_per_token_priority` per 1M) on `/model/new`, `/model/update` and `/model/info`:
 * validated like every price, a tier priced by its input and output together.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { handler as models } from '../../../functions/models/handler.js';
import { callApi } from '../../support/admin.js';
import { expectRefused, scanTable } from '../../support/refusals.js';
import { useTestTable } from '../../support/table.js';

const item = async (name: string) => (await scanTable()).find((i) => i.PK === `MODEL#${name}`);
const TIERS = {
  input_cost_per_million_priority: 2.5,
  output_cost_per_million_priority: 20,
  cache_read_cost_per_million_priority: 0.25,
  input_cost_per_million_flex: 0.625,
  output_cost_per_million_flex: 5,
  cache_read_cost_per_million_flex: 0.0625,
};

beforeAll(async () => {
  await useTestTable();
});

describe('service tier prices', () => {
  it('set on /model/new, shown by /model/info, stored as given', async () => {
    const res = await callApi(models, 'POST', '/model/new', {
      model_name: 'gpt-tiers',
      litellm_params: { model: 'gpt-5' },
      model_info: { input_cost_per_million: 1.25, output_cost_per_million: 10, ...TIERS },
    });
    expect(res.status).toBe(200);
    expect(res.body.model_info).toMatchObject(TIERS);
    expect(await item('gpt-tiers')).toMatchObject(TIERS);
    const plain = await callApi(models, 'POST', '/model/new', {
      model_name: 'gpt-no-tiers',
      litellm_params: { model: 'gpt-5' },
      model_info: { input_cost_per_million: 1.25, output_cost_per_million: 10 },
    });
    expect(plain.body.model_info).toMatchObject({ input_cost_per_million_priority: null, output_cost_per_million_flex: null });
  });

  it('/model/update adds a tier to a model without one; changing the upstream model drops them', async () => {
    const res = await callApi(models, 'POST', '/model/update', {
      model_name: 'gpt-no-tiers',
      model_info: { input_cost_per_million_priority: 2.5, output_cost_per_million_priority: 20 },
    });
    expect(res.status).toBe(200);
    expect(await item('gpt-no-tiers')).toMatchObject({ input_cost_per_million_priority: 2.5, output_cost_per_million_priority: 20 });
    const moved = await callApi(models, 'POST', '/model/update', {
      model_name: 'gpt-no-tiers',
      litellm_params: { model: 'gpt-4o' },
    });
    expect(moved.status).toBe(200);
    expect((await item('gpt-no-tiers'))?.input_cost_per_million_priority).toBeUndefined();
  });

  const prices = { input_cost_per_million: 1, output_cost_per_million: 2 };
  const refusals: [string, Record<string, unknown>, string, string][] = [
    ...Object.keys(TIERS).flatMap((f): [string, Record<string, unknown>, string, string][] => [
      [`${f} negative`, { ...TIERS, [f]: -1 }, 'invalid_field', `model_info.${f}`],
      [`${f} not a number`, { ...TIERS, [f]: '2' }, 'invalid_type', `model_info.${f}`],
    ]),
    [
      'priority input without output',
      { input_cost_per_million_priority: 2 },
      'missing_field',
      'model_info.output_cost_per_million_priority',
    ],
    ['flex output without input', { output_cost_per_million_flex: 2 }, 'missing_field', 'model_info.input_cost_per_million_flex'],
    [
      'a priority cache read alone',
      { cache_read_cost_per_million_priority: 0.1 },
      'missing_field',
      'model_info.input_cost_per_million_priority',
    ],
  ];
  it.each(refusals)('/model/new: %s is a 400 naming the field, nothing written', async (_what, info, code, param) => {
    await expectRefused(models, {
      route: 'POST /model/new',
      action: 'new',
      input: { model_name: 'refused-tier', litellm_params: { model: 'gpt-5' }, model_info: { ...prices, ...info } },
      status: 400,
      code,
      param,
    });
    expect(await item('refused-tier')).toBeUndefined();
  });

  it('/model/update giving half a tier to a model with none: a 400 naming the missing price, nothing changed', async () => {
    await callApi(models, 'POST', '/model/new', { model_name: 'gpt-half', litellm_params: { model: 'gpt-5' }, model_info: prices });
    const before = await item('gpt-half');
    const res = await callApi(models, 'POST', '/model/update', {
      model_name: 'gpt-half',
      model_info: { input_cost_per_million_flex: 0.5 },
    });
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ code: 'missing_field', param: 'model_info.output_cost_per_million_flex' });
    expect(await item('gpt-half')).toEqual(before);
  });
});
