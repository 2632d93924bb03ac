/** Strict mode's estimate: the body's bytes for input (an upper bound for text), the output limit for output. */
import { describe, expect, it } from 'vitest';
import { countTokens } from '../../../infra/local/mock-upstream.js';
import {
  codeInterpreterBound,
  estimateUsage,
  fileSearchBound,
  outputLimitField,
  reachableTiers,
  requirePricedTier,
  unboundedServerTool,
  unboundedStoredInput,
  webSearchBound,
  withOutputLimit,
} from '../../../lib/llm/estimate.js';
import { matchRoute } from '../../../lib/routes.js';

const json = (value: Record<string, unknown>, path = '/v1/chat/completions') => ({
  body: { kind: 'json' as const, value },
  route: matchRoute('POST', path)!.route,
});

describe('estimateUsage', () => {
  it('input: the body in bytes, never fewer than the words (tokens) of the prompt, multi-byte text included', () => {
    for (const content of ['hello', 'a b c d e f g', 'ünïcödé wörds ✓ 漢字 かな', '']) {
      const value = { model: 'gpt-4o', messages: [{ role: 'user', content }] };
      const e = estimateUsage(json(value), 100);
      expect(e.inputTokens).toBe(Buffer.byteLength(JSON.stringify(value)));
      expect(e.inputTokens).toBeGreaterThanOrEqual(countTokens(content));
    }
  });

  it('made once a request: asked again (admission, then reservation) it is the same estimate, not recomputed', () => {
    const req = json({ max_tokens: 50, messages: [{ role: 'user', content: 'x'.repeat(1000) }] });
    const first = estimateUsage(req, 4096);
    expect(estimateUsage(req, 4096)).toBe(first);
    expect(Object.isFrozen(first)).toBe(true);
    // Another default, another route reading, another body: its own estimate.
    expect(estimateUsage(req, 100)).not.toBe(first);
    expect(estimateUsage({ ...req, route: { ...req.route, generates: false } }, 4096).outputTokens).toBe(0);
    expect(estimateUsage(json({ max_tokens: 50, messages: [{ role: 'user', content: 'x'.repeat(1000) }] }), 4096)).toEqual(first);
  });

  it('output: max_tokens, max_completion_tokens or max_output_tokens, times n; else the default', () => {
    expect(estimateUsage(json({ max_tokens: 50 }), 4096).outputTokens).toBe(50);
    expect(estimateUsage(json({ max_completion_tokens: 70 }), 4096).outputTokens).toBe(70);
    expect(estimateUsage(json({ max_output_tokens: 90 }, '/v1/responses'), 4096).outputTokens).toBe(90);
    expect(estimateUsage(json({ max_tokens: 50, n: 3 }), 4096).outputTokens).toBe(150);
    expect(estimateUsage(json({}), 4096).outputTokens).toBe(4096);
    // Not a usable limit: the default.
    for (const max_tokens of [0, -1, 1.5, '50', null]) expect(estimateUsage(json({ max_tokens }), 4096).outputTokens).toBe(4096);
  });

  it('embeddings produce no output tokens', () => {
    expect(estimateUsage(json({ input: 'x', max_tokens: 10 }, '/v1/embeddings'), 4096)).toEqual({ inputTokens: 29, outputTokens: 0 });
  });

  it('raw and form bodies count their bytes; no body counts none', () => {
    expect(
      estimateUsage(
        {
          body: { kind: 'raw', bytes: Buffer.alloc(1234), contentType: 'audio/wav' },
          route: matchRoute('POST', '/v1/audio/speech')!.route,
        },
        10,
      ),
    ).toEqual({ inputTokens: 1234, outputTokens: 10 });
    const form = new FormData();
    form.append('model', 'whisper');
    form.append('file', new Blob([new Uint8Array(500)]), 'a.wav');
    expect(
      estimateUsage({ body: { kind: 'form', value: form }, route: matchRoute('POST', '/v1/audio/transcriptions')!.route }, 10).inputTokens,
    ).toBe(507);
    expect(estimateUsage({ body: { kind: 'none' }, route: matchRoute('GET', '/v1/files')!.route }, 10)).toEqual({
      inputTokens: 0,
      outputTokens: 10,
    });
  });
});

