/**
 * A model's per-search price (`search_context_cost_per_query`, LiteLLM's name) on `/model/new`,
 * `/model/update` and `/model/info`: from the price library unless given, validated like the
 * other prices, filled into a record made before it was kept.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { handler as models } from '../../../functions/models/handler.js';
import { encode } from '../../../lib/store/codec.js';
import { callApi } from '../../support/admin.js';
import { expectRefused, scanTable } from '../../support/refusals.js';
import { put } from '../../support/seed.js';
import { useTestTable } from '../../support/table.js';

const item = async (name: string) => (await scanTable()).find((i) => i.PK === `MODEL#${name}`);
const ANTHROPIC = { model: 'anthropic/claude-sonnet-4-20250514', api_key_secret: 'tollgate/anthropic' };

beforeAll(async () => {
  await useTestTable();
});

describe('the per-search price', () => {
  it("a Claude model takes the library's: $10 per 1,000 searches, shown in LiteLLM's shape", async () => {
    const res = await callApi(models, 'POST', '/model/new', { model_name: 'claude-web', litellm_params: ANTHROPIC });
    expect(res.status).toBe(200);
    expect(res.body.model_info.search_context_cost_per_query).toEqual({
      search_context_size_low: 0.01,
      search_context_size_medium: 0.01,
      search_context_size_high: 0.01,
    });
    expect((await item('claude-web'))?.search_context_cost_per_query).toBe(0.01);
  });

  it("given as a number or LiteLLM's object (the dearest size), it overrides the library's; /model/update changes it", async () => {
    const res = await callApi(models, 'POST', '/model/new', {
      model_name: 'claude-web-given',
      litellm_params: ANTHROPIC,
      model_info: { search_context_cost_per_query: { search_context_size_low: 0.02, search_context_size_medium: 0.03 } },
    });
    expect(res.status).toBe(200);
    expect((await item('claude-web-given'))?.search_context_cost_per_query).toBe(0.03);
    const updated = await callApi(models, 'POST', '/model/update', {
      model_name: 'claude-web-given',
      model_info: { search_context_cost_per_query: 0.015 },
    });
    expect(updated.status).toBe(200);
    expect((await item('claude-web-given'))?.search_context_cost_per_query).toBe(0.015);
  });

  const field = 'model_info.search_context_cost_per_query';
  it.each([
    ['negative', -0.01, 'invalid_field', field],
    ['not a number', '0.01', 'invalid_field', field],
    ['an object with no size', {}, 'invalid_field', field],
    ['a size that is negative', { search_context_size_medium: -1 }, 'invalid_field', `${field}.search_context_size_medium`],
    ['an unknown size', { search_context_size_huge: 1 }, 'unknown_field', `${field}.search_context_size_huge`],
  ])('a search price %s is a 400 naming the field, nothing written', async (_what, price, code, param) => {
    await expectRefused(models, {
      route: 'POST /model/new',
      action: 'new',
      input: { model_name: 'refused-search', litellm_params: ANTHROPIC, model_info: { search_context_cost_per_query: price } },
      status: 400,
      code,
      param,
    });
    expect(await item('refused-search')).toBeUndefined();
  });

  it.each([null, '0.01', true, [0.01]])('a search price that is neither a number nor the object (%j) says what it takes', async (price) => {
    const res = await callApi(models, 'POST', '/model/new', {
      model_name: 'refused-search',
      litellm_params: ANTHROPIC,
      model_info: { search_context_cost_per_query: price },
    });
    expect(res.status).toBe(400);
    expect(res.body.error.param).toBe(field);
    expect(res.body.error.message).toContain('must be a price in dollars (a number), or');
  });

  it("/model/update fills a record made before the per-search price was kept with the library's", async () => {
    await put(
      encode.model({
        model_name: 'claude-before',
        provider: 'anthropic',
        upstream_model: 'claude-sonnet-4-20250514',
        api_key_secret: 'tollgate/anthropic',
        input_cost_per_million: 3,
        output_cost_per_million: 15,
        created_at: '2025-01-01T00:00:00.000Z',
      }),
    );
    const res = await callApi(models, 'POST', '/model/update', { model_name: 'claude-before', model_info: { access_groups: ['web'] } });
    expect(res.status).toBe(200);
    expect((await item('claude-before'))?.search_context_cost_per_query).toBe(0.01);
  });
});

/**
 * A model's file search price (`file_search_cost_per_1k_calls`, LiteLLM's name: dollars per 1,000
 * calls of the Responses API's `file_search` tool) on the same routes, the same way.
 */
