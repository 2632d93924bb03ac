/**
 * Azure OpenAI models through the whole path (local gateway, authorizer, llm function, provider
 * layer): chat, streamed chat and embeddings with the official openai client, also on the
 * Azure-style path `/openai/deployments/{model}/...`; the deployment URL with `api-version` and
 * the `api-key` header are what the Azure resource sees; each call metered exactly.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import OpenAI, { AzureOpenAI } from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Gateway, startGateway } from '../../../infra/local/gateway.js';
import { type MockUpstream, startMockUpstream } from '../../../infra/local/mock-upstream.js';
import { costNanos } from '../../../lib/domain/cost.js';
import type { ModelRecord } from '../../../lib/domain/records.js';
import { refs } from '../../../lib/store/keys.js';
import { seedKey } from '../../support/seed.js';
import { settledSpendNanos } from '../../support/spend.js';
import { useTestTable } from '../../support/table.js';
import { seedModels } from './harness.js';

const AZURE_KEY = 'azure-resource-key-local';
const UPSTREAM_KEY = 'sk-mock-behind-azure';
let upstream: MockUpstream;
let resource: Server;
const seen: { url: string; apiKey: string | undefined; authorization: string | undefined }[] = [];
let gateway: Gateway;
let token: string;
let key: string;

/** Stands in for an Azure OpenAI resource: checks its key, answers through the mock upstream. */
async function startAzureResource(): Promise<string> {
  resource = createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', async () => {
      seen.push({ url: req.url ?? '', apiKey: req.headers['api-key'] as string | undefined, authorization: req.headers.authorization });
      if (req.headers['api-key'] !== AZURE_KEY) {
        res.writeHead(401, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { code: '401', message: 'Access denied due to invalid subscription key.' } }));
        return;
      }
      // As Azure: an api-version before 2024-09-01 refuses `stream_options`.
      const version = new URL(req.url ?? '/', 'http://x').searchParams.get('api-version') ?? '';
      if (version < '2024-09-01' && 'stream_options' in (JSON.parse(Buffer.concat(parts).toString('utf8') || '{}') as object)) {
        res.writeHead(400, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { code: null, message: 'Unrecognized request argument supplied: stream_options' } }));
        return;
      }
      const path = (req.url ?? '').replace(/^\/openai\/deployments\/[^/]+/, '').split('?')[0] as string;
      const answer = await fetch(`${upstream.url}${path}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${UPSTREAM_KEY}`, 'content-type': 'application/json' },
        body: Buffer.concat(parts),
      });
      res.writeHead(answer.status, { 'content-type': answer.headers.get('content-type') ?? 'application/json' });
      for await (const chunk of answer.body ?? []) res.write(chunk);
      res.end();
    });
  });
  await new Promise<void>((resolve) => resource.listen(0, '127.0.0.1', () => resolve()));
  return `http://127.0.0.1:${(resource.address() as AddressInfo).port}`;
}

const prices = { input_cost_per_million: 2.5, output_cost_per_million: 10, cache_read_cost_per_million: 1.25 };
const spent = () => settledSpendNanos(refs.key(token));

beforeAll(async () => {
  upstream = await startMockUpstream({ apiKey: UPSTREAM_KEY });
  const base = await startAzureResource();
  await useTestTable({ TOLLGATE_LOCAL_SECRETS: JSON.stringify({ 'tollgate/azure': AZURE_KEY }) });
  const azure = (name: string, deployment: string, version = '2024-10-21'): ModelRecord => ({
    model_name: name,
    provider: 'azure',
    upstream_model: deployment,
    upstream_base_url: base,
    api_version: version,
    api_key_secret: 'tollgate/azure',
    ...prices,
    created_at: '2025-01-01T00:00:00.000Z',
  });
  await seedModels([
    azure('azure-4o', 'gpt-4o'),
    azure('azure-embed', 'text-embedding-3-small'),
    azure('azure-4o-2024-06', 'gpt-4o', '2024-06-01'),
  ]);
  const seeded = await seedKey({ models: ['azure-4o', 'azure-embed', 'azure-4o-2024-06'] });
  key = seeded.key;
  token = seeded.record.token;
  gateway = await startGateway({ port: 0 });
});
afterAll(async () => {
  await gateway?.close();
  await new Promise((r) => resource?.close(r));
  await upstream?.close();
});

describe('Azure OpenAI through the llm function', () => {
  const client = () => new OpenAI({ apiKey: key, baseURL: `${gateway.url}/v1`, maxRetries: 0 });

  it('chats at the deployment URL with api-version and api-key (never a bearer token), metered', async () => {
    const before = await spent();
    const answer = await client().chat.completions.create({ model: 'azure-4o', messages: [{ role: 'user', content: 'hello azure' }] });
    expect(answer.choices[0]?.message.content).toBe('Mock answer: hello azure');
    expect(seen.at(-1)).toEqual({
      url: '/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21',
      apiKey: AZURE_KEY,
      authorization: undefined,
    });
    expect((await spent()) - before).toBe(costNanos({ inputTokens: 2, outputTokens: 4 }, prices));
  });

  it('streams, metered from the usage it always asks for', async () => {
    const before = await spent();
    const stream = await client().chat.completions.create({
      model: 'azure-4o',
      messages: [{ role: 'user', content: 'a b c' }],
      stream: true,
    });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
    expect(text).toBe('Mock answer: a b c');
    expect((await spent()) - before).toBe(costNanos({ inputTokens: 3, outputTokens: 5 }, prices));
  });

  it('streams on an api-version older than stream_options (2024-06-01): not asked for usage (Azure refuses it), counted (found by review: every stream was a 400)', async () => {
    const before = await spent();
    const stream = await client().chat.completions.create({
      model: 'azure-4o-2024-06',
      messages: [{ role: 'user', content: 'a b c' }],
      stream: true,
    });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
    expect(text).toBe('Mock answer: a b c');
    expect(seen.at(-1)?.url).toBe('/openai/deployments/gpt-4o/chat/completions?api-version=2024-06-01');
    expect((await spent()) - before).toBeGreaterThan(0);
  });

  it('embeds, metered', async () => {
    const before = await spent();
    const res = await client().embeddings.create({ model: 'azure-embed', input: ['one two three'] });
    expect(res.data).toHaveLength(1);
    expect((await spent()) - before).toBe(costNanos({ inputTokens: 3, outputTokens: 0 }, prices));
  });

  it('the Azure-style path reaching Tollgate (the AzureOpenAI client) is served the same way', async () => {
    const before = await spent();
    const azure = new AzureOpenAI({ apiKey: key, endpoint: gateway.url, apiVersion: '2024-10-21', deployment: 'azure-4o', maxRetries: 0 });
    const answer = await azure.chat.completions.create({ model: 'azure-4o', messages: [{ role: 'user', content: 'via path' }] });
    expect(answer.choices[0]?.message.content).toBe('Mock answer: via path');
    expect(seen.at(-1)?.url).toBe('/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21');
    expect((await spent()) - before).toBe(costNanos({ inputTokens: 2, outputTokens: 4 }, prices));
  });
});
