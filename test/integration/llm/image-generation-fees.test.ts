/**
 * The Responses API's image generation tool runs an image model of its own, whose tokens OpenAI
 * reports apart from the call's, in `tool_usage.image_gen` (found by review: they were never read,
 * so every image the tool made cost $0). They are charged at the tool model's registry prices
 * (gpt-image-1 by default), the call's own tokens at the call model's, JSON and streamed, and the
 * spend log shows them. Tokens with no image model known to price them at (a tool the request did
 * not name, as a stored prompt's) charge the call's tokens only, and are logged and counted
 * (ImageGenerationUnpriced), never priced as the call model's. A strict caller is refused the tool.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { costNanos } from '../../../lib/domain/cost.js';
import type { ModelRecord } from '../../../lib/domain/records.js';
import { unpackLog } from '../../../lib/domain/spend-log.js';
import { refs } from '../../../lib/store/keys.js';
import { SPEND_LOG_ATTR } from '../../../lib/store/spend-ledger.js';
import { logger } from '../../../lib/telemetry.js';
import { bearer } from '../../support/authorizer.js';
import { metricValues } from '../../support/metrics.js';
import { seedKey, seedTeam } from '../../support/seed.js';
import { readItem, settledSpendNanos } from '../../support/spend.js';
import { useTestTable } from '../../support/table.js';
import { jsonUpstream, type TestUpstream } from '../../support/upstream.js';
import { call, seedModels, sseData } from './harness.js';

const SECRET = 'tollgate/image-generation';
const received: { tools?: unknown }[] = [];
let upstream: TestUpstream | undefined;

/** One high-quality 1024x1536 image: 6,240 output tokens; its prompt 60 tokens, 20 of them cached, 30 an input image. */
const IMAGE_GEN = {
  input_tokens: 60,
  input_tokens_details: { image_tokens: 30, text_tokens: 30 },
  output_tokens: 6240,
  output_tokens_details: { image_tokens: 6240, text_tokens: 0 },
  total_tokens: 6300,
  cached_tokens: 20,
};

async function start(): Promise<string> {
  upstream = await jsonUpstream((body, res, req) => {
    received.push({ tools: body.tools });
    const item = { type: 'image_generation_call', id: 'ig_1', status: 'completed', result: 'aW1hZ2U=' };
    const usage = { input_tokens: 100, output_tokens: 50 };
    // Whether the request named the tool or not (a stored prompt's tools run too): the upstream reports it.
    const tool_usage = { image_gen: IMAGE_GEN, web_search: { num_requests: 0 } };
    const id =
      req.method === 'GET' ? (req.url ?? '').split('/').at(-1) : body.background === true ? `resp_bg_${received.length}` : 'resp_1';
    const response = { id, object: 'response', model: body.model ?? 'gpt-4.1', status: 'completed', output: [item], usage, tool_usage };
    // In the background: queued now, done (with its usage) when it is read.
    if (body.background === true) {
      const queued = { ...response, status: 'queued', output: [], usage: null, tool_usage: null };
      // Made as a stream: its first events, then the client leaves (it reads the response later).
      if (body.stream === true) {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write(`event: response.created\ndata: ${JSON.stringify({ type: 'response.created', response: queued })}\n\n`);
        res.write(`event: response.queued\ndata: ${JSON.stringify({ type: 'response.queued', response: queued })}\n\n`);
        return void res.end();
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(queued));
      return;
    }
    if (body.stream !== true) {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(response));
      return;
    }
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    const ev = (type: string, data: Record<string, unknown>) => res.write(`event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`);
    ev('response.created', { response: { ...response, status: 'in_progress', output: [], usage: null, tool_usage: null } });
    ev('response.output_item.added', { output_index: 0, item: { ...item, status: 'in_progress', result: null } });
    ev('response.image_generation_call.partial_image', {
      output_index: 0,
      item_id: 'ig_1',
      partial_image_index: 0,
      partial_image_b64: 'cA==',
    });
    ev('response.output_item.done', { output_index: 0, item });
    // Cut after the image was made, before its usage.
    if (body.input === 'cut') return void setTimeout(() => res.destroy(), 50);
    ev('response.completed', { response });
    res.end();
  });
  return upstream.url;
}

