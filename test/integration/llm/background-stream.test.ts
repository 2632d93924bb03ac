/**
 * A response made in the background as a stream (`background: true, stream: true`) goes on
 * upstream when its stream is cut: its client may leave and read the result later. It is billed
 * once in all: a whole stream by its usage (a later read bills nothing), a cut one what it was
 * sent now and the rest when a read finds it ended (found by review: the rest was free).
 */
import { beforeAll, expect, it, vi } from 'vitest';
import { objectOwners, spendSettler } from '../../../lib/app/index.js';
import { costNanos } from '../../../lib/domain/cost.js';
import { MINUTE_MS, windowShards } from '../../../lib/domain/rate-limits.js';
import type { ModelRecord } from '../../../lib/domain/records.js';
import { unpackLog } from '../../../lib/domain/spend-log.js';
import { settlementsOf } from '../../../lib/llm/handle.js';
import { refs } from '../../../lib/store/keys.js';
import { rateRefs } from '../../../lib/store/rate-limits.js';
import { SPEND_LOG_ATTR } from '../../../lib/store/spend-ledger.js';
import { bearer } from '../../support/authorizer.js';
import { seedKey, seedTeam } from '../../support/seed.js';
import { readItem, spendNanos } from '../../support/spend.js';
import { call, passthroughTable, standInUpstream, startStream } from './harness.js';

const usage = { input_tokens: 1000, output_tokens: 50_000, total_tokens: 51_000 };
const resp = (id: string, status: string, withUsage: boolean) => ({
  id,
  object: 'response',
  status,
  output: [],
  usage: withUsage ? usage : null,
});
const sse = (type: string, data: Record<string, unknown>) => `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`;
let upstream: { base: string; close: () => Promise<void> };
let mini: ModelRecord;
/** Reads of `resp_race` the upstream holds, to answer when the test says. */
const heldReads: (() => void)[] = [];

beforeAll(async () => {
  upstream = await standInUpstream((req, raw, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (req.method === 'POST' && url.pathname === '/v1/responses') {
      const body = JSON.parse(raw) as { input: string };
      const id = `resp_${body.input}`;
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(sse('response.created', { response: resp(id, 'in_progress', false) }));
      for (let i = 0; i < 20; i++) res.write(sse('response.output_text.delta', { delta: `word${i} ` }));
      // `whole` ends; `leave` goes on upstream (the client leaves first).
      if (body.input === 'whole') res.end(sse('response.completed', { response: resp(id, 'completed', true) }));
      return;
    }
    if (req.method === 'GET' && url.pathname.startsWith('/v1/responses/')) {
      const id = url.pathname.slice('/v1/responses/'.length);
      const answer = () => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify(resp(id, 'completed', true)));
      };
      // `race`: held until the test lets it answer.
      if (id === 'resp_race') return void heldReads.push(answer);
      return answer();
    }
    res.writeHead(404).end();
  });
  mini = await passthroughTable(upstream.base);
  await seedTeam({ team_id: 'team-a' });
  return () => upstream.close();
});

const fullCost = () => costNanos({ inputTokens: usage.input_tokens, outputTokens: usage.output_tokens }, mini);

/** Makes a background response as a stream; returns the invocation's event and its body. */
const make = (key: string, input: string) =>
  startStream({
    path: '/v1/responses',
    headers: bearer(key),
    body: { model: 'gpt-4o-mini', input, background: true, stream: true },
    requestId: `req-${input}-${Math.random()}`,
  });

/** Leaves `make`'s stream once it has seen `word` (its last by default): the iterator's return destroys the body. */
async function leave(body: AsyncIterable<unknown>, word = 'word19'): Promise<void> {
  let seen = '';
  for await (const chunk of body) {
    seen += String(chunk);
    if (seen.includes(word)) break;
  }
}

