/**
 * Properties of the OpenAI -> Converse translation over generated requests:
 *  - it either returns a request or throws a 400 that names a field; nothing else;
 *  - what it returns has the shape Bedrock enforces (alternating roles from a user turn, no empty
 *    message or blank text, every tool call answered in the next turn, tools declared when tool
 *    blocks are present, known union members only, parameters in range);
 *  - the Bedrock SDK's own ConverseCommand serializes it (in process, no network);
 *  - every well-formed conversation is accepted.
 */

import { Readable } from 'node:stream';
import { BedrockRuntimeClient, ConverseCommand, type ConverseCommandInput } from '@aws-sdk/client-bedrock-runtime';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InvalidRequestError } from '../../../lib/errors.js';
import { toConverseRequest } from '../../../lib/providers/bedrock/translate.js';

const MODEL = 'us.anthropic.claude-sonnet-4-20250514-v1:0';
const TOOL_NAMES = ['get_weather', 'search', 'constructor', '__proto__', 'toString', 'bad name'];
const IDS = ['call_1', 'call_2', 'tooluse_x', 'call.bad', 'constructor'];
const PNG_URL = `data:image/png;base64,${Buffer.from([1, 2, 3, 4]).toString('base64')}`;

// ---------------------------------------------------------------------------------------------
// Generators: anything goes (mostly plausible), and well-formed conversations

const text = fc.oneof(fc.constantFrom('', ' ', '\n', 'hello', 'What is the weather?', 'done'), fc.string({ maxLength: 12 }));
const textPart = text.map((t) => ({ type: 'text', text: t }));
const imagePart = fc
  .constantFrom(
    PNG_URL,
    'data:image/jpeg;base64,AAAA',
    'https://example.com/x.png',
    'data:image/tiff;base64,AAAA',
    'data:image/png;base64,',
  )
  .map((url) => ({ type: 'image_url', image_url: { url } }));
const oddPart = fc.constantFrom(
  { type: 'input_audio', input_audio: { data: 'AA==', format: 'wav' } },
  { type: 'file', file: { file_id: 'x' } },
  { type: 'text' },
  'text',
  null,
);
const content = fc.oneof(
  text,
  fc.array(fc.oneof({ weight: 4, arbitrary: textPart }, { weight: 2, arbitrary: imagePart }, { weight: 1, arbitrary: oddPart }), {
    maxLength: 3,
  }),
);
const toolCall = fc.record({
  id: fc.constantFrom(...IDS),
  type: fc.constantFrom('function', 'function', 'custom'),
  function: fc.record({ name: fc.constantFrom(...TOOL_NAMES), arguments: fc.constantFrom('{}', '{"city":"Paris"}', '', '{bad', '[]') }),
});
const anyMessage = fc.oneof(
  fc.record({ role: fc.constantFrom('system', 'developer'), content: fc.oneof(text, fc.array(textPart, { maxLength: 2 })) }),
  fc.record({ role: fc.constant('user'), content }),
  fc.record(
    {
      role: fc.constant('assistant'),
      content: fc.oneof(fc.constant(null), text),
      tool_calls: fc.option(fc.array(toolCall, { minLength: 1, maxLength: 2 }), { nil: undefined }),
    },
    { requiredKeys: ['role', 'content'] },
  ),
  fc.record({ role: fc.constant('tool'), tool_call_id: fc.constantFrom(...IDS), content: text }),
  fc.record({ role: fc.constantFrom('function', 'bot'), content: text }),
);
const tool = fc.record({
  type: fc.constantFrom('function', 'function', 'web_search'),
  function: fc.record(
    { name: fc.constantFrom(...TOOL_NAMES), parameters: fc.constantFrom(undefined, { type: 'object' }, 'x') },
    { requiredKeys: ['name'] },
  ),
});
const toolChoice = fc.constantFrom(
  undefined,
  'auto',
  'required',
  'none',
  { type: 'function', function: { name: 'get_weather' } },
  { type: 'function', function: { name: 'constructor' } },
  'sometimes',
);

