/**
 * A mock OpenAI-compatible upstream on loopback, for local mode, tests and benchmarks.
 * It serves chat/completions and completions (with and without `stream`; with
 * `stream_options.include_usage` a stream ends with OpenAI's usage-only chunk), and embeddings
 * (float or base64, as the openai client asks), and the Responses API (`POST /responses`, JSON
 * or its streamed event types ending with `response.completed`, which carries the usage). Usage
 * is real and deterministic: one token per whitespace-separated word, so spend moves by
 * predictable amounts.
 *
 * The answer to a chat is `Mock answer: <the last user message>`, cut to `max_tokens` words.
 * Streams send one chunk per word.
 *
 * Knobs for tests ride on the upstream model id, `<model>+<knob>+<knob>`:
 *   delay=<ms>       pause before every stream chunk (and before a whole answer)
 *   status=<code>    answer that HTTP status with an OpenAI error body (`+html`: an HTML page)
 *   hang             accept the request and never answer
 *   hang_after=<n>   stream n chunks, then go silent
 *   drop_after=<n>   stream n chunks, then cut the connection
 *   no_usage         report no usage, whole answers and streams alike
 *   bad_usage        report usage nobody can count (negative, fractional, "NaN")
 *   coerce           stream for any value pydantic reads as true (`"true"`, `1`), as vLLM does
 * Paths are served with or without the `/v1` prefix; `url` is the `/v1` base URL.
 */
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';

export interface MockUpstreamOptions {
  port?: number;
  host?: string;
  /** When set, requests must carry `Authorization: Bearer <apiKey>` (else 401). */
  apiKey?: string;
  /** Default pause before each stream chunk. */
  chunkDelayMs?: number;
}

export interface MockRequest {
  method: string;
  /** The path without any `/v1` prefix, with the query. */
  path: string;
  headers: IncomingHttpHeaders;
  /** The parsed JSON body, or the raw text when it is not JSON. */
  body: unknown;
  /** performance.now() timestamps: request received, first and last body chunk written. */
  receivedAt: number;
  firstChunkAt?: number;
  lastChunkAt?: number;
}

export interface MockUpstream {
  /** Base URL including `/v1`, e.g. `http://127.0.0.1:40123/v1`. */
  url: string;
  requests: MockRequest[];
  close(): Promise<void>;
}

interface Knobs {
  model: string;
  delayMs: number;
  status?: number;
  html: boolean;
  hang: boolean;
  hangAfter?: number;
  dropAfter?: number;
  usage?: 'none' | 'bad' | 'zero';
  coerce?: boolean;
}

/** Tokens, the mock's way: whitespace-separated words. */
export const countTokens = (text: string): number => text.split(/\s+/).filter((w) => w.length > 0).length;

export function parseKnobs(upstreamModel: string, defaultDelayMs = 0): Knobs {
  const [model = '', ...parts] = upstreamModel.split('+');
  const knobs: Knobs = { model, delayMs: defaultDelayMs, html: false, hang: false };
  for (const part of parts) {
    const [name, value] = part.split('=');
    const n = Number(value);
    if (name === 'delay' && Number.isFinite(n)) knobs.delayMs = n;
    else if (name === 'status' && Number.isInteger(n)) knobs.status = n;
    else if (name === 'html') knobs.html = true;
    else if (name === 'hang') knobs.hang = true;
    else if (name === 'hang_after' && Number.isInteger(n)) knobs.hangAfter = n;
    else if (name === 'drop_after' && Number.isInteger(n)) knobs.dropAfter = n;
    else if (name === 'no_usage') knobs.usage = 'none';
    else if (name === 'bad_usage') knobs.usage = 'bad';
    else if (name === 'zero_usage') knobs.usage = 'zero';
    else if (name === 'coerce') knobs.coerce = true;
  }
  return knobs;
}

const sleep = (ms: number) => (ms > 0 ? new Promise<void>((r) => setTimeout(r, ms)) : Promise.resolve());

const errorBody = (message: string, type: string, code: string | null) => JSON.stringify({ error: { message, type, param: null, code } });

type Json = Record<string, unknown>;

