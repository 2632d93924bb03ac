/**
 * The admin API's persistence port: what the actions need from storage, named for what they do,
 * with no table layout in sight. Reads are strongly consistent (an admin sees its own writes);
 * writes are transactions that carry their audit entries (never half written); listings page
 * with opaque cursors. lib/store/admin-store.ts is the DynamoDB implementation; the app's wiring
 * (lib/app/admin.ts) decides which one an instance uses, and tests may swap it there.
 *
 * `load` is the one get-or-404: every entity kind, the same NotFoundError.
 */

import { adminStore } from '../app/admin.js';
import type { Actor } from '../domain/actor.js';
import type { AuditEntry } from '../domain/audit.js';
import type {
  BudgetRecord,
  EndUserRecord,
  MemberRecord,
  ModelRecord,
  OrgMemberRecord,
  OrgRecord,
  TeamRecord,
  UserRecord,
} from '../domain/records.js';
import { type NotFoundEntity, NotFoundError } from '../errors.js';
import type { QueryOptions, TxOp } from '../store/admin-store.js';
import { type ItemRef, refs } from '../store/keys.js';
import type { Listing } from '../store/listings.js';
import type { Page } from '../store/pagination.js';
import type { StoredKey } from './actions/keys.js';

export interface AdminStore {
  /** One record, read consistently with its counters summed; undefined when absent. */
  getRecord<T>(ref: ItemRef): Promise<T | undefined>;
  /** The entity item alone (its own counters, no shard summed in); undefined when absent. */
  getOwnRecord<T>(ref: ItemRef): Promise<T | undefined>;
  /**
   * After a regeneration: adds to the new key what the old key's counters moved since they were
   * copied, once, and finishes the old item (lib/store/key-copy). False if it could not settle it.
   */
  settleKeyCopy(oldToken: string, attempts?: number): Promise<boolean>;
  /** How many items a transaction of these writes and `audits` audit entries writes, all told (at most MAX_TX_ITEMS). */
  transactionSize(ops: readonly TxOp[], audits: number): number;
  /** Commits the writes and their audit entries atomically, or nothing at all. */
  transact(ops: TxOp[], actor: Actor, audit: AuditEntry | AuditEntry[], now: Date): Promise<void>;
  /** One page of a listing. */
  queryPage<T>(o: QueryOptions): Promise<Page<T>>;
  /** Every item of a listing (cascades; bounded by `max`). */
  queryAll<T>(o: Listing, max?: number): Promise<T[]>;
}

/** The records `find` and `load` address, with the ids that name them. */
interface Entities {
  key: { record: StoredKey; ids: [token: string] };
  user: { record: UserRecord; ids: [userId: string] };
  team: { record: TeamRecord; ids: [teamId: string] };
  team_member: { record: MemberRecord; ids: [teamId: string, userId: string] };
  organization: { record: OrgRecord; ids: [orgId: string] };
  org_member: { record: OrgMemberRecord; ids: [orgId: string, userId: string] };
  end_user: { record: EndUserRecord; ids: [endUserId: string] };
  budget: { record: BudgetRecord; ids: [budgetId: string] };
  model: { record: ModelRecord; ids: [modelName: string] };
  key_alias: { record: { key_alias: string; token: string }; ids: [alias: string] };
  model_alias: { record: { alias: string; model_name: string }; ids: [alias: string] };
}
export type EntityKind = keyof Entities;

const refOf: { [K in EntityKind]: (...ids: Entities[K]['ids']) => ItemRef } = {
  key: refs.key,
  user: refs.user,
  team: refs.team,
  team_member: refs.member,
  organization: refs.org,
  org_member: refs.orgMember,
  end_user: refs.endUser,
  budget: refs.budget,
  model: refs.model,
  key_alias: refs.keyAlias,
  model_alias: refs.modelAlias,
};

/** How a 404 names the missing entity (`team_member`: `u-1@t-1`). */
const notFoundName = (kind: EntityKind, ids: readonly string[]): [NotFoundEntity, string] => {
  switch (kind) {
    case 'team_member':
    case 'org_member':
      return [kind === 'team_member' ? 'team_member' : 'organization_member', `${ids[1]}@${ids[0]}`];
    case 'key_alias':
      return ['key', ids[0] ?? ''];
    case 'model_alias':
      return ['model', ids[0] ?? ''];
    default:
      return [kind, ids[0] ?? ''];
  }
};

/** The instance's admin store (from the app's wiring). */

/** The record, or undefined when it does not exist. */
export function find<K extends EntityKind>(kind: K, ...ids: Entities[K]['ids']): Promise<Entities[K]['record'] | undefined> {
  return adminStore().getRecord<Entities[K]['record']>((refOf[kind] as (...a: string[]) => ItemRef)(...ids));
}

/**
 * The entity item alone, without the counters of its other shards: what a write that moves its
 * own counters relative to what they hold needs (setting `spend` keeps the strict reservations
 * held on it).
 */
export function findOwn<K extends EntityKind>(kind: K, ...ids: Entities[K]['ids']): Promise<Entities[K]['record'] | undefined> {
  return adminStore().getOwnRecord<Entities[K]['record']>((refOf[kind] as (...a: string[]) => ItemRef)(...ids));
}

/** The record, or a 404 naming it (`shown` replaces the id in the message, e.g. `sk-...abcd` for a token). */
export async function load<K extends EntityKind>(kind: K, ...ids: Entities[K]['ids']): Promise<Entities[K]['record']> {
  const record = await find(kind, ...ids);
  if (!record) throw notFound(kind, ...ids)();
  return record;
}

/** The 404 for an entity, as a thunk (for transaction conditions that find it gone). */
export const notFound =
  <K extends EntityKind>(kind: K, ...ids: Entities[K]['ids']) =>
  (): NotFoundError => {
    const [entity, id] = notFoundName(kind, ids);
    return new NotFoundError(entity, id);
  };

export const settleKeyCopy = (oldToken: string): Promise<boolean> => adminStore().settleKeyCopy(oldToken);
export const transact = (ops: TxOp[], actor: Actor, audit: AuditEntry | AuditEntry[], now: Date): Promise<void> =>
  adminStore().transact(ops, actor, audit, now);
export const transactionSize = (ops: readonly TxOp[], audits: number): number => adminStore().transactionSize(ops, audits);
export const queryPage = <T>(o: QueryOptions): Promise<Page<T>> => adminStore().queryPage<T>(o);
export const queryAll = <T>(o: Listing, max?: number): Promise<T[]> => adminStore().queryAll<T>(o, max);
export type { TxOp } from '../store/admin-store.js';
