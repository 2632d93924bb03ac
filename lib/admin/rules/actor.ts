/** The actor of an API request (from the authorizer's context), and the proxy-admin rule. */
import type { CallerContext } from '../../authorizer/context.js';
import { type Actor, isProxyAdmin } from '../../domain/actor.js';
import { ForbiddenError } from '../../errors.js';

export const actorFromContext = (ctx: CallerContext): Actor => ({
  principal: ctx.principal,
  role: ctx.role,
  userId: ctx.user_id,
  teamId: ctx.team_id,
  keyHash: ctx.key_hash,
  keyName: ctx.key_name,
  models: ctx.models,
});

export function requireProxyAdmin(a: Actor, what: string): void {
  if (!isProxyAdmin(a)) throw new ForbiddenError(`only a proxy admin may ${what}`);
}

export { type Actor, actorLabel, iamActor, isProxyAdmin } from '../../domain/actor.js';
