/**
 * What the llm function emits is what the official `openai` client expects: chat, streamed chat
 * (SSE framing, with and without the usage chunk), embeddings (the client's default base64),
 * the models list, and Tollgate's errors surfacing as the client's typed errors with our message.
 * Served through the local gateway (infra/local/gateway.ts) on loopback.
 */
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Gateway, startGateway } from '../../../infra/local/gateway.js';
import { MOCK_UPSTREAM_KEY, MOCK_UPSTREAM_SECRET, mockLocalSecrets, mockModels } from '../../../infra/local/mock-models.js';
import { type MockUpstream, startMockUpstream } from '../../../infra/local/mock-upstream.js';
import { seedKey } from '../../support/seed.js';
import { useTestTable } from '../../support/table.js';
import { seedModels } from './harness.js';

let mock: MockUpstream;
let gateway: Gateway;
let client: OpenAI;
let unrestricted: OpenAI;

beforeAll(async () => {
  mock = await startMockUpstream({ apiKey: MOCK_UPSTREAM_KEY });
  await useTestTable({ TOLLGATE_LOCAL_SECRETS: JSON.stringify(mockLocalSecrets()) });
  await seedModels([
    ...mockModels(mock.url),
    {
      model_name: 'stalls',
      upstream_base_url: mock.url,
      upstream_model: 'gpt-4o-mini+drop_after=3',
      api_key_secret: MOCK_UPSTREAM_SECRET,
      input_cost_per_million: 1,
      output_cost_per_million: 1,
      created_at: '2025-01-01T00:00:00.000Z',
    },
  ]);
  const { key } = await seedKey({ models: ['standard', 'stalls'] });
  gateway = await startGateway({ port: 0 });
  client = new OpenAI({ apiKey: key, baseURL: `${gateway.url}/v1`, maxRetries: 0 });
  unrestricted = new OpenAI({ apiKey: (await seedKey({})).key, baseURL: `${gateway.url}/v1`, maxRetries: 0 });
});
afterAll(async () => {
  await gateway?.close();
  await mock?.close();
});

describe('the official openai client, unchanged', () => {
  it('chats', async () => {
    const answer = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hello client' }] });
    expect(answer.choices[0]?.message.content).toBe('Mock answer: hello client');
    expect(answer.usage).toMatchObject({ prompt_tokens: 2, completion_tokens: 4 });
  });

  it('streams a chat, chunk by chunk, without a usage chunk it did not ask for', async () => {
    const stream = await client.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'a b c' }],
      stream: true,
    });
    const chunks = [];
    for await (const chunk of stream) chunks.push(chunk);
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe('Mock answer: a b c');
    expect(chunks.every((c) => c.choices.length === 1)).toBe(true);
  });

  it('streams with the usage chunk when asked', async () => {
    const stream = await client.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'a b c' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    let usage: OpenAI.CompletionUsage | null | undefined;
    for await (const chunk of stream) usage = chunk.usage ?? usage;
    expect(usage).toMatchObject({ prompt_tokens: 3, completion_tokens: 5, total_tokens: 8 });
  });

  it('embeds (the client asks for base64 and decodes it)', async () => {
    const res = await client.embeddings.create({ model: 'text-embedding-3-small', input: ['one', 'two words'] });
    expect(res.data).toHaveLength(2);
    expect(res.data[0]?.embedding).toHaveLength(8);
    expect(res.usage.prompt_tokens).toBe(3);
  });

  it('lists the models the key may use', async () => {
    const ids = [];
    for await (const m of client.models.list()) ids.push(m.id);
    expect(ids).toEqual(['gpt-4o-mini', 'stalls', 'text-embedding-3-small']);
  });

  it("surfaces a body-aware denial as PermissionDeniedError with Tollgate's message", async () => {
    const error = await client.chat.completions
      .create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'x' }] })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.PermissionDeniedError);
    const e = error as InstanceType<typeof OpenAI.PermissionDeniedError>;
    expect(e.status).toBe(403);
    expect(e.code).toBe('model_not_allowed');
    expect(e.message).toContain('model `gpt-4o` is not allowed for key');
  });

  it('surfaces an unknown model as NotFoundError', async () => {
    const error = await unrestricted.embeddings.create({ model: 'nope', input: 'x' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.NotFoundError);
    expect((error as Error).message).toContain('model `nope` does not exist');
  });

  it('raises the error event of a stream that breaks', async () => {
    const stream = await client.chat.completions.create({
      model: 'stalls',
      messages: [{ role: 'user', content: 'a b c d' }],
      stream: true,
    });
    const error = await (async () => {
      for await (const _ of stream);
    })().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.APIError);
    expect((error as Error).message).toContain('the upstream for `stalls` failed');
  });
});
