/**
 * Spend you can see (issue 12): one log per settled request, indexed and rolled up off the
 * request path from the table's stream (read here from DynamoDB Local's own stream); `/spend/logs`
 * shows each caller what the info routes would (a proxy admin everything, a key its own, a team
 * admin the team's); a record's spend is what its key's counter moved; filters and pagination over
 * more than 1,000 records; every report's per-day totals equal the sum of the records.
 */
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { handler as spendHandler } from '../../../functions/spend/handler.js';
import { handler as teamsHandler } from '../../../functions/teams/handler.js';
import { handler as usersHandler } from '../../../functions/users/handler.js';
import { MOCK_UPSTREAM_KEY, mockLocalSecrets, mockModels } from '../../../infra/local/mock-models.js';
import { type MockUpstream, startMockUpstream } from '../../../infra/local/mock-upstream.js';
import { startTableStream, type TableStream } from '../../../infra/local/table-stream.js';
import { documentClient, modelRegistry, spendLogStore, spendSettler } from '../../../lib/app/index.js';
import type { CallerContext } from '../../../lib/authorizer/context.js';
import { dollarsToNanos, NANOS_PER_DOLLAR } from '../../../lib/domain/cost.js';
import type { SpendLog } from '../../../lib/domain/spend-log.js';
import { exportConsumer, folderSink } from '../../../lib/spend/export.js';
import { spendLogConsumer } from '../../../lib/spend/stream.js';
import { tableName } from '../../../lib/store/client.js';
import { refs } from '../../../lib/store/keys.js';
import { LOG_SHARDS, logIndexRef, logPartitionsOf, logShardOf, SpendLogStore } from '../../../lib/store/spend-logs.js';
import { adminCtx, callApi, userCtx } from '../../support/admin.js';
import { bearer } from '../../support/authorizer.js';
import { seedKey, seedMember, seedTeam, seedUser } from '../../support/seed.js';
import { readItem, spendNanos } from '../../support/spend.js';
import { partitionItems, settleLogs } from '../../support/stream.js';
import { type TestTable, useTestTable } from '../../support/table.js';
import { call, seedModels } from '../llm/harness.js';

let mock: MockUpstream;
let table: TestTable;
let stream: TableStream;
let exportDir: string;
const keys: Record<string, { key: string; token: string; team: string; user: string }> = {};