const prices = { input_cost_per_million: 3, output_cost_per_million: 15 };
// gpt-image-1 as OpenAI prices it: $5/M input text, $10/M input images, $1.25/M cached, $40/M output.
const imagePrices = {
  input_cost_per_million: 5,
  input_image_cost_per_million: 10,
  output_cost_per_million: 40,
  cache_read_cost_per_million: 1.25,
};
const tokens = costNanos({ inputTokens: 100, outputTokens: 50 }, prices);
// 10 x $5/M + 30 x $10/M (the input image, found by review: it was charged at the text price)
// + 20 x $1.25/M + 6,240 x $40/M = $0.00005 + $0.0003 + $0.000025 + $0.2496
const IMAGE_NANOS = 249_975_000;

beforeAll(async () => {
  // Metrics on, to see ImageGenerationUnpriced (before the first metric is made).
  vi.stubEnv('POWERTOOLS_METRICS_DISABLED', 'false');
  const base = await start();
  await useTestTable({ TOLLGATE_LOCAL_SECRETS: JSON.stringify({ [SECRET]: 'k' }) });
  const model = (name: string, upstreamModel: string, p: Partial<ModelRecord>): ModelRecord => ({
    model_name: name,
    upstream_model: upstreamModel,
    upstream_base_url: `${base}/v1`,
    api_key_secret: SECRET,
    input_cost_per_million: 0,
    output_cost_per_million: 0,
    ...p,
    created_at: '2025-01-01T00:00:00.000Z',
  });
  await seedModels([model('gpt-draw', 'gpt-4.1', prices), model('gpt-image-1', 'gpt-image-1-2025-04-15', imagePrices)]);
  await seedTeam({ team_id: 'team-strict-images', max_budget: 10, enforcement: 'strict' });
});
afterAll(async () => {
  vi.unstubAllEnvs();
  await upstream?.close();
});

const body = (extra: Record<string, unknown> = {}) => ({
  model: 'gpt-draw',
  input: 'draw a cat',
  max_output_tokens: 100,
  tools: [{ type: 'image_generation', quality: 'high', size: '1024x1536' }],
  ...extra,
});
const logOf = async (requestId: string) => unpackLog((await readItem(refs.settlement(requestId)))?.[SPEND_LOG_ATTR] as string);

describe("the image generation tool's tokens are charged at its image model's prices", () => {
  it.each([
    ['JSON', {}],
    ['streamed', { stream: true }],
  ])(
    "%s: the call's tokens at its model's prices plus the image's at gpt-image-1's, and the spend log shows them",
    async (_what, extra) => {
      const { key, record } = await seedKey({});
      const requestId = randomUUID();
      const res = await call({ path: '/v1/responses', headers: bearer(key), body: body(extra), requestId });
      expect(res.status).toBe(200);
      if ('stream' in extra) expect(sseData(res.text).length).toBeGreaterThan(0);
      expect(await settledSpendNanos(refs.key(record.token))).toBe(tokens + IMAGE_NANOS);
      expect(await logOf(requestId)).toMatchObject({
        prompt_tokens: 100,
        completion_tokens: 50,
        image_generation_input_tokens: 60,
        image_generation_output_tokens: 6240,
        usage_source: 'reported',
        spend: (tokens + IMAGE_NANOS) / 1e9,
      });
    },
  );

  it('a stream cut before its usage: charged the image it made (its tool’s quality and size) and its partial image, never none', async () => {
    const { key, record } = await seedKey({});
    const requestId = randomUUID();
    const res = await call({ path: '/v1/responses', headers: bearer(key), body: body({ stream: true, input: 'cut' }), requestId });
    expect(res.status).toBe(200);
    // A high-quality 1024x1536 image (6,240 tokens) and one partial image (100), at gpt-image-1's $40 per 1M.
    const images = costNanos({ inputTokens: 0, outputTokens: 6340 }, imagePrices);
    expect(images).toBe(253_600_000);
    expect(await settledSpendNanos(refs.key(record.token))).toBeGreaterThan(images);
    expect(await logOf(requestId)).toMatchObject({ image_generation_output_tokens: 6340, usage_source: 'counted' });
  });

  it("a tool naming its model: that model's prices (here gpt-image-1 by its name, sent as its upstream id)", async () => {
    const { key, record } = await seedKey({});
    const res = await call({
      path: '/v1/responses',
      headers: bearer(key),
      body: body({ tools: [{ type: 'image_generation', model: 'gpt-image-1' }] }),
    });
    expect(res.status).toBe(200);
    expect(received.at(-1)?.tools).toEqual([{ type: 'image_generation', model: 'gpt-image-1-2025-04-15' }]);
    expect(await settledSpendNanos(refs.key(record.token))).toBe(tokens + IMAGE_NANOS);
  });

  it.each([
    ['JSON', {}],
    ['streamed', { stream: true }],
  ])(
    "%s, image tokens with no image model to price them (the request named no tool): the call's tokens only, logged and counted",
    async (_what, extra) => {
      const { key, record } = await seedKey({});
      const requestId = randomUUID();
      const warn = vi.spyOn(logger(), 'warn');
      try {
        const { values: counted } = await metricValues('ImageGenerationUnpriced', async () => {
          const res = await call({ path: '/v1/responses', headers: bearer(key), body: body({ tools: undefined, ...extra }), requestId });
          expect(res.status).toBe(200);
          // Never the image tokens at the call model's prices.
          expect(await settledSpendNanos(refs.key(record.token))).toBe(tokens);
        });
        expect(counted).toEqual([6300]);
        expect(warn).toHaveBeenCalledWith('image generation unpriced', { requestId, model: 'gpt-draw', imageGenerationTokens: 6300 });
      } finally {
        warn.mockRestore();
      }
      expect(await logOf(requestId)).toMatchObject({ image_generation_input_tokens: 60, image_generation_output_tokens: 6240 });
    },
  );
});

