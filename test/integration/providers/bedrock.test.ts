/**
 * The Bedrock provider against the mock Bedrock runtime, over the wire protocol the AWS SDK
 * speaks: the SDK's own BedrockRuntimeClient (endpoint on loopback, dummy credentials) for
 * Converse, ConverseStream and InvokeModel, and the official openai client in front, through a
 * minimal gateway over the provider layer. Every call is metered exactly.
 */
import { BedrockRuntimeClient, ConverseCommand, ConverseStreamCommand, InvokeModelCommand } from '@aws-sdk/client-bedrock-runtime';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { type MockBedrock, startMockBedrock } from '../../../infra/local/mock-bedrock.js';
import type { ProviderModel } from '../../../lib/providers/index.js';
import { type ProviderGateway, startProviderGateway } from './gateway.js';

const CLAUDE = 'anthropic.claude-3-5-sonnet-20240620-v1:0';
const bedrock = (name: string, upstream: string, region = 'eu-central-1'): ProviderModel => ({
  model_name: name,
  provider: 'bedrock',
  upstream_model: upstream,
  aws_region_name: region,
});

let mock: MockBedrock;
let gateway: ProviderGateway;
let openai: OpenAI;

beforeAll(async () => {
  mock = await startMockBedrock();
  gateway = await startProviderGateway({
    bedrockEndpoint: mock.url,
    models: [
      bedrock('claude', CLAUDE),
      bedrock('claude-us', `us.${CLAUDE}`, 'us-west-2'),
      { model_name: 'claude-no-region', provider: 'bedrock', upstream_model: CLAUDE },
      bedrock('titan-embed', 'amazon.titan-embed-text-v2:0'),
      bedrock('cohere-embed', 'cohere.embed-english-v3'),
      ...[
        'ThrottlingException',
        'ValidationException',
        'AccessDeniedException',
        'ResourceNotFoundException',
        'ModelNotReadyException',
        'InternalServerException',
      ].map((e) => bedrock(`claude-${e}`, `${CLAUDE}+error=${e}`)),
      bedrock('claude-stream-throttled', `${CLAUDE}+stream_error=ThrottlingException`),
      bedrock('claude-slow', `${CLAUDE}+delay=50`),
    ],
  });
  openai = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: 'sk-test', maxRetries: 0 });
});

afterAll(async () => {
  await gateway?.close();
  await mock?.close();
});

const lastRequest = () => mock.requests.at(-1) as (typeof mock.requests)[number];
const lastMetered = () => gateway.metered.at(-1);

describe('the mock speaks Bedrock’s wire protocol to the AWS SDK', () => {
  const sdk = () =>
    new BedrockRuntimeClient({
      region: 'us-east-1',
      endpoint: mock.url,
      credentials: { accessKeyId: 'AKIDLOCAL', secretAccessKey: 'x' },
      maxAttempts: 1,
    });

  it('Converse', async () => {
    const out = await sdk().send(
      new ConverseCommand({ modelId: CLAUDE, messages: [{ role: 'user', content: [{ text: 'hello there' }] }] }),
    );
    expect(out.output?.message?.content).toEqual([{ text: 'Mock answer: hello there' }]);
    expect(out.usage).toEqual({ inputTokens: 2, outputTokens: 4, totalTokens: 6 });
    expect(out.stopReason).toBe('end_turn');
  });

  it('ConverseStream, in AWS event-stream frames', async () => {
    const out = await sdk().send(new ConverseStreamCommand({ modelId: CLAUDE, messages: [{ role: 'user', content: [{ text: 'a b' }] }] }));
    const events = [];
    for await (const e of out.stream ?? []) events.push(e);
    expect(events[0]).toEqual({ messageStart: { role: 'assistant' } });
    expect(events.flatMap((e) => (e.contentBlockDelta?.delta?.text ? [e.contentBlockDelta.delta.text] : [])).join('')).toBe(
      'Mock answer: a b',
    );
    expect(events.at(-2)).toEqual({ messageStop: { stopReason: 'end_turn' } });
    expect(events.at(-1)?.metadata?.usage).toEqual({ inputTokens: 2, outputTokens: 4, totalTokens: 6 });
  });

  it('InvokeModel, with Bedrock’s token header', async () => {
    const out = await sdk().send(
      new InvokeModelCommand({
        modelId: 'amazon.titan-embed-text-v2:0',
        body: JSON.stringify({ inputText: 'one two three', dimensions: 256 }),
        contentType: 'application/json',
      }),
    );
    const body = JSON.parse(new TextDecoder().decode(out.body)) as { embedding: number[]; inputTextTokenCount: number };
    expect(body.embedding).toHaveLength(256);
    expect(body.inputTextTokenCount).toBe(3);
  });

  it('refuses what Bedrock refuses, as the SDK’s ValidationException', async () => {
    await expect(
      sdk().send(new ConverseCommand({ modelId: CLAUDE, messages: [{ role: 'assistant', content: [{ text: 'hi' }] }] })),
    ).rejects.toMatchObject({ name: 'ValidationException', $metadata: { httpStatusCode: 400 } });
  });
});