describe('the strict estimate is an upper bound over every output limit (issue 11)', () => {
  it('the largest of max_tokens, max_completion_tokens and max_output_tokens, not the first', () => {
    expect(estimateUsage(json({ max_completion_tokens: 100000, max_tokens: 1 }), 4096).outputTokens).toBe(100000);
    expect(estimateUsage(json({ max_tokens: 7, max_output_tokens: 70, max_completion_tokens: 9 }), 4096).outputTokens).toBe(70);
  });
  it('times n times best_of: an upper bound however an upstream reads them', () => {
    expect(estimateUsage(json({ max_tokens: 10, n: 2, best_of: 5 }), 4096).outputTokens).toBe(100);
    expect(estimateUsage(json({ max_tokens: 10, best_of: 5 }), 4096).outputTokens).toBe(50);
    expect(estimateUsage(json({ max_tokens: 10, n: 3 }), 4096).outputTokens).toBe(30);
    // The largest of every bound at once stays a safe integer.
    expect(estimateUsage(json({ max_output_tokens: 10_000_000, n: 128, best_of: 128 }), 4096).outputTokens).toBe(163_840_000_000);
  });
});

describe('web searches in the strict estimate: bounded by the tools, or unbounded', () => {
  const messages = [{ role: 'user', content: 'search' }];
  const search = (extra: Record<string, unknown> = {}) => ({ type: 'web_search_20250305', name: 'web_search', ...extra });

  it("Anthropic: the sum of the search tools' max_uses", () => {
    const body = { model: 'claude', max_tokens: 10, messages, tools: [search({ max_uses: 3 }), search({ max_uses: 2 })] };
    expect(webSearchBound(body)).toBe(5);
    expect(estimateUsage(json(body, '/v1/messages'), 100).webSearches).toBe(5);
  });

  it('the Responses API: max_tool_calls bounds every built-in tool call; with both, the smaller', () => {
    expect(webSearchBound({ input: 'x', tools: [{ type: 'web_search' }], max_tool_calls: 4 })).toBe(4);
    expect(webSearchBound({ input: 'x', tools: [search({ max_uses: 9 })], max_tool_calls: 4 })).toBe(4);
    expect(webSearchBound({ input: 'x', tools: [search({ max_uses: 2 })], max_tool_calls: 4 })).toBe(2);
  });

  it('no search tool: no searches; function tools are not searches', () => {
    expect(webSearchBound({ messages, tools: [{ type: 'function', function: { name: 'f' } }] })).toBe(0);
    expect(estimateUsage(json({ model: 'gpt-4o', messages }), 100).webSearches).toBeUndefined();
  });

  it('a search tool without max_uses (or with one that is no count), and no max_tool_calls: unbounded, naming the tool', () => {
    for (const tools of [
      [search()],
      [search({ max_uses: 2 }), search()],
      [search({ max_uses: -1 })],
      [search({ max_uses: '3' })],
      [{ type: 'web_search_preview' }],
    ])
      expect(webSearchBound({ messages, tools })).toMatchObject({ unbounded: tools.at(-1)?.type });
  });
});

