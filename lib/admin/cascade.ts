/**
 * Cascading deletes (a team with its keys and members, a user with theirs) that may not fit in
 * one transaction. Work is split into units that must land together (a key with its alias
 * marker and its audit item) and packed into as few transactions as fit. Every op in a unit is
 * idempotent (delete-if-present), so a cascade interrupted half way is finished by repeating
 * the request: it finds what is left and deletes that. The parent's own delete, last, is held to
 * the children witness it read before listing (lib/store/writes childrenUnchanged): a child added
 * meanwhile refuses it (409) rather than be left behind. A child that landed just before the
 * parent was read may not be in the index the listing reads yet (index lag), which the witness
 * cannot tell: the listing waits until the indexes have had INDEX_LAG_MS since the parent's last
 * child (untilIndexed), a wait only a delete right after an addition sees.
 */

import type { AuditEntry } from '../domain/audit.js';
import type { MemberRecord } from '../domain/records.js';
import { MAX_TX_ITEMS } from '../store/admin-store.js';
import { refs } from '../store/keys.js';
import { listings } from '../store/listings.js';
import { deleteAny, indexWaitMs } from '../store/writes.js';
import { keyDeleteOps, type StoredKey } from './actions/keys.js';
import { queryAll, type TxOp, transact, transactionSize } from './persistence.js';
import type { Actor } from './rules/actor.js';

export interface Unit {
  ops: TxOp[];
  audit: AuditEntry[];
}

/** The items a unit writes, the counter shards its creates and deletes reset included (lib/store/admin-store). */
export const unitSize = (u: Unit): number => transactionSize(u.ops, u.audit.length);
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

/**
 * Resolves once the indexes a cascade lists show every child the parent had when it was read:
 * at once unless a child was added to it within the last INDEX_LAG_MS (lib/store/writes).
 */
export async function untilIndexed(parent: object): Promise<void> {
  const wait = indexWaitMs(parent, Date.now());
  if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
}

/** What a cascade deletes: a team's keys and memberships, or a user's. */
export type CascadeOf = { team: string } | { user: string };

/**
 * The units that delete everything hanging off a team or a user (its keys, its memberships),
 * one unit each, with an audit entry naming `reason`. The one cascade both deletes use.
 */
export async function cascadeUnits(of: CascadeOf, reason: string): Promise<Unit[]> {
  const [keys, memberships] = await Promise.all(
    'team' in of
      ? [queryAll<StoredKey>(listings.keysOfTeam(of.team)), queryAll<MemberRecord>(listings.membersOfTeam(of.team))]
      : [queryAll<StoredKey>(listings.keysOfUser(of.user)), queryAll<MemberRecord>(listings.membershipsOfUser(of.user))],
  );
  return [
    ...keys.map((k) => ({
      ops: keyDeleteOps(k, false),
      audit: [{ action: 'key.delete', entity_type: 'key', entity_id: k.token, changes: { key_name: k.key_name, reason } }],
    })),
    ...memberships.map((m) => ({
      ops: [deleteAny(refs.member(m.team_id, m.user_id))],
      audit: [{ action: 'team.member_delete', entity_type: 'team_member', entity_id: `${m.team_id}/${m.user_id}`, changes: { reason } }],
    })),
  ];
}

/** How many units of a cascade delete keys, and how many memberships (for the parent's audit entry). */
export const cascadeCounts = (units: readonly Unit[]) => ({
  keys: units.filter((u) => u.audit[0]?.entity_type === 'key').length,
  memberships: units.filter((u) => u.audit[0]?.entity_type === 'team_member').length,
});
