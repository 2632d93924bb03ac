import type { ConverseCommandOutput } from '@aws-sdk/client-bedrock-runtime';
import { describe, expect, it } from 'vitest';
import { InvalidRequestError } from '../../../lib/errors.js';
import { fromConverseResponse, toConverseRequest, usageOfConverse } from '../../../lib/providers/bedrock/translate.js';

const MODEL = 'anthropic.claude-3-5-sonnet-20240620-v1:0';
const PNG = Buffer.from([0x89, 0x50, 0x4e, 0x47, 1, 2, 3]);
const dataUrl = (mime: string, bytes: Buffer = PNG) => `data:${mime};base64,${bytes.toString('base64')}`;
const user = (content: unknown) => ({ role: 'user', content });
const weatherTool = {
  type: 'function',
  function: {
    name: 'get_weather',
    description: 'Weather for a city',
    parameters: { type: 'object', properties: { city: { type: 'string' } } },
  },
};
const call = (id: string, name = 'get_weather', args = '{"city":"Paris"}') => ({
  id,
  type: 'function',
  function: { name, arguments: args },
});

describe('OpenAI chat request -> Converse request', () => {
  const cases: { name: string; body: Record<string, unknown>; expected: Record<string, unknown> }[] = [
    {
      name: 'a system prompt moves to `system`',
      body: { messages: [{ role: 'system', content: 'Be brief.' }, user('Hi')] },
      expected: { system: [{ text: 'Be brief.' }], messages: [{ role: 'user', content: [{ text: 'Hi' }] }] },
    },
    {
      name: 'developer and interleaved system messages join `system` in order',
      body: {
        messages: [
          { role: 'developer', content: [{ type: 'text', text: 'Rule 1' }] },
          user('Hi'),
          { role: 'system', content: 'Rule 2' },
          user('Again'),
        ],
      },
      expected: {
        system: [{ text: 'Rule 1' }, { text: 'Rule 2' }],
        messages: [{ role: 'user', content: [{ text: 'Hi' }, { text: 'Again' }] }],
      },
    },
    {
      name: 'consecutive user messages merge into one turn',
      body: { messages: [user('a'), user([{ type: 'text', text: 'b' }])] },
      expected: { messages: [{ role: 'user', content: [{ text: 'a' }, { text: 'b' }] }] },
    },
    {
      name: 'blank text is left out, and a message left empty with it',
      body: {
        messages: [
          user('  '),
          user([
            { type: 'text', text: '' },
            { type: 'text', text: 'real' },
          ]),
          { role: 'assistant', content: '' },
          user('more'),
        ],
      },
      expected: { messages: [{ role: 'user', content: [{ text: 'real' }, { text: 'more' }] }] },
    },
    {
      name: 'an image data URL becomes image bytes with its format',
      body: {
        messages: [
          user([
            { type: 'text', text: 'What is this?' },
            { type: 'image_url', image_url: { url: dataUrl('image/png'), detail: 'high' } },
          ]),
        ],
      },
      expected: {
        messages: [
          { role: 'user', content: [{ text: 'What is this?' }, { image: { format: 'png', source: { bytes: new Uint8Array(PNG) } } }] },
        ],
      },
    },
    {
      name: 'image/jpg reads as jpeg',
      body: { messages: [user([{ type: 'image_url', image_url: { url: dataUrl('image/jpg') } }])] },
      expected: { messages: [{ role: 'user', content: [{ image: { format: 'jpeg', source: { bytes: new Uint8Array(PNG) } } }] }] },
    },
    {
      name: 'assistant tool calls become toolUse blocks; tool messages become toolResult blocks of one user turn, before the next user text',
      body: {
        messages: [
          user('Weather in Paris and Rome?'),
          { role: 'assistant', content: 'Checking.', tool_calls: [call('call_1'), call('call_2', 'get_weather', '{"city":"Rome"}')] },
          { role: 'tool', tool_call_id: 'call_1', content: 'sunny' },
          { role: 'tool', tool_call_id: 'call_2', content: [{ type: 'text', text: 'rain' }] },
          user('Thanks; and tomorrow?'),
        ],
        tools: [weatherTool],
      },
      expected: {
        messages: [
          { role: 'user', content: [{ text: 'Weather in Paris and Rome?' }] },
          {
            role: 'assistant',
            content: [
              { text: 'Checking.' },
              { toolUse: { toolUseId: 'call_1', name: 'get_weather', input: { city: 'Paris' } } },
              { toolUse: { toolUseId: 'call_2', name: 'get_weather', input: { city: 'Rome' } } },
            ],
          },
          {
            role: 'user',
            content: [
              { toolResult: { toolUseId: 'call_1', content: [{ text: 'sunny' }] } },
              { toolResult: { toolUseId: 'call_2', content: [{ text: 'rain' }] } },
              { text: 'Thanks; and tomorrow?' },
            ],
          },
        ],
        toolConfig: {
          tools: [
            {
              toolSpec: { name: 'get_weather', description: 'Weather for a city', inputSchema: { json: weatherTool.function.parameters } },
            },
          ],
        },
      },
    },
    {
      name: 'empty tool output is a result without content; empty arguments are an empty object',
      body: {
        messages: [
          user('go'),
          { role: 'assistant', content: null, tool_calls: [call('c1', 'get_weather', '')] },
          { role: 'tool', tool_call_id: 'c1', content: '' },
        ],
        tools: [weatherTool],
      },
      expected: {
        messages: [
          { role: 'user', content: [{ text: 'go' }] },
          { role: 'assistant', content: [{ toolUse: { toolUseId: 'c1', name: 'get_weather', input: {} } }] },
          { role: 'user', content: [{ toolResult: { toolUseId: 'c1', content: [] } }] },
        ],
      },
    },
    {
      name: 'stop, temperature, top_p and max_tokens become inferenceConfig',
      body: { messages: [user('x')], stop: 'END', temperature: 0.2, top_p: 0.9, max_tokens: 50 },
      expected: { inferenceConfig: { stopSequences: ['END'], temperature: 0.2, topP: 0.9, maxTokens: 50 } },
    },
    {
      name: 'max_completion_tokens wins over max_tokens; stop as a list',
      body: { messages: [user('x')], max_tokens: 50, max_completion_tokens: 70, stop: ['a', 'b'] },
      expected: { inferenceConfig: { maxTokens: 70, stopSequences: ['a', 'b'] } },
    },
    {
      name: 'tool_choice auto (and absent) leaves the choice to the model',
      body: { messages: [user('x')], tools: [weatherTool], tool_choice: 'auto' },
      expected: { toolConfig: { tools: [expect.objectContaining({ toolSpec: expect.objectContaining({ name: 'get_weather' }) })] } },
    },
    {
      name: 'tool_choice required is `any`',
      body: { messages: [user('x')], tools: [weatherTool], tool_choice: 'required' },
      expected: { toolConfig: expect.objectContaining({ toolChoice: { any: {} } }) },
    },
    {
      name: 'a named tool_choice is `tool`',
      body: { messages: [user('x')], tools: [weatherTool], tool_choice: { type: 'function', function: { name: 'get_weather' } } },
      expected: { toolConfig: expect.objectContaining({ toolChoice: { tool: { name: 'get_weather' } } }) },
    },
    {
      name: 'tool_choice none without tool history gives the model no tools',
      body: { messages: [user('x')], tools: [weatherTool], tool_choice: 'none' },
      expected: { toolConfig: undefined },
    },
    {
      name: 'tool_choice none with tool history keeps the tools Bedrock needs, with no forced choice',
      body: {
        messages: [user('x'), { role: 'assistant', tool_calls: [call('c1')] }, { role: 'tool', tool_call_id: 'c1', content: 'ok' }],
        tools: [weatherTool],
        tool_choice: 'none',
      },
      expected: { toolConfig: { tools: [expect.anything()] } },
    },
    {
      name: 'a tool without parameters gets an empty object schema; strict passes through',
      body: { messages: [user('x')], tools: [{ type: 'function', function: { name: 'now', strict: true } }] },
      expected: {
        toolConfig: { tools: [{ toolSpec: { name: 'now', inputSchema: { json: { type: 'object', properties: {} } }, strict: true } }] },
      },
    },
    {
      name: 'response_format json_schema becomes outputConfig with the schema as a string',
      body: {
        messages: [user('x')],
        response_format: {
          type: 'json_schema',
          json_schema: { name: 'answer', schema: { type: 'object', properties: { a: { type: 'string' } } } },
        },
      },
      expected: {
        outputConfig: {
          textFormat: {
            type: 'json_schema',
            structure: { jsonSchema: { name: 'answer', schema: '{"type":"object","properties":{"a":{"type":"string"}}}' } },
          },
        },
      },
    },
    {
      name: 'response_format json_object asks for any object',
      body: { messages: [user('x')], response_format: { type: 'json_object' } },
      expected: {
        outputConfig: {
          textFormat: { type: 'json_schema', structure: { jsonSchema: { name: 'json_object', schema: '{"type":"object"}' } } },
        },
      },
    },
    {
      name: 'null fields, neutral values and Tollgate’s own fields change nothing',
      body: {
        messages: [user('x')],
        model: 'm',
        user: 'u',
        stream: true,
        stream_options: { include_usage: true },
        n: 1,
        temperature: null,
        frequency_penalty: 0,
        presence_penalty: 0,
        logprobs: false,
        parallel_tool_calls: true,
        metadata: { a: 'b' },
        response_format: { type: 'text' },
      },
      expected: {
        messages: [{ role: 'user', content: [{ text: 'x' }] }],
        inferenceConfig: undefined,
        toolConfig: undefined,
        outputConfig: undefined,
        system: undefined,
      },
    },
  ];

  it.each(cases)('$name', ({ body, expected }) => {
    const input = toConverseRequest(body, MODEL);
    expect(input.modelId).toBe(MODEL);
    expect(input).toMatchObject(Object.fromEntries(Object.entries(expected).filter(([, v]) => v !== undefined)));
    for (const [k, v] of Object.entries(expected)) if (v === undefined) expect(input).not.toHaveProperty(k);
  });
});