describe('file searches in the strict estimate: bounded by max_tool_calls, or unbounded', () => {
  const fileSearch = (extra: Record<string, unknown> = {}) => ({ type: 'file_search', vector_store_ids: ['vs_1'], ...extra });
  const responses = (value: Record<string, unknown>) => json({ model: 'gpt-4.1', input: 'find it', ...value }, '/v1/responses');

  it("the Responses API: the call's max_tool_calls (it bounds every built-in tool call)", () => {
    expect(fileSearchBound({ input: 'x', tools: [fileSearch()], max_tool_calls: 4 })).toBe(4);
    expect(estimateUsage(responses({ tools: [fileSearch()], max_tool_calls: 4 }), 100).fileSearches).toBe(4);
    // Azure's Responses routes too.
    const azure = { ...responses({}), route: matchRoute('POST', '/openai/v1/responses')!.route };
    expect(estimateUsage({ ...azure, body: { kind: 'json', value: { tools: [fileSearch()], max_tool_calls: 2 } } }, 100).fileSearches).toBe(
      2,
    );
  });

  it('max_num_results is results a call, not calls: it bounds nothing', () => {
    expect(fileSearchBound({ input: 'x', tools: [fileSearch({ max_num_results: 3 })] })).toMatchObject({ unbounded: 'file_search' });
    expect(fileSearchBound({ input: 'x', tools: [fileSearch({ max_num_results: 3 })], max_tool_calls: 6 })).toBe(6);
  });

  it('beside a web search tool, each is held at max_tool_calls (more than both can cost together, never less)', () => {
    const e = estimateUsage(responses({ tools: [{ type: 'web_search' }, fileSearch()], max_tool_calls: 3 }), 100);
    expect([e.webSearches, e.fileSearches]).toEqual([3, 3]);
  });

  it('no file search tool: no file searches; function and web search tools are not file searches', () => {
    expect(fileSearchBound({ input: 'x', tools: [{ type: 'function', name: 'f' }, { type: 'web_search' }], max_tool_calls: 2 })).toBe(0);
    expect(estimateUsage(responses({}), 100).fileSearches).toBeUndefined();
  });

  it('a file search tool without max_tool_calls (or with one that is no count): unbounded, naming file_search', () => {
    for (const max_tool_calls of [undefined, -1, 1.5, '3', null]) {
      const body = { input: 'x', tools: [fileSearch()], max_tool_calls };
      expect(fileSearchBound(body)).toMatchObject({ unbounded: 'file_search', why: expect.stringContaining('max_tool_calls') });
      expect(unboundedServerTool(responses(body))).toMatchObject({ unbounded: 'file_search' });
      expect(estimateUsage(responses(body), 100).fileSearches).toBeUndefined();
    }
  });

  it('only where a file search runs (the Responses routes): an assistant made with the tool is neither bounded nor refused', () => {
    const body = { model: 'gpt-4.1', tools: [fileSearch()] };
    const assistant = { body: { kind: 'json' as const, value: body }, route: matchRoute('POST', '/v1/assistants')!.route };
    expect(unboundedServerTool(assistant)).toBeUndefined();
    expect(estimateUsage(assistant, 100).fileSearches).toBeUndefined();
    // The same body read on both routes (an estimate is made once a body): each its own estimate.
    const shared = { kind: 'json' as const, value: { tools: [fileSearch()], max_tool_calls: 2 } };
    expect(estimateUsage({ route: assistant.route, body: shared }, 100).fileSearches).toBeUndefined();
    expect(estimateUsage({ route: responses({}).route, body: shared }, 100).fileSearches).toBe(2);
  });

  it('an unbounded web search tool is named first; both bounded: none', () => {
    expect(unboundedServerTool(responses({ tools: [{ type: 'web_search' }, fileSearch()] }))).toMatchObject({ unbounded: 'web_search' });
    expect(unboundedServerTool(responses({ tools: [{ type: 'web_search' }, fileSearch()], max_tool_calls: 1 }))).toBeUndefined();
  });
});

describe('the image generation tool in the strict estimate: unbounded, refused', () => {
  const responses = (value: Record<string, unknown>) => json({ model: 'gpt-4.1', input: 'draw a cat', ...value }, '/v1/responses');

  it("whatever bounds its calls, sizes or qualities (its image model's tokens are not bounded by the request); no such tool: none", () => {
    for (const tool of [
      { type: 'image_generation' },
      { type: 'image_generation', model: 'gpt-image-1', size: '1024x1024', quality: 'low', partial_images: 0 },
    ])
      for (const extra of [{}, { max_tool_calls: 1 }])
        expect(unboundedServerTool(responses({ tools: [tool], ...extra }))).toMatchObject({
          unbounded: 'image_generation',
          why: expect.stringContaining("image model's tokens"),
        });
    // Without one: none refused for it.
    expect(
      unboundedServerTool(responses({ tools: [{ type: 'function', name: 'f' }, { type: 'web_search' }], max_tool_calls: 2 })),
    ).toBeUndefined();
    expect(unboundedServerTool(responses({}))).toBeUndefined();
  });
});

