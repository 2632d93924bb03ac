import { describe, expect, it } from 'vitest';
import { brokenUsage, fromTokenUsage, usableUsage, usageOf, withOutputKind } from '../../../lib/llm/usage.js';
import { addUsage, mergeUsage, usageOfPayload } from '../../../lib/providers/usage.js';

describe('usageOf', () => {
  it('reads chat, completions and embeddings usage', () => {
    expect(usageOf({ usage: { prompt_tokens: 10, completion_tokens: 5, total_tokens: 15 } })).toEqual({ inputTokens: 10, outputTokens: 5 });
    expect(usageOf({ usage: { prompt_tokens: 7, total_tokens: 7 } })).toEqual({ inputTokens: 7, outputTokens: 0 });
  });

  it('reads responses and messages usage, top level or nested in stream events', () => {
    expect(usageOf({ usage: { input_tokens: 3, output_tokens: 4 } })).toEqual({ inputTokens: 3, outputTokens: 4 });
    expect(usageOf({ type: 'response.completed', response: { usage: { input_tokens: 8, output_tokens: 9 } } })).toEqual({
      inputTokens: 8,
      outputTokens: 9,
    });
    expect(usageOf({ type: 'message_start', message: { usage: { input_tokens: 12, output_tokens: 1 } } })).toEqual({
      inputTokens: 12,
      outputTokens: 1,
    });
  });

  it('ignores absent and null usage; any figure that is no token count makes it unusable (counted instead)', () => {
    expect(usageOf({ usage: null })).toBeUndefined();
    expect(usageOf({ choices: [] })).toBeUndefined();
    expect(usageOf('[DONE]')).toBeUndefined();
    expect(usageOf({ usage: { prompt_tokens: -5, completion_tokens: 2.5 } })).toBeUndefined();
    expect(usageOf({ usage: { prompt_tokens: '10', completion_tokens: 3 } })).toBeUndefined();
    expect(usageOf({ usage: { prompt_tokens: 10, completion_tokens: 3, prompt_tokens_details: { cached_tokens: -1 } } })).toBeUndefined();
    // Null figures are absent ones (some servers send `cached_tokens: null`).
    expect(usageOf({ usage: { prompt_tokens: 10, completion_tokens: 3, prompt_tokens_details: { cached_tokens: null } } })).toEqual({
      inputTokens: 10,
      outputTokens: 3,
    });
  });
});

describe('brokenUsage: reported so far and counted, the larger (found by review: a cached prompt was charged twice)', () => {
  const reported = { inputTokens: 10, outputTokens: 1, cacheReadTokens: 500, cacheWriteTokens: 3000, cacheWrite1hTokens: 2000 };
  it('a counted prompt within the reported input of every kind adds nothing', () => {
    expect(brokenUsage(reported, { inputTokens: 3510, outputTokens: 40 })).toEqual({ ...reported, outputTokens: 40 });
  });
  it('counted beyond it: only the excess, as plain input', () => {
    expect(brokenUsage(reported, { inputTokens: 3600, outputTokens: 0 })).toEqual({ ...reported, inputTokens: 100 });
  });
  it('either missing: the other', () => {
    expect(brokenUsage(undefined, { inputTokens: 5, outputTokens: 6 })).toEqual({ inputTokens: 5, outputTokens: 6 });
    expect(brokenUsage(reported, undefined)).toEqual(reported);
  });
});