describe('requests Converse cannot express are a 400 naming the field', () => {
  const cases: { name: string; body: Record<string, unknown>; param: string; code?: string }[] = [
    { name: 'n > 1', body: { messages: [user('x')], n: 2 }, param: 'n', code: 'unsupported_parameter' },
    { name: 'no messages', body: {}, param: 'messages' },
    { name: 'an empty message list', body: { messages: [] }, param: 'messages' },
    { name: 'only system messages', body: { messages: [{ role: 'system', content: 'x' }] }, param: 'messages' },
    {
      name: 'a conversation that starts with the assistant',
      body: { messages: [{ role: 'assistant', content: 'hello' }, user('x')] },
      param: 'messages',
    },
    {
      name: 'an image by web address',
      body: {
        messages: [
          user([
            { type: 'text', text: 'x' },
            { type: 'image_url', image_url: { url: 'https://example.com/a.png' } },
          ]),
        ],
      },
      param: 'messages[0].content[1].image_url.url',
      code: 'unsupported_parameter',
    },
    {
      name: 'an image of another type',
      body: { messages: [user([{ type: 'image_url', image_url: { url: dataUrl('image/tiff') } }])] },
      param: 'messages[0].content[0].image_url.url',
      code: 'unsupported_parameter',
    },
    {
      name: 'an audio part',
      body: { messages: [user([{ type: 'input_audio', input_audio: { data: 'AA==', format: 'wav' } }])] },
      param: 'messages[0].content[0].type',
      code: 'unsupported_parameter',
    },
    {
      name: 'a file part',
      body: { messages: [user([{ type: 'file', file: { file_id: 'f' } }])] },
      param: 'messages[0].content[0].type',
      code: 'unsupported_parameter',
    },
    {
      name: 'an image in a system message',
      body: { messages: [{ role: 'system', content: [{ type: 'image_url', image_url: { url: dataUrl('image/png') } }] }, user('x')] },
      param: 'messages[0].content[0].type',
      code: 'unsupported_parameter',
    },
    { name: 'an unknown role', body: { messages: [{ role: 'function', content: 'x', name: 'f' }] }, param: 'messages[0].role' },
    {
      name: 'a tool message answering no call',
      body: { messages: [user('x'), { role: 'tool', tool_call_id: 'nope', content: 'r' }] },
      param: 'messages[1].tool_call_id',
    },
    {
      name: 'tool calls left unanswered before the next user message',
      body: { messages: [user('x'), { role: 'assistant', tool_calls: [call('c1')] }, user('y')], tools: [weatherTool] },
      param: 'messages[1].tool_calls',
    },
    {
      name: 'tool calls left unanswered at the end',
      body: { messages: [user('x'), { role: 'assistant', tool_calls: [call('c1')] }], tools: [weatherTool] },
      param: 'messages[1].tool_calls',
    },
    {
      name: 'tool arguments that are not JSON',
      body: {
        messages: [
          user('x'),
          { role: 'assistant', tool_calls: [call('c1', 'get_weather', '{city')] },
          { role: 'tool', tool_call_id: 'c1', content: 'r' },
        ],
        tools: [weatherTool],
      },
      param: 'messages[1].tool_calls[0].function.arguments',
    },
    {
      name: 'tool arguments that are not an object',
      body: {
        messages: [
          user('x'),
          { role: 'assistant', tool_calls: [call('c1', 'get_weather', '[1]')] },
          { role: 'tool', tool_call_id: 'c1', content: 'r' },
        ],
        tools: [weatherTool],
      },
      param: 'messages[1].tool_calls[0].function.arguments',
    },
    {
      name: 'a tool call id Bedrock refuses',
      body: {
        messages: [user('x'), { role: 'assistant', tool_calls: [call('call.1')] }, { role: 'tool', tool_call_id: 'call.1', content: 'r' }],
        tools: [weatherTool],
      },
      param: 'messages[1].tool_calls[0].id',
    },
    {
      name: 'a tool history without tools',
      body: { messages: [user('x'), { role: 'assistant', tool_calls: [call('c1')] }, { role: 'tool', tool_call_id: 'c1', content: 'r' }] },
      param: 'tools',
    },
    {
      name: 'a named tool_choice naming no tool',
      body: { messages: [user('x')], tools: [weatherTool], tool_choice: { type: 'function', function: { name: 'other' } } },
      param: 'tool_choice.function.name',
    },
    { name: 'tool_choice required without tools', body: { messages: [user('x')], tool_choice: 'required' }, param: 'tool_choice' },
    {
      name: 'an allowed_tools tool_choice',
      body: { messages: [user('x')], tools: [weatherTool], tool_choice: { type: 'allowed_tools', allowed_tools: {} } },
      param: 'tool_choice',
      code: 'unsupported_parameter',
    },
    {
      name: 'a tool that is not a function',
      body: { messages: [user('x')], tools: [{ type: 'custom', custom: { name: 'x' } }] },
      param: 'tools[0].type',
      code: 'unsupported_parameter',
    },
    {
      name: 'a tool name Bedrock refuses',
      body: { messages: [user('x')], tools: [{ type: 'function', function: { name: 'get weather' } }] },
      param: 'tools[0].function.name',
    },
    { name: 'the same tool twice', body: { messages: [user('x')], tools: [weatherTool, weatherTool] }, param: 'tools[1].function.name' },
    { name: 'temperature above Bedrock’s 1', body: { messages: [user('x')], temperature: 1.5 }, param: 'temperature' },
    { name: 'top_p below 0', body: { messages: [user('x')], top_p: -0.1 }, param: 'top_p' },
    { name: 'max_tokens 0', body: { messages: [user('x')], max_tokens: 0 }, param: 'max_tokens' },
    {
      name: 'max_completion_tokens not an integer',
      body: { messages: [user('x')], max_completion_tokens: 1.5 },
      param: 'max_completion_tokens',
    },
    { name: 'an empty stop sequence', body: { messages: [user('x')], stop: [''] }, param: 'stop' },
    {
      name: 'a frequency penalty',
      body: { messages: [user('x')], frequency_penalty: 0.5 },
      param: 'frequency_penalty',
      code: 'unsupported_parameter',
    },
    { name: 'log probabilities', body: { messages: [user('x')], logprobs: true }, param: 'logprobs', code: 'unsupported_parameter' },
    {
      name: 'parallel tool calls turned off',
      body: { messages: [user('x')], parallel_tool_calls: false },
      param: 'parallel_tool_calls',
      code: 'unsupported_parameter',
    },
    {
      name: 'a field Bedrock has no use for',
      body: { messages: [user('x')], seed: 7 },
      param: 'seed',
      code: 'unsupported_parameter',
    },
    {
      name: 'deprecated functions',
      body: { messages: [user('x')], functions: [{ name: 'f' }] },
      param: 'functions',
      code: 'unsupported_parameter',
    },
    {
      name: 'an unknown response_format',
      body: { messages: [user('x')], response_format: { type: 'xml' } },
      param: 'response_format.type',
      code: 'unsupported_parameter',
    },
    {
      name: 'a field named like an object prototype member',
      body: { messages: [user('x')], constructor: 1 },
      param: 'constructor',
      code: 'unsupported_parameter',
    },
  ];

  it.each(cases)('$name', ({ body, param, code }) => {
    expectRefused(() => toConverseRequest(body, MODEL), param, code);
  });
});