it('cut by its client, then read when ended: what it was sent is charged at once, the rest by the read, its cost once in all', async () => {
  const { key, record } = await seedKey({ team_id: 'team-a' });
  const { event, body } = await make(key, 'leave');
  await leave(body);
  await settlementsOf(event);
  const atOnce = await spendNanos(refs.key(record.token));
  expect(atOnce).toBeGreaterThan(0);
  expect(atOnce).toBeLessThan(fullCost());
  expect((await readItem(refs.settlement(event.requestContext.requestId)))?.usage_source).toBe('counted');
  // The read that finds it ended bills the rest, once.
  const read = await call({ method: 'GET', path: '/v1/responses/resp_leave', headers: bearer(key) });
  expect(read.status).toBe(200);
  expect(await spendNanos(refs.key(record.token))).toBe(fullCost());
  await call({ method: 'GET', path: '/v1/responses/resp_leave', headers: bearer(key) });
  expect(await spendNanos(refs.key(record.token))).toBe(fullCost());
  // Its spend logs show each token once: the read's log only those beyond the cut stream's.
  const cut = await loggedTokens(event.requestContext.requestId);
  expect(cut.output).toBeGreaterThan(0);
  expect(await loggedTokens(event.requestContext.requestId, 'object:resp_leave')).toEqual(wholeUsage);
});

const wholeUsage = { input: usage.input_tokens, output: usage.output_tokens };

/** The input and output tokens the spend logs of these requests show, summed (a request with no settlement shows none). */
async function loggedTokens(...requestIds: string[]): Promise<{ input: number; output: number }> {
  const sum = { input: 0, output: 0 };
  for (const id of requestIds) {
    const text = (await readItem(refs.settlement(id)))?.[SPEND_LOG_ATTR];
    if (typeof text !== 'string') continue;
    const log = unpackLog(text);
    sum.input += log.prompt_tokens;
    sum.output += log.completion_tokens;
  }
  return sum;
}

it('read to its end: billed its usage by the stream; a read after bills nothing', async () => {
  const { key, record } = await seedKey({ team_id: 'team-a' });
  const made = await call({
    path: '/v1/responses',
    headers: bearer(key),
    body: { model: 'gpt-4o-mini', input: 'whole', background: true, stream: true },
  });
  expect(made.text).toContain('response.completed');
  expect(await spendNanos(refs.key(record.token))).toBe(fullCost());
  await call({ method: 'GET', path: '/v1/responses/resp_whole', headers: bearer(key) });
  expect(await spendNanos(refs.key(record.token))).toBe(fullCost());
});

it('a read in flight when its client cuts the stream bills only the rest: the prepaid share is read with the claim (found by review: charged twice)', async () => {
  const { key, record } = await seedKey({ team_id: 'team-a' });
  const { event, body } = await make(key, 'race');
  await leave(body, 'word0');
  // A read that loaded the record before the cut's share was kept, answered after.
  const read = call({ method: 'GET', path: '/v1/responses/resp_race', headers: bearer(key) });
  await vi.waitFor(() => expect(heldReads).toHaveLength(1));
  await settlementsOf(event);
  expect(await spendNanos(refs.key(record.token))).toBeGreaterThan(0);
  heldReads.shift()?.();
  expect((await read).status).toBe(200);
  expect(await spendNanos(refs.key(record.token))).toBe(fullCost());
});

it('a read that bills it in full before its cut stream is settled leaves the stream nothing to charge (found by review: charged twice)', async () => {
  const { key, record } = await seedKey({ team_id: 'team-a' });
  // The cut stream's settlement waits, before it writes anything, until the read has billed.
  let billed = () => {};
  const readBilled = new Promise<void>((r) => {
    billed = r;
  });
  const owners = objectOwners();
  const prepay = owners.prepay.bind(owners);
  const spy = vi.spyOn(owners, 'prepay').mockImplementationOnce(async (...args) => {
    await readBilled;
    return prepay(...args);
  });
  try {
    const { event, body } = await make(key, 'early');
    await leave(body);
    await vi.waitFor(() => expect(spy).toHaveBeenCalledTimes(1));
    expect((await call({ method: 'GET', path: '/v1/responses/resp_early', headers: bearer(key) })).status).toBe(200);
    expect(await spendNanos(refs.key(record.token))).toBe(fullCost());
    billed();
    await settlementsOf(event);
    expect(await spendNanos(refs.key(record.token))).toBe(fullCost());
  } finally {
    spy.mockRestore();
  }
});

