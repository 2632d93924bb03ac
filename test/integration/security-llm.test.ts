/**
 * Cost blowups through the llm function found in review: one request naming a model many times
 * over (`model: "a,a,a,..."`) fanned out to one upstream call per entry after a single budget
 * check, and model names of any length were matched against every restriction.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MOCK_UPSTREAM_KEY, mockLocalSecrets, mockModels } from '../../infra/local/mock-models.js';
import { startMockUpstream, type MockUpstream } from '../../infra/local/mock-upstream.js';
import { MAX_MODELS_PER_REQUEST } from '../../lib/checks/checks.js';
import { bearer } from '../support/authorizer.js';
import { seedKey } from '../support/seed.js';
import { useTestTable } from '../support/table.js';
import { call, chat, seedModels } from './llm/harness.js';

let mock: MockUpstream;

beforeAll(async () => {
  mock = await startMockUpstream({ apiKey: MOCK_UPSTREAM_KEY });
  await useTestTable({ TOLLGATE_MASTER_KEY: 'sk-master-security-llm', TOLLGATE_LOCAL_SECRETS: JSON.stringify(mockLocalSecrets()) });
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
    '%s is refused before any upstream call (it reached the upstream host above its base path, with Tollgate\'s upstream key)',
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
