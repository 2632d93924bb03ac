import type { ConverseCommandOutput, ConverseStreamOutput } from '@aws-sdk/client-bedrock-runtime';
import { describe, expect, it } from 'vitest';
import { InvalidRequestError } from '../../../lib/errors.js';
import { converseToMessage, isClaudeOnBedrock, MessagesStreamer, messagesToConverse } from '../../../lib/providers/bedrock/messages.js';

const MODEL = 'anthropic.claude-sonnet-4-20250514-v1:0';
const IMG = Buffer.from('png bytes');
const base = { model: 'claude', max_tokens: 100 };
const user = (content: unknown) => ({ role: 'user', content });
const tool = { name: 'search', description: 'Search', input_schema: { type: 'object', properties: { q: { type: 'string' } } } };

describe('Claude models on Bedrock', () => {
  it.each([
    ['anthropic.claude-3-5-sonnet-20240620-v1:0', true],
    ['us.anthropic.claude-sonnet-4-20250514-v1:0', true],
    ['arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-3-haiku-20240307-v1:0', true],
    ['amazon.nova-pro-v1:0', false],
    ['meta.llama3-70b-instruct-v1:0', false],
  ])('%s: %s', (id, claude) => expect(isClaudeOnBedrock(id)).toBe(claude));
});

