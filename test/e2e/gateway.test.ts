/**
 * The local gateway's API Gateway semantics, with the real authorizer and stand-in functions
 * written to a temp folder (the real llm and admin functions have their own tests).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { evaluatePolicy, type Gateway, MAX_BODY_BYTES, startGateway } from '../../infra/local/gateway.js';
import { AUTHORIZER_TIMEOUT_SECONDS, BUFFERED_FUNCTION_TIMEOUT_SECONDS } from '../../infra/timeouts.js';
import { renderGatewayResponse } from '../../lib/gateway-responses.js';
import { seedKey, seedTeam } from '../support/seed.js';
import { reconfigure, type TestTable, useTestTable } from '../support/table.js';

const MASTER = 'sk-master-gateway-test';

const modules: Record<string, string> = {
  // Answers with the event it was given.
  echo: `export const handler = async (event, context) => ({
    statusCode: 200,
    headers: { 'content-type': 'application/json', 'x-function': context.functionName, 'content-length': '1' },
    multiValueHeaders: { 'set-cookie': ['a=1', 'b=2'] },
    body: JSON.stringify(event),
  });`,
  // Streams: one chunk, then waits for the test to release it before the rest.
  stream: `export const handler = awslambda.streamifyResponse(async (event, stream) => {
    const out = awslambda.HttpResponseStream.from(stream, { statusCode: 201, headers: { 'content-type': 'text/event-stream' } });
    out.write('data: first\\n\\n');
    await new Promise((resolve) => { globalThis.__releaseStream = resolve; });
    out.write('data: second\\n\\n');
    out.end('data: [DONE]\\n\\n');
  });`,
  // Writes its prelude, then waits for the test to release it before its first chunk; then a
  // burst of chunks in one turn.
  parked: `export const handler = awslambda.streamifyResponse(async (event, stream) => {
    const out = awslambda.HttpResponseStream.from(stream, { statusCode: 202, headers: { 'content-type': 'text/event-stream' } });
    await new Promise((resolve) => { globalThis.__releaseParked = resolve; });
    for (let i = 1; i <= 50; i++) out.write('data: ' + i + '\\n\\n');
    out.end('data: [DONE]\\n\\n');
  });`,
  // Fails mid-stream.
  brokenStream: `export const handler = awslambda.streamifyResponse(async (event, stream) => {
    const out = awslambda.HttpResponseStream.from(stream, { statusCode: 200, headers: { 'content-type': 'text/event-stream' } });
    out.write('data: first\\n\\n');
    await new Promise((r) => setTimeout(r, 20));
    throw new Error('boom');
  });`,
  // Answers at once, then stays busy 300 ms (a settlement after the answer), counting how many
  // of its invocations run at the same moment.
  lingers: `export const handler = awslambda.streamifyResponse(async (event, stream) => {
    const g = globalThis;
    g.__active = (g.__active ?? 0) + 1;
    g.__most = Math.max(g.__most ?? 0, g.__active);
    const out = awslambda.HttpResponseStream.from(stream, { statusCode: 200, headers: { 'content-type': 'application/json' } });
    out.end('{"ok":true}');
    await new Promise((r) => setTimeout(r, 300));
    g.__active--;
  });`,
  throws: `export const handler = async () => { throw new Error('boom'); };`,
  // Takes as long as the test asks (x-delay ms), then answers; says what time it was given.
  slow: `export const handler = async (event, context) => {
    const given = context.getRemainingTimeInMillis();
    await new Promise((r) => setTimeout(r, Number(event.headers['x-delay'] ?? 0)));
    return { statusCode: 200, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ given, authorizerGiven: Number(event.requestContext.authorizer.given) }) };
  };`,
  slowAuthorizer: `export const handler = async (event, context) => {
    const given = context.getRemainingTimeInMillis();
    await new Promise((r) => setTimeout(r, Number(event.headers['x-auth-delay'] ?? 0)));
    return { principalId: 'p', policyDocument: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'execute-api:Invoke', Resource: '*' }] }, context: { given } };
  };`,
  // Answers a body of the size the test asks for (x-size), as JSON text.
  sized: `export const handler = async (event) => ({
    statusCode: 200, headers: { 'content-type': 'application/json' }, body: JSON.stringify('a'.repeat(Number(event.headers['x-size']))),
  });`,
  malformed: `export const handler = async () => ({ body: 'no status' });`,
  binary: `export const handler = async () => ({
    statusCode: 200, headers: { 'content-type': 'audio/mpeg' }, body: Buffer.from([0, 1, 2, 255]).toString('base64'), isBase64Encoded: true,
  });`,
  // An authorizer whose policy the test chooses through a header.
  authorizer: `const arn = 'arn:aws:execute-api:local:000000000000:local/local/';
  const policy = (...Statement) => ({ Version: '2012-10-17', Statement });
  export const handler = async (event) => {
    const ctx = { message: 'denied by the test policy', type: 'permission_error', code: 'test_denied' };
    switch (event.headers['x-policy']) {
      case 'allow-stage': return { principalId: 'p', policyDocument: policy({ Effect: 'Allow', Action: 'execute-api:Invoke', Resource: arn + '*' }), context: { n: 1, b: true } };
      case 'deny-wins': return { principalId: 'p', policyDocument: policy(
        { Effect: 'Allow', Action: 'execute-api:*', Resource: arn + '*' },
        { Effect: 'Deny', Action: 'execute-api:Invoke', Resource: arn + 'POST/chat/*' }), context: ctx };
      case 'other-method': return { principalId: 'p', policyDocument: policy({ Effect: 'Allow', Action: 'execute-api:Invoke', Resource: arn + 'GET/*' }), context: ctx };
      case 'question-mark': return { principalId: 'p', policyDocument: policy({ Effect: 'Allow', Action: 'execute-api:Invoke', Resource: [arn + 'POST/chat/complet?ons'] }) };
      case 'object-context': return { principalId: 'p', policyDocument: policy({ Effect: 'Allow', Action: 'execute-api:Invoke', Resource: arn + '*' }), context: { nested: { a: 1 } } };
      case 'unauthorized': throw new Error('Unauthorized');
      default: throw new Error('some failure');
    }
  };`,
};

let table: TestTable;
let dir: string;
let gw: Gateway;
let fake: Gateway;
const file = (name: string) => join(dir, `${name}.mjs`);

beforeAll(async () => {
  table = await useTestTable({ TOLLGATE_MASTER_KEY: MASTER });
  dir = mkdtempSync(join(tmpdir(), 'tollgate-gw-'));
  for (const [name, source] of Object.entries(modules)) writeFileSync(file(name), source);
  gw = await startGateway({
    port: 0,
    modules: {
      llm: file('echo'),
      teams: file('stream'),
      users: file('brokenStream'),
      keys: file('throws'),
      organizations: file('malformed'),
      budgets: file('binary'),
      customers: join(dir, 'absent.mjs'),
      audit: file('sized'),
      models: file('parked'),
    },
  });
  fake = await startGateway({ port: 0, modules: { authorizer: file('authorizer'), llm: file('echo') } });
});

afterAll(async () => {
  await gw?.close();
  await fake?.close();
  rmSync(dir, { recursive: true, force: true });
});

const bearer = (key: string) => ({ authorization: `Bearer ${key}` });
const errorOf = async (res: Response) => ((await res.json()) as { error: { message: string; type: string; code: string } }).error;

describe('routing like API Gateway', () => {
  it('answers /health without credentials', async () => {
    const res = await fetch(`${gw.url}/health`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'healthy' });
  });

  it('answers an unknown path with the missing-route response', async () => {
    const res = await fetch(`${gw.url}/nope`, { headers: bearer(MASTER) });
    expect(res.status).toBe(404);
    expect(await errorOf(res)).toMatchObject({ type: 'not_found_error', code: 'route_not_found' });
  });

  it('answers a known path with a method it lacks the same way', async () => {
    const res = await fetch(`${gw.url}/chat/completions`, { headers: bearer(MASTER) });
    expect(res.status).toBe(404);
    expect((await errorOf(res)).code).toBe('route_not_found');
  });

  it('refuses a body over 10 MB with an OpenAI-shaped 413', async () => {
    const res = await fetch(`${gw.url}/chat/completions`, {
      method: 'POST',
      headers: { ...bearer(MASTER), 'content-type': 'application/json' },
      body: Buffer.alloc(MAX_BODY_BYTES + 1, 0x61),
    });
    expect(res.status).toBe(413);
    // API Gateway answers this itself (REQUEST_TOO_LARGE): the body is the stack's gateway response, byte for byte.
    const text = await res.text();
    expect(text).toBe(renderGatewayResponse('REQUEST_TOO_LARGE').body);
    expect(JSON.parse(text).error).toMatchObject({ type: 'invalid_request_error', code: 'request_too_large' });
  });
});

describe('the real authorizer in front', () => {
  it('answers 401 without credentials', async () => {
    const res = await fetch(`${gw.url}/v1/chat/completions`, { method: 'POST', body: '{}' });
    expect(res.status).toBe(401);
    expect(await errorOf(res)).toMatchObject({ type: 'authentication_error', code: 'invalid_api_key' });
  });

  it('answers 401 for an unknown key', async () => {
    const res = await fetch(`${gw.url}/v1/chat/completions`, { method: 'POST', headers: bearer('sk-unknown-key'), body: '{}' });
    expect(res.status).toBe(401);
  });

  it('renders a Deny from the policy context: an over-budget team, named with its limit', async () => {
    await seedTeam({ team_id: 'gw-broke', max_budget: 5, spend: 5 });
    const { key } = await seedKey({ team_id: 'gw-broke' });
    const res = await fetch(`${gw.url}/v1/chat/completions`, { method: 'POST', headers: { 'x-api-key': key }, body: '{}' });
    expect(res.status).toBe(403);
    expect(await errorOf(res)).toEqual({
      message: 'team `gw-broke` spent 5.00 of its 5.00 budget',
      type: 'budget_exceeded',
      param: null,
      code: 'team_budget_exceeded',
    });
  });

  it("answers 503 store_unavailable (API Gateway's AUTHORIZER_CONFIGURATION_ERROR, rendered) when the store cannot be read, never Allow", async () => {
    const { key } = await seedKey({});
    reconfigure(table.config, { TOLLGATE_MASTER_KEY: MASTER, TOLLGATE_TABLE_NAME: 'no-such-table' });
    try {
      const res = await fetch(`${gw.url}/v1/chat/completions`, { method: 'POST', headers: bearer(key), body: '{}' });
      expect(res.status).toBe(503);
      expect((await errorOf(res)).code).toBe('store_unavailable');
    } finally {
      reconfigure(table.config, { TOLLGATE_MASTER_KEY: MASTER });
    }
  });
});

describe('the proxy event an allowed request becomes', () => {
  it('carries the request and the authorizer context as API Gateway gives them', async () => {
    await seedTeam({ team_id: 'gw-team', max_budget: 100, spend: 1 });
    const { key, record } = await seedKey({ team_id: 'gw-team' });
    const res = await fetch(`${gw.url}/v1/chat/completions?a=1&a=2&b=x`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${key}`, 'X-Custom': 'yes', 'content-type': 'application/json' },
      body: '{"model":"gpt-4o"}',
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-function')).toBe('tollgate-llm');
    expect(res.headers.get('set-cookie')).toBe('a=1, b=2');
    const event = (await res.json()) as Record<string, any>;
    expect(event).toMatchObject({
      resource: '/v1/chat/completions',
      path: '/v1/chat/completions',
      httpMethod: 'POST',
      body: '{"model":"gpt-4o"}',
      isBase64Encoded: false,
      pathParameters: null,
      queryStringParameters: { a: '2', b: 'x' },
      multiValueQueryStringParameters: { a: ['1', '2'], b: ['x'] },
    });
    expect(event.headers['X-Custom']).toBe('yes');
    expect(event.multiValueHeaders['X-Custom']).toEqual(['yes']);
    expect(event.requestContext).toMatchObject({
      stage: 'local',
      resourcePath: '/v1/chat/completions',
      identity: { sourceIp: '127.0.0.1' },
    });
    expect(event.requestContext.requestId).toBe(res.headers.get('x-amzn-requestid'));
    // API Gateway hands the context on with every value a string, plus the principal.
    expect(event.requestContext.authorizer).toMatchObject({
      principalId: record.token,
      principal: 'virtual_key',
      team_id: 'gw-team',
      key_hash: record.token,
      budgets: JSON.stringify({ team: 99 }),
    });
  });

  it('fills pathParameters from the route pattern', async () => {
    const res = await fetch(`${gw.url}/openai/deployments/my%20model/chat/completions?api-version=1`, {
      method: 'POST',
      headers: { 'api-key': MASTER },
      body: '{}',
    });
    const event = (await res.json()) as Record<string, any>;
    expect(event.resource).toBe('/openai/deployments/{model}/chat/completions');
    expect(event.pathParameters).toEqual({ model: 'my model' });
  });

  it('passes a binary body base64-encoded', async () => {
    const bytes = Buffer.from([0, 159, 146, 150, 255, 10]);
    const res = await fetch(`${gw.url}/v1/audio/transcriptions`, {
      method: 'POST',
      headers: { ...bearer(MASTER), 'content-type': 'multipart/form-data; boundary=x' },
      body: bytes,
    });
    const event = (await res.json()) as Record<string, any>;
    expect(event.isBase64Encoded).toBe(true);
    expect(Buffer.from(event.body as string, 'base64').equals(bytes)).toBe(true);
  });

  it('decodes a base64 proxy result into bytes', async () => {
    const res = await fetch(`${gw.url}/budget/list`, { headers: bearer(MASTER) });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('audio/mpeg');
    expect(Buffer.from(await res.arrayBuffer())).toEqual(Buffer.from([0, 1, 2, 255]));
  });
});

describe("Lambda's 6 MB invocation payload, under API Gateway's 10 MB", () => {
  const upload = (bytes: number) =>
    fetch(`${gw.url}/v1/audio/transcriptions`, {
      method: 'POST',
      headers: { ...bearer(MASTER), 'content-type': 'application/octet-stream' },
      body: Buffer.alloc(bytes, 7),
    });

  it('an upload whose event (base64 body included) Lambda would refuse is the 500 API Gateway answers, not a call', async () => {
    // 4.8 MB is 6.4 MB once base64-encoded: API Gateway takes it, Lambda refuses the invocation.
    const res = await upload(4.8 * 1024 * 1024);
    expect(res.status).toBe(500);
    expect(await res.text()).toBe(renderGatewayResponse('DEFAULT_5XX').body);
  });

  it('an upload whose event fits reaches the function', async () => {
    const res = await upload(4 * 1024 * 1024);
    expect(res.status).toBe(200);
    expect(((await res.json()) as { isBase64Encoded: boolean }).isBase64Encoded).toBe(true);
  });

  it('a buffered answer larger than Lambda returns is a 502, as a function error is', async () => {
    const big = await fetch(`${gw.url}/audit`, { headers: { ...bearer(MASTER), 'x-size': String(6.5 * 1024 * 1024) } });
    expect(big.status).toBe(502);
    expect(await big.text()).toBe(renderGatewayResponse('DEFAULT_5XX').body);
    const fits = await fetch(`${gw.url}/audit`, { headers: { ...bearer(MASTER), 'x-size': String(5 * 1024 * 1024) } });
    expect(fits.status).toBe(200);
  });
});

describe('timeouts as deployed (infra/timeouts)', () => {
  let timed: Gateway;
  let deployed: Gateway;
  beforeAll(async () => {
    const modules = { authorizer: file('slowAuthorizer'), audit: file('slow') };
    timed = await startGateway({ port: 0, modules, timeouts: { authorizerMs: 300, functionMs: 300 } });
    deployed = await startGateway({ port: 0, modules });
  });
  afterAll(async () => {
    await timed?.close();
    await deployed?.close();
  });

  it('by default the authorizer is given 10 s and a buffered function 29 s, as the stack gives them', async () => {
    const res = await fetch(`${deployed.url}/audit`);
    const { given, authorizerGiven } = (await res.json()) as { given: number; authorizerGiven: number };
    expect(authorizerGiven).toBeLessThanOrEqual(AUTHORIZER_TIMEOUT_SECONDS * 1000);
    expect(authorizerGiven).toBeGreaterThan(AUTHORIZER_TIMEOUT_SECONDS * 1000 - 2000);
    expect(given).toBeLessThanOrEqual(BUFFERED_FUNCTION_TIMEOUT_SECONDS * 1000);
    expect(given).toBeGreaterThan(BUFFERED_FUNCTION_TIMEOUT_SECONDS * 1000 - 2000);
  });

  it('a function within its time answers; one past it is the 504 of an integration timeout', async () => {
    expect((await fetch(`${timed.url}/audit`)).status).toBe(200);
    const late = await fetch(`${timed.url}/audit`, { headers: { 'x-delay': '400' } });
    expect(late.status).toBe(504);
    expect(await late.text()).toBe(renderGatewayResponse('DEFAULT_5XX').body);
  });

  it('an authorizer past its time is the 503 of a failed authorizer, never an Allow', async () => {
    const late = await fetch(`${timed.url}/audit`, { headers: { 'x-auth-delay': '400' } });
    expect(late.status).toBe(503);
    expect(await late.text()).toBe(renderGatewayResponse('AUTHORIZER_CONFIGURATION_ERROR').body);
  });
});

describe('function failures', () => {
  it('a function that throws is a 502', async () => {
    const res = await fetch(`${gw.url}/key/list`, { headers: bearer(MASTER) });
    expect(res.status).toBe(502);
    expect((await errorOf(res)).type).toBe('upstream_error');
  });

  it('a malformed proxy result is a 502', async () => {
    const res = await fetch(`${gw.url}/organization/list`, { headers: bearer(MASTER) });
    expect(res.status).toBe(502);
  });

  it('a function that does not exist is a 502', async () => {
    const res = await fetch(`${gw.url}/customer/list`, { headers: bearer(MASTER) });
    expect(res.status).toBe(502);
  });
});

describe('response streaming', () => {
  it('relays the prelude status and each chunk as the function writes it', async () => {
    const res = await fetch(`${gw.url}/team/list`, { headers: bearer(MASTER) });
    expect(res.status).toBe(201);
    expect(res.headers.get('content-type')).toBe('text/event-stream');
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    // The function is parked after its first chunk: this read only returns if it was relayed.
    const first = await reader.read();
    expect(decoder.decode(first.value)).toBe('data: first\n\n');
    (globalThis as { __releaseStream?: () => void }).__releaseStream?.();
    let rest = '';
    for (let r = await reader.read(); !r.done; r = await reader.read()) rest += decoder.decode(r.value);
    expect(rest).toBe('data: second\n\ndata: [DONE]\n\n');
  });

  it('sends the status of a function that has not written its first chunk yet, then a burst of chunks whole', async () => {
    const res = await fetch(`${gw.url}/model/info`, { headers: bearer(MASTER) });
    // The function is parked before its first chunk: the headers came on their own.
    expect(res.status).toBe(202);
    expect(res.headers.get('content-type')).toBe('text/event-stream');
    (globalThis as { __releaseParked?: () => void }).__releaseParked?.();
    const expected = `${Array.from({ length: 50 }, (_, i) => `data: ${i + 1}\n\n`).join('')}data: [DONE]\n\n`;
    expect(await res.text()).toBe(expected);
  });

  it('cuts the connection when the function fails mid-stream', async () => {
    const res = await fetch(`${gw.url}/user/list`, { headers: bearer(MASTER) });
    expect(res.status).toBe(200);
    await expect(res.text()).rejects.toThrow();
  });
});

describe('policy evaluation like IAM', () => {
  const post = (policy: string) => fetch(`${fake.url}/chat/completions`, { method: 'POST', headers: { 'x-policy': policy }, body: '{}' });

  it('an Allow on the stage reaches the function, context values as strings', async () => {
    const res = await post('allow-stage');
    expect(res.status).toBe(200);
    const event = (await res.json()) as Record<string, any>;
    expect(event.requestContext.authorizer).toMatchObject({ principalId: 'p', n: '1', b: 'true' });
  });

  it('an explicit Deny wins over an Allow, rendered from the context', async () => {
    const res = await post('deny-wins');
    expect(res.status).toBe(403);
    expect(await errorOf(res)).toEqual({
      message: 'denied by the test policy',
      type: 'permission_error',
      param: null,
      code: 'test_denied',
    });
  });

  it('an Allow for another method is an implicit deny', async () => {
    expect((await post('other-method')).status).toBe(403);
  });

  it('`?` matches exactly one character', async () => {
    expect((await post('question-mark')).status).toBe(200);
  });

  it('a context API Gateway cannot carry is AUTHORIZER_CONFIGURATION_ERROR (503), not an Allow', async () => {
    expect((await post('object-context')).status).toBe(503);
  });

  it('`Unauthorized` is a 401 and any other failure a 503', async () => {
    expect((await post('unauthorized')).status).toBe(401);
    expect((await post('throw')).status).toBe(503);
  });

  it('evaluates NotResource and action wildcards', () => {
    const arn = 'arn:aws:execute-api:local:000000000000:local/local/POST/v1/chat/completions';
    expect(evaluatePolicy({ Statement: [{ Effect: 'Allow', Action: '*', NotResource: '*/GET/*' }] }, arn)).toBe('allow');
    expect(evaluatePolicy({ Statement: [{ Effect: 'Allow', Action: '*', NotResource: '*/POST/*' }] }, arn)).toBe('deny');
    expect(evaluatePolicy({ Statement: [{ Effect: 'Allow', Action: 'lambda:Invoke', Resource: '*' }] }, arn)).toBe('deny');
    expect(evaluatePolicy({ Statement: { Effect: 'Allow', Action: 'EXECUTE-API:invoke', Resource: arn } }, arn)).toBe('allow');
    expect(evaluatePolicy({ Statement: [] }, arn)).toBe('deny');
    expect(evaluatePolicy(null, arn)).toBe('deny');
  });
});

describe('invocations of a function at once, as Lambda instances are busy until their handler returns', () => {
  it('runs at most `concurrency` at once, each until its work after the answer ends; the others wait their turn and are answered', async () => {
    const bounded = await startGateway({ port: 0, concurrency: 2, modules: { authorizer: file('authorizer'), llm: file('lingers') } });
    const g = globalThis as { __most?: number; __active?: number };
    g.__most = 0;
    try {
      const started = Date.now();
      const answers = await Promise.all(
        Array.from({ length: 6 }, () =>
          fetch(`${bounded.url}/v1/chat/completions`, { method: 'POST', headers: { 'x-policy': 'allow-stage' }, body: '{}' }).then(
            async (r) => [r.status, await r.json()],
          ),
        ),
      );
      expect(answers).toEqual(Array.from({ length: 6 }, () => [200, { ok: true }]));
      expect(g.__most).toBe(2);
      // Six invocations of 300 ms through two slots: three rounds, whatever the machine's speed.
      expect(Date.now() - started).toBeGreaterThanOrEqual(2 * 300);
    } finally {
      await bounded.close();
    }
  });
});
