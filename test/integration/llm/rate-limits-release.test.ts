/**
 * A parallel slot is given back even when DynamoDB refuses its release once or twice (throttled
 * after the SDK's own retries): the release is tried again, and a release that landed and is tried
 * again changes nothing (found by review: one error held the slot until its lease expired, 16 minutes).
 */

import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MOCK_UPSTREAM_KEY, mockLocalSecrets, mockModels } from '../../../infra/local/mock-models.js';
import { type MockUpstream, startMockUpstream } from '../../../infra/local/mock-upstream.js';
import { configureApp, documentClient } from '../../../lib/app/index.js';
import type { ModelRecord } from '../../../lib/domain/records.js';
import { rateRefs } from '../../../lib/store/rate-limits.js';
import { bearer } from '../../support/authorizer.js';
import { seedKey } from '../../support/seed.js';
import { readItem } from '../../support/spend.js';
import { useTestTable } from '../../support/table.js';
import { call, chat, seedModels } from './harness.js';

let mock: MockUpstream;
let failReleases = 0;
beforeAll(async () => {
  mock = await startMockUpstream({ apiKey: MOCK_UPSTREAM_KEY });
  await useTestTable({ TOLLGATE_LOCAL_SECRETS: JSON.stringify(mockLocalSecrets()) });
  const base = mockModels(mock.url).find((m) => m.model_name === 'gpt-4o-mini') as ModelRecord;
  await seedModels([base]);
  const real = documentClient();
  // DynamoDB answers one lease release with a transient error (throttled after the SDK's own retries).
  const flaky = {
    ...real,
    config: real.config,
    send: (command: unknown, ...rest: unknown[]) => {
      if (command instanceof UpdateCommand && String(command.input.UpdateExpression).startsWith('REMOVE #lease') && failReleases > 0) {
        failReleases--;
        const e = new Error('Throughput exceeds the current capacity');
        e.name = 'ProvisionedThroughputExceededException';
        return Promise.reject(e);
      }
      return (real.send as (...a: unknown[]) => Promise<unknown>)(command, ...rest);
    },
  } as unknown as DynamoDBDocumentClient;
  configureApp({ documentClient: flaky });
});
afterAll(async () => mock.close());

describe('max_parallel_requests: a release that meets DynamoDB errors', () => {
  it.each([1, 2])('%i failed attempt(s): the slot is still freed, and counted once', async (failures) => {
    const { key, record } = await seedKey({ max_parallel_requests: 1 });
    const ask = () => call({ path: '/v1/chat/completions', headers: bearer(key), body: chat('gpt-4o-mini', 'Hello there') });
    failReleases = failures;
    expect((await ask()).status).toBe(200);
    expect(failReleases).toBe(0);
    expect((await readItem(rateRefs.parallel({ owner: 'key', id: record.token })))?.inflight).toBe(0);
    expect((await ask()).status).toBe(200);
    expect((await readItem(rateRefs.parallel({ owner: 'key', id: record.token })))?.inflight).toBe(0);
  });
});
