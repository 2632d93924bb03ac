/**
 * The local poller's filter (infra/local/table-stream.ts): Lambda's event filtering, in the part of
 * its syntax the table-stream function's mapping uses (lib/store/spend-ledger SETTLED_RECORD_FILTER).
 */
import { describe, expect, it } from 'vitest';
import { listShards, matchesFilter } from '../../../infra/local/table-stream.js';
import { SETTLED_RECORD_FILTER } from '../../../lib/store/spend-ledger.js';

const record = (eventName: string, image?: Record<string, unknown>) => ({
  eventName,
  dynamodb: { Keys: { PK: { S: 'REQ#r1' }, SK: { S: 'SETTLEMENT' } }, ...(image ? { NewImage: image } : {}) },
});
const settlement = (state: string) => ({ PK: { S: 'REQ#r1' }, kind: { S: 'settlement' }, state: { S: state } });

describe('matchesFilter', () => {
  it("names only the record's dynamodb key, the one DynamoDB mappings filter on", () => {
    expect(Object.keys(SETTLED_RECORD_FILTER)).toEqual(['dynamodb']);
  });

  it('passes a settlement inserted or modified into the settled state', () => {
    expect(matchesFilter(SETTLED_RECORD_FILTER, record('INSERT', settlement('settled')))).toBe(true);
    expect(matchesFilter(SETTLED_RECORD_FILTER, record('MODIFY', settlement('settled')))).toBe(true);
  });

  it.each([
    ['a reservation', record('INSERT', settlement('reserved'))],
    ['an expired reservation', record('MODIFY', settlement('expired'))],
    ['a removal (no new image)', record('REMOVE')],
    ['a counter item', record('MODIFY', { kind: { S: 'key' }, spend: { N: '1' } })],
    ['a spend-log index item', record('INSERT', { kind: { S: 'spend_log' } })],
    ['a state held as a number', record('INSERT', { kind: { S: 'settlement' }, state: { N: '1' } })],
    ['an image without a kind', record('INSERT', { state: { S: 'settled' } })],
    ['no dynamodb part at all', { eventName: 'INSERT' }],
    ['not an object', 'INSERT'],
  ])('drops %s', (_, r) => {
    expect(matchesFilter(SETTLED_RECORD_FILTER, r)).toBe(false);
  });

  it('matches numbers and strings exactly, never by type coercion', () => {
    expect(matchesFilter({ n: [1] }, { n: 1 })).toBe(true);
    expect(matchesFilter({ n: [1] }, { n: '1' })).toBe(false);
    expect(matchesFilter({ n: ['a', 'b'] }, { n: 'b' })).toBe(true);
    expect(matchesFilter({ n: ['a'] }, {})).toBe(false);
  });

  it('refuses an operator it does not implement rather than misread it', () => {
    const prefix = { dynamodb: { Keys: { PK: { S: [{ prefix: 'REQ#' }] } } } } as never;
    expect(() => matchesFilter(prefix, record('INSERT', settlement('settled')))).toThrow(/only lists of exact values/);
  });
});

describe('listShards (found by review: one DescribeStream lists at most 100 shards)', () => {
  it('reads every page, in order, starting each after the last shard of the one before', async () => {
    const all = Array.from({ length: 250 }, (_, i) => `shardId-${String(i).padStart(4, '0')}`);
    const asked: (string | undefined)[] = [];
    const ids = await listShards(async ({ StreamArn, ExclusiveStartShardId }) => {
      expect(StreamArn).toBe('arn:stream');
      asked.push(ExclusiveStartShardId);
      const from = ExclusiveStartShardId ? all.indexOf(ExclusiveStartShardId) + 1 : 0;
      const page = all.slice(from, from + 100);
      const more = from + 100 < all.length;
      return {
        StreamDescription: { Shards: page.map((ShardId) => ({ ShardId })), ...(more ? { LastEvaluatedShardId: page.at(-1) } : {}) },
      };
    }, 'arn:stream');
    expect(ids).toEqual(all);
    expect(asked).toEqual([undefined, 'shardId-0099', 'shardId-0199']);
  });

  it('a stream without shards lists none', async () => {
    expect(await listShards(async () => ({ StreamDescription: { Shards: [] } }), 'arn:stream')).toEqual([]);
  });
});
