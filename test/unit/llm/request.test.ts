import type { APIGatewayProxyEvent } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { InvalidPathError, InvalidRequestError, RouteNotFoundError } from '../../../lib/errors.js';
import { MAX_JSON_DEPTH, parseLlmRequest, streamRequested } from '../../../lib/llm/request.js';

const event = (over: Partial<APIGatewayProxyEvent>): APIGatewayProxyEvent => ({
  resource: '/v1/chat/completions',
  path: '/v1/chat/completions',
  httpMethod: 'POST',
  headers: { 'Content-Type': 'application/json' },
  multiValueHeaders: {},
  queryStringParameters: null,
  multiValueQueryStringParameters: null,
  pathParameters: null,
  stageVariables: null,
  requestContext: { requestId: 'req-1' } as APIGatewayProxyEvent['requestContext'],
  body: null,
  isBase64Encoded: false,
  ...over,
});

describe('parseLlmRequest', () => {
  it('reads model, user and stream from a JSON body', async () => {
    const r = await parseLlmRequest(event({ body: JSON.stringify({ model: 'a,b', user: 'eu', stream: true }) }));
    expect(r).toMatchObject({
      requestId: 'req-1',
      method: 'POST',
      path: '/v1/chat/completions',
      upstreamPath: '/chat/completions',
      model: 'a,b',
      user: 'eu',
      stream: true,
    });
  });

  it('decodes a base64 body', async () => {
    const r = await parseLlmRequest(event({ body: Buffer.from('{"model":"m"}').toString('base64'), isBase64Encoded: true }));
    expect(r.model).toBe('m');
  });

  it('maps Azure deployment paths to the OpenAI path and drops api-version', async () => {
    const r = await parseLlmRequest(
      event({
        resource: '/openai/deployments/{model}/chat/completions',
        path: '/openai/deployments/gpt-4o/chat/completions',
        pathParameters: { model: 'gpt-4o' },
        queryStringParameters: { 'api-version': '2024-06-01', keep: '1' },
      }),
    );
    expect(r).toMatchObject({ pathModel: 'gpt-4o', upstreamPath: '/chat/completions' });
    expect(r.query.toString()).toBe('keep=1');
  });

  it("maps Azure's Responses API paths to the OpenAI path, the stored response's id filled in, and drops api-version", async () => {
    const made = await parseLlmRequest(
      event({ resource: '/openai/responses', path: '/openai/responses', queryStringParameters: { 'api-version': '2025-03-01-preview' } }),
    );
    expect([made.upstreamPath, made.query.toString()]).toEqual(['/responses', '']);
    const cancelled = await parseLlmRequest(
      event({
        resource: '/openai/responses/{proxy+}',
        path: '/openai/responses/resp_1/cancel',
        pathParameters: { proxy: 'resp_1/cancel' },
        queryStringParameters: { 'api-version': '2025-03-01-preview' },
      }),
    );
    expect([cancelled.upstreamPath, cancelled.query.toString()]).toEqual(['/responses/resp_1/cancel', '']);
    const climbing = await parseLlmRequest(
      event({
        httpMethod: 'GET',
        resource: '/openai/responses/{proxy+}',
        path: '/openai/responses/x',
        pathParameters: { proxy: '../../outside' },
      }),
    ).catch((x: unknown) => x);
    expect(climbing).toBeInstanceOf(InvalidPathError);
  });

  it('fills proxy paths from the path parameters, encoded', async () => {
    const r = await parseLlmRequest(
      event({
        httpMethod: 'GET',
        resource: '/v1/files/{proxy+}',
        path: '/v1/files/file-1/content',
        pathParameters: { proxy: 'file-1/content' },
        body: null,
      }),
    );
    expect(r).toMatchObject({ path: '/v1/files/file-1/content', upstreamPath: '/files/file-1/content', body: { kind: 'none' } });
  });

  it('finds the route from the path when the resource is absent', async () => {
    const r = await parseLlmRequest(event({ resource: '', path: '/embeddings', body: '{"model":"e"}' }));
    expect(r.route.path).toBe('/embeddings');
  });

  it('reads model and user from a multipart body', async () => {
    const form = new FormData();
    form.set('model', 'whisper');
    form.set('user', 'eu-2');
    form.set('file', new Blob([Buffer.from('RIFF')]), 'a.wav');
    const req = new Request('http://x', { method: 'POST', body: form });
    const body = Buffer.from(await req.arrayBuffer());
    const r = await parseLlmRequest(
      event({
        resource: '/v1/audio/transcriptions',
        path: '/v1/audio/transcriptions',
        headers: { 'content-type': req.headers.get('content-type')! },
        body: body.toString('base64'),
        isBase64Encoded: true,
      }),
    );
    expect(r).toMatchObject({ model: 'whisper', user: 'eu-2', body: { kind: 'form' } });
  });

  it.each([
    ['invalid JSON', '{"model":', 'the request body is not valid JSON', null],
    ['a JSON array', '[1]', 'the request body must be a JSON object', null],
    ['a non-string model', '{"model":1}', '`model` must be a string', 'model'],
    ['a non-string user', '{"user":{}}', '`user` must be a string', 'user'],
  ])('answers 400 for %s', async (_, body, message, param) => {
    const e = await parseLlmRequest(event({ body })).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(InvalidRequestError);
    expect((e as InvalidRequestError).toBody().error).toMatchObject({ message, param, code: 'invalid_body' });
  });

  // The end user is an id like any other (lib/domain/ids): refused, never trimmed into another one.
  it.each([
    ['a user of 257 characters', 'u'.repeat(257), '`user` must be at most 256 characters'],
    ['a trailing space', 'eu-blocked ', '`user` must not start or end with white space'],
    ['a leading tab', '\teu-1', '`user` must not start or end with white space'],
    ['a control character', 'eu\u0000-1', '`user` must not contain control characters'],
    ['a zero-width space', 'eu\u200b-1', '`user` must not contain invisible formatting characters (zero-width, direction marks)'],
    ['a combining accent', 'eu-e\u0301', "`user` must be in Unicode's composed form (NFC), as `é` rather than `e` and a combining accent"],
  ])('answers 400 invalid_field for a user with %s', async (_, user, message) => {
    const e = await parseLlmRequest(event({ body: JSON.stringify({ model: 'gpt-4o', user }) })).catch((x: unknown) => x);
    expect((e as InvalidRequestError).toBody().error).toEqual({
      message,
      type: 'invalid_request_error',
      param: 'user',
      code: 'invalid_field',
    });
  });

  it.each(['auth0|65f1c2', 'google-oauth2|1034', 'ada@example.com', '0f8fad5b-d9cb-469f-a165-70867728950e', 'eu 1'])(
    'accepts the end user %j',
    async (user) => {
      expect((await parseLlmRequest(event({ body: JSON.stringify({ model: 'gpt-4o', user }) }))).user).toBe(user);
    },
  );

  it('answers 404 for a route the llm function does not serve', async () => {
    await expect(parseLlmRequest(event({ resource: '/team/new', path: '/team/new' }))).rejects.toBeInstanceOf(RouteNotFoundError);
  });

  describe('a JSON route reads its body as JSON whatever the content type', () => {
    it.each([
      ['text/plain', { 'content-type': 'text/plain' }],
      ['no content type', {}],
      ['application/x-www-form-urlencoded', { 'content-type': 'application/x-www-form-urlencoded' }],
    ])('%s, even after 100 blanks', async (_, headers) => {
      const r = await parseLlmRequest(event({ headers, body: `${' '.repeat(100)}{"model":"gpt-4o"}` }));
      expect(r).toMatchObject({ model: 'gpt-4o', body: { kind: 'json' } });
    });

    it.each(['/v1/messages', '/v1/embeddings', '/moderations', '/v1/responses', '/rerank'])('on %s', async (path) => {
      const r = await parseLlmRequest(event({ resource: path, path, headers: { 'content-type': 'text/plain' }, body: '{"model":"m"}' }));
      expect(r.model).toBe('m');
    });

    it('on Azure deployment routes', async () => {
      const r = await parseLlmRequest(
        event({
          resource: '/openai/deployments/{model}/embeddings',
          path: '/openai/deployments/e/embeddings',
          pathParameters: { model: 'e' },
          headers: { 'content-type': 'text/plain' },
          body: '{"model":"other"}',
        }),
      );
      expect(r).toMatchObject({ pathModel: 'e', model: 'other' });
    });

    it('a body that is not JSON is a 400 there', async () => {
      const e = await parseLlmRequest(event({ headers: { 'content-type': 'text/plain' }, body: 'hello' })).catch((x: unknown) => x);
      expect(e).toBeInstanceOf(InvalidRequestError);
    });

    it('a multipart body is a 400 there: its fields would reach the upstream unchecked', async () => {
      const form = new FormData();
      form.set('model', 'm');
      const req = new Request('http://x', { method: 'POST', body: form });
      const body = Buffer.from(await req.arrayBuffer()).toString('base64');
      const e = await parseLlmRequest(
        event({ headers: { 'content-type': req.headers.get('content-type')! }, body, isBase64Encoded: true }),
      ).catch((x: unknown) => x);
      expect(e).toBeInstanceOf(InvalidRequestError);
      expect((e as Error).message).toBe('this route takes a JSON body, not multipart/form-data');
    });

    it('routes of stored objects are JSON routes too; uploads keep a body that is not JSON raw', async () => {
      const runs = {
        resource: '/v1/threads/{proxy+}',
        path: '/v1/threads/t1/runs',
        pathParameters: { proxy: 't1/runs' },
        headers: { 'content-type': 'text/plain' },
      };
      expect(await parseLlmRequest(event({ ...runs, body: `${'\r\n'.repeat(50)}{"model":"m"}` }))).toMatchObject({
        model: 'm',
        body: { kind: 'json' },
      });
      await expect(parseLlmRequest(event({ ...runs, body: 'assistant_id=a' }))).rejects.toBeInstanceOf(InvalidRequestError);
      const upload = { resource: '/v1/audio/transcriptions', path: '/v1/audio/transcriptions', headers: { 'content-type': 'audio/wav' } };
      expect(await parseLlmRequest(event({ ...upload, body: 'RIFF' }))).toMatchObject({ model: undefined, body: { kind: 'raw' } });
    });

    it.each(['/v1/audio/transcriptions', '/v1/audio/translations', '/v1/images/edits', '/v1/images/variations', '/v1/files'])(
      'a URL-encoded body on the upload route %s is read as a form: its `model` is checked (found by review: it went on unread)',
      async (resource) => {
        const r = await parseLlmRequest(
          event({
            resource,
            path: resource,
            headers: { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' },
            body: 'model=o1-pro&purpose=batch',
          }),
        );
        expect(r.model).toBe('o1-pro');
        expect(r.body.kind).toBe('form');
      },
    );

    it("a JSON body sent as URL-encoded (curl -d's default) on an upload route is JSON, not a one-field form (found by review)", async () => {
      const r = await parseLlmRequest(
        event({
          resource: '/v1/images/edits',
          path: '/v1/images/edits',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: '{"model":"gpt-image-1","prompt":"a cat"}',
        }),
      );
      expect(r).toMatchObject({ model: 'gpt-image-1', body: { kind: 'json' } });
    });
  });

  describe('JSON nesting depth', () => {
    const nested = (depth: number, open = '[', close = ']') => `{"model":"m","x":${open.repeat(depth - 1)}${close.repeat(depth - 1)}}`;

    it(`${MAX_JSON_DEPTH} levels pass`, async () => {
      expect((await parseLlmRequest(event({ body: nested(MAX_JSON_DEPTH) }))).model).toBe('m');
    });

    it.each([
      ['one level more', nested(MAX_JSON_DEPTH + 1)],
      ['a million levels', nested(1_000_000)],
      ['objects as deep', nested(MAX_JSON_DEPTH + 1, '{"a":', '}').replace(/\{"a":\}/, '{"a":1}')],
    ])('%s is a 400 invalid_body', async (_, body) => {
      const e = await parseLlmRequest(event({ body })).catch((x: unknown) => x);
      // A boolean, not the value: a parsed million-deep body would overflow the reporter.
      expect(e instanceof InvalidRequestError && e.code).toBe('invalid_body');
    });

    it('brackets inside strings do not count', async () => {
      const r = await parseLlmRequest(event({ body: JSON.stringify({ model: 'm', s: '[{'.repeat(1000), e: '\\"[[[' }) }));
      expect(r.model).toBe('m');
    });
  });

  it('answers 400 invalid_path for a path parameter that climbs', async () => {
    const e = await parseLlmRequest(
      event({
        httpMethod: 'GET',
        resource: '/v1/files/{proxy+}',
        path: '/v1/files/x',
        pathParameters: { proxy: '../../outside' },
        body: null,
      }),
    ).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(InvalidPathError);
  });
});

describe('streamRequested: what an upstream that coerces would stream for (issue 11)', () => {
  it.each([true, 'true', 'True', 1, '1', 'yes', 'on', 'anything'])('%j streams', (v) => {
    expect(streamRequested(v)).toBe(true);
  });
  it.each([false, 'false', 'FALSE', 0, '0', 'no', 'off', '', null, undefined])('%j does not', (v) => {
    expect(streamRequested(v)).toBe(false);
  });
});

describe('a form’s fields the estimate reads (found by review: an edit’s `n` was not read from its form)', () => {
  const formEvent = async (fields: [string, string][]) => {
    const form = new FormData();
    form.set('model', 'gpt-image-1');
    form.set('prompt', 'a cat');
    for (const [k, v] of fields) form.append(k, v);
    form.set('image', new Blob([Buffer.from('PNG')]), 'a.png');
    const req = new Request('http://x', { method: 'POST', body: form });
    return event({
      resource: '/v1/images/edits',
      path: '/v1/images/edits',
      headers: { 'content-type': req.headers.get('content-type')! },
      body: Buffer.from(await req.arrayBuffer()).toString('base64'),
      isBase64Encoded: true,
    });
  };

  it('takes counts in range, each field once', async () => {
    const r = await parseLlmRequest(
      await formEvent([
        ['n', '10'],
        ['partial_images', '0'],
        ['quality', 'high'],
        ['size', '1024x1536'],
      ]),
    );
    expect(r.body.kind).toBe('form');
  });

  it.each<[string, [string, string][], string, string]>([
    [
      'n given twice (the upstream may read the other)',
      [
        ['n', '1'],
        ['n', '10'],
      ],
      'n',
      '`n` is given 2 times: give it once',
    ],
    [
      'quality given twice',
      [
        ['quality', 'low'],
        ['quality', 'high'],
      ],
      'quality',
      '`quality` is given 2 times: give it once',
    ],
    [
      'size given twice',
      [
        ['size', '1024x1024'],
        ['size', '1536x1024'],
      ],
      'size',
      '`size` is given 2 times: give it once',
    ],
    ['n of 0', [['n', '0']], 'n', '`n` must be a whole number from 1 to 128'],
    ['n of 129', [['n', '129']], 'n', '`n` must be a whole number from 1 to 128'],
    ['n not a number', [['n', 'ten']], 'n', '`n` must be a whole number from 1 to 128'],
    ['n a fraction', [['n', '2.5']], 'n', '`n` must be a whole number from 1 to 128'],
    ['best_of of 1e9', [['best_of', '1000000000']], 'best_of', '`best_of` must be a whole number from 1 to 128'],
    ['partial_images negative', [['partial_images', '-1']], 'partial_images', '`partial_images` must be a whole number from 0 to 128'],
    // Every count a JSON body is held to, a form is too.
    ['max_tokens of 0', [['max_tokens', '0']], 'max_tokens', '`max_tokens` must be a whole number from 1 to 10000000'],
    [
      'max_output_tokens given twice',
      [
        ['max_output_tokens', '5'],
        ['max_output_tokens', '9'],
      ],
      'max_output_tokens',
      '`max_output_tokens` is given 2 times: give it once',
    ],
  ])('%s: a 400 naming the field', async (_what, fields, param, message) => {
    const e = await parseLlmRequest(await formEvent(fields)).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(InvalidRequestError);
    expect(e).toMatchObject({ param, message });
  });

  it.each([[1.5], [-1], ['2'], [1e9]])('a JSON `partial_images` of %j: a 400 naming it', async (partial_images) => {
    const e = await parseLlmRequest(
      event({
        resource: '/v1/images/generations',
        path: '/v1/images/generations',
        body: JSON.stringify({ model: 'gpt-image-1', partial_images }),
      }),
    ).catch((x: unknown) => x);
    expect(e).toMatchObject({ param: 'partial_images', message: '`partial_images` must be a whole number from 0 to 128' });
  });
});
