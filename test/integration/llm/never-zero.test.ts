/**
 * A call never costs $0 because usage was missing or malformed (issue 11): coerced `stream`
 * values stream and are metered, a stream the upstream cuts is charged, an answer without usable
 * usage is charged the tokens counted in what was sent and received (lib/llm/count), and the
 * settlement record says which. Output limits out of range
 * are a 400 naming the field, and strict mode's estimate is an upper bound over all of them.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type MockAnthropic, startMockAnthropic } from '../../../infra/local/mock-anthropic.js';
import {
  MOCK_ANTHROPIC_KEY,
  MOCK_UPSTREAM_KEY,
  mockAnthropicModels,
  mockLocalSecrets,
  mockModels,
} from '../../../infra/local/mock-models.js';
import { type MockUpstream, startMockUpstream } from '../../../infra/local/mock-upstream.js';
import { configureApp, objectOwners } from '../../../lib/app/index.js';
import { config } from '../../../lib/config.js';
import { refs } from '../../../lib/store/keys.js';
import { SPEND_LOG_ATTR } from '../../../lib/store/spend-ledger.js';
import { bearer } from '../../support/authorizer.js';
import { seedKey, seedTeam } from '../../support/seed.js';
import { readItem, spendNanos } from '../../support/spend.js';
import { useTestTable } from '../../support/table.js';
import { call, chat, seedModels, withKnobs } from './harness.js';

let mock: MockUpstream;
let anthropic: MockAnthropic;

let silent: Server;

beforeAll(async () => {
  mock = await startMockUpstream({ apiKey: MOCK_UPSTREAM_KEY });
  anthropic = await startMockAnthropic({ apiKey: MOCK_ANTHROPIC_KEY });
  const claude = mockAnthropicModels(anthropic.url)[0]!;
  // Calls naming no model (a listing) go to an upstream that never answers.
  silent = createServer(() => {});
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', () => r()));
  await useTestTable({ TOLLGATE_LOCAL_SECRETS: JSON.stringify(mockLocalSecrets()), TOLLGATE_PASSTHROUGH_MODEL: 'silent' });
  const base = mockModels(mock.url).find((m) => m.model_name === 'gpt-4o-mini')!;
  const knob = (name: string, knobs: string) => withKnobs(base, name, knobs);
  await seedModels([
    base,
    knob('coercing', 'coerce'),
    knob('coercing-no-usage', 'coerce+no_usage'),
    knob('no-usage', 'no_usage'),
    knob('bad-usage', 'bad_usage'),
    knob('zero-usage', 'zero_usage'),
    knob('no-usage-cut', 'no_usage+drop_after=3'),
    knob('cut', 'drop_after=3'),
    knob('failing', 'status=500'),
    knob('hanging', 'hang'),
    { ...knob('silent', 'x'), upstream_base_url: `http://127.0.0.1:${(silent.address() as AddressInfo).port}/v1` },
    // Anthropic reports the input in its first event and the output in its last: cut between them.
    { ...claude, model_name: 'claude-cut', upstream_model: `${claude.upstream_model}+drop_after=30`, aliases: [], access_groups: [] },
  ]);
});
afterAll(async () => {
  silent.closeAllConnections();
  silent.close();
  await mock.close();
  await anthropic.close();
});

/** A call through a fresh key; what it cost that key, and how its settlement counted it. */
async function costOf(model: string, extra: Record<string, unknown> = {}) {
  const { key, record } = await seedKey({});
  const requestId = `req-${model}-${Math.random().toString(36).slice(2)}`;
  const res = await call({
    path: '/v1/chat/completions',
    headers: bearer(key),
    body: chat(model, 'count these five words', extra),
    requestId,
  });
  const settlement = await readItem(refs.settlement(requestId));
  return { res, nanos: await spendNanos(refs.key(record.token)), source: settlement?.usage_source };
}