describe('OpenAI chat through Converse', () => {
  it('answers, signed for the model’s region, and meters the usage exactly', async () => {
    const answer = await openai.chat.completions.create({
      model: 'claude',
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'hello world' },
      ],
    });
    expect(answer.choices[0]?.message.content).toBe('Mock answer: hello world');
    expect(answer.choices[0]?.finish_reason).toBe('stop');
    expect(answer.usage).toMatchObject({ prompt_tokens: 4, completion_tokens: 4, total_tokens: 8 });
    expect(lastMetered()?.usage).toEqual({ inputTokens: 4, outputTokens: 4, cacheReadTokens: 0, cacheWriteTokens: 0 });
    const sent = lastRequest();
    expect(sent.operation).toBe('converse');
    expect(sent.modelId).toBe(CLAUDE);
    expect(sent.body).toMatchObject({ system: [{ text: 'Be brief.' }], messages: [{ role: 'user', content: [{ text: 'hello world' }] }] });
    expect(sent.headers.authorization).toMatch(/^AWS4-HMAC-SHA256 Credential=AKIDLOCAL\/\d{8}\/eu-central-1\/bedrock\/aws4_request/);
  });

  it('an inference profile in another region is signed for that region', async () => {
    await openai.chat.completions.create({ model: 'claude-us', messages: [{ role: 'user', content: 'x' }] });
    expect(lastRequest().modelId).toBe(`us.${CLAUDE}`);
    expect(lastRequest().headers.authorization).toContain('/us-west-2/bedrock/');
  });

  it('a model without aws_region_name uses the region the wiring gives for none', async () => {
    await openai.chat.completions.create({ model: 'claude-no-region', messages: [{ role: 'user', content: 'x' }] });
    expect(lastRequest().headers.authorization).toContain('/us-east-1/bedrock/');
  });

  it('max_tokens cuts the answer: finish_reason length; stop sequences: stop', async () => {
    const cut = await openai.chat.completions.create({
      model: 'claude',
      max_tokens: 3,
      messages: [{ role: 'user', content: 'one two three four' }],
    });
    expect(cut.choices[0]).toMatchObject({ message: { content: 'Mock answer: one' }, finish_reason: 'length' });
    expect(lastRequest().body).toMatchObject({ inferenceConfig: { maxTokens: 3 } });
    const stopped = await openai.chat.completions.create({
      model: 'claude',
      stop: ['three'],
      temperature: 0.5,
      top_p: 0.9,
      messages: [{ role: 'user', content: 'one two three four' }],
    });
    expect(stopped.choices[0]).toMatchObject({ message: { content: 'Mock answer: one two' }, finish_reason: 'stop' });
    expect(lastRequest().body).toMatchObject({ inferenceConfig: { stopSequences: ['three'], temperature: 0.5, topP: 0.9 } });
  });

  it('an image data URL reaches Bedrock as the same bytes', async () => {
    const bytes = Buffer.from('not really a png');
    await openai.chat.completions.create({
      model: 'claude',
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'what is it' },
            { type: 'image_url', image_url: { url: `data:image/png;base64,${bytes.toString('base64')}` } },
          ],
        },
      ],
    });
    const content = (lastRequest().body as { messages: { content: { image?: { format: string; source: { bytes: string } } }[] }[] })
      .messages[0]?.content;
    expect(content?.[1]?.image?.format).toBe('png');
    expect(Buffer.from(content?.[1]?.image?.source.bytes ?? '', 'base64')).toEqual(bytes);
  });

  it('streams text chunks with the usage chunk the client asked for, and meters it', async () => {
    const stream = await openai.chat.completions.create({
      model: 'claude',
      stream: true,
      stream_options: { include_usage: true },
      messages: [{ role: 'user', content: 'stream me please' }],
    });
    let text = '';
    let usage: OpenAI.CompletionUsage | null | undefined;
    let finish: string | null | undefined;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? '';
      finish = chunk.choices[0]?.finish_reason ?? finish;
      if (chunk.usage) usage = chunk.usage;
    }
    expect(text).toBe('Mock answer: stream me please');
    expect(finish).toBe('stop');
    expect(usage).toMatchObject({ prompt_tokens: 3, completion_tokens: 5, total_tokens: 8 });
    expect(lastRequest().operation).toBe('converse-stream');
    expect(lastMetered()?.usage).toEqual({ inputTokens: 3, outputTokens: 5, cacheReadTokens: 0, cacheWriteTokens: 0 });
  });

  it('a stream the client asked no usage for has no usage chunk, and is still metered', async () => {
    const stream = await openai.chat.completions.create({ model: 'claude', stream: true, messages: [{ role: 'user', content: 'quiet' }] });
    const chunks = [];
    for await (const chunk of stream) chunks.push(chunk);
    expect(chunks.every((c) => c.choices.length === 1 && !c.usage)).toBe(true);
    expect(lastMetered()?.usage).toEqual({ inputTokens: 1, outputTokens: 3, cacheReadTokens: 0, cacheWriteTokens: 0 });
  });

  const tools: OpenAI.ChatCompletionTool[] = [
    {
      type: 'function',
      function: {
        name: 'search',
        description: 'Search the web',
        parameters: { type: 'object', properties: { query: { type: 'string' } } },
      },
    },
  ];

  it('tool calls round trip: a forced call, then the result answered', async () => {
    const first = await openai.chat.completions.create({
      model: 'claude',
      tools,
      tool_choice: 'required',
      messages: [{ role: 'user', content: 'find tollgate' }],
    });
    const call = first.choices[0]?.message.tool_calls?.[0];
    expect(first.choices[0]?.finish_reason).toBe('tool_calls');
    expect(call).toMatchObject({ type: 'function', function: { name: 'search' } });
    expect(JSON.parse((call as OpenAI.ChatCompletionMessageFunctionToolCall).function.arguments)).toEqual({ query: 'find tollgate' });
    expect(lastRequest().body).toMatchObject({ toolConfig: { toolChoice: { any: {} } } });

    const second = await openai.chat.completions.create({
      model: 'claude',
      tools,
      messages: [
        { role: 'user', content: 'find tollgate' },
        first.choices[0]?.message as OpenAI.ChatCompletionMessageParam,
        { role: 'tool', tool_call_id: call?.id as string, content: 'a gateway' },
      ],
    });
    expect(second.choices[0]?.message.content).toBe('Mock answer: a gateway');
    expect(lastMetered()?.usage?.inputTokens).toBeGreaterThan(0);
  });

  it('streamed tool calls assemble in the openai client’s own stream helper', async () => {
    const runner = openai.chat.completions.stream({
      model: 'claude',
      tools,
      tool_choice: { type: 'function', function: { name: 'search' } },
      messages: [{ role: 'user', content: 'look this up' }],
      stream_options: { include_usage: true },
    });
    const final = await runner.finalChatCompletion();
    const call = final.choices[0]?.message.tool_calls?.[0] as OpenAI.ChatCompletionMessageFunctionToolCall;
    expect(final.choices[0]?.finish_reason).toBe('tool_calls');
    expect(call.function.name).toBe('search');
    expect(JSON.parse(call.function.arguments)).toEqual({ query: 'look this up' });
    expect(call.id).toMatch(/^tooluse_mock/);
    expect(final.usage?.completion_tokens).toBe(lastMetered()?.usage?.outputTokens);
  });

  it('what Converse cannot express is a 400 naming the field, before any Bedrock call', async () => {
    const before = mock.requests.length;
    const err = await openai.chat.completions
      .create({ model: 'claude', n: 2, messages: [{ role: 'user', content: 'x' }] })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect((err as InstanceType<typeof OpenAI.BadRequestError>).error).toMatchObject({ param: 'n', code: 'unsupported_parameter' });
    expect(mock.requests.length).toBe(before);
  });
});

