/**
 * The local API Gateway: serves every route of lib/routes with the REST API's semantics and
 * calls the very handlers Lambda runs. The authorizer gets a REST REQUEST event, its policy is
 * evaluated against the method ARN as IAM would, denials are rendered from the gateway response
 * templates, and an Allow hands a REST proxy event (the authorizer's context included) to the
 * route's function; a response-streaming function is relayed chunk by chunk.
 */
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type {
  APIGatewayAuthorizerResult,
  APIGatewayEventRequestContextWithAuthorizer,
  APIGatewayProxyEvent,
  APIGatewayProxyResult,
  APIGatewayRequestAuthorizerEvent,
  Context,
} from 'aws-lambda';
import { config } from '../../lib/config.js';
import { type GatewayResponseType, renderGatewayResponse } from '../../lib/gateway-responses.js';
import { BINARY_MEDIA_TYPES, matchRoute, type RouteMatch } from '../../lib/routes.js';
import { logger } from '../../lib/telemetry.js';
import type { ConsoleSettings } from '../console-site.js';
import { AUTHORIZER_TIMEOUT_SECONDS, BUFFERED_FUNCTION_TIMEOUT_SECONDS } from '../timeouts.js';
import { installAwsLambdaGlobal, invokeStreaming, isStreamingHandler, type StreamingHandler } from './awslambda.js';
import { isConsolePath, serveConsole } from './console.js';

/** API Gateway's request payload limit. */
export const MAX_BODY_BYTES = 10 * 1024 * 1024;
/**
 * Lambda's invocation payload limit, on the event as JSON (a binary body counts base64-encoded)
 * and on a buffered function's result: below API Gateway's, so an upload API Gateway takes can
 * still be refused by Lambda (API Gateway then answers 500), and an answer too large is a 502.
 */
export const MAX_INVOKE_PAYLOAD_BYTES = 6 * 1024 * 1024;

const ACCOUNT = '000000000000';
const REGION = 'local';
const API_ID = 'local';
const STAGE = 'local';

export interface GatewayOptions {
  port: number;
  /** Default 127.0.0.1: the gateway answers to whoever holds a key, keep it off the network unless asked. */
  host?: string;
  /** Handler module per function name, instead of functions/<name>/handler.ts (tests). */
  modules?: Partial<Record<string, string>>;
  /** Called once per request with what is safe to log (no headers, no query, no body). */
  onRequest?: (entry: { method: string; path: string; status: number; ms: number }) => void;
  /** The built console served at /ui/ (default console/dist). */
  consoleDir?: string;
  /**
   * Invocations of one function run at once (default TOLLGATE_LOCAL_CONCURRENCY, 64); the others
   * wait their turn. A Lambda instance is busy until its handler returns, a settlement after the
   * answer included; one process running every invocation without bound let that work pile up
   * under load (a backlog of settlements starved the authorizer's reads past the store deadline).
   */
  concurrency?: number;
  /** What the console's `config.json` says (single sign-on); none by default. */
  consoleSettings?: ConsoleSettings;
  /** How long the authorizer and a buffered function may take (default: as deployed, infra/timeouts). */
  timeouts?: { authorizerMs?: number; functionMs?: number };
}

interface Timeouts {
  authorizerMs: number;
  functionMs: number;
}

/** Rejects when `ms` pass first; the work itself goes on (as a timed-out invocation's would, briefly). */
class DeadlineError extends Error {}
function withDeadline<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new DeadlineError(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([work, deadline]).finally(() => clearTimeout(timer));
}

export interface Gateway {
  url: string;
  port: number;
  close(): Promise<void>;
}

type ProxyHandler = (event: unknown, context: Context) => Promise<unknown>;
type Handler = ProxyHandler | StreamingHandler;

const functionsDir = fileURLToPath(new URL('../../functions/', import.meta.url));

