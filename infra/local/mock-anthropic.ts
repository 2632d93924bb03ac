/**
 * A mock Anthropic API on loopback: `POST /v1/messages`, as JSON or as Anthropic's stream
 * (message_start, content_block_start, ping, content_block_delta..., content_block_stop,
 * message_delta, message_stop), with Anthropic's headers (`x-api-key`, `anthropic-version`) and
 * error bodies (the key as `x-api-key` or a bearer token, as Anthropic's SDK sends it). Usage is real and deterministic, as in the other mocks: one token per
 * whitespace-separated word. Prompt caching works as Anthropic's does: the prompt up to and
 * including the last block marked `cache_control` is written to the cache the first time
 * (cache_creation_input_tokens) and read from it after (cache_read_input_tokens); input_tokens
 * count the rest.
 *
 * Answers: with a tool_result in the last user message, `Mock answer: <the results>`; with
 * tool_choice `any` or `tool`, or a last user text saying `use <tool name>`, a tool_use of that
 * tool with `{"query": <the last user text>}`; otherwise `Mock answer: <the last user text>`,
 * cut to max_tokens words (max_tokens) or before a stop sequence (stop_sequence).
 *
 * Knobs ride on the model, `<model>+<knob>`: `status=<code>` answers that status with Anthropic's
 * error body (429 rate_limit_error, 529 overloaded_error, ...); `drop_after=<n>` cuts the stream
 * after n events.
 */
import { createHash } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { countTokens } from './mock-upstream.js';

export interface MockAnthropicRequest {
  headers: IncomingHttpHeaders;
  body: unknown;
}

export interface MockAnthropic {
  /** The base URL, without `/v1` (as Anthropic's SDK takes it). */
  url: string;
  requests: MockAnthropicRequest[];
  close(): Promise<void>;
}

type Json = Record<string, unknown>;

const ERROR_TYPES: Readonly<Record<number, string>> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  403: 'permission_error',
  404: 'not_found_error',
  429: 'rate_limit_error',
  500: 'api_error',
  529: 'overloaded_error',
};

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

