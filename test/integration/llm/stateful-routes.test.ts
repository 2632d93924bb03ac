/**
 * Stateful routes (issue 11): objects made through Tollgate (stored responses, files, batches)
 * belong to the tenant that made them. Another tenant gets 404 for them and never sees them in a
 * list; reading a stored response never bills again; a background response and a batch are billed
 * once, when a read first finds them done; uploads, reads and deletions are never billed.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { handler as keysHandler } from '../../../functions/keys/handler.js';
import { MOCK_UPSTREAM_KEY, mockLocalSecrets, mockModels } from '../../../infra/local/mock-models.js';
import { type MockUpstream, startMockUpstream } from '../../../infra/local/mock-upstream.js';
import type { ModelRecord } from '../../../lib/domain/records.js';
import { unpackLog } from '../../../lib/domain/spend-log.js';
import { refs } from '../../../lib/store/keys.js';
import { objectRef } from '../../../lib/store/objects.js';
import { SPEND_LOG_ATTR } from '../../../lib/store/spend-ledger.js';
import { callApi } from '../../support/admin.js';
import { bearer } from '../../support/authorizer.js';
import { seedKey, seedTeam } from '../../support/seed.js';
import { readItem, spendNanos } from '../../support/spend.js';
import { useTestTable } from '../../support/table.js';
import { backgroundResponse, call, seedModels } from './harness.js';

const MASTER = 'sk-master-stateful-0123456789abcdef';
let mock: MockUpstream;
let mini: ModelRecord;
// Two tenants: team A (two keys) and team B.
let a1: { key: string; token: string };
let a2: { key: string; token: string };
let b: { key: string; token: string };

beforeAll(async () => {
  mock = await startMockUpstream({ apiKey: MOCK_UPSTREAM_KEY });
  await useTestTable({
    TOLLGATE_MASTER_KEY: MASTER,
    TOLLGATE_LOCAL_SECRETS: JSON.stringify(mockLocalSecrets()),
    TOLLGATE_PASSTHROUGH_MODEL: 'gpt-4o-mini',
  });
  mini = mockModels(mock.url).find((m) => m.model_name === 'gpt-4o-mini') as ModelRecord;
  await seedModels(mockModels(mock.url));
  await seedTeam({ team_id: 'team-a' });
  await seedTeam({ team_id: 'team-b' });
  const key = async (team: string) => {
    const { key, record } = await seedKey({ team_id: team });
    return { key, token: record.token };
  };
  [a1, a2, b] = [await key('team-a'), await key('team-a'), await key('team-b')];
  return () => mock.close();
});

const spendOf = (t: { token: string }) => spendNanos(refs.key(t.token));
/** n input and m output tokens of gpt-4o-mini, in nano-dollars. */
const price = (input: number, output: number) =>
  Math.round(input * mini.input_cost_per_million * 1000 + output * mini.output_cost_per_million * 1000);

async function upload(who: { key: string }) {
  const form = new FormData();
  form.set('purpose', 'batch');
  form.set('file', new Blob(['{"custom_id":"1","body":{"model":"gpt-4o-mini"}}\n'], { type: 'application/jsonl' }), 'batch.jsonl');
  return call({ path: '/v1/files', headers: bearer(who.key), body: form });
}

/** A batch made by `key` over a file it uploaded. */
async function batchOf(key: string) {
  const file = await upload({ key });
  return call({
    path: '/v1/batches',
    headers: bearer(key),
    body: { input_file_id: file.json.id, endpoint: '/v1/chat/completions', completion_window: '24h' },
  });
}

