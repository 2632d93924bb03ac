/**
 * Virtual keys keep working while Secrets Manager is down (issue 10, item 13): the master key is
 * read only for a credential that is no virtual key and no JWT. When it cannot be read, such a
 * credential is denied with 503 store_unavailable, never allowed and never a misleading 401.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configureApp } from '../../lib/app/index.js';
import { authorize, bearer } from '../support/authorizer.js';
import { authorizerEvent, seedKey } from '../support/seed.js';
import { useTestTable } from '../support/table.js';

let reads = 0;
const down = async (): Promise<string | undefined> => {
  reads++;
  throw new Error('Secrets Manager is down');
};
const chat = (token: string) => authorizerEvent({ method: 'POST', path: '/v1/chat/completions', headers: bearer(token) });

beforeAll(async () => {
  await useTestTable();
});
afterAll(() => configureApp({ masterKey: undefined }));

describe('Secrets Manager down', () => {
  it('a virtual key is allowed without reading the master key', async () => {
    const { key } = await seedKey({});
    configureApp({ masterKey: down });
    reads = 0;
    expect((await authorize(chat(key))).effect).toBe('allow');
    expect(reads).toBe(0);
  });

  it('a credential that may be the master key is a 503 store_unavailable, never a 401 or an Allow', async () => {
    configureApp({ masterKey: down });
    const outcome = await authorize(chat('sk-maybe-the-master-key'));
    expect(outcome.effect).toBe('failure');
    if (outcome.effect === 'failure') {
      expect(outcome.status).toBe(503);
      expect(outcome.error.code).toBe('store_unavailable');
      expect(outcome.error.message).not.toContain('sk-maybe');
    }
  });

  it('with Secrets Manager back, the master key works again and an unknown key is a 401', async () => {
    configureApp({ masterKey: async () => 'sk-the-master' });
    expect((await authorize(chat('sk-the-master'))).effect).toBe('allow');
    expect((await authorize(chat('sk-not-the-master'))).status).toBe(401);
  });
});
