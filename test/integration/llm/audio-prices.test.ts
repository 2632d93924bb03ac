/**
 * Audio tokens at their own prices (found by review: charged at the text price, a sixth of
 * gpt-audio's): a model registered from the price library carries its audio prices, one given
 * LiteLLM's per-token audio prices keeps them, and a call whose usage names audio tokens is
 * charged them at those prices, the rest at the text prices.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { handler as models } from '../../../functions/models/handler.js';
import { MOCK_UPSTREAM_SECRET } from '../../../infra/local/mock-models.js';
import { costNanos } from '../../../lib/domain/cost.js';
import { refs } from '../../../lib/store/keys.js';
import { callApi } from '../../support/admin.js';
import { bearer } from '../../support/authorizer.js';
import { seedKey, seedTeam } from '../../support/seed.js';
import { spendNanos } from '../../support/spend.js';
import { call, chat, passthroughTable, standInUpstream } from './harness.js';

const usage = {
  prompt_tokens: 1000,
  completion_tokens: 2000,
  total_tokens: 3000,
  prompt_tokens_details: { cached_tokens: 0, audio_tokens: 900 },
  completion_tokens_details: { audio_tokens: 1800, reasoning_tokens: 0 },
};
let base = '';

beforeAll(async () => {
  const upstream = await standInUpstream((_req, _raw, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify({
        id: 'chatcmpl-audio',
        object: 'chat.completion',
        choices: [{ index: 0, message: { role: 'assistant', content: null, audio: { id: 'audio_1', data: 'AAAA', transcript: 'hi' } } }],
        usage,
      }),
    );
  });
  base = `${upstream.base}/v1`;
  await passthroughTable(upstream.base);
  await seedTeam({ team_id: 'team-audio' });
  return () => upstream.close();
});

describe('audio prices', () => {
  it('/model/new from the price library: gpt-audio gets $32 and $64 per 1M audio tokens; /model/info shows both forms', async () => {
    const made = await callApi(models, 'POST', '/model/new', {
      model_name: 'gpt-audio',
      litellm_params: { model: 'gpt-audio', api_base: base, api_key_secret: MOCK_UPSTREAM_SECRET },
    });
    expect(made.status).toBe(200);
    const info = (await callApi(models, 'GET', '/model/info', { model_name: 'gpt-audio' })).body.data[0].model_info;
    expect(info).toMatchObject({
      input_audio_cost_per_million: 32,
      output_audio_cost_per_million: 64,
      input_cost_per_audio_token: 0.000032,
      output_cost_per_audio_token: 0.000064,
    });
  });

  it('LiteLLM’s per-token audio prices are taken; both forms of one price are a 400', async () => {
    const given = await callApi(models, 'POST', '/model/new', {
      model_name: 'my-audio',
      litellm_params: { model: 'my-audio', api_base: base, api_key_secret: MOCK_UPSTREAM_SECRET },
      model_info: {
        input_cost_per_million: 1,
        output_cost_per_million: 2,
        input_cost_per_audio_token: 0.00001,
        output_cost_per_audio_token: 0.00002,
      },
    });
    expect(given.status).toBe(200);
    expect(given.body.model_info).toMatchObject({ input_audio_cost_per_million: 10, output_audio_cost_per_million: 20 });
    const both = await callApi(models, 'POST', '/model/new', {
      model_name: 'both-audio',
      litellm_params: { model: 'x', api_base: base },
      model_info: {
        input_cost_per_million: 1,
        output_cost_per_million: 2,
        input_cost_per_audio_token: 0.00001,
        input_audio_cost_per_million: 10,
      },
    });
    expect([both.status, both.body.error.param]).toEqual([400, 'model_info.input_cost_per_audio_token']);
  });

  it('a call whose usage names audio tokens is charged them at the audio prices', async () => {
    const { key, record } = await seedKey({ team_id: 'team-audio' });
    const res = await call({
      path: '/v1/chat/completions',
      headers: bearer(key),
      body: chat('gpt-audio', 'say hi', { modalities: ['text', 'audio'] }),
    });
    expect(res.status).toBe(200);
    const prices = {
      input_cost_per_million: 2.5,
      output_cost_per_million: 10,
      input_audio_cost_per_million: 32,
      output_audio_cost_per_million: 64,
    };
    const expected = costNanos({ inputTokens: 1000, outputTokens: 2000, audioInputTokens: 900, audioOutputTokens: 1800 }, prices);
    expect(expected).toBe(100 * 2.5 * 1000 + 900 * 32 * 1000 + 200 * 10 * 1000 + 1800 * 64 * 1000);
    expect(await spendNanos(refs.key(record.token))).toBe(expected);
  });
});
