/**
 * The official `openai` client, unchanged, against the local stack: the handlers Lambda runs,
 * behind the local gateway, in front of the mock upstream.
 */
import { randomUUID } from 'node:crypto';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type LocalStack, startLocalStack } from '../../infra/local/stack.js';
import { configureApp, documentClient } from '../../lib/app/index.js';
import { encode } from '../../lib/store/codec.js';
import { refs } from '../../lib/store/keys.js';
import { seedKey, seedTeam } from '../support/seed.js';
import { spendNanos } from '../support/spend.js';

const MASTER = `sk-master-${randomUUID()}`;
let stack: LocalStack;

beforeAll(async () => {
  const config = configureApp({
    config: {
      TOLLGATE_TABLE_NAME: `e2e-${randomUUID().slice(0, 8)}`,
      TOLLGATE_MASTER_KEY: MASTER,
      TOLLGATE_LOG_LEVEL: 'SILENT',
    },
  });
  stack = await startLocalStack({ config, dynamoEndpoint: inject('dynamoEndpoint'), port: 0 });
  // A mock model whose upstream pauses before every chunk, to see chunks arrive while it writes.
  const mini = stack.models.find((m) => m.model_name === 'gpt-4o-mini')!;
  const slow = { ...mini, model_name: 'slow-mini', upstream_model: 'gpt-4o-mini+delay=150', aliases: [], access_groups: [] };
  await documentClient().send(new PutCommand({ TableName: stack.tableName, Item: encode.model(slow) }));
});

afterAll(async () => {
  await stack?.stop();
});

const client = (apiKey: string) => new OpenAI({ apiKey, baseURL: `${stack.url}/v1`, maxRetries: 0 });

async function teamKey(team: Parameters<typeof seedTeam>[0], key: Parameters<typeof seedKey>[0] = {}) {
  await seedTeam(team);
  return (await seedKey({ team_id: team.team_id, ...key })).key;
}

describe('a virtual key', () => {
  let openai: OpenAI;
  beforeAll(async () => {
    openai = client(
      await teamKey({ team_id: 'e2e-team', max_budget: 100 }, { models: ['gpt-4o-mini', 'slow-mini', 'text-embedding-3-small'] }),
    );
  });

  it('chats', async () => {
    const res = await openai.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Hello there' }] });
    expect(res.choices[0]?.message.content).toBe('Mock answer: Hello there');
    expect(res.usage).toMatchObject({ prompt_tokens: 2, completion_tokens: 4 });
  });

  it('streams, the chunks arriving as the upstream writes them', async () => {
    const stream = await openai.chat.completions.create({
      model: 'slow-mini',
      messages: [{ role: 'user', content: 'one two three' }],
      stream: true,
    });
    const arrivals: number[] = [];
    let text = '';
    for await (const chunk of stream) {
      const delta = chunk.choices[0]?.delta.content;
      if (delta) {
        arrivals.push(Date.now());
        text += delta;
      }
    }
    expect(text.replace(/\s+/g, ' ').trim()).toBe('Mock answer: one two three');
    expect(arrivals.length).toBeGreaterThanOrEqual(5);
    // Five words at 150 ms each: a buffered answer would arrive all at once.
    expect((arrivals.at(-1) as number) - (arrivals[0] as number)).toBeGreaterThanOrEqual(450);
  });

  it('lists only the models it may use', async () => {
    const ids: string[] = [];
    for await (const m of openai.models.list()) ids.push(m.id);
    expect(ids.sort()).toEqual(['gpt-4o-mini', 'slow-mini', 'text-embedding-3-small']);
  });

  it('embeds', async () => {
    const res = await openai.embeddings.create({ model: 'text-embedding-3-small', input: ['alpha beta', 'gamma'] });
    expect(res.data).toHaveLength(2);
    expect(res.data[0]?.embedding.length).toBeGreaterThan(0);
    expect(res.usage.prompt_tokens).toBe(3);
  });

  it('gets 403 model_not_allowed for a model outside its list', async () => {
    const err = await openai.chat.completions
      .create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.PermissionDeniedError);
    expect(err).toMatchObject({ status: 403, code: 'model_not_allowed', type: 'permission_error' });
    expect((err as Error).message).toContain('model `gpt-4o` is not allowed');
  });
});