describe('a background response with the image generation tool', () => {
  it("is billed when a read finds it done: its tokens at its model's prices, the images at the tool model's the making call named", async () => {
    const { key, record } = await seedKey({});
    const made = await call({ path: '/v1/responses', headers: bearer(key), body: body({ background: true }) });
    expect(made.status).toBe(200);
    const id = JSON.parse(made.text).id as string;
    expect(await settledSpendNanos(refs.key(record.token))).toBe(0);
    const read = await call({ method: 'GET', path: `/v1/responses/${id}`, headers: bearer(key), requestId: randomUUID() });
    expect(read.status).toBe(200);
    // What happened: the call's tokens only; the image, $0.25, went unbilled.
    expect(await settledSpendNanos(refs.key(record.token))).toBe(tokens + IMAGE_NANOS);
    expect(await logOf(`object:${id}`)).toMatchObject({ image_generation_input_tokens: 60, image_generation_output_tokens: 6240 });
  });
});

describe('a background response made as a stream, with the image generation tool', () => {
  it("is billed when a read finds it done, the images at the tool model's prices (review: its record kept no image models)", async () => {
    const { key, record } = await seedKey({});
    const made = await call({ path: '/v1/responses', headers: bearer(key), body: body({ background: true, stream: true }) });
    expect(made.status).toBe(200);
    const id = (JSON.parse(sseData(made.text)[0] as string) as { response: { id: string } }).response.id;
    const read = await call({ method: 'GET', path: `/v1/responses/${id}`, headers: bearer(key), requestId: randomUUID() });
    expect(read.status).toBe(200);
    expect(await settledSpendNanos(refs.key(record.token))).toBe(tokens + IMAGE_NANOS);
  });
});

describe('a strict caller and the image generation tool', () => {
  it('is refused it (403 unbounded_server_tool naming it), even with max_tool_calls: no upstream call, nothing charged; served without it', async () => {
    const { key, record } = await seedKey({ team_id: 'team-strict-images' });
    const before = received.length;
    for (const extra of [{}, { max_tool_calls: 1 }]) {
      const res = await call({ path: '/v1/responses', headers: bearer(key), body: body(extra) });
      expect(res.status).toBe(403);
      expect(res.json.error).toMatchObject({ type: 'permission_error', code: 'unbounded_server_tool', param: 'tools' });
      expect(res.json.error.message).toContain('`image_generation`');
    }
    expect(received.length).toBe(before);
    expect(await settledSpendNanos(refs.key(record.token))).toBe(0);
    // Without the tool, the same caller is served.
    expect((await call({ path: '/v1/responses', headers: bearer(key), body: body({ tools: [] }) })).status).toBe(200);
  });
});
