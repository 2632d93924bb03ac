/**
 * OpenAI-compatible and Azure OpenAI upstreams, with the official openai client: the mock
 * upstream's Responses API directly (plain and streamed), then through the gateway over the
 * provider layer (chat, streams with and without the usage chunk, embeddings, responses), each
 * metered exactly. Azure is reached at its deployment URLs with its `api-key` header, checked by
 * a loopback server that stands in for the resource and relays to the mock upstream.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type MockUpstream, startMockUpstream } from '../../../infra/local/mock-upstream.js';
import type { ProviderModel } from '../../../lib/providers/index.js';
import { type ProviderGateway, startProviderGateway } from './gateway.js';

const UPSTREAM_KEY = 'sk-mock-upstream';
const AZURE_KEY = 'azure-resource-key';

let upstream: MockUpstream;
let azureResource: Server;
const azureSeen: {
  method: string;
  url: string;
  apiKey: string | undefined;
  authorization: string | undefined;
  body: Record<string, unknown>;
}[] = [];
let gateway: ProviderGateway;
let openai: OpenAI;

/** Stands in for an Azure OpenAI resource: records what Azure would see, answers through the mock upstream. */
async function startAzureResource(): Promise<string> {
  azureResource = createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', async () => {
      const body = JSON.parse(Buffer.concat(parts).toString('utf8')) as Record<string, unknown>;
      azureSeen.push({
        method: req.method ?? '',
        url: req.url ?? '',
        apiKey: req.headers['api-key'] as string | undefined,
        authorization: req.headers.authorization,
        body,
      });
      if (req.headers['api-key'] !== AZURE_KEY) {
        res.writeHead(401, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { code: '401', message: 'Access denied due to invalid subscription key.' } }));
        return;
      }
      const path = (req.url ?? '').replace(/^\/openai\/(deployments\/[^/]+|v1)/, '').split('?')[0] as string;
      const answer = await fetch(`${upstream.url}${path}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${UPSTREAM_KEY}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      res.writeHead(answer.status, { 'content-type': answer.headers.get('content-type') ?? 'application/json' });
      for await (const chunk of answer.body ?? []) res.write(chunk);
      res.end();
    });
  });
  await new Promise<void>((resolve) => azureResource.listen(0, '127.0.0.1', () => resolve()));
  return `http://127.0.0.1:${(azureResource.address() as AddressInfo).port}`;
}

beforeAll(async () => {
  upstream = await startMockUpstream({ apiKey: UPSTREAM_KEY });
  const azureBase = await startAzureResource();
  const openaiModel = (name: string, upstreamModel = name): ProviderModel => ({
    model_name: name,
    provider: 'openai',
    upstream_model: upstreamModel,
    upstream_base_url: upstream.url,
  });
  const azure = (name: string, deployment: string, apiVersion: string): ProviderModel => ({
    model_name: name,
    provider: 'azure',
    upstream_model: deployment,
    upstream_base_url: azureBase,
    api_version: apiVersion,
  });
  gateway = await startProviderGateway({
    models: [
      openaiModel('gpt-4o'),
      openaiModel('embed', 'text-embedding-3-small'),
      openaiModel('gpt-4o-busy', 'gpt-4o+status=429'),
      openaiModel('gpt-4o-bad-key'),
      azure('azure-gpt', 'gpt-4o-prod', '2024-10-21'),
      azure('azure-embed', 'embed-prod', '2024-10-21'),
      azure('azure-v1', 'gpt-4o-prod', 'v1'),
      azure('azure-wrong-key', 'gpt-4o-prod', '2024-10-21'),
    ],
    keys: {
      'gpt-4o': UPSTREAM_KEY,
      embed: UPSTREAM_KEY,
      'gpt-4o-busy': UPSTREAM_KEY,
      'gpt-4o-bad-key': 'sk-wrong',
      'azure-gpt': AZURE_KEY,
      'azure-embed': AZURE_KEY,
      'azure-v1': AZURE_KEY,
      'azure-wrong-key': 'nope',
    },
  });
  openai = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: 'sk-tollgate-virtual', maxRetries: 0 });
});