describe('Anthropic Messages request -> Converse request', () => {
  const cases: { name: string; body: Record<string, unknown>; expected: Record<string, unknown> }[] = [
    {
      name: 'text, max_tokens, temperature, top_p, stop_sequences; the stop sequence asked back',
      body: { ...base, messages: [user('Hi')], temperature: 0.3, top_p: 0.8, stop_sequences: ['END'] },
      expected: {
        messages: [{ role: 'user', content: [{ text: 'Hi' }] }],
        inferenceConfig: { maxTokens: 100, temperature: 0.3, topP: 0.8, stopSequences: ['END'] },
        additionalModelResponseFieldPaths: ['/stop_sequence'],
      },
    },
    {
      name: 'a system string, or system blocks with cache_control becoming a cache point',
      body: {
        ...base,
        system: [
          { type: 'text', text: 'Long rules', cache_control: { type: 'ephemeral' } },
          { type: 'text', text: 'More' },
        ],
        messages: [user('Hi')],
      },
      expected: { system: [{ text: 'Long rules' }, { cachePoint: { type: 'default' } }, { text: 'More' }] },
    },
    {
      name: 'cache_control on a message block and on a tool',
      body: {
        ...base,
        tools: [{ ...tool, cache_control: { type: 'ephemeral' } }],
        messages: [
          user([
            { type: 'text', text: 'doc', cache_control: { type: 'ephemeral' } },
            { type: 'text', text: 'q' },
          ]),
        ],
      },
      expected: {
        messages: [{ role: 'user', content: [{ text: 'doc' }, { cachePoint: { type: 'default' } }, { text: 'q' }] }],
        toolConfig: {
          tools: [
            { toolSpec: { name: 'search', description: 'Search', inputSchema: { json: tool.input_schema } } },
            { cachePoint: { type: 'default' } },
          ],
        },
      },
    },
    {
      name: 'images and PDF documents as bytes',
      body: {
        ...base,
        messages: [
          user([
            { type: 'image', source: { type: 'base64', media_type: 'image/jpeg', data: IMG.toString('base64') } },
            {
              type: 'document',
              title: 'Q3 report.pdf',
              source: { type: 'base64', media_type: 'application/pdf', data: IMG.toString('base64') },
            },
          ]),
        ],
      },
      expected: {
        messages: [
          {
            role: 'user',
            content: [
              { image: { format: 'jpeg', source: { bytes: new Uint8Array(IMG) } } },
              { document: { format: 'pdf', name: 'Q3 report pdf', source: { bytes: new Uint8Array(IMG) } } },
            ],
          },
        ],
      },
    },
    {
      name: 'tool use, tool result (error status, image content), thinking with its signature',
      body: {
        ...base,
        tools: [tool],
        messages: [
          user('find x'),
          {
            role: 'assistant',
            content: [
              { type: 'thinking', thinking: 'I should search', signature: 'sig==' },
              { type: 'tool_use', id: 'toolu_1', name: 'search', input: { q: 'x' } },
            ],
          },
          user([
            { type: 'tool_result', tool_use_id: 'toolu_1', is_error: true, content: [{ type: 'text', text: 'timeout' }] },
            { type: 'text', text: 'try again' },
          ]),
        ],
      },
      expected: {
        messages: [
          { role: 'user', content: [{ text: 'find x' }] },
          {
            role: 'assistant',
            content: [
              { reasoningContent: { reasoningText: { text: 'I should search', signature: 'sig==' } } },
              { toolUse: { toolUseId: 'toolu_1', name: 'search', input: { q: 'x' } } },
            ],
          },
          {
            role: 'user',
            content: [{ toolResult: { toolUseId: 'toolu_1', content: [{ text: 'timeout' }], status: 'error' } }, { text: 'try again' }],
          },
        ],
      },
    },
    {
      name: 'tool_choice auto, any, tool',
      body: { ...base, tools: [tool], tool_choice: { type: 'tool', name: 'search' }, messages: [user('x')] },
      expected: { toolConfig: expect.objectContaining({ toolChoice: { tool: { name: 'search' } } }) },
    },
    {
      name: 'top_k and thinking go to additionalModelRequestFields',
      body: { ...base, top_k: 5, thinking: { type: 'enabled', budget_tokens: 1024 }, messages: [user('x')] },
      expected: { additionalModelRequestFields: { top_k: 5, thinking: { type: 'enabled', budget_tokens: 1024 } } },
    },
    {
      name: 'consecutive user messages merge',
      body: { ...base, messages: [user('a'), user('b')] },
      expected: { messages: [{ role: 'user', content: [{ text: 'a' }, { text: 'b' }] }] },
    },
  ];

  it.each(cases)('$name', ({ body, expected }) => {
    expect(messagesToConverse(body, MODEL)).toMatchObject({ modelId: MODEL, ...expected });
  });

  it.each([
    ['max_tokens missing', { model: 'c', messages: [user('x')] }, 'max_tokens'],
    [
      'an image by URL',
      { ...base, messages: [user([{ type: 'image', source: { type: 'url', url: 'https://x/y.png' } }])] },
      'messages[0].content[0].source.type',
    ],
    ['a server tool', { ...base, tools: [{ type: 'web_search_20250305', name: 'web_search' }], messages: [user('x')] }, 'tools[0].type'],
    [
      'disable_parallel_tool_use',
      { ...base, tools: [tool], tool_choice: { type: 'auto', disable_parallel_tool_use: true }, messages: [user('x')] },
      'tool_choice.disable_parallel_tool_use',
    ],
    [
      'tool_use in a user message',
      { ...base, tools: [tool], messages: [user([{ type: 'tool_use', id: 'a', name: 'search', input: {} }])] },
      'messages[0].content[0].type',
    ],
    ['an assistant first', { ...base, messages: [{ role: 'assistant', content: 'hi' }] }, 'messages'],
    [
      'tool blocks without tools',
      {
        ...base,
        messages: [
          user('x'),
          { role: 'assistant', content: [{ type: 'tool_use', id: 't', name: 'search', input: {} }] },
          user([{ type: 'tool_result', tool_use_id: 't', content: 'r' }]),
        ],
      },
      'tools',
    ],
    [
      'a tool_use left unanswered',
      {
        ...base,
        tools: [tool],
        messages: [user('x'), { role: 'assistant', content: [{ type: 'tool_use', id: 't', name: 'search', input: {} }] }, user('next')],
      },
      'messages',
    ],
    ['temperature above 1', { ...base, temperature: 1.2, messages: [user('x')] }, 'temperature'],
    ['a container', { ...base, container: 'c1', messages: [user('x')] }, 'container'],
    [
      'bad cache_control',
      { ...base, system: [{ type: 'text', text: 'x', cache_control: { type: 'forever' } }], messages: [user('x')] },
      'system[0].cache_control',
    ],
  ])('%s is a 400 naming %s', (_, body, param) => {
    let error: unknown;
    try {
      messagesToConverse(body as Record<string, unknown>, MODEL);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(InvalidRequestError);
    expect((error as InvalidRequestError).param).toBe(param);
  });
});

describe('Converse answer -> Anthropic message', () => {
  it('text, tool use and thinking blocks; stop reason and sequence; usage with cache figures', () => {
    const out = {
      output: {
        message: {
          role: 'assistant',
          content: [
            { reasoningContent: { reasoningText: { text: 'hmm', signature: 's1' } } },
            { text: 'Checking' },
            { toolUse: { toolUseId: 'tu1', name: 'search', input: { q: 'x' } } },
          ],
        },
      },
      stopReason: 'tool_use',
      usage: { inputTokens: 10, outputTokens: 20, totalTokens: 330, cacheReadInputTokens: 250, cacheWriteInputTokens: 50 },
      additionalModelResponseFields: { stop_sequence: null },
    } as unknown as ConverseCommandOutput;
    const { body, usage } = converseToMessage(out, { id: 'msg_1', model: 'claude' });
    expect(body).toEqual({
      id: 'msg_1',
      type: 'message',
      role: 'assistant',
      model: 'claude',
      content: [
        { type: 'thinking', thinking: 'hmm', signature: 's1' },
        { type: 'text', text: 'Checking' },
        { type: 'tool_use', id: 'tu1', name: 'search', input: { q: 'x' } },
      ],
      stop_reason: 'tool_use',
      stop_sequence: null,
      usage: { input_tokens: 10, output_tokens: 20, cache_creation_input_tokens: 50, cache_read_input_tokens: 250 },
    });
    expect(usage).toEqual({ inputTokens: 10, outputTokens: 20, cacheReadTokens: 250, cacheWriteTokens: 50 });
  });

  it.each([
    ['end_turn', 'end_turn'],
    ['stop_sequence', 'stop_sequence'],
    ['max_tokens', 'max_tokens'],
    ['content_filtered', 'refusal'],
    ['guardrail_intervened', 'refusal'],
    ['model_context_window_exceeded', 'model_context_window_exceeded'],
  ])('stopReason %s is stop_reason %s', (reason, expected) => {
    const out = {
      output: { message: { role: 'assistant', content: [{ text: 'x' }] } },
      stopReason: reason,
      additionalModelResponseFields: { stop_sequence: reason === 'stop_sequence' ? 'END' : null },
    } as unknown as ConverseCommandOutput;
    const { body } = converseToMessage(out, { id: 'm', model: 'c' });
    expect(body.stop_reason).toBe(expected);
    expect(body.stop_sequence).toBe(reason === 'stop_sequence' ? 'END' : null);
  });
});

describe('ConverseStream -> Anthropic stream events', () => {
  const ev = (e: Record<string, unknown>) => e as unknown as ConverseStreamOutput;
  it('message_start, block starts made for implicit text blocks, deltas, stops, then message_delta with the usage and message_stop', () => {
    const s = new MessagesStreamer({ id: 'msg_s', model: 'claude' });
    const events = [
      ev({ messageStart: { role: 'assistant' } }),
      ev({ contentBlockDelta: { contentBlockIndex: 0, delta: { text: 'Hi' } } }),
      ev({ contentBlockDelta: { contentBlockIndex: 0, delta: { text: ' there' } } }),
      ev({ contentBlockStop: { contentBlockIndex: 0 } }),
      ev({ contentBlockStart: { contentBlockIndex: 1, start: { toolUse: { toolUseId: 'tu', name: 'search' } } } }),
      ev({ contentBlockDelta: { contentBlockIndex: 1, delta: { toolUse: { input: '{"q":' } } } }),
      ev({ contentBlockDelta: { contentBlockIndex: 1, delta: { toolUse: { input: '"x"}' } } } }),
      ev({ contentBlockStop: { contentBlockIndex: 1 } }),
      ev({ messageStop: { stopReason: 'tool_use', additionalModelResponseFields: { stop_sequence: null } } }),
      ev({
        metadata: {
          usage: { inputTokens: 5, outputTokens: 7, cacheReadInputTokens: 3, cacheWriteInputTokens: 0 },
          metrics: { latencyMs: 1 },
        },
      }),
    ].flatMap((e) => s.push(e));
    expect(events.map((e) => e.event)).toEqual([
      'message_start',
      'content_block_start',
      'content_block_delta',
      'content_block_delta',
      'content_block_stop',
      'content_block_start',
      'content_block_delta',
      'content_block_delta',
      'content_block_stop',
      'message_delta',
      'message_stop',
    ]);
    expect(events[0]?.data).toMatchObject({
      message: { id: 'msg_s', role: 'assistant', content: [], usage: { input_tokens: 0, output_tokens: 0 } },
    });
    expect(events[1]?.data).toEqual({ type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } });
    expect(events[2]?.data).toEqual({ type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'Hi' } });
    expect(events[5]?.data).toEqual({
      type: 'content_block_start',
      index: 1,
      content_block: { type: 'tool_use', id: 'tu', name: 'search', input: {} },
    });
    expect(events[6]?.data).toEqual({ type: 'content_block_delta', index: 1, delta: { type: 'input_json_delta', partial_json: '{"q":' } });
    expect(events[9]?.data).toEqual({
      type: 'message_delta',
      delta: { stop_reason: 'tool_use', stop_sequence: null },
      usage: { input_tokens: 5, output_tokens: 7, cache_creation_input_tokens: 0, cache_read_input_tokens: 3 },
    });
    expect(s.usage).toEqual({ inputTokens: 5, outputTokens: 7, cacheReadTokens: 3, cacheWriteTokens: 0 });
  });

  it('thinking deltas and signatures', () => {
    const s = new MessagesStreamer({ id: 'm', model: 'c' });
    const events = [
      ev({ contentBlockDelta: { contentBlockIndex: 0, delta: { reasoningContent: { text: 'let me think' } } } }),
      ev({ contentBlockDelta: { contentBlockIndex: 0, delta: { reasoningContent: { signature: 'sig' } } } }),
    ].flatMap((e) => s.push(e));
    expect(events.map((e) => e.data)).toEqual([
      expect.objectContaining({ type: 'message_start' }),
      { type: 'content_block_start', index: 0, content_block: { type: 'thinking', thinking: '', signature: '' } },
      { type: 'content_block_delta', index: 0, delta: { type: 'thinking_delta', thinking: 'let me think' } },
      { type: 'content_block_delta', index: 0, delta: { type: 'signature_delta', signature: 'sig' } },
    ]);
  });

  it('a stream that ends without metadata still closes the message (usage unknown)', () => {
    const s = new MessagesStreamer({ id: 'm', model: 'c' });
    s.push(ev({ messageStart: { role: 'assistant' } }));
    s.push(ev({ messageStop: { stopReason: 'end_turn' } }));
    expect(s.end().map((e) => e.event)).toEqual(['message_delta', 'message_stop']);
    expect(s.end()).toEqual([]);
    expect(s.usage).toBeUndefined();
  });
});