export async function startGateway(opts: GatewayOptions): Promise<Gateway> {
  // Streaming handlers call awslambda.streamifyResponse when their module loads.
  installAwsLambdaGlobal();
  const host = opts.host ?? '127.0.0.1';
  const loadHandler = handlerLoader(opts.modules ?? {});
  const limit = opts.concurrency ?? config().localConcurrency;
  const timeouts: Timeouts = {
    authorizerMs: opts.timeouts?.authorizerMs ?? AUTHORIZER_TIMEOUT_SECONDS * 1000,
    functionMs: opts.timeouts?.functionMs ?? BUFFERED_FUNCTION_TIMEOUT_SECONDS * 1000,
  };
  const slots = new Map<string, Slots>();
  const slotsOf = (fn: string): Slots => {
    let s = slots.get(fn);
    if (!s) slots.set(fn, (s = new Slots(limit)));
    return s;
  };

  const server = createServer((req, res) => {
    const started = Date.now();
    const method = req.method ?? 'GET';
    const path = new URL(req.url ?? '/', 'http://local').pathname;
    res.once('close', () => opts.onRequest?.({ method, path, status: res.statusCode, ms: Date.now() - started }));
    // The console's static files, on the API's origin as CloudFront serves them in AWS.
    const served = isConsolePath(path)
      ? serveConsole(req, res, opts.consoleDir, opts.consoleSettings)
      : serve(req, res, loadHandler, slotsOf, timeouts);
    served.catch((e: unknown) => {
      logger().error('local gateway failed', { error: e as Error });
      if (!res.headersSent) sendGatewayResponse(res, 'DEFAULT_5XX');
      else res.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const shown = host === '0.0.0.0' || host === '::' ? 'localhost' : host.includes(':') ? `[${host}]` : host;
  return {
    url: `http://${shown}:${port}`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Keep-alive sockets (the openai client's) and open streams would hold close() forever.
        server.closeAllConnections();
      }),
  };
}

/** At most `limit` holders at once; the others wait, first come first served. */
class Slots {
  private held = 0;
  private readonly waiting: (() => void)[] = [];
  constructor(private readonly limit: number) {}

  async acquire(): Promise<() => void> {
    if (this.held >= this.limit) await new Promise<void>((resolve) => this.waiting.push(resolve));
    else this.held++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.waiting.shift();
      if (next) next();
      else this.held--;
    };
  }
}

async function serve(
  req: IncomingMessage,
  res: ServerResponse,
  loadHandler: (fn: string) => Promise<Handler>,
  slotsOf: (fn: string) => Slots,
  timeouts: Timeouts,
): Promise<void> {
  const requestId = randomUUID();
  res.setHeader('x-amzn-RequestId', requestId);
  const url = new URL(req.url ?? '/', 'http://local');

  const body = await readBody(req);
  if (body === 'too_large') {
    // The rest of the upload is not read: close the connection once the answer is out.
    res.setHeader('connection', 'close');
    res.once('finish', () => req.destroy());
    // API Gateway's own answer (REQUEST_TOO_LARGE), before any route or authorizer.
    return sendGatewayResponse(res, 'REQUEST_TOO_LARGE');
  }

  const match = matchRoute(req.method ?? '', url.pathname);
  // Like API Gateway, a known path with a method it lacks is the same answer as an unknown path.
  if (!match) return sendGatewayResponse(res, 'MISSING_AUTHENTICATION_TOKEN');
  if (match.route.fn === 'health') return sendJson(res, 200, JSON.stringify({ status: 'healthy' }));

  const http = httpParts(req, url, match);
  const requestContext = baseRequestContext(req, match, requestId, http.headers);

  let authorizer: Record<string, string | number> | null = null;
  if (match.route.group !== 'public') {
    const methodArn = `arn:aws:execute-api:${REGION}:${ACCOUNT}:${API_ID}/${STAGE}/${match.method}${url.pathname}`;
    const event: APIGatewayRequestAuthorizerEvent = {
      type: 'REQUEST',
      methodArn,
      resource: match.route.path,
      path: url.pathname,
      httpMethod: match.method,
      headers: http.headers,
      multiValueHeaders: http.multiValueHeaders,
      pathParameters: http.pathParameters,
      queryStringParameters: http.queryStringParameters,
      multiValueQueryStringParameters: http.multiValueQueryStringParameters,
      stageVariables: null,
      requestContext: { ...requestContext, authorizer: undefined },
    };
    const started = Date.now();
    let authorize: ProxyHandler;
    try {
      authorize = (await loadHandler('authorizer')) as ProxyHandler;
    } catch (e) {
      logger().error('local gateway: could not load the authorizer', { error: e as Error });
      return sendGatewayResponse(res, 'AUTHORIZER_FAILURE');
    }
    let result: APIGatewayAuthorizerResult;
    try {
      const invocation = authorize(event, lambdaContext('authorizer', timeouts.authorizerMs));
      result = (await withDeadline(invocation, timeouts.authorizerMs)) as APIGatewayAuthorizerResult;
    } catch (e) {
      // A timed-out authorizer is a failed one: AUTHORIZER_CONFIGURATION_ERROR below, as in AWS.
      // API Gateway answers 401 exactly when the authorizer fails with the message `Unauthorized`.
      if (e instanceof Error && e.message === 'Unauthorized') return sendGatewayResponse(res, 'UNAUTHORIZED');
      // Any other error is API Gateway's AUTHORIZER_CONFIGURATION_ERROR (AuthorizerConfigurationException).
      return sendGatewayResponse(res, 'AUTHORIZER_CONFIGURATION_ERROR');
    }
    const context = authorizerContext(result);
    if (!context) {
      // API Gateway's AUTHORIZER_CONFIGURATION_ERROR: a result it cannot read is a 5xx, never an Allow.
      logger().error('local gateway: the authorizer returned a result API Gateway would reject');
      return sendGatewayResponse(res, 'AUTHORIZER_CONFIGURATION_ERROR');
    }
    if (evaluatePolicy(result.policyDocument, methodArn) !== 'allow') {
      return sendGatewayResponse(res, 'ACCESS_DENIED', result.context ?? {});
    }
    authorizer = { ...context, principalId: result.principalId, integrationLatency: Date.now() - started };
  }

  const binary = isBinary(http.headers);
  const event: APIGatewayProxyEvent = {
    resource: match.route.path,
    path: url.pathname,
    httpMethod: match.method,
    headers: http.headers,
    multiValueHeaders: http.multiValueHeaders,
    queryStringParameters: http.queryStringParameters,
    multiValueQueryStringParameters: http.multiValueQueryStringParameters,
    pathParameters: http.pathParameters,
    stageVariables: null,
    requestContext: { ...requestContext, authorizer },
    body: body.length === 0 ? null : body.toString(binary ? 'base64' : 'utf8'),
    isBase64Encoded: binary && body.length > 0,
  };

  if (Buffer.byteLength(JSON.stringify(event)) > MAX_INVOKE_PAYLOAD_BYTES) {
    logger().error('local gateway: the event is larger than Lambda accepts (6 MB, a binary body base64-encoded)', { fn: match.route.fn });
    // API Gateway's answer when the Lambda API refuses the invocation: a 500, DEFAULT_5XX's body.
    return sendGatewayResponse(res, 'DEFAULT_5XX', {}, 500);
  }

  let handler: Handler;
  try {
    handler = await loadHandler(match.route.fn);
  } catch (e) {
    logger().error('local gateway: could not load the function', { fn: match.route.fn, error: e as Error });
    return sendGatewayResponse(res, 'DEFAULT_5XX');
  }
  const context = lambdaContext(match.route.fn, 900_000);
  // Held until the invocation ends, not the answer: as an instance is, while it settles.
  const release = await slotsOf(match.route.fn).acquire();
  try {
    if (isStreamingHandler(handler)) return await relayStream(res, handler, event, context);
    return await answerProxy(res, handler as ProxyHandler, event, lambdaContext(match.route.fn, timeouts.functionMs), match.route.fn);
  } finally {
    release();
  }
}

async function answerProxy(
  res: ServerResponse,
  handler: ProxyHandler,
  event: APIGatewayProxyEvent,
  context: Context,
  fn: string,
): Promise<void> {
  let result: unknown;
  const invocation = handler(event, context);
  try {
    result = await withDeadline(invocation, context.getRemainingTimeInMillis());
  } catch (e) {
    if (e instanceof DeadlineError) {
      // API Gateway's integration timeout (29 s): a 504 with DEFAULT_5XX's body. The invocation
      // is still awaited below, so its slot stays held until it ends, as an instance would be busy.
      logger().error('local gateway: the function did not answer in time', { fn });
      sendGatewayResponse(res, 'DEFAULT_5XX', {}, 504);
      await invocation.catch(() => undefined);
      return;
    }
    // A function error behind a Lambda proxy integration is API Gateway's 502.
    logger().error('local gateway: the function failed', { fn, error: e as Error });
    return sendGatewayResponse(res, 'DEFAULT_5XX');
  }
  sendProxyResult(res, result, fn);
}

// ---------------------------------------------------------------------------------------------
// Handlers

function handlerLoader(modules: Partial<Record<string, string>>): (fn: string) => Promise<Handler> {
  const loaded = new Map<string, Promise<Handler>>();
  return (fn) => {
    let pending = loaded.get(fn);
    if (!pending) {
      const file = modules[fn] ?? `${functionsDir}${fn}/handler.ts`;
      pending = (async () => {
        if (!existsSync(file)) throw new Error(`${file} does not exist`);
        const mod = (await import(pathToFileURL(file).href)) as { handler?: unknown };
        if (typeof mod.handler !== 'function') throw new Error(`${file} exports no \`handler\` function`);
        return mod.handler as Handler;
      })();
      // A failed load is retried on the next request (the file may be written meanwhile).
      pending.catch(() => loaded.delete(fn));
      loaded.set(fn, pending);
    }
    return pending;
  };
}

function lambdaContext(fn: string, timeoutMs: number): Context {
  const deadline = Date.now() + timeoutMs;
  const name = `tollgate-${fn}`;
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName: name,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:${REGION}:${ACCOUNT}:function:${name}`,
    memoryLimitInMB: '1024',
    awsRequestId: randomUUID(),
    logGroupName: `/aws/lambda/${name}`,
    logStreamName: 'local',
    // middy schedules its timeout from this: it must be the function's real budget.
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

// ---------------------------------------------------------------------------------------------
// The authorizer's result

/** The context as API Gateway hands it on: values coerced to strings; undefined if the result is unusable. */
function authorizerContext(result: unknown): Record<string, string> | undefined {
  if (typeof result !== 'object' || result === null) return undefined;
  const r = result as Partial<APIGatewayAuthorizerResult>;
  if (typeof r.principalId !== 'string' || typeof r.policyDocument !== 'object' || r.policyDocument === null) return undefined;
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(r.context ?? {})) {
    if (value === undefined || value === null) continue;
    // Objects and arrays in the context make API Gateway fail the request.
    if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') return undefined;
    out[name] = String(value);
  }
  return out;
}

interface PolicyStatement {
  Effect?: unknown;
  Action?: unknown;
  NotAction?: unknown;
  Resource?: unknown;
  NotResource?: unknown;
  Condition?: unknown;
}

const asList = (v: unknown): string[] | undefined =>
  typeof v === 'string' ? [v] : Array.isArray(v) && v.every((x) => typeof x === 'string') ? (v as string[]) : undefined;

/** Patterns compiled once: a policy's patterns repeat on every request (at most this many are kept). */
const compiledPatterns = new Map<string, RegExp>();
const MAX_COMPILED_PATTERNS = 1000;

/** IAM's wildcards: `*` any run of characters (slashes included), `?` exactly one. */
function wildcardMatch(pattern: string, value: string, ignoreCase: boolean): boolean {
  const key = `${ignoreCase ? 'i' : 's'}${pattern}`;
  let re = compiledPatterns.get(key);
  if (!re) {
    const source = pattern
      .split('')
      .map((ch) => (ch === '*' ? '.*' : ch === '?' ? '.' : ch.replace(/[.+^${}()|[\]\\]/g, '\\$&')))
      .join('');
    re = new RegExp(`^${source}$`, ignoreCase ? 'is' : 's');
    if (compiledPatterns.size >= MAX_COMPILED_PATTERNS) compiledPatterns.clear();
    compiledPatterns.set(key, re);
  }
  return re.test(value);
}

function statementApplies(s: PolicyStatement, methodArn: string): boolean {
  const action = 'execute-api:Invoke';
  const actions = asList(s.Action);
  const notActions = asList(s.NotAction);
  const actionHit = actions
    ? actions.some((p) => wildcardMatch(p, action, true))
    : notActions
      ? !notActions.some((p) => wildcardMatch(p, action, true))
      : false;
  const resources = asList(s.Resource);
  const notResources = asList(s.NotResource);
  const resourceHit = resources
    ? resources.some((p) => wildcardMatch(p, methodArn, false))
    : notResources
      ? !notResources.some((p) => wildcardMatch(p, methodArn, false))
      : false;
  return actionHit && resourceHit;
}

/**
 * The policy against the method ARN, as IAM evaluates it: an explicit Deny wins, then an Allow,
 * else the implicit deny. Conditions are not evaluated: an Allow with one grants nothing and a
 * Deny with one applies (fail closed).
 */
export function evaluatePolicy(policy: unknown, methodArn: string): 'allow' | 'deny' {
  const raw = (policy as { Statement?: unknown } | null | undefined)?.Statement;
  const statements = (Array.isArray(raw) ? raw : raw === undefined ? [] : [raw]) as PolicyStatement[];
  let allowed = false;
  for (const s of statements) {
    if (typeof s !== 'object' || s === null || !statementApplies(s, methodArn)) continue;
    if (s.Effect === 'Deny') return 'deny';
    if (s.Effect === 'Allow' && s.Condition === undefined) allowed = true;
  }
  return allowed ? 'allow' : 'deny';
}

// ---------------------------------------------------------------------------------------------
// The request as API Gateway presents it

interface HttpParts {
  headers: Record<string, string>;
  multiValueHeaders: Record<string, string[]>;
  queryStringParameters: Record<string, string> | null;
  multiValueQueryStringParameters: Record<string, string[]> | null;
  pathParameters: Record<string, string> | null;
}

function httpParts(req: IncomingMessage, url: URL, match: RouteMatch): HttpParts {
  // Header names as the client spelled them (first spelling wins); `headers` keeps the last value.
  const spelling = new Map<string, string>();
  const headers: Record<string, string> = {};
  const multiValueHeaders: Record<string, string[]> = {};
  const add = (rawName: string, value: string) => {
    const lower = rawName.toLowerCase();
    const name = spelling.get(lower) ?? rawName;
    spelling.set(lower, name);
    (multiValueHeaders[name] ??= []).push(value);
    headers[name] = value;
  };
  for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) add(req.rawHeaders[i] as string, req.rawHeaders[i + 1] as string);
  const sourceIp = req.socket.remoteAddress ?? '127.0.0.1';
  const forwarded = spelling.get('x-forwarded-for');
  const xff = forwarded ? `${headers[forwarded]}, ${sourceIp}` : sourceIp;
  if (forwarded) {
    headers[forwarded] = xff;
    multiValueHeaders[forwarded] = [xff];
  } else add('X-Forwarded-For', xff);
  if (!spelling.has('x-forwarded-proto')) add('X-Forwarded-Proto', 'http');
  if (!spelling.has('x-forwarded-port')) add('X-Forwarded-Port', String(req.socket.localPort ?? ''));

  const query: Record<string, string> = {};
  const multiQuery: Record<string, string[]> = {};
  for (const [k, v] of url.searchParams) {
    query[k] = v;
    (multiQuery[k] ??= []).push(v);
  }
  const hasQuery = Object.keys(query).length > 0;
  return {
    headers,
    multiValueHeaders,
    queryStringParameters: hasQuery ? query : null,
    multiValueQueryStringParameters: hasQuery ? multiQuery : null,
    pathParameters: Object.keys(match.params).length > 0 ? match.params : null,
  };
}

function baseRequestContext(
  req: IncomingMessage,
  match: RouteMatch,
  requestId: string,
  headers: Record<string, string>,
): Omit<APIGatewayEventRequestContextWithAuthorizer<unknown>, 'authorizer'> {
  const now = new Date();
  const header = (name: string) => Object.entries(headers).find(([k]) => k.toLowerCase() === name)?.[1];
  return {
    accountId: ACCOUNT,
    apiId: API_ID,
    domainName: header('host') ?? 'localhost',
    extendedRequestId: requestId,
    httpMethod: match.method,
    identity: {
      accessKey: null,
      accountId: null,
      apiKey: null,
      apiKeyId: null,
      caller: null,
      clientCert: null,
      cognitoAuthenticationProvider: null,
      cognitoAuthenticationType: null,
      cognitoIdentityId: null,
      cognitoIdentityPoolId: null,
      principalOrgId: null,
      sourceIp: req.socket.remoteAddress ?? '127.0.0.1',
      user: null,
      userAgent: header('user-agent') ?? null,
      userArn: null,
    },
    path: `/${STAGE}${match.path}`,
    protocol: `HTTP/${req.httpVersion}`,
    requestId,
    requestTime: now.toISOString(),
    requestTimeEpoch: now.getTime(),
    resourceId: 'local',
    resourcePath: match.route.path,
    stage: STAGE,
  };
}

function isBinary(headers: Record<string, string>): boolean {
  const type = Object.entries(headers).find(([k]) => k.toLowerCase() === 'content-type')?.[1];
  const mime = type?.split(';')[0]?.trim().toLowerCase();
  if (!mime) return false;
  return BINARY_MEDIA_TYPES.some((p) => (p.endsWith('/*') ? mime.startsWith(p.slice(0, -1)) : mime === p));
}

/** The whole body, or `too_large` past API Gateway's limit (the rest is then left unread). */
function readBody(req: IncomingMessage): Promise<Buffer | 'too_large'> {
  if (Number(req.headers['content-length'] ?? 0) > MAX_BODY_BYTES) return Promise.resolve('too_large');
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        req.off('data', onData);
        req.pause();
        resolve('too_large');
        return;
      }
      chunks.push(chunk);
    };
    req.on('data', onData);
    req.once('end', () => resolve(Buffer.concat(chunks)));
    req.once('error', reject);
  });
}

// ---------------------------------------------------------------------------------------------
// Responses

function sendJson(res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { ...headers, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

/** `status` stands for API Gateway's own status where the stack keeps it (DEFAULT_5XX only replaces the body). */
function sendGatewayResponse(res: ServerResponse, type: GatewayResponseType, context: Record<string, unknown> = {}, status?: number): void {
  const { statusCode, body, headers } = renderGatewayResponse(type, context);
  sendJson(res, status ?? statusCode, body, headers);
}

// Framing is the gateway's business, whatever the function says.
const HOP_BY_HOP = new Set(['content-length', 'transfer-encoding', 'connection', 'keep-alive']);

function responseHeaders(
  single: Record<string, unknown> | undefined,
  multi: Record<string, unknown> | undefined,
): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(single ?? {})) {
    if (!HOP_BY_HOP.has(k.toLowerCase()) && v !== undefined && v !== null) out[k.toLowerCase()] = String(v);
  }
  for (const [k, values] of Object.entries(multi ?? {})) {
    if (HOP_BY_HOP.has(k.toLowerCase()) || !Array.isArray(values)) continue;
    out[k.toLowerCase()] = values.map(String);
  }
  return out;
}

function sendProxyResult(res: ServerResponse, result: unknown, fn: string): void {
  const r = result as Partial<APIGatewayProxyResult> | null;
  const valid =
    typeof r === 'object' &&
    r !== null &&
    Number.isInteger(r.statusCode) &&
    (r.body === undefined || r.body === null || typeof r.body === 'string');
  if (!valid) {
    // API Gateway's "Malformed Lambda proxy response".
    logger().error('local gateway: malformed proxy result', { fn });
    sendGatewayResponse(res, 'DEFAULT_5XX');
    return;
  }
  if (Buffer.byteLength(JSON.stringify(r)) > MAX_INVOKE_PAYLOAD_BYTES) {
    // Lambda fails an invocation whose result is over its limit: a function error, API Gateway's 502.
    logger().error('local gateway: the result is larger than Lambda returns (6 MB)', { fn });
    sendGatewayResponse(res, 'DEFAULT_5XX');
    return;
  }
  const headers = responseHeaders(r.headers, r.multiValueHeaders);
  const text = r.body ?? '';
  const payload = r.isBase64Encoded ? Buffer.from(text, 'base64') : Buffer.from(text, 'utf8');
  headers['content-type'] ??= 'application/json';
  const status = r.statusCode as number;
  if (status === 204 || status === 304) {
    res.writeHead(status, headers);
    res.end();
    return;
  }
  headers['content-length'] = String(payload.length);
  res.writeHead(status, headers);
  res.end(payload);
}

/**
 * What a streaming function writes in one turn of the event loop leaves in one write: the headers
 * with the first chunk, a JSON answer with the end of the response, a burst of events together
 * (a write per chunk is a system call each, and the client reads each). Writes are held (corked)
 * until the loop's next turn, or the end of the response; headers that no chunk followed within a
 * turn go out alone, so a client waiting on a slow first token sees the status at once.
 */
function writeBatches(res: ServerResponse): { write: (chunk: Buffer) => boolean; end: () => void } {
  let held = false;
  let wrote = false;
  const hold = (): void => {
    if (held) return;
    held = true;
    res.cork();
    setImmediate(release);
  };
  // The response sends what it held as several socket writes (each chunk's size, the chunk, the
  // line ends): the socket is corked around it, so they leave as one.
  const flush = (then?: () => void): void => {
    const socket = res.socket;
    socket?.cork();
    if (held) {
      held = false;
      res.uncork();
    }
    then?.();
    socket?.uncork();
  };
  const release = (): void => {
    // Ended or destroyed: nothing is held any more (destroy() drops it).
    if (!held || res.writableEnded || res.destroyed) return;
    flush(() => {
      if (!wrote) res.flushHeaders();
    });
  };
  hold();
  return {
    write: (chunk) => {
      wrote = true;
      hold();
      return res.write(chunk);
    },
    // Released first: ending a response that holds chunks would send its last chunk before them.
    end: () => flush(() => res.end()),
  };
}

async function relayStream(res: ServerResponse, handler: StreamingHandler, event: APIGatewayProxyEvent, context: Context): Promise<void> {
  let streamed: Awaited<ReturnType<typeof invokeStreaming>>;
  try {
    streamed = await invokeStreaming(handler, event, context);
  } catch (e) {
    logger().error('local gateway: the streaming function failed before its first byte', { fn: context.functionName, error: e as Error });
    return sendGatewayResponse(res, 'DEFAULT_5XX');
  }
  const headers = responseHeaders(streamed.headers, undefined);
  res.writeHead(streamed.statusCode, headers);
  const batch = writeBatches(res);
  try {
    for await (const chunk of streamed.body) {
      // A client that left is drained, not abandoned: the function still finishes (and records spend).
      if (res.destroyed || res.writableEnded) continue;
      if (!batch.write(chunk)) await Promise.race([once(res, 'drain'), once(res, 'close')]);
    }
    // As API Gateway does: the response ends with the function's response stream, while the
    // invocation may go on (it settles spend after the answer); its failure is still logged.
    batch.end();
    await streamed.done;
  } catch (e) {
    logger().error('local gateway: the streaming function failed mid-stream', { fn: context.functionName, error: e as Error });
    // Cut the connection so the client sees a broken stream, not a complete one.
    res.destroy();
  }
}
