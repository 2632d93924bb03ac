/**
 * A batch's requests are named by the lines of the file it runs, not by its own body (found by
 * review): a batch file's `body.model` is checked like a body's `model` when the file is uploaded
 * (a model the key may not use is a 403, one the registry does not know a 404, before any upstream
 * call), and a batch over it is billed at that model's prices, not the passthrough model's.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { MOCK_UPSTREAM_KEY, mockLocalSecrets, mockModels } from '../../../infra/local/mock-models.js';
import { type MockUpstream, startMockUpstream } from '../../../infra/local/mock-upstream.js';
import type { ModelRecord } from '../../../lib/domain/records.js';
import { refs } from '../../../lib/store/keys.js';
import { bearer } from '../../support/authorizer.js';
import { seedKey, seedTeam } from '../../support/seed.js';
import { spendNanos } from '../../support/spend.js';
import { useTestTable } from '../../support/table.js';
import { call, seedModels } from './harness.js';

let mock: MockUpstream;
let models: ModelRecord[];

beforeAll(async () => {
  mock = await startMockUpstream({ apiKey: MOCK_UPSTREAM_KEY });
  await useTestTable({
    TOLLGATE_MASTER_KEY: 'sk-master-batch-models',
    TOLLGATE_LOCAL_SECRETS: JSON.stringify(mockLocalSecrets()),
    TOLLGATE_PASSTHROUGH_MODEL: 'gpt-4o-mini',
  });
  models = mockModels(mock.url);
  // An image model as the price library has gpt-image-1.5: $10 per 1M text out, $32 per 1M images.
  const gpt4oMini = models.find((m) => m.model_name === 'gpt-4o-mini') as ModelRecord;
  await seedModels([
    ...models,
    { ...gpt4oMini, model_name: 'image-model', input_cost_per_million: 5, output_cost_per_million: 10, output_image_cost_per_million: 32 },
  ]);
  await seedTeam({ team_id: 'team-a' });
  return () => mock.close();
});

const line = (model: unknown, i = 1) =>
  JSON.stringify({
    custom_id: `r${i}`,
    method: 'POST',
    url: '/v1/chat/completions',
    body: { model, messages: [{ role: 'user', content: 'hi' }] },
  });

/** A line of the Responses API whose tool runs a model of its own. */
const toolLine = (tool: Record<string, unknown>) =>
  JSON.stringify({ custom_id: 't1', method: 'POST', url: '/v1/responses', body: { model: 'gpt-4o-mini', input: 'a cat', tools: [tool] } });

async function upload(key: string, jsonl: string, purpose = 'batch') {
  const form = new FormData();
  form.set('purpose', purpose);
  form.set('file', new Blob([jsonl], { type: 'application/jsonl' }), 'batch.jsonl');
  return call({ path: '/v1/files', headers: bearer(key), body: form });
}

