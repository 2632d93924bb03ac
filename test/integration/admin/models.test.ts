import { beforeAll, describe, expect, it } from 'vitest';
import { handler as audit } from '../../../functions/audit/handler.js';
import { handler as models } from '../../../functions/models/handler.js';
import { modelActions } from '../../../lib/admin/actions/models.js';
import { modelRegistry } from '../../../lib/app/index.js';
import type { CallerContext } from '../../../lib/authorizer/context.js';
import { adminCtx, callApi, invokeDirect, userCtx } from '../../support/admin.js';
import { expectRefused, expectSampleEvents, scanTable } from '../../support/refusals.js';
import { useTestTable } from '../../support/table.js';

const getItem = async (PK: string, SK: string) => (await scanTable()).find((i) => i.PK === PK && i.SK === SK);

/** A literal upstream key as a careless admin would paste it. */
const LITERAL_KEY = 'sk-proj-Zq8vLr3NtY6wPb2XkJ9mCa4HsE7uFd1G';

const gpt4o = {
  model_name: 'gpt-4o',
  litellm_params: { model: 'gpt-4o-2024-08-06', api_base: 'https://upstream.example/v1', api_key_secret: 'tollgate/openai' },
  model_info: { input_cost_per_million: 2.5, output_cost_per_million: 10, access_groups: ['general'], aliases: ['gpt4o', '4o'] },
};