describe('denials the client surfaces as its own typed errors', () => {
  it('an unknown key is a 401 AuthenticationError', async () => {
    const err = await client('sk-not-a-real-key')
      .models.list()
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.AuthenticationError);
    expect(err).toMatchObject({ status: 401, code: 'invalid_api_key' });
  });

  it('an over-budget team is a 403 PermissionDeniedError naming the team and its limit', async () => {
    const key = await teamKey({ team_id: 'e2e-broke', max_budget: 2, spend: 2 });
    const err = await client(key)
      .chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.PermissionDeniedError);
    expect(err).toMatchObject({ status: 403, code: 'team_budget_exceeded', type: 'budget_exceeded' });
    expect((err as Error).message).toBe('403 team `e2e-broke` spent 2.00 of its 2.00 budget');
  });

  it('a key whose spend reaches its budget is refused once that spend is settled', async () => {
    const { key, record } = await seedKey({ max_budget: 0.000001 });
    const openai = client(key);
    await openai.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'spend something' }] });
    // The answer reaches the client before its settlement is written (issue 11), and the table can
    // hold it a moment before this instance's cache follows: ask until the instance refuses, well
    // within the cache TTL (10 s), so it is the settlement's own update that refuses, not a re-read.
    await expect.poll(async () => spendNanos(refs.key(record.token)), { timeout: 5_000 }).toBeGreaterThan(0);
    let err: unknown;
    await expect
      .poll(
        async () => {
          err = await openai.chat.completions
            .create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'again' }] })
            .catch((e: unknown) => e);
          return err instanceof OpenAI.APIError;
        },
        { timeout: 2_000, interval: 100 },
      )
      .toBe(true);
    expect(err).toBeInstanceOf(OpenAI.PermissionDeniedError);
    expect(err).toMatchObject({ code: 'key_budget_exceeded' });
    expect((err as Error).message).toContain(`key \`${record.key_name}\` spent`);
  });
});

describe('the master key manages teams and keys over HTTP', () => {
  const admin = async (path: string, body: unknown) => {
    const res = await fetch(`${stack.url}${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${MASTER}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    return { status: res.status, json: (await res.json()) as Record<string, unknown> };
  };

  it('creates a team and a key with LiteLLM fields, and the new key chats', async () => {
    const team = await admin('/team/new', { team_alias: 'e2e-admin', max_budget: 10, models: ['gpt-4o-mini'] });
    expect(team.status).toBe(200);
    expect(typeof team.json.team_id).toBe('string');

    const created = await admin('/key/generate', {
      team_id: team.json.team_id,
      key_alias: 'e2e-admin-key',
      models: ['gpt-4o-mini'],
      max_budget: 1,
    });
    expect(created.status).toBe(200);
    const key = created.json.key as string;
    expect(key).toMatch(/^sk-/);

    const res = await client(key).chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'from a new key' }],
    });
    expect(res.choices[0]?.message.content).toBe('Mock answer: from a new key');
  });

  it('a change is seen by the next request: local mode has one process and one cache (docs/local.md)', async () => {
    const key = await teamKey({ team_id: 'e2e-at-once' });
    const openai = client(key);
    await openai.models.list();
    expect((await admin('/key/block', { key })).status).toBe(200);
    await expect(openai.models.list()).rejects.toMatchObject({ status: 403, code: 'key_blocked' });
    expect((await admin('/key/unblock', { key })).status).toBe(200);
    expect((await openai.models.list()).data.length).toBeGreaterThan(0);
  });
});
