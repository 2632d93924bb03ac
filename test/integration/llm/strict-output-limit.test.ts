/**
 * A strict call's reservation holds its output up to a limit, and the upstream is held to the same
 * limit (found by review: a call naming no output limit reserved TOLLGATE_STRICT_DEFAULT_MAX_TOKENS
 * of output and the upstream, sent no limit, generated 60,000 tokens, 14.6 times the hold). A
 * strict call naming none is sent the default in its route's field; one naming its own, or any
 * fast call, is sent as it came. And input the upstream keeps (a stored response or conversation
 * continued), billed beyond the body's size, is refused to a strict caller.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { mockLocalSecrets, mockModels } from '../../../infra/local/mock-models.js';
import type { ModelRecord } from '../../../lib/domain/records.js';
import { bearer } from '../../support/authorizer.js';
import { seedKey, seedTeam } from '../../support/seed.js';
import { useTestTable } from '../../support/table.js';
import { jsonUpstream } from '../../support/upstream.js';
import { call, seedModels } from './harness.js';

/** What the upstream was sent: path and JSON body, in order. */
const received: { path: string; body: Record<string, unknown> }[] = [];
const DEFAULT_LIMIT = 777;

const usage = { prompt_tokens: 5, completion_tokens: 3, total_tokens: 8 };
function answerFor(path: string): unknown {
  if (path.endsWith('/v1/messages'))
    return {
      id: 'msg_1',
      type: 'message',
      role: 'assistant',
      model: 'claude-3-5-haiku-20241022',
      content: [{ type: 'text', text: 'hi' }],
      stop_reason: 'end_turn',
      usage: { input_tokens: 5, output_tokens: 3 },
    };
  if (path.endsWith('/responses'))
    return {
      id: `resp_${received.length}`,
      object: 'response',
      status: 'completed',
      output: [{ type: 'message', role: 'assistant', content: [{ type: 'output_text', text: 'hi' }] }],
      usage: { input_tokens: 5, output_tokens: 3, total_tokens: 8 },
    };
  if (path.endsWith('/completions') && !path.endsWith('/chat/completions'))
    return { id: 'cmpl-1', object: 'text_completion', choices: [{ index: 0, text: 'hi', finish_reason: 'stop' }], usage };
  return {
    id: 'chatcmpl-1',
    object: 'chat.completion',
    choices: [{ index: 0, message: { role: 'assistant', content: 'hi' }, finish_reason: 'stop' }],
    usage,
  };
}

beforeAll(async () => {
  const upstream = await jsonUpstream((body, res, req) => {
    const path = (req.url ?? '').split('?')[0] as string;
    received.push({ path, body });
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(answerFor(path)));
  });
  const base = upstream.url;
  await useTestTable({
    TOLLGATE_MASTER_KEY: 'sk-master-strict-output-limit',
    TOLLGATE_LOCAL_SECRETS: JSON.stringify({ ...mockLocalSecrets(), 'anthropic-test': 'sk-ant-test-upstream-0000000000' }),
    TOLLGATE_STRICT_DEFAULT_MAX_TOKENS: String(DEFAULT_LIMIT),
  });
  const claude: ModelRecord = {
    model_name: 'claude-test',
    provider: 'anthropic',
    upstream_base_url: base,
    upstream_model: 'claude-3-5-haiku-20241022',
    api_key_secret: 'anthropic-test',
    input_cost_per_million: 0.8,
    output_cost_per_million: 4,
    access_groups: [],
    aliases: [],
    created_at: '2024-07-18T00:00:00.000Z',
  };
  await seedModels([...mockModels(`${base}/v1`), claude]);
  await seedTeam({ team_id: 'team-strict', max_budget: 10, enforcement: 'strict' });
  await seedTeam({ team_id: 'team-fast', max_budget: 10 });
  return upstream.close;
});

afterEach(() => {
  received.length = 0;
});

