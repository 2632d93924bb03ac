/**
 * Organization membership. A user belongs to at most one organization: `organization_id` on the
 * user record is the truth the rest of Tollgate reads; beside it, an item `ORG#<org>` /
 * `MEMBER#<user>` keeps the member's organization role and lets an organization list (and, on
 * delete, release) its members without a scan. Whoever changes a user's `organization_id` or
 * deletes a user also moves or deletes this item (see `membershipOps`).
 */
import type { Item } from '../store/codec.js';
import type { ItemRef } from '../store/keys.js';
import { deleteAny, putAny } from './shared-writes.js';
import type { TxOp } from './store.js';

export const ORG_ROLES = ['org_admin', 'internal_user', 'internal_user_viewer'] as const;
export type OrgRole = (typeof ORG_ROLES)[number];

export interface OrgMemberRecord {
  organization_id: string;
  user_id: string;
  user_role: OrgRole;
  created_at: string;
}

export const MEMBER_SK_PREFIX = 'MEMBER#';

export const orgMemberRef = (orgId: string, userId: string): ItemRef => ({ PK: `ORG#${orgId}`, SK: `${MEMBER_SK_PREFIX}${userId}` });

export const encodeOrgMember = (m: OrgMemberRecord): Item => ({ ...m, ...orgMemberRef(m.organization_id, m.user_id), kind: 'org_member' });

/** The membership items to write when a user leaves `from` and/or joins `to` (either may be null). */
export function membershipOps(userId: string, from: string | null | undefined, to: { organization_id: string; user_role: OrgRole; created_at: string } | null): TxOp[] {
  const ops: TxOp[] = [];
  if (from && from !== to?.organization_id) ops.push(deleteAny(orgMemberRef(from, userId)));
  if (to) ops.push(putAny(orgMemberRef(to.organization_id, userId), encodeOrgMember({ ...to, user_id: userId })));
  return ops;
}
