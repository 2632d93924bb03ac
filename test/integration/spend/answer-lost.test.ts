/**
 * Writes that are not transactions (which the SDK makes idempotent with a token) under an answer
 * lost after the commit: the SDK sends the attempt again, and it must find its own write. A
 * deferred object's bill is claimed once (a claim read as "billed by someone else" would be
 * charged by no one), a cut stream's prepayment added once (twice would credit the bill twice), a
 * budget alert's level claimed by one consumer (read as another's, it would wait a minute for its
 * lease, holding the stream), a rate-limit admission counted once on a window no one else wrote
 * meanwhile (read as a full window, a wrong 429 whose count stayed). Found by review (lib/store/objects, alerts, rate-limits).
 */
import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { beforeAll, expect, it } from 'vitest';
import { documentClient, objectOwners } from '../../../lib/app/index.js';
import { AlertMarkers, alertRef } from '../../../lib/store/alerts.js';
import { createDocumentClient, tableName } from '../../../lib/store/client.js';
import { DynamoObjectOwners } from '../../../lib/store/objects.js';
import { DynamoRateLimiter } from '../../../lib/store/rate-limits.js';
import { type TestTable, useTestTable } from '../../support/table.js';

let table: TestTable;
beforeAll(async () => {
  table = await useTestTable();
});

/** A client whose first attempt reaches DynamoDB, then loses its answer as a timeout would: the SDK sends it again. */
function answerLostOnce() {
  const client = createDocumentClient({ endpoint: table.endpoint, region: 'us-east-1', timeouts: { timeoutMs: 5_000, maxAttempts: 2 } });
  const state = { lost: 0 };
  client.middlewareStack.add(
    (next) => async (args) => {
      const out = await next(args);
      if (state.lost++ > 0) return out;
      const body = (out.response as { body?: unknown }).body;
      if (body instanceof Readable) body.destroy();
      throw Object.assign(new Error('the answer was lost after the write committed'), { name: 'TimeoutError', code: 'ETIMEDOUT' });
    },
    { step: 'deserialize', priority: 'low', name: 'answerLostOnce' },
  );
  return { client, state };
}

/** A pending object (a background response) whose cut streams prepaid 700 nano-dollars. */
async function pendingObject(): Promise<string> {
  const id = `resp_${randomUUID()}`;
  await objectOwners().put({
    object_id: id,
    object_kind: 'response',
    team_id: 'team-claim',
    billing: 'pending',
    prepaid_nanos: 700,
    created_at: new Date().toISOString(),
  });
  return id;
}

it('a claim whose first attempt committed and whose answer was lost gets the record on the retry; a second claimant gets nothing', async () => {
  const id = await pendingObject();
  const { client, state } = answerLostOnce();
  const claimed = await new DynamoObjectOwners(client, tableName()).claimBilling(id);
  expect(state.lost).toBe(2);
  expect(claimed).toMatchObject({ object_id: id, team_id: 'team-claim', prepaid_nanos: 700 });
  expect(await objectOwners().claimBilling(id)).toBeUndefined();
  expect((await objectOwners().get(id))?.billing).toBe('billed');
  client.destroy();
});

it('a prepayment whose first attempt committed and whose answer was lost is added once, and says it was', async () => {
  const id = await pendingObject();
  const { client, state } = answerLostOnce();
  const owners = new DynamoObjectOwners(client, tableName());
  expect(await owners.prepay(id, { nanos: 50, tokens: 9, inputTokens: 4, outputTokens: 5 })).toBe(true);
  expect(state.lost).toBe(2);
  expect(await objectOwners().get(id)).toMatchObject({
    prepaid_nanos: 750,
    prepaid_tokens: 9,
    prepaid_input_tokens: 4,
    prepaid_output_tokens: 5,
  });
  // Another addition adds; once the bill is claimed, none does.
  expect(await objectOwners().prepay(id, { nanos: 50, tokens: 1, inputTokens: 1, outputTokens: 0 })).toBe(true);
  expect(await objectOwners().claimBilling(id)).toMatchObject({ prepaid_nanos: 800 });
  expect(await objectOwners().prepay(id, { nanos: 50, tokens: 1, inputTokens: 1, outputTokens: 0 })).toBe(false);
  expect((await objectOwners().get(id))?.prepaid_nanos).toBe(800);
  client.destroy();
});

it('an alert claim whose first attempt committed and whose answer was lost is ours on the retry, with the sinks that took it; another claimant waits', async () => {
  const ref = alertRef('team', `t-${randomUUID()}`, 'lifetime', '80');
  const { client, state } = answerLostOnce();
  const markers = new AlertMarkers(client, tableName());
  expect(await markers.claim(ref, 'token-1', '8')).toEqual({ holder: 'mine', delivered: new Set() });
  expect(state.lost).toBe(2);
  expect(await new AlertMarkers(documentClient(), tableName()).claim(ref, 'token-2', '8')).toMatchObject({ holder: 'other' });
  // Given back after Slack took it: the next claim, retried the same way, knows Slack has it.
  await markers.release(ref, 'token-1', new Set(['slack']));
  const again = answerLostOnce();
  expect(await new AlertMarkers(again.client, tableName()).claim(ref, 'token-3', '8')).toEqual({
    holder: 'mine',
    delivered: new Set(['slack']),
  });
  expect(again.state.lost).toBe(2);
  client.destroy();
  again.client.destroy();
});

it('a rate-limit admission whose first attempt committed and whose answer was lost, on a window no one else wrote meanwhile, is admitted and counted once, not a wrong 429', async () => {
  const at = Date.now();
  const admit = (limiter: DynamoRateLimiter, rpm: number, i: number) =>
    limiter.admit({
      requestId: `r-${rpm}-${i}`,
      at,
      limits: [{ scope: 'team', owner: 'team', id: `lost-${rpm}-${at}`, label: 'lost', rpm }],
      estimateTokens: 0,
      leaseUntil: at + 60_000,
    });
  const plain = new DynamoRateLimiter(documentClient(), tableName(), () => at);
  for (const rpm of [1, 2]) {
    const { client, state } = answerLostOnce();
    const outcomes = [(await admit(new DynamoRateLimiter(client, tableName(), () => at), rpm, 0)).admitted];
    expect(state.lost).toBe(2);
    for (let i = 1; i <= rpm; i++) outcomes.push((await admit(plain, rpm, i)).admitted);
    // Exactly rpm admitted in the minute, the first among them.
    expect(outcomes).toEqual([...Array(rpm).fill(true), false]);
    client.destroy();
  }
});
