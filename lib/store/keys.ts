/**
 * Primary keys of the single table. Everything the authorizer reads is addressed by PK/SK,
 * so reads on the authorization path never touch an index.
 */

import type { Caller } from '../domain/caller.js';
import type { ChainLink } from '../domain/chain.js';

export interface ItemRef {
  PK: string;
  SK: string;
}

/**
 * One string per item, for caches and maps: PK's length, then PK, then SK. The length makes it
 * unambiguous whatever the ids hold (ids from JWT claims or the body's `user` may contain any
 * character, `auth0|123`), and it is cheap: the warm authorization path builds dozens per call.
 */
export const refKey = (ref: ItemRef): string => `${ref.PK.length}:${ref.PK}${ref.SK}`;

/** The ref a refKey names. */
export function parseRefKey(key: string): ItemRef {
  const colon = key.indexOf(':');
  const end = colon + 1 + Number(key.slice(0, colon));
  return { PK: key.slice(colon + 1, end), SK: key.slice(end) };
}

export const refs = {
  key: (tokenHash: string): ItemRef => ({ PK: `KEY#${tokenHash}`, SK: 'KEY' }),
  user: (userId: string): ItemRef => ({ PK: `USER#${userId}`, SK: 'USER' }),
  team: (teamId: string): ItemRef => ({ PK: `TEAM#${teamId}`, SK: 'TEAM' }),
  member: (teamId: string, userId: string): ItemRef => ({ PK: `TEAM#${teamId}`, SK: `MEMBER#${userId}` }),
  org: (orgId: string): ItemRef => ({ PK: `ORG#${orgId}`, SK: 'ORG' }),
  endUser: (endUserId: string): ItemRef => ({ PK: `END_USER#${endUserId}`, SK: 'END_USER' }),
  budget: (budgetId: string): ItemRef => ({ PK: `BUDGET#${budgetId}`, SK: 'BUDGET' }),
  model: (modelName: string): ItemRef => ({ PK: `MODEL#${modelName}`, SK: 'MODEL' }),
  globalSpend: (): ItemRef => ({ PK: 'GLOBAL', SK: 'SPEND' }),
  settlement: (requestId: string): ItemRef => ({ PK: `REQ#${requestId}`, SK: 'SETTLEMENT' }),
  /** The marker that makes a key alias unique (it names the key's token). */
  keyAlias: (alias: string): ItemRef => ({ PK: `KEY_ALIAS#${alias}`, SK: 'KEY_ALIAS' }),
  /** Which key a regenerated key's spend goes to now (lib/store/key-successor), beside the old key. */
  keySuccessor: (tokenHash: string): ItemRef => ({ PK: `KEY#${tokenHash}`, SK: 'SUCCESSOR' }),
  /** The marker that makes a model alias unique (it names the model). */
  modelAlias: (alias: string): ItemRef => ({ PK: `MODEL_ALIAS#${alias}`, SK: 'MODEL_ALIAS' }),
  /** An item nobody writes: the readiness probe reads it to see the table answer. */
  readiness: (): ItemRef => ({ PK: 'HEALTH', SK: 'READINESS' }),
  /** A user's membership of an organization, beside the organization. */
  orgMember: (orgId: string, userId: string): ItemRef => ({ PK: `ORG#${orgId}`, SK: `MEMBER#${userId}` }),
} as const;

/** Index names: GSI1 lists one kind of item; GSI2 lists by owning user; GSI3 by parent team or org. */
/** DynamoDB's bound on a sort key, in UTF-8 bytes (a partition key may have 2,048). */
export const MAX_SORT_KEY_BYTES = 1024;

/** A key value DynamoDB takes back from a cursor: a string, not empty, within a sort key's bound. */
export const isKeyValue = (v: unknown): v is string =>
  typeof v === 'string' && v.length > 0 && Buffer.byteLength(v, 'utf8') <= MAX_SORT_KEY_BYTES;

export const INDEX = { byKind: 'GSI1', byUser: 'GSI2', byParent: 'GSI3' } as const;

/** The item an entity of the governing chain keeps its spend counters on (shard 0). */
export function counterRef(link: ChainLink, caller: Caller): ItemRef {
  const { key, member } = caller.state;
  const id = link.id ?? '';
  switch (link.entity) {
    case 'key':
      return refs.key(key?.token ?? '');
    case 'user':
      return refs.user(id);
    case 'team':
      return refs.team(id);
    case 'team_member':
      return refs.member(member?.team_id ?? '', member?.user_id ?? '');
    case 'organization':
      return refs.org(id);
    case 'end_user':
      return refs.endUser(id);
    case 'global':
      return refs.globalSpend();
  }
}

/**
 * What a settlement writes when the entity's item does not exist yet: end users seen first in a
 * `user` field (as LiteLLM does for customers) and the proxy's item. Anything else must exist: a
 * key deleted mid-call must not come back as a bare counter that looks like a key.
 */
export function createdOnFirstSpend(link: Pick<ChainLink, 'entity' | 'id'>, now: number): Record<string, unknown> | undefined {
  if (link.entity === 'end_user' && link.id) {
    return { kind: 'end_user', user_id: link.id, GSI1PK: 'END_USER', GSI1SK: link.id, created_at: new Date(now).toISOString() };
  }
  if (link.entity === 'global') return { kind: 'global' };
  return undefined;
}

/** What `createdOnFirstSpend` gives the item at `ref`, known from the ref alone (undefined: none). */
export function createdOnFirstSpendAt(ref: ItemRef, now: number): Record<string, unknown> | undefined {
  if (ref.PK === refs.globalSpend().PK && ref.SK === refs.globalSpend().SK) return createdOnFirstSpend({ entity: 'global', id: null }, now);
  const endUser = refs.endUser('');
  if (ref.PK.startsWith(endUser.PK) && ref.SK === endUser.SK) {
    const id = ref.PK.slice(endUser.PK.length);
    return createdOnFirstSpend({ entity: 'end_user', id }, now);
  }
  return undefined;
}
