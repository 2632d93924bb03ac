/**
 * Found in review, through the llm function: one request naming a model many times over
 * (`model: "a,a,a,..."`) fanned out to one upstream call per entry after a single budget check;
 * model names of any length were matched against every restriction; requests naming no model
 * reached the passthrough model unchecked; a JSON body sent as `text/plain` went upstream
 * unread, its `model` unchecked; a path that climbs reached the upstream when the authorizer was
 * bypassed; a deeply nested body was a 500.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MOCK_UPSTREAM_KEY, mockLocalSecrets, mockModels } from '../../infra/local/mock-models.js';
import { type MockUpstream, startMockUpstream } from '../../infra/local/mock-upstream.js';
import { MAX_MODELS_PER_REQUEST } from '../../lib/checks/checks.js';
import { MAX_JSON_DEPTH } from '../../lib/llm/request.js';
import { authorize, bearer } from '../support/authorizer.js';
import { authorizerEvent, seedKey } from '../support/seed.js';
import { reconfigure, type TestTable, useTestTable } from '../support/table.js';
import { call, chat, invokeLlm, proxyEvent, seedModels } from './llm/harness.js';

const ENV = { TOLLGATE_MASTER_KEY: 'sk-master-security-llm', TOLLGATE_LOCAL_SECRETS: JSON.stringify(mockLocalSecrets()) };
let mock: MockUpstream;
let table: TestTable;

beforeAll(async () => {
  mock = await startMockUpstream({ apiKey: MOCK_UPSTREAM_KEY });
  table = await useTestTable(ENV);
  await seedModels(mockModels(mock.url));
});
afterAll(async () => {
  await mock.close();
});

describe('one request, a bounded number of upstream calls', () => {
  it('a comma list longer than the limit is a 400 and reaches no upstream', async () => {
    const { key } = await seedKey({ max_budget: 0.000001 });
    const before = mock.requests.length;
    const model = Array.from({ length: 200 }, () => 'gpt-4o-mini').join(',');
    const res = await call({ path: '/v1/chat/completions', headers: bearer(key), body: chat(model, 'x') });
    expect(mock.requests.length - before).toBe(0);
    expect(res.status).toBe(400);
    expect(res.json.error).toMatchObject({ code: 'too_many_models', param: 'model' });
  });

  it('the limit itself still fans out', async () => {
    const { key } = await seedKey({});
    const model = Array.from({ length: MAX_MODELS_PER_REQUEST }, () => 'gpt-4o-mini').join(',');
    const res = await call({ path: '/v1/chat/completions', headers: bearer(key), body: chat(model, 'x') });
    expect(res.status).toBe(200);
    expect(res.json).toHaveLength(MAX_MODELS_PER_REQUEST);
  });

  it('a model name longer than any registry name is a 400, before any matching', async () => {
    const { key } = await seedKey({ models: ['*a*a*a*a*a*a*a*a*a*a*b'] });
    const res = await call({ path: '/v1/chat/completions', headers: bearer(key), body: chat('a'.repeat(100_000), 'x') });
    expect(res.status).toBe(400);
    expect(res.json.error).toMatchObject({ code: 'invalid_model', param: 'model' });
  });
});

describe('a path parameter never climbs out of the upstream base URL', () => {
  it.each(['/v1/threads/%2e%2e%2f%2e%2e%2foutside', '/v1/files/..%2F..%2Foutside', '/v1/responses/abc%2F..%2F..%2F..%2Foutside'])(
    "%s is refused before any upstream call (it reached the upstream host above its base path, with Tollgate's upstream key)",
    async (path) => {
      const { key } = await seedKey({});
      const before = mock.requests.length;
      const res = await call({ path, headers: bearer(key), body: { model: 'gpt-4o-mini' } });
      expect(mock.requests.slice(before).map((r) => r.path)).toEqual([]);
      expect(res.status).toBe(403);
      expect(res.json.error).toMatchObject({ code: 'invalid_path' });
    },
  );

  it('an ordinary id in the path still passes', async () => {
    const { key } = await seedKey({});
    const res = await call({ path: '/v1/threads/thread_abc.1/runs', headers: bearer(key), body: { model: 'gpt-4o-mini' } });
    expect(res.by).toBe('llm');
  });
});

describe('a request that names no model is checked against the passthrough model', () => {
  const withPassthrough = async (run: () => Promise<void>) => {
    reconfigure(table.config, { ...ENV, TOLLGATE_PASSTHROUGH_MODEL: 'gpt-4o' });
    try {
      await run();
    } finally {
      reconfigure(table.config, ENV);
    }
  };

  it('a key limited to another model is refused before any upstream call', () =>
    withPassthrough(async () => {
      const { key } = await seedKey({ models: ['gpt-4o-mini'] });
      const before = mock.requests.length;
      const res = await call({ method: 'GET', path: '/v1/files', headers: bearer(key) });
      expect(mock.requests.length - before).toBe(0);
      expect(res.status).toBe(403);
      expect(res.json.error).toMatchObject({ code: 'model_not_allowed', param: 'model' });
      expect(res.json.error.message).toContain('`gpt-4o`');
    }));

  it('a JSON body without `model` is refused the same way', () =>
    withPassthrough(async () => {
      const { key } = await seedKey({ models: ['gpt-4o-mini'] });
      const res = await call({ path: '/v1/chat/completions', headers: bearer(key), body: { messages: [{ role: 'user', content: 'x' }] } });
      expect(res.status).toBe(403);
      expect(res.json.error.code).toBe('model_not_allowed');
    }));

  it('a key allowed the passthrough model goes through', () =>
    withPassthrough(async () => {
      const { key } = await seedKey({ models: ['gpt-4o'] });
      const res = await call({ method: 'GET', path: '/v1/files', headers: bearer(key) });
      expect(res.by).toBe('llm');
      expect(mock.requests.at(-1)?.path).toBe('/files');
      expect(res.status).toBe(200); // the mock's file list (narrowed to this caller's files)
    }));

  it('`/models` is not a passthrough call: a restricted key still lists its models', () =>
    withPassthrough(async () => {
      const { key } = await seedKey({ models: ['gpt-4o-mini'] });
      const res = await call({ method: 'GET', path: '/v1/models', headers: bearer(key) });
      expect(res.status).toBe(200);
      expect(res.json.data.map((m: { id: string }) => m.id)).toEqual(['gpt-4o-mini']);
    }));
});

describe('a JSON route reads its body as JSON whatever the content type says', () => {
  it.each([
    ['text/plain', { 'content-type': 'text/plain' }],
    ['no content type', {}],
    ['application/octet-stream', { 'content-type': 'application/octet-stream' }],
  ])('with %s, `model` is checked', async (_, headers) => {
    const { key } = await seedKey({ models: ['gpt-4o-mini'] });
    const before = mock.requests.length;
    const body = `${' '.repeat(100)}${JSON.stringify(chat('gpt-4o', 'x'))}`;
    const res = await call({ path: '/v1/chat/completions', headers: { ...bearer(key), ...headers }, body });
    expect(mock.requests.length - before).toBe(0);
    expect(res.status).toBe(403);
    expect(res.json.error).toMatchObject({ code: 'model_not_allowed', param: 'model' });
  });

  it('an allowed model goes upstream as JSON, with the upstream model id', async () => {
    const { key } = await seedKey({ models: ['gpt-4o-mini'] });
    const res = await call({
      path: '/v1/chat/completions',
      headers: { ...bearer(key), 'content-type': 'text/plain' },
      body: JSON.stringify(chat('gpt-4o-mini', 'x')),
    });
    expect(res.status).toBe(200);
    const seen = mock.requests.at(-1)!;
    expect(seen.headers['content-type']).toBe('application/json');
    expect(seen.body).toMatchObject({ model: 'gpt-4o-mini' });
  });

  it('a body that is not JSON is a 400 there', async () => {
    const { key } = await seedKey({});
    const res = await call({ path: '/v1/embeddings', headers: { ...bearer(key), 'content-type': 'text/plain' }, body: 'model=gpt-4o' });
    expect(res.status).toBe(400);
    expect(res.json.error.code).toBe('invalid_body');
  });

  it('on other routes a body that opens as a JSON object is read as JSON too', async () => {
    const { key } = await seedKey({ models: ['gpt-4o-mini'] });
    const body = `${'\n'.repeat(100)}{"assistant_id":"asst_1","model":"gpt-4o"}`;
    const res = await call({ path: '/v1/threads/thread_1/runs', headers: { ...bearer(key), 'content-type': 'text/plain' }, body });
    expect(res.status).toBe(403);
    expect(res.json.error.code).toBe('model_not_allowed');
  });
});

describe('the llm function keeps upstream URLs under the base URL itself', () => {
  it.each(['/v1/files/..%2F..%2Foutside', '/v1/threads/%2e%2e%2f%2e%2e%2foutside', '/v1/files/a%5C..%5C..%5Coutside'])(
    '%s, with the authorizer bypassed, is a 400 and reaches no upstream',
    async (path) => {
      const { key } = await seedKey({});
      const allowed = await authorize(
        authorizerEvent({
          method: 'POST',
          resource: '/v1/files/{proxy+}',
          path: '/v1/files/file-1',
          headers: bearer(key),
          pathParameters: { proxy: 'file-1' },
        }),
      );
      expect(allowed.effect).toBe('allow');
      const before = mock.requests.length;
      const res = await invokeLlm(
        proxyEvent(
          { path, headers: bearer(key), body: { model: 'gpt-4o-mini' } },
          (allowed as { context: Record<string, unknown> }).context,
        ),
      );
      expect(mock.requests.slice(before).map((r) => r.path)).toEqual([]);
      expect(res.status).toBe(400);
      expect(res.json.error).toMatchObject({ code: 'invalid_path', param: 'path' });
    },
  );
});

describe('JSON nesting is bounded', () => {
  const nested = (depth: number) =>
    `{"model":"gpt-4o-mini","messages":[],"metadata":${'{"a":'.repeat(depth - 1)}1${'}'.repeat(depth - 1)}}`;

  it('a body nested deeper than the limit is a 400 invalid_body, not a 500', async () => {
    const { key } = await seedKey({});
    const before = mock.requests.length;
    const res = await call({
      path: '/v1/chat/completions',
      headers: { ...bearer(key), 'content-type': 'application/json' },
      body: nested(200_000),
    });
    expect(mock.requests.length - before).toBe(0);
    expect(res.status).toBe(400);
    expect(res.json.error.code).toBe('invalid_body');
  });

  it('the limit itself is forwarded', async () => {
    const { key } = await seedKey({});
    const res = await call({
      path: '/v1/chat/completions',
      headers: { ...bearer(key), 'content-type': 'application/json' },
      body: nested(MAX_JSON_DEPTH),
    });
    expect(res.status).toBe(200);
  });
});