describe('stored responses', () => {
  it('made by team A: billed once; another team gets 404 and is billed nothing; team A reads it again for free', async () => {
    const before = { a1: await spendOf(a1), b: await spendOf(b) };
    const made = await call({ path: '/v1/responses', headers: bearer(a1.key), body: { model: 'gpt-4o-mini', input: 'Hello there' } });
    expect(made.status).toBe(200);
    const id = made.json.id as string;
    const charged = (await spendOf(a1)) - before.a1;
    expect(charged).toBe(price(2, 4));

    const other = await call({ method: 'GET', path: `/v1/responses/${id}`, headers: bearer(b.key) });
    expect(other.status).toBe(404);
    expect(other.json.error).toMatchObject({ code: 'response_not_found', type: 'not_found_error' });
    const polled = mock.requests.filter((r) => r.method === 'GET' && r.path === `/responses/${id}`).length;
    expect(polled).toBe(0); // refused before any upstream call

    for (const who of [a1, a2, a1]) {
      const read = await call({ method: 'GET', path: `/v1/responses/${id}`, headers: bearer(who.key) });
      expect(read.status).toBe(200);
      expect(read.json.usage.output_tokens).toBe(4);
    }
    expect((await spendOf(a1)) - before.a1).toBe(charged);
    expect(await spendOf(a2)).toBe(0);
    expect(await spendOf(b)).toBe(before.b);

    const gone = await call({ method: 'DELETE', path: `/v1/responses/${id}`, headers: bearer(b.key) });
    expect(gone.status).toBe(404);
    expect((await call({ method: 'DELETE', path: `/v1/responses/${id}`, headers: bearer(a2.key) })).status).toBe(200);
    expect(await readItem(objectRef(id))).toBeUndefined();
  });

  it('an object Tollgate never saw made is nobody’s: 404, except to a proxy admin', async () => {
    expect((await call({ method: 'GET', path: '/v1/responses/resp_elsewhere', headers: bearer(a1.key) })).json.error.code).toBe(
      'response_not_found',
    );
    const admin = await call({ method: 'GET', path: '/v1/responses/resp_elsewhere', headers: bearer(MASTER) });
    expect(admin.status).toBe(404); // the upstream's own answer: the master key reaches the upstream
    expect(admin.json.error.code).toBeNull();
  });

  it('made in the background: nothing billed until a read finds it done, then exactly its usage, once', async () => {
    const { key, record, made } = await backgroundResponse('gpt-4o-mini');
    expect(await spendNanos(refs.key(record.token))).toBe(0);
    expect((await readItem(objectRef(made.json.id)))?.billing).toBe('pending');
    // Two reads at once, and a third after: one bill.
    const reads = await Promise.all([0, 1].map(() => call({ method: 'GET', path: `/v1/responses/${made.json.id}`, headers: bearer(key) })));
    expect(reads.map((r) => r.json.status)).toEqual(['completed', 'completed']);
    await call({ method: 'GET', path: `/v1/responses/${made.json.id}`, headers: bearer(key) });
    expect(await spendNanos(refs.key(record.token))).toBe(price(2, 4));
    expect((await readItem(objectRef(made.json.id)))?.billing).toBe('billed');
  });
});

describe('files and batches', () => {
  it('an upload is not billed; lists show each tenant only its own; another tenant gets 404', async () => {
    const before = await spendOf(a1);
    const up = await upload(a1);
    expect(up.status).toBe(200);
    const fileId = up.json.id as string;
    expect(await spendOf(a1)).toBe(before);
    const theirs = await upload(b);

    const listA = await call({ method: 'GET', path: '/v1/files', headers: bearer(a2.key) });
    const listB = await call({ method: 'GET', path: '/v1/files', headers: bearer(b.key) });
    const ids = (r: typeof listA) => (r.json.data as { id: string }[]).map((f) => f.id);
    expect(ids(listA)).toContain(fileId);
    expect(ids(listA)).not.toContain(theirs.json.id);
    expect(ids(listB)).toEqual([theirs.json.id]);
    expect(listB.json).toMatchObject({ first_id: theirs.json.id, last_id: theirs.json.id });
    // The master key sees the upstream's whole list.
    expect(ids(await call({ method: 'GET', path: '/v1/files', headers: bearer(MASTER) }))).toEqual(
      expect.arrayContaining([fileId, theirs.json.id]),
    );

    for (const [method, path] of [
      ['GET', `/v1/files/${fileId}`],
      ['GET', `/v1/files/${fileId}/content`],
      ['DELETE', `/v1/files/${fileId}`],
    ] as const) {
      const res = await call({ method, path, headers: bearer(b.key) });
      expect([method, path, res.status, res.json?.error?.code]).toEqual([method, path, 404, 'file_not_found']);
    }
    expect((await call({ method: 'GET', path: `/v1/files/${fileId}`, headers: bearer(a2.key) })).json.id).toBe(fileId);
  });

  it('a batch is billed once, when a read finds it completed with its usage; never to another tenant', async () => {
    const { key, record } = await seedKey({ team_id: 'team-a' });
    const made = await batchOf(key);
    expect(made.status).toBe(200);
    expect(await spendNanos(refs.key(record.token))).toBe(0);
    expect((await call({ method: 'GET', path: `/v1/batches/${made.json.id}`, headers: bearer(b.key) })).status).toBe(404);
    for (let i = 0; i < 3; i++) {
      const read = await call({ method: 'GET', path: `/v1/batches/${made.json.id}`, headers: bearer(key) });
      expect(read.json.status).toBe('completed');
    }
    expect(await spendNanos(refs.key(record.token))).toBe(price(20, 40));
    expect(await spendOf(b)).toBe(0);
  });
});