describe('the Responses API through Converse', () => {
  it('responses.create: output_text, usage, metered', async () => {
    const r = await openai.responses.create({ model: 'claude', instructions: 'Be brief.', input: 'respond please' });
    expect(r.output_text).toBe('Mock answer: respond please');
    expect(r).toMatchObject({
      object: 'response',
      status: 'completed',
      model: 'claude',
      usage: { input_tokens: 4, output_tokens: 4, total_tokens: 8 },
    });
    expect(lastRequest().body).toMatchObject({
      system: [{ text: 'Be brief.' }],
      messages: [{ role: 'user', content: [{ text: 'respond please' }] }],
    });
    expect(lastMetered()).toMatchObject({
      operation: 'responses',
      usage: { inputTokens: 4, outputTokens: 4, cacheReadTokens: 0, cacheWriteTokens: 0 },
    });
  });

  it('streamed: the client’s stream helper assembles the response; max_output_tokens makes it incomplete', async () => {
    const runner = openai.responses.stream({ model: 'claude', input: 'one two three four', max_output_tokens: 3 });
    const deltas: string[] = [];
    runner.on('response.output_text.delta', (e) => deltas.push(e.delta));
    const final = await runner.finalResponse();
    expect(deltas.join('')).toBe('Mock answer: one');
    expect(final.output_text).toBe('Mock answer: one');
    expect(final).toMatchObject({ status: 'incomplete', incomplete_details: { reason: 'max_output_tokens' }, usage: { output_tokens: 3 } });
    expect(lastRequest().operation).toBe('converse-stream');
    expect(lastMetered()?.usage).toEqual({ inputTokens: 4, outputTokens: 3, cacheReadTokens: 0, cacheWriteTokens: 0 });
  });

  it('function calls round trip, streamed and plain', async () => {
    const tools: OpenAI.Responses.FunctionTool[] = [
      {
        type: 'function',
        name: 'search',
        description: 'Search',
        parameters: { type: 'object', properties: { query: { type: 'string' } } },
        strict: false,
      },
    ];
    const first = await openai.responses
      .stream({ model: 'claude', tools, tool_choice: 'required', input: 'find tollgate' })
      .finalResponse();
    const call = first.output.find((o) => o.type === 'function_call') as OpenAI.Responses.ResponseFunctionToolCall;
    expect(call).toMatchObject({ name: 'search', status: 'completed' });
    expect(JSON.parse(call.arguments)).toEqual({ query: 'find tollgate' });
    const second = await openai.responses.create({
      model: 'claude',
      tools,
      input: [
        { role: 'user', content: 'find tollgate' },
        { type: 'function_call', call_id: call.call_id, name: call.name, arguments: call.arguments },
        { type: 'function_call_output', call_id: call.call_id, output: 'a gateway' },
      ],
    });
    expect(second.output_text).toBe('Mock answer: a gateway');
  });

  it('previous_response_id is a 400 naming it, before any Bedrock call', async () => {
    const before = mock.requests.length;
    const err = await openai.responses.create({ model: 'claude', input: 'x', previous_response_id: 'resp_abc' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect((err as InstanceType<typeof OpenAI.BadRequestError>).error).toMatchObject({ param: 'previous_response_id' });
    expect(mock.requests.length).toBe(before);
  });

  it('an exception mid-stream ends the stream with an error event the client raises', async () => {
    const err = await openai.responses
      .stream({ model: 'claude-stream-throttled', input: 'a b c' })
      .finalResponse()
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect(String((err as Error).message)).toContain('throttling');
  });
});

describe('Bedrock errors reach the openai client with honest statuses', () => {
  it.each([
    ['ThrottlingException', 429, OpenAI.RateLimitError, 'upstream_rate_limited'],
    ['ValidationException', 400, OpenAI.BadRequestError, 'upstream_invalid_request'],
    ['AccessDeniedException', 403, OpenAI.PermissionDeniedError, 'upstream_access_denied'],
    ['ResourceNotFoundException', 404, OpenAI.NotFoundError, 'upstream_model_not_found'],
    ['ModelNotReadyException', 502, OpenAI.InternalServerError, 'upstream_failed'],
    ['InternalServerException', 502, OpenAI.InternalServerError, 'upstream_failed'],
  ])('%s: %i', async (exception, status, errorClass, code) => {
    const err = await openai.chat.completions
      .create({ model: `claude-${exception}`, messages: [{ role: 'user', content: 'x' }] })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(errorClass);
    expect((err as InstanceType<typeof OpenAI.APIError>).status).toBe(status);
    expect((err as InstanceType<typeof OpenAI.APIError>).error).toMatchObject({ code });
  });

  it('an exception mid-stream ends the stream with an error the client raises', async () => {
    const stream = await openai.chat.completions.create({
      model: 'claude-stream-throttled',
      stream: true,
      messages: [{ role: 'user', content: 'a b c' }],
    });
    const seen: string[] = [];
    const err = await (async () => {
      for await (const chunk of stream) seen.push(chunk.choices[0]?.delta.content ?? '');
    })().catch((e: unknown) => e);
    expect(seen.join('')).toBe('Mock');
    expect(err).toBeInstanceOf(OpenAI.APIError);
    expect(String((err as Error).message)).toContain('throttling');
  });

  it('a client that goes away mid-stream cancels the Bedrock stream', async () => {
    const controller = new AbortController();
    const stream = await openai.chat.completions.create(
      { model: 'claude-slow', stream: true, messages: [{ role: 'user', content: 'one two three four five six seven eight nine ten' }] },
      { signal: controller.signal },
    );
    const read = (async () => {
      for await (const _ of stream) controller.abort();
    })().catch(() => undefined);
    await read;
    const sent = lastRequest();
    await vi.waitFor(() => expect(sent.cancelled).toBe(true), { timeout: 5000, interval: 20 });
  });

  it('a Bedrock that never answers is a 504 after the deadline', async () => {
    // A gateway of its own with a short deadline, so the others keep a generous one under load.
    const short = await startProviderGateway({
      bedrockEndpoint: mock.url,
      timeoutMs: 1000,
      models: [bedrock('claude-hang', `${CLAUDE}+hang`)],
    });
    try {
      const client = new OpenAI({ baseURL: `${short.url}/v1`, apiKey: 'sk-test', maxRetries: 0 });
      const err = await client.chat.completions
        .create({ model: 'claude-hang', messages: [{ role: 'user', content: 'x' }] })
        .catch((e: unknown) => e);
      expect((err as InstanceType<typeof OpenAI.APIError>).status).toBe(504);
      expect((err as InstanceType<typeof OpenAI.APIError>).error).toMatchObject({
        code: 'upstream_timeout',
        message: expect.stringContaining('1000 ms'),
      });
    } finally {
      await short.close();
    }
  });
});

describe('OpenAI embeddings through InvokeModel', () => {
  it('Titan Text Embeddings v2: one call per input, vectors in order (base64, as the client asks by default), usage summed', async () => {
    const before = mock.requests.length;
    const out = await openai.embeddings.create({ model: 'titan-embed', input: ['one two', 'three'], dimensions: 256 });
    expect(out.data.map((d) => d.index)).toEqual([0, 1]);
    expect(out.data[0]?.embedding).toHaveLength(256);
    expect(out.usage).toEqual({ prompt_tokens: 3, total_tokens: 3 });
    expect(mock.requests.slice(before).map((r) => r.body)).toEqual([
      { inputText: 'one two', dimensions: 256, normalize: true },
      { inputText: 'three', dimensions: 256, normalize: true },
    ]);
    expect(lastMetered()?.usage).toEqual({ inputTokens: 3, outputTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 0 });
  });

  it('the vectors are Bedrock’s, floats or base64 alike', async () => {
    const floats = await openai.embeddings.create({ model: 'titan-embed', input: 'same text', encoding_format: 'float' });
    const packed = await openai.embeddings.create({ model: 'titan-embed', input: 'same text' });
    const a = floats.data[0]?.embedding as number[];
    const b = packed.data[0]?.embedding as number[];
    expect(b.map((x, i) => Math.abs(x - (a[i] as number)) < 1e-6).every(Boolean)).toBe(true);
  });

  it('Cohere Embed: one batch call, usage from Bedrock’s token header', async () => {
    const before = mock.requests.length;
    const out = await openai.embeddings.create({
      model: 'cohere-embed',
      input: ['alpha beta', 'gamma', 'delta epsilon zeta'],
      encoding_format: 'float',
    });
    expect(out.data).toHaveLength(3);
    expect(mock.requests.length - before).toBe(1);
    expect(lastRequest().body).toEqual({
      texts: ['alpha beta', 'gamma', 'delta epsilon zeta'],
      input_type: 'search_document',
      embedding_types: ['float'],
    });
    expect(out.usage).toEqual({ prompt_tokens: 6, total_tokens: 6 });
    expect(lastMetered()?.usage?.inputTokens).toBe(6);
  });
});
