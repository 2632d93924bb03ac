/**
 * An API Gateway REST proxy event, read once into what the llm function needs: the route, the
 * path the upstream sees, the query, the headers, and the body with its `model`, `user` and
 * `stream`. Malformed input is a 400 that names the field.
 */
import { randomUUID } from 'node:crypto';
import type { APIGatewayProxyEvent } from 'aws-lambda';
import { headerValues } from '../auth/credentials.js';
import { idProblem } from '../domain/ids.js';
import { isObject, opensAsObject } from '../domain/json.js';
import { looksLikeSecret } from '../domain/secrets.js';
import { secretTagIndex } from '../domain/spend-log.js';
import { InvalidRequestError, RouteNotFoundError } from '../errors.js';
import { type HttpMethod, matchRoute, type RouteDef, routeByResource } from '../routes.js';
import { assertUpstreamPath } from './upstream.js';

/** Deepest JSON body we accept; deeper ones would overflow JSON.stringify's recursion (a 500). */
export const MAX_JSON_DEPTH = 64;

export type LlmBody =
  | { kind: 'none' }
  | { kind: 'json'; value: Record<string, unknown> }
  | { kind: 'form'; value: FormData }
  | { kind: 'raw'; bytes: Buffer; contentType: string | undefined };

export interface LlmRequest {
  /** API Gateway's request id: the settlement's idempotency token. */
  requestId: string;
  method: HttpMethod;
  route: RouteDef;
  /** The path as the route table names it, parameters filled in. */
  path: string;
  /** The path joined to a model's base URL: no `/v1` prefix, no Azure deployment prefix. */
  upstreamPath: string;
  query: URLSearchParams;
  /** Lowercase header name -> values. */
  headers: Map<string, string[]>;
  /** A model named by the path (Azure deployments, `/models/{model}`). */
  pathModel: string | undefined;
  body: LlmBody;
  /** The body's `model` (possibly a comma list). */
  model: string | undefined;
  /** The body's `user`: client-asserted. */
  user: string | undefined;
  stream: boolean;
}

export async function parseLlmRequest(event: APIGatewayProxyEvent): Promise<LlmRequest> {
  const { route, method, params } = findRoute(event);
  const path = fillPath(route.path, params) ?? event.path;
  const upstreamPath = upstreamPathOf(route, path, params, method, event.path);
  assertUpstreamPath(upstreamPath);
  const headers = headerValues(event.headers, event.multiValueHeaders);
  const body = await parseBody(event, headers.get('content-type')?.[0], route.body !== 'upload');
  const fields = bodyFields(body);
  return {
    requestId: event.requestContext?.requestId || randomUUID(),
    method,
    route,
    path,
    upstreamPath,
    query: queryOf(event, route),
    headers,
    pathModel: params.model,
    body,
    ...fields,
  };
}

function findRoute(event: APIGatewayProxyEvent): { route: RouteDef; method: HttpMethod; params: Record<string, string> } {
  const method = event.httpMethod.toUpperCase() as HttpMethod;
  const byResource = event.resource ? routeByResource(method, event.resource) : undefined;
  if (byResource?.fn === 'llm') {
    const params: Record<string, string> = {};
    for (const [k, v] of Object.entries(event.pathParameters ?? {})) if (typeof v === 'string') params[k] = v;
    return { route: byResource, method, params };
  }
  const match = matchRoute(method, event.path);
  if (match?.route.fn === 'llm') return { route: match.route, method: match.method, params: match.params };
  throw new RouteNotFoundError(method, event.path);
}

/** The route's path with its parameters, each segment encoded again; undefined if one is missing. */
function fillPath(template: string, params: Record<string, string>): string | undefined {
  let missing = false;
  const filled = template.replace(/\{(\w+)(\+?)\}/g, (_, name: string, greedy: string) => {
    const v = params[name];
    if (v === undefined) {
      missing = true;
      return '';
    }
    return greedy ? v.split('/').map(encodeURIComponent).join('/') : encodeURIComponent(v);
  });
  return missing ? undefined : filled;
}

function upstreamPathOf(route: RouteDef, path: string, params: Record<string, string>, method: HttpMethod, calledPath: string): string {
  if (route.azureUpstreamPath) {
    const filled = fillPath(route.azureUpstreamPath, params);
    if (filled === undefined) throw new RouteNotFoundError(method, calledPath);
    return filled;
  }
  return path === '/v1' || path.startsWith('/v1/') ? path.slice(3) : path;
}