describe("a batch's output is its maker's (found by review)", () => {
  it("the output file a finished batch names is readable by the batch's team, and by no other", async () => {
    const made = await batchOf(a1.key);
    const done = await call({ method: 'GET', path: `/v1/batches/${made.json.id}`, headers: bearer(a1.key) });
    const output = done.json.output_file_id as string;
    expect(output).toMatch(/^file-out/);
    for (const who of [a1, a2]) {
      const read = await call({ method: 'GET', path: `/v1/files/${output}/content`, headers: bearer(who.key) });
      expect(read.status).toBe(200);
    }
    expect(
      (await call({ method: 'GET', path: '/v1/files', headers: bearer(a2.key) })).json.data.map((f: { id: string }) => f.id),
    ).toContain(output);
    expect((await call({ method: 'GET', path: `/v1/files/${output}/content`, headers: bearer(b.key) })).status).toBe(404);
  });
});

describe('billing of stored objects, once and to their maker (found by review)', () => {
  it('a response made as a stream is billed by its stream; reading it again, as JSON or as a stream, bills nothing', async () => {
    const { key, record } = await seedKey({ team_id: 'team-a' });
    const made = await call({
      path: '/v1/responses',
      headers: bearer(key),
      body: { model: 'gpt-4o-mini', input: 'Hello there', stream: true },
    });
    expect(made.text).toContain('response.completed');
    const id = /"id":"(resp_[A-Za-z0-9]+)"/.exec(made.text)?.[1] as string;
    expect(await spendNanos(refs.key(record.token))).toBe(price(2, 4));
    expect((await call({ method: 'GET', path: `/v1/responses/${id}`, headers: bearer(key) })).status).toBe(200);
    expect(await spendNanos(refs.key(record.token))).toBe(price(2, 4));
  });

  it('a background response deleted before any read found it ended is billed once, for what it did, not $0', async () => {
    const { key, record, made } = await backgroundResponse('gpt-4o-mini');
    expect((await call({ method: 'DELETE', path: `/v1/responses/${made.json.id}`, headers: bearer(key) })).status).toBe(200);
    expect(await spendNanos(refs.key(record.token))).toBe(price(2, 4));
    expect((await call({ method: 'GET', path: `/v1/responses/${made.json.id}`, headers: bearer(key) })).status).toBe(404);
  });

  it("a batch's bill has its spend log, as any call's: its maker, its model, its tokens", async () => {
    const { key, record } = await seedKey({ team_id: 'team-a' });
    const made = await batchOf(key);
    await call({ method: 'GET', path: `/v1/batches/${made.json.id}`, headers: bearer(a2.key) });
    const settlement = await readItem(refs.settlement(`object:${made.json.id}`));
    expect(settlement?.[SPEND_LOG_ATTR]).toBeDefined();
    expect(unpackLog(settlement?.[SPEND_LOG_ATTR] as string)).toMatchObject({
      request_id: `object:${made.json.id}`,
      model: 'gpt-4o-mini',
      api_key: record.token,
      team_id: 'team-a',
      prompt_tokens: 20,
      completion_tokens: 40,
      usage_source: 'reported',
      status: 'success',
    });
  });

  it('cancelling a batch bills nothing by itself; the batch is billed once, for what it did', async () => {
    const { key, record } = await seedKey({ team_id: 'team-a' });
    const made = await batchOf(key);
    expect((await call({ method: 'POST', path: `/v1/batches/${made.json.id}/cancel`, headers: bearer(key) })).status).toBe(200);
    await call({ method: 'GET', path: `/v1/batches/${made.json.id}`, headers: bearer(key) });
    await call({ method: 'GET', path: `/v1/batches/${made.json.id}`, headers: bearer(key) });
    expect(await spendNanos(refs.key(record.token))).toBe(price(20, 40));
  });

  it.each([
    ['a proxy admin', () => MASTER],
    ['a teammate', () => a2.key],
  ])('a pending batch first read by %s is billed to the key that made it', async (_, reader) => {
    const { key, record } = await seedKey({ team_id: 'team-a' });
    const readerBefore = await spendOf(a2);
    const made = await batchOf(key);
    expect((await call({ method: 'GET', path: `/v1/batches/${made.json.id}`, headers: bearer(reader()) })).json.status).toBe('completed');
    await call({ method: 'GET', path: `/v1/batches/${made.json.id}`, headers: bearer(key) });
    expect(await spendNanos(refs.key(record.token))).toBe(price(20, 40));
    expect(await spendNanos(refs.team('team-a'))).toBeGreaterThanOrEqual(price(20, 40));
    expect(await spendOf(a2)).toBe(readerBefore);
  });
});

