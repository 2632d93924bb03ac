/**
 * Local mode ships all three upstream kinds: the local stack (what `npm start` runs) starts the
 * mock Bedrock runtime and the mock Anthropic API beside the mock OpenAI upstream, with priced
 * default models for each, answered and metered through the handlers Lambda runs.
 */
import { randomUUID } from 'node:crypto';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type LocalStack, startLocalStack } from '../../infra/local/stack.js';
import { configureApp } from '../../lib/app/index.js';
import { costNanos } from '../../lib/domain/cost.js';
import type { ModelRecord } from '../../lib/domain/records.js';
import { refs } from '../../lib/store/keys.js';
import { seedKey } from '../support/seed.js';
import { settledSpendNanos } from '../support/spend.js';

let stack: LocalStack;
let key: string;
let token: string;

const settled = () => settledSpendNanos(refs.key(token));
const model = (name: string): ModelRecord => stack.models.find((m) => m.model_name === name) as ModelRecord;

beforeAll(async () => {
  const config = configureApp({
    config: {
      TOLLGATE_TABLE_NAME: `e2e-${randomUUID().slice(0, 8)}`,
      TOLLGATE_MASTER_KEY: `sk-master-${randomUUID()}`,
      TOLLGATE_LOG_LEVEL: 'SILENT',
    },
  });
  stack = await startLocalStack({ config, dynamoEndpoint: inject('dynamoEndpoint'), port: 0 });
  const seeded = await seedKey({});
  key = seeded.key;
  token = seeded.record.token;
});
afterAll(async () => {
  await stack?.stop();
});

describe('local mode: mock Bedrock and mock Anthropic beside the mock OpenAI upstream', () => {
  it('ships priced default models for each provider', () => {
    expect(stack.models.filter((m) => m.provider === 'bedrock').map((m) => m.model_name)).toEqual([
      'bedrock-claude-3-5-sonnet',
      'bedrock-titan-embed-v2',
    ]);
    expect(model('claude-3-5-haiku')).toMatchObject({ provider: 'anthropic', input_cost_per_million: 0.8 });
    expect(stack.config.bedrockEndpoint).toBe(stack.bedrockUrl);
  });

  it('a Bedrock chat with the official openai client, metered', async () => {
    const before = await settled();
    const openai = new OpenAI({ apiKey: key, baseURL: `${stack.url}/v1`, maxRetries: 0 });
    const answer = await openai.chat.completions.create({
      model: 'bedrock-claude-3-5-sonnet',
      messages: [{ role: 'user', content: 'hello local bedrock' }],
    });
    expect(answer.choices[0]?.message.content).toBe('Mock answer: hello local bedrock');
    expect((await settled()) - before).toBe(costNanos({ inputTokens: 3, outputTokens: 5 }, model('bedrock-claude-3-5-sonnet')));
  });

  it('/v1/messages to the Anthropic model with the official Anthropic SDK, metered', async () => {
    const before = await settled();
    const anthropic = new Anthropic({ apiKey: key, baseURL: stack.url, maxRetries: 0 });
    const message = await anthropic.messages.create({
      model: 'claude-3-5-haiku',
      max_tokens: 20,
      messages: [{ role: 'user', content: 'hi there' }],
    });
    expect(message.content[0]).toMatchObject({ type: 'text', text: 'Mock answer: hi there' });
    expect((await settled()) - before).toBe(costNanos({ inputTokens: 2, outputTokens: 4 }, model('claude-3-5-haiku')));
  });
});