function queryOf(event: APIGatewayProxyEvent, route: RouteDef): URLSearchParams {
  const q = new URLSearchParams();
  const multi = event.multiValueQueryStringParameters;
  if (multi) {
    for (const [k, vs] of Object.entries(multi)) for (const v of vs ?? []) q.append(k, v);
  } else {
    for (const [k, v] of Object.entries(event.queryStringParameters ?? {})) if (v !== undefined) q.append(k, v);
  }
  // Azure clients send their API version; an OpenAI-compatible upstream has none.
  if (route.azureUpstreamPath) q.delete('api-version');
  return q;
}

/**
 * The body as the upstream will read it. On a JSON route every body is JSON or a 400: a form
 * (multipart or URL-encoded) would reach a lenient upstream (LiteLLM reads any form) with its
 * `model`, `previous_response_id`, `input_file_id` or `background` never checked. On an upload
 * route a body that opens as a JSON object is JSON whatever its content type (a lenient upstream
 * would honour its `model`); a form (multipart or URL-encoded) is read as one, and only bytes of
 * another type reach the upstream as they came.
 */
async function parseBody(event: APIGatewayProxyEvent, contentType: string | undefined, jsonRoute: boolean): Promise<LlmBody> {
  if (event.body === null || event.body === undefined || event.body.length === 0) return { kind: 'none' };
  const bytes = event.isBase64Encoded ? Buffer.from(event.body, 'base64') : Buffer.from(event.body, 'utf8');
  if (bytes.length === 0) return { kind: 'none' };
  const ct = contentType?.toLowerCase();
  if (jsonRoute && ct?.startsWith('multipart/form-data'))
    throw new InvalidRequestError('this route takes a JSON body, not multipart/form-data');
  // A URL-encoded body is a form too (found by review: it reached the upstream unread, its `model`
  // unchecked); it goes on as multipart, the form the upload routes take.
  const form = ['multipart/form-data', 'application/x-www-form-urlencoded'].find((f) => ct?.startsWith(f));
  // curl's `-d '{...}'` says URL-encoded: a body that opens as a JSON object is JSON (below).
  const urlEncodedJson = form === 'application/x-www-form-urlencoded' && opensAsObject(bytes);
  if (!jsonRoute && form && !urlEncodedJson) {
    try {
      return { kind: 'form', value: await new Response(bytes, { headers: { 'content-type': contentType as string } }).formData() };
    } catch {
      throw new InvalidRequestError(`the ${form} body could not be read`);
    }
  }
  if (jsonRoute || ct?.includes('json') || opensAsObject(bytes)) return { kind: 'json', value: parseJsonObject(bytes.toString('utf8')) };
  return { kind: 'raw', bytes, contentType };
}

const BOM = 0xfeff;

function parseJsonObject(text: string): Record<string, unknown> {
  const json = text.charCodeAt(0) === BOM ? text.slice(1) : text;
  // Checked before parsing: JSON.parse takes any depth, but JSON.stringify overflows its stack.
  if (nestsDeeperThan(json, MAX_JSON_DEPTH)) throw new InvalidRequestError(`the request body nests deeper than ${MAX_JSON_DEPTH} levels`);
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    throw new InvalidRequestError('the request body is not valid JSON');
  }
  if (!value || typeof value !== 'object' || Array.isArray(value)) throw new InvalidRequestError('the request body must be a JSON object');
  return value as Record<string, unknown>;
}

/** Whether arrays and objects nest deeper than `max`: one pass over the text, strings skipped, no recursion. */
function nestsDeeperThan(text: string, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c)
        i++; // a backslash escapes the next character (a quote included)
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      if (++depth > max) return true;
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return false;
}

/**
 * Whether the upstream will stream. Not only `true`: upstreams that coerce (pydantic servers such
 * as vLLM, another LiteLLM) stream for `"true"`, `1`, `"yes"`; a stream taken for a JSON answer
 * would go unmetered. Only what such servers read as false is false.
 */
export function streamRequested(v: unknown): boolean {
  if (v === undefined || v === null || v === false || v === 0) return false;
  if (typeof v === 'string') return !['', 'false', '0', 'no', 'off', 'f', 'n'].includes(v.trim().toLowerCase());
  return true;
}

/** The largest output limit a model has; a larger one is a mistake, not a budget. */
export const MAX_OUTPUT_TOKENS = 10_000_000;
/** The most choices (`n`, `best_of`) one call may ask for. */
export const MAX_CHOICES = 128;
export const OUTPUT_LIMIT_FIELDS = ['max_tokens', 'max_completion_tokens', 'max_output_tokens'] as const;