const ROUTES: [string, string, Record<string, unknown>, string][] = [
  ['chat completions', '/v1/chat/completions', { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }, 'max_tokens'],
  ['completions', '/v1/completions', { model: 'gpt-4o-mini', prompt: 'hi' }, 'max_tokens'],
  ['responses', '/v1/responses', { model: 'gpt-4o-mini', input: 'hi' }, 'max_output_tokens'],
  ['Anthropic messages', '/v1/messages', { model: 'claude-test', messages: [{ role: 'user', content: 'hi' }] }, 'max_tokens'],
];
const LIMITS = ['max_tokens', 'max_completion_tokens', 'max_output_tokens'];

describe('a strict call naming no output limit', () => {
  it.each(ROUTES)('%s: is sent the default limit in its route’s field', async (_what, path, body, field) => {
    const { key } = await seedKey({ team_id: 'team-strict' });
    const res = await call({ path, headers: bearer(key), body });
    expect(res.status).toBe(200);
    expect(received).toHaveLength(1);
    const sent = received[0]?.body as Record<string, unknown>;
    expect(sent[field]).toBe(DEFAULT_LIMIT);
    // Only that field: a second limit could be one the upstream refuses.
    expect(LIMITS.filter((f) => f in sent)).toEqual([field]);
  });
});

describe('sent as it came', () => {
  it.each(ROUTES)(
    '%s: a strict call naming its own limit in a field the route reads; one it does not read gains the route’s',
    async (_what, path, body, field) => {
      const { key } = await seedKey({ team_id: 'team-strict' });
      const reads = path === '/v1/chat/completions' ? ['max_tokens', 'max_completion_tokens'] : [field];
      for (const f of LIMITS) {
        received.length = 0;
        const res = await call({ path, headers: bearer(key), body: { ...body, [f]: 12 } });
        expect(res.status).toBe(200);
        const sent = received[0]?.body as Record<string, unknown>;
        // Found by review: a limit in a field the upstream ignores held the estimate to it, and bound nothing.
        const expected = reads.includes(f) ? { [f]: 12 } : { [f]: 12, [field]: 12 };
        expect(Object.fromEntries(LIMITS.filter((l) => l in sent).map((l) => [l, sent[l]]))).toEqual(expected);
      }
    },
  );

  it.each(ROUTES)('%s: a fast call naming none', async (_what, path, body) => {
    const { key } = await seedKey({ team_id: 'team-fast' });
    const res = await call({ path, headers: bearer(key), body });
    expect(res.status).toBe(200);
    expect(received).toHaveLength(1);
    expect(LIMITS.filter((f) => f in (received[0]?.body ?? {}))).toEqual([]);
  });
});

describe('input the upstream keeps, billed beyond what the request shows', () => {
  it.each<[string, Record<string, unknown>, string]>([
    ['a stored response continued', { previous_response_id: 'resp_earlier' }, 'previous_response_id'],
    ['a conversation continued (by id)', { conversation: 'conv_1' }, 'conversation'],
    ['a conversation continued (as an object)', { conversation: { id: 'conv_1' } }, 'conversation'],
    ['stored items named', { input: [{ type: 'item_reference', id: 'msg_1' }] }, 'input'],
  ])('%s: a strict caller gets 403 unbounded_input naming it, and no upstream call', async (_what, extra, param) => {
    const { key } = await seedKey({ team_id: 'team-strict' });
    const res = await call({
      path: '/v1/responses',
      headers: bearer(key),
      body: { model: 'gpt-4o-mini', input: 'continue', max_output_tokens: 10, ...extra },
    });
    expect(res.status).toBe(403);
    expect(res.json.error).toMatchObject({ type: 'permission_error', code: 'unbounded_input', param });
    expect(res.json.error.message).toContain(`strict enforcement cannot reserve the cost of \`${param}\``);
    expect(received).toHaveLength(0);
  });
});
