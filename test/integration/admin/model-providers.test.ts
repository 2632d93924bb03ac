/**
 * `/model/new` and `/model/update` in LiteLLM's provider shapes (`bedrock/<id>` with
 * `aws_region_name`, `azure/<deployment>` with `api_base` and `api_version`, `anthropic/<model>`),
 * known prices from the price library unless given, and `/model/info` naming the price source.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { handler as models } from '../../../functions/models/handler.js';
import { PRICE_SOURCE } from '../../../lib/providers/prices.js';
import { callApi } from '../../support/admin.js';
import { expectRefused, scanTable } from '../../support/refusals.js';
import { useTestTable } from '../../support/table.js';

const CLAUDE = 'anthropic.claude-3-5-sonnet-20240620-v1:0';
const LIBRARY = `${PRICE_SOURCE.name}@${PRICE_SOURCE.version}`;
const item = async (name: string) => (await scanTable()).find((i) => i.PK === `MODEL#${name}`);

describe('models with providers', () => {
  beforeAll(async () => {
    await useTestTable();
  });

  it('a Bedrock model needs no prices when the library knows it, and no key', async () => {
    const res = await callApi(models, 'POST', '/model/new', {
      model_name: 'claude',
      litellm_params: { model: `bedrock/${CLAUDE}`, aws_region_name: 'eu-central-1' },
    });
    expect(res.status).toBe(200);
    expect(res.body.litellm_params).toEqual({
      model: `bedrock/${CLAUDE}`,
      api_base: null,
      api_key_secret: null,
      aws_region_name: 'eu-central-1',
    });
    expect(res.body.model_info).toMatchObject({
      input_cost_per_million: 3,
      output_cost_per_million: 15,
      cache_read_cost_per_million: 0.3,
      cache_write_cost_per_million: 3.75,
      price_source: LIBRARY,
      price_source_version: PRICE_SOURCE.version,
      litellm_provider: 'bedrock',
    });
    expect(await item('claude')).toMatchObject({ provider: 'bedrock', upstream_model: CLAUDE, aws_region_name: 'eu-central-1' });
    const info = await callApi(models, 'GET', '/model/info', { model_name: 'claude' });
    expect(info.body.data[0].model_info).toMatchObject({ price_source: LIBRARY, input_cost_per_million: 3 });
  });

  it("the registry's prices override the library's, side by side", async () => {
    const res = await callApi(models, 'POST', '/model/new', {
      model_name: 'claude-discount',
      litellm_params: { model: `bedrock/us.${CLAUDE}` },
      model_info: { input_cost_per_million: 2 },
    });
    expect(res.status).toBe(200);
    expect(res.body.model_info).toMatchObject({ input_cost_per_million: 2, output_cost_per_million: 15, price_source: LIBRARY });
    const given = await callApi(models, 'POST', '/model/new', {
      model_name: 'claude-given',
      litellm_params: { model: `bedrock/${CLAUDE}` },
      model_info: { input_cost_per_million: 1, output_cost_per_million: 2 },
    });
    expect(given.body.model_info).toMatchObject({ input_cost_per_million: 1, output_cost_per_million: 2, price_source: 'registry' });
  });

  it('Azure and Anthropic models in LiteLLM shape', async () => {
    const azure = await callApi(models, 'POST', '/model/new', {
      model_name: 'azure-4o',
      litellm_params: {
        model: 'azure/gpt-4o',
        api_base: 'https://my-resource.openai.azure.com',
        api_version: '2024-10-21',
        api_key: 'os.environ/AZURE_KEY',
      },
    });
    expect(azure.status).toBe(200);
    expect(azure.body.model_info).toMatchObject({ input_cost_per_million: 2.5, output_cost_per_million: 10, litellm_provider: 'azure' });
    expect(azure.body.litellm_params).toMatchObject({ model: 'azure/gpt-4o', api_version: '2024-10-21', api_key_secret: 'AZURE_KEY' });
    const anthropic = await callApi(models, 'POST', '/model/new', {
      model_name: 'haiku',
      litellm_params: { model: 'anthropic/claude-3-5-haiku-20241022', api_key_secret: 'tollgate/anthropic' },
    });
    expect(anthropic.status).toBe(200);
    expect(anthropic.body.model_info).toMatchObject({
      input_cost_per_million: 0.8,
      output_cost_per_million: 4,
      cache_write_cost_per_million: 1,
      cache_write_1h_cost_per_million: 1.6,
    });
  });

  const refusals = [
    [{ model: 'bedrock/amazon.titan-embed-text-v2:0' }, 'missing_field', 'model_info.input_cost_per_million'],
    [{ model: 'bedrock/' }, 'invalid_body', 'litellm_params.model'],
    [{ model: `bedrock/${CLAUDE}`, aws_region_name: 'mars' }, 'invalid_field', 'litellm_params.aws_region_name'],
    [{ model: `bedrock/${CLAUDE}`, api_base: 'https://x.example' }, 'invalid_field', 'litellm_params.api_base'],
    [{ model: 'gpt-4o', aws_region_name: 'us-east-1' }, 'invalid_field', 'litellm_params.aws_region_name'],
    [{ model: `bedrock/${CLAUDE}`, api_version: '2024-10-21' }, 'invalid_field', 'litellm_params.api_version'],
    [{ model: 'azure/gpt-4o', api_version: '2024-10-21' }, 'invalid_field', 'litellm_params.api_base'],
    [{ model: 'azure/gpt-4o', api_base: 'https://r.openai.azure.com' }, 'invalid_field', 'litellm_params.api_version'],
  ] as const;
  it.each(refusals)('400 for %j (%s, %s), nothing written', async (params, code, param) => {
    await expectRefused(models, {
      route: 'POST /model/new',
      action: 'new',
      input: { model_name: 'refused', litellm_params: { ...params } },
      status: 400,
      code,
      param,
    });
    expect(await item('refused')).toBeUndefined();
  });

  // A base URL is joined to paths, and whatever it holds is shown wherever the model is: a key in
  // its query or user info would be too. Every provider that takes one, on create and on update.
  const BASES_WITH_SECRETS = [
    'https://up.example/v1?api-key=sk-in-the-query-123',
    'https://up.example/v1?',
    'https://up.example/v1#sk-in-the-fragment-123',
    'https://user:sk-in-the-userinfo-123@up.example/v1',
    'https://sk-in-the-userinfo-123@up.example/v1',
  ];
  const PROVIDER_PARAMS = [
    { model: 'gpt-4o-mini' },
    { model: 'openai/gpt-4o-mini' },
    { model: 'azure/gpt-4o', api_version: '2024-10-21' },
    { model: 'anthropic/claude-3-5-haiku-latest' },
  ];
  it.each(PROVIDER_PARAMS.flatMap((p) => BASES_WITH_SECRETS.map((api_base) => [p.model, api_base, p] as const)))(
    '400 for %s with api_base %s, on /model/new and /model/update; nothing written, no secret echoed',
    async (_, api_base, params) => {
      const input = {
        model_name: 'refused',
        litellm_params: { ...params, api_base },
        model_info: { input_cost_per_million: 1, output_cost_per_million: 1 },
      };
      await expectRefused(models, {
        route: 'POST /model/new',
        action: 'new',
        input,
        status: 400,
        code: 'invalid_field',
        param: 'litellm_params.api_base',
      });
      const refused = await callApi(models, 'POST', '/model/new', input);
      expect(JSON.stringify(refused.body)).not.toMatch(/sk-in-the/);
      expect(await item('refused')).toBeUndefined();
      await expectRefused(models, {
        route: 'POST /model/update',
        action: 'update',
        input: { model_name: 'claude', litellm_params: { ...params, api_base } },
        status: 400,
        code: 'invalid_field',
        param: 'litellm_params.api_base',
      });
    },
  );

  it('/model/update to another model prices it again; the old prices never carry over', async () => {
    const res = await callApi(models, 'POST', '/model/update', {
      model_name: 'claude',
      litellm_params: { model: 'bedrock/us.anthropic.claude-3-5-haiku-20241022-v1:0' },
    });
    expect(res.status).toBe(200);
    expect(res.body.model_info).toMatchObject({ input_cost_per_million: 0.8, output_cost_per_million: 4, price_source: LIBRARY });
    expect(res.body.litellm_params).toMatchObject({ aws_region_name: 'eu-central-1' });
    await expectRefused(models, {
      route: 'POST /model/update',
      action: 'update',
      input: { model_name: 'claude', litellm_params: { model: 'bedrock/cohere.embed-english-v3' } },
      status: 400,
      code: 'missing_field',
      param: 'model_info.input_cost_per_million',
    });
    expect(await item('claude')).toMatchObject({ upstream_model: 'us.anthropic.claude-3-5-haiku-20241022-v1:0' });
    const priced = await callApi(models, 'POST', '/model/update', { model_name: 'claude', model_info: { output_cost_per_million: 5 } });
    expect(priced.body.model_info).toMatchObject({ input_cost_per_million: 0.8, output_cost_per_million: 5, price_source: 'registry' });
  });

  it("/model/new keeps the library's long-context tiers; /model/update to a model without them drops them", async () => {
    const made = await callApi(models, 'POST', '/model/new', {
      model_name: 'sonnet-45',
      litellm_params: { model: 'anthropic/claude-sonnet-4-5', api_key_secret: 'tollgate/anthropic' },
    });
    expect(made.body.model_info.price_tiers).toEqual([
      {
        above_input_tokens: 200_000,
        input_cost_per_million: 6,
        output_cost_per_million: 22.5,
        cache_read_cost_per_million: 0.6,
        cache_write_cost_per_million: 7.5,
        cache_write_1h_cost_per_million: 12,
      },
    ]);
    const updated = await callApi(models, 'POST', '/model/update', {
      model_name: 'sonnet-45',
      litellm_params: { model: 'anthropic/claude-3-5-haiku-20241022' },
    });
    expect(updated.body.model_info.price_tiers).toBeNull();
    expect((await item('sonnet-45'))?.price_tiers).toBeUndefined();
  });

  it("a cache price given alone keeps the library's tiers, as /model/update does (found by review: /model/new dropped them, so a call past 200k was billed at the base price)", async () => {
    const made = await callApi(models, 'POST', '/model/new', {
      model_name: 'sonnet-45-cache',
      litellm_params: { model: 'anthropic/claude-sonnet-4-5', api_key_secret: 'tollgate/anthropic' },
      model_info: { cache_read_cost_per_million: 0.25 },
    });
    expect(made.status).toBe(200);
    expect(made.body.model_info).toMatchObject({ input_cost_per_million: 3, cache_read_cost_per_million: 0.25 });
    expect(made.body.model_info.price_tiers).toMatchObject([{ above_input_tokens: 200_000, input_cost_per_million: 6 }]);
    const same = await callApi(models, 'POST', '/model/update', {
      model_name: 'sonnet-45-cache',
      model_info: { cache_write_cost_per_million: 3.5 },
    });
    expect(same.body.model_info.price_tiers).toMatchObject([{ above_input_tokens: 200_000 }]);
    const moved = await callApi(models, 'POST', '/model/update', {
      model_name: 'sonnet-45-cache',
      litellm_params: { model: 'anthropic/claude-sonnet-4-5-20250929' },
      model_info: { cache_read_cost_per_million: 0.25 },
    });
    expect(moved.body.model_info.price_tiers).toMatchObject([{ above_input_tokens: 200_000, input_cost_per_million: 6 }]);
    const priced = await callApi(models, 'POST', '/model/update', {
      model_name: 'sonnet-45-cache',
      model_info: { input_cost_per_million: 2 },
    });
    expect(priced.body.model_info.price_tiers).toBeNull();
  });

  it('/model/update to a model without cache write prices drops the old ones (found by review: Nova was charged Claude’s writes)', async () => {
    const made = await callApi(models, 'POST', '/model/new', {
      model_name: 'claude-then-nova',
      litellm_params: { model: 'anthropic/claude-3-5-haiku-20241022', api_key_secret: 'tollgate/anthropic' },
    });
    expect(made.body.model_info).toMatchObject({ cache_write_cost_per_million: 1, cache_write_1h_cost_per_million: 1.6 });
    const res = await callApi(models, 'POST', '/model/update', {
      model_name: 'claude-then-nova',
      litellm_params: { model: 'bedrock/amazon.nova-lite-v1:0', aws_region_name: 'us-east-1' },
    });
    expect(res.status).toBe(200);
    expect(res.body.model_info).toMatchObject({
      input_cost_per_million: 0.06,
      output_cost_per_million: 0.24,
      cache_read_cost_per_million: 0.015,
      cache_write_cost_per_million: null,
      cache_write_1h_cost_per_million: null,
    });
    const stored = await item('claude-then-nova');
    expect([stored?.cache_write_cost_per_million, stored?.cache_write_1h_cost_per_million]).toEqual([undefined, undefined]);
  });
});
