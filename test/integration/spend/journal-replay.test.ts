/**
 * Replaying kept settlements counts each once for as long as a message can exist (found by
 * review): a settlement's record outlives the settlement queues' retention, a kept settlement
 * older than its record is refused rather than counted again, and a record that could never land
 * is set aside at once instead of retried for ever.
 */
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { SETTLEMENT_RETENTION } from '../../../infra/constructs/settlement-queue.js';
import { objectOwners, spendSettler } from '../../../lib/app/index.js';
import { config } from '../../../lib/config.js';
import { FileSettlementJournal } from '../../../lib/spend/file-journal.js';
import { refs } from '../../../lib/store/keys.js';
import { JournalRecordError, journalRecord, replaySettlement } from '../../../lib/store/settlement-journal.js';
import type { Settlement } from '../../../lib/store/spend-ledger.js';
import { seedTeam } from '../../support/seed.js';
import { countersOf, readItem } from '../../support/spend.js';
import { useTestTable } from '../../support/table.js';

const CENT = 10_000_000;

const settlement = (requestId: string, teamId: string, at: number): Settlement => ({
  requestId,
  at,
  costNanos: CENT,
  model: 'gpt-4o',
  targets: [{ entity: 'team', id: teamId, ref: refs.team(teamId) }],
});

beforeAll(async () => {
  await useTestTable();
});

describe('a settlement that had landed, replayed', () => {
  it('its record is kept longer than the queues keep a message: redriven on their last day, it counts once', async () => {
    expect(config().settlementTtlSeconds).toBeGreaterThan(SETTLEMENT_RETENTION.toSeconds());
    await seedTeam({ team_id: 't-redrive' });
    const at = Date.now() - SETTLEMENT_RETENTION.toMilliseconds() + 60_000;
    const s = settlement('redrive-1', 't-redrive', at);
    await spendSettler().settle(s);
    // Still there when the oldest message the dead-letter queue can hold is redriven.
    expect(Number((await readItem(refs.settlement('redrive-1')))?.ttl) * 1000).toBeGreaterThan(at + SETTLEMENT_RETENTION.toMilliseconds());
    expect((await replaySettlement(spendSettler(), journalRecord(s))).status).toBe('duplicate');
    expect((await countersOf(refs.team('t-redrive'))).spend).toBe(CENT);
  });

  it('one older than its record is kept is refused, never counted (its record may be gone)', async () => {
    await seedTeam({ team_id: 't-old' });
    const s = settlement('old-1', 't-old', Date.now() - config().settlementTtlSeconds * 1000 - 60_000);
    await expect(replaySettlement(spendSettler(), journalRecord(s))).rejects.toThrow(JournalRecordError);
    expect((await countersOf(refs.team('t-old'))).spend ?? 0).toBe(0);
    // The local journal sets it aside, with the others it cannot replay.
    const dir = mkdtempSync(join(tmpdir(), 'tollgate-journal-'));
    const journal = new FileSettlementJournal(dir);
    await journal.keep(s);
    expect(await journal.replay({ settler: spendSettler(), owners: objectOwners() })).toEqual({ landed: 0, waiting: 0, rejected: 1 });
    expect(readdirSync(join(dir, 'rejected'))).toHaveLength(1);
  });
});

describe('a kept record that could never land is set aside at once, not retried for ever', () => {
  it.each([
    ['a time no Date holds', { at: 9e15 }],
    ['a negative time', { at: -1 }],
    ['a fractional time', { at: 1.5 }],
    ['a hold that reserved something that is not an item', { hold: { estimateNanos: 1, held: [5], targets: [] } }],
  ])('%s', async (_, change) => {
    const dir = mkdtempSync(join(tmpdir(), 'tollgate-journal-'));
    const journal = new FileSettlementJournal(dir);
    await journal.keep({ ...settlement(`poison-${Math.random()}`, 't-none', Date.now()), ...change } as Settlement);
    expect(await journal.replay({ settler: spendSettler(), owners: objectOwners() })).toEqual({ landed: 0, waiting: 0, rejected: 1 });
  });
});
