/**
 * Cascading deletes (a team with its keys and members, a user with theirs) that may not fit in
 * one transaction. Work is split into units that must land together (a key with its alias
 * marker and its audit item) and packed into as few transactions as fit. Every op in a unit is
 * idempotent (delete-if-present), so a cascade interrupted half way is finished by repeating
 * the request: it finds what is left and deletes that.
 */
import type { Actor } from './rules/actor.js';
import type { AuditEntry } from '../domain/audit.js';
import { MAX_TX_ITEMS } from '../store/admin-store.js';
import { transact, type TxOp } from './persistence.js';

export interface Unit {
  ops: TxOp[];
  audit: AuditEntry[];
}

export const unitSize = (u: Unit): number => u.ops.length + u.audit.length;
export const totalSize = (units: readonly Unit[]): number => units.reduce((n, u) => n + unitSize(u), 0);
export const fitsInOne = (units: readonly Unit[]): boolean => totalSize(units) <= MAX_TX_ITEMS;

/** Commits units all together in one transaction (the caller checked `fitsInOne`). */
export async function commitTogether(units: readonly Unit[], actor: Actor, now: Date): Promise<void> {
  await transact(
    units.flatMap((u) => u.ops),
    actor,
    units.flatMap((u) => u.audit),
    now,
  );
}

/** Commits units in order, as many per transaction as fit; each unit lands whole. */
export async function commitInChunks(units: readonly Unit[], actor: Actor, now: Date): Promise<number> {
  let chunk: Unit[] = [];
  let size = 0;
  let transactions = 0;
  for (const u of units) {
    const n = unitSize(u);
    if (size + n > MAX_TX_ITEMS && chunk.length > 0) {
      await commitTogether(chunk, actor, now);
      transactions++;
      chunk = [];
      size = 0;
    }
    chunk.push(u);
    size += n;
  }
  if (chunk.length > 0) {
    await commitTogether(chunk, actor, now);
    transactions++;
  }
  return transactions;
}