describe('web searches and the service tier beside the tokens', () => {
  it("Anthropic's server_tool_use.web_search_requests, in an answer, message_start and message_delta; a stream's running total", () => {
    const usage = { input_tokens: 100, output_tokens: 50, server_tool_use: { web_search_requests: 2 } };
    expect(usageOf({ type: 'message', usage })).toEqual({ inputTokens: 100, outputTokens: 50, webSearches: 2 });
    const start = {
      type: 'message_start',
      message: { usage: { ...usage, output_tokens: 1, server_tool_use: { web_search_requests: 0 } } },
    };
    const delta = { type: 'message_delta', usage: { output_tokens: 50, server_tool_use: { web_search_requests: 3 } } };
    expect(usageOf(start)).toEqual({ inputTokens: 100, outputTokens: 1 });
    // As a stream is metered (lib/providers/http relayStream): each event's usage merged, the largest figure per field.
    expect(fromTokenUsage(mergeUsage(usageOfPayload(start), usageOfPayload(delta)))).toEqual({
      inputTokens: 100,
      outputTokens: 50,
      webSearches: 3,
    });
  });

  it('a search count that is no count makes the usage unusable, as any other figure', () => {
    expect(usageOf({ usage: { input_tokens: 1, output_tokens: 1, server_tool_use: { web_search_requests: -1 } } })).toBeUndefined();
    expect(usageOf({ usage: { input_tokens: 1, output_tokens: 1, server_tool_use: { web_search_requests: '2' } } })).toBeUndefined();
  });

  it("the Responses API's web_search_call items, in a response and in response.completed", () => {
    const response = {
      object: 'response',
      output: [
        { type: 'web_search_call', id: 'ws_1', status: 'completed' },
        { type: 'web_search_call', id: 'ws_2', status: 'completed' },
        { type: 'message', content: [] },
      ],
      usage: { input_tokens: 10, output_tokens: 5 },
    };
    expect(usageOf(response)).toEqual({ inputTokens: 10, outputTokens: 5, webSearches: 2 });
    expect(usageOf({ type: 'response.completed', response })).toEqual({ inputTokens: 10, outputTokens: 5, webSearches: 2 });
  });

  it('only searches are billed searches: opening a page or finding in it is none (OpenAI bills neither)', () => {
    const call = (action?: Record<string, unknown>) => ({
      type: 'web_search_call',
      id: 'ws',
      status: 'completed',
      ...(action ? { action } : {}),
    });
    const response = {
      object: 'response',
      output: [
        call({ type: 'search', query: 'tollgate' }),
        call({ type: 'open_page', url: 'https://example.com' }),
        call({ type: 'find', pattern: 'x', url: 'https://example.com' }),
        call({ type: 'search', query: 'again' }),
      ],
      usage: { input_tokens: 10, output_tokens: 5 },
    };
    expect(usageOf(response)?.webSearches).toBe(2);
    // An item not showing its action yet (a stream's first event of it) counts, as it may search.
    expect(usageOf({ ...response, output: [call()] })?.webSearches).toBe(1);
  });

  it("the answer's own count of billable searches (tool_usage.web_search.num_requests) comes before its items", () => {
    const output = [1, 2, 3].map((i) => ({ type: 'web_search_call', id: `ws_${i}`, status: 'completed', action: { type: 'search' } }));
    const response = { object: 'response', output, usage: { input_tokens: 10, output_tokens: 5 } };
    // Discounted searches are left out of it.
    expect(usageOf({ ...response, tool_usage: { web_search: { num_requests: 1 } } })?.webSearches).toBe(1);
    expect(
      usageOf({ type: 'response.completed', response: { ...response, tool_usage: { web_search: { num_requests: 0 } } } })?.webSearches,
    ).toBeUndefined();
    // A count that is no count is not trusted: the items are.
    expect(usageOf({ ...response, tool_usage: { web_search: { num_requests: -1 } } })?.webSearches).toBe(3);
    expect(usageOf({ ...response, tool_usage: { web_search: { num_requests: '1' } } })?.webSearches).toBe(3);
  });

  it("the Responses API's file_search_call items, in a response and in response.completed, beside its web searches", () => {
    const response = {
      object: 'response',
      output: [
        { type: 'file_search_call', id: 'fs_1', status: 'completed', queries: ['a'] },
        { type: 'file_search_call', id: 'fs_2', status: 'completed', queries: ['b'] },
        { type: 'file_search_call', id: 'fs_3', status: 'completed', queries: ['c'] },
        { type: 'web_search_call', id: 'ws_1', status: 'completed' },
        { type: 'message', content: [] },
      ],
      usage: { input_tokens: 10, output_tokens: 5 },
    };
    const expected = { inputTokens: 10, outputTokens: 5, webSearches: 1, fileSearches: 3 };
    expect(usageOf(response)).toEqual(expected);
    expect(usageOf({ type: 'response.completed', response })).toEqual(expected);
    // No file search: none.
    expect(usageOf({ ...response, output: [] })).toEqual({ inputTokens: 10, outputTokens: 5 });
  });

  it('file searches merge as running totals (the larger) and add across separate calls (the sum)', () => {
    const none = { cacheReadTokens: 0, cacheWriteTokens: 0 };
    const a = { inputTokens: 1, outputTokens: 1, fileSearches: 2, ...none };
    const b = { inputTokens: 1, outputTokens: 1, fileSearches: 3, ...none };
    expect(mergeUsage(a, b)).toMatchObject({ fileSearches: 3 });
    expect(addUsage(a, b)).toMatchObject({ fileSearches: 5 });
  });

  it('usage that counts only file searches is usable (never charged as none)', () => {
    expect(usableUsage({ inputTokens: 0, outputTokens: 0, fileSearches: 1 })).toEqual({ inputTokens: 0, outputTokens: 0, fileSearches: 1 });
    expect(usableUsage({ inputTokens: 0, outputTokens: 0 })).toBeUndefined();
  });

  it('the service tier an OpenAI answer reports beside its usage (chat, a stream chunk, a response), and Anthropic inside it', () => {
    expect(usageOf({ service_tier: 'priority', usage: { prompt_tokens: 3, completion_tokens: 1 } })).toEqual({
      inputTokens: 3,
      outputTokens: 1,
      serviceTier: 'priority',
    });
    expect(
      usageOf({ type: 'response.completed', response: { service_tier: 'flex', usage: { input_tokens: 3, output_tokens: 1 } } }),
    ).toMatchObject({
      serviceTier: 'flex',
    });
    expect(usageOf({ usage: { input_tokens: 3, output_tokens: 1, service_tier: 'priority' } })).toMatchObject({ serviceTier: 'priority' });
    // A stream's tier is kept across events that do not repeat it.
    const none = { cacheReadTokens: 0, cacheWriteTokens: 0 };
    expect(
      mergeUsage({ inputTokens: 1, outputTokens: 0, serviceTier: 'priority', ...none }, { inputTokens: 1, outputTokens: 2, ...none }),
    ).toMatchObject({ serviceTier: 'priority' });
  });
});