export async function startMockAnthropic(opts: { apiKey?: string; port?: number } = {}): Promise<MockAnthropic> {
  const requests: MockAnthropicRequest[] = [];
  const cached = new Set<string>();
  let served = 0;

  const server = createServer((req, res) => {
    handle(req, res).catch(() => {
      if (!res.headersSent) sendError(res, 500, 'mock Anthropic failure');
      else res.end();
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const raw = await readBody(req);
    let body: unknown;
    try {
      body = JSON.parse(raw);
    } catch {
      body = raw;
    }
    requests.push({ headers: req.headers, body });
    if (req.method !== 'POST' || (req.url ?? '').split('?')[0] !== '/v1/messages')
      return sendError(res, 404, `the mock Anthropic does not serve ${req.method} ${req.url}`);
    // Anthropic takes the key as `x-api-key`; its SDK now sends it as a bearer token.
    const key = req.headers['x-api-key'] ?? req.headers.authorization?.replace(/^Bearer /, '');
    if (opts.apiKey !== undefined && key !== opts.apiKey) return sendError(res, 401, 'invalid x-api-key');
    if (!req.headers['anthropic-version']) return sendError(res, 400, 'anthropic-version: header is required');
    if (!isObject(body)) return sendError(res, 400, 'the body must be a JSON object');
    if (typeof body.model !== 'string') return sendError(res, 400, 'model: Field required');
    if (typeof body.max_tokens !== 'number') return sendError(res, 400, 'max_tokens: Field required');
    if (!Array.isArray(body.messages) || body.messages.length === 0)
      return sendError(res, 400, 'messages: at least one message is required');
    const [, ...knobs] = body.model.split('+');
    const status = knobs.find((k) => k.startsWith('status='));
    if (status) return sendError(res, Number(status.slice(7)), `mock error ${status.slice(7)}`);
    const dropAfter = Number(knobs.find((k) => k.startsWith('drop_after='))?.slice(11) ?? Number.NaN);

    const answer = respond(body);
    const id = `msg_mock${++served}`;
    const message = {
      id,
      type: 'message',
      role: 'assistant',
      model: body.model,
      content: answer.content,
      stop_reason: answer.stopReason,
      stop_sequence: answer.stopSequence,
      usage: answer.usage,
    };
    if (body.stream !== true) {
      res.writeHead(200, { 'content-type': 'application/json', 'request-id': `req_${id}` });
      res.end(JSON.stringify(message));
      return;
    }
    const events: [string, Json][] = [
      [
        'message_start',
        {
          type: 'message_start',
          message: { ...message, content: [], stop_reason: null, stop_sequence: null, usage: { ...answer.usage, output_tokens: 1 } },
        },
      ],
      ['ping', { type: 'ping' }],
    ];
    answer.content.forEach((block, index) => {
      if (block.type === 'text') {
        events.push(['content_block_start', { type: 'content_block_start', index, content_block: { type: 'text', text: '' } }]);
        (block.text as string)
          .split(' ')
          .forEach((w, i) =>
            events.push([
              'content_block_delta',
              { type: 'content_block_delta', index, delta: { type: 'text_delta', text: i === 0 ? w : ` ${w}` } },
            ]),
          );
      } else {
        events.push(['content_block_start', { type: 'content_block_start', index, content_block: { ...block, input: {} } }]);
        events.push([
          'content_block_delta',
          { type: 'content_block_delta', index, delta: { type: 'input_json_delta', partial_json: JSON.stringify(block.input) } },
        ]);
      }
      events.push(['content_block_stop', { type: 'content_block_stop', index }]);
    });
    events.push([
      'message_delta',
      {
        type: 'message_delta',
        delta: { stop_reason: answer.stopReason, stop_sequence: answer.stopSequence },
        usage: { output_tokens: answer.usage.output_tokens },
      },
    ]);
    events.push(['message_stop', { type: 'message_stop' }]);
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', 'request-id': `req_${id}` });
    for (const [i, [name, data]] of events.entries()) {
      if (i === dropAfter) {
        await new Promise<void>((r) => res.write('', () => r()));
        res.socket?.destroy();
        return;
      }
      res.write(`event: ${name}\ndata: ${JSON.stringify(data)}\n\n`);
    }
    res.end();
  }

  function respond(body: Json) {
    const system =
      typeof body.system === 'string' ? [{ type: 'text', text: body.system }] : Array.isArray(body.system) ? (body.system as Json[]) : [];
    const messages = body.messages as Json[];
    const blocksOf = (m: Json): Json[] =>
      typeof m.content === 'string' ? [{ type: 'text', text: m.content }] : Array.isArray(m.content) ? (m.content as Json[]) : [];
    const tools = Array.isArray(body.tools) ? (body.tools as Json[]) : [];
    const prompt = [...tools, ...system, ...messages.flatMap(blocksOf)];
    const lastMarked = prompt.map((b) => isObject(b.cache_control)).lastIndexOf(true);
    const tokensOf = (list: Json[]) => list.reduce((n, b) => n + blockTokens(b), 0);
    let cacheRead = 0;
    let cacheWrite = 0;
    if (lastMarked >= 0) {
      const prefix = prompt.slice(0, lastMarked + 1);
      const key = createHash('sha256').update(JSON.stringify(prefix)).digest('hex');
      if (cached.has(key)) cacheRead = tokensOf(prefix);
      else {
        cached.add(key);
        cacheWrite = tokensOf(prefix);
      }
    }
    const input = tokensOf(prompt.slice(lastMarked + 1));

    const last = blocksOf(messages.at(-1) as Json);
    const lastText = last.flatMap((b) => (b.type === 'text' && typeof b.text === 'string' ? [b.text] : [])).join(' ');
    const results = last.filter((b) => b.type === 'tool_result').map(resultText);
    const usage = (output: number) => ({
      input_tokens: input,
      output_tokens: output,
      cache_creation_input_tokens: cacheWrite,
      cache_read_input_tokens: cacheRead,
    });
    const choice = isObject(body.tool_choice) ? body.tool_choice : {};
    const names = tools.flatMap((t) => (typeof t.name === 'string' ? [t.name] : []));
    const tool =
      results.length > 0 || names.length === 0
        ? undefined
        : choice.type === 'tool' && typeof choice.name === 'string'
          ? choice.name
          : choice.type === 'any'
            ? names[0]
            : names.find((n) => new RegExp(`\\buse ${n}\\b`).test(lastText));
    if (tool) {
      const toolInput = { query: lastText };
      return {
        content: [{ type: 'tool_use', id: `toolu_mock${served + 1}`, name: tool, input: toolInput }] as Json[],
        stopReason: 'tool_use',
        stopSequence: null,
        usage: usage(countTokens(JSON.stringify(toolInput))),
      };
    }
    let words = ['Mock', 'answer:', ...(results.length > 0 ? results.join(' ') : lastText).split(/\s+/).filter((w) => w.length > 0)];
    let stopReason = 'end_turn';
    let stopSequence: string | null = null;
    const stops = Array.isArray(body.stop_sequences) ? (body.stop_sequences as string[]) : [];
    const at = words.findIndex((w) => stops.some((s) => w.includes(s)));
    if (at >= 0) {
      stopSequence = stops.find((s) => words[at]?.includes(s)) ?? null;
      words = words.slice(0, at);
      stopReason = 'stop_sequence';
    }
    if (words.length > (body.max_tokens as number)) {
      words = words.slice(0, body.max_tokens as number);
      stopReason = 'max_tokens';
    }
    return { content: [{ type: 'text', text: words.join(' ') }] as Json[], stopReason, stopSequence, usage: usage(words.length) };
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function blockTokens(b: Json): number {
  if (typeof b.text === 'string') return countTokens(b.text);
  if (b.type === 'tool_use') return countTokens(JSON.stringify(b.input ?? {}));
  if (b.type === 'tool_result') return countTokens(resultText(b));
  if (typeof b.name === 'string' && isObject(b.input_schema))
    return countTokens(`${b.name} ${b.description ?? ''} ${JSON.stringify(b.input_schema)}`);
  if (b.type === 'image' || b.type === 'document') return 100;
  return 0;
}

function resultText(b: Json): string {
  if (typeof b.content === 'string') return b.content;
  return Array.isArray(b.content) ? (b.content as Json[]).map((c) => (typeof c.text === 'string' ? c.text : '')).join(' ') : '';
}

function sendError(res: ServerResponse, status: number, message: string): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ type: 'error', error: { type: ERROR_TYPES[status] ?? 'api_error', message } }));
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => resolve(Buffer.concat(parts).toString('utf8')));
    req.on('error', reject);
  });
}