describe('never $0', () => {
  it.each([['true'], [1], ['yes']])(
    'stream: %j streams (the upstream coerces it) and is metered from the reported usage',
    async (stream) => {
      const { res, nanos, source } = await costOf('coercing', { stream });
      expect(res.headers['content-type']).toContain('text/event-stream');
      expect(nanos).toBeGreaterThan(0);
      expect(source).toBe('reported');
    },
  );

  it('an answer with no usage is charged the tokens counted in what was sent and received, and says so', async () => {
    const { res, nanos, source } = await costOf('no-usage');
    expect(res.status).toBe(200);
    expect(nanos).toBeGreaterThan(0);
    expect(source).toBe('counted');
    // The same call with usage reported: the count is of the same text, so of the same order.
    const reported = await costOf('gpt-4o-mini');
    expect(reported.source).toBe('reported');
    expect(nanos).toBeGreaterThan(reported.nanos / 4);
    expect(nanos).toBeLessThan(reported.nanos * 4);
  });

  it('a coerced stream "true" from an upstream that reports no usage is metered by counting', async () => {
    const { res, nanos, source } = await costOf('coercing-no-usage', { stream: 'true' });
    expect(res.headers['content-type']).toContain('text/event-stream');
    expect([nanos > 0, source]).toEqual([true, 'counted']);
  });

  it('usage nobody can use (negative, fractional, "NaN") is replaced by counting', async () => {
    const { nanos, source } = await costOf('bad-usage');
    expect(nanos).toBeGreaterThan(0);
    expect(source).toBe('counted');
  });

  it.each([
    ['JSON', {}],
    ['a stream', { stream: true }],
  ])(
    'usage that counts nothing for an answer with text (%s) is replaced by counting (found by review: it was charged nothing)',
    async (_, extra) => {
      const { res, nanos, source } = await costOf('zero-usage', extra);
      expect(res.status).toBe(200);
      expect([nanos > 0, source]).toEqual([true, 'counted']);
    },
  );

  it('a stream the upstream cuts before its usage is charged what was counted; a whole stream its usage', async () => {
    const cut = await costOf('no-usage-cut', { stream: true });
    expect([cut.nanos > 0, cut.source]).toEqual([true, 'counted']);
    const cutWithUsageAsked = await costOf('cut', { stream: true });
    expect([cutWithUsageAsked.nanos > 0, cutWithUsageAsked.source]).toEqual([true, 'counted']);
    const whole = await costOf('gpt-4o-mini', { stream: true });
    expect([whole.nanos > 0, whole.source]).toEqual([true, 'reported']);
  });

  it('an upstream that takes the request and does not answer in time is charged the prompt it was sent, never $0 (found by review)', async () => {
    // Its request went out whole: the upstream may be working on it (and bill it) after Tollgate
    // gave up, as an upstream does for a long call whose client timed out.
    const before = config();
    configureApp({ config: { ...before, upstreamTimeoutMs: 250 } });
    try {
      const { key, record } = await seedKey({});
      const requestId = `req-hanging-${Math.random().toString(36).slice(2)}`;
      const res = await call({
        path: '/v1/chat/completions',
        headers: bearer(key),
        body: chat('hanging', 'count these five words'),
        requestId,
      });
      expect(res.status).toBe(504);
      expect(res.json.error.code).toBe('upstream_timeout');
      const settlement = await readItem(refs.settlement(requestId));
      expect(settlement?.usage_source).toBe('counted');
      // The prompt, no output: what it made, if anything, is not known.
      const log = JSON.parse(String(settlement?.[SPEND_LOG_ATTR])) as { prompt_tokens: number; completion_tokens: number };
      expect([log.prompt_tokens > 0, log.completion_tokens]).toEqual([true, 0]);
      expect(await spendNanos(refs.key(record.token))).toBeGreaterThan(0);
      // A call never charged that times out costs nothing (found by review): a listing, an upload.
      const spentBefore = await spendNanos(refs.key(record.token));
      const read = await call({ method: 'GET', path: '/v1/batches', headers: bearer(key) });
      expect(read.status).toBe(504);
      const form = new FormData();
      form.set('purpose', 'user_data');
      form.set('file', new Blob([Buffer.from('many words in a file that is uploaded '.repeat(200))], { type: 'text/plain' }), 'notes.txt');
      const upload = await call({ path: '/v1/files', headers: bearer(key), body: form });
      expect(upload.status).toBe(504);
      expect(await spendNanos(refs.key(record.token))).toBe(spentBefore);
      // A run started that timed out: billed later through the record its answer would have made,
      // but no answer came, so its prompt is charged now (found by review: it cost $0, for good).
      await objectOwners().put({
        object_id: 'asst_timeout',
        object_kind: 'assistant',
        key_hash: record.token,
        key_line: record.rate_id ?? record.token,
        user_id: record.user_id ?? null,
        team_id: record.team_id ?? null,
        organization_id: null,
        model: 'silent',
        created_at: new Date().toISOString(),
      });
      const run = await call({
        path: '/v1/threads/runs',
        headers: bearer(key),
        body: { assistant_id: 'asst_timeout', thread: { messages: [{ role: 'user', content: 'count these five words please' }] } },
      });
      expect(run.status).toBe(504);
      expect(await spendNanos(refs.key(record.token))).toBeGreaterThan(spentBefore);
    } finally {
      configureApp({ config: before });
    }
  });

  it('an upstream error costs nothing: it was not answered', async () => {
    const { key, record } = await seedKey({});
    const res = await call({ path: '/v1/chat/completions', headers: bearer(key), body: chat('failing', 'x') });
    expect(res.status).toBe(500);
    expect(await spendNanos(refs.key(record.token))).toBe(0);
  });
});

