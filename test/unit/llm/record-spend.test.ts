/**
 * recordSpend's attempts and its journal (lib/llm/spend): a settlement the store holds past
 * `keepBy` goes to the journal; one a healthy store takes does not, however little time is left
 * (found by review: past `keepBy`, a timer raced every settlement of a short timeout into the journal).
 */
import { describe, expect, it } from 'vitest';
import type { Caller } from '../../../lib/domain/caller.js';
import type { ModelRecord } from '../../../lib/domain/records.js';
import { recordSpend } from '../../../lib/llm/spend.js';
import type { SettlementJournal } from '../../../lib/store/settlement-journal.js';
import type { Settlement, SpendSettler } from '../../../lib/store/spend-ledger.js';

const model = { model_name: 'm', input_cost_per_million: 1, output_cost_per_million: 1 } as ModelRecord;
const record = (keepBy: number) => ({
  caller: { principal: 'virtual_key', role: 'internal_user', keyHash: 'k', state: {} } as unknown as Caller,
  model,
  usage: { inputTokens: 1000, outputTokens: 1000 },
  usageSource: 'reported' as const,
  requestId: 'req-1',
  at: Date.now(),
  keepBy,
});
const proxy = { maxBudget: undefined, budgetDuration: undefined } as never;

function journal(): SettlementJournal & { kept: Settlement[] } {
  const kept: Settlement[] = [];
  return { kept, keep: async (s) => void kept.push(s), keepOwners: async () => undefined } as SettlementJournal & { kept: Settlement[] };
}

/** A store that takes each settlement after `ms`. */
const store = (ms: number): SpendSettler & { settled: number } => {
  const s = {
    settled: 0,
    settle: () =>
      new Promise((r) =>
        setTimeout(() => {
          s.settled++;
          r({ status: 'settled' });
        }, ms),
      ),
    reserve: async () => ({ status: 'reserved' }),
  };
  return s as unknown as SpendSettler & { settled: number };
};

describe('recordSpend and the time left', () => {
  it('a healthy store takes the settlement, even past keepBy: nothing journaled', async () => {
    const j = journal();
    const settler = store(30);
    expect(await recordSpend(settler, j, proxy, record(Date.now() - 1_000))).toBeGreaterThan(0);
    expect([settler.settled, j.kept.length]).toEqual([1, 0]);
  });

  it('a store that fails the first attempt and holds the next: the journal keeps it at keepBy, not after every attempt', async () => {
    const j = journal();
    let calls = 0;
    const settler = {
      settle: () => (calls++ === 0 ? Promise.reject(new Error('store unavailable')) : new Promise<never>(() => undefined)),
      reserve: async () => ({ status: 'reserved' }),
    } as unknown as SpendSettler;
    const started = Date.now();
    expect(await recordSpend(settler, j, proxy, record(started + 300))).toBeGreaterThan(0);
    expect(j.kept.map((s) => s.requestId)).toEqual(['req-1']);
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(calls).toBe(2);
  });

  it('without a journal, keepBy changes nothing: the attempts are all there is', async () => {
    const settler = store(30);
    expect(await recordSpend(settler, undefined, proxy, record(Date.now() - 1_000))).toBeGreaterThan(0);
    expect(settler.settled).toBe(1);
  });
});
