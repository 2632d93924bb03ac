/**
 * Responses made through an Azure OpenAI deployment are stateful objects as on the
 * OpenAI-compatible path (found by review: they were never recorded, so their maker could not
 * read, continue or delete them, and a background one was charged the text of its queued answer):
 * recorded to their tenant, read and deleted at the resource's `/openai/responses/{id}` with the
 * `api-key`, another tenant's 404, a background one billed once when a read finds it ended.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { AzureOpenAI, NotFoundError } from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Gateway, startGateway } from '../../../infra/local/gateway.js';
import { type MockUpstream, startMockUpstream } from '../../../infra/local/mock-upstream.js';
import type { ModelRecord } from '../../../lib/domain/records.js';
import { refs } from '../../../lib/store/keys.js';
import { bearer } from '../../support/authorizer.js';
import { seedKey, seedTeam } from '../../support/seed.js';
import { settledSpendNanos } from '../../support/spend.js';
import { useTestTable } from '../../support/table.js';
import { call, seedModels, sseData } from './harness.js';

const AZURE_KEY = 'azure-resource-key-responses';
const UPSTREAM_KEY = 'sk-mock-behind-azure-responses';
let upstream: MockUpstream;
let resource: Server;
let gateway: Gateway;
const seen: { method: string; url: string; apiKey: string | undefined; authorization: string | undefined }[] = [];

/** An Azure OpenAI resource: checks its key, answers any method through the mock upstream. */
async function startAzureResource(): Promise<string> {
  resource = createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', async () => {
      const method = req.method ?? 'GET';
      seen.push({
        method,
        url: req.url ?? '',
        apiKey: req.headers['api-key'] as string | undefined,
        authorization: req.headers.authorization,
      });
      if (req.headers['api-key'] !== AZURE_KEY) {
        res.writeHead(401, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { code: '401', message: 'Access denied due to invalid subscription key.' } }));
        return;
      }
      const url = new URL(req.url ?? '/', 'http://azure');
      url.searchParams.delete('api-version');
      const path = url.pathname.replace(/^\/openai\/(deployments\/[^/]+|v1)/, '').replace(/^\/openai/, '');
      const answer = await fetch(`${upstream.url}${path}${url.search}`, {
        method,
        headers: { authorization: `Bearer ${UPSTREAM_KEY}`, 'content-type': 'application/json' },
        ...(method === 'GET' || method === 'DELETE' ? {} : { body: Buffer.concat(parts) }),
      });
      res.writeHead(answer.status, { 'content-type': answer.headers.get('content-type') ?? 'application/json' });
      for await (const chunk of answer.body ?? []) res.write(chunk);
      res.end();
    });
  });
  await new Promise<void>((resolve) => resource.listen(0, '127.0.0.1', () => resolve()));
  return `http://127.0.0.1:${(resource.address() as AddressInfo).port}`;
}

const prices = { input_cost_per_million: 2.5, output_cost_per_million: 10 };

beforeAll(async () => {
  upstream = await startMockUpstream({ apiKey: UPSTREAM_KEY });
  const base = await startAzureResource();
  await useTestTable({ TOLLGATE_LOCAL_SECRETS: JSON.stringify({ 'tollgate/azure': AZURE_KEY }) });
  const azure = (name: string, api_version: string): ModelRecord => ({
    model_name: name,
    provider: 'azure',
    upstream_model: 'gpt-4o',
    upstream_base_url: base,
    api_version,
    api_key_secret: 'tollgate/azure',
    ...prices,
    created_at: '2025-01-01T00:00:00.000Z',
  });
  await seedModels([azure('azure-4o', '2025-04-01-preview'), azure('azure-v1', 'v1')]);
  await seedTeam({ team_id: 'team-az' });
  await seedTeam({ team_id: 'team-other' });
  gateway = await startGateway({ port: 0 });
});
afterAll(async () => {
  await gateway?.close();
  await new Promise((r) => resource?.close(r));
  await upstream?.close();
});