describe('output limits are numbers in range, and the strict estimate bounds them all', () => {
  it.each([
    ['max_tokens', 9007199254740991],
    ['max_tokens', 1e9 + 0.5],
    ['max_tokens', '50'],
    ['max_completion_tokens', 0],
    ['max_output_tokens', -1],
    ['n', 1e6],
    ['best_of', 129],
  ])('%s: %j is a 400 naming the field, never a 500', async (field, value) => {
    const { key } = await seedKey({});
    const res = await call({ path: '/v1/chat/completions', headers: bearer(key), body: chat('gpt-4o-mini', 'x', { [field]: value }) });
    expect([res.status, res.json.error?.code, res.json.error?.param]).toEqual([400, 'invalid_field', field]);
  });

  it('10 concurrent strict calls asking max_completion_tokens 100000 with max_tokens 1 stay within a 0.001 budget', async () => {
    await seedTeam({ team_id: 't-bound', max_budget: 0.001, enforcement: 'strict' });
    const { key } = await seedKey({ team_id: 't-bound' });
    const answers = await Promise.all(
      Array.from({ length: 10 }, () =>
        call({
          path: '/v1/chat/completions',
          headers: bearer(key),
          body: chat('gpt-4o-mini', 'hello', { max_completion_tokens: 100000, max_tokens: 1 }),
        }),
      ),
    );
    // The estimate is the largest limit (100000 output tokens, $0.06 at gpt-4o-mini's price): none fits.
    expect(answers.every((a) => a.status === 403 && a.json.error.code === 'team_budget_exceeded')).toBe(true);
    expect(await spendNanos(refs.team('t-bound'))).toBeLessThanOrEqual(1_000_000);
  });
});

describe('an answer that breaks off after reporting part of its usage (found by review)', () => {
  it('is charged the larger of what was reported and what was counted: the output received, not the first event’s 1 token', async () => {
    const { key, record } = await seedKey({});
    const requestId = `req-claude-cut-${Math.random().toString(36).slice(2)}`;
    const words = Array.from({ length: 60 }, (_, i) => `word${i}`).join(' ');
    const res = await call({
      path: '/v1/messages',
      headers: bearer(key),
      body: { model: 'claude-cut', max_tokens: 500, stream: true, messages: [{ role: 'user', content: words }] },
      requestId,
    });
    expect(res.status).toBe(200);
    const settlement = await readItem(refs.settlement(requestId));
    expect(settlement?.usage_source).toBe('counted');
    const log = JSON.parse(String(settlement?.[SPEND_LOG_ATTR])) as { prompt_tokens: number; completion_tokens: number };
    // About 27 words of the answer arrived before the cut; the first event said 1 output token.
    expect(log.completion_tokens).toBeGreaterThan(20);
    expect(await spendNanos(refs.key(record.token))).toBeGreaterThan(0);
  });
});
