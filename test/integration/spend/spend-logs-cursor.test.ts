/**
 * The sharded spend-log listing (lib/store/spend-logs list / cursor): forged cursors, days that
 * move under a cursor, and how many reads a listing of mostly empty days makes.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { documentClient, spendLogStore } from '../../../lib/app/index.js';
import type { SpendLog } from '../../../lib/domain/spend-log.js';
import { tableName } from '../../../lib/store/client.js';
import { LOG_SHARDS, SpendLogStore } from '../../../lib/store/spend-logs.js';
import { useTestTable } from '../../support/table.js';

const day = '2026-11-29';
const logOf = (i: number): SpendLog => ({
  request_id: `r-${i}`,
  call_type: '/v1/chat/completions',
  model: 'gpt-4o-mini',
  model_group: 'gpt-4o-mini',
  api_key: 'k'.padEnd(64, '0'),
  key_alias: null,
  user: i % 2 === 0 ? 'u-even' : 'u-odd',
  team_id: 't1',
  organization_id: null,
  end_user: null,
  prompt_tokens: 1,
  completion_tokens: 1,
  total_tokens: 2,
  spend: 0.01,
  usage_source: 'reported',
  startTime: `${day}T00:00:${String(i).padStart(2, '0')}.000Z`,
  endTime: `${day}T00:00:${String(i).padStart(2, '0')}.500Z`,
  status: 'success',
  request_tags: [],
});
const encode = (c: unknown) => Buffer.from(JSON.stringify(c)).toString('base64url');

const days = ['2026-11-27', '2026-11-28', day];
const onDay = (d: string, i: number): SpendLog => ({
  ...logOf(i),
  request_id: `${d}-${i}`,
  startTime: `${d}T01:00:${String(i).padStart(2, '0')}.000Z`,
  endTime: `${d}T01:00:${String(i).padStart(2, '0')}.500Z`,
});

beforeAll(async () => {
  await useTestTable();
  await spendLogStore().applyMany(Array.from({ length: 20 }, (_, i) => logOf(i)));
  await spendLogStore().applyMany(days.slice(0, 2).flatMap((d) => Array.from({ length: 6 }, (_, i) => onDay(d, i))));
});

describe('a forged cursor is refused (400), never a DynamoDB ValidationException (500)', () => {
  const team = { scope: 'team' as const, id: 't1', from: day, to: day, limit: 5 };
  const noRange = { scope: 'team' as const, id: 't1', limit: 5 };
  const cases: [string, unknown][] = [
    ['the format before the shards, with an empty sort key', { partition: 0, key: { PK: 'SPENDLOG#team#t1', SK: '' } }],
    ['a sort key over 1,024 bytes (under 1,024 characters)', { group: 0, before: '€'.repeat(1000) }],
    ['the format before the shards, a sort key over 1,024 bytes', { partition: 0, key: { PK: 'SPENDLOG#team#t1', SK: 'x'.repeat(2000) } }],
  ];
  for (const [name, cursor] of cases)
    for (const [label, q] of [
      ['no date range', noRange],
      ['a date range', team],
    ] as const)
      it(`${name}, ${label}`, async () => {
        const err = await spendLogStore()
          .list({ ...q, cursor: encode(cursor) })
          .then(
            () => undefined,
            (e: unknown) => e as Error,
          );
        // Refused as a bad cursor (400), not DynamoDB's ValidationException (an opaque 500).
        expect([err?.name, err?.message]).toEqual(['InvalidRequestError', expect.stringContaining('cursor')]);
      });
});

describe('paging', () => {
  it('every log once, newest first, with a `where` filter over the shards', async () => {
    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await spendLogStore().list({ scope: 'team', id: 't1', from: day, to: day, where: { user: 'u-odd' }, limit: 3, cursor });
      seen.push(...page.data.map((l) => l.request_id));
      cursor = page.next_cursor ?? undefined;
      pages++;
    } while (cursor && pages < 50);
    const want = Array.from({ length: 20 }, (_, i) => i)
      .filter((i) => i % 2 === 1)
      .reverse()
      .map((i) => `r-${i}`);
    expect(seen).toEqual(want);
  });
});

describe('the `all` scope over days', () => {
  it('a cursor resumes where it was when the days of the query moved on by one (paging across midnight UTC)', async () => {
    // Without dates a listing reads the 30 days up to today: at midnight a new day comes first
    // and every day's index moves by one. A cursor's position must still be the same log.
    const before = [...days].reverse();
    const after = ['2026-11-30', ...before];
    const first = await spendLogStore().list({ scope: 'all', days: before, limit: 15 });
    const seen = first.data.map((l) => l.request_id);
    let cursor = first.next_cursor ?? undefined;
    let pages = 0;
    try {
      while (cursor && pages++ < 20) {
        const page = await spendLogStore().list({ scope: 'all', days: after, limit: 15, cursor });
        seen.push(...page.data.map((l) => l.request_id));
        cursor = page.next_cursor ?? undefined;
      }
    } catch (e) {
      // Refusing the cursor is acceptable (as before the shards); returning a log twice is not.
      expect((e as Error).name).toBe('InvalidRequestError');
    }
    expect(seen.length - new Set(seen).size).toBe(0);
  });
});

describe('a listing of many days reads ahead', () => {
  it('days with no logs are read a few at a time, each shard once, and the page is the same', async () => {
    const real = documentClient();
    let inFlight = 0;
    let most = 0;
    let queries = 0;
    const counting = {
      send: async (command: unknown) => {
        queries++;
        most = Math.max(most, ++inFlight);
        try {
          return await real.send(command as never);
        } finally {
          inFlight--;
        }
      },
    } as unknown as typeof real;
    const store = new SpendLogStore(counting, tableName(), 86_400);
    // Ten empty days newest first, then the three days that hold logs.
    const empty = Array.from({ length: 10 }, (_, i) => `2026-12-${String(10 - i).padStart(2, '0')}`);
    const page = await store.list({ scope: 'all', days: [...empty, day, ...[...days.slice(0, 2)].reverse()], limit: 100 });
    expect(page.data.map((l) => l.request_id)).toEqual(
      (await spendLogStore().list({ scope: 'all', days: [day, days[1] as string, days[0] as string], limit: 100 })).data.map(
        (l) => l.request_id,
      ),
    );
    expect(page.data).toHaveLength(32);
    // Every shard of every day read once (none holds more than a read), more than one day at once.
    expect(queries).toBe(13 * LOG_SHARDS.all);
    expect(most).toBeGreaterThan(LOG_SHARDS.all);
  });

  it('a page its first day fills reads no other day', async () => {
    const real = documentClient();
    const read: string[] = [];
    const counting = {
      send: async (command: { input?: { ExpressionAttributeValues?: Record<string, unknown> } }) => {
        read.push(String(command.input?.ExpressionAttributeValues?.[':pk']));
        return real.send(command as never);
      },
    } as unknown as typeof real;
    const store = new SpendLogStore(counting, tableName(), 86_400);
    const page = await store.list({ scope: 'all', days: [day, days[1] as string, days[0] as string], limit: 5 });
    expect(page.data).toHaveLength(5);
    expect(read.filter((pk) => !pk.endsWith(day))).toEqual([]);
    expect(read).toHaveLength(LOG_SHARDS.all);
  });
});
