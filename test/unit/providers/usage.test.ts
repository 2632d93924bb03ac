import { describe, expect, it } from 'vitest';
import { addUsage, mergeUsage, usageFromObject, usageOfPayload } from '../../../lib/providers/usage.js';

const u = (inputTokens: number, outputTokens: number, cacheReadTokens = 0, cacheWriteTokens = 0) => ({
  inputTokens,
  outputTokens,
  cacheReadTokens,
  cacheWriteTokens,
});

describe('usage, split the way prices are', () => {
  it.each([
    [
      'OpenAI chat: cached tokens come out of prompt_tokens',
      { prompt_tokens: 100, completion_tokens: 5, prompt_tokens_details: { cached_tokens: 60 } },
      u(40, 5, 60),
    ],
    ['OpenAI embeddings: prompt only', { prompt_tokens: 7, total_tokens: 7 }, u(7, 0)],
    [
      'OpenAI reasoning, inside completion_tokens: counted once',
      { prompt_tokens: 21, completion_tokens: 80, total_tokens: 101, completion_tokens_details: { reasoning_tokens: 60 } },
      u(21, 80),
    ],
    [
      'reasoning left out of completion_tokens (a compatible gateway): added (found by review: charged no output)',
      { prompt_tokens: 21, completion_tokens: 0, total_tokens: 81, completion_tokens_details: { reasoning_tokens: 60 } },
      u(21, 60),
    ],
    [
      'reasoning larger than the completion, no total: added',
      { prompt_tokens: 21, completion_tokens: 5, completion_tokens_details: { reasoning_tokens: 60 } },
      u(21, 65),
    ],
    ['no output given, a total beyond the input: the rest is output', { prompt_tokens: 812, total_tokens: 1400 }, u(812, 588)],
    [
      'an output and a total but no input figure: the output given, never the whole total (found by review: 105 charged for 5)',
      { completion_tokens: 5, total_tokens: 105 },
      u(0, 5),
    ],
    [
      'reasoning left out of completion_tokens but in total_tokens (a gateway before Gemini 2.5): the total less the input (found by review: 151 charged of 533)',
      { prompt_tokens: 20, completion_tokens: 151, total_tokens: 553 },
      u(20, 533),
    ],
    [
      'reasoning reported as well: the largest of the three readings (here the total less the input)',
      { prompt_tokens: 20, completion_tokens: 151, total_tokens: 553, completion_tokens_details: { reasoning_tokens: 300 } },
      u(20, 533),
    ],
    [
      'a total below the input and the output given: the output given',
      { prompt_tokens: 20, completion_tokens: 151, total_tokens: 100 },
      u(20, 151),
    ],
    [
      'Responses API: a total beyond input and output counts as output too',
      { input_tokens: 50, output_tokens: 100, total_tokens: 450 },
      u(50, 400),
    ],
    [
      'cached tokens in prompt_tokens_details: the total less the whole prompt, never the cached part as output',
      { prompt_tokens: 100, completion_tokens: 5, total_tokens: 305, prompt_tokens_details: { cached_tokens: 60 } },
      u(40, 205, 60),
    ],
    [
      'an output given beside cache figures: a larger total is not output (a gateway’s total may count cache reads)',
      { prompt_tokens: 12, completion_tokens: 3, total_tokens: 245, cache_read_input_tokens: 200 },
      u(0, 3, 12),
    ],
    [
      'cache figures beside a total: the total is not output (found by review: 230 cache reads were charged as output)',
      { prompt_tokens: 12, total_tokens: 245, cache_read_input_tokens: 200, cache_creation_input_tokens: 30 },
      u(0, 0, 12),
    ],
    [
      'Responses API: reasoning inside output_tokens, total their sum',
      { input_tokens: 50, output_tokens: 300, total_tokens: 350, output_tokens_details: { reasoning_tokens: 200 } },
      u(50, 300),
    ],
    [
      'audio chat (gpt-audio): the audio parts of input and output',
      {
        prompt_tokens: 1000,
        completion_tokens: 2000,
        prompt_tokens_details: { cached_tokens: 0, audio_tokens: 900 },
        completion_tokens_details: { audio_tokens: 1800, reasoning_tokens: 0 },
      },
      { ...u(1000, 2000), audioInputTokens: 900, audioOutputTokens: 1800 },
    ],
    [
      'realtime: audio read from the cache is cached input, not audio at the audio price (review)',
      {
        input_tokens: 5000,
        output_tokens: 0,
        input_token_details: { cached_tokens: 4000, audio_tokens: 4500, cached_tokens_details: { audio_tokens: 3800, text_tokens: 200 } },
      },
      { ...u(1000, 0, 4000), audioInputTokens: 700 },
    ],
    [
      'transcription (gpt-4o-transcribe): `input_token_details`',
      { type: 'tokens', input_tokens: 14, input_token_details: { text_tokens: 0, audio_tokens: 14 }, output_tokens: 45, total_tokens: 59 },
      { ...u(14, 45), audioInputTokens: 14 },
    ],
    [
      'an image edit (gpt-image-1): the input images apart from the prompt’s text',
      { input_tokens: 1050, input_tokens_details: { text_tokens: 50, image_tokens: 1000 }, output_tokens: 4160, total_tokens: 5210 },
      { ...u(1050, 4160), imageInputTokens: 1000 },
    ],
    [
      'images made (gpt-image-1.5, a Gemini image model): the image part of the output',
      {
        prompt_tokens: 20,
        completion_tokens: 1300,
        completion_tokens_details: { image_tokens: 1290, reasoning_tokens: 0 },
      },
      { ...u(20, 1300), imageOutputTokens: 1290 },
    ],
    [
      'images read from the cache are cached input; image counts past the tokens are capped at them',
      {
        input_tokens: 1000,
        input_tokens_details: { cached_tokens: 600, image_tokens: 900, cached_tokens_details: { image_tokens: 500 } },
        output_tokens: 10,
        output_tokens_details: { image_tokens: 99 },
      },
      { ...u(400, 10, 600), imageInputTokens: 400, imageOutputTokens: 10, cacheReadImageTokens: 500 },
    ],
    [
      'a total or reasoning that is no token count is ignored',
      { prompt_tokens: 10, completion_tokens: 3, total_tokens: 'lots', completion_tokens_details: { reasoning_tokens: -1 } },
      u(10, 3),
    ],
    [
      'LiteLLM-style: cache writes come out of prompt_tokens too',
      {
        prompt_tokens: 130,
        completion_tokens: 5,
        prompt_tokens_details: { cached_tokens: 100 },
        cache_creation_input_tokens: 20,
        cache_read_input_tokens: 100,
      },
      u(10, 5, 100, 20),
    ],
    [
      'Responses API: cached tokens come out of input_tokens',
      { input_tokens: 50, output_tokens: 9, input_tokens_details: { cached_tokens: 10 } },
      u(40, 9, 10),
    ],
    [
      'Anthropic: input excludes the cache figures',
      { input_tokens: 12, output_tokens: 3, cache_read_input_tokens: 200, cache_creation_input_tokens: 30 },
      u(12, 3, 200, 30),
    ],
    ['Anthropic without cache fields', { input_tokens: 12, output_tokens: 3 }, u(12, 3)],
    ['cached tokens above the total are capped', { prompt_tokens: 5, prompt_tokens_details: { cached_tokens: 50 } }, u(0, 0, 5)],
  ])('%s', (_, usage, expected) => {
    expect(usageFromObject(usage)).toEqual(expected);
  });

  it("Anthropic's 1-hour cache writes are told apart (cache_creation.ephemeral_1h_input_tokens), and kept by merges and sums", () => {
    const hour = usageFromObject({
      input_tokens: 10,
      output_tokens: 5,
      cache_creation_input_tokens: 3000,
      cache_creation: { ephemeral_5m_input_tokens: 1000, ephemeral_1h_input_tokens: 2000 },
    });
    expect(hour).toEqual({ ...u(10, 5, 0, 3000), cacheWrite1hTokens: 2000 });
    expect(mergeUsage(u(10, 1, 0, 3000), hour)).toEqual({ ...u(10, 5, 0, 3000), cacheWrite1hTokens: 2000 });
    expect(addUsage(hour as ReturnType<typeof u>, hour as ReturnType<typeof u>).cacheWrite1hTokens).toBe(4000);
    expect(usageFromObject({ input_tokens: 1, cache_creation_input_tokens: 5, cache_creation: { ephemeral_1h_input_tokens: -1 } })).toBe(
      undefined,
    );
  });
  it('an audio or image count that is no token count, in any details, makes the usage untrusted (review: it read as none)', () => {
    const base = { input_tokens: 1050, output_tokens: 4160 };
    for (const bad of ['NaN', -1, 2.5, '1000'])
      for (const holder of [
        { input_tokens_details: { image_tokens: bad } },
        { prompt_tokens_details: { audio_tokens: bad } },
        { input_token_details: { audio_tokens: bad } },
        { input_tokens_details: { cached_tokens: 0, cached_tokens_details: { image_tokens: bad } } },
        { output_tokens_details: { image_tokens: bad } },
        { completion_tokens_details: { audio_tokens: bad } },
      ])
        expect(usageFromObject({ ...base, ...holder })).toBeUndefined();
    // Null is no figure, as elsewhere.
    expect(usageFromObject({ ...base, input_tokens_details: { image_tokens: null } })).toEqual(u(1050, 4160));
  });

  it('nothing, or nonsense, is no usage', () => {
    for (const v of [undefined, null, 'x', [], {}, { prompt_tokens: -1 }, { input_tokens: 1.5 }, { completion_tokens: '3' }])
      expect(usageFromObject(v)).toBeUndefined();
  });

  it('reads stream events: Responses’ response.usage, Anthropic’s message.usage and message_delta usage', () => {
    expect(usageOfPayload({ type: 'response.completed', response: { usage: { input_tokens: 8, output_tokens: 9 } } })).toEqual(u(8, 9));
    expect(
      usageOfPayload({ type: 'message_start', message: { usage: { input_tokens: 12, output_tokens: 1, cache_read_input_tokens: 4 } } }),
    ).toEqual(u(12, 1, 4));
    expect(usageOfPayload({ type: 'message_delta', usage: { output_tokens: 40 } })).toEqual(u(0, 40));
    expect(usageOfPayload('[DONE]')).toBeUndefined();
  });

  it('merges running totals by the largest figure per field; adds separate calls', () => {
    expect(mergeUsage(u(12, 1, 4, 0), u(0, 40, 0, 0))).toEqual(u(12, 40, 4, 0));
    expect(mergeUsage(undefined, u(1, 1))).toEqual(u(1, 1));
    expect(addUsage(u(1, 2, 3, 4), u(10, 20, 30, 40))).toEqual(u(11, 22, 33, 44));
  });
});
