/**
 * Settlements that could not be written are kept, never dropped. When DynamoDB refuses a
 * settlement after its retries (an outage while answers are in flight), the llm function hands
 * it to a journal: an SQS queue in AWS (lib/aws/settlement-queue.ts, replayed by the
 * settlement-replay function), a folder of files in local mode (lib/spend/file-journal.ts,
 * replayed by the local gateway). A replay is the same settlement again: it counts once per
 * request id (lib/store/spend-ledger), so replaying one that did land, or replaying twice,
 * changes nothing. A strict call's reservation travels with it (`hold`) and is settled by the
 * replay with the actual cost; should the sweeper release it first, the replay still counts in full.
 */
import type { Settlement, SettlementOutcome, SpendSettler } from './spend-ledger.js';

export interface SettlementJournal {
  /** Keeps the settlement durably until a replay lands it; throws when it cannot. */
  keep(s: Settlement): Promise<void>;
}

/** The journal's record format: versioned, so a replayer can refuse what it does not know. */
const VERSION = 1;

export const journalRecord = (s: Settlement): string => JSON.stringify({ version: VERSION, settlement: s });

/** A record the replayer cannot read (internal: logged by the replayer, never rendered to a caller). */
export class JournalRecordError extends Error {
  constructor(reason: string) {
    super(`not a settlement journal record: ${reason}`);
    this.name = 'JournalRecordError';
  }
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isNanos = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

function assertTargets(v: unknown, field: string): void {
  if (!Array.isArray(v)) throw new JournalRecordError(`${field} is not a list`);
  for (const t of v) {
    if (!isObject(t) || typeof t.entity !== 'string' || !isObject(t.ref) || typeof t.ref.PK !== 'string' || typeof t.ref.SK !== 'string') {
      throw new JournalRecordError(`${field} holds a target without an entity and an item`);
    }
  }
}

/** A journal record read back, checked for the shape a settlement needs. */
export function parseJournalRecord(text: string): Settlement {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new JournalRecordError('not JSON');
  }
  if (!isObject(parsed) || parsed.version !== VERSION) throw new JournalRecordError(`version is not ${VERSION}`);
  const s = parsed.settlement;
  if (!isObject(s)) throw new JournalRecordError('no settlement');
  if (typeof s.requestId !== 'string' || s.requestId.length === 0) throw new JournalRecordError('no request id');
  if (typeof s.at !== 'number' || !Number.isFinite(s.at)) throw new JournalRecordError('no time');
  if (!isNanos(s.costNanos)) throw new JournalRecordError('the cost is not a whole number of nano-dollars');
  if (typeof s.model !== 'string') throw new JournalRecordError('no model');
  assertTargets(s.targets, 'targets');
  if (s.hold !== undefined) {
    if (!isObject(s.hold) || !isNanos(s.hold.estimateNanos) || !Array.isArray(s.hold.held))
      throw new JournalRecordError('a malformed hold');
    assertTargets(s.hold.targets, 'hold.targets');
  }
  return s as unknown as Settlement;
}

/** Lands one kept settlement; `duplicate` when it had landed already (it counts once either way). */
export function replaySettlement(settler: SpendSettler, text: string): Promise<SettlementOutcome> {
  return settler.settle(parseJournalRecord(text));
}