function expectRefused(translate: () => unknown, param: string, code?: string): void {
  let error: unknown;
  try {
    translate();
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(InvalidRequestError);
  const e = error as InvalidRequestError;
  expect(e.status).toBe(400);
  expect(e.param).toBe(param);
  expect(e.message).toContain(`\`${param}\``);
  if (code) expect(e.code).toBe(code);
}

describe("Claude's extended thinking (reasoning_effort as LiteLLM maps it, or Anthropic's thinking)", () => {
  const asked = (extra: Record<string, unknown>, model = MODEL) =>
    toConverseRequest({ messages: [user('x')], max_tokens: 8000, ...extra }, model).additionalModelRequestFields;

  it.each([
    ['minimal', 1024],
    ['low', 1024],
    ['medium', 2048],
    ['high', 4096],
  ])('reasoning_effort %s: a thinking budget of %i tokens', (effort, budget) => {
    expect(asked({ reasoning_effort: effort })).toEqual({ thinking: { type: 'enabled', budget_tokens: budget } });
  });

  it('reasoning_effort none, or neither field: no thinking', () => {
    expect(asked({ reasoning_effort: 'none' })).toBeUndefined();
    expect(asked({})).toBeUndefined();
  });

  it("Anthropic's thinking object is passed on, its type and budget only; an inference profile or ARN of Claude takes it too", () => {
    const thinking = { type: 'enabled', budget_tokens: 3000 };
    expect(asked({ thinking })).toEqual({ thinking });
    expect(asked({ thinking: { ...thinking, extra: 1, ['__proto__']: { polluted: true } } })).toEqual({ thinking });
    // What Claude allows beside thinking passes.
    expect(asked({ thinking, temperature: 1, top_p: 0.95, tools: [weatherTool], tool_choice: 'auto' })).toEqual({ thinking });
    expect(asked({ thinking: { type: 'disabled' } })).toEqual({ thinking: { type: 'disabled' } });
    expect(asked({ reasoning_effort: 'low' }, 'us.anthropic.claude-sonnet-4-20250514-v1:0')).toBeDefined();
    expect(
      asked({ reasoning_effort: 'low' }, 'arn:aws:bedrock:us-east-1:1:inference-profile/eu.anthropic.claude-3-7-sonnet-v1:0'),
    ).toBeDefined();
  });

  it.each<[string, Record<string, unknown>, string, string?]>([
    ['an unknown effort', { reasoning_effort: 'extreme' }, 'reasoning_effort'],
    ['an effort named like a prototype member', { reasoning_effort: '__proto__' }, 'reasoning_effort'],
    ['both fields', { reasoning_effort: 'low', thinking: { type: 'enabled', budget_tokens: 2000 } }, 'reasoning_effort'],
    ['thinking that is no object', { thinking: 'on' }, 'thinking'],
    ['a budget under 1,024', { thinking: { type: 'enabled', budget_tokens: 1000 } }, 'thinking.budget_tokens'],
    ['a budget that is no integer', { thinking: { type: 'enabled', budget_tokens: '2000' } }, 'thinking.budget_tokens'],
    ['max_tokens not above the budget', { reasoning_effort: 'high', max_tokens: 4096 }, 'max_tokens'],
    ['no max_tokens', { reasoning_effort: 'low', max_tokens: undefined }, 'max_tokens'],
    ['a temperature other than 1 (Anthropic refuses it with thinking)', { reasoning_effort: 'low', temperature: 0.2 }, 'temperature'],
    ['a top_p below 0.95', { thinking: { type: 'enabled', budget_tokens: 2000 }, top_p: 0.5 }, 'top_p'],
    ['a forced tool choice', { reasoning_effort: 'low', tools: [weatherTool], tool_choice: 'required' }, 'tool_choice'],
    [
      'a named tool choice',
      { reasoning_effort: 'low', tools: [weatherTool], tool_choice: { type: 'function', function: { name: 'get_weather' } } },
      'tool_choice',
    ],
  ])('%s is a 400 naming the field', (_, extra, param) => {
    expectRefused(() => asked(extra), param);
  });

  it('a model that is not Claude is refused naming the field', () => {
    expectRefused(() => asked({ reasoning_effort: 'low' }, 'meta.llama3-70b-instruct-v1:0'), 'reasoning_effort', 'unsupported_parameter');
    expectRefused(
      () => asked({ thinking: { type: 'enabled', budget_tokens: 2000 } }, 'amazon.nova-pro-v1:0'),
      'thinking',
      'unsupported_parameter',
    );
  });

  it("an assistant message's thinking_blocks go back first in its turn, signature and redacted ones included", () => {
    const input = toConverseRequest(
      {
        max_tokens: 8000,
        reasoning_effort: 'low',
        tools: [weatherTool],
        messages: [
          user('Weather in Paris?'),
          {
            role: 'assistant',
            content: null,
            tool_calls: [call('t1')],
            thinking_blocks: [
              { type: 'thinking', thinking: 'I should call the tool.', signature: 'sig' },
              { type: 'redacted_thinking', data: Buffer.from('opaque').toString('base64') },
            ],
          },
          { role: 'tool', tool_call_id: 't1', content: 'Sunny' },
        ],
      },
      MODEL,
    );
    expect(input.messages?.[1]?.content).toEqual([
      { reasoningContent: { reasoningText: { text: 'I should call the tool.', signature: 'sig' } } },
      { reasoningContent: { redactedContent: new Uint8Array(Buffer.from('opaque')) } },
      { toolUse: { toolUseId: 't1', name: 'get_weather', input: { city: 'Paris' } } },
    ]);
    const bad = (thinking_blocks: unknown) => () =>
      toConverseRequest({ messages: [user('x'), { role: 'assistant', content: 'y', thinking_blocks }, user('z')] }, MODEL);
    expectRefused(bad('x'), 'messages[1].thinking_blocks');
    expectRefused(bad([{ type: 'text', text: 'y' }]), 'messages[1].thinking_blocks[0].type');
    expectRefused(bad([{ type: 'thinking', thinking: 5 }]), 'messages[1].thinking_blocks[0].thinking');
  });
});

describe('Converse answer -> OpenAI chat completion', () => {
  const ctx = { id: 'chatcmpl-r1', created: 1_700_000_000, model: 'claude' };
  const answer = (content: unknown[], stopReason: string, usage?: Record<string, number>) =>
    ({ output: { message: { role: 'assistant', content } }, stopReason, usage }) as unknown as ConverseCommandOutput;

  it('text becomes the message content, end_turn a stop, usage OpenAI’s counts', () => {
    const { body, usage } = fromConverseResponse(
      answer([{ text: 'Hello' }, { text: ' there' }], 'end_turn', { inputTokens: 12, outputTokens: 3, totalTokens: 15 }),
      ctx,
    );
    expect(body).toEqual({
      id: 'chatcmpl-r1',
      object: 'chat.completion',
      created: 1_700_000_000,
      model: 'claude',
      system_fingerprint: null,
      choices: [{ index: 0, message: { role: 'assistant', content: 'Hello there', refusal: null }, logprobs: null, finish_reason: 'stop' }],
      usage: {
        prompt_tokens: 12,
        completion_tokens: 3,
        total_tokens: 15,
        prompt_tokens_details: { cached_tokens: 0 },
        cache_creation_input_tokens: 0,
        cache_read_input_tokens: 0,
      },
    });
    expect(usage).toEqual({ inputTokens: 12, outputTokens: 3, cacheReadTokens: 0, cacheWriteTokens: 0 });
  });

  it('tool use becomes tool_calls with JSON arguments, content null, finish tool_calls', () => {
    const { body } = fromConverseResponse(
      answer([{ toolUse: { toolUseId: 'tu_1', name: 'get_weather', input: { city: 'Paris' } } }], 'tool_use', {
        inputTokens: 1,
        outputTokens: 1,
      }),
      ctx,
    );
    expect(body.choices[0].message).toEqual({
      role: 'assistant',
      content: null,
      refusal: null,
      tool_calls: [{ id: 'tu_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }],
    });
    expect(body.choices[0].finish_reason).toBe('tool_calls');
  });

  it('text beside tool use keeps both; reasoning goes to reasoning_content', () => {
    const { body } = fromConverseResponse(
      answer(
        [
          { reasoningContent: { reasoningText: { text: 'thinking...', signature: 's' } } },
          { text: 'Let me check.' },
          { toolUse: { toolUseId: 't', name: 'f', input: {} } },
        ],
        'tool_use',
      ),
      ctx,
    );
    expect(body.choices[0].message).toMatchObject({
      content: 'Let me check.',
      reasoning_content: 'thinking...',
      thinking_blocks: [{ type: 'thinking', thinking: 'thinking...', signature: 's' }],
      tool_calls: [{ id: 't', function: { name: 'f', arguments: '{}' } }],
    });
  });

  it.each([
    ['end_turn', 'stop'],
    ['stop_sequence', 'stop'],
    ['max_tokens', 'length'],
    ['model_context_window_exceeded', 'length'],
    ['tool_use', 'tool_calls'],
    ['content_filtered', 'content_filter'],
    ['guardrail_intervened', 'content_filter'],
    ['malformed_model_output', 'stop'],
    ['something_new', 'stop'],
  ])('stopReason %s is finish_reason %s', (stopReason, finish) => {
    expect(fromConverseResponse(answer([{ text: 'x' }], stopReason), ctx).body.choices[0].finish_reason).toBe(finish);
  });

  it('cache reads and writes count in prompt_tokens, reads as cached_tokens, and apart in the metered usage', () => {
    const { body, usage } = fromConverseResponse(
      answer([{ text: 'x' }], 'end_turn', { inputTokens: 10, outputTokens: 5, cacheReadInputTokens: 100, cacheWriteInputTokens: 20 }),
      ctx,
    );
    expect(body.usage).toEqual({
      prompt_tokens: 130,
      completion_tokens: 5,
      total_tokens: 135,
      prompt_tokens_details: { cached_tokens: 100 },
      cache_creation_input_tokens: 20,
      cache_read_input_tokens: 100,
    });
    expect(usage).toEqual({ inputTokens: 10, outputTokens: 5, cacheReadTokens: 100, cacheWriteTokens: 20 });
  });

  it('an answer without usage meters none (the caller charges its estimate)', () => {
    expect(fromConverseResponse(answer([{ text: 'x' }], 'end_turn'), ctx).usage).toBeUndefined();
  });
});

describe("Converse usage: cache writes for an hour (cacheDetails' ttl) told apart", () => {
  it('sums the 1h details, at most the writes', () => {
    const usage = {
      inputTokens: 10,
      outputTokens: 5,
      totalTokens: 3015,
      cacheWriteInputTokens: 3000,
      cacheDetails: [
        { ttl: '5m' as const, inputTokens: 1000 },
        { ttl: '1h' as const, inputTokens: 2000 },
      ],
    };
    expect(usageOfConverse(usage)).toEqual({
      inputTokens: 10,
      outputTokens: 5,
      cacheReadTokens: 0,
      cacheWriteTokens: 3000,
      cacheWrite1hTokens: 2000,
    });
    expect(usageOfConverse({ ...usage, cacheDetails: undefined })?.cacheWrite1hTokens).toBeUndefined();
  });
});