describe("a batch file's models are checked like a body's", () => {
  it.each([
    ['a model the key may not use', `${line('gpt-4o-mini', 1)}\n${line('gpt-4o', 2)}\n`, 403, 'model_not_allowed'],
    ['a model the registry does not know', `${line('o1-pro')}\n`, 404, 'model_not_found'],
    ['a line that is not JSON', `${line('gpt-4o-mini')}\n{"body": {"model": "gpt-4o", NaN}}\n`, 400, 'invalid_body'],
    ['a line whose model is not a string', `${line(['gpt-4o'])}\n`, 400, 'invalid_body'],
    ['lines naming two models (one a batch)', `${line('gpt-4o-mini', 1)}\n${line('gpt-4o', 2)}\n`, 400, 'invalid_body'],
    [
      "a model the key may not use, run by a line's image generation tool (found by review)",
      `${toolLine({ type: 'image_generation' })}\n`,
      403,
      'model_not_allowed',
    ],
    [
      "a model the registry does not know, run by a line's tool",
      `${toolLine({ type: 'image_generation', model: 'dall-e-9' })}\n`,
      404,
      'model_not_found',
    ],
  ])('%s: refused before any upstream call', async (what, jsonl, status, code) => {
    // Unrestricted but for the first case: an unknown model is a 404, as in a body.
    const { key } = await seedKey({ team_id: 'team-a', ...(what.includes('may not') ? { models: ['gpt-4o-mini'] } : {}) });
    const before = mock.requests.length;
    const res = await upload(key, jsonl);
    expect([res.status, res.json?.error?.code, mock.requests.length - before]).toEqual([status, code, 0]);
  });

  it("a line continuing another team's response: 404, nothing forwarded", async () => {
    await seedTeam({ team_id: 'team-b' });
    const theirs = await seedKey({ team_id: 'team-b' });
    const made = await call({ path: '/v1/responses', headers: bearer(theirs.key), body: { model: 'gpt-4o-mini', input: 'secret' } });
    const { key } = await seedKey({ team_id: 'team-a' });
    const jsonl = `${JSON.stringify({ custom_id: 'r1', method: 'POST', url: '/v1/responses', body: { model: 'gpt-4o-mini', input: 'repeat', previous_response_id: made.json.id } })}\n`;
    const before = mock.requests.length;
    const res = await upload(key, jsonl);
    expect([res.status, res.json?.error?.code, mock.requests.length - before]).toEqual([404, 'response_not_found', 0]);
  });

  it('a batch over a file not uploaded as a batch file (its lines never checked) is a 400, nothing forwarded', async () => {
    const { key } = await seedKey({ team_id: 'team-a', models: ['gpt-4o-mini'] });
    const file = await upload(key, `${line('gpt-4o')}\n`, 'assistants');
    expect(file.status).toBe(200);
    const before = mock.requests.length;
    const res = await call({
      path: '/v1/batches',
      headers: bearer(key),
      body: { input_file_id: file.json.id, endpoint: '/v1/chat/completions', completion_window: '24h' },
    });
    expect([res.status, res.json?.error?.param, mock.requests.length - before]).toEqual([400, 'input_file_id', 0]);
  });

  it('a file for another purpose is not read as a batch', async () => {
    const { key } = await seedKey({ team_id: 'team-a', models: ['gpt-4o-mini'] });
    expect((await upload(key, 'not json at all\n', 'assistants')).status).toBe(200);
  });

  it("the upstream gets the file's lines naming the registry's upstream id of their model, not an alias of it (found by review)", async () => {
    const { key } = await seedKey({ team_id: 'team-a', models: ['gpt-4o', 'gpt-4o-mini'] });
    const before = mock.requests.length;
    const file = await upload(key, `${line('gpt-4o-2024-08-06', 1)}\n\n${line('gpt-4o', 2)}\n`);
    expect(file.status).toBe(200);
    const sent = mock.requests.slice(before).find((r) => r.path.startsWith('/files'));
    const text = String(sent?.body);
    expect(text).toContain('filename="batch.jsonl"');
    const lines = text.split('\n').filter((l) => l.startsWith('{"custom_id"'));
    expect(lines.map((l) => (JSON.parse(l) as { custom_id: string; body: { model: string } }).body.model)).toEqual(['gpt-4o', 'gpt-4o']);
    expect(lines.map((l) => JSON.parse(l).custom_id)).toEqual(['r1', 'r2']);
  });

  it("a batch is billed at its file's model's prices", async () => {
    const { key, record } = await seedKey({ team_id: 'team-a' });
    const file = await upload(key, `${line('gpt-4o', 1)}\n${line('gpt-4o-2024-08-06', 2)}\n`);
    expect(file.status).toBe(200);
    const made = await call({
      path: '/v1/batches',
      headers: bearer(key),
      body: { input_file_id: file.json.id, endpoint: '/v1/chat/completions', completion_window: '24h' },
    });
    expect(made.status).toBe(200);
    expect((await call({ method: 'GET', path: `/v1/batches/${made.json.id}`, headers: bearer(key) })).json.status).toBe('completed');
    const gpt4o = models.find((m) => m.model_name === 'gpt-4o') as ModelRecord;
    // The mock's batch: 20 input and 40 output tokens.
    expect(await spendNanos(refs.key(record.token))).toBe(
      Math.round(20 * gpt4o.input_cost_per_million * 1000 + 40 * gpt4o.output_cost_per_million * 1000),
    );
  });

  it('a batch of image lines is billed its output at the image price (found by review: at the text price)', async () => {
    const { key, record } = await seedKey({ team_id: 'team-a' });
    const imageLine = (i: number) =>
      JSON.stringify({
        custom_id: `i${i}`,
        method: 'POST',
        url: '/v1/images/generations',
        body: { model: 'image-model', prompt: 'a cat' },
      });
    const file = await upload(key, `${imageLine(1)}\n${imageLine(2)}\n`);
    expect(file.status).toBe(200);
    const made = await call({
      path: '/v1/batches',
      headers: bearer(key),
      body: { input_file_id: file.json.id, endpoint: '/v1/images/generations', completion_window: '24h' },
    });
    expect(made.status).toBe(200);
    expect((await call({ method: 'GET', path: `/v1/batches/${made.json.id}`, headers: bearer(key) })).json.status).toBe('completed');
    // The mock's batch: 20 input and 40 output tokens, the output images.
    expect(await spendNanos(refs.key(record.token))).toBe(20 * 5 * 1000 + 40 * 32 * 1000);
  });
});