/** Optional request fields, valid more often than not. */
const fields = fc.record(
  {
    tools: fc.array(tool, { maxLength: 3 }),
    tool_choice: toolChoice,
    temperature: fc.oneof(
      { weight: 3, arbitrary: fc.double({ min: 0, max: 1, noNaN: true }) },
      fc.double({ min: -1, max: 3, noNaN: true }),
      fc.constant(null),
    ),
    top_p: fc.oneof({ weight: 3, arbitrary: fc.double({ min: 0, max: 1, noNaN: true }) }, fc.double({ min: -0.5, max: 1.5, noNaN: true })),
    max_tokens: fc.oneof({ weight: 3, arbitrary: fc.integer({ min: 1, max: 5000 }) }, fc.integer({ min: -2, max: 0 })),
    max_completion_tokens: fc.oneof({ weight: 3, arbitrary: fc.integer({ min: 1, max: 100 }) }, fc.constant(0), fc.constant(1.5)),
    stop: fc.oneof(fc.string({ maxLength: 4 }), fc.array(fc.string({ maxLength: 4 }), { maxLength: 3 })),
    n: fc.oneof({ weight: 5, arbitrary: fc.constant(1) }, fc.constant(2)),
    frequency_penalty: fc.oneof({ weight: 5, arbitrary: fc.constant(0) }, fc.constant(0.5)),
    response_format: fc.constantFrom(
      { type: 'text' },
      { type: 'json_object' },
      { type: 'json_schema', json_schema: { name: 'a', schema: { type: 'object' } } },
      { type: 'xml' },
    ),
    user: fc.string({ maxLength: 5 }),
  },
  { requiredKeys: [] },
);

/** Random messages with random fields: mostly refused, which is the point. */
const randomRequest = fc.tuple(fc.array(anyMessage, { maxLength: 7 }), fields).map(([messages, rest]) => ({ messages, ...rest }));

/** A well-formed conversation: user first, tool calls answered by tool messages, tools declared. */
const wellFormed = fc
  .record({
    system: fc.option(fc.constantFrom('Be brief.', 'You are helpful.'), { nil: undefined }),
    rounds: fc.array(
      fc.record({
        user: fc.oneof(
          fc.constantFrom('hi', 'What is the weather in Paris?'),
          fc.constant([
            { type: 'text', text: 'look' },
            { type: 'image_url', image_url: { url: PNG_URL } },
          ]),
        ),
        calls: fc.array(fc.constantFrom('get_weather', 'search'), { maxLength: 3 }),
        reply: fc.constantFrom('', 'Sure.', 'Here you go.'),
      }),
      { minLength: 1, maxLength: 4 },
    ),
    choice: fc.constantFrom(undefined, 'auto', 'required', 'none', { type: 'function', function: { name: 'search' } }),
    temperature: fc.option(fc.double({ min: 0, max: 1, noNaN: true }), { nil: undefined }),
    max_tokens: fc.option(fc.integer({ min: 1, max: 4096 }), { nil: undefined }),
  })
  .map(({ system, rounds, choice, temperature, max_tokens }) => {
    const messages: Record<string, unknown>[] = system ? [{ role: 'system', content: system }] : [];
    let n = 0;
    for (const r of rounds) {
      messages.push({ role: 'user', content: r.user });
      if (r.calls.length > 0) {
        const calls = r.calls.map((name) => ({ id: `call_${++n}`, type: 'function', function: { name, arguments: '{"q":"x"}' } }));
        messages.push({ role: 'assistant', content: r.reply || null, tool_calls: calls });
        for (const c of calls) messages.push({ role: 'tool', tool_call_id: c.id, content: `result of ${c.function.name}` });
      }
      if (r.reply) messages.push({ role: 'assistant', content: r.reply });
    }
    const tools = ['get_weather', 'search'].map((name) => ({
      type: 'function',
      function: { name, parameters: { type: 'object', properties: { q: { type: 'string' } } } },
    }));
    return {
      messages,
      tools,
      ...(choice !== undefined ? { tool_choice: choice } : {}),
      ...(temperature !== undefined ? { temperature } : {}),
      ...(max_tokens !== undefined ? { max_tokens } : {}),
    };
  });

/** A well-formed conversation with a few random changes: the edge between accepted and refused. */
const mutated = fc
  .tuple(
    wellFormed,
    fc.array(
      fc.oneof(
        fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), message: anyMessage }),
        fc.record({ kind: fc.constant('remove' as const), at: fc.nat() }),
        fc.record({ kind: fc.constant('fields' as const), fields }),
      ),
      { minLength: 1, maxLength: 3 },
    ),
  )
  .map(([body, changes]) => {
    const messages = [...body.messages];
    let out: Record<string, unknown> = { ...body };
    for (const c of changes) {
      if (c.kind === 'insert') messages.splice(c.at % (messages.length + 1), 0, c.message);
      else if (c.kind === 'remove' && messages.length > 0) messages.splice(c.at % messages.length, 1);
      else if (c.kind === 'fields') out = { ...out, ...Object.fromEntries(Object.entries(c.fields).filter(([, v]) => v !== undefined)) };
    }
    return { ...out, messages };
  });

