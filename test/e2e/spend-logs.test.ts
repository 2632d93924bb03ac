/**
 * Through the local gateway (issue 12): a chat's spend log appears in `/spend/logs` a moment
 * later (local mode polls the table's stream as the deployed consumer reads it), and the health
 * probes answer without credentials and without revealing anything of the configuration.
 */
import { randomUUID } from 'node:crypto';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type LocalStack, startLocalStack } from '../../infra/local/stack.js';
import { configureApp } from '../../lib/app/index.js';
import { seedKey, seedTeam } from '../support/seed.js';

const MASTER = `sk-master-${randomUUID()}`;
let stack: LocalStack;

beforeAll(async () => {
  const config = configureApp({
    config: { TOLLGATE_TABLE_NAME: `e2e-${randomUUID().slice(0, 8)}`, TOLLGATE_MASTER_KEY: MASTER, TOLLGATE_LOG_LEVEL: 'SILENT' },
  });
  stack = await startLocalStack({ config, dynamoEndpoint: inject('dynamoEndpoint'), port: 0 });
});
afterAll(async () => {
  await stack?.stop();
});

const get = async (path: string, key?: string) => {
  const res = await fetch(`${stack.url}${path}`, key ? { headers: { authorization: `Bearer ${key}` } } : {});
  return { status: res.status, json: (await res.json()) as any };
};

describe('spend logs and health through the local gateway', () => {
  it("a chat's log shows up in /spend/logs, for the key and for the admin", async () => {
    await seedTeam({ team_id: 'e2e-logs' });
    const { key, record } = await seedKey({ team_id: 'e2e-logs' });
    const openai = new OpenAI({ apiKey: key, baseURL: `${stack.url}/v1`, maxRetries: 0 });
    const { response } = await openai.chat.completions
      .create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Hello there' }] })
      .withResponse();
    expect(response.status).toBe(200);
    await expect.poll(async () => (await get('/spend/logs', key)).json.data?.length, { timeout: 15_000, interval: 200 }).toBe(1);
    const mine = (await get('/spend/logs', key)).json.data[0];
    expect(mine).toMatchObject({ api_key: record.token, team_id: 'e2e-logs', model: 'gpt-4o-mini', total_tokens: 6, status: 'success' });
    expect((await get(`/spend/logs?team_id=e2e-logs`, MASTER)).json.data).toHaveLength(1);
  });

  it('liveliness and readiness answer without credentials, saying nothing of the configuration', async () => {
    expect(await get('/health/liveliness')).toEqual({ status: 200, json: { status: 'healthy' } });
    expect(await get('/health/readiness')).toEqual({ status: 200, json: { status: 'ready' } });
  });
});