describe('brokenUsage keeps the larger search count (reported so far, or shown started)', () => {
  it('a stream cut before the count: the searches it showed', () => {
    expect(brokenUsage({ inputTokens: 10, outputTokens: 1 }, { inputTokens: 5, outputTokens: 3, webSearches: 2 })).toMatchObject({
      webSearches: 2,
    });
    expect(
      brokenUsage({ inputTokens: 10, outputTokens: 1, webSearches: 4 }, { inputTokens: 5, outputTokens: 3, webSearches: 2 }),
    ).toMatchObject({
      webSearches: 4,
    });
  });

  it('and the larger file search count', () => {
    expect(brokenUsage({ inputTokens: 10, outputTokens: 1 }, { inputTokens: 5, outputTokens: 3, fileSearches: 2 })).toMatchObject({
      fileSearches: 2,
    });
    expect(
      brokenUsage({ inputTokens: 10, outputTokens: 1, fileSearches: 4 }, { inputTokens: 5, outputTokens: 3, fileSearches: 2 }),
    ).toMatchObject({ fileSearches: 4 });
  });
});

describe("the image generation tool's tokens (Responses tool_usage.image_gen), apart from the call's", () => {
  const imageGen = {
    input_tokens: 50,
    input_tokens_details: { image_tokens: 0, text_tokens: 50 },
    output_tokens: 6240,
    output_tokens_details: { image_tokens: 6240, text_tokens: 0 },
    total_tokens: 6290,
  };
  const response = {
    object: 'response',
    output: [{ type: 'image_generation_call', id: 'ig_1', status: 'completed', result: 'aW1n' }],
    usage: { input_tokens: 10, output_tokens: 5 },
    tool_usage: { image_gen: imageGen, web_search: { num_requests: 0 } },
  };
  const expected = { inputTokens: 10, outputTokens: 5, imageGen: { inputTokens: 50, outputTokens: 6240, imageOutputTokens: 6240 } };

  it('read from a response and from a stream event carrying it (response.completed), never into the base tokens; none: absent', () => {
    expect(usageOf(response)).toEqual(expected);
    expect(usageOf({ type: 'response.completed', response })).toEqual(expected);
    // A stream's events: usage null until the end, then the whole of it.
    const created = { type: 'response.created', response: { ...response, usage: null, tool_usage: null } };
    expect(fromTokenUsage(mergeUsage(usageOfPayload(created), usageOfPayload({ type: 'response.completed', response })))).toEqual(expected);
    // None: absent when no tool ran, when it counts nothing, or when a figure is no token count.
    expect(usageOf({ ...response, tool_usage: undefined })).toEqual({ inputTokens: 10, outputTokens: 5 });
    const zero = { ...imageGen, input_tokens: 0, output_tokens: 0, total_tokens: 0 };
    expect(usageOf({ ...response, tool_usage: { image_gen: zero } })).toEqual({ inputTokens: 10, outputTokens: 5 });
    for (const bad of [-1, 1.5, '6240', Number.NaN])
      expect(usageOf({ ...response, tool_usage: { image_gen: { ...imageGen, output_tokens: bad } } })?.imageGen).toBeUndefined();
  });

  it('its cached tokens are split out of its input, as cache reads (at most its input)', () => {
    const cached = { ...response, tool_usage: { image_gen: { ...imageGen, cached_tokens: 20 } } };
    expect(usageOf(cached)?.imageGen).toEqual({ inputTokens: 30, cacheReadTokens: 20, outputTokens: 6240, imageOutputTokens: 6240 });
    const over = { ...response, tool_usage: { image_gen: { ...imageGen, cached_tokens: 500 } } };
    expect(usageOf(over)?.imageGen).toEqual({ inputTokens: 0, cacheReadTokens: 50, outputTokens: 6240, imageOutputTokens: 6240 });
  });

  it('its input images (an edit’s) are image input; its output is the images it made unless its details say what is text', () => {
    const edit = { ...imageGen, input_tokens: 1050, input_tokens_details: { image_tokens: 1000, text_tokens: 50 } };
    expect(usageOf({ ...response, tool_usage: { image_gen: edit } })?.imageGen).toEqual({
      inputTokens: 1050,
      outputTokens: 6240,
      imageInputTokens: 1000,
      imageOutputTokens: 6240,
    });
    const { output_tokens_details: _, ...undetailed } = imageGen;
    expect(usageOf({ ...response, tool_usage: { image_gen: undetailed } })?.imageGen?.imageOutputTokens).toBe(6240);
    const someText = { ...imageGen, output_tokens_details: { text_tokens: 40 } };
    expect(usageOf({ ...response, tool_usage: { image_gen: someText } })?.imageGen?.imageOutputTokens).toBe(6200);
    // A split that is no token count: all of that side is images (the dearer reading).
    const bad = { ...imageGen, input_tokens_details: { image_tokens: 'NaN' }, output_tokens_details: { text_tokens: -1 } };
    expect(usageOf({ ...response, tool_usage: { image_gen: bad } })?.imageGen).toMatchObject({
      imageInputTokens: 50,
      imageOutputTokens: 6240,
    });
  });

  it('merges as running totals (the larger of each) and adds across separate calls (the sum)', () => {
    const none = { cacheReadTokens: 0, cacheWriteTokens: 0 };
    const a = { inputTokens: 1, outputTokens: 1, ...none, imageGen: { inputTokens: 10, outputTokens: 100 } };
    const b = { inputTokens: 1, outputTokens: 1, ...none, imageGen: { inputTokens: 20, cacheReadTokens: 5, outputTokens: 50 } };
    expect(mergeUsage(a, b)?.imageGen).toEqual({ inputTokens: 20, cacheReadTokens: 5, outputTokens: 100 });
    expect(addUsage(a, b).imageGen).toEqual({ inputTokens: 30, cacheReadTokens: 5, outputTokens: 150 });
    expect(mergeUsage(a, { inputTokens: 2, outputTokens: 2, ...none })?.imageGen).toEqual(a.imageGen);
  });

  it('usage that counts only image generation tokens is usable (never charged as none); a cut stream keeps what was reported', () => {
    const only = { inputTokens: 0, outputTokens: 0, imageGen: { inputTokens: 0, outputTokens: 1 } };
    expect(usableUsage(only)).toEqual(only);
    expect(
      brokenUsage({ inputTokens: 10, outputTokens: 1, imageGen: { inputTokens: 5, outputTokens: 9 } }, { inputTokens: 5, outputTokens: 3 }),
    ).toMatchObject({ imageGen: { inputTokens: 5, outputTokens: 9 } });
  });
});

