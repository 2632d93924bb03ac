/**
 * The answer first (issue 11): the client receives the whole answer, JSON or stream, before the
 * settlement is written, and the invocation still waits for the settlement before it ends (Lambda
 * freezes an instance once its handler resolves). A settler held shut proves the order without
 * timing anything.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { invokeStreaming } from '../../../infra/local/awslambda.js';
import { MOCK_UPSTREAM_KEY, mockLocalSecrets, mockModels } from '../../../infra/local/mock-models.js';
import { type MockUpstream, startMockUpstream } from '../../../infra/local/mock-upstream.js';
import { configureApp, spendSettler } from '../../../lib/app/index.js';
import type { Settlement, SpendSettler } from '../../../lib/store/spend-ledger.js';
import { authorize, bearer } from '../../support/authorizer.js';
import { authorizerEvent, seedKey } from '../../support/seed.js';
import { useTestTable } from '../../support/table.js';
import { chat, llmHandler, proxyEvent, seedModels } from './harness.js';

let mock: MockUpstream;
beforeAll(async () => {
  mock = await startMockUpstream({ apiKey: MOCK_UPSTREAM_KEY });
  await useTestTable({ TOLLGATE_LOCAL_SECRETS: JSON.stringify(mockLocalSecrets()) });
  await seedModels(mockModels(mock.url));
});
afterAll(async () => {
  configureApp({ spendSettler: undefined });
  await mock.close();
});

/** The real settler behind a gate: settlements wait until `open()`. */
function gatedSettler() {
  const real = spendSettler();
  let open!: () => void;
  const gate = new Promise<void>((r) => (open = r));
  const log: string[] = [];
  const settler: SpendSettler = {
    settle: async (s: Settlement) => {
      log.push('settle started');
      await gate;
      const out = await real.settle(s);
      log.push('settled');
      return out;
    },
    reserve: (r) => real.reserve(r),
  };
  return { settler, open, log };
}

async function answerFirst(body: Record<string, unknown>) {
  const { key } = await seedKey({});
  const gated = gatedSettler();
  configureApp({ spendSettler: gated.settler });
  const auth = await authorize(authorizerEvent({ method: 'POST', path: '/v1/chat/completions', headers: bearer(key) }));
  if (auth.effect !== 'allow') throw new Error('not allowed');
  const res = await invokeStreaming(llmHandler, proxyEvent({ path: '/v1/chat/completions', headers: bearer(key), body }, auth.context));
  let text = '';
  for await (const chunk of res.body) text += chunk.toString('utf8');
  // The whole answer is here, and the settlement has not been written.
  const atEnd = [...gated.log];
  let invocationEnded = false;
  const ended = res.done.then(() => {
    invocationEnded = true;
  });
  await new Promise((r) => setTimeout(r, 50));
  const endedBeforeSettled = invocationEnded;
  gated.open();
  await ended;
  return { text, atEnd, endedBeforeSettled, log: gated.log, status: res.statusCode };
}

describe('the answer before the settlement; the invocation after it', () => {
  it('a JSON answer', async () => {
    const r = await answerFirst(chat('gpt-4o-mini', 'answer first please'));
    expect(r.status).toBe(200);
    expect(JSON.parse(r.text).choices[0].message.content).toBe('Mock answer: answer first please');
    expect(r.atEnd).not.toContain('settled');
    expect(r.endedBeforeSettled).toBe(false);
    expect(r.log).toEqual(['settle started', 'settled']);
  });

  it('a stream, to its [DONE]', async () => {
    const r = await answerFirst(chat('gpt-4o-mini', 'stream first please', { stream: true }));
    expect(r.text.trimEnd().endsWith('data: [DONE]')).toBe(true);
    expect(r.atEnd).not.toContain('settled');
    expect(r.endedBeforeSettled).toBe(false);
    expect(r.log).toEqual(['settle started', 'settled']);
  });
});
