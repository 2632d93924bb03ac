/**
 * Answers that are not text (found by review): speech audio, and images as URLs, come without
 * usage, and counting their text found the prompt only, so their output was free and `n` images
 * cost what one did. Their output is charged at the estimate's (the request's output limit, else
 * TOLLGATE_STRICT_DEFAULT_MAX_TOKENS, times `n`), recorded as estimated; an answer that reports
 * usage (gpt-image-1) is charged its usage.
 */
import { beforeAll, expect, it } from 'vitest';
import { costNanos } from '../../../lib/domain/cost.js';
import type { ModelRecord } from '../../../lib/domain/records.js';
import { refs } from '../../../lib/store/keys.js';
import { bearer } from '../../support/authorizer.js';
import { seedKey, seedTeam } from '../../support/seed.js';
import { readItem, spendNanos } from '../../support/spend.js';
import { call, passthroughTable, standInUpstream } from './harness.js';

const DEFAULT_MAX_TOKENS = 4096;
let mini: ModelRecord;

beforeAll(async () => {
  const upstream = await standInUpstream((req, raw, res) => {
    if (req.url === '/v1/audio/speech') {
      res.writeHead(200, { 'content-type': 'audio/mpeg' });
      return void res.end(Buffer.alloc(48_000, 7));
    }
    if (req.url === '/v1/images/generations') {
      const body = JSON.parse(raw || '{}') as { n?: number; prompt?: string };
      const data = Array.from({ length: body.n ?? 1 }, (_, i) => ({ url: `https://img.example/${i}.png`, revised_prompt: body.prompt }));
      // `usage-reported` is a gpt-image-1-like answer, with its usage.
      const usage = body.prompt === 'usage-reported' ? { input_tokens: 10, output_tokens: 4000, total_tokens: 4010 } : undefined;
      res.writeHead(200, { 'content-type': 'application/json' });
      return void res.end(JSON.stringify({ created: 1, data, ...(usage ? { usage } : {}) }));
    }
    if (req.url === '/v1/images/edits') {
      // A multipart edit (dall-e-2's way, no usage): as many images as its form's `n`.
      const n = Number(/name="n"\r\n\r\n([0-9]+)/.exec(raw)?.[1] ?? 1);
      res.writeHead(200, { 'content-type': 'application/json' });
      return void res.end(
        JSON.stringify({ created: 1, data: Array.from({ length: n }, (_, i) => ({ url: `https://img.example/${i}.png` })) }),
      );
    }
    res.writeHead(404).end();
  });
  mini = await passthroughTable(upstream.base);
  await seedTeam({ team_id: 'team-nt' });
  return () => upstream.close();
});

/** The key's spend and its settlement's usage source after one call (a form: sent as multipart). */
async function charged(path: string, body: Record<string, unknown> | FormData) {
  const { key, record } = await seedKey({ team_id: 'team-nt' });
  const requestId = `req-nt-${Math.random()}`;
  const res = await call({ path, requestId, body, headers: bearer(key) });
  expect(res.status).toBe(200);
  return { nanos: await spendNanos(refs.key(record.token)), source: (await readItem(refs.settlement(requestId)))?.usage_source };
}

const outputOnly = (tokens: number) => costNanos({ inputTokens: 0, outputTokens: tokens }, mini);

it('speech: its output is charged at the estimate, not free', async () => {
  const { nanos, source } = await charged('/v1/audio/speech', { model: 'gpt-4o-mini', input: 'Read this aloud, please.', voice: 'alloy' });
  expect(nanos).toBeGreaterThanOrEqual(outputOnly(DEFAULT_MAX_TOKENS));
  expect(source).toBe('estimated');
});

it('images without usage: each of `n` charged at the estimate', async () => {
  const one = await charged('/v1/images/generations', { model: 'gpt-4o-mini', prompt: 'a cat' });
  const four = await charged('/v1/images/generations', { model: 'gpt-4o-mini', prompt: 'a cat', n: 4 });
  expect(one.nanos).toBeGreaterThanOrEqual(outputOnly(DEFAULT_MAX_TOKENS));
  expect(four.nanos).toBeGreaterThanOrEqual(outputOnly(4 * DEFAULT_MAX_TOKENS));
  expect([one.source, four.source]).toEqual(['estimated', 'estimated']);
});

it('images without usage naming neither quality nor size: `auto`, each charged the dearest 6,240 tokens; dall-e’s `standard`, the limit', async () => {
  // Beside the output, only the body's few bytes of input: far less than 200 output tokens.
  const within = (nanos: number, tokens: number) => {
    expect(nanos).toBeGreaterThanOrEqual(outputOnly(tokens));
    expect(nanos).toBeLessThan(outputOnly(tokens + 200));
  };
  within((await charged('/v1/images/generations', { model: 'gpt-4o-mini', prompt: 'a cat' })).nanos, 6240);
  within((await charged('/v1/images/generations', { model: 'gpt-4o-mini', prompt: 'a cat', n: 2 })).nanos, 2 * 6240);
  within(
    (await charged('/v1/images/generations', { model: 'gpt-4o-mini', prompt: 'a cat', quality: 'standard' })).nanos,
    DEFAULT_MAX_TOKENS,
  );
});

it('an image edit sent as a form: each of its `n` charged, as a JSON body’s (found by review: charged as one)', async () => {
  const form = (n: string) => {
    const f = new FormData();
    f.set('model', 'gpt-4o-mini');
    f.set('prompt', 'a hat on the cat');
    f.set('n', n);
    f.set('image', new Blob([Buffer.from('PNG-bytes')], { type: 'image/png' }), 'cat.png');
    return f;
  };
  const one = await charged('/v1/images/edits', form('1'));
  const ten = await charged('/v1/images/edits', form('10'));
  expect(one.nanos).toBeGreaterThanOrEqual(outputOnly(DEFAULT_MAX_TOKENS));
  expect(ten.nanos).toBeGreaterThanOrEqual(outputOnly(10 * DEFAULT_MAX_TOKENS));
  expect(ten.nanos - one.nanos).toBeGreaterThanOrEqual(outputOnly(9 * DEFAULT_MAX_TOKENS));
  expect([one.source, ten.source]).toEqual(['estimated', 'estimated']);
});

it('images that report usage are charged their usage', async () => {
  const { nanos, source } = await charged('/v1/images/generations', { model: 'gpt-4o-mini', prompt: 'usage-reported' });
  expect(nanos).toBe(costNanos({ inputTokens: 10, outputTokens: 4000 }, mini));
  expect(source).toBe('reported');
});
