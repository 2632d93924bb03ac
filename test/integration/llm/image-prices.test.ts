/**
 * Image tokens at their own prices (found by review: a gpt-image-1 edit's input images were
 * charged at the text price, half of theirs; gpt-image-1.5's images at its text output price,
 * under a third). A model registered from the price library carries its image prices, one given
 * LiteLLM's per-token image prices keeps them, an older record takes the library's with any
 * update, and a call is charged its image tokens at those prices: the ones its usage names, and on
 * the images routes an output the usage does not split (the images made).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { handler as models } from '../../../functions/models/handler.js';
import { MOCK_UPSTREAM_SECRET } from '../../../infra/local/mock-models.js';
import { costNanos } from '../../../lib/domain/cost.js';
import type { ModelRecord } from '../../../lib/domain/records.js';
import { refs } from '../../../lib/store/keys.js';
import { callApi } from '../../support/admin.js';
import { bearer } from '../../support/authorizer.js';
import { seedKey, seedTeam } from '../../support/seed.js';
import { spendNanos } from '../../support/spend.js';
import { call, passthroughTable, seedModels, standInUpstream } from './harness.js';

/** An edit: 50 tokens of prompt and 1,000 of input image; one image made (4,160 tokens), its usage not split by kind. */
const EDIT_USAGE = {
  input_tokens: 1050,
  input_tokens_details: { text_tokens: 50, image_tokens: 1000 },
  output_tokens: 4160,
  total_tokens: 5210,
};
/** The same edit sent again: 800 of its image tokens and 40 of its text read from the cache. */
const CACHED_EDIT_USAGE = {
  ...EDIT_USAGE,
  input_tokens_details: {
    text_tokens: 50,
    image_tokens: 1000,
    cached_tokens: 840,
    cached_tokens_details: { text_tokens: 40, image_tokens: 800 },
  },
};
let base = '';

beforeAll(async () => {
  const upstream = await standInUpstream((req, raw, res) => {
    if (req.url !== '/v1/images/generations' && req.url !== '/v1/images/edits') return void res.writeHead(404).end();
    res.writeHead(200, { 'content-type': 'application/json' });
    const usage = JSON.parse(raw || '{}').prompt === 'cached' ? CACHED_EDIT_USAGE : EDIT_USAGE;
    res.end(JSON.stringify({ created: 1, data: [{ b64_json: 'aW1n' }], usage }));
  });
  base = `${upstream.base}/v1`;
  await passthroughTable(upstream.base);
  await seedTeam({ team_id: 'team-images' });
  return () => upstream.close();
});

const infoOf = async (name: string) => (await callApi(models, 'GET', '/model/info', { model_name: name })).body.data[0].model_info;

