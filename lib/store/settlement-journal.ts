/**
 * Settlements that could not be written are kept, never dropped. When DynamoDB refuses a
 * settlement after its retries (an outage while answers are in flight), the llm function hands
 * it to a journal: an SQS queue in AWS (lib/aws/settlement-queue.ts, replayed by the
 * settlement-replay function), a folder of files in local mode (lib/spend/file-journal.ts,
 * replayed by the local gateway). A replay is the same settlement again: it counts once per
 * request id (lib/store/spend-ledger), so replaying one that did land, or replaying twice,
 * changes nothing. A strict call's reservation travels with it (`hold`) and is settled by the
 * replay with the actual cost; should the sweeper release it first, the replay still counts in full.
 * The same journal keeps the owner records of objects an upstream made that the store refused
 * (lib/llm/spend, KeptObjectOwners): a replay writes each unless its object has one by then.
 */
import { config } from '../config.js';
import { isObject } from '../domain/json.js';
import type { ObjectOwner } from '../domain/tenancy.js';
import type { ObjectOwners } from './objects.js';
import type { Settlement, SettlementOutcome, SpendSettler } from './spend-ledger.js';

export interface SettlementJournal {
  /** Keeps the settlement durably until a replay lands it; throws when it cannot. */
  keep(s: Settlement): Promise<void>;
  /**
   * Keeps the owner records of objects an upstream made (a batch, a background response) that the
   * store refused, until a replay writes them: without its record a pending object is never billed
   * (found by review: DynamoDB failing after the upstream accepted a batch left it running unbilled).
   */
  keepOwners(owners: readonly ObjectOwner[]): Promise<void>;
}

/** The journal's record format: versioned, so a replayer can refuse what it does not know. */
const VERSION = 1;

export const journalRecord = (s: Settlement): string => JSON.stringify({ version: VERSION, settlement: s });
export const ownersRecord = (owners: readonly ObjectOwner[]): string => JSON.stringify({ version: VERSION, owners });

/** What a journal record holds: a settlement, or owner records. */
export type JournalEntry = { settlement: Settlement } | { owners: ObjectOwner[] };

/** A record the replayer cannot read (internal: logged by the replayer, never rendered to a caller). */
export class JournalRecordError extends Error {
  constructor(reason: string) {
    super(`not a settlement journal record: ${reason}`);
    this.name = 'JournalRecordError';
  }
}

const isNanos = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

function assertTargets(v: unknown, field: string): void {
  if (!Array.isArray(v)) throw new JournalRecordError(`${field} is not a list`);
  for (const t of v) {
    if (!isObject(t) || typeof t.entity !== 'string' || !isObject(t.ref) || typeof t.ref.PK !== 'string' || typeof t.ref.SK !== 'string') {
      throw new JournalRecordError(`${field} holds a target without an entity and an item`);
    }
  }
}

/** A journal record read back, checked for the shape its settlement or owner records need. */
export function parseJournalEntry(text: string): JournalEntry {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new JournalRecordError('not JSON');
  }
  if (!isObject(parsed) || parsed.version !== VERSION) throw new JournalRecordError(`version is not ${VERSION}`);
  if (parsed.owners !== undefined) return { owners: parseOwners(parsed.owners) };
  return { settlement: parseSettlement(parsed.settlement) };
}

function parseOwners(v: unknown): ObjectOwner[] {
  if (!Array.isArray(v) || v.length === 0) throw new JournalRecordError('owners is not a list of owner records');
  for (const o of v)
    if (!isObject(o) || typeof o.object_id !== 'string' || o.object_id.length === 0 || typeof o.object_kind !== 'string')
      throw new JournalRecordError('owners holds a record without an object id and kind');
  return v as ObjectOwner[];
}

function parseSettlement(s: unknown): Settlement {
  if (!isObject(s)) throw new JournalRecordError('no settlement');
  if (typeof s.requestId !== 'string' || s.requestId.length === 0) throw new JournalRecordError('no request id');
  // A time a Date holds (a settlement's record and its windows are dated by it), else it could never land.
  if (typeof s.at !== 'number' || !Number.isSafeInteger(s.at) || s.at < 0 || s.at > MAX_DATE_MS) throw new JournalRecordError('no time');
  if (!isNanos(s.costNanos)) throw new JournalRecordError('the cost is not a whole number of nano-dollars');
  if (typeof s.model !== 'string') throw new JournalRecordError('no model');
  assertTargets(s.targets, 'targets');
  if (s.hold !== undefined) {
    if (
      !isObject(s.hold) ||
      !isNanos(s.hold.estimateNanos) ||
      !Array.isArray(s.hold.held) ||
      !s.hold.held.every((h) => typeof h === 'string')
    )
      throw new JournalRecordError('a malformed hold');
    assertTargets(s.hold.targets, 'hold.targets');
  }
  return s as unknown as Settlement;
}

/** The latest time a Date holds. */
const MAX_DATE_MS = 8.64e15;

/** A journal record's settlement, checked (lib/store/settlement-journal's tests read them). */
export function parseJournalRecord(text: string): Settlement {
  const entry = parseJournalEntry(text);
  if (!('settlement' in entry)) throw new JournalRecordError('no settlement');
  return entry.settlement;
}

/** Where a journal's records are replayed to. */
export interface ReplayTargets {
  settler: SpendSettler;
  /** The store itself (never one that journals what it cannot write). */
  owners: Pick<ObjectOwners, 'putNew'>;
}

/**
 * Lands one journal record: a settlement (replaySettlement), or owner records, each written
 * unless its object has one already (a record written since, billed perhaps, is never reset).
 */
export async function replayJournalRecord(
  to: ReplayTargets,
  text: string,
  opts: { now?: number; keptForMs?: number } = {},
): Promise<SettlementOutcome | { status: 'owners'; owners: number }> {
  const entry = parseJournalEntry(text);
  if ('settlement' in entry) return replaySettlement(to.settler, text, opts);
  for (const owner of entry.owners) await to.owners.putNew(owner);
  return { status: 'owners', owners: entry.owners.length };
}

/**
 * Lands one kept settlement; `duplicate` when it had landed already (it counts once either way).
 * Counting once rests on the settlement's record (`REQ#<request id>`), which is kept
 * `keptForMs` after the call: a settlement older than that is refused, never replayed, since its
 * record may be gone and a settlement that had landed would count twice. The default keeps
 * records longer than the queue keeps messages (14 days), so in AWS none gets that old.
 */
export async function replaySettlement(
  settler: SpendSettler,
  text: string,
  opts: { now?: number; keptForMs?: number } = {},
): Promise<SettlementOutcome> {
  const s = parseJournalRecord(text);
  const keptForMs = opts.keptForMs ?? config().settlementTtlSeconds * 1000;
  if ((opts.now ?? Date.now()) - s.at > keptForMs)
    throw new JournalRecordError(
      'older than its settlement record is kept (TOLLGATE_SETTLEMENT_TTL_SECONDS): replayed, it could count twice',
    );
  return settler.settle(s);
}