describe("objects a body names are the caller's own, as in the path (found by review)", () => {
  it("another team can neither continue team A's response nor batch over its file: 404, nothing forwarded", async () => {
    const response = (await call({ path: '/v1/responses', headers: bearer(a1.key), body: { model: 'gpt-4o-mini', input: 'secret plan' } }))
      .json.id as string;
    const file = (await upload(a1)).json.id as string;
    const bodies: [string, Record<string, unknown>][] = [
      ['/v1/responses', { model: 'gpt-4o-mini', input: 'repeat', previous_response_id: response }],
      ['/v1/responses', { model: 'gpt-4o-mini', input: [{ role: 'user', content: [{ type: 'input_file', file_id: file }] }] }],
      ['/v1/batches', { input_file_id: file, endpoint: '/v1/chat/completions', completion_window: '24h' }],
    ];
    for (const [path, body] of bodies) {
      const before = mock.requests.length;
      const res = await call({ path, headers: bearer(b.key), body });
      expect([path, res.status, res.json.error?.type, mock.requests.length - before]).toEqual([path, 404, 'not_found_error', 0]);
    }
    // Its own team may, and so may a proxy admin.
    expect((await call({ path: '/v1/responses', headers: bearer(a2.key), body: bodies[0]?.[1] })).status).toBe(200);
    expect((await call({ path: '/v1/batches', headers: bearer(MASTER), body: bodies[2]?.[1] })).status).toBe(200);
  });

  it("another team cannot pull team A's output into its input by reference (`item_reference`): 404, nothing forwarded", async () => {
    const made = await call({ path: '/v1/responses', headers: bearer(a1.key), body: { model: 'gpt-4o-mini', input: 'secret plan' } });
    const item = made.json.output[0].id as string;
    const input = [{ type: 'item_reference', id: item }];
    const before = mock.requests.length;
    const res = await call({ path: '/v1/responses', headers: bearer(b.key), body: { model: 'gpt-4o-mini', input } });
    expect([res.status, res.json.error?.type, mock.requests.length - before]).toEqual([404, 'not_found_error', 0]);
    expect((await call({ path: '/v1/responses', headers: bearer(a2.key), body: { model: 'gpt-4o-mini', input } })).status).toBe(200);
  });

  it.each([
    ['an item reference', { input: [{ type: 'item_reference', id: 'msg_never_made' }] }],
    ['previous_response_id', { previous_response_id: 'resp_never_made' }],
    ['input_file_id', { input_file_id: 'file-never-made' }],
    ['file_id, nested', { input: [{ role: 'user', content: [{ type: 'input_file', file_id: 'file-never-made' }] }] }],
    ['file_ids', { file_ids: ['file-never-made'] }],
    ['assistant_id', { assistant_id: 'asst_never_made' }],
    ['thread_id', { thread_id: 'thread_never_made' }],
    ['an id longer than any recorded', { previous_response_id: 'r'.repeat(5000) }],
  ])('%s that Tollgate never saw made: 404 before any upstream call', async (_, extra) => {
    const before = mock.requests.length;
    const res = await call({ path: '/v1/responses', headers: bearer(a1.key), body: { model: 'gpt-4o-mini', input: 'x', ...extra } });
    expect([res.status, res.json.error?.type, mock.requests.length - before]).toEqual([404, 'not_found_error', 0]);
  });

  it('a path naming an id longer than any recorded: 404 before any read or upstream call', async () => {
    const before = mock.requests.length;
    const res = await call({ method: 'GET', path: `/v1/files/${'f'.repeat(5000)}`, headers: bearer(a1.key) });
    expect([res.status, res.json.error?.type, mock.requests.length - before]).toEqual([404, 'not_found_error', 0]);
  });

  it('a body naming more than 100 objects is a 400', async () => {
    const file_ids = Array.from({ length: 101 }, (_, i) => `file-${i}`);
    const res = await call({ path: '/v1/responses', headers: bearer(a1.key), body: { model: 'gpt-4o-mini', input: 'x', file_ids } });
    expect([res.status, res.json.error?.code]).toEqual([400, 'invalid_body']);
  });
});

