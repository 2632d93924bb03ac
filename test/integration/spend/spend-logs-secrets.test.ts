/**
 * Review (secrets): a secret a client puts in a chat request body (`user`, `metadata.tags`)
 * must not reach the spend log (GET /spend/logs, /spend/tags, the S3/folder export): the request
 * is a 400 naming the field, without repeating the secret, and nothing is logged for it. A
 * key_alias stored before aliases were checked (a key pasted as its alias) is not logged either.
 */
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { handler as spendHandler } from '../../../functions/spend/handler.js';
import { MOCK_UPSTREAM_KEY, mockLocalSecrets, mockModels } from '../../../infra/local/mock-models.js';
import { type MockUpstream, startMockUpstream } from '../../../infra/local/mock-upstream.js';
import { startTableStream, type TableStream } from '../../../infra/local/table-stream.js';
import { spendLogStore } from '../../../lib/app/index.js';
import { exportConsumer, folderSink } from '../../../lib/spend/export.js';
import { spendLogConsumer } from '../../../lib/spend/stream.js';
import { callApi } from '../../support/admin.js';
import { bearer } from '../../support/authorizer.js';
import { seedKey, seedTeam } from '../../support/seed.js';
import { type TestTable, useTestTable } from '../../support/table.js';
import { call, seedModels } from '../llm/harness.js';

const LEAKED_KEY = 'sk-proj-Qw3rTy8UiOp2AsDfGhJkLzXcVbNm1234';
const JWT = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1LTEiLCJzY29wZSI6ImFkbWluIn0.c2lnbmF0dXJlc2lnbmF0dXJl';
/** A key_alias from before aliases were checked (a key pasted as its alias): stored, never logged. */
const OLD_ALIAS = 'sk-ant-api03-Zx9Yw8Vu7Ts6Rq5Po4Nm3Lk2';

let mock: MockUpstream;
let table: TestTable;
let stream: TableStream;
let exportDir: string;
let refusedUser: Awaited<ReturnType<typeof call>>;
let refusedTag: Awaited<ReturnType<typeof call>>;

beforeAll(async () => {
  mock = await startMockUpstream({ apiKey: MOCK_UPSTREAM_KEY });
  table = await useTestTable({ TOLLGATE_LOCAL_SECRETS: JSON.stringify(mockLocalSecrets()) }, { stream: true });
  await seedModels(mockModels(mock.url));
  exportDir = mkdtempSync(join(tmpdir(), 'tollgate-review-export-'));
  stream = await startTableStream({
    endpoint: table.endpoint,
    tableName: table.tableName,
    consumers: [spendLogConsumer(spendLogStore), exportConsumer(() => folderSink(exportDir))],
    everyMs: 0,
  });
  await seedTeam({ team_id: 'team-rev' });
  const { key } = await seedKey({ team_id: 'team-rev' }, { member: false });
  const ask = (extra: Record<string, unknown>) =>
    call({
      path: '/v1/chat/completions',
      headers: bearer(key),
      body: { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }], ...extra },
    });
  refusedUser = await ask({ user: LEAKED_KEY });
  refusedTag = await ask({ metadata: { tags: ['ok', `Bearer ${JWT}`] } });
  const res = await ask({ user: 'eu-rev', metadata: { tags: ['ok'] } });
  expect(res.status).toBe(200);
  const older = await seedKey({ team_id: 'team-rev', key_alias: OLD_ALIAS }, { member: false });
  const fromOlder = await call({
    path: '/v1/chat/completions',
    headers: bearer(older.key),
    body: { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] },
  });
  expect(fromOlder.status).toBe(200);
  await stream.drain();
});
afterAll(async () => {
  await stream?.stop();
  await mock?.close();
});

describe('spend logs keep no secret from the request body', () => {
  it('a `user` that looks like a key is a 400 naming the field, never repeating the key', () => {
    expect(refusedUser.status).toBe(400);
    expect(refusedUser.json.error.param).toBe('user');
    expect(refusedUser.json.error.message).toContain('must not be a secret');
    expect(JSON.stringify(refusedUser.json)).not.toContain(LEAKED_KEY);
  });

  it('a tag that looks like a token is a 400 naming the tag', () => {
    expect(refusedTag.status).toBe(400);
    expect(refusedTag.json.error.param).toBe('metadata.tags.1');
    expect(JSON.stringify(refusedTag.json)).not.toContain(JWT);
  });

  it('GET /spend/logs', async () => {
    const res = await callApi(spendHandler, 'GET', '/spend/logs', {});
    expect(res.status).toBe(200);
    expect(res.body.data).toHaveLength(2);
    const text = JSON.stringify(res.body);
    expect.soft(text, 'end_user from body `user`').not.toContain(LEAKED_KEY);
    expect.soft(text, 'request_tags from body metadata.tags').not.toContain(JWT);
    expect.soft(text, 'key_alias from older data').not.toContain(OLD_ALIAS);
    expect(res.body.data.map((l: { key_alias: unknown }) => l.key_alias)).toEqual([null, null]);
  });

  it('the spend log export', () => {
    const files: string[] = [];
    const walk = (d: string) => {
      for (const e of readdirSync(d, { withFileTypes: true })) e.isDirectory() ? walk(join(d, e.name)) : files.push(join(d, e.name));
    };
    walk(exportDir);
    expect(files.length).toBe(2);
    const text = files.map((f) => readFileSync(f, 'utf8')).join('\n');
    expect.soft(text, 'end_user from body `user`').not.toContain(LEAKED_KEY);
    expect.soft(text, 'request_tags from body metadata.tags').not.toContain(JWT);
    expect.soft(text, 'key_alias from older data').not.toContain(OLD_ALIAS);
  });
});
