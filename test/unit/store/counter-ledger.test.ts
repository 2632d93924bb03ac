import { describe, expect, it } from 'vitest';
import { chunksOf, type LedgerRecord, packMoves, unpackMoves } from '../../../lib/store/counter-ledger.js';
import { createdOnFirstSpendAt } from '../../../lib/store/keys.js';
import type { CounterMove } from '../../../lib/store/spend-ledger.js';

const move = (pk: string, over: Partial<CounterMove> = {}): CounterMove => ({
  ref: { PK: pk, SK: pk },
  spendNanos: 10,
  committedNanos: 10,
  windowId: undefined,
  mustExist: true,
  createWith: undefined,
  ...over,
});

describe('counter moves as the ledger keeps them', () => {
  it('round-trip every field, windows and created items included', () => {
    const big = { spendNanos: 9_007_199_254_740_991, committedNanos: 9_007_199_254_740_000 };
    const moves = [
      move('KEY#a', { windowId: '1d:20300', ...big }),
      move('END_USER#e', { mustExist: false, createWith: { kind: 'end_user', end_user_id: 'e' }, ...big }),
      { ...move('TEAM#t', big), ref: { PK: 'TEAM#t', SK: 'SPEND#3' }, mustExist: false },
    ];
    expect(unpackMoves(packMoves(moves))).toEqual(moves);
    expect(unpackMoves(packMoves([]))).toEqual([]);
  });

  it('a settlement moves every counter by the same amounts', () => {
    expect(() => packMoves([move('KEY#a'), move('TEAM#t', { committedNanos: 3 })])).toThrow(/same amounts/);
  });

  it.each([
    ['{}'],
    ['[]'],
    ['null'],
    ['{"s":1,"c":1,"m":[1]}'],
    ['{"s":1.5,"c":1,"m":[]}'],
    ['{"s":1,"m":[]}'],
    ['{"s":1,"c":1,"m":[["K","K"]]}'],
    ['{"s":1,"c":1,"m":[["K",1,0]]}'],
    ['{"s":1,"c":1,"m":[["K","K",5]]}'],
    // What an item is created with: 0, 1 or an object, never anything else (a null or a number
    // would re-create an entity that must exist as a bare counter shard).
    ['{"s":1,"c":1,"m":[["KEY#k","KEY",0,null]]}'],
    ['{"s":1,"c":1,"m":[["KEY#k","KEY",0,7]]}'],
    ['{"s":1,"c":1,"m":[["KEY#k","KEY",0,"x"]]}'],
    ['{"s":1,"c":1,"m":[["KEY#k","KEY",0,["kind","x"]]]}'],
    ['{"s":1,"c":1,"m":[["KEY#k","KEY",0,{"kind":"x"},1]]}'],
    // A settlement adds, never takes away.
    ['{"s":-5,"c":-5,"m":[["KEY#k","KEY",0]]}'],
    ['{"s":5,"c":-5,"m":[["KEY#k","KEY",0]]}'],
  ])('refuses a malformed record %s', (text) => {
    expect(() => unpackMoves(text)).toThrow(/counter moves/);
  });
});

describe('a batch in transactions of at most 100 items', () => {
  const records = (n: number, perRecord: (i: number) => string[]): LedgerRecord[] =>
    Array.from({ length: n }, (_, i) => ({ requestId: `r${i}`, moves: perRecord(i).map((pk) => move(pk)) }));
  const itemsOf = (chunk: LedgerRecord[]) => chunk.length + new Set(chunk.flatMap((r) => r.moves.map((m) => m.ref.PK))).size;

  it('shared counters: one transaction for 94 records of one chain', () => {
    const chunks = chunksOf(records(94, () => ['KEY#k', 'TEAM#t', 'ORG#o', 'USER#u', 'GLOBAL', 'MEMBER#m']));
    expect(chunks).toHaveLength(1);
    expect(itemsOf(chunks[0] as LedgerRecord[])).toBe(100);
  });

  it('distinct counters: split in order, every chunk within 100 items, nothing lost or repeated', () => {
    const all = records(250, (i) => [`KEY#${i}`, 'TEAM#t', `USER#${i % 7}`]);
    const chunks = chunksOf(all);
    expect(chunks.length).toBeGreaterThan(1);
    for (const c of chunks) expect(itemsOf(c)).toBeLessThanOrEqual(100);
    expect(chunks.flat()).toEqual(all);
  });

  it('moves of nothing take no item', () => {
    const free = records(120, (i) => [`KEY#${i}`]).map((r) => ({
      ...r,
      moves: r.moves.map((m) => ({ ...m, spendNanos: 0, committedNanos: 0 })),
    }));
    expect(chunksOf(free).map((c) => c.length)).toEqual([100, 20]);
  });
});

describe('items created on first spend are kept as a mark, rebuilt from the ref and the time', () => {
  const at = Date.parse('2026-12-05T10:00:00.000Z');
  it('an end user and the proxy item', () => {
    const endUser = move('END_USER#eu-1', {
      mustExist: false,
      createWith: createdOnFirstSpendAt({ PK: 'END_USER#eu-1', SK: 'END_USER' }, at - 5),
    });
    endUser.ref = { PK: 'END_USER#eu-1', SK: 'END_USER' };
    const proxy = { ...move('GLOBAL'), ref: { PK: 'GLOBAL', SK: 'SPEND' }, mustExist: false, createWith: { kind: 'global' } };
    const text = packMoves([endUser, proxy], at);
    expect(text).not.toContain('end_user');
    expect(unpackMoves(text, at)).toEqual([
      { ...endUser, createWith: { ...endUser.createWith, created_at: new Date(at).toISOString() } },
      proxy,
    ]);
  });

  it('anything else is kept whole; a mark without a time, or on another item, is refused', () => {
    const odd = { ...move('END_USER#x'), ref: { PK: 'END_USER#x', SK: 'END_USER' }, mustExist: false, createWith: { kind: 'something' } };
    expect(unpackMoves(packMoves([odd], at), at)).toEqual([odd]);
    expect(() => unpackMoves('{"s":1,"c":1,"m":[["END_USER#x","END_USER",0,1]]}')).toThrow(/counter moves/);
    expect(() => unpackMoves('{"s":1,"c":1,"m":[["KEY#x","KEY",0,1]]}', at)).toThrow(/counter moves/);
  });
});