describe('the file search price', () => {
  const OPENAI = { model: 'gpt-4.1', api_key_secret: 'tollgate/openai' };
  const fileField = 'model_info.file_search_cost_per_1k_calls';
  const shown = async (name: string) =>
    (await callApi(models, 'GET', '/model/info', { model_name: name })).body.data[0].model_info.file_search_cost_per_1k_calls;

  it("an OpenAI model takes the library's, $2.50 per 1,000 calls, and /model/info shows it; Claude has none (null)", async () => {
    const res = await callApi(models, 'POST', '/model/new', { model_name: 'gpt-files', litellm_params: OPENAI });
    expect(res.status).toBe(200);
    expect(res.body.model_info.file_search_cost_per_1k_calls).toBe(2.5);
    expect((await item('gpt-files'))?.file_search_cost_per_1k_calls).toBe(2.5);
    expect(await shown('gpt-files')).toBe(2.5);
    expect((await callApi(models, 'POST', '/model/new', { model_name: 'claude-files', litellm_params: ANTHROPIC })).status).toBe(200);
    expect(await shown('claude-files')).toBeNull();
  });

  it("given, it overrides the library's (0 included); /model/update changes it", async () => {
    const res = await callApi(models, 'POST', '/model/new', {
      model_name: 'gpt-files-given',
      litellm_params: OPENAI,
      model_info: { file_search_cost_per_1k_calls: 0 },
    });
    expect(res.status).toBe(200);
    expect((await item('gpt-files-given'))?.file_search_cost_per_1k_calls).toBe(0);
    const updated = await callApi(models, 'POST', '/model/update', {
      model_name: 'gpt-files-given',
      model_info: { file_search_cost_per_1k_calls: 3.75 },
    });
    expect(updated.status).toBe(200);
    expect((await item('gpt-files-given'))?.file_search_cost_per_1k_calls).toBe(3.75);
    expect(await shown('gpt-files-given')).toBe(3.75);
  });

  it.each([
    ['negative', -2.5, 'invalid_field'],
    ['not a number', '2.5', 'invalid_type'],
    ['an object', { per_call: 0.0025 }, 'invalid_type'],
    ['null', null, 'invalid_type'],
  ])('a file search price %s is a 400 naming the field on /model/new, nothing written', async (_what, price, code) => {
    await expectRefused(models, {
      route: 'POST /model/new',
      action: 'new',
      input: { model_name: 'refused-files', litellm_params: OPENAI, model_info: { file_search_cost_per_1k_calls: price } },
      status: 400,
      code,
      param: fileField,
      message: /file_search_cost_per_1k_calls/,
    });
    expect(await item('refused-files')).toBeUndefined();
  });

  it.each([
    ['negative', -1, 'invalid_field'],
    // As every price but the input and output price (the search price too): once set, it can be changed, not removed.
    ['null', null, 'invalid_type'],
  ])('a file search price %s is a 400 naming the field on /model/update, nothing written', async (_what, price, code) => {
    await expectRefused(models, {
      route: 'POST /model/update',
      action: 'update',
      input: { model_name: 'gpt-files', model_info: { file_search_cost_per_1k_calls: price } },
      status: 400,
      code,
      param: fileField,
      message: /file_search_cost_per_1k_calls/,
    });
    expect((await item('gpt-files'))?.file_search_cost_per_1k_calls).toBe(2.5);
  });

  it("/model/update fills a record made before the file search price was kept with the library's", async () => {
    await put(
      encode.model({
        model_name: 'gpt-files-before',
        upstream_model: 'gpt-4.1',
        upstream_base_url: 'https://api.openai.com/v1',
        api_key_secret: 'tollgate/openai',
        input_cost_per_million: 2,
        output_cost_per_million: 8,
        search_context_cost_per_query: 0.01,
        created_at: '2025-01-01T00:00:00.000Z',
      }),
    );
    const res = await callApi(models, 'POST', '/model/update', {
      model_name: 'gpt-files-before',
      model_info: { access_groups: ['files'] },
    });
    expect(res.status).toBe(200);
    expect((await item('gpt-files-before'))?.file_search_cost_per_1k_calls).toBe(2.5);
    expect(res.body.model_info.file_search_cost_per_1k_calls).toBe(2.5);
  });
});