describe('image prices', () => {
  it('/model/new from the price library: gpt-image-1 gets $10 per 1M input image tokens, gpt-image-1.5 $32 per 1M made; /model/info shows both forms', async () => {
    for (const name of ['gpt-image-1', 'gpt-image-1.5']) {
      const made = await callApi(models, 'POST', '/model/new', {
        model_name: name,
        litellm_params: { model: name, api_base: base, api_key_secret: MOCK_UPSTREAM_SECRET },
      });
      expect(made.status).toBe(200);
    }
    expect(await infoOf('gpt-image-1')).toMatchObject({
      input_cost_per_million: 5,
      input_image_cost_per_million: 10,
      input_cost_per_image_token: 0.00001,
      cache_read_image_cost_per_million: 2.5,
      cache_read_input_image_token_cost: 0.0000025,
      output_image_cost_per_million: null,
      output_cost_per_image_token: null,
    });
    expect(await infoOf('gpt-image-1.5')).toMatchObject({
      output_cost_per_million: 10,
      input_image_cost_per_million: 8,
      output_image_cost_per_million: 32,
      output_cost_per_image_token: 0.000032,
    });
  });

  it('LiteLLM’s per-token image prices are taken; both forms of one price are a 400', async () => {
    const given = await callApi(models, 'POST', '/model/new', {
      model_name: 'my-image',
      litellm_params: { model: 'my-image', api_base: base, api_key_secret: MOCK_UPSTREAM_SECRET },
      model_info: {
        input_cost_per_million: 1,
        output_cost_per_million: 2,
        input_cost_per_image_token: 0.00001,
        output_cost_per_image_token: 0.00004,
        cache_read_input_image_token_cost: 0.000003,
      },
    });
    expect(given.status).toBe(200);
    expect(given.body.model_info).toMatchObject({
      input_image_cost_per_million: 10,
      output_image_cost_per_million: 40,
      cache_read_image_cost_per_million: 3,
    });
    const bothCached = await callApi(models, 'POST', '/model/new', {
      model_name: 'both-image-cached',
      litellm_params: { model: 'x', api_base: base },
      model_info: {
        input_cost_per_million: 1,
        output_cost_per_million: 2,
        cache_read_input_image_token_cost: 0.000003,
        cache_read_image_cost_per_million: 3,
      },
    });
    expect([bothCached.status, bothCached.body.error.param]).toEqual([400, 'model_info.cache_read_input_image_token_cost']);
    for (const side of ['input', 'output'] as const) {
      const both = await callApi(models, 'POST', '/model/new', {
        model_name: `both-image-${side}`,
        litellm_params: { model: 'x', api_base: base },
        model_info: {
          input_cost_per_million: 1,
          output_cost_per_million: 2,
          [`${side}_cost_per_image_token`]: 0.00001,
          [`${side}_image_cost_per_million`]: 10,
        },
      });
      expect([both.status, both.body.error.param]).toEqual([400, `model_info.${side}_cost_per_image_token`]);
    }
    const negative = await callApi(models, 'POST', '/model/update', {
      model_name: 'my-image',
      model_info: { output_image_cost_per_million: -1 },
    });
    expect([negative.status, negative.body.error.param]).toEqual([400, 'model_info.output_image_cost_per_million']);
    expect(await infoOf('my-image')).toMatchObject({ output_image_cost_per_million: 40 });
  });

  it('an image model recorded before image prices were kept takes the library’s with any update, while its prices are the library’s', async () => {
    const older = (name: string, source: string): ModelRecord => ({
      model_name: name,
      upstream_model: 'gpt-image-1',
      upstream_base_url: base,
      api_key_secret: MOCK_UPSTREAM_SECRET,
      input_cost_per_million: 5,
      output_cost_per_million: 40,
      price_source: source,
      created_at: '2025-06-01T00:00:00.000Z',
    });
    // An admin's own prices (a markup): the library's lower image price never joins them (review).
    await seedModels([
      older('old-image', '@pydantic/genai-prices@0.0.30'),
      { ...older('marked-up', 'registry'), input_cost_per_million: 12 },
    ]);
    expect(await infoOf('old-image')).toMatchObject({ input_image_cost_per_million: null });
    for (const name of ['old-image', 'marked-up'])
      expect((await callApi(models, 'POST', '/model/update', { model_name: name, litellm_params: { rpm: 100 } })).status).toBe(200);
    expect(await infoOf('old-image')).toMatchObject({ input_image_cost_per_million: 10, input_cost_per_million: 5 });
    expect(await infoOf('marked-up')).toMatchObject({ input_image_cost_per_million: null, input_cost_per_million: 12 });
    // Nor does an update that gives the prices (they become the admin's).
    await seedModels([older('repriced', '@pydantic/genai-prices@0.0.30')]);
    const repriced = await callApi(models, 'POST', '/model/update', { model_name: 'repriced', model_info: { input_cost_per_million: 12 } });
    expect(repriced.status).toBe(200);
    expect(await infoOf('repriced')).toMatchObject({ input_image_cost_per_million: null, price_source: 'registry' });
  });

  it.each([
    ['/v1/images/edits', 'gpt-image-1'],
    ['/v1/images/generations', 'gpt-image-1.5'],
  ])('%s on %s: its input images at the image input price, the images it made at the image output price', async (path, model) => {
    const { key, record } = await seedKey({ team_id: 'team-images' });
    const res = await call({
      path,
      headers: bearer(key),
      body: { model, prompt: 'a cat in a hat', image: [{ image_url: 'https://img.example/cat.png' }] },
    });
    expect(res.status).toBe(200);
    const prices =
      model === 'gpt-image-1'
        ? { input_cost_per_million: 5, output_cost_per_million: 40, input_image_cost_per_million: 10 }
        : { input_cost_per_million: 5, output_cost_per_million: 10, input_image_cost_per_million: 8, output_image_cost_per_million: 32 };
    const expected = costNanos({ inputTokens: 1050, outputTokens: 4160, imageInputTokens: 1000, imageOutputTokens: 4160 }, prices);
    expect(expected).toBe(
      model === 'gpt-image-1' ? 50 * 5 * 1000 + 1000 * 10 * 1000 + 4160 * 40 * 1000 : 50 * 5 * 1000 + 1000 * 8 * 1000 + 4160 * 32 * 1000,
    );
    expect(await spendNanos(refs.key(record.token))).toBe(expected);
  });
});

it('an edit sent again: the images read from the cache at the cached image price ($2.50 per 1M on gpt-image-1), not the text cache price', async () => {
  const { key, record } = await seedKey({ team_id: 'team-images' });
  const res = await call({
    path: '/v1/images/edits',
    headers: bearer(key),
    body: { model: 'gpt-image-1', prompt: 'cached', image: [{ image_url: 'https://img.example/cat.png' }] },
  });
  expect(res.status).toBe(200);
  // Uncached: 10 text at $5, 200 images at $10; cached: 40 text at $1.25, 800 images at $2.50; 4,160 images made at $40.
  expect(await spendNanos(refs.key(record.token))).toBe(
    10 * 5 * 1000 + 200 * 10 * 1000 + 40 * 1.25 * 1000 + 800 * 2.5 * 1000 + 4160 * 40 * 1000,
  );
});
