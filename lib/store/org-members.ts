/**
 * Organization membership. A user belongs to at most one organization: `organization_id` on the
 * user record is the truth the rest of Tollgate reads; beside it, an item `ORG#<org>` /
 * `MEMBER#<user>` keeps the member's organization role and lets an organization list (and, on
 * delete, release) its members without a scan. Whoever changes a user's `organization_id` or
 * deletes a user also moves or deletes this item (see `membershipOps`).
 */

import type { OrgMemberRecord, OrgRole } from '../domain/records.js';
import type { TxOp } from './admin-store.js';
import type { Item } from './codec.js';
import { refs } from './keys.js';
import { deleteAny, putAny } from './writes.js';

export const encodeOrgMember = (m: OrgMemberRecord): Item => ({
  ...m,
  ...refs.orgMember(m.organization_id, m.user_id),
  kind: 'org_member',
});

/** The membership items to write when a user leaves `from` and/or joins `to` (either may be null). */
export function membershipOps(
  userId: string,
  from: string | null | undefined,
  to: { organization_id: string; user_role: OrgRole; created_at: string } | null,
): TxOp[] {
  const ops: TxOp[] = [];
  if (from && from !== to?.organization_id) ops.push(deleteAny(refs.orgMember(from, userId)));
  if (to) ops.push(putAny(refs.orgMember(to.organization_id, userId), encodeOrgMember({ ...to, user_id: userId })));
  return ops;
}