/** A well-formed conversation with one message added or removed. */
const nudged = fc.tuple(wellFormed, fc.nat(), fc.option(anyMessage, { nil: undefined })).map(([body, at, message]) => {
  const messages = [...body.messages];
  if (message) messages.splice(at % (messages.length + 1), 0, message);
  else messages.splice(at % messages.length, 1);
  return { ...body, messages };
});

const anyRequest: fc.Arbitrary<Record<string, unknown>> = fc.oneof(randomRequest, mutated, nudged);

// ---------------------------------------------------------------------------------------------
// Bedrock's invariants, checked on a translated request

const CONTENT_MEMBERS = new Set(['text', 'image', 'toolUse', 'toolResult', 'reasoningContent', 'document', 'cachePoint']);
const NAME = /^[a-zA-Z0-9_-]{1,64}$/;

function assertBedrockShape(input: ConverseCommandInput): void {
  expect(input.modelId).toBe(MODEL);
  const messages = input.messages ?? [];
  expect(messages.length).toBeGreaterThan(0);
  expect(messages[0]?.role).toBe('user');
  let toolBlocks = false;
  messages.forEach((m, k) => {
    if (k > 0) expect(m.role).not.toBe(messages[k - 1]?.role);
    expect(m.content?.length ?? 0).toBeGreaterThan(0);
    for (const block of m.content ?? []) {
      const keys = Object.keys(block).filter((key) => (block as unknown as Record<string, unknown>)[key] !== undefined);
      expect(keys).toHaveLength(1);
      expect(CONTENT_MEMBERS.has(keys[0] as string)).toBe(true);
      if (block.text !== undefined) expect(block.text).toMatch(/\S/);
      if (block.image) {
        expect(['png', 'jpeg', 'gif', 'webp']).toContain(block.image.format);
        expect(block.image.source?.bytes).toBeInstanceOf(Uint8Array);
        expect(block.image.source?.bytes?.length).toBeGreaterThan(0);
      }
      if (block.toolUse) {
        toolBlocks = true;
        expect(m.role).toBe('assistant');
        expect(block.toolUse.toolUseId).toMatch(NAME);
        expect(block.toolUse.name).toMatch(NAME);
        expect(typeof block.toolUse.input === 'object' && block.toolUse.input !== null && !Array.isArray(block.toolUse.input)).toBe(true);
        // answered in the very next turn
        const next = messages[k + 1]?.content ?? [];
        expect(next.some((b) => b.toolResult?.toolUseId === block.toolUse?.toolUseId)).toBe(true);
      }
      if (block.toolResult) {
        toolBlocks = true;
        expect(m.role).toBe('user');
        const previous = messages[k - 1]?.content ?? [];
        expect(previous.some((b) => b.toolUse?.toolUseId === block.toolResult?.toolUseId)).toBe(true);
        for (const c of block.toolResult.content ?? []) if (c.text !== undefined) expect(c.text).toMatch(/\S/);
      }
    }
    // tool results lead their turn (Claude requires it)
    const firstOther = (m.content ?? []).findIndex((b) => !b.toolResult);
    if (firstOther >= 0) expect((m.content ?? []).slice(firstOther).some((b) => b.toolResult)).toBe(false);
  });
  for (const s of input.system ?? []) expect(s.text).toMatch(/\S/);
  const tools = input.toolConfig?.tools ?? [];
  if (toolBlocks) expect(tools.length).toBeGreaterThan(0);
  if (input.toolConfig) {
    expect(tools.length).toBeGreaterThan(0);
    const names = tools.map((t) => t.toolSpec?.name);
    expect(new Set(names).size).toBe(names.length);
    for (const t of tools) {
      expect(t.toolSpec?.name).toMatch(NAME);
      expect(typeof t.toolSpec?.inputSchema?.json).toBe('object');
    }
    const choice = input.toolConfig.toolChoice;
    if (choice) {
      expect(Object.keys(choice)).toHaveLength(1);
      if (choice.tool) expect(names).toContain(choice.tool.name);
    }
  }
  const inf = input.inferenceConfig;
  if (inf?.maxTokens !== undefined) expect(Number.isSafeInteger(inf.maxTokens) && inf.maxTokens >= 1).toBe(true);
  for (const v of [inf?.temperature, inf?.topP]) if (v !== undefined) expect(v >= 0 && v <= 1).toBe(true);
  for (const s of inf?.stopSequences ?? []) expect(s.length).toBeGreaterThan(0);
}