/**
 * The counts the estimate reads (lib/llm/estimate), each a whole number in its range: output limits,
 * choices (`n`, `best_of`), an image stream's partial images (0 to 3 at OpenAI, each held at 100 tokens).
 */
const COUNTS: Readonly<Record<string, readonly [number, number]>> = {
  ...Object.fromEntries(OUTPUT_LIMIT_FIELDS.map((f) => [f, [1, MAX_OUTPUT_TOKENS] as const])),
  n: [1, MAX_CHOICES],
  best_of: [1, MAX_CHOICES],
  partial_images: [0, MAX_CHOICES],
};

/** A request body's tools of one `type` (`code_interpreter`, `file_search`, `image_generation`). */
export const toolsOfType = (json: Record<string, unknown> | undefined, type: string): Record<string, unknown>[] =>
  Array.isArray(json?.tools) ? json.tools.filter((t): t is Record<string, unknown> => isObject(t) && t.type === type) : [];

/** A form's text fields the estimate reads besides the counts: an image's. */
const FORM_TEXTS = ['quality', 'size'] as const;

/** The count fields a body gives: whole numbers in range, or a 400 naming the field (never a 500, never ignored). */
function checkCounts(read: (field: string) => unknown): void {
  for (const [field, [min, max]] of Object.entries(COUNTS)) {
    const v = read(field);
    if (v === undefined || v === null) continue;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max)
      throw new InvalidRequestError(`\`${field}\` must be a whole number from ${min} to ${max}`, 'invalid_field', field);
  }
}

/**
 * A form field as an upstream reads it: its text, a whole number as a number (`"10"` is 10);
 * undefined when absent or a file. What the estimate and the checks read of a form.
 */
export function formField(form: FormData, name: string): unknown {
  const v = form.get(name);
  if (typeof v !== 'string') return v === null ? undefined : v;
  return /^\s*[0-9]+\s*$/.test(v) ? Number(v) : v;
}

/**
 * A form's fields the estimate reads, checked as a JSON body's are, and each given once: given
 * twice, the upstream may read the other one (found by review: an edit's `n` was not read from its
 * form at all).
 */
function checkFormFields(form: FormData): void {
  for (const field of [...Object.keys(COUNTS), ...FORM_TEXTS]) {
    const given = form.getAll(field).length;
    if (given > 1) throw new InvalidRequestError(`\`${field}\` is given ${given} times: give it once`, 'invalid_field', field);
  }
  checkCounts((field) => formField(form, field));
}

/** Tags are stored in every spend log (lib/domain/spend-log): one that looks like a key or token is a 400, never logged. */
function checkTags(metadata: unknown): void {
  if (!metadata || typeof metadata !== 'object' || Array.isArray(metadata)) return;
  const i = secretTagIndex((metadata as { tags?: unknown }).tags);
  if (i !== undefined)
    throw new InvalidRequestError(
      `\`metadata.tags.${i}\` must not be a secret: it looks like an API key or token`,
      'invalid_field',
      `metadata.tags.${i}`,
    );
}

function bodyFields(body: LlmBody): { model: string | undefined; user: string | undefined; stream: boolean } {
  let model: unknown;
  let user: unknown;
  let stream = false;
  if (body.kind === 'json') {
    ({ model, user } = body.value);
    stream = streamRequested(body.value.stream);
    checkCounts((field) => body.value[field]);
    checkTags(body.value.metadata);
  } else if (body.kind === 'form') {
    checkFormFields(body.value);
    model = body.value.get('model') ?? undefined;
    user = body.value.get('user') ?? undefined;
  }
  if (model !== undefined && model !== null && typeof model !== 'string')
    throw new InvalidRequestError('`model` must be a string', 'invalid_body', 'model');
  // The model asked for is logged as the request's model group.
  if (typeof model === 'string' && looksLikeSecret(model))
    throw new InvalidRequestError('`model` must not be a secret: it looks like an API key or token', 'invalid_field', 'model');
  if (user !== undefined && user !== null && typeof user !== 'string')
    throw new InvalidRequestError('`user` must be a string', 'invalid_body', 'user');
  // The end user is an id like any other (lib/domain/ids): `eu-1 ` is refused, not taken for `eu-1`.
  const problem = typeof user === 'string' && user.length > 0 ? idProblem(user) : undefined;
  if (problem) throw new InvalidRequestError(`\`user\` ${problem}`, 'invalid_field', 'user');
  return {
    model: typeof model === 'string' && model.length > 0 ? model : undefined,
    user: typeof user === 'string' && user.length > 0 ? user : undefined,
    stream,
  };
}