afterAll(async () => {
  await gateway?.close();
  await new Promise<void>((r) => (azureResource ? azureResource.close(() => r()) : r()));
  await upstream?.close();
});

const lastMetered = () => gateway.metered.at(-1);

describe('the mock upstream serves the Responses API to the official openai client', () => {
  const direct = () => new OpenAI({ baseURL: upstream.url, apiKey: UPSTREAM_KEY, maxRetries: 0 });

  it('responses.create: one message, output_text, usage', async () => {
    const r = await direct().responses.create({ model: 'gpt-4o', instructions: 'Be brief.', input: 'hello responses' });
    expect(r.object).toBe('response');
    expect(r.status).toBe('completed');
    expect(r.output_text).toBe('Mock answer: hello responses');
    expect(r.usage).toMatchObject({ input_tokens: 4, output_tokens: 4, total_tokens: 8 });
  });

  it('responses.create streamed: the event types in order, text deltas, usage on response.completed', async () => {
    const stream = await direct().responses.create({
      model: 'gpt-4o',
      input: [{ role: 'user', content: [{ type: 'input_text', text: 'stream this' }] }],
      stream: true,
    });
    const types: string[] = [];
    let text = '';
    let usage: OpenAI.Responses.ResponseUsage | undefined;
    for await (const event of stream) {
      types.push(event.type);
      if (event.type === 'response.output_text.delta') text += event.delta;
      if (event.type === 'response.completed') usage = event.response.usage;
    }
    expect(types[0]).toBe('response.created');
    expect(types.at(-1)).toBe('response.completed');
    expect(types).toContain('response.output_item.added');
    expect(types).toContain('response.output_text.done');
    expect(text).toBe('Mock answer: stream this');
    expect(usage).toMatchObject({ input_tokens: 2, output_tokens: 4 });
  });

  it('the openai client’s stream helper assembles the final response', async () => {
    const final = await direct().responses.stream({ model: 'gpt-4o', input: 'helper check', max_output_tokens: 3 }).finalResponse();
    expect(final.output_text).toBe('Mock answer: helper');
    expect(final.status).toBe('incomplete');
  });
});

describe('OpenAI-compatible upstream through the provider layer', () => {
  it('chat: the upstream gets its own model id and Tollgate’s key; usage metered', async () => {
    const answer = await openai.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'one two three' }] });
    expect(answer.choices[0]?.message.content).toBe('Mock answer: one two three');
    const sent = upstream.requests.at(-1);
    expect(sent?.headers.authorization).toBe(`Bearer ${UPSTREAM_KEY}`);
    expect(lastMetered()?.usage).toEqual({ inputTokens: 3, outputTokens: 5, cacheReadTokens: 0, cacheWriteTokens: 0 });
  });

  it('a stream the client asked no usage for: the upstream is asked, the client sees no usage chunk, the call is metered', async () => {
    const stream = await openai.chat.completions.create({ model: 'gpt-4o', stream: true, messages: [{ role: 'user', content: 'a b' }] });
    const chunks = [];
    for await (const c of stream) chunks.push(c);
    expect(chunks.every((c) => c.choices.length === 1)).toBe(true);
    expect((upstream.requests.at(-1)?.body as { stream_options?: unknown }).stream_options).toEqual({ include_usage: true });
    expect(lastMetered()?.usage).toEqual({ inputTokens: 2, outputTokens: 4, cacheReadTokens: 0, cacheWriteTokens: 0 });
  });

  it('a stream with include_usage keeps its usage chunk', async () => {
    const stream = await openai.chat.completions.create({
      model: 'gpt-4o',
      stream: true,
      stream_options: { include_usage: true },
      messages: [{ role: 'user', content: 'a b' }],
    });
    let usage: OpenAI.CompletionUsage | null | undefined;
    for await (const c of stream) usage = c.usage ?? usage;
    expect(usage).toMatchObject({ prompt_tokens: 2, completion_tokens: 4 });
  });

  it('embeddings', async () => {
    const out = await openai.embeddings.create({ model: 'embed', input: ['x y', 'z'] });
    expect(out.data).toHaveLength(2);
    expect(lastMetered()?.usage).toEqual({ inputTokens: 3, outputTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 0 });
  });

  it('responses.create, plain and streamed, metered from the Responses usage', async () => {
    const r = await openai.responses.create({ model: 'gpt-4o', input: 'metered response' });
    expect(r.output_text).toBe('Mock answer: metered response');
    expect(lastMetered()).toMatchObject({
      operation: 'responses',
      usage: { inputTokens: 2, outputTokens: 4, cacheReadTokens: 0, cacheWriteTokens: 0 },
    });
    const final = await openai.responses
      .stream({ model: 'gpt-4o', instructions: 'Terse.', input: 'streamed response here' })
      .finalResponse();
    expect(final.output_text).toBe('Mock answer: streamed response here');
    expect(lastMetered()?.usage).toEqual({ inputTokens: 4, outputTokens: 5, cacheReadTokens: 0, cacheWriteTokens: 0 });
  });

  it('an upstream 429 passes through as a 429; a refused key is a 502', async () => {
    const busy = await openai.chat.completions
      .create({ model: 'gpt-4o-busy', messages: [{ role: 'user', content: 'x' }] })
      .catch((e: unknown) => e);
    expect(busy).toBeInstanceOf(OpenAI.RateLimitError);
    const refused = await openai.chat.completions
      .create({ model: 'gpt-4o-bad-key', messages: [{ role: 'user', content: 'x' }] })
      .catch((e: unknown) => e);
    expect((refused as InstanceType<typeof OpenAI.APIError>).status).toBe(502);
  });
});