/** The text of a chat message's content: a string, or the text parts of a list. */
function contentText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (Array.isArray(content))
    return content
      .map((p) => (p && typeof p === 'object' && typeof (p as Json).text === 'string' ? ((p as Json).text as string) : ''))
      .join(' ');
  return '';
}

function replyWords(prompt: string, maxTokens: unknown): string[] {
  const words = ['Mock', 'answer:', ...prompt.split(/\s+/).filter((w) => w.length > 0)];
  return typeof maxTokens === 'number' && maxTokens > 0 ? words.slice(0, maxTokens) : words;
}

/** A deterministic 8-dimensional embedding of a text. */
function embeddingOf(text: string): number[] {
  const v = new Array<number>(8).fill(0);
  for (let i = 0; i < text.length; i++) v[i % 8] = ((v[i % 8] as number) * 31 + text.charCodeAt(i)) % 1000;
  return v.map((x) => x / 1000);
}

export async function startMockUpstream(opts: MockUpstreamOptions = {}): Promise<MockUpstream> {
  const requests: MockRequest[] = [];
  // Objects the upstream keeps, as OpenAI does: stored responses, files, batches. One upstream
  // key sees them all: tenancy is Tollgate's to keep.
  const stored = new Map<string, Json>();
  const kindOf: Record<string, string> = { responses: 'response', files: 'file', batches: 'batch' };

  /** Files, batches, and reading or deleting stored responses; false for any other route. */
  function serveStored(route: string, raw: string, body: unknown, send: (status: number, payload: string) => void): boolean {
    const [method, path = ''] = route.split(' ');
    const [collection = '', id, ...rest] = path.split('/').filter((s) => s.length > 0);
    const kind = kindOf[collection];
    if (!kind || (collection === 'responses' && id === undefined)) return false;
    const n = requests.length;
    const created_at = Math.floor(Date.now() / 1000);
    if (id === undefined && method === 'GET') {
      const data = [...stored.values()].filter((o) => o.object === kind).map((o) => (kind === 'batch' ? (o.done as Json) : o));
      send(200, JSON.stringify({ object: 'list', data, has_more: false }));
      return true;
    }
    if (id === undefined && method === 'POST' && kind === 'file') {
      const file = {
        id: `file-mock${n}`,
        object: 'file',
        bytes: Buffer.byteLength(raw),
        created_at,
        filename: 'upload.jsonl',
        purpose: 'batch',
      };
      stored.set(file.id, file);
      send(200, JSON.stringify(file));
      return true;
    }
    if (id === undefined && method === 'POST' && kind === 'batch') {
      const b = (body ?? {}) as Json;
      const batch = {
        id: `batch_mock${n}`,
        object: 'batch',
        endpoint: b.endpoint,
        input_file_id: b.input_file_id,
        completion_window: '24h',
        created_at,
      };
      // Finished by the time anyone looks again: 10 requests of 2 prompt and 4 completion tokens,
      // their answers in an output file the upstream made (as OpenAI does).
      const output = { id: `file-out${n}`, object: 'file', bytes: 18, created_at, filename: 'batch_output.jsonl', purpose: 'batch_output' };
      stored.set(output.id, output);
      const done = {
        ...batch,
        output_file_id: output.id,
        status: 'completed',
        request_counts: { total: 10, completed: 10, failed: 0 },
        usage: { input_tokens: 20, output_tokens: 40, total_tokens: 60 },
      };
      stored.set(batch.id, { ...batch, object: 'batch', done });
      send(200, JSON.stringify({ ...batch, status: 'validating', usage: null }));
      return true;
    }
    const object = id === undefined ? undefined : stored.get(id);
    if (!object || object.object !== kind) {
      send(404, errorBody(`No such ${kind}: '${id}'`, 'invalid_request_error', null));
      return true;
    }
    const current = kind === 'batch' ? (object.done as Json) : object;
    if (method === 'GET' && rest.length === 0) send(200, JSON.stringify(current));
    else if (method === 'GET' && kind === 'file' && rest[0] === 'content') send(200, '{"custom_id":"1"}\n');
    else if (method === 'DELETE' && rest.length === 0) {
      stored.delete(id as string);
      send(200, JSON.stringify({ id, object: kind, deleted: true }));
    } else if (method === 'POST' && kind === 'batch' && rest[0] === 'cancel')
      send(200, JSON.stringify({ ...current, status: 'cancelling' }));
    else send(404, errorBody(`the mock upstream does not serve ${route}`, 'invalid_request_error', 'not_found'));
    return true;
  }
  const server = createServer((req, res) => {
    handle(req, res).catch(() => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
      res.end(errorBody('mock upstream failure', 'server_error', null));
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const raw = await readBody(req);
    const path = (req.url ?? '/').replace(/^\/v1(?=\/|$)/, '') || '/';
    let body: unknown = raw;
    try {
      body = raw.length > 0 ? JSON.parse(raw) : undefined;
    } catch {
      // kept as text
    }
    const record: MockRequest = { method: req.method ?? 'GET', path, headers: req.headers, body, receivedAt: performance.now() };
    requests.push(record);
    const send = (status: number, payload: string, type = 'application/json') => {
      record.firstChunkAt = record.lastChunkAt = performance.now();
      res.writeHead(status, { 'content-type': type });
      res.end(payload);
    };

    if (opts.apiKey !== undefined && req.headers.authorization !== `Bearer ${opts.apiKey}`) {
      return send(401, errorBody('Incorrect API key provided', 'invalid_request_error', 'invalid_api_key'));
    }
    const route = `${req.method} ${path.split('?')[0]}`;
    if (serveStored(route, raw, body, send)) return;
    if (!['POST /chat/completions', 'POST /completions', 'POST /embeddings', 'POST /responses'].includes(route)) {
      return send(404, errorBody(`the mock upstream does not serve ${route}`, 'invalid_request_error', 'not_found'));
    }
    if (!body || typeof body !== 'object') return send(400, errorBody('the body must be a JSON object', 'invalid_request_error', null));
    const json = body as Json;
    if (typeof json.model !== 'string') return send(400, errorBody('you must provide a model parameter', 'invalid_request_error', null));
    const knobs = parseKnobs(json.model, opts.chunkDelayMs);
    if (knobs.hang) return; // the socket stays open until the client gives up or close()
    if (knobs.status !== undefined) {
      await sleep(knobs.delayMs);
      if (knobs.html) return send(knobs.status, `<html><body><h1>${knobs.status}</h1></body></html>`, 'text/html');
      return send(
        knobs.status,
        errorBody(
          `mock upstream error ${knobs.status}`,
          knobs.status >= 500 ? 'server_error' : 'invalid_request_error',
          `mock_${knobs.status}`,
        ),
      );
    }

    if (route === 'POST /embeddings') return sendEmbeddings(json, knobs, send);
    if (route === 'POST /responses') return sendResponse(json, knobs, send, res, record);
    const chat = route === 'POST /chat/completions';
    const messages = Array.isArray(json.messages) ? (json.messages as Json[]) : [];
    const promptText = chat ? messages.map((m) => contentText(m?.content)).join(' ') : promptOf(json.prompt);
    const lastUser = chat ? contentText([...messages].reverse().find((m) => m?.role === 'user')?.content) : promptOf(json.prompt);
    const words = replyWords(lastUser, json.max_completion_tokens ?? json.max_tokens);
    const counted = {
      prompt_tokens: countTokens(promptText),
      completion_tokens: words.length,
      total_tokens: countTokens(promptText) + words.length,
    };
    const usage =
      knobs.usage === 'none'
        ? undefined
        : knobs.usage === 'bad'
          ? { prompt_tokens: -3, completion_tokens: 1.5, total_tokens: 'NaN' }
          : knobs.usage === 'zero'
            ? { prompt_tokens: 0, completion_tokens: 0, total_tokens: 0 }
            : counted;
    const id = `${chat ? 'chatcmpl' : 'cmpl'}-mock${requests.length}`;
    const created = Math.floor(Date.now() / 1000);

    const streams = knobs.coerce ? [true, 'true', 1, '1', 'yes', 'on'].includes(json.stream as never) : json.stream === true;
    if (!streams) {
      await sleep(knobs.delayMs);
      const text = words.join(' ');
      const choice = chat
        ? { index: 0, message: { role: 'assistant', content: text, refusal: null }, logprobs: null, finish_reason: 'stop' }
        : { index: 0, text, logprobs: null, finish_reason: 'stop' };
      return send(
        200,
        JSON.stringify({ id, object: chat ? 'chat.completion' : 'text_completion', created, model: knobs.model, choices: [choice], usage }),
      );
    }

    const includeUsage = (json.stream_options as Json | undefined)?.include_usage === true;
    const base = {
      id,
      object: chat ? 'chat.completion.chunk' : 'text_completion',
      created,
      model: knobs.model,
      ...(chat ? { system_fingerprint: null } : {}),
    };
    const extra = includeUsage ? { usage: null } : {};
    const chunks: Json[] = [];
    if (chat)
      chunks.push({
        ...base,
        choices: [{ index: 0, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null }],
        ...extra,
      });
    words.forEach((w, i) => {
      const piece = i === 0 ? w : ` ${w}`;
      chunks.push({
        ...base,
        choices: [
          chat
            ? { index: 0, delta: { content: piece }, logprobs: null, finish_reason: null }
            : { index: 0, text: piece, logprobs: null, finish_reason: null },
        ],
        ...extra,
      });
    });
    chunks.push({
      ...base,
      choices: [
        chat
          ? { index: 0, delta: {}, logprobs: null, finish_reason: 'stop' }
          : { index: 0, text: '', logprobs: null, finish_reason: 'stop' },
      ],
      ...extra,
    });
    if (includeUsage && usage) chunks.push({ ...base, choices: [], usage });

    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive' });
    const frames = [...chunks.map((c) => `data: ${JSON.stringify(c)}\n\n`), 'data: [DONE]\n\n'];
    for (let i = 0; i < frames.length; i++) {
      if (knobs.hangAfter !== undefined && i >= knobs.hangAfter) return;
      if (knobs.dropAfter !== undefined && i >= knobs.dropAfter) {
        // Let what was written reach the client first, then cut the connection mid-answer.
        await new Promise<void>((r) => res.write('', () => r()));
        await sleep(20);
        res.socket?.destroy();
        return;
      }
      await sleep(knobs.delayMs);
      if (res.destroyed) return;
      res.write(frames[i]);
      record.firstChunkAt ??= performance.now();
      record.lastChunkAt = performance.now();
    }
    res.end();
  }

  function sendEmbeddings(json: Json, knobs: Knobs, send: (status: number, payload: string) => void): Promise<void> {
    const inputs: unknown[] =
      Array.isArray(json.input) && (json.input.length === 0 || typeof json.input[0] !== 'number') ? json.input : [json.input];
    let tokens = 0;
    const data = inputs.map((input, index) => {
      const text = Array.isArray(input) ? input.join(' ') : String(input ?? '');
      tokens += Array.isArray(input) ? input.length : countTokens(text);
      const vector = embeddingOf(text);
      const embedding = json.encoding_format === 'base64' ? Buffer.from(new Float32Array(vector).buffer).toString('base64') : vector;
      return { object: 'embedding', index, embedding };
    });
    return sleep(knobs.delayMs).then(() =>
      send(200, JSON.stringify({ object: 'list', data, model: knobs.model, usage: { prompt_tokens: tokens, total_tokens: tokens } })),
    );
  }

  /**
   * The Responses API: `input` (a string, or message items with text parts) and `instructions`
   * are the prompt; the answer is one message with one output_text part. Streamed, it is the
   * event sequence OpenAI sends, each with its `sequence_number`.
   */
  async function sendResponse(
    json: Json,
    knobs: Knobs,
    send: (status: number, payload: string) => void,
    res: ServerResponse,
    record: MockRequest,
  ): Promise<void> {
    const items =
      typeof json.input === 'string' ? [{ role: 'user', content: json.input }] : Array.isArray(json.input) ? (json.input as Json[]) : [];
    const itemText = (item: Json) =>
      typeof item.content === 'string'
        ? item.content
        : Array.isArray(item.content)
          ? (item.content as Json[]).map((p) => (typeof p.text === 'string' ? p.text : '')).join(' ')
          : '';
    const instructions = typeof json.instructions === 'string' ? json.instructions : '';
    const inputTokens = countTokens(instructions) + items.reduce((n, item) => n + countTokens(itemText(item)), 0);
    const lastUser = [...items].reverse().find((item) => (item.role ?? 'user') === 'user');
    const max = json.max_output_tokens;
    const all = replyWords(lastUser ? itemText(lastUser) : '', undefined);
    const words = typeof max === 'number' && max > 0 ? all.slice(0, max) : all;
    const incomplete = words.length < all.length;
    const text = words.join(' ');
    const n = requests.length;
    const id = `resp_mock${n}`;
    const itemId = `msg_mock${n}`;
    const usage = {
      input_tokens: inputTokens,
      input_tokens_details: { cached_tokens: 0 },
      output_tokens: words.length,
      output_tokens_details: { reasoning_tokens: 0 },
      total_tokens: inputTokens + words.length,
    };
    const part = { type: 'output_text', text, annotations: [], logprobs: [] };
    const item = { type: 'message', id: itemId, status: incomplete ? 'incomplete' : 'completed', role: 'assistant', content: [part] };
    const response = (status: string, output: unknown[], withUsage: boolean) => ({
      id,
      object: 'response',
      created_at: Math.floor(Date.now() / 1000),
      status,
      error: null,
      incomplete_details: status === 'incomplete' ? { reason: 'max_output_tokens' } : null,
      instructions: instructions || null,
      max_output_tokens: typeof max === 'number' ? max : null,
      model: knobs.model,
      output,
      parallel_tool_calls: true,
      previous_response_id: null,
      reasoning: { effort: null, summary: null },
      store: json.store !== false,
      temperature: typeof json.temperature === 'number' ? json.temperature : 1,
      text: { format: { type: 'text' } },
      tool_choice: 'auto',
      tools: [],
      top_p: typeof json.top_p === 'number' ? json.top_p : 1,
      truncation: 'disabled',
      usage: withUsage ? usage : null,
      user: null,
      metadata: {},
    });
    const final = response(incomplete ? 'incomplete' : 'completed', [item], true);
    if (json.store !== false) stored.set(id, final);
    // In the background: queued now, done (with its usage) when it is next read.
    await sleep(knobs.delayMs);
    if (json.background === true) return send(200, JSON.stringify(response('queued', [], false)));
    if (json.stream !== true) return send(200, JSON.stringify(final));

    const events: [string, Json][] = [
      ['response.created', { response: response('in_progress', [], false) }],
      ['response.in_progress', { response: response('in_progress', [], false) }],
      ['response.output_item.added', { output_index: 0, item: { ...item, status: 'in_progress', content: [] } }],
      ['response.content_part.added', { item_id: itemId, output_index: 0, content_index: 0, part: { ...part, text: '' } }],
      ...words.map((w, i): [string, Json] => [
        'response.output_text.delta',
        { item_id: itemId, output_index: 0, content_index: 0, delta: i === 0 ? w : ` ${w}`, logprobs: [] },
      ]),
      ['response.output_text.done', { item_id: itemId, output_index: 0, content_index: 0, text, logprobs: [] }],
      ['response.content_part.done', { item_id: itemId, output_index: 0, content_index: 0, part }],
      ['response.output_item.done', { output_index: 0, item }],
      [incomplete ? 'response.incomplete' : 'response.completed', { response: final }],
    ];
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' });
    for (const [i, [type, data]] of events.entries()) {
      if (knobs.dropAfter !== undefined && i >= knobs.dropAfter) {
        await new Promise<void>((r) => res.write('', () => r()));
        res.socket?.destroy();
        return;
      }
      if (i > 0) await sleep(knobs.delayMs);
      if (res.destroyed) return;
      res.write(`event: ${type}\ndata: ${JSON.stringify({ type, sequence_number: i, ...data })}\n\n`);
      record.firstChunkAt ??= performance.now();
      record.lastChunkAt = performance.now();
    }
    res.end();
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => resolve());
  });
  const { port, address, family } = server.address() as AddressInfo;
  const host = family === 'IPv6' ? `[${address}]` : address;
  return {
    url: `http://${host}:${port}/v1`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function promptOf(prompt: unknown): string {
  if (typeof prompt === 'string') return prompt;
  if (Array.isArray(prompt)) return prompt.map((p) => (typeof p === 'string' ? p : '')).join(' ');
  return '';
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => resolve(Buffer.concat(parts).toString('utf8')));
    req.on('error', reject);
  });
}
