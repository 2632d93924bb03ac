/**
 * Rate limits through the local gateway (issue 13): several concurrent clients on one key with
 * rpm_limit 50 get exactly 50 answers in the minute; the official openai client sees OpenAI's
 * 429 and x-ratelimit-* headers, and its retry honours retry-after.
 */
import { randomUUID } from 'node:crypto';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import OpenAI, { RateLimitError } from 'openai';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type LocalStack, startLocalStack } from '../../infra/local/stack.js';
import { configureApp, documentClient } from '../../lib/app/index.js';
import { encode } from '../../lib/store/codec.js';
import { rateRefs } from '../../lib/store/rate-limits.js';
import { roomInMinute } from '../support/rate.js';
import { seedKey } from '../support/seed.js';
import { readItem } from '../support/spend.js';

let stack: LocalStack;

beforeAll(async () => {
  const config = configureApp({
    config: {
      TOLLGATE_TABLE_NAME: `e2e-${randomUUID().slice(0, 8)}`,
      TOLLGATE_MASTER_KEY: `sk-master-${randomUUID()}`,
      TOLLGATE_LOG_LEVEL: 'SILENT',
      // 200 calls at once on a busy 2-core machine: this test is about exactness, not store deadlines.
      TOLLGATE_STORE_TIMEOUT_MS: '10000',
    },
  });
  stack = await startLocalStack({ config, dynamoEndpoint: inject('dynamoEndpoint'), port: 0 });
  const mini = stack.models.find((m) => m.model_name === 'gpt-4o-mini');
  if (!mini) throw new Error('no gpt-4o-mini in the local stack');
  const slow = { ...mini, model_name: 'slow-rl', upstream_model: 'gpt-4o-mini+delay=1500', aliases: [], access_groups: [] };
  await documentClient().send(new PutCommand({ TableName: stack.tableName, Item: encode.model(slow) }));
});
afterAll(async () => {
  await stack?.stop();
});

const client = (apiKey: string, maxRetries = 0) => new OpenAI({ apiKey, baseURL: `${stack.url}/v1`, maxRetries });
const hello = { model: 'gpt-4o-mini', messages: [{ role: 'user' as const, content: 'Hello there' }] };

describe('through the local gateway', () => {
  it('200 concurrent requests from 8 clients on a key with rpm_limit 50: exactly 50 answered', async () => {
    const { key } = await seedKey({ rpm_limit: 50 });
    await roomInMinute(20_000);
    const clients = Array.from({ length: 8 }, () => client(key));
    const outcomes = await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        (clients[i % 8] as OpenAI).chat.completions.create(hello).then(
          () => 'ok',
          (e) => (e instanceof RateLimitError ? (e.error as { code?: string })?.code : `other: ${e}`),
        ),
      ),
    );
    expect(outcomes.filter((o) => o === 'ok').length).toBe(50);
    // Every other call was refused by the limit (anything else is listed by the failure).
    expect(outcomes.filter((o) => o !== 'ok' && o !== 'key_rpm_exceeded')).toEqual([]);
  });

  it("every answer carries OpenAI's x-ratelimit headers; a refusal is a RateLimitError with retry-after", async () => {
    const { key } = await seedKey({ rpm_limit: 1, tpm_limit: 1000 });
    await roomInMinute(10_000);
    const { response } = await client(key).chat.completions.create(hello).withResponse();
    expect(response.headers.get('x-ratelimit-limit-requests')).toBe('1');
    expect(response.headers.get('x-ratelimit-remaining-requests')).toBe('0');
    expect(response.headers.get('x-ratelimit-limit-tokens')).toBe('1000');
    expect(response.headers.get('x-ratelimit-reset-requests')).toMatch(/^\d+(ms|s|m\d+s)$/);
    const refused = await client(key)
      .chat.completions.create(hello)
      .catch((e) => e);
    expect(refused).toBeInstanceOf(RateLimitError);
    expect(refused.status).toBe(429);
    expect(refused.error).toMatchObject({ type: 'rate_limit_error', code: 'key_rpm_exceeded' });
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
  });

  it("the openai client's retry honours retry-after: refused while another call is in flight, answered on retry", async () => {
    const { key, record } = await seedKey({ max_parallel_requests: 1 });
    const first = client(key).chat.completions.create({ ...hello, model: 'slow-rl' });
    // Once the first call holds the one slot (its lease is in the table):
    await expect
      .poll(async () => (await readItem(rateRefs.parallel({ owner: 'key', id: record.token })))?.inflight, { interval: 10 })
      .toBe(1);
    // With retries off the second call is refused at once...
    const refused = await client(key)
      .chat.completions.create(hello)
      .catch((e) => e);
    expect(refused).toBeInstanceOf(RateLimitError);
    expect(refused.error.code).toBe('max_parallel_requests_exceeded');
    expect(refused.headers.get('retry-after')).toBe('1');
    // ...with the client's default retries it waits as told and gets its answer.
    const started = Date.now();
    const second = client(key, 5).chat.completions.create(hello).withResponse();
    const [a, b] = await Promise.all([first, second]);
    expect(a.choices[0]?.message.content).toMatch(/^Mock answer/);
    expect(b.data.choices[0]?.message.content).toBe('Mock answer: Hello there');
    // retry-after-ms is 1000: the client waited for it (its own backoff would start at 0.5 s).
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
  });
});
