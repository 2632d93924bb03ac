/**
 * A mock Amazon Bedrock runtime on loopback, speaking the wire protocol the AWS SDK's
 * BedrockRuntimeClient uses (point its `endpoint` here, with any credentials). That client talks
 * HTTP/2 (its default handler is NodeHttp2Handler), so this is an HTTP/2 server (cleartext, as an
 * `http://` endpoint gets):
 *   POST /model/{modelId}/converse          Converse: JSON in, JSON out
 *   POST /model/{modelId}/converse-stream   ConverseStream: JSON in, AWS event-stream frames out
 *   POST /model/{modelId}/invoke            InvokeModel: Titan Text Embeddings and Cohere Embed bodies
 * Errors are Bedrock's: the status, `x-amzn-errortype` and `{"message"}`; in a stream, an
 * exception frame. It enforces what Bedrock enforces on a conversation (a user turn first,
 * alternating roles, no empty content, tool results answering the previous turn's tool uses,
 * tools declared when tool blocks are present), so a translation mistake fails here as it would
 * there.
 *
 * Usage is real and deterministic, as in the mock OpenAI upstream: one token per
 * whitespace-separated word. A cache point makes the text before it a cached prefix: written
 * (cacheWriteInputTokens) the first time the mock sees it, read (cacheReadInputTokens) after.
 *
 * Answers: with a tool result in the last user turn, `Mock answer: <the results>`; with a tool
 * choice of `any` or `tool`, or a last user text saying `use <tool name>`, a call of that tool
 * with `{"query": <the last user text>}`; otherwise `Mock answer: <the last user text>`, cut to
 * maxTokens words (stopReason max_tokens) or before a stop sequence (stop_sequence).
 *
 * Knobs ride on the model id, `<model>+<knob>+<knob>`:
 *   error=<ExceptionName>         answer that exception (ThrottlingException, AccessDeniedException, ...)
 *   stream_error=<ExceptionName>  ConverseStream: send one text delta, then that exception frame
 *   delay=<ms>                    pause before the answer and between stream events
 *   hang                          accept the request and never answer
 */
import { createHash } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { createServer, type Http2ServerRequest, type Http2ServerResponse, type Http2Session } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { EventStreamCodec } from '@smithy/eventstream-codec';
import { countTokens } from './mock-upstream.js';

export interface MockBedrockRequest {
  operation: 'converse' | 'converse-stream' | 'invoke';
  /** The model id as Bedrock reads it (decoded), knobs included. */
  modelId: string;
  headers: IncomingHttpHeaders;
  body: unknown;
  /** Set when the client went away before a stream was complete. */
  cancelled?: boolean;
}

export interface MockBedrock {
  /** The endpoint to give the SDK client, e.g. `http://127.0.0.1:40123`. */
  url: string;
  requests: MockBedrockRequest[];
  close(): Promise<void>;
}

type Json = Record<string, unknown>;

/** Bedrock's status for each exception it answers with. */
const EXCEPTION_STATUS: Readonly<Record<string, number>> = {
  ThrottlingException: 429,
  ServiceQuotaExceededException: 400,
  ValidationException: 400,
  AccessDeniedException: 403,
  ResourceNotFoundException: 404,
  ModelTimeoutException: 408,
  ModelNotReadyException: 429,
  ModelErrorException: 424,
  InternalServerException: 500,
  ServiceUnavailableException: 503,
};

/** Exceptions a ConverseStream may send mid-stream, by their event member name. */
const STREAM_EXCEPTIONS: Readonly<Record<string, string>> = {
  ThrottlingException: 'throttlingException',
  ValidationException: 'validationException',
  InternalServerException: 'internalServerException',
  ModelStreamErrorException: 'modelStreamErrorException',
  ServiceUnavailableException: 'serviceUnavailableException',
};

class BedrockException extends Error {
  constructor(
    readonly type: string,
    message: string,
  ) {
    super(message);
  }
}

interface Knobs {
  error?: string;
  streamError?: string;
  delayMs: number;
  hang: boolean;
}

