import type { EntityState } from './records.js';

/** How the caller proved who it is. */
export type Principal = 'master_key' | 'virtual_key' | 'jwt';

/**
 * The role that decides which route groups a caller reaches. `team` is a JWT that names a team
 * but no user; a JWT carrying the admin scope has role `proxy_admin` with principal `jwt`.
 */
export type Role = 'proxy_admin' | 'internal_user' | 'internal_user_viewer' | 'team';

export interface Caller {
  principal: Principal;
  role: Role;
  userId?: string | undefined;
  teamId?: string | undefined;
  orgId?: string | undefined;
  endUserId?: string | undefined;
  /** The key's hash (virtual keys only): never the key itself. */
  keyHash?: string | undefined;
  /** `sk-...last4`, for messages. */
  keyName?: string | undefined;
  state: EntityState;
}