describe('service tiers the strict estimate prices', () => {
  it('asked priority, none or auto: priority reachable; default: none; flex: flex', () => {
    expect(reachableTiers(json({ service_tier: 'priority' }))).toEqual(['priority']);
    expect(reachableTiers(json({}))).toEqual(['priority']);
    expect(reachableTiers(json({ service_tier: 'auto' }))).toEqual(['priority']);
    expect(reachableTiers(json({ service_tier: 'default' }))).toEqual([]);
    expect(reachableTiers(json({ service_tier: 'flex' }))).toEqual(['flex']);
  });

  it('asking priority of a model with no priority price: a 400 naming service_tier; with one, or asking another tier, fine', () => {
    const plain = { model_name: 'gpt', input_cost_per_million: 1, output_cost_per_million: 2 };
    expect(() => requirePricedTier(json({ service_tier: 'priority' }), plain)).toThrow(
      expect.objectContaining({ status: 400, code: 'invalid_field', param: 'service_tier' }),
    );
    const priced = { ...plain, input_cost_per_million_priority: 2, output_cost_per_million_priority: 4 };
    expect(() => requirePricedTier(json({ service_tier: 'priority' }), priced)).not.toThrow();
    expect(() => requirePricedTier(json({ service_tier: 'auto' }), plain)).not.toThrow();
    expect(() => requirePricedTier(json({ service_tier: 'flex' }), plain)).not.toThrow();
  });
});

describe('an unbounded tool is named only by a tool-shaped type (the refusal quotes it)', () => {
  it('a key glued to the type is not repeated', () => {
    const key = 'sk-Zq3vQm8TnR2pL5xW7yK9bC1dF4gH6jA0';
    expect(webSearchBound({ tools: [{ type: `web_search_${key}` }] })).toMatchObject({ unbounded: 'web_search' });
    expect(webSearchBound({ tools: [{ type: 'web_search_20250305' }] })).toMatchObject({ unbounded: 'web_search_20250305' });
  });
});

describe('code interpreter sessions in the strict estimate: a container of its size for each tool that has one made', () => {
  const responses = (value: Record<string, unknown>) => json({ model: 'gpt-4.1', input: 'run it', ...value }, '/v1/responses');
  const tool = (container: unknown) => ({ type: 'code_interpreter', container });

  it('one 1 GB session for an auto container; its memory_limit in GB; none for a container named by id', () => {
    expect(codeInterpreterBound({ tools: [tool({ type: 'auto' })] })).toBe(1);
    expect(codeInterpreterBound({ tools: [{ type: 'code_interpreter' }] })).toBe(1);
    for (const [limit, gb] of [
      ['1g', 1],
      ['4g', 4],
      ['16g', 16],
      ['64g', 64],
    ] as const)
      expect(codeInterpreterBound({ tools: [tool({ type: 'auto', memory_limit: limit })] })).toBe(gb);
    expect(codeInterpreterBound({ tools: [tool('cntr_abc')] })).toBe(0);
    expect(codeInterpreterBound({ tools: [{ type: 'file_search' }] })).toBe(0);
  });

  it('a size no table knows is the largest (an upper bound); several tools add up', () => {
    for (const odd of ['128g', 4, 'big', '']) expect(codeInterpreterBound({ tools: [tool({ type: 'auto', memory_limit: odd })] })).toBe(64);
    expect(codeInterpreterBound({ tools: [tool({ type: 'auto' }), tool({ type: 'auto', memory_limit: '4g' }), tool('cntr_x')] })).toBe(5);
  });

  it('is in the Responses estimate only (elsewhere no tool runs)', () => {
    expect(estimateUsage(responses({ tools: [tool({ type: 'auto', memory_limit: '16g' })] }), 100).codeInterpreterSessions).toBe(16);
    expect(
      estimateUsage(json({ model: 'gpt-4.1', messages: [], tools: [tool({ type: 'auto' })] }), 100).codeInterpreterSessions,
    ).toBeUndefined();
  });
});

