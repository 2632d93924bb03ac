/**
 * The caller again, for the body-aware checks: who it is comes from the authorizer's context
 * (trusted, API Gateway put it there); what its entities look like now is reloaded through the
 * same cached loaders as the authorizer's, so no check runs on data older than the cache TTL.
 * The key and everything it points to are asked for in the same tick: one batch when cold.
 */
import type { CallerContext } from '../authorizer/context.js';
import type { Caller } from '../domain/caller.js';
import { InvalidApiKeyError, PermissionDeniedError } from '../errors.js';
import type { EntityReader } from '../store/entities.js';

export interface CallerOptions {
  /** The JWT's end user (trusted) or else the body's `user` (client-asserted). */
  endUserId: string | undefined;
  /** Load proxy-wide spend (a proxy budget is set and the route spends). */
  needGlobal: boolean;
}

export async function loadCaller(ctx: CallerContext, reader: EntityReader, opts: CallerOptions): Promise<Caller> {
  const [found, state] = await Promise.all([
    ctx.key_hash ? reader.key(ctx.key_hash) : Promise.resolve(undefined),
    reader.state({ userId: ctx.user_id, teamId: ctx.team_id, orgId: ctx.org_id, endUserId: opts.endUserId, global: opts.needGlobal }),
  ]);
  // Regenerated since the authorizer answered (its answer cached): the newest key governs, as it would now.
  const key = found?.replaced_by ? await reader.newestKey(found) : found;
  // Deleted between the authorizer and here: the same answers the authorizer would now give.
  if (ctx.principal === 'virtual_key' && !key) throw new InvalidApiKeyError();
  if (ctx.team_id && !state.team) throw new PermissionDeniedError('team_not_found', `team \`${ctx.team_id}\` does not exist`);
  return {
    principal: ctx.principal,
    role: ctx.role,
    userId: ctx.user_id,
    teamId: ctx.team_id,
    orgId: state.org?.organization_id ?? ctx.org_id,
    endUserId: opts.endUserId,
    keyHash: key?.token ?? ctx.key_hash,
    keyName: key?.key_name ?? ctx.key_name,
    // As in the authorizer: a JWT's membership counts only for a known user.
    state: { ...state, key, member: ctx.principal === 'jwt' && !state.user ? undefined : state.member },
  };
}