describe('responses on an Azure OpenAI deployment are stateful objects', () => {
  it('made: read at the resource with the api-key, continued, another tenant 404, deleted', async () => {
    const { key } = await seedKey({ team_id: 'team-az' });
    const made = await call({ path: '/v1/responses', headers: bearer(key), body: { model: 'azure-4o', input: 'Hello there' } });
    expect([made.status, made.json.status]).toEqual([200, 'completed']);
    expect(seen.at(-1)).toMatchObject({ method: 'POST', url: '/openai/responses?api-version=2025-04-01-preview', apiKey: AZURE_KEY });

    const read = await call({ method: 'GET', path: `/v1/responses/${made.json.id}`, headers: bearer(key) });
    expect([read.status, read.json.id]).toEqual([200, made.json.id]);
    expect(seen.at(-1)).toEqual({
      method: 'GET',
      url: `/openai/responses/${made.json.id}?api-version=2025-04-01-preview`,
      apiKey: AZURE_KEY,
      authorization: undefined,
    });

    const next = await call({
      path: '/v1/responses',
      headers: bearer(key),
      body: { model: 'azure-4o', input: 'And then?', previous_response_id: made.json.id },
    });
    expect(next.status).toBe(200);

    const other = await seedKey({ team_id: 'team-other' });
    const before = seen.length;
    const stranger = await call({ method: 'GET', path: `/v1/responses/${made.json.id}`, headers: bearer(other.key) });
    expect([stranger.status, seen.length - before]).toEqual([404, 0]);

    const gone = await call({ method: 'DELETE', path: `/v1/responses/${made.json.id}`, headers: bearer(key) });
    expect(gone.status).toBe(200);
    expect(seen.at(-1)?.url).toBe(`/openai/responses/${made.json.id}?api-version=2025-04-01-preview`);
  });

  it('made as a stream: recorded from its events, and readable by its maker (the v1 API)', async () => {
    const { key } = await seedKey({ team_id: 'team-az' });
    const made = await call({ path: '/v1/responses', headers: bearer(key), body: { model: 'azure-v1', input: 'a b c', stream: true } });
    expect(made.status).toBe(200);
    const created = sseData(made.text)
      .map((d) => JSON.parse(d))
      .find((e) => e.type === 'response.created');
    const id = created.response.id as string;
    const read = await call({ method: 'GET', path: `/v1/responses/${id}`, headers: bearer(key) });
    expect([read.status, read.json.id]).toEqual([200, id]);
    expect(seen.at(-1)?.url).toBe(`/openai/v1/responses/${id}`);
  });

  it('made in the background: not charged when queued, billed once by the read that finds it ended', async () => {
    const { key, record } = await seedKey({ team_id: 'team-az' });
    const made = await call({
      path: '/v1/responses',
      headers: bearer(key),
      body: { model: 'azure-4o', input: 'Hello there', background: true },
    });
    expect(made.json.status).toBe('queued');
    expect(await settledSpendNanos(refs.key(record.token))).toBe(0);
    const read = await call({ method: 'GET', path: `/v1/responses/${made.json.id}`, headers: bearer(key) });
    expect(read.json.status).toBe('completed');
    const billed = await settledSpendNanos(refs.key(record.token));
    expect(billed).toBeGreaterThan(0);
    await call({ method: 'GET', path: `/v1/responses/${made.json.id}`, headers: bearer(key) });
    expect(await settledSpendNanos(refs.key(record.token))).toBe(billed);
  });
});

describe('the AzureOpenAI client at Tollgate: its Responses API at /openai/responses', () => {
  // The client's own api-version is Azure's, never passed on: the resource sees the model's.
  const azureClient = (apiKey: string) =>
    new AzureOpenAI({ apiKey, endpoint: gateway.url, apiVersion: '2025-03-01-preview', maxRetries: 0 });

  it('made: metered once, its maker reads it (never billed again), another tenant 404, deleted', async () => {
    const { key, record } = await seedKey({ team_id: 'team-az' });
    const azure = azureClient(key);
    const made = await azure.responses.create({ model: 'azure-4o', input: 'Hello there' });
    expect(made.status).toBe('completed');
    expect(seen.at(-1)).toMatchObject({ method: 'POST', url: '/openai/responses?api-version=2025-04-01-preview', apiKey: AZURE_KEY });
    const billed = await settledSpendNanos(refs.key(record.token));
    expect(billed).toBeGreaterThan(0);

    const read = await azure.responses.retrieve(made.id);
    expect(read.id).toBe(made.id);
    expect(seen.at(-1)).toMatchObject({ method: 'GET', url: `/openai/responses/${made.id}?api-version=2025-04-01-preview` });
    expect(await settledSpendNanos(refs.key(record.token))).toBe(billed);

    const other = await seedKey({ team_id: 'team-other' });
    const before = seen.length;
    const err = await azureClient(other.key)
      .responses.retrieve(made.id)
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NotFoundError);
    expect(seen.length - before).toBe(0);

    await azure.responses.delete(made.id);
    expect(seen.at(-1)).toMatchObject({ method: 'DELETE', url: `/openai/responses/${made.id}?api-version=2025-04-01-preview` });
  });

  it("at a v1 API baseURL (/openai/v1/responses): the same object, its maker's alone", async () => {
    const { key } = await seedKey({ team_id: 'team-az' });
    const v1 = (apiKey: string) => new AzureOpenAI({ apiKey, baseURL: `${gateway.url}/openai/v1`, apiVersion: 'preview', maxRetries: 0 });
    const made = await v1(key).responses.create({ model: 'azure-4o', input: 'Hello there' });
    expect(made.status).toBe('completed');
    expect((await v1(key).responses.retrieve(made.id)).id).toBe(made.id);
    expect(seen.at(-1)).toMatchObject({ method: 'GET', url: `/openai/responses/${made.id}?api-version=2025-04-01-preview` });
    const other = await seedKey({ team_id: 'team-other' });
    const err = await v1(other.key)
      .responses.retrieve(made.id)
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NotFoundError);
  });

  it('made as a stream: recorded from its events, readable by its maker', async () => {
    const { key } = await seedKey({ team_id: 'team-az' });
    const azure = azureClient(key);
    let id: string | undefined;
    for await (const event of await azure.responses.create({ model: 'azure-4o', input: 'a b c', stream: true }))
      if (event.type === 'response.created') id = event.response.id;
    expect(id).toBeDefined();
    expect((await azure.responses.retrieve(id as string)).id).toBe(id);
  });

  it('made in the background: not charged when queued, billed once by the retrieve that finds it ended', async () => {
    const { key, record } = await seedKey({ team_id: 'team-az' });
    const azure = azureClient(key);
    const made = await azure.responses.create({ model: 'azure-4o', input: 'Hello there', background: true });
    expect(made.status).toBe('queued');
    expect(await settledSpendNanos(refs.key(record.token))).toBe(0);
    expect((await azure.responses.retrieve(made.id)).status).toBe('completed');
    const billed = await settledSpendNanos(refs.key(record.token));
    expect(billed).toBeGreaterThan(0);
    await azure.responses.retrieve(made.id);
    expect(await settledSpendNanos(refs.key(record.token))).toBe(billed);
  });
});
