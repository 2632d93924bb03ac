/**
 * Calling the llm function as API Gateway does: the authorizer first (its Deny rendered as the
 * gateway would), then the streaming handler with the authorizer's context, the body read chunk
 * by chunk with arrival times. The awslambda global is installed before the handler is imported.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { Readable } from 'node:stream';
import type { APIGatewayProxyEvent } from 'aws-lambda';
import { expect } from 'vitest';
import { installAwsLambdaGlobal, invokeStreaming, type StreamingHandler } from '../../../infra/local/awslambda.js';
import { mockLocalSecrets, mockModels } from '../../../infra/local/mock-models.js';
import type { ModelRecord } from '../../../lib/domain/records.js';
import { handleLlmEvent } from '../../../lib/llm/handle.js';
import { matchRoute } from '../../../lib/routes.js';
import { encode } from '../../../lib/store/codec.js';
import { authorize, bearer } from '../../support/authorizer.js';
import { authorizerEvent, put, seedKey } from '../../support/seed.js';
import { useTestTable } from '../../support/table.js';

installAwsLambdaGlobal();
const { handler } = await import('../../../functions/llm/handler.js');
export const llmHandler = handler as unknown as StreamingHandler;

export interface CallOptions {
  method?: string;
  path: string;
  headers?: Record<string, string>;
  /** An object is sent as JSON; a FormData as a multipart form (base64); a string or Buffer as is. */
  body?: unknown;
  base64?: boolean;
  requestId?: string;
  query?: Record<string, string>;
  /** The Lambda context the handler gets (its getRemainingTimeInMillis). */
  context?: unknown;
}

export interface CallResult {
  status: number;
  headers: Record<string, string>;
  text: string;
  json: any;
  /** Body chunks with performance.now() arrival times. */
  chunks: { at: number; text: string }[];
  /** Who answered: the gateway (authorizer denial) or the llm function. */
  by: 'gateway' | 'llm';
}

/** The proxy event API Gateway would send for this call, with the given authorizer context. */
export function proxyEvent(opts: CallOptions, context: Record<string, unknown> | null): APIGatewayProxyEvent {
  const method = opts.method ?? 'POST';
  const match = matchRoute(method, opts.path);
  const bytes = Buffer.isBuffer(opts.body);
  const body =
    opts.body === undefined ? null : bytes || typeof opts.body === 'string' ? (opts.body as string | Buffer) : JSON.stringify(opts.body);
  const headers = { ...(typeof opts.body === 'object' && !bytes ? { 'content-type': 'application/json' } : {}), ...opts.headers };
  return {
    resource: match?.route.path ?? opts.path,
    path: opts.path,
    httpMethod: method,
    headers,
    multiValueHeaders: Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, [v]])),
    queryStringParameters: opts.query ?? null,
    multiValueQueryStringParameters: opts.query ? Object.fromEntries(Object.entries(opts.query).map(([k, v]) => [k, [v]])) : null,
    pathParameters: match && Object.keys(match.params).length > 0 ? match.params : null,
    stageVariables: null,
    requestContext: { requestId: opts.requestId ?? randomUUID(), authorizer: context } as unknown as APIGatewayProxyEvent['requestContext'],
    body: body === null ? null : opts.base64 ? Buffer.from(body).toString('base64') : body.toString(),
    isBase64Encoded: opts.base64 === true,
  };
}

/** The authorizer's outcome for a call, with the route's resource and parameters as API Gateway gives them. */
function authorizeCall(opts: CallOptions) {
  const method = opts.method ?? 'POST';
  const match = matchRoute(method, opts.path);
  return authorize(
    authorizerEvent({
      method,
      resource: match?.route.path ?? opts.path,
      path: opts.path,
      headers: opts.headers ?? {},
      ...(match ? { pathParameters: match.params } : {}),
    }),
  );
}

/**
 * A FormData body encoded as a client's FormData is (multipart, its boundary in the content type),
 * byte for byte, and passed as API Gateway passes a binary media type (base64); any other body as it is.
 */
export async function withForm(opts: CallOptions): Promise<CallOptions> {
  if (!(opts.body instanceof FormData)) return opts;
  const req = new Request('http://local/', { method: 'POST', body: opts.body });
  return {
    ...opts,
    headers: { ...opts.headers, 'content-type': req.headers.get('content-type') as string },
    body: Buffer.from(await req.arrayBuffer()),
    base64: true,
  };
}

export async function call(given: CallOptions): Promise<CallResult> {
  const opts = await withForm(given);
  const outcome = await authorizeCall(opts);
  if (outcome.effect !== 'allow') {
    return { status: outcome.status, headers: {}, text: outcome.body, json: JSON.parse(outcome.body), chunks: [], by: 'gateway' };
  }
  return invokeLlm(proxyEvent(opts, outcome.context), opts.context);
}