describe('ids in a form body (found by review: a form skipped every check on the ids it named)', () => {
  /** A body as a multipart form or URL-encoded, the fields given as strings. */
  async function asForm(kind: 'multipart' | 'urlencoded', fields: Record<string, string>) {
    if (kind === 'urlencoded')
      return { contentType: 'application/x-www-form-urlencoded', body: new URLSearchParams(fields).toString(), base64: false };
    const form = new FormData();
    for (const [k, v] of Object.entries(fields)) form.set(k, v);
    const req = new Request('http://local/', { method: 'POST', body: form });
    return {
      contentType: req.headers.get('content-type') as string,
      // The harness encodes it as API Gateway passes a binary media type (base64).
      body: Buffer.from(await req.arrayBuffer()).toString('utf8'),
      base64: true,
    };
  }

  it.each(['multipart', 'urlencoded'] as const)(
    "a %s body on a route that takes JSON is a 400 before any upstream call: team B cannot name team A's objects in one",
    async (kind) => {
      const response = (await call({ path: '/v1/responses', headers: bearer(a1.key), body: { model: 'gpt-4o-mini', input: 'plan' } })).json
        .id as string;
      const file = (await upload(a1)).json.id as string;
      const thread = (await call({ path: '/v1/threads', headers: bearer(a1.key), body: {} })).json.id as string;
      const cases: [string, Record<string, string>][] = [
        ['/v1/responses', { model: 'gpt-4o-mini', input: 'repeat', previous_response_id: response }],
        ['/v1/responses', { model: 'gpt-4o-mini', input: 'later', background: 'true' }],
        ['/v1/batches', { input_file_id: file, endpoint: '/v1/chat/completions', completion_window: '24h' }],
        ['/v1/threads/runs', { assistant_id: 'asst_1', thread_id: thread }],
        [`/v1/threads/${thread}/messages`, { role: 'user', content: 'hi' }],
        ['/v1/assistants', { model: 'gpt-4o-mini', file_ids: file }],
        ['/v1/chat/completions', { model: 'gpt-4o-mini', messages: 'hi' }],
      ];
      for (const [path, fields] of cases) {
        const form = await asForm(kind, fields);
        const before = mock.requests.length;
        const res = await call({
          path,
          headers: { ...bearer(b.key), 'content-type': form.contentType },
          body: form.body,
          base64: form.base64,
        });
        expect([path, res.status, res.json.error?.type, mock.requests.length - before]).toEqual([path, 400, 'invalid_request_error', 0]);
      }
    },
  );

  it('uploads still take a form', async () => {
    expect((await upload(b)).status).toBe(200);
  });
});