describe('the output limit a strict call is sent with (found by review: none was sent)', () => {
  const openai = { provider: 'openai' as const, upstream_base_url: undefined };
  it('chat: max_completion_tokens where OpenAI serves it (OpenAI, Azure), max_tokens on every other upstream', () => {
    expect(outputLimitField('/chat/completions', openai)).toBe('max_completion_tokens');
    expect(outputLimitField('/chat/completions', { provider: undefined, upstream_base_url: 'https://api.openai.com/v1' })).toBe(
      'max_completion_tokens',
    );
    expect(outputLimitField('/chat/completions', { provider: 'azure', upstream_base_url: 'https://x.openai.azure.com' })).toBe(
      'max_completion_tokens',
    );
    expect(outputLimitField('/chat/completions', { provider: 'openai', upstream_base_url: 'http://vllm:8000/v1' })).toBe('max_tokens');
    // Azure before 2024-09-01-preview refuses max_completion_tokens (found by review).
    const azure = (api_version: string) => ({ provider: 'azure' as const, upstream_base_url: 'https://x.openai.azure.com', api_version });
    expect(outputLimitField('/chat/completions', azure('2024-06-01'))).toBe('max_tokens');
    expect(outputLimitField('/chat/completions', azure('2024-08-01-preview'))).toBe('max_tokens');
    expect(outputLimitField('/chat/completions', azure('2024-10-21'))).toBe('max_completion_tokens');
    expect(outputLimitField('/chat/completions', { provider: 'bedrock', upstream_base_url: undefined })).toBe('max_tokens');
  });

  it('completions and messages: max_tokens; responses: max_output_tokens; routes without one: none', () => {
    expect(outputLimitField('/completions', openai)).toBe('max_tokens');
    expect(outputLimitField('/messages', { provider: 'anthropic', upstream_base_url: undefined })).toBe('max_tokens');
    expect(outputLimitField('/responses', openai)).toBe('max_output_tokens');
    for (const path of ['/embeddings', '/images/generations', '/audio/speech', '/moderations', '/batches'])
      expect(outputLimitField(path, openai)).toBeUndefined();
  });

  it('adds the limit only to a body naming none, as a new body; the estimate then holds what is sent', () => {
    const body = { model: 'gpt-4o', messages: [] };
    const sent = withOutputLimit(body, '/chat/completions', openai, 300);
    expect(sent).toEqual({ ...body, max_completion_tokens: 300 });
    expect(body).not.toHaveProperty('max_completion_tokens');
    expect(estimateUsage(json(sent), 4096).outputTokens).toBe(estimateUsage(json(body), 300).outputTokens);
    // A null limit is none.
    expect(withOutputLimit({ ...body, max_tokens: null }, '/chat/completions', openai, 300)).toMatchObject({ max_completion_tokens: 300 });
    // A limit the route reads: sent as it is (chat reads both of its fields).
    for (const f of ['max_tokens', 'max_completion_tokens']) {
      const own = { ...body, [f]: 5 };
      expect(withOutputLimit(own, '/chat/completions', openai, 300)).toBe(own);
    }
    // One it does not read (a compatible server ignores it; found by review): the route's field gets the estimate's limit.
    expect(withOutputLimit({ ...body, max_output_tokens: 5 }, '/chat/completions', openai, 300)).toEqual({
      ...body,
      max_output_tokens: 5,
      max_completion_tokens: 5,
    });
    expect(withOutputLimit({ input: 'x', max_tokens: 7, max_completion_tokens: 9 }, '/responses', openai, 300)).toEqual({
      input: 'x',
      max_tokens: 7,
      max_completion_tokens: 9,
      max_output_tokens: 9,
    });
    expect(withOutputLimit(body, '/chat/completions', openai, undefined)).toBe(body);
    expect(withOutputLimit(body, '/embeddings', openai, 300)).toBe(body);
  });
});

