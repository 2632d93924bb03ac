import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { handler as models } from '../../functions/models/handler.js';
import { handler as teams } from '../../functions/teams/handler.js';
import { type LocalDynamo, startLocalDynamo } from '../../infra/local/dynamodb.js';
import { MOCK_UPSTREAM_KEY, mockLocalSecrets, mockModels } from '../../infra/local/mock-models.js';
import { type MockUpstream, startMockUpstream } from '../../infra/local/mock-upstream.js';
import { entityReader, modelRegistry } from '../../lib/app/index.js';
import { callApi } from '../support/admin.js';
import { authorize, bearer } from '../support/authorizer.js';
import { useOwnTable } from '../support/own-table.js';
import { authorizerEvent, seedKey, seedTeam } from '../support/seed.js';
import { call, chat, seedModels } from './llm/harness.js';

const TIMEOUT_MS = 500;
const ATTEMPTS = 2;
/** The stated deadline, plus room for a loaded machine: a frozen store must not hold a request. */
const BOUND_MS = TIMEOUT_MS * ATTEMPTS + 2500;
const MASTER = 'sk-master-frozen-0123456789abcdef';

let dynamo: LocalDynamo;
let mock: MockUpstream;
let key: string;
const measured: Record<string, number> = {};

beforeAll(async () => {
  dynamo = await startLocalDynamo();
  mock = await startMockUpstream({ apiKey: MOCK_UPSTREAM_KEY });
  await useOwnTable(dynamo, 'frozen', {
    TOLLGATE_MASTER_KEY: MASTER,
    TOLLGATE_STORE_TIMEOUT_MS: String(TIMEOUT_MS),
    TOLLGATE_STORE_MAX_ATTEMPTS: String(ATTEMPTS),
    TOLLGATE_LOCAL_SECRETS: JSON.stringify(mockLocalSecrets()),
  });
  await seedModels(mockModels(mock.url));
  await seedTeam({ team_id: 't-frozen' });
  ({ key } = await seedKey({ team_id: 't-frozen' }));
}, 60_000);

afterAll(async () => {
  if (dynamo?.process.pid) process.kill(dynamo.process.pid, 'SIGCONT');
  await mock?.close();
  await dynamo?.stop();
  console.info(`frozen DynamoDB, ms to the 503 (deadline ${TIMEOUT_MS} x ${ATTEMPTS}): ${JSON.stringify(measured)}`);
});

const chatEvent = (k: string) => authorizerEvent({ method: 'POST', path: '/v1/chat/completions', headers: bearer(k) });

/** Runs `fn` with nothing cached, so every call reaches the (frozen) store. */
async function timed<T>(name: string, fn: () => Promise<T>): Promise<T> {
  entityReader().loader.clear();
  modelRegistry().invalidate();
  const t = performance.now();
  const out = await fn();
  measured[name] = Math.round(performance.now() - t);
  return out;
}

describe('DynamoDB frozen with SIGSTOP', () => {
  it('every route family answers 503 store_unavailable within the deadline', async () => {
    process.kill(dynamo.process.pid as number, 'SIGSTOP');
    try {
      const unknown = await timed('authorizer, unknown key', () => authorize(chatEvent(`sk-${'u'.repeat(43)}`)));
      expect([unknown.effect, unknown.status]).toEqual(['failure', 503]);
      const known = await timed('authorizer, known key', () => authorize(chatEvent(key)));
      expect([known.effect, known.status]).toEqual(['failure', 503]);
      const list = await timed('admin /team/list (master key)', () => callApi(teams, 'GET', '/team/list', {}));
      expect([list.status, list.body.error.code]).toEqual([503, 'store_unavailable']);
      const info = await timed('admin /model/info', () => callApi(models, 'GET', '/model/info', {}));
      expect([info.status, info.body.error.code]).toEqual([503, 'store_unavailable']);
      const llm = await timed('llm /v1/chat/completions', () =>
        call({ path: '/v1/chat/completions', headers: bearer(MASTER), body: chat('gpt-4o-mini', 'hi') }),
      );
      expect([llm.status, llm.json.error.code]).toEqual([503, 'store_unavailable']);
      for (const [name, ms] of Object.entries(measured)) expect([name, ms <= BOUND_MS]).toEqual([name, true]);
    } finally {
      process.kill(dynamo.process.pid as number, 'SIGCONT');
    }
  }, 60_000);

  it('an object route whose owner record cannot be read answers 503 too, not an opaque 500 (found by review)', async () => {
    // The registry and the caller cached: only the owner record is read from the store.
    expect((await call({ path: '/v1/chat/completions', headers: bearer(key), body: chat('gpt-4o-mini', 'hi') })).status).toBe(200);
    process.kill(dynamo.process.pid as number, 'SIGSTOP');
    try {
      const t = performance.now();
      const read = await call({ method: 'GET', path: '/v1/responses/resp_frozen', headers: bearer(key) });
      measured['llm GET /v1/responses/{id}'] = Math.round(performance.now() - t);
      expect([read.status, read.json.error.code]).toEqual([503, 'store_unavailable']);
      expect(measured['llm GET /v1/responses/{id}']).toBeLessThanOrEqual(BOUND_MS);
    } finally {
      process.kill(dynamo.process.pid as number, 'SIGCONT');
    }
  }, 60_000);

  it('once DynamoDB resumes, the same calls succeed', async () => {
    expect((await authorize(chatEvent(key))).effect).toBe('allow');
    expect((await callApi(teams, 'GET', '/team/list', {})).status).toBe(200);
    expect((await call({ path: '/v1/chat/completions', headers: bearer(key), body: chat('gpt-4o-mini', 'hi') })).status).toBe(200);
  }, 60_000);
});