describe("a key-only tenant's objects follow the key through regeneration (found by review: 404 to the new key)", () => {
  it.each([
    ['without a grace period', undefined],
    ['with one', '1h'],
  ])('%s: the new key (and a copy in its grace) reads them; another key-only tenant gets 404', async (_, grace) => {
    const { key, record } = await seedKey({});
    const made = await call({ path: '/v1/responses', headers: bearer(key), body: { model: 'gpt-4o-mini', input: 'mine' } });
    const id = made.json.id as string;
    const first = await callApi(keysHandler, 'POST', '/key/regenerate', { key: record.token, ...(grace ? { grace_period: grace } : {}) });
    expect(first.status).toBe(200);
    const second = await callApi(keysHandler, 'POST', '/key/regenerate', {
      key: first.body.key,
      ...(grace ? { grace_period: grace } : {}),
    });
    expect(second.status).toBe(200);
    const read = (k: string) => call({ method: 'GET', path: `/v1/responses/${id}`, headers: bearer(k) });
    expect((await read(second.body.key)).status).toBe(200);
    if (grace) expect((await read(key)).status).toBe(200);
    const other = await seedKey({});
    expect((await read(other.key)).status).toBe(404);
  });
});

describe('several models in `model` on a stateful route (found by review)', () => {
  // A comma list fans out past the stateful handling: references unguarded, objects unrecorded, a pending bill charged as an estimate.
  it("another team cannot continue team A's response, nor batch over its file, by naming two models: 400, nothing forwarded", async () => {
    const response = (await call({ path: '/v1/responses', headers: bearer(a1.key), body: { model: 'gpt-4o-mini', input: 'secret plan' } }))
      .json.id as string;
    const file = (await upload(a1)).json.id as string;
    const bodies: [string, Record<string, unknown>][] = [
      ['/v1/responses', { model: 'gpt-4o-mini,gpt-4o-mini', input: 'repeat', previous_response_id: response }],
      [
        '/v1/batches',
        { model: 'gpt-4o-mini,gpt-4o-mini', input_file_id: file, endpoint: '/v1/chat/completions', completion_window: '24h' },
      ],
    ];
    for (const [path, body] of bodies) {
      const before = mock.requests.length;
      const res = await call({ path, headers: bearer(b.key), body });
      expect([path, res.status, mock.requests.length - before]).toEqual([path, 400, 0]);
    }
  });

  it('a response asked of two models is a 400 naming `model`, never made unrecorded (its maker could not read it)', async () => {
    const before = mock.requests.length;
    const made = await call({ path: '/v1/responses', headers: bearer(a1.key), body: { model: 'gpt-4o-mini,gpt-4o-mini', input: 'Hello' } });
    expect([made.status, made.json.error?.param, mock.requests.length - before]).toEqual([400, 'model', 0]);
  });
});

describe('calls under /v1/responses that name no response reach the upstream (found by review: answered 404)', () => {
  it.each(['input_tokens', 'compact'])('POST /v1/responses/%s', async (action) => {
    const seen = mock.requests.length;
    const res = await call({
      path: `/v1/responses/${action}`,
      headers: bearer(a1.key),
      body: { model: 'gpt-4o-mini', input: 'count me' },
    });
    expect(res.text).not.toContain('response_not_found');
    expect(mock.requests.slice(seen).map((r) => `${r.method} ${r.path}`)).toEqual([`POST /responses/${action}`]);
  });

  it("their body's objects are guarded as any body's: another tenant's previous_response_id is a 404", async () => {
    const made = await call({ path: '/v1/responses', headers: bearer(a1.key), body: { model: 'gpt-4o-mini', input: 'hi' } });
    const seen = mock.requests.length;
    const res = await call({
      path: '/v1/responses/compact',
      headers: bearer(b.key),
      body: { model: 'gpt-4o-mini', previous_response_id: made.json.id },
    });
    expect(res.status).toBe(404);
    expect(mock.requests.length).toBe(seen);
  });
});