describe('Azure OpenAI through the provider layer', () => {
  it('chat at the deployment URL with api-version and the api-key header; metered', async () => {
    const answer = await openai.chat.completions.create({ model: 'azure-gpt', messages: [{ role: 'user', content: 'hello azure' }] });
    expect(answer.choices[0]?.message.content).toBe('Mock answer: hello azure');
    expect(azureSeen.at(-1)).toMatchObject({
      method: 'POST',
      url: '/openai/deployments/gpt-4o-prod/chat/completions?api-version=2024-10-21',
      apiKey: AZURE_KEY,
      authorization: undefined,
    });
    expect(lastMetered()?.usage).toEqual({ inputTokens: 2, outputTokens: 4, cacheReadTokens: 0, cacheWriteTokens: 0 });
  });

  it('streamed chat, metered though the client asked no usage', async () => {
    const stream = await openai.chat.completions.create({
      model: 'azure-gpt',
      stream: true,
      messages: [{ role: 'user', content: 'stream azure' }],
    });
    let text = '';
    for await (const c of stream) text += c.choices[0]?.delta.content ?? '';
    expect(text).toBe('Mock answer: stream azure');
    expect(azureSeen.at(-1)?.body).toMatchObject({ stream: true, stream_options: { include_usage: true } });
    expect(lastMetered()?.usage?.outputTokens).toBe(4);
  });

  it('embeddings at the deployment URL', async () => {
    await openai.embeddings.create({ model: 'azure-embed', input: 'abc def' });
    expect(azureSeen.at(-1)?.url).toBe('/openai/deployments/embed-prod/embeddings?api-version=2024-10-21');
    expect(lastMetered()?.usage?.inputTokens).toBe(2);
  });

  it('the v1 API: /openai/v1/... with the deployment as the model', async () => {
    await openai.chat.completions.create({ model: 'azure-v1', messages: [{ role: 'user', content: 'v1' }] });
    expect(azureSeen.at(-1)).toMatchObject({ url: '/openai/v1/chat/completions', body: { model: 'gpt-4o-prod' } });
  });

  it('a key Azure refuses is a 502 that shows no key', async () => {
    const err = await openai.chat.completions
      .create({ model: 'azure-wrong-key', messages: [{ role: 'user', content: 'x' }] })
      .catch((e: unknown) => e);
    expect((err as InstanceType<typeof OpenAI.APIError>).status).toBe(502);
    expect(JSON.stringify((err as InstanceType<typeof OpenAI.APIError>).error)).not.toContain('nope');
  });
});
