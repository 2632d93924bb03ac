import type { ConverseCommandOutput, ConverseStreamOutput } from '@aws-sdk/client-bedrock-runtime';
import { describe, expect, it } from 'vitest';
import { InvalidRequestError } from '../../../lib/errors.js';
import { converseToResponse, ResponsesStreamer, responsesToConverse } from '../../../lib/providers/bedrock/responses.js';

const MODEL = 'amazon.nova-pro-v1:0';
const PNG = `data:image/png;base64,${Buffer.from('img').toString('base64')}`;
const tool = {
  type: 'function',
  name: 'search',
  description: 'Search',
  parameters: { type: 'object', properties: { q: { type: 'string' } } },
};

describe('Responses API request -> Converse request', () => {
  it.each<[string, Record<string, unknown>, Record<string, unknown>]>([
    [
      'a string input, instructions as the system prompt',
      { instructions: 'Be brief.', input: 'hello' },
      { system: [{ text: 'Be brief.' }], messages: [{ role: 'user', content: [{ text: 'hello' }] }] },
    ],
    [
      'message items with text and image parts; assistant output_text',
      {
        input: [
          {
            role: 'user',
            content: [
              { type: 'input_text', text: 'what is this' },
              { type: 'input_image', image_url: PNG },
            ],
          },
          { type: 'message', role: 'assistant', content: [{ type: 'output_text', text: 'a picture' }] },
          { role: 'user', content: 'thanks' },
        ],
      },
      {
        messages: [
          {
            role: 'user',
            content: [{ text: 'what is this' }, { image: { format: 'png', source: { bytes: new Uint8Array(Buffer.from('img')) } } }],
          },
          { role: 'assistant', content: [{ text: 'a picture' }] },
          { role: 'user', content: [{ text: 'thanks' }] },
        ],
      },
    ],
    [
      'function_call items of one turn become one assistant turn; their outputs one user turn',
      {
        tools: [tool],
        input: [
          { role: 'user', content: 'find a and b' },
          { type: 'function_call', call_id: 'call_a', name: 'search', arguments: '{"q":"a"}' },
          { type: 'function_call', call_id: 'call_b', name: 'search', arguments: '{"q":"b"}' },
          { type: 'function_call_output', call_id: 'call_a', output: 'A' },
          { type: 'function_call_output', call_id: 'call_b', output: 'B' },
        ],
      },
      {
        messages: [
          { role: 'user', content: [{ text: 'find a and b' }] },
          {
            role: 'assistant',
            content: [
              { toolUse: { toolUseId: 'call_a', name: 'search', input: { q: 'a' } } },
              { toolUse: { toolUseId: 'call_b', name: 'search', input: { q: 'b' } } },
            ],
          },
          {
            role: 'user',
            content: [
              { toolResult: { toolUseId: 'call_a', content: [{ text: 'A' }] } },
              { toolResult: { toolUseId: 'call_b', content: [{ text: 'B' }] } },
            ],
          },
        ],
        toolConfig: { tools: [{ toolSpec: { name: 'search', description: 'Search', inputSchema: { json: tool.parameters } } }] },
      },
    ],
    [
      'max_output_tokens, temperature, top_p',
      { input: 'x', max_output_tokens: 64, temperature: 0.4, top_p: 0.5 },
      { inferenceConfig: { maxTokens: 64, temperature: 0.4, topP: 0.5 } },
    ],
    [
      'tool_choice required and named',
      { input: 'x', tools: [tool], tool_choice: { type: 'function', name: 'search' } },
      { toolConfig: expect.objectContaining({ toolChoice: { tool: { name: 'search' } } }) },
    ],
    [
      'text.format json_schema',
      { input: 'x', text: { format: { type: 'json_schema', name: 'out', schema: { type: 'object' }, strict: true } } },
      { outputConfig: { textFormat: { type: 'json_schema', structure: { jsonSchema: { name: 'out', schema: '{"type":"object"}' } } } } },
    ],
    [
      'store, metadata, user, include and a null reasoning change nothing',
      {
        input: 'x',
        store: true,
        metadata: { a: '1' },
        user: 'u',
        include: [],
        reasoning: { effort: null },
        truncation: 'disabled',
        background: false,
      },
      { messages: [{ role: 'user', content: [{ text: 'x' }] }] },
    ],
  ])('%s', (_, body, expected) => {
    expect(responsesToConverse(body, MODEL)).toMatchObject({ modelId: MODEL, ...expected });
  });

  it.each<[string, Record<string, unknown>, string]>([
    ['previous_response_id (Tollgate stores no responses)', { input: 'x', previous_response_id: 'resp_1' }, 'previous_response_id'],
    ['background mode', { input: 'x', background: true }, 'background'],
    ['a built-in tool', { input: 'x', tools: [{ type: 'web_search' }] }, 'tools[0].type'],
    ['a reasoning effort for a model that is not Claude', { input: 'x', reasoning: { effort: 'high' } }, 'reasoning.effort'],
    ['reasoning that is no object', { input: 'x', reasoning: 'high' }, 'reasoning'],
    [
      'a reasoning item whose content is no reasoning text',
      {
        input: [
          { role: 'user', content: 'x' },
          { type: 'reasoning', id: 'rs_1', summary: [], content: [{ type: 'output_text', text: 'y' }] },
        ],
      },
      'input[1].content[0]',
    ],
    [
      'a reasoning item whose encrypted_content is no string',
      {
        input: [
          { role: 'user', content: 'x' },
          { type: 'reasoning', id: 'rs_1', summary: [], encrypted_content: 5 },
        ],
      },
      'input[1].encrypted_content',
    ],
    ['a file part', { input: [{ role: 'user', content: [{ type: 'input_file', file_id: 'f' }] }] }, 'input[0].content[0].type'],
    [
      'an image by file id',
      { input: [{ role: 'user', content: [{ type: 'input_image', file_id: 'f' }] }] },
      'input[0].content[0].image_url',
    ],
    [
      'an image by web address',
      { input: [{ role: 'user', content: [{ type: 'input_image', image_url: 'https://x/y.png' }] }] },
      'input[0].content[0].image_url.url',
    ],
    [
      'an output nobody asked for',
      {
        input: [
          { role: 'user', content: 'x' },
          { type: 'function_call_output', call_id: 'nope', output: 'r' },
        ],
      },
      'input[1].call_id',
    ],
    [
      'arguments that are not JSON, named at their function_call item',
      {
        tools: [tool],
        input: [
          { role: 'user', content: 'x' },
          { type: 'function_call', call_id: 'c1', name: 'search', arguments: '{}' },
          { type: 'function_call', call_id: 'c2', name: 'search', arguments: '{oops' },
          { type: 'function_call_output', call_id: 'c1', output: 'a' },
          { type: 'function_call_output', call_id: 'c2', output: 'b' },
        ],
      },
      'input[2].arguments',
    ],
    [
      'a call left unanswered',
      {
        tools: [tool],
        input: [
          { role: 'user', content: 'x' },
          { type: 'function_call', call_id: 'c1', name: 'search', arguments: '{}' },
          { role: 'user', content: 'y' },
        ],
      },
      'input[1]',
    ],
    ['max_output_tokens 0', { input: 'x', max_output_tokens: 0 }, 'max_output_tokens'],
    [
      'a named tool_choice naming no tool',
      { input: 'x', tools: [tool], tool_choice: { type: 'function', name: 'other' } },
      'tool_choice.name',
    ],
    ['a tool name Bedrock refuses', { input: 'x', tools: [{ ...tool, name: 'a b' }] }, 'tools[0].name'],
    ['blank instructions and no input', { instructions: 'x', input: [] }, 'input'],
    ['an assistant first', { input: [{ role: 'assistant', content: 'hi' }] }, 'input'],
  ])('%s is a 400 naming %s', (_, body, param) => {
    let error: unknown;
    try {
      responsesToConverse(body, MODEL);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(InvalidRequestError);
    expect((error as InvalidRequestError).param).toBe(param);
    expect((error as InvalidRequestError).message).toContain(`\`${param}\``);
  });
});

const ctx = {
  id: 'resp_1',
  created: 1_700_000_000,
  model: 'nova',
  request: { input: 'x', instructions: 'Be brief.', max_output_tokens: 100 },
};

describe('Converse answer -> Response', () => {
  it('text as a message item, tool use as function_call items, usage with cached input counted', () => {
    const out = {
      output: {
        message: {
          role: 'assistant',
          content: [{ text: 'Let me look.' }, { toolUse: { toolUseId: 'tu1', name: 'search', input: { q: 'x' } } }],
        },
      },
      stopReason: 'tool_use',
      usage: { inputTokens: 10, outputTokens: 5, cacheReadInputTokens: 20, cacheWriteInputTokens: 0 },
    } as unknown as ConverseCommandOutput;
    const { body, usage } = converseToResponse(out, ctx);
    expect(body).toMatchObject({
      id: 'resp_1',
      object: 'response',
      created_at: 1_700_000_000,
      status: 'completed',
      incomplete_details: null,
      instructions: 'Be brief.',
      max_output_tokens: 100,
      model: 'nova',
      output: [
        {
          type: 'message',
          role: 'assistant',
          status: 'completed',
          content: [{ type: 'output_text', text: 'Let me look.', annotations: [] }],
        },
        { type: 'function_call', call_id: 'tu1', name: 'search', arguments: '{"q":"x"}', status: 'completed' },
      ],
      usage: {
        input_tokens: 30,
        input_tokens_details: { cached_tokens: 20 },
        output_tokens: 5,
        output_tokens_details: { reasoning_tokens: 0 },
        total_tokens: 35,
      },
    });
    expect(usage).toEqual({ inputTokens: 10, outputTokens: 5, cacheReadTokens: 20, cacheWriteTokens: 0 });
  });

  it.each([
    ['max_tokens', 'incomplete', { reason: 'max_output_tokens' }],
    ['content_filtered', 'incomplete', { reason: 'content_filter' }],
    ['end_turn', 'completed', null],
    ['stop_sequence', 'completed', null],
  ])('stopReason %s: status %s', (stopReason, status, details) => {
    const { body } = converseToResponse(
      { output: { message: { role: 'assistant', content: [{ text: 'x' }] } }, stopReason } as unknown as ConverseCommandOutput,
      ctx,
    );
    expect(body).toMatchObject({ status, incomplete_details: details });
  });
});

describe('ConverseStream -> Responses stream events', () => {
  const ev = (e: Record<string, unknown>) => e as unknown as ConverseStreamOutput;

  it('the event sequence OpenAI sends, numbered, with the usage on response.completed', () => {
    const s = new ResponsesStreamer(ctx);
    const events = [
      ev({ messageStart: { role: 'assistant' } }),
      ev({ contentBlockDelta: { contentBlockIndex: 0, delta: { text: 'Hi' } } }),
      ev({ contentBlockDelta: { contentBlockIndex: 0, delta: { text: ' there' } } }),
      ev({ contentBlockStop: { contentBlockIndex: 0 } }),
      ev({ contentBlockStart: { contentBlockIndex: 1, start: { toolUse: { toolUseId: 'tu', name: 'search' } } } }),
      ev({ contentBlockDelta: { contentBlockIndex: 1, delta: { toolUse: { input: '{"q":' } } } }),
      ev({ contentBlockDelta: { contentBlockIndex: 1, delta: { toolUse: { input: '"x"}' } } } }),
      ev({ contentBlockStop: { contentBlockIndex: 1 } }),
      ev({ messageStop: { stopReason: 'tool_use' } }),
      ev({ metadata: { usage: { inputTokens: 3, outputTokens: 4 }, metrics: { latencyMs: 1 } } }),
    ].flatMap((e) => s.push(e));
    expect(events.map((e) => e.event)).toEqual([
      'response.created',
      'response.in_progress',
      'response.output_item.added',
      'response.content_part.added',
      'response.output_text.delta',
      'response.output_text.delta',
      'response.output_text.done',
      'response.content_part.done',
      'response.output_item.done',
      'response.output_item.added',
      'response.function_call_arguments.delta',
      'response.function_call_arguments.delta',
      'response.function_call_arguments.done',
      'response.output_item.done',
      'response.completed',
    ]);
    expect(events.map((e) => e.data.sequence_number)).toEqual(events.map((_, i) => i));
    expect(events.every((e) => e.data.type === e.event)).toBe(true);
    expect(events[6]?.data).toMatchObject({ output_index: 0, text: 'Hi there' });
    expect(events[12]?.data).toMatchObject({ output_index: 1, arguments: '{"q":"x"}' });
    const completed = events.at(-1)?.data.response as Record<string, unknown>;
    expect(completed).toMatchObject({
      status: 'completed',
      output: [
        { type: 'message', status: 'completed', content: [{ type: 'output_text', text: 'Hi there' }] },
        { type: 'function_call', call_id: 'tu', name: 'search', arguments: '{"q":"x"}', status: 'completed' },
      ],
      usage: { input_tokens: 3, output_tokens: 4, total_tokens: 7 },
    });
    expect(s.usage).toEqual({ inputTokens: 3, outputTokens: 4, cacheReadTokens: 0, cacheWriteTokens: 0 });
  });

  it('a stream that ends without metadata closes its items and completes without usage', () => {
    const s = new ResponsesStreamer(ctx);
    s.push(ev({ contentBlockDelta: { contentBlockIndex: 0, delta: { text: 'x' } } }));
    s.push(ev({ messageStop: { stopReason: 'max_tokens' } }));
    const end = s.end();
    expect(end.map((e) => e.event)).toEqual([
      'response.output_text.done',
      'response.content_part.done',
      'response.output_item.done',
      'response.incomplete',
    ]);
    expect(end.at(-1)?.data.response).toMatchObject({
      status: 'incomplete',
      incomplete_details: { reason: 'max_output_tokens' },
      usage: null,
    });
    expect(s.end()).toEqual([]);
  });
});

describe("Claude's extended thinking through the Responses API (reasoning.effort, reasoning items)", () => {
  const CLAUDE = 'anthropic.claude-3-7-sonnet-20250219-v1:0';
  const ev = (e: Record<string, unknown>) => e as unknown as ConverseStreamOutput;
  const opaque = Buffer.from('opaque').toString('base64');

  it('reasoning.effort asks for a thinking budget; reasoning items sent back are the thinking of the assistant turn after them', () => {
    const input = responsesToConverse(
      {
        model: 'claude',
        reasoning: { effort: 'low', summary: 'auto' },
        max_output_tokens: 4000,
        tools: [tool],
        input: [
          { role: 'user', content: 'find x' },
          {
            type: 'reasoning',
            id: 'rs_1',
            summary: [],
            content: [{ type: 'reasoning_text', text: 'I will search.' }],
            encrypted_content: 'sig',
          },
          { type: 'reasoning', id: 'rs_2', summary: [], encrypted_content: `redacted_thinking:${opaque}` },
          { type: 'function_call', call_id: 'c1', name: 'search', arguments: '{"q":"x"}' },
          { type: 'function_call_output', call_id: 'c1', output: 'found' },
        ],
      },
      CLAUDE,
    );
    expect(input.additionalModelRequestFields).toEqual({ thinking: { type: 'enabled', budget_tokens: 1024 } });
    expect(input.messages?.[1]?.content).toEqual([
      { reasoningContent: { reasoningText: { text: 'I will search.', signature: 'sig' } } },
      { reasoningContent: { redactedContent: new Uint8Array(Buffer.from('opaque')) } },
      { toolUse: { toolUseId: 'c1', name: 'search', input: { q: 'x' } } },
    ]);
  });

  it("thinking between a turn's text and its call stays that turn's; unsigned reasoning (another model's, or none kept) is left out (found by review)", () => {
    const input = responsesToConverse(
      {
        reasoning: { effort: 'low' },
        max_output_tokens: 4000,
        tools: [tool],
        input: [
          { role: 'user', content: 'find x' },
          { type: 'reasoning', id: 'rs_0', summary: [], content: null, encrypted_content: null },
          { type: 'message', role: 'assistant', content: 'Let me look.' },
          {
            type: 'reasoning',
            id: 'rs_1',
            summary: [],
            content: [{ type: 'reasoning_text', text: 'Search it.' }],
            encrypted_content: 'SIG2',
          },
          { type: 'function_call', call_id: 'c1', name: 'search', arguments: '{}' },
          { type: 'function_call_output', call_id: 'c1', output: 'found' },
        ],
      },
      CLAUDE,
    );
    expect(input.messages?.[1]?.content).toEqual([
      { reasoningContent: { reasoningText: { text: 'Search it.', signature: 'SIG2' } } },
      { text: 'Let me look.' },
      { toolUse: { toolUseId: 'c1', name: 'search', input: {} } },
    ]);
  });

  it('a thinking block answers as a reasoning item before the text, signed in encrypted_content; the effort is echoed', () => {
    const { body } = converseToResponse(
      {
        output: {
          message: {
            role: 'assistant',
            content: [
              { reasoningContent: { reasoningText: { text: 'Hmm.', signature: 'sig-1' } } },
              { reasoningContent: { redactedContent: new Uint8Array(Buffer.from('opaque')) } },
              { text: 'Done.' },
            ],
          },
        },
        stopReason: 'end_turn',
        usage: { inputTokens: 3, outputTokens: 9, totalTokens: 12 },
      } as ConverseCommandOutput,
      { ...ctx, request: { reasoning: { effort: 'low' } } },
    );
    expect(body.reasoning).toEqual({ effort: 'low', summary: null });
    expect((body.output as Record<string, unknown>[]).map((i) => i.type)).toEqual(['reasoning', 'reasoning', 'message']);
    expect(body.output).toMatchObject([
      { type: 'reasoning', summary: [], content: [{ type: 'reasoning_text', text: 'Hmm.' }], encrypted_content: 'sig-1' },
      { type: 'reasoning', summary: [], content: [], encrypted_content: `redacted_thinking:${opaque}` },
      { type: 'message', content: [{ type: 'output_text', text: 'Done.' }] },
    ]);
  });

  it('streamed: reasoning_text deltas of a reasoning item, done with its text and signature, before the message', () => {
    const s = new ResponsesStreamer(ctx);
    const events = [
      ev({ messageStart: { role: 'assistant' } }),
      ev({ contentBlockDelta: { contentBlockIndex: 0, delta: { reasoningContent: { text: 'Let me ' } } } }),
      ev({ contentBlockDelta: { contentBlockIndex: 0, delta: { reasoningContent: { text: 'think.' } } } }),
      ev({ contentBlockDelta: { contentBlockIndex: 0, delta: { reasoningContent: { signature: 'sig-0' } } } }),
      ev({ contentBlockStop: { contentBlockIndex: 0 } }),
      ev({ contentBlockDelta: { contentBlockIndex: 1, delta: { text: 'Hi' } } }),
      ev({ contentBlockStop: { contentBlockIndex: 1 } }),
      ev({ messageStop: { stopReason: 'end_turn' } }),
      ev({ metadata: { usage: { inputTokens: 3, outputTokens: 6 }, metrics: { latencyMs: 1 } } }),
    ].flatMap((e) => s.push(e));
    expect(events.map((e) => e.event).slice(2, 7)).toEqual([
      'response.output_item.added',
      'response.reasoning_text.delta',
      'response.reasoning_text.delta',
      'response.reasoning_text.done',
      'response.output_item.done',
    ]);
    expect(events[5]?.data).toMatchObject({ output_index: 0, text: 'Let me think.' });
    const reasoning = { type: 'reasoning', content: [{ type: 'reasoning_text', text: 'Let me think.' }], encrypted_content: 'sig-0' };
    expect(events[6]?.data).toMatchObject({ output_index: 0, item: reasoning });
    const completed = events.at(-1)?.data.response as { output: Record<string, unknown>[] };
    expect(completed.output).toMatchObject([reasoning, { type: 'message' }]);
  });
});