describe("cache_control's ttl reaches Bedrock (found by review: a 1-hour cache point became a 5-minute one)", () => {
  it('ttl 1h and 5m become the cache point ttl, in system, messages and tools', () => {
    const out = messagesToConverse(
      {
        ...base,
        system: [{ type: 'text', text: 'Long rules', cache_control: { type: 'ephemeral', ttl: '1h' } }],
        messages: [user([{ type: 'text', text: 'doc', cache_control: { type: 'ephemeral', ttl: '5m' } }])],
        tools: [{ ...tool, cache_control: { type: 'ephemeral', ttl: '1h' } }],
      },
      MODEL,
    );
    expect(out.system).toEqual([{ text: 'Long rules' }, { cachePoint: { type: 'default', ttl: '1h' } }]);
    expect(out.messages?.[0]?.content).toEqual([{ text: 'doc' }, { cachePoint: { type: 'default', ttl: '5m' } }]);
    expect(out.toolConfig?.tools?.[1]).toEqual({ cachePoint: { type: 'default', ttl: '1h' } });
  });
  it('another ttl is a 400 naming the field', () => {
    expect(() =>
      messagesToConverse(
        { ...base, messages: [user([{ type: 'text', text: 'doc', cache_control: { type: 'ephemeral', ttl: '2h' } }])] },
        MODEL,
      ),
    ).toThrow(/messages\[0\]\.content\[0\]\.cache_control/);
  });
});
