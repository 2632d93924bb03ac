/**
 * A model a request's tools run (the Responses API's `image_generation` tool: its `model`, by
 * default gpt-image-1) is checked as a model the body names (found by review: a key allowed only
 * gpt-4o-mini reached gpt-image-1 through the tool), must be the registry's, and goes to the
 * upstream as the registry's upstream id for it.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { MOCK_UPSTREAM_KEY, mockLocalSecrets, mockModels } from '../../../infra/local/mock-models.js';
import { type MockUpstream, startMockUpstream } from '../../../infra/local/mock-upstream.js';
import type { ModelRecord } from '../../../lib/domain/records.js';
import { bearer } from '../../support/authorizer.js';
import { seedKey } from '../../support/seed.js';
import { useTestTable } from '../../support/table.js';
import { call, seedModels } from './harness.js';

let mock: MockUpstream;

beforeAll(async () => {
  mock = await startMockUpstream({ apiKey: MOCK_UPSTREAM_KEY });
  await useTestTable({ TOLLGATE_LOCAL_SECRETS: JSON.stringify(mockLocalSecrets()) });
  const models = mockModels(mock.url);
  const mini = models.find((m) => m.model_name === 'gpt-4o-mini') as ModelRecord;
  await seedModels([
    ...models,
    { ...mini, model_name: 'gpt-image-1', upstream_model: 'gpt-image-1-2025-04-15', aliases: [], access_groups: [] },
  ]);
  return () => mock.close();
});

const responses = (tools: unknown[]) => ({ model: 'gpt-4o-mini', input: 'draw a cat', tools });

describe('models run by tools', () => {
  it("an image generation tool's model (named, or its default gpt-image-1) is refused to a key not allowed it, before any upstream call", async () => {
    const { key } = await seedKey({ models: ['gpt-4o-mini'] });
    const before = mock.requests.length;
    for (const tool of [{ type: 'image_generation' }, { type: 'image_generation', model: 'gpt-image-1' }]) {
      const res = await call({ path: '/v1/responses', headers: bearer(key), body: responses([{ type: 'web_search' }, tool]) });
      expect(res.status).toBe(403);
      expect(res.json.error.message).toContain('gpt-image-1');
    }
    expect(mock.requests.length).toBe(before);
  });

  it("a key allowed it: the upstream gets the registry's upstream id for the tool's model", async () => {
    const { key } = await seedKey({ models: ['gpt-4o-mini', 'gpt-image-1'] });
    const res = await call({ path: '/v1/responses', headers: bearer(key), body: responses([{ type: 'image_generation' }]) });
    expect(res.status).toBe(200);
    const sent = mock.requests.at(-1)?.body as { tools: { type: string; model: string }[] };
    expect(sent.tools).toEqual([{ type: 'image_generation', model: 'gpt-image-1-2025-04-15' }]);
  });

  it("a tool's model the registry does not have is a 404; one that is no name is a 400 naming the tool", async () => {
    const { key } = await seedKey({});
    const unknown = await call({
      path: '/v1/responses',
      headers: bearer(key),
      body: responses([{ type: 'image_generation', model: 'dall-e-9' }]),
    });
    expect([unknown.status, unknown.json.error.code]).toEqual([404, 'model_not_found']);
    const bad = await call({ path: '/v1/responses', headers: bearer(key), body: responses([{ type: 'image_generation', model: 5 }]) });
    expect([bad.status, bad.json.error.param]).toEqual([400, 'tools[0].model']);
  });
});