function parseKnobs(modelId: string): { model: string; knobs: Knobs } {
  const [model = '', ...parts] = modelId.split('+');
  const knobs: Knobs = { delayMs: 0, hang: false };
  for (const part of parts) {
    const [name, value = ''] = part.split('=');
    if (name === 'error') knobs.error = value;
    else if (name === 'stream_error') knobs.streamError = value;
    else if (name === 'delay' && Number.isFinite(Number(value))) knobs.delayMs = Number(value);
    else if (name === 'hang') knobs.hang = true;
  }
  return { model, knobs };
}

const sleep = (ms: number) => (ms > 0 ? new Promise<void>((r) => setTimeout(r, ms)) : Promise.resolve());
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const codec = new EventStreamCodec(
  (bytes) => Buffer.from(bytes).toString('utf8'),
  (text) => new Uint8Array(Buffer.from(text, 'utf8')),
);

export async function startMockBedrock(opts: { port?: number; host?: string } = {}): Promise<MockBedrock> {
  const requests: MockBedrockRequest[] = [];
  const seenPrefixes = new Set<string>();
  const sessions = new Set<Http2Session>();
  const server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      const ex = e instanceof BedrockException ? e : new BedrockException('InternalServerException', 'mock Bedrock failure');
      if (!res.headersSent) sendException(res, ex);
      else res.end();
    });
  });

  server.on('session', (session) => {
    sessions.add(session);
    session.once('close', () => sessions.delete(session));
  });

  async function handle(req: Http2ServerRequest, res: Http2ServerResponse): Promise<void> {
    const raw = await readBody(req);
    const match = /^\/model\/([^/]+)\/(converse|converse-stream|invoke)$/.exec((req.url ?? '').split('?')[0] ?? '');
    if (req.method !== 'POST' || !match)
      throw new BedrockException('UnknownOperationException', `the mock Bedrock does not serve ${req.method} ${req.url}`);
    const modelId = decodeURIComponent(match[1] as string);
    const operation = match[2] as MockBedrockRequest['operation'];
    let body: unknown;
    try {
      body = JSON.parse(raw.toString('utf8'));
    } catch {
      throw new BedrockException('ValidationException', 'the request body is not JSON');
    }
    const record: MockBedrockRequest = { operation, modelId, headers: req.headers, body };
    requests.push(record);
    if (!/^AWS4-HMAC-SHA256 /.test(req.headers.authorization ?? ''))
      throw new BedrockException('AccessDeniedException', 'the request is not signed with SigV4');
    const { model, knobs } = parseKnobs(modelId);
    if (knobs.hang) return;
    await sleep(knobs.delayMs);
    if (knobs.error) throw new BedrockException(knobs.error, `mock ${knobs.error}`);
    if (!isObject(body)) throw new BedrockException('ValidationException', 'the request body must be an object');

    if (operation === 'invoke') return sendInvoke(res, model, body);
    const answer = converse(body, model);
    if (operation === 'converse') {
      res.writeHead(200, { 'content-type': 'application/json' });
      const fields = answer.fields ? { additionalModelResponseFields: answer.fields } : {};
      res.end(
        JSON.stringify({
          output: { message: { role: 'assistant', content: answer.content } },
          stopReason: answer.stopReason,
          usage: answer.usage,
          metrics: { latencyMs: 1 },
          ...fields,
        }),
      );
      return;
    }
    res.writeHead(200, { 'content-type': 'application/vnd.amazon.eventstream' });
    const events = streamEvents(answer);
    for (const [i, [type, payload]] of events.entries()) {
      if (i > 0) await sleep(knobs.delayMs);
      if (res.stream.destroyed) {
        record.cancelled = true;
        return;
      }
      res.write(frame('event', type, payload));
      if (knobs.streamError && type === 'contentBlockDelta') {
        const member = STREAM_EXCEPTIONS[knobs.streamError] ?? 'internalServerException';
        res.end(frame('exception', member, { message: `mock ${knobs.streamError}` }));
        return;
      }
    }
    res.end();
  }

  interface Answer {
    content: Json[];
    stopReason: string;
    /** What `additionalModelResponseFieldPaths` asked for (Claude's `/stop_sequence`). */
    fields?: Json;
    usage: {
      inputTokens: number;
      outputTokens: number;
      totalTokens: number;
      cacheReadInputTokens?: number;
      cacheWriteInputTokens?: number;
    };
  }

  function converse(body: Json, model: string): Answer {
    const messages = validateConversation(body);
    const thinks = thinkingAsked(body, model, messages);
    const system = Array.isArray(body.system) ? (body.system as Json[]) : [];
    const inference = isObject(body.inferenceConfig) ? body.inferenceConfig : {};
    const toolConfig = isObject(body.toolConfig) ? body.toolConfig : undefined;

    // Input tokens, split at the last cache point into a cached prefix and the rest.
    const blocks = [...system, ...messages.flatMap((m) => m.content as Json[])];
    const lastCachePoint = blocks.map((b) => isObject(b.cachePoint)).lastIndexOf(true);
    const tokensOf = (list: Json[]) => list.reduce((n, b) => n + blockTokens(b), 0);
    const prefix = lastCachePoint >= 0 ? blocks.slice(0, lastCachePoint) : [];
    const prefixTokens = tokensOf(prefix);
    const restTokens = tokensOf(lastCachePoint >= 0 ? blocks.slice(lastCachePoint + 1) : blocks);
    let cacheRead = 0;
    let cacheWrite = 0;
    if (lastCachePoint >= 0) {
      const key = createHash('sha256').update(JSON.stringify(prefix)).digest('hex');
      if (seenPrefixes.has(key)) cacheRead = prefixTokens;
      else {
        seenPrefixes.add(key);
        cacheWrite = prefixTokens;
      }
    }

    const last = messages.at(-1) as Json;
    const lastContent = last.content as Json[];
    const lastText = lastContent
      .filter((b) => typeof b.text === 'string')
      .map((b) => b.text as string)
      .join(' ');
    const results = lastContent.filter((b) => isObject(b.toolResult)).map((b) => toolResultText(b.toolResult as Json));
    const tool = last.role === 'user' && results.length === 0 ? chosenTool(toolConfig, lastText) : undefined;

    const usage = (output: number) => ({
      inputTokens: restTokens,
      outputTokens: output,
      totalTokens: restTokens + output + cacheRead + cacheWrite,
      ...(lastCachePoint >= 0 ? { cacheReadInputTokens: cacheRead, cacheWriteInputTokens: cacheWrite } : {}),
    });
    // Claude's extended thinking: a signed thinking block first, its tokens part of the output.
    const thought = `Thinking about: ${lastText || results.join(' ') || 'the conversation'}`;
    const thinking = thinks
      ? [{ reasoningContent: { reasoningText: { text: thought, signature: `mock-signature-${requests.length}` } } }]
      : [];
    const thinkingTokens = thinks ? countTokens(thought) : 0;
    if (tool) {
      const input = { query: lastText };
      return {
        content: [...thinking, { toolUse: { toolUseId: `tooluse_mock${requests.length}`, name: tool, input } }],
        stopReason: 'tool_use',
        usage: usage(thinkingTokens + countTokens(JSON.stringify(input))),
      };
    }
    let words = ['Mock', 'answer:', ...(results.length > 0 ? results.join(' ') : lastText).split(/\s+/).filter((w) => w.length > 0)];
    let stopReason = 'end_turn';
    const stops = Array.isArray(inference.stopSequences) ? (inference.stopSequences as string[]) : [];
    const stopAt = words.findIndex((w) => stops.some((s) => w.includes(s)));
    let matched: string | null = null;
    if (stopAt >= 0) {
      matched = stops.find((s) => words[stopAt]?.includes(s)) ?? null;
      words = words.slice(0, stopAt);
      stopReason = 'stop_sequence';
    }
    const max = inference.maxTokens;
    if (typeof max === 'number' && words.length > max) {
      words = words.slice(0, max);
      stopReason = 'max_tokens';
    }
    const paths = Array.isArray(body.additionalModelResponseFieldPaths) ? body.additionalModelResponseFieldPaths : [];
    const fields = paths.includes('/stop_sequence') ? { fields: { stop_sequence: matched } } : {};
    return { content: [...thinking, { text: words.join(' ') }], stopReason, usage: usage(thinkingTokens + words.length), ...fields };
  }

  function sendInvoke(res: Http2ServerResponse, model: string, body: Json): void {
    const send = (answer: Json, tokens: number) => {
      res.writeHead(200, {
        'content-type': 'application/json',
        'x-amzn-bedrock-input-token-count': String(tokens),
        'x-amzn-bedrock-output-token-count': '0',
      });
      res.end(JSON.stringify(answer));
    };
    if (/titan-embed-text/.test(model)) {
      if (typeof body.inputText !== 'string' || body.inputText.length === 0)
        throw new BedrockException('ValidationException', 'inputText must be a non-empty string');
      // Titan's own limit: 50,000 characters.
      if (body.inputText.length > 50_000) throw new BedrockException('ValidationException', 'Too many input characters');
      const v2 = /v2/.test(model);
      const dims = v2 ? (body.dimensions ?? 1024) : 1536;
      if (v2 && ![256, 512, 1024].includes(dims as number))
        throw new BedrockException('ValidationException', 'dimensions must be 256, 512 or 1024');
      const tokens = countTokens(body.inputText);
      return send({ embedding: vectorOf(body.inputText, dims as number), inputTextTokenCount: tokens }, tokens);
    }
    if (/cohere\.embed/.test(model)) {
      const texts = body.texts;
      if (!Array.isArray(texts) || texts.length === 0 || texts.length > 96 || texts.some((t) => typeof t !== 'string'))
        throw new BedrockException('ValidationException', 'texts must hold 1 to 96 strings');
      if (typeof body.input_type !== 'string') throw new BedrockException('ValidationException', 'input_type is required');
      const dims = typeof body.output_dimension === 'number' ? body.output_dimension : 1024;
      const vectors = (texts as string[]).map((t) => vectorOf(t, dims));
      const tokens = (texts as string[]).reduce((n, t) => n + countTokens(t), 0);
      const embeddings = Array.isArray(body.embedding_types) ? { float: vectors } : vectors;
      return send(
        {
          id: `mock-${requests.length}`,
          embeddings,
          texts,
          response_type: Array.isArray(body.embedding_types) ? 'embeddings_by_type' : 'embeddings_floats',
        },
        tokens,
      );
    }
    throw new BedrockException('ValidationException', `the mock Bedrock cannot invoke ${model}`);
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => resolve());
  });
  const { port, address, family } = server.address() as AddressInfo;
  const host = family === 'IPv6' ? `[${address}]` : address;
  return {
    url: `http://${host}:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        for (const session of sessions) session.destroy();
        server.close(() => resolve());
      }),
  };
}

/** Bedrock's rules for a conversation; the messages when they hold. */
function validateConversation(body: Json): Json[] {
  const fail = (message: string): never => {
    throw new BedrockException('ValidationException', message);
  };
  const messages = body.messages;
  if (!Array.isArray(messages) || messages.length === 0) fail('messages must not be empty');
  const list = messages as Json[];
  if (list[0]?.role !== 'user')
    fail('A conversation must start with a user message. Try again with a conversation that starts with a user message.');
  let toolBlocks = false;
  list.forEach((m, k) => {
    if (m.role !== 'user' && m.role !== 'assistant') fail(`messages.${k}.role must be user or assistant`);
    if (k > 0 && m.role === list[k - 1]?.role)
      fail(
        'A conversation must alternate between user and assistant roles. Make sure the conversation alternates between user and assistant roles and try again.',
      );
    const content = m.content;
    if (!Array.isArray(content) || content.length === 0) fail(`messages.${k}.content must not be empty`);
    for (const block of content as Json[]) {
      const members = Object.keys(block);
      if (members.length !== 1) fail(`messages.${k}.content holds a block with ${members.length} members`);
      if (typeof block.text === 'string' && !/\S/.test(block.text))
        fail('The text field in the ContentBlock object is blank. Add text to the text field, and try again.');
      if (isObject(block.toolUse)) {
        toolBlocks = true;
        if (m.role !== 'assistant') fail('toolUse blocks must be in assistant messages');
        const id = block.toolUse.toolUseId;
        const answered = ((list[k + 1]?.content ?? []) as Json[]).some((b) => isObject(b.toolResult) && b.toolResult.toolUseId === id);
        if (k + 1 < list.length && !answered)
          fail(`Expected toolResult blocks at messages.${k + 1}.content for the following Ids: ${String(id)}`);
      }
      if (isObject(block.toolResult)) {
        toolBlocks = true;
        const id = block.toolResult.toolUseId;
        const asked = ((list[k - 1]?.content ?? []) as Json[]).some((b) => isObject(b.toolUse) && b.toolUse.toolUseId === id);
        if (!asked) fail(`messages.${k}: toolResult ${String(id)} answers no toolUse of the previous turn`);
      }
      if (isObject(block.image)) {
        const bytes = isObject(block.image.source) ? block.image.source.bytes : undefined;
        if (typeof bytes !== 'string' || bytes.length === 0) fail('image bytes must be set');
      }
    }
  });
  const tools = isObject(body.toolConfig) && Array.isArray(body.toolConfig.tools) ? body.toolConfig.tools : [];
  if (toolBlocks && tools.length === 0) fail('The toolConfig field must be defined when using toolUse and toolResult content blocks.');
  return list;
}

/**
 * Whether Claude thinks (`additionalModelRequestFields.thinking` enabled), under Anthropic's rules:
 * Claude models only, a budget of 1,024 tokens or more, `maxTokens` above it, and, while a tool
 * call is answered, the assistant turn that made it starting with its thinking block.
 */
function thinkingAsked(body: Json, model: string, messages: Json[]): boolean {
  const fail = (message: string): never => {
    throw new BedrockException('ValidationException', message);
  };
  const fields = isObject(body.additionalModelRequestFields) ? body.additionalModelRequestFields : {};
  const thinking = fields.thinking;
  if (thinking === undefined) return false;
  if (!/anthropic\./.test(model)) fail('The model returned the following errors: thinking: Extra inputs are not permitted');
  if (!isObject(thinking) || (thinking.type !== 'enabled' && thinking.type !== 'disabled'))
    fail('The model returned the following errors: thinking.type: Input should be enabled or disabled');
  if ((thinking as Json).type === 'disabled') return false;
  const budget = (thinking as Json).budget_tokens;
  if (typeof budget !== 'number' || !Number.isInteger(budget) || budget < 1024)
    fail('The model returned the following errors: thinking.enabled.budget_tokens: Input should be greater than or equal to 1024');
  const max = isObject(body.inferenceConfig) ? body.inferenceConfig.maxTokens : undefined;
  if (typeof max !== 'number' || max <= (budget as number))
    fail('The model returned the following errors: `max_tokens` must be greater than `thinking.budget_tokens`');
  const last = messages.at(-1) as Json;
  const answered = (last.content as Json[]).some((b) => isObject(b.toolResult));
  const caller = messages.at(-2);
  if (answered && caller && !isObject((caller.content as Json[])[0]?.reasoningContent))
    fail(
      'The model returned the following errors: messages.1.content.0.type: Expected `thinking` or `redacted_thinking`, but found `tool_use`. When `thinking` is enabled, a final `assistant` message must start with a thinking block',
    );
  return true;
}

function blockTokens(b: Json): number {
  if (typeof b.text === 'string') return countTokens(b.text);
  if (isObject(b.toolUse)) return countTokens(JSON.stringify(b.toolUse.input ?? {}));
  if (isObject(b.toolResult)) return countTokens(toolResultText(b.toolResult));
  if (isObject(b.image) || isObject(b.document)) return 100;
  return 0;
}

function toolResultText(result: Json): string {
  const content = Array.isArray(result.content) ? (result.content as Json[]) : [];
  return content.map((c) => (typeof c.text === 'string' ? c.text : isObject(c.json) ? JSON.stringify(c.json) : '')).join(' ');
}

/** The tool the mock calls: the forced one, or the one the user names with `use <tool>`. */
function chosenTool(toolConfig: Json | undefined, lastText: string): string | undefined {
  const tools = (Array.isArray(toolConfig?.tools) ? (toolConfig.tools as Json[]) : []).flatMap((t) =>
    isObject(t.toolSpec) && typeof t.toolSpec.name === 'string' ? [t.toolSpec.name] : [],
  );
  if (tools.length === 0) return undefined;
  const choice = isObject(toolConfig?.toolChoice) ? toolConfig.toolChoice : {};
  if (isObject(choice.tool) && typeof choice.tool.name === 'string') return choice.tool.name;
  if (isObject(choice.any)) return tools[0];
  return tools.find((name) => new RegExp(`\\buse ${name}\\b`).test(lastText));
}

/** The events of a ConverseStream for an answer. */
function streamEvents(answer: { content: Json[]; stopReason: string; usage: Json; fields?: Json }): [string, Json][] {
  const events: [string, Json][] = [['messageStart', { role: 'assistant' }]];
  answer.content.forEach((block, index) => {
    if (typeof block.text === 'string') {
      block.text
        .split(' ')
        .forEach((word, i) =>
          events.push(['contentBlockDelta', { contentBlockIndex: index, delta: { text: i === 0 ? word : ` ${word}` } }]),
        );
    } else if (isObject(block.reasoningContent) && isObject(block.reasoningContent.reasoningText)) {
      const { text, signature } = block.reasoningContent.reasoningText;
      for (const [i, word] of String(text).split(' ').entries())
        events.push([
          'contentBlockDelta',
          { contentBlockIndex: index, delta: { reasoningContent: { text: i === 0 ? word : ` ${word}` } } },
        ]);
      events.push(['contentBlockDelta', { contentBlockIndex: index, delta: { reasoningContent: { signature } } }]);
    } else if (isObject(block.toolUse)) {
      const { toolUseId, name, input } = block.toolUse;
      events.push(['contentBlockStart', { contentBlockIndex: index, start: { toolUse: { toolUseId, name } } }]);
      const json = JSON.stringify(input);
      const half = Math.ceil(json.length / 2);
      events.push(['contentBlockDelta', { contentBlockIndex: index, delta: { toolUse: { input: json.slice(0, half) } } }]);
      events.push(['contentBlockDelta', { contentBlockIndex: index, delta: { toolUse: { input: json.slice(half) } } }]);
    }
    events.push(['contentBlockStop', { contentBlockIndex: index }]);
  });
  events.push([
    'messageStop',
    { stopReason: answer.stopReason, ...(answer.fields ? { additionalModelResponseFields: answer.fields } : {}) },
  ]);
  events.push(['metadata', { usage: answer.usage, metrics: { latencyMs: 1 } }]);
  return events;
}

/** One AWS event-stream message: an event or an exception. */
function frame(kind: 'event' | 'exception', type: string, payload: Json): Uint8Array {
  const typeHeader = kind === 'event' ? ':event-type' : ':exception-type';
  return codec.encode({
    headers: {
      ':message-type': { type: 'string', value: kind },
      [typeHeader]: { type: 'string', value: type },
      ':content-type': { type: 'string', value: 'application/json' },
    },
    body: new Uint8Array(Buffer.from(JSON.stringify(payload), 'utf8')),
  });
}

function sendException(res: Http2ServerResponse, e: BedrockException): void {
  const status = EXCEPTION_STATUS[e.type] ?? 400;
  res.writeHead(status, {
    'content-type': 'application/json',
    'x-amzn-errortype': `${e.type}:http://internal.amazon.com/coral/com.amazon.bedrock/`,
  });
  res.end(JSON.stringify({ message: e.message }));
}

/** A deterministic unit vector for a text. */
function vectorOf(text: string, dims: number): number[] {
  const v = new Array<number>(dims).fill(0);
  for (let i = 0; i < text.length; i++) v[i % dims] = ((v[i % dims] as number) * 31 + text.charCodeAt(i)) % 1000;
  const norm = Math.sqrt(v.reduce((s, x) => s + x * x, 0)) || 1;
  return v.map((x) => x / norm);
}

function readBody(req: Http2ServerRequest): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => resolve(Buffer.concat(parts)));
    req.on('error', reject);
  });
}