it("its tokens count once in the maker's tpm windows: the read's bill counts only those beyond what the cut stream counted", async () => {
  const tpm = 100_000_000;
  const { key, record } = await seedKey({ team_id: 'team-a', tpm_limit: tpm });
  const { event, body } = await make(key, 'tokens');
  await leave(body);
  await settlementsOf(event);
  expect((await call({ method: 'GET', path: '/v1/responses/resp_tokens', headers: bearer(key) })).status).toBe(200);
  expect(await spendNanos(refs.key(record.token))).toBe(fullCost());
  expect(await windowTokens(record.token, tpm)).toBe(usage.total_tokens);
});

/** The key's tpm windows over the last minutes, every shard. */
async function windowTokens(token: string, tpm: number): Promise<number> {
  const minute = Math.floor(Date.now() / MINUTE_MS);
  const limit = { owner: 'key' as const, id: token, tpm };
  let tokens = 0;
  for (const m of [minute - 2, minute - 1, minute])
    for (let shard = 0; shard < windowShards(limit); shard++)
      tokens += Number((await readItem(rateRefs.window(limit, m, shard)))?.tokens ?? 0);
  return tokens;
}

/** Makes `key`'s cut stream of `input` while the store refuses its settlement (and, with `prepay`, its prepayment). */
async function cutWhileDown(key: string, input: string, opts: { prepay: boolean }): Promise<string> {
  const settler = spendSettler();
  const settle = settler.settle.bind(settler);
  const down = vi.spyOn(settler, 'settle').mockImplementation(async (s) => {
    if (s.requestId.startsWith(`req-${input}-`)) throw new Error('the store is down');
    return settle(s);
  });
  const owners = objectOwners();
  const prepay = owners.prepay.bind(owners);
  const prepayDown = vi.spyOn(owners, 'prepay').mockImplementation(async (id, prepayment) => {
    if (opts.prepay && id === `resp_${input}` && prepayment.nanos > 0) throw new Error('the store is down');
    return prepay(id, prepayment);
  });
  try {
    const { event, body } = await make(key, input);
    await leave(body);
    await settlementsOf(event);
    expect(down).toHaveBeenCalled();
    return event.requestContext.requestId;
  } finally {
    down.mockRestore();
    prepayDown.mockRestore();
  }
}

it("a cut stream's charge that is lost (its settlement and journal failed) is taken back from the record: the read that finds it ended charges its whole cost, its tokens counted once", async () => {
  const tpm = 100_000_000;
  const { key, record } = await seedKey({ team_id: 'team-a', tpm_limit: tpm });
  const cut = await cutWhileDown(key, 'lost', { prepay: false });
  expect(await spendNanos(refs.key(record.token))).toBe(0);
  expect((await call({ method: 'GET', path: '/v1/responses/resp_lost', headers: bearer(key) })).status).toBe(200);
  expect(await spendNanos(refs.key(record.token))).toBe(fullCost());
  expect(await windowTokens(record.token, tpm)).toBe(usage.total_tokens);
  // The cut stream's log was lost with its charge: the read's log shows every token.
  expect(await loggedTokens(cut, 'object:resp_lost')).toEqual(wholeUsage);
});

it('a lost charge whose prepayment the store also failed to keep takes nothing back: the read charges the whole cost, not more', async () => {
  const { key, record } = await seedKey({ team_id: 'team-a' });
  await cutWhileDown(key, 'unkept', { prepay: true });
  expect(await spendNanos(refs.key(record.token))).toBe(0);
  expect((await call({ method: 'GET', path: '/v1/responses/resp_unkept', headers: bearer(key) })).status).toBe(200);
  expect(await spendNanos(refs.key(record.token))).toBe(fullCost());
});