describe('models', () => {
  beforeAll(async () => {
    await useTestTable();
  });

  describe('new', () => {
    it('adds a model in LiteLLM shape through the API, stored as a ModelRecord', async () => {
      const res = await callApi(models, 'POST', '/model/new', gpt4o);
      expect(res.status).toBe(200);
      expect(res.body).toEqual({
        model_name: 'gpt-4o',
        litellm_params: { model: 'gpt-4o-2024-08-06', api_base: 'https://upstream.example/v1', api_key_secret: 'tollgate/openai' },
        model_info: expect.objectContaining({
          id: 'gpt-4o',
          input_cost_per_million: 2.5,
          output_cost_per_million: 10,
          input_cost_per_token: 0.0000025,
          access_groups: ['general'],
          aliases: ['gpt4o', '4o'],
        }),
      });
      expect(await getItem('MODEL#gpt-4o', 'MODEL')).toMatchObject({
        kind: 'model',
        GSI1PK: 'MODEL',
        upstream_base_url: 'https://upstream.example/v1',
        upstream_model: 'gpt-4o-2024-08-06',
        api_key_secret: 'tollgate/openai',
        input_cost_per_million: 2.5,
        output_cost_per_million: 10,
      });
      expect(await getItem('MODEL_ALIAS#4o', 'MODEL_ALIAS')).toMatchObject({ model_name: 'gpt-4o' });
    });

    it('is what the registry read side serves (aliases and access groups resolve)', async () => {
      const snap = await modelRegistry().snapshot();
      expect(snap.resolve('gpt4o')?.model_name).toBe('gpt-4o');
      expect(snap.catalog.accessGroups.get('general')).toEqual(['gpt-4o']);
    });

    it('converts per-token prices, reads `os.environ/NAME` as a secret name, defaults api_base (direct invocation)', async () => {
      const res = await invokeDirect(models, {
        action: 'new',
        model_name: 'gpt-4o-mini',
        litellm_params: { model: 'gpt-4o-mini', api_key: 'os.environ/OPENAI_API_KEY' },
        model_info: { input_cost_per_token: 0.00000015, output_cost_per_token: 0.0000006 },
      });
      expect(res.litellm_params).toEqual({ model: 'gpt-4o-mini', api_base: 'https://api.openai.com/v1', api_key_secret: 'OPENAI_API_KEY' });
      expect(await getItem('MODEL#gpt-4o-mini', 'MODEL')).toMatchObject({
        input_cost_per_million: 0.15,
        output_cost_per_million: 0.6,
        api_key_secret: 'OPENAI_API_KEY',
      });
    });

    it('a model without a key secret is an upstream without auth', async () => {
      const res = await callApi(models, 'POST', '/model/new', {
        model_name: 'local-llama',
        litellm_params: { model: 'llama3', api_base: 'http://127.0.0.1:8080/v1' },
        model_info: { input_cost_per_million: 0, output_cost_per_million: 0 },
      });
      expect(res.body.litellm_params.api_key_secret).toBeNull();
    });

    it('409 for a duplicate name, an alias that is taken or is a model name, a name that is an alias; nothing written', async () => {
      const base = { litellm_params: { model: 'x' }, model_info: { input_cost_per_million: 1, output_cost_per_million: 1 } };
      await expectRefused(models, {
        route: 'POST /model/new',
        action: 'new',
        input: { ...base, model_name: 'gpt-4o' },
        status: 409,
        code: 'model_exists',
        param: 'model_name',
      });
      await expectRefused(models, {
        route: 'POST /model/new',
        action: 'new',
        input: { ...base, model_name: 'm-new', model_info: { ...base.model_info, aliases: ['fresh', '4o'] } },
        status: 409,
        code: 'model_alias_taken',
        param: 'model_info.aliases',
        message: /`4o` is already an alias of model `gpt-4o`/,
      });
      await expectRefused(models, {
        route: 'POST /model/new',
        action: 'new',
        input: { ...base, model_name: 'm-new', model_info: { ...base.model_info, aliases: ['gpt-4o-mini'] } },
        status: 409,
        code: 'model_alias_taken',
        message: /the name of a model/,
      });
      await expectRefused(models, {
        route: 'POST /model/new',
        action: 'new',
        input: { ...base, model_name: 'gpt4o' },
        status: 409,
        code: 'model_name_taken',
        param: 'model_name',
        message: /alias of model `gpt-4o`/,
      });
    });
  });

  describe('upstream keys never reach the table', () => {
    it('a literal api_key is refused with a 400 that does not repeat it; nothing written', async () => {
      for (const route of ['POST /model/new', 'POST /model/update'] as const) {
        const input = {
          model_name: route.endsWith('new') ? 'm-leak' : 'gpt-4o',
          litellm_params: { model: 'gpt-4o', api_key: LITERAL_KEY },
          model_info: { input_cost_per_million: 1, output_cost_per_million: 1 },
        };
        await expectRefused(models, {
          route,
          action: route.endsWith('new') ? 'new' : 'update',
          input,
          status: 400,
          code: 'literal_api_key',
          param: 'litellm_params.api_key',
          message: /never stored/,
        });
        const res = await callApi(models, 'POST', route.split(' ')[1] as string, input);
        expect(JSON.stringify(res.body)).not.toContain(LITERAL_KEY);
      }
    });

    it('a key pasted as the secret name, or credentials in api_base, are refused too', async () => {
      const info = { input_cost_per_million: 1, output_cost_per_million: 1 };
      // Any key's shape (found by review: an Azure key, 32 hex digits, and an AWS secret key were stored and shown back).
      for (const pasted of [LITERAL_KEY, '0123456789abcdef0123456789abcdef', 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY']) {
        await expectRefused(models, {
          route: 'POST /model/new',
          action: 'new',
          input: { model_name: 'm-leak', litellm_params: { model: 'x', api_key_secret: pasted }, model_info: info },
          status: 400,
          code: 'invalid_field',
          param: 'litellm_params.api_key_secret',
        });
        // And as the variable named by `os.environ/` (it was not checked at all).
        await expectRefused(models, {
          route: 'POST /model/new',
          action: 'new',
          input: { model_name: 'm-leak', litellm_params: { model: 'x', api_key: `os.environ/${pasted}` }, model_info: info },
          status: 400,
          code: 'literal_api_key',
          param: 'litellm_params.api_key',
        });
        const res = await callApi(models, 'POST', '/model/new', {
          model_name: 'm-leak',
          litellm_params: { model: 'x', api_key: `os.environ/${pasted}` },
          model_info: info,
        });
        expect(JSON.stringify(res.body)).not.toContain(pasted);
      }
      await expectRefused(models, {
        route: 'POST /model/new',
        action: 'new',
        input: {
          model_name: 'm-leak',
          litellm_params: { model: 'x', api_base: `https://u:${LITERAL_KEY}@up.example/v1` },
          model_info: info,
        },
        status: 400,
        code: 'invalid_field',
        param: 'litellm_params.api_base',
      });
    });

    it('a Scan of the whole table finds no literal key anywhere (models, aliases, audit items)', async () => {
      const text = JSON.stringify(await scanTable());
      expect(text).not.toContain(LITERAL_KEY);
      expect(text).not.toMatch(/sk-[A-Za-z0-9_-]{16,}/);
      expect(text).toContain('tollgate/openai');
    });
  });

  describe('update', () => {
    it('sets only what is named (API), converting per-token prices', async () => {
      const res = await callApi(models, 'POST', '/model/update', { model_name: 'gpt-4o', model_info: { output_cost_per_token: 0.000012 } });
      expect(res.status).toBe(200);
      expect(res.body.model_info).toMatchObject({ input_cost_per_million: 2.5, output_cost_per_million: 12, aliases: ['gpt4o', '4o'] });
      expect(res.body.litellm_params.api_key_secret).toBe('tollgate/openai');
    });

    it('changing aliases frees the dropped ones and claims the new ones (direct invocation)', async () => {
      await invokeDirect(models, { action: 'update', model_name: 'gpt-4o', model_info: { aliases: ['gpt4o', 'omni'] } });
      expect(await getItem('MODEL_ALIAS#4o', 'MODEL_ALIAS')).toBeUndefined();
      expect(await getItem('MODEL_ALIAS#omni', 'MODEL_ALIAS')).toMatchObject({ model_name: 'gpt-4o' });
      // The freed alias can now go to another model.
      const res = await invokeDirect(models, { action: 'update', model_name: 'gpt-4o-mini', model_info: { aliases: ['4o'] } });
      expect(res.model_info.aliases).toEqual(['4o']);
    });

    it('moves the upstream and clears the key secret', async () => {
      const res = await invokeDirect(models, {
        action: 'update',
        model_name: 'local-llama',
        litellm_params: { api_base: 'http://127.0.0.1:9090/v1', api_key_secret: null },
      });
      expect(res.litellm_params).toEqual({ model: 'llama3', api_base: 'http://127.0.0.1:9090/v1', api_key_secret: null });
    });

    it('404 for a missing model, 409 for a taken alias, 400 for nothing or for both price forms; nothing written', async () => {
      await expectRefused(models, {
        route: 'POST /model/update',
        action: 'update',
        input: { model_name: 'm-ghost', model_info: { input_cost_per_million: 1 } },
        status: 404,
        code: 'model_not_found',
      });
      await expectRefused(models, {
        route: 'POST /model/update',
        action: 'update',
        input: { model_name: 'gpt-4o-mini', model_info: { aliases: ['4o', 'omni'] } },
        status: 409,
        code: 'model_alias_taken',
      });
      await expectRefused(models, {
        route: 'POST /model/update',
        action: 'update',
        input: { model_name: 'gpt-4o' },
        status: 400,
        code: 'nothing_to_update',
      });
      await expectRefused(models, {
        route: 'POST /model/update',
        action: 'update',
        input: { model_name: 'gpt-4o', model_info: { input_cost_per_token: 0.000001, input_cost_per_million: 1 } },
        status: 400,
        code: 'invalid_field',
        param: 'model_info.input_cost_per_token',
      });
    });
  });

  describe('info', () => {
    it('an admin sees every model with its upstream and secret name (/model/info, /v1/model/info, direct)', async () => {
      const res = await callApi(models, 'GET', '/model/info', {});
      expect(res.status).toBe(200);
      expect(res.body.data.map((m: { model_name: string }) => m.model_name)).toEqual(['gpt-4o', 'gpt-4o-mini', 'local-llama']);
      expect(res.body.data[0].litellm_params).toEqual({
        model: 'gpt-4o-2024-08-06',
        api_base: 'https://upstream.example/v1',
        api_key_secret: 'tollgate/openai',
      });
      expect((await callApi(models, 'GET', '/v1/model/info', {})).body).toEqual(res.body);
      expect(await invokeDirect(models, { action: 'info' })).toEqual(res.body);
    });

    it('one model by name (LiteLLM: litellm_model_id), 404 when unknown', async () => {
      const one = await callApi(models, 'GET', '/model/info', { litellm_model_id: 'gpt-4o-mini' });
      expect(one.body.data.map((m: { model_name: string }) => m.model_name)).toEqual(['gpt-4o-mini']);
      await expectRefused(models, {
        route: 'GET /model/info',
        action: 'info',
        input: { model_name: 'm-ghost' },
        status: 404,
        code: 'model_not_found',
      });
    });

    it('others see only public fields: no upstream URL, no secret name', async () => {
      const res = await callApi(models, 'GET', '/model/info', {}, userCtx('u-1'));
      expect(res.status).toBe(200);
      expect(res.body.data).toHaveLength(3);
      for (const m of res.body.data) {
        expect(Object.keys(m.litellm_params)).toEqual(['model']);
        expect(m.model_info).not.toHaveProperty('created_at');
      }
      expect(JSON.stringify(res.body)).not.toMatch(/tollgate\/openai|OPENAI_API_KEY|upstream\.example/);
    });

    it('others see only the models they may use (aliases and access groups resolved)', async () => {
      const restricted = (models: string[]): CallerContext =>
        userCtx('u-2', { models: JSON.stringify([{ entity: 'team `t-1`', models }]) });
      const names = async (caller: CallerContext) =>
        (await callApi(models, 'GET', '/model/info', {}, caller)).body.data.map((m: { model_name: string }) => m.model_name);
      expect(await names(restricted(['general']))).toEqual(['gpt-4o']);
      expect(await names(restricted(['gpt-4o*']))).toEqual(['gpt-4o', 'gpt-4o-mini']);
      expect(await names(restricted(['4o']))).toEqual(['gpt-4o-mini']);
      expect(
        await names({
          principal: 'jwt',
          role: 'team',
          team_id: 't-1',
          models: JSON.stringify([{ entity: 'team', models: ['local-llama'] }]),
        }),
      ).toEqual(['local-llama']);
      // A model the caller may not use is unknown to it.
      expect((await callApi(models, 'GET', '/model/info', { model_name: 'gpt-4o' }, restricted(['local-llama']))).status).toBe(404);
      // Unreadable restrictions show nothing (fail closed).
      expect(await names(userCtx('u-3', { models: 'not json' }))).toEqual([]);
    });
  });

  describe('delete', () => {
    it('deletes a model and frees its aliases (LiteLLM `id`, API)', async () => {
      expect(await callApi(models, 'POST', '/model/delete', { id: 'gpt-4o-mini' })).toEqual({
        status: 200,
        body: { deleted_model_name: 'gpt-4o-mini' },
      });
      expect(await getItem('MODEL#gpt-4o-mini', 'MODEL')).toBeUndefined();
      expect(await getItem('MODEL_ALIAS#4o', 'MODEL_ALIAS')).toBeUndefined();
      const log = await callApi(audit, 'GET', '/audit', { entity_type: 'model', entity_id: 'gpt-4o-mini' });
      expect(log.body.data.map((e: { action: string }) => e.action)).toEqual(['model.delete', 'model.update', 'model.new']);
    });

    it('by model_name (direct invocation); 404 when missing', async () => {
      expect(await invokeDirect(models, { action: 'delete', model_name: 'local-llama' })).toEqual({ deleted_model_name: 'local-llama' });
      await expectRefused(models, {
        route: 'POST /model/delete',
        action: 'delete',
        input: { model_name: 'local-llama' },
        status: 404,
        code: 'model_not_found',
      });
    });
  });

  describe('bad input: 400 naming the field, nothing written', () => {
    const lp = { model: 'x' };
    const mi = { input_cost_per_million: 1, output_cost_per_million: 1 };
    const cases = [
      ['POST /model/new', 'new', { model_name: 'm-bad', litellm_params: lp }, 'missing_field', 'model_info.input_cost_per_million'],
      [
        'POST /model/new',
        'new',
        { model_name: 'm-bad', litellm_params: lp, model_info: { input_cost_per_million: 1 } },
        'missing_field',
        'model_info.output_cost_per_million',
      ],
      [
        'POST /model/new',
        'new',
        { model_name: 'm-bad', litellm_params: lp, model_info: { ...mi, input_cost_per_million: -1 } },
        'invalid_field',
        'model_info.input_cost_per_million',
      ],
      [
        'POST /model/new',
        'new',
        { model_name: 'm-bad', litellm_params: lp, model_info: { ...mi, output_cost_per_million: '1' } },
        'invalid_type',
        'model_info.output_cost_per_million',
      ],
      ['POST /model/new', 'new', { model_name: 'm bad', litellm_params: lp, model_info: mi }, 'invalid_field', 'model_name'],
      ['POST /model/new', 'new', { model_name: 'gpt-*', litellm_params: lp, model_info: mi }, 'invalid_field', 'model_name'],
      ['POST /model/new', 'new', { model_name: 'all-proxy-models', litellm_params: lp, model_info: mi }, 'invalid_field', 'model_name'],
      ['POST /model/new', 'new', { model_name: 'm-bad', model_info: mi }, 'invalid_type', 'litellm_params'],
      [
        'POST /model/new',
        'new',
        { model_name: 'm-bad', litellm_params: { ...lp, api_base: 'ftp://x' }, model_info: mi },
        'invalid_field',
        'litellm_params.api_base',
      ],
      [
        'POST /model/new',
        'new',
        { model_name: 'm-bad', litellm_params: { ...lp, rpm: 1.5 }, model_info: mi },
        'invalid_type',
        'litellm_params.rpm',
      ],
      [
        'POST /model/new',
        'new',
        { model_name: 'm-bad', litellm_params: lp, model_info: { ...mi, max_tokens: 5 } },
        'unknown_field',
        'model_info.max_tokens',
      ],
      [
        'POST /model/new',
        'new',
        { model_name: 'm-bad', litellm_params: lp, model_info: { ...mi, aliases: ['m-bad'] } },
        'invalid_field',
        'model_info.aliases',
      ],
      [
        'POST /model/new',
        'new',
        { model_name: 'm-bad', litellm_params: lp, model_info: { ...mi, aliases: ['a1', 'a1'] } },
        'invalid_field',
        'model_info.aliases',
      ],
      [
        'POST /model/new',
        'new',
        { model_name: 'm-bad', litellm_params: lp, model_info: { ...mi, access_groups: 'g' } },
        'invalid_type',
        'model_info.access_groups',
      ],
      ['POST /model/new', 'new', { model_name: 'm-bad', litellm_params: lp, model_info: mi, tier: 'x' }, 'unknown_field', 'tier'],
      [
        'POST /model/update',
        'update',
        { model_name: 'gpt-4o', litellm_params: { api_base: 'nope' } },
        'invalid_field',
        'litellm_params.api_base',
      ],
      [
        'POST /model/update',
        'update',
        { model_name: 'gpt-4o', litellm_params: { api_key: 'os.environ/A', api_key_secret: 'B' } },
        'invalid_field',
        'litellm_params.api_key',
      ],
      ['POST /model/update', 'update', { litellm_params: lp }, 'invalid_type', 'model_name'],
      ['POST /model/delete', 'delete', {}, 'missing_field', 'model_name'],
      ['POST /model/delete', 'delete', { model_name: 'gpt-4o', id: 'other' }, 'invalid_field', 'id'],
      ['POST /model/delete', 'delete', { model_name: 'gpt-4o', cascade: true }, 'unknown_field', 'cascade'],
      ['GET /model/info', 'info', { model: 'gpt-4o' }, 'unknown_field', 'model'],
      ['GET /v1/model/info', 'info', { model_name: 'a,b' }, 'invalid_field', 'model_name'],
    ] as const;
    it.each(cases)('%s %j -> %s (%s)', async (route, action, input, code, param) => {
      await expectRefused(models, { route, action, input: { ...input }, status: 400, code, param });
    });
  });

  describe('permissions: writes are proxy-admin only (403, nothing written)', () => {
    const cases = [
      ['POST /model/new', 'new', { ...gpt4o, model_name: 'm-perm', model_info: { input_cost_per_million: 1, output_cost_per_million: 1 } }],
      ['POST /model/update', 'update', { model_name: 'gpt-4o', model_info: { input_cost_per_million: 0 } }],
      ['POST /model/delete', 'delete', { model_name: 'gpt-4o' }],
    ] as const;
    it.each(cases)('%s refused to an internal user and a team JWT', async (route, action, input) => {
      for (const caller of [userCtx('u-1'), { principal: 'jwt', role: 'team', team_id: 't-1' } as const]) {
        await expectRefused(models, { route, action, input: { ...input }, status: 403, code: 'forbidden' }, { caller, apiOnly: true });
      }
    });
    it('the master key passes', async () => {
      expect(
        (await callApi(models, 'POST', '/model/update', { model_name: 'gpt-4o', model_info: { input_cost_per_million: 2.5 } }, adminCtx))
          .status,
      ).toBe(200);
    });
  });

  describe('update: null puts a price or the base back to what /model/new gives without it', () => {
    const mini = (modelName: string, info?: Record<string, number>) =>
      callApi(models, 'POST', '/model/new', {
        model_name: modelName,
        litellm_params: { model: 'gpt-4o-mini', api_base: 'https://upstream.example/v1' },
        ...(info ? { model_info: info } : {}),
      });
    const update = (body: Record<string, unknown>) => callApi(models, 'POST', '/model/update', body);
    const PRICING = ['input_cost_per_million', 'output_cost_per_million', 'price_tiers', 'price_source', 'price_source_version'] as const;
    const pricing = (info: Record<string, unknown>) => Object.fromEntries(PRICING.map((k) => [k, info[k]]));

    it("a cleared input price is the library's again; the admin's output price stays, and the source says the library", async () => {
      const library = (await mini('reset-library')).body.model_info;
      expect((await mini('reset-mini', { input_cost_per_million: 1, output_cost_per_million: 2 })).body.model_info.price_source).toBe(
        'registry',
      );
      const res = await update({ model_name: 'reset-mini', model_info: { input_cost_per_million: null } });
      expect(res.status).toBe(200);
      expect(res.body.model_info).toMatchObject({
        input_cost_per_million: library.input_cost_per_million,
        output_cost_per_million: 2,
        price_source: library.price_source,
      });
      expect(res.body.litellm_params.api_base).toBe('https://upstream.example/v1');
    });

    it('both cleared (per token too): priced exactly as /model/new prices the model without prices', async () => {
      const library = (await invokeDirect(models, { action: 'info', model_name: 'reset-library' })).data[0].model_info;
      const res = await update({ model_name: 'reset-mini', model_info: { output_cost_per_token: null } });
      expect(res.status).toBe(200);
      expect(pricing(res.body.model_info)).toEqual(pricing(library));
    });

    it("a price given with a clear stays the admin's; the clear alone leaves other prices as they were", async () => {
      await update({ model_name: 'reset-mini', model_info: { cache_read_cost_per_million: 0.01 } });
      const res = await update({ model_name: 'reset-mini', model_info: { input_cost_per_million: null, output_cost_per_million: 3 } });
      expect(res.body.model_info).toMatchObject({ output_cost_per_million: 3, cache_read_cost_per_million: 0.01 });
      expect(res.body.model_info.price_source).not.toBe('registry');
    });

    it('a cleared api_base is the default base of an OpenAI model, and removed from another provider', async () => {
      const res = await update({ model_name: 'reset-mini', litellm_params: { api_base: null } });
      expect(res.status).toBe(200);
      expect(res.body.litellm_params.api_base).toBe('https://api.openai.com/v1');
      await callApi(models, 'POST', '/model/new', {
        model_name: 'reset-anthropic',
        litellm_params: { model: 'anthropic/claude-test', api_base: 'https://anthropic.example' },
        model_info: { input_cost_per_million: 1, output_cost_per_million: 5 },
      });
      const cleared = await update({ model_name: 'reset-anthropic', litellm_params: { api_base: null } });
      expect(cleared.status).toBe(200);
      expect(cleared.body.litellm_params.api_base).toBeNull();
      expect(await getItem('MODEL#reset-anthropic', 'MODEL')).not.toHaveProperty('upstream_base_url');
    });

    it('a model the library does not know cannot go back to it: 400 naming the cleared price, nothing written', async () => {
      await callApi(models, 'POST', '/model/new', {
        model_name: 'reset-unknown',
        litellm_params: { model: 'no-such-upstream-model', api_base: 'http://127.0.0.1:8080/v1' },
        model_info: { input_cost_per_million: 1, output_cost_per_million: 2 },
      });
      await expectRefused(models, {
        route: 'POST /model/update',
        action: 'update',
        input: { model_name: 'reset-unknown', model_info: { output_cost_per_million: null } },
        status: 400,
        code: 'missing_field',
        param: 'model_info.output_cost_per_million',
      });
    });

    it('/model/new still takes no null, and a clear is proxy-admin only', async () => {
      expect(
        (
          await callApi(models, 'POST', '/model/new', {
            model_name: 'reset-null',
            litellm_params: { model: 'gpt-4o-mini', api_base: null },
          })
        ).status,
      ).toBe(400);
      await expectRefused(
        models,
        {
          route: 'POST /model/update',
          action: 'update',
          input: { model_name: 'reset-mini', model_info: { input_cost_per_million: null } },
          status: 403,
          code: 'forbidden',
        },
        { caller: userCtx('u-1'), apiOnly: true },
      );
    });
  });

  it('has a valid sample event for every action (functions/models/events)', async () => {
    await expectSampleEvents('models', modelActions);
  });
});