describe('speech and images: output a usage does not split by kind is of the route’s kind', () => {
  it('is audio on speech and images on the images routes; a split usage is taken as it says; text routes are untouched', () => {
    const plain = { inputTokens: 20, outputTokens: 4000 };
    expect(withOutputKind(plain, 'image')).toEqual({ ...plain, imageOutputTokens: 4000 });
    expect(withOutputKind(plain, 'audio')).toEqual({ ...plain, audioOutputTokens: 4000 });
    expect(withOutputKind(plain, undefined)).toBe(plain);
    const split = { ...plain, imageOutputTokens: 3900 };
    expect(withOutputKind(split, 'image')).toBe(split);
    expect(withOutputKind({ inputTokens: 5, outputTokens: 0 }, 'image')).toEqual({ inputTokens: 5, outputTokens: 0 });
    expect(withOutputKind(undefined, 'image')).toBeUndefined();
  });
});

describe('a cut stream’s image generation tokens', () => {
  it('are those reported, else the images the answer showed (counted)', () => {
    const counted = { inputTokens: 5, outputTokens: 3, imageGen: { inputTokens: 0, outputTokens: 6240, imageOutputTokens: 6240 } };
    expect(brokenUsage({ inputTokens: 10, outputTokens: 1 }, counted)?.imageGen).toEqual(counted.imageGen);
    const reported = { inputTokens: 10, outputTokens: 1, imageGen: { inputTokens: 5, outputTokens: 9 } };
    expect(brokenUsage(reported, counted)?.imageGen).toEqual(reported.imageGen);
  });
});