export async function invokeLlm(event: APIGatewayProxyEvent, context?: unknown): Promise<CallResult> {
  const res = await invokeStreaming(llmHandler, event, context);
  const chunks: { at: number; text: string }[] = [];
  for await (const chunk of res.body) chunks.push({ at: performance.now(), text: chunk.toString('utf8') });
  await res.done;
  const text = chunks.map((c) => c.text).join('');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.statusCode, headers: res.headers, text, json, chunks, by: 'llm' };
}

/**
 * A streamed call its client holds open: authorized, handled, its first chunk read. The body is
 * the client's, to read on or destroy (a client that leaves mid-stream).
 */
export async function openStream(opts: CallOptions): Promise<{ status: number; first: unknown; body: Readable }> {
  const res = await handleLlmEvent(await allowedEvent(opts));
  const body = res.body as Readable;
  if (res.statusCode !== 200) return { status: res.statusCode, first: null, body };
  await new Promise((r) => body.once('readable', r));
  return { status: res.statusCode, first: body.read(), body };
}

/** The llm function's event for a call the authorizer must allow, with the route's resource and parameters as API Gateway gives them. */
export async function allowedEvent(given: CallOptions): Promise<APIGatewayProxyEvent> {
  const opts = await withForm(given);
  const auth = await authorizeCall(opts);
  if (auth.effect !== 'allow') throw new Error(`the authorizer said ${auth.status}`);
  return proxyEvent(opts, auth.context);
}

/**
 * A streamed call handled and not read yet: its event (for settlementsOf, the invocation's end)
 * and its body, the client's to read or leave (destroy it, or break out of reading it).
 */
export async function startStream(opts: CallOptions): Promise<{ event: APIGatewayProxyEvent; body: Readable }> {
  const event = await allowedEvent(opts);
  const body = (await handleLlmEvent(event)).body as Readable;
  body.on('error', () => undefined);
  return { event, body };
}

/**
 * A stand-in upstream on a free loopback port: `answer` gets each request once its body is read
 * (as text). Resolves with its base URL (no `/v1`) and a close.
 */
export async function standInUpstream(
  answer: (req: IncomingMessage, raw: string, res: ServerResponse) => void,
): Promise<{ base: string; close: () => Promise<void> }> {
  const server = createServer((req, res) => {
    let raw = '';
    req.on('data', (c) => {
      raw += c;
    });
    req.on('end', () => answer(req, raw, res));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

/**
 * A test table whose mock models (the registry's usual ones) call `base` (a stand-in upstream's,
 * no `/v1`), gpt-4o-mini passing stored objects' calls through; resolves with gpt-4o-mini's record.
 */
export async function passthroughTable(base: string): Promise<ModelRecord> {
  const models = mockModels(`${base}/v1`);
  await useTestTable({ TOLLGATE_LOCAL_SECRETS: JSON.stringify(mockLocalSecrets()), TOLLGATE_PASSTHROUGH_MODEL: 'gpt-4o-mini' });
  await seedModels(models);
  return models.find((m) => m.model_name === 'gpt-4o-mini') as ModelRecord;
}

/** The `data:` payloads of an SSE body, in order. */
export function sseData(text: string): string[] {
  return text
    .split('\n\n')
    .filter((e) => e.length > 0)
    .map((e) =>
      e
        .split('\n')
        .filter((l) => l.startsWith('data: '))
        .map((l) => l.slice(6))
        .join('\n'),
    );
}

/**
 * A model of the mock upstream's (`base`) named `name`, whose upstream id carries the mock's test
 * knobs (infra/local/mock-upstream: `delay=100`, `hang`, `no_usage`, ...).
 */
export const withKnobs = (base: ModelRecord, name: string, knobs: string): ModelRecord => ({
  ...base,
  model_name: name,
  upstream_model: `${base.upstream_model}+${knobs}`,
  aliases: [],
  access_groups: [],
});

export async function seedModels(models: ModelRecord[]): Promise<void> {
  for (const m of models) await put(encode.model(m));
}

export const chat = (model: string, content: string, extra: Record<string, unknown> = {}) => ({
  model,
  messages: [{ role: 'user', content }],
  ...extra,
});

/** A response made in the background by a fresh key of `team`: queued, its usage not known yet. */
export async function backgroundResponse(model = 'gpt-4o-mini', team = 'team-a') {
  const { key, record } = await seedKey({ team_id: team });
  const made = await call({ path: '/v1/responses', headers: bearer(key), body: { model, input: 'Hello there', background: true } });
  expect(made.json.status).toBe('queued');
  return { key, record, made };
}