describe('input the upstream keeps: unbounded for a strict caller', () => {
  const req = (value: Record<string, unknown>) => ({ body: { kind: 'json' as const, value } });
  it('names previous_response_id, conversation and item_reference inputs; nothing else', () => {
    expect(unboundedStoredInput(req({ previous_response_id: 'resp_1' }))?.param).toBe('previous_response_id');
    expect(unboundedStoredInput(req({ conversation: 'conv_1' }))?.param).toBe('conversation');
    expect(unboundedStoredInput(req({ conversation: { id: 'conv_1' } }))?.param).toBe('conversation');
    expect(
      unboundedStoredInput(
        req({
          input: [
            { type: 'message', content: 'x' },
            { type: 'item_reference', id: 'i' },
          ],
        }),
      )?.param,
    ).toBe('input');
    for (const value of [
      {},
      { previous_response_id: null },
      { previous_response_id: '' },
      { conversation: null },
      { input: 'text' },
      { input: [{ type: 'message', content: 'x' }] },
    ])
      expect(unboundedStoredInput(req(value))).toBeUndefined();
    expect(unboundedStoredInput({ body: { kind: 'none' } })).toBeUndefined();
  });
});

describe('images in the strict estimate: n from a form too, and each image at most what OpenAI’s table makes it (found by review)', () => {
  const images = (value: Record<string, unknown>) =>
    estimateUsage(json({ model: 'gpt-image-1', prompt: 'a cat', ...value }, '/v1/images/generations'), 4096);
  it('a quality or size the table prices: the larger of the limit and its tokens, times n', () => {
    expect(images({ n: 10, quality: 'high', size: '1536x1024' }).outputTokens).toBe(6208 * 10);
    expect(images({ quality: 'high', size: '1024x1536' }).outputTokens).toBe(6240);
    // `auto`, or one dimension unsaid: the dearest it may be.
    expect(images({ quality: 'auto' }).outputTokens).toBe(6240);
    expect(images({ quality: 'high' }).outputTokens).toBe(6240);
    expect(images({ size: '1536x1024' }).outputTokens).toBe(6208);
    // Cheaper than the limit: the limit holds.
    expect(images({ quality: 'low', size: '1024x1024' }).outputTokens).toBe(4096);
  });

  it('another model’s quality or size (dall-e): the limit', () => {
    expect(images({ quality: 'hd', size: '1792x1024' }).outputTokens).toBe(4096);
    expect(images({ quality: 'standard' }).outputTokens).toBe(4096);
  });

  it('neither quality nor size: `auto`, the upstream’s default, so the dearest (found by review: held at 4,096, it could make 6,240)', () => {
    expect(images({}).outputTokens).toBe(6240);
    expect(images({ n: 2 }).outputTokens).toBe(6240 * 2);
    expect(images({ quality: null, size: null }).outputTokens).toBe(6240);
    // A limit above the table still holds.
    expect(
      estimateUsage(json({ model: 'gpt-image-1', prompt: 'a cat', max_tokens: 10_000 }, '/v1/images/generations'), 4096).outputTokens,
    ).toBe(10_000);
  });

  it('each partial image a stream shows: 100 tokens more an image', () => {
    expect(images({ n: 2, quality: 'high', size: '1536x1024', partial_images: 3 }).outputTokens).toBe((6208 + 300) * 2);
  });

  it('a form’s n, quality and size (an image edit)', () => {
    const form = new FormData();
    form.set('model', 'gpt-image-1');
    form.set('n', '10');
    form.set('quality', 'high');
    form.set('size', '1536x1024');
    const e = estimateUsage({ body: { kind: 'form', value: form }, route: matchRoute('POST', '/v1/images/edits')!.route }, 4096);
    expect(e.outputTokens).toBe(6208 * 10);
  });

  it('text routes are held at the limit whatever a `quality` says', () => {
    expect(estimateUsage(json({ model: 'gpt-4o', messages: [], quality: 'high', n: 2 }), 100).outputTokens).toBe(200);
  });
});