/** The translation, or the 400 it threw; anything else fails the property. */
function translate(body: Record<string, unknown>): ConverseCommandInput | InvalidRequestError {
  try {
    return toConverseRequest(body, MODEL);
  } catch (e) {
    expect(e).toBeInstanceOf(InvalidRequestError);
    const err = e as InvalidRequestError;
    expect(err.status).toBe(400);
    expect(typeof err.param).toBe('string');
    expect(err.message).toContain(`\`${err.param}\``);
    return err;
  }
}

/** The SDK's own client, answering in process: a request it cannot serialize fails here. */
function serializingClient(): { client: BedrockRuntimeClient; sent: { path: string; body: string }[] } {
  const sent: { path: string; body: string }[] = [];
  const answer = JSON.stringify({
    output: { message: { role: 'assistant', content: [{ text: 'ok' }] } },
    stopReason: 'end_turn',
    usage: { inputTokens: 1, outputTokens: 1, totalTokens: 2 },
    metrics: { latencyMs: 1 },
  });
  const client = new BedrockRuntimeClient({
    region: 'us-east-1',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    maxAttempts: 1,
    requestHandler: {
      handle: async (request: { path: string; body: Uint8Array | string }) => {
        sent.push({ path: request.path, body: typeof request.body === 'string' ? request.body : new TextDecoder().decode(request.body) });
        return {
          response: { statusCode: 200, headers: { 'content-type': 'application/json' }, body: Readable.from([Buffer.from(answer)]) },
        };
      },
    } as never,
  });
  return { client, sent };
}

describe('OpenAI -> Converse translation, over generated requests', () => {
  it('returns a request with Bedrock’s shape, or a 400 naming a field', () => {
    let accepted = 0;
    fc.assert(
      fc.property(anyRequest, (body) => {
        const out = translate(body);
        if (!(out instanceof InvalidRequestError)) {
          accepted++;
          assertBedrockShape(out);
        }
      }),
      { numRuns: 2000 },
    );
    // The generator must reach the accepting side too, or the shape checks above prove nothing.
    expect(accepted).toBeGreaterThan(200);
  });

  it('accepts every well-formed conversation, and the result has Bedrock’s shape', () => {
    fc.assert(
      fc.property(wellFormed, (body) => {
        const out = translate(body);
        expect(out).not.toBeInstanceOf(InvalidRequestError);
        assertBedrockShape(out as ConverseCommandInput);
      }),
      { numRuns: 500 },
    );
  });

  it('what it returns, the Bedrock SDK’s ConverseCommand serializes to Bedrock’s wire format', async () => {
    const { client, sent } = serializingClient();
    await fc.assert(
      fc.asyncProperty(fc.oneof(wellFormed, anyRequest), async (body) => {
        const out = translate(body);
        if (out instanceof InvalidRequestError) return;
        const before = sent.length;
        const answer = await client.send(new ConverseCommand(out));
        expect(answer.output?.message?.content?.[0]?.text).toBe('ok');
        const wire = sent[before] as { path: string; body: string };
        expect(wire.path).toBe(`/model/${encodeURIComponent(MODEL)}/converse`);
        const json = JSON.parse(wire.body) as { messages: { role: string; content: Record<string, unknown>[] }[] };
        expect(json.messages.map((m) => m.role)).toEqual(out.messages?.map((m) => m.role));
        // blobs travel as base64, documents as JSON
        for (const [k, m] of (out.messages ?? []).entries()) {
          for (const [j, b] of (m.content ?? []).entries()) {
            const w = json.messages[k]?.content[j] as Record<string, { source?: { bytes?: string }; input?: unknown }>;
            if (b.image) expect(Buffer.from(w.image?.source?.bytes ?? '', 'base64')).toEqual(Buffer.from(b.image.source?.bytes ?? []));
            if (b.toolUse) expect(w.toolUse?.input).toEqual(b.toolUse.input);
          }
        }
      }),
      { numRuns: 300 },
    );
  });
});
