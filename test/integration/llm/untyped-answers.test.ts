/**
 * An answer is metered whatever its content type says (found by review): an OpenAI-compatible
 * upstream answering a chat as JSON under `text/plain` (or no type), or streaming its events
 * without `text/event-stream`, had its usage unread and its text uncounted: the prompt alone was
 * charged.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { costNanos } from '../../../lib/domain/cost.js';
import type { ModelRecord } from '../../../lib/domain/records.js';
import { unpackLog } from '../../../lib/domain/spend-log.js';
import { refs } from '../../../lib/store/keys.js';
import { SPEND_LOG_ATTR } from '../../../lib/store/spend-ledger.js';
import { bearer } from '../../support/authorizer.js';
import { seedKey } from '../../support/seed.js';
import { readItem, spendNanos } from '../../support/spend.js';
import { call, chat, passthroughTable, standInUpstream } from './harness.js';

const usage = { prompt_tokens: 1000, completion_tokens: 2000, total_tokens: 3000 };
const answer = { id: 'c1', object: 'chat.completion', choices: [{ index: 0, message: { role: 'assistant', content: 'hi' } }], usage };
const events = [
  `data: ${JSON.stringify({ id: 'c1', object: 'chat.completion.chunk', choices: [{ index: 0, delta: { content: 'hi' } }] })}`,
  `data: ${JSON.stringify({ id: 'c1', object: 'chat.completion.chunk', choices: [], usage })}`,
  'data: [DONE]',
]
  .map((e) => `${e}\n\n`)
  .join('');
let upstream: { base: string; close: () => Promise<void> };
let mini: ModelRecord;

beforeAll(async () => {
  upstream = await standInUpstream((req, raw, res) => {
    if (req.url?.startsWith('/v1/files')) {
      // A file whose content reads as events (with a usage in them): its download is no answer to meter.
      if (req.method === 'POST') {
        res.writeHead(200, { 'content-type': 'application/json' });
        return res.end(JSON.stringify({ id: 'file-events', object: 'file', purpose: 'assistants', filename: 'log.txt' }));
      }
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      return res.end(events);
    }
    const said = String((JSON.parse(raw) as { messages: { content: string }[] }).messages[0]?.content);
    const [shape, type] = said.split(' ');
    res.writeHead(200, type === 'none' ? {} : { 'content-type': type as string });
    res.end(shape === 'events' ? events : shape === 'keepalive' ? `: keep-alive\n\n${events}` : JSON.stringify(answer));
  });
  mini = await passthroughTable(upstream.base);
  return () => upstream.close();
});

const reported = () => costNanos({ inputTokens: usage.prompt_tokens, outputTokens: usage.completion_tokens }, mini);

describe('a download that reads as events', () => {
  it("a file's content is not metered, whatever it holds (found by review: charged as an answer)", async () => {
    const { key, record } = await seedKey({});
    const form = new FormData();
    form.set('purpose', 'assistants');
    form.set('file', new Blob([events], { type: 'text/plain' }), 'log.txt');
    const made = await call({ path: '/v1/files', headers: bearer(key), body: form });
    expect(made.status).toBe(200);
    for (let i = 0; i < 2; i++) {
      const content = await call({ method: 'GET', path: `/v1/files/${made.json.id}/content`, headers: bearer(key) });
      expect(content.status).toBe(200);
    }
    expect(await spendNanos(refs.key(record.token))).toBe(0);
  });
});

describe('an answer whose content type does not say what it is', () => {
  it.each([
    ['JSON under text/plain', 'json text/plain', false],
    ['JSON with no content type', 'json none', false],
    ['events under text/plain, for a stream', 'events text/plain', true],
    ['events under application/octet-stream, for a stream', 'events application/octet-stream', true],
    ['events opening with a keep-alive comment, under text/plain', 'keepalive text/plain', true],
  ])('%s: charged the usage it reports', async (_, said, stream) => {
    const { key, record } = await seedKey({});
    const requestId = `req-untyped-${Math.random().toString(36).slice(2)}`;
    const res = await call({ path: '/v1/chat/completions', headers: bearer(key), body: chat('gpt-4o-mini', said, { stream }), requestId });
    expect(res.status).toBe(200);
    expect(await spendNanos(refs.key(record.token))).toBe(reported());
    const log = unpackLog((await readItem(refs.settlement(requestId)))?.[SPEND_LOG_ATTR] as string);
    expect(log).toMatchObject({ prompt_tokens: 1000, completion_tokens: 2000, usage_source: 'reported' });
  });
});
