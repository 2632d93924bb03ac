/**
 * The table's listings, named for what they list. Each is a partition of the base table or of
 * an index, optionally narrowed to a sort-key prefix or range; lib/store/admin-store pages
 * through them. Index partitions by user (GSI2) and by parent (GSI3) hold several kinds, so
 * each listing names the sort-key prefix of its kind.
 */
import { INDEX } from './keys.js';

export interface Listing {
  index?: string;
  pk: string;
  skPrefix?: string;
  skBetween?: [string, string];
}

/** Kinds listed whole through the by-kind index. */
export type ListedKind = 'key' | 'user' | 'team' | 'org' | 'end_user' | 'budget' | 'model' | 'audit';
const KIND_PARTITION: Readonly<Record<ListedKind, string>> = {
  key: 'KEY',
  user: 'USER',
  team: 'TEAM',
  org: 'ORG',
  end_user: 'END_USER',
  budget: 'BUDGET',
  model: 'MODEL',
  audit: 'AUDIT',
};

export const listings = {
  /** Every item of a kind, in the by-kind index's order (keys by creation time, the rest by id). */
  all: (kind: ListedKind): Listing => ({ index: INDEX.byKind, pk: KIND_PARTITION[kind] }),
  keysOfTeam: (teamId: string): Listing => ({ index: INDEX.byParent, pk: `TEAM#${teamId}`, skPrefix: 'KEY#' }),
  keysOfUser: (userId: string): Listing => ({ index: INDEX.byUser, pk: `USER#${userId}`, skPrefix: 'KEY#' }),
  membersOfTeam: (teamId: string): Listing => ({ pk: `TEAM#${teamId}`, skPrefix: 'MEMBER#' }),
  /** A user's team memberships (their teams). */
  membershipsOfUser: (userId: string): Listing => ({ index: INDEX.byUser, pk: `USER#${userId}`, skPrefix: 'MEMBER#' }),
  teamsOfOrg: (orgId: string): Listing => ({ index: INDEX.byParent, pk: `ORG#${orgId}`, skPrefix: 'TEAM#' }),
  membersOfOrg: (orgId: string): Listing => ({ pk: `ORG#${orgId}`, skPrefix: 'MEMBER#' }),
  /** One entity's audit history, between two ISO times. */
  auditOf: (entityType: string, entityId: string, between: [string, string]): Listing => ({
    pk: `AUDIT#${entityType}#${entityId}`,
    skBetween: between,
  }),
  /** The whole audit log, between two ISO times. */
  auditByTime: (between: [string, string]): Listing => ({ index: INDEX.byKind, pk: KIND_PARTITION.audit, skBetween: between }),
} as const;

/**
 * The index attributes a key or team gets when its owner or parent changes: the attributes to
 * set, and those to remove (an item leaves an index listing when its key attributes go).
 */
export const reindex = {
  keyOwners(
    next: { token: string; created_at: string; team_id?: string | null | undefined; user_id?: string | null | undefined },
    changed: { team: boolean; user: boolean },
  ) {
    const set: Record<string, string> = {};
    const remove: string[] = [];
    const sk = `KEY#${next.created_at}#${next.token}`;
    if (changed.team) {
      if (next.team_id) Object.assign(set, { GSI3PK: `TEAM#${next.team_id}`, GSI3SK: sk });
      else remove.push('GSI3PK', 'GSI3SK');
    }
    if (changed.user) {
      if (next.user_id) Object.assign(set, { GSI2PK: `USER#${next.user_id}`, GSI2SK: sk });
      else remove.push('GSI2PK', 'GSI2SK');
    }
    return { set, remove };
  },
  teamOrg(teamId: string, orgId: string | null | undefined) {
    return orgId
      ? { set: { GSI3PK: `ORG#${orgId}`, GSI3SK: `TEAM#${teamId}` }, remove: [] as string[] }
      : { set: {}, remove: ['GSI3PK', 'GSI3SK'] };
  },
  /**
   * A replaced key leaves every listing, and waits in the listing of copies not yet settled
   * (GSI1 `KEY_COPY`, by when it was replaced) until its copy is (lib/store/key-copy): the
   * regeneration settles it before it answers, the sweeper any it left (lib/store/sweep).
   */
  replacedKey(at: string) {
    return { set: { GSI1PK: KEY_COPY_PARTITION, GSI1SK: at }, remove: ['GSI2PK', 'GSI2SK', 'GSI3PK', 'GSI3SK'] };
  },
} as const;

/** The GSI1 partition listing replaced keys whose counter copy is not settled yet. */
export const KEY_COPY_PARTITION = 'KEY_COPY';