const keyCtx = (k: { token: string; team: string; user: string }): CallerContext => ({
  principal: 'virtual_key',
  role: 'internal_user',
  key_hash: k.token,
  user_id: k.user,
  team_id: k.team,
});
const logs = (input: Record<string, unknown>, ctx: CallerContext = adminCtx) => callApi(spendHandler, 'GET', '/spend/logs', input, ctx);
const chat = (k: { key: string }, tags?: string[]) =>
  call({
    path: '/v1/chat/completions',
    headers: bearer(k.key),
    body: { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Hello there' }], ...(tags ? { metadata: { tags } } : {}) },
  });

beforeAll(async () => {
  mock = await startMockUpstream({ apiKey: MOCK_UPSTREAM_KEY });
  table = await useTestTable({ TOLLGATE_LOCAL_SECRETS: JSON.stringify(mockLocalSecrets()) }, { stream: true });
  await seedModels(mockModels(mock.url));
  exportDir = mkdtempSync(join(tmpdir(), 'tollgate-export-'));
  stream = await startTableStream({
    endpoint: table.endpoint,
    tableName: table.tableName,
    consumers: [spendLogConsumer(spendLogStore), exportConsumer(() => folderSink(exportDir))],
    everyMs: 0,
  });
  for (const [team, users] of [
    ['team-a', ['alice', 'amir']],
    ['team-b', ['bea']],
  ] as const) {
    await seedTeam({ team_id: team });
    for (const user of users) {
      await seedUser({ user_id: user, user_role: 'internal_user' });
      await seedMember({ team_id: team, user_id: user, role: user === 'amir' ? 'admin' : 'user' });
      const { key, record } = await seedKey({ team_id: team, user_id: user }, { member: false });
      keys[user] = { key, token: record.token, team, user };
    }
  }
});
afterAll(async () => {
  await stream?.stop();
  await mock?.close();
});

describe('spend logs of real calls', () => {
  const made: Record<string, number> = { alice: 3, amir: 2, bea: 4 };
  const before: Record<string, number> = {};

  beforeAll(async () => {
    for (const user of Object.keys(made)) before[user] = await spendNanos(refs.key(keys[user]?.token as string));
    for (const [user, n] of Object.entries(made))
      for (let i = 0; i < n; i++)
        expect((await chat(keys[user] as never, user === 'bea' ? ['batch-job', 'eu'] : undefined)).status).toBe(200);
    await stream.drain();
  });

  it('a proxy admin sees exactly those records, with LiteLLM’s fields and no text', async () => {
    const res = await logs({});
    expect(res.status).toBe(200);
    expect(res.body.data).toHaveLength(9);
    const one = res.body.data[0] as SpendLog;
    expect(Object.keys(one).sort()).toEqual(
      [
        'api_key',
        'call_type',
        'completion_tokens',
        'end_user',
        'endTime',
        'key_alias',
        'model',
        'model_group',
        'organization_id',
        'prompt_tokens',
        'request_id',
        'request_tags',
        'spend',
        'startTime',
        'status',
        'team_id',
        'total_tokens',
        'usage_source',
        'user',
      ].sort(),
    );
    expect(one).toMatchObject({
      call_type: '/v1/chat/completions',
      model: 'gpt-4o-mini',
      prompt_tokens: 2,
      completion_tokens: 4,
      total_tokens: 6,
      status: 'success',
      usage_source: 'reported',
    });
    expect(JSON.stringify(res.body)).not.toContain('Hello there');
    expect(JSON.stringify(res.body)).not.toContain(keys.alice?.key);
  });

  it('a key sees only its own; a team admin only the team’s; an internal user only their own', async () => {
    for (const user of ['alice', 'bea']) {
      const own = await logs({}, keyCtx(keys[user] as never));
      expect((own.body.data as SpendLog[]).map((l) => l.api_key)).toEqual(Array(made[user]).fill(keys[user]?.token));
    }
    const team = await logs({ team_id: 'team-a' }, userCtx('amir', { team_id: 'team-a' }));
    expect(team.body.data).toHaveLength(5);
    expect(new Set((team.body.data as SpendLog[]).map((l) => l.team_id))).toEqual(new Set(['team-a']));
    // Not an admin of team-b, and not alice's team's admin: refused, or nothing of others.
    expect((await logs({ team_id: 'team-b' }, userCtx('amir', { team_id: 'team-a' }))).status).toBe(403);
    expect((await logs({ team_id: 'team-a' }, userCtx('alice', { team_id: 'team-a' }))).status).toBe(403);
    expect((await logs({ user_id: 'bea' }, userCtx('alice'))).status).toBe(403);
    expect((await logs({ api_key: keys.bea?.key }, keyCtx(keys.alice as never))).body.data).toEqual([]);
    expect((await logs({ api_key: keys.bea?.key })).body.data).toHaveLength(4);
  });

  it("a record's spend equals what its key's counter moved", async () => {
    for (const user of Object.keys(made)) {
      const moved = (await spendNanos(refs.key(keys[user]?.token as string))) - (before[user] ?? 0);
      const recorded = ((await logs({ api_key: keys[user]?.token })).body.data as SpendLog[]).reduce(
        (t, l) => t + dollarsToNanos(l.spend),
        0,
      );
      expect([user, recorded]).toEqual([user, moved]);
      expect(moved).toBeGreaterThan(0);
    }
  });

  it('request tags come from the body; /spend/tags sums them', async () => {
    const bea = (await logs({ api_key: keys.bea?.token })).body.data as SpendLog[];
    expect(bea.every((l) => l.request_tags.join() === 'batch-job,eu')).toBe(true);
    const tags = await callApi(spendHandler, 'GET', '/spend/tags', {});
    const total = bea.reduce((t, l) => t + l.spend, 0);
    expect(tags.body).toEqual(
      expect.arrayContaining([
        { individual_request_tag: 'batch-job', log_count: 4, total_spend: Math.round(total * 1e9) / 1e9 },
        { individual_request_tag: 'eu', log_count: 4, total_spend: Math.round(total * 1e9) / 1e9 },
      ]),
    );
  });

  it('/user/info shows what the user’s keys spent in all, beside the personal window', async () => {
    const info = await callApi(usersHandler, 'GET', '/user/info', { user_id: 'alice' });
    expect(info.body.user_info.keys_total_spend * NANOS_PER_DOLLAR).toBeCloseTo(await spendNanos(refs.key(keys.alice?.token as string)), 0);
    expect(info.body.user_info.keys_total_spend).toBeGreaterThan(0);
  });

  it('reads by request id, for whoever may see it', async () => {
    const some = (await logs({ api_key: keys.alice?.token })).body.data[0] as SpendLog;
    expect((await logs({ request_id: some.request_id })).body.data).toEqual([some]);
    expect((await logs({ request_id: some.request_id }, keyCtx(keys.bea as never))).body.data).toEqual([]);
  });

  it('with an export configured, every record is also one object per request under its day (for Athena)', async () => {
    const records = (await logs({})).body.data as SpendLog[];
    for (const l of records) {
      const file = join(exportDir, 'spend-logs', `dt=${l.startTime.slice(0, 10)}`, `${encodeURIComponent(l.request_id)}.json`);
      expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual(l);
    }
    const days = readdirSync(join(exportDir, 'spend-logs'));
    expect(days.flatMap((d) => readdirSync(join(exportDir, 'spend-logs', d)))).toHaveLength(records.length);
  });

  it('teams handler still answers (the team admin is a real admin of team-a)', async () => {
    expect((await callApi(teamsHandler, 'GET', '/team/info', { team_id: 'team-a' })).status).toBe(200);
  });
});

describe('a call that costs nothing', () => {
  it('a zero-priced model is answered and leaves no settlement and no spend log (nothing was settled)', async () => {
    const base = mockModels(mock.url).find((m) => m.model_name === 'gpt-4o-mini');
    if (!base) throw new Error('the mock models changed');
    await seedModels([
      { ...base, model_name: 'free-model', input_cost_per_million: 0, output_cost_per_million: 0, aliases: [], access_groups: [] },
    ]);
    modelRegistry().invalidate();
    const bea = keys.bea as { key: string; token: string };
    const requestId = 'req-free-model';
    const res = await call({
      path: '/v1/chat/completions',
      headers: bearer(bea.key),
      body: { model: 'free-model', messages: [{ role: 'user', content: 'free' }] },
      requestId,
    });
    expect(res.status).toBe(200);
    await stream.drain();
    expect(await readItem(refs.settlement(requestId))).toBeUndefined();
    expect((await logs({ request_id: requestId })).body.data).toEqual([]);
  });
});

describe('over 1,000 records', () => {
  const days = ['2026-11-28', '2026-11-29', '2026-11-30'];
  const seeded: SpendLog[] = [];

  beforeAll(async () => {
    const _settler = spendSettler();
    const users = ['u1', 'u2', 'u3', 'u4'];
    for (let i = 0; i < 1100; i++) {
      const day = days[i % 3] as string;
      const user = users[i % 4] as string;
      const cents = 1 + (i % 7);
      const log: SpendLog = {
        request_id: `bulk-${i}`,
        call_type: '/v1/chat/completions',
        model: i % 5 === 0 ? 'gpt-4o' : 'gpt-4o-mini',
        model_group: 'gpt-4o-mini',
        api_key: `ab${i % 6}`.padEnd(64, '0'),
        key_alias: null,
        user,
        team_id: i % 2 === 0 ? 'bulk-even' : 'bulk-odd',
        organization_id: null,
        end_user: i % 10 === 0 ? 'customer-9' : null,
        prompt_tokens: 10,
        completion_tokens: i % 50,
        total_tokens: 10 + (i % 50),
        spend: cents / 100,
        usage_source: 'reported',
        startTime: `${day}T${String(i % 24).padStart(2, '0')}:00:${String(i % 60).padStart(2, '0')}.000Z`,
        endTime: `${day}T${String(i % 24).padStart(2, '0')}:00:${String(i % 60).padStart(2, '0')}.500Z`,
        status: 'success',
        request_tags: i % 3 === 0 ? ['nightly'] : [],
      };
      seeded.push(log);
    }
    await settleLogs(seeded, 50);
    await stream.drain();
  }, 240_000);

  const range = { start_date: days[0], end_date: days[2] };

  it('pages through every record once with the cursor, newest first, for each scope', async () => {
    const cases: [Record<string, unknown>, (l: SpendLog) => boolean][] = [
      [{}, () => true],
      [{ team_id: 'bulk-even' }, (l) => l.team_id === 'bulk-even'],
      [{ user_id: 'u3' }, (l) => l.user === 'u3'],
      [{ api_key: `ab2`.padEnd(64, '0') }, (l) => l.api_key === `ab2`.padEnd(64, '0')],
      [{ end_user: 'customer-9' }, (l) => l.end_user === 'customer-9'],
      [{ team_id: 'bulk-odd', user_id: 'u2' }, (l) => l.team_id === 'bulk-odd' && l.user === 'u2'],
      [{ start_date: days[1], end_date: days[1] }, (l) => l.startTime.startsWith(days[1] as string)],
    ];
    for (const [filter, want] of cases) {
      const seen: SpendLog[] = [];
      let cursor: string | undefined;
      do {
        const page = await logs({ ...range, ...filter, limit: 100, ...(cursor ? { cursor } : {}) });
        expect([filter, page.status]).toEqual([filter, 200]);
        seen.push(...(page.body.data as SpendLog[]));
        cursor = page.body.next_cursor ?? undefined;
      } while (cursor);
      const expected = seeded
        .filter(want)
        .map((l) => l.request_id)
        .sort();
      expect([filter, seen.map((l) => l.request_id).sort()]).toEqual([filter, expected]);
      expect(new Set(seen.map((l) => l.request_id)).size).toBe(seen.length);
    }
  });

  it('a cursor cannot be turned to another partition: it names none, and one that tries is refused', async () => {
    const page = await logs({ ...range, team_id: 'bulk-even', limit: 10 });
    const cursor = JSON.parse(Buffer.from(page.body.next_cursor, 'base64url').toString());
    const encode = (c: unknown) => Buffer.from(JSON.stringify(c)).toString('base64url');
    // A position only: the next page reads the query's own partitions, whoever's cursor it is.
    expect(Object.keys(cursor).sort()).toEqual(['before', 'group']);
    const other = await logs({ ...range, team_id: 'bulk-odd', limit: 10, cursor: page.body.next_cursor });
    expect(other.status).toBe(200);
    expect((other.body.data as SpendLog[]).every((l) => l.team_id === 'bulk-odd')).toBe(true);
    for (const forged of [
      { ...cursor, key: { PK: 'SPENDLOG#team#bulk-odd', SK: cursor.before } },
      { ...cursor, group: 1 },
      { ...cursor, group: -1 },
      { ...cursor, before: 7 },
      { ...cursor, before: '' },
      // The format before the shards: its key must be in this query's partition.
      { partition: 0, key: { PK: 'SPENDLOG#team#bulk-odd', SK: cursor.before } },
      { partition: 0, key: { PK: 'SPENDLOG#1#team#bulk-even', SK: cursor.before } },
      [cursor],
    ]) {
      const res = await logs({ ...range, team_id: 'bulk-even', cursor: encode(forged) });
      expect([forged, res.status, res.body.error?.code]).toEqual([forged, 400, 'invalid_cursor']);
    }
    // A cursor of the format before the shards still resumes where it pointed.
    const old = await logs({
      ...range,
      team_id: 'bulk-even',
      limit: 10,
      cursor: encode({ partition: 0, key: { PK: 'SPENDLOG#team#bulk-even', SK: cursor.before } }),
    });
    const resumed = await logs({ ...range, team_id: 'bulk-even', limit: 10, cursor: page.body.next_cursor });
    expect(old.status).toBe(200);
    expect((old.body.data as SpendLog[]).map((l) => l.request_id)).toEqual((resumed.body.data as SpendLog[]).map((l) => l.request_id));
  });

  it("each scope's index is spread over its shards by request id, and a page merges them newest first", async () => {
    const count = async (pk: string) => (await partitionItems(pk)).length;
    const team = await Promise.all(logPartitionsOf('team', 'bulk-even').map(count));
    expect(team).toHaveLength(LOG_SHARDS.team);
    expect(team.reduce((a, b) => a + b, 0)).toBe(550);
    expect(Math.min(...team)).toBeGreaterThan(550 / LOG_SHARDS.team / 2);
    const day = await Promise.all(logPartitionsOf('all', days[1] as string).map(count));
    expect(day).toHaveLength(LOG_SHARDS.all);
    expect(day.every((n) => n > 0)).toBe(true);
    // Every log is where its request id says.
    const sample = seeded[7] as SpendLog;
    const ref = logIndexRef(sample, 'team', 'bulk-odd');
    expect(ref.PK).toBe(logPartitionsOf('team', 'bulk-odd')[logShardOf(sample.request_id, 'team')]);
    expect((await documentClient().send(new GetCommand({ TableName: tableName(), Key: ref }))).Item?.request_id).toBe(sample.request_id);

    // Pages of 7 over four shards of one team, and over eight of each day: newest first throughout.
    for (const filter of [{ team_id: 'bulk-odd' }, {}]) {
      const order: string[] = [];
      let cursor: string | undefined;
      do {
        const page = await logs({ ...range, ...filter, limit: 7, ...(cursor ? { cursor } : {}) });
        order.push(...(page.body.data as SpendLog[]).map((l) => `${l.startTime}#${l.request_id}`));
        cursor = page.body.next_cursor ?? undefined;
      } while (cursor);
      expect(order.length).toBe(filter.team_id ? 550 : 1100);
      expect(order).toEqual([...order].sort().reverse());
    }
  }, 60_000);

  it('every report’s per-day totals equal the sum of the records, for every group_by', async () => {
    const field = { team: 'team_id', customer: 'end_user', api_key: 'api_key', user: 'user', model: 'model' } as const;
    const listName = { team: 'teams', customer: 'customers', api_key: 'api_keys', user: 'users', model: 'models' } as const;
    const nameField = { team: 'team_name', customer: 'customer', api_key: 'api_key', user: 'user_id', model: 'model' } as const;
    for (const group of Object.keys(field) as (keyof typeof field)[]) {
      const res = await callApi(spendHandler, 'GET', '/global/spend/report', { ...range, group_by: group });
      expect([group, res.status]).toEqual([group, 200]);
      for (const day of res.body as Record<string, any>[]) {
        for (const row of day[listName[group]] as Record<string, any>[]) {
          const records = seeded.filter((l) => l.startTime.startsWith(day.group_by_day) && l[field[group]] === row[nameField[group]]);
          const want = records.reduce((t, l) => t + dollarsToNanos(l.spend), 0);
          expect([group, day.group_by_day, row[nameField[group]], dollarsToNanos(row.total_spend)]).toEqual([
            group,
            day.group_by_day,
            row[nameField[group]],
            want,
          ]);
        }
      }
      // And no record is missing from the report (those with no id in the group are a row named null).
      const reported = (res.body as Record<string, any>[]).flatMap((d) =>
        (d[listName[group]] as Record<string, any>[]).map((r) => dollarsToNanos(r.total_spend)),
      );
      const all = seeded.reduce((t, l) => t + dollarsToNanos(l.spend), 0);
      expect([group, reported.reduce((a, b) => a + b, 0)]).toEqual([group, all]);
    }
  });

  it('/user/daily/activity sums a user’s days; /global/spend the total', async () => {
    const res = await callApi(spendHandler, 'GET', '/user/daily/activity', { ...range, user_id: 'u1' });
    for (const day of res.body.results as Record<string, any>[]) {
      const want = seeded.filter((l) => l.user === 'u1' && l.startTime.startsWith(day.date));
      expect(dollarsToNanos(day.metrics.spend)).toBe(want.reduce((t, l) => t + dollarsToNanos(l.spend), 0));
      expect(day.metrics.api_requests).toBe(want.length);
    }
    expect((await callApi(spendHandler, 'GET', '/user/daily/activity', { user_id: 'u1' }, userCtx('u2'))).status).toBe(403);
    // /global/spend: the total of the last 30 days' rollups, what the report over the same days adds up to.
    const global = await callApi(spendHandler, 'GET', '/global/spend', {});
    expect(global.status).toBe(200);
    const today = new Date().toISOString().slice(0, 10);
    expect(global.body.period.end_date).toBe(today);
    const report = await callApi(spendHandler, 'GET', '/global/spend/report', { group_by: 'model', end_date: today });
    expect(report.body[0]?.group_by_day >= global.body.period.start_date).toBe(true);
    const reported = (report.body as Record<string, any>[])
      .flatMap((d) => d.models as Record<string, any>[])
      .reduce((t, r) => t + dollarsToNanos(r.total_spend), 0);
    expect(reported).toBeGreaterThan(0);
    expect(dollarsToNanos(global.body.spend)).toBe(reported);
  });

  it('a stream batch delivered twice counts each request once', async () => {
    const before = await callApi(spendHandler, 'GET', '/spend/tags', { ...range, tags: 'nightly' });
    for (const log of seeded.slice(0, 30)) await spendLogStore().apply(log);
    await spendLogStore().applyMany(seeded.slice(0, 90));
    const after = await callApi(spendHandler, 'GET', '/spend/tags', { ...range, tags: 'nightly' });
    expect(after.body).toEqual(before.body);
  });

  it("a batch's rollups are summed and written in one transaction, not one per request", async () => {
    const real = documentClient();
    let transactions = 0;
    const counted = {
      send: (command: unknown) => {
        if (command instanceof TransactWriteCommand) transactions++;
        return real.send(command as never);
      },
    } as unknown as typeof real;
    const fresh = seeded.slice(0, 40).map((l) => ({ ...l, request_id: `${l.request_id}-again`, request_tags: [] }));
    const before = await callApi(spendHandler, 'GET', '/global/spend/report', { ...range, group_by: 'team' });
    await new SpendLogStore(counted, tableName(), 86_400).applyMany(fresh);
    expect(transactions).toBe(1);
    const after = await callApi(spendHandler, 'GET', '/global/spend/report', { ...range, group_by: 'team' });
    const total = (body: unknown) =>
      (body as Record<string, any>[])
        .flatMap((d) => d.teams as Record<string, any>[])
        .reduce((t, r) => t + dollarsToNanos(r.total_spend), 0);
    expect(total(after.body) - total(before.body)).toBe(fresh.reduce((t, l) => t + dollarsToNanos(l.spend), 0));
  });
});

describe('health', () => {
  it('readiness: ready while the table answers', async () => {
    const res = (await spendHandler({ resource: '/health/readiness', httpMethod: 'GET' } as never, {} as never)) as {
      statusCode: number;
      body: string;
    };
    expect([res.statusCode, JSON.parse(res.body)]).toEqual([200, { status: 'ready' }]);
  });
});
