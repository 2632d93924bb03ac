/**
 * One code path for both entry points of an entity function:
 * - through API Gateway behind the authorizer: a REST proxy event; the route (from lib/routes)
 *   names the action, the authorizer's context names the actor; the answer is JSON with the
 *   error contract's status codes;
 * - by direct invocation (console, SDK): `{"action": "<name>", ...fields}`; the invoker is an
 *   admin (IAM decided who may invoke); the answer is the same JSON object, and an error is
 *   thrown as the typed TollgateError so the invocation is marked failed with its message.
 */
import { randomUUID } from 'node:crypto';
import middy from '@middy/core';
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import type { z } from 'zod';
import { readCallerContext } from '../../authorizer/context.js';
import { withoutSecrets } from '../../domain/secrets.js';
import {
  AuthenticationError,
  InvalidRequestError,
  isTollgateError,
  RouteNotFoundError,
  type TollgateError,
  toTollgateError,
} from '../../errors.js';
import { type FunctionName, matchRoute, routeByResource } from '../../routes.js';
import { logger, tracing } from '../../telemetry.js';
import { type Actor, actorFromContext, iamActor } from '../rules/actor.js';
import { parseInput } from '../schema/fields.js';
import { apiInput } from './body.js';

export interface ActionContext {
  actor: Actor;
  now: Date;
  requestId: string;
}

export interface ActionDef<S extends z.ZodType = z.ZodType> {
  schema: S;
  run(input: z.output<S>, ctx: ActionContext): Promise<unknown>;
  /** HTTP status of a success (200 unless said). */
  status?: number;
}

/** Declares an action with its input type inferred from the schema. */
export const action = <S extends z.ZodType>(
  schema: S,
  run: (input: z.output<S>, ctx: ActionContext) => Promise<unknown>,
  status?: number,
): ActionDef<S> => ({
  schema,
  run,
  ...(status ? { status } : {}),
});

export type Actions = Record<string, ActionDef<z.ZodType>>;

export interface DirectEvent {
  action: string;
  [field: string]: unknown;
}

const isApiEvent = (e: unknown): e is APIGatewayProxyEvent =>
  typeof e === 'object' && e !== null && 'httpMethod' in e && 'requestContext' in e;

const json = (statusCode: number, body: unknown): APIGatewayProxyResult => ({
  statusCode,
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify(body),
});

async function runAction(
  actions: Actions,
  name: string,
  raw: unknown,
  actor: Actor,
  requestId: string,
): Promise<{ status: number; body: unknown }> {
  const def = Object.hasOwn(actions, name) ? actions[name] : undefined;
  if (!def) {
    throw new InvalidRequestError(
      `unknown action \`${String(name).slice(0, 64)}\` (known: ${Object.keys(actions).join(', ')})`,
      'unknown_action',
      'action',
    );
  }
  const input = parseInput(def.schema, raw);
  const body = await def.run(input, { actor, now: new Date(), requestId });
  return { status: def.status ?? 200, body };
}

function logFailure(fn: string, action: string, e: TollgateError, cause: unknown): void {
  if (e.status >= 500) logger().error('admin action failed', { fn, action, code: e.code, error: (cause as Error)?.name });
  else logger().info('admin action refused', { fn, action, code: e.code });
}

export function createAdminHandler(fn: FunctionName, actions: Actions) {
  async function handle(event: APIGatewayProxyEvent | DirectEvent, context: Context): Promise<unknown> {
    const requestId = context?.awsRequestId ?? randomUUID();
    if (!isApiEvent(event)) {
      const { action: name, ...fields } = (event ?? {}) as DirectEvent;
      try {
        return (await runAction(actions, typeof name === 'string' ? name : '', fields, iamActor, requestId)).body;
      } catch (e) {
        const err = toTollgateError(e);
        // The action named, as given: never a credential pasted where a name goes.
        logFailure(fn, withoutSecrets(String(name)), err, e);
        throw err;
      }
    }
    let name = '';
    try {
      const route = event.resource ? routeByResource(event.httpMethod, event.resource) : matchRoute(event.httpMethod, event.path)?.route;
      if (!route || route.fn !== fn || !route.action) throw new RouteNotFoundError(event.httpMethod, event.path);
      name = route.action;
      const caller = readCallerContext(event.requestContext?.authorizer as Record<string, unknown> | undefined);
      // Behind the authorizer there is always a caller; without one, nobody is let in.
      if (!caller) throw new AuthenticationError('missing_credentials', 'no authorized caller in the request context');
      const { status, body } = await runAction(actions, name, apiInput(event), actorFromContext(caller), requestId);
      return json(status, body);
    } catch (e) {
      const err = toTollgateError(e);
      logFailure(fn, name, err, isTollgateError(e) ? undefined : e);
      return json(err.status, err.toBody());
    }
  }
  return middy(handle).use(tracing());
}
