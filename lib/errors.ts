/**
 * The one error family of Tollgate. Every denial and failure that reaches a caller is a
 * TollgateError with a stable HTTP status, `type` and `code`, rendered everywhere as
 * `{"error": {"message", "type", "param", "code"}}`. Messages name the entity and the limit,
 * never a secret: whatever input a message or param quotes is passed through lib/domain/secrets.
 */
import { type BudgetEntity, budgetEntityLabel } from './domain/budget-entity.js';
import type { RateLimitDenialCode } from './domain/rate-limits.js';
import { looksLikeSecret, withoutSecrets } from './domain/secrets.js';

export type ErrorType =
  | 'invalid_request_error'
  | 'authentication_error'
  | 'permission_error'
  | 'budget_exceeded'
  | 'rate_limit_error'
  | 'not_found_error'
  | 'conflict_error'
  | 'upstream_error'
  | 'service_unavailable'
  | 'internal_error';

/** 400: the request itself is wrong; nothing changed. */
export type InvalidRequestCode =
  | 'invalid_body'
  | 'duplicate_field'
  | 'invalid_field'
  | 'invalid_type'
  | 'invalid_duration'
  | 'invalid_cursor'
  | 'invalid_model'
  | 'invalid_path'
  | 'unknown_field'
  | 'unknown_action'
  | 'missing_field'
  | 'nothing_to_update'
  | 'user_param_required'
  | 'hierarchy_violation'
  | 'model_required'
  | 'too_many_models'
  | 'too_many_items'
  | 'item_too_large'
  | 'duplicate_member'
  | 'literal_api_key'
  | 'not_team_member'
  | 'unsupported_parameter'
  | 'upstream_invalid_request'
  | 'spend_logs_not_indexed';
export type AuthenticationCode = 'missing_credentials' | 'invalid_api_key' | 'invalid_jwt';
/** 403 permission_error: a known caller that may not do this. */
export type PermissionCode =
  | 'key_expired'
  | 'key_blocked'
  | 'team_blocked'
  | 'end_user_blocked'
  | 'route_not_allowed'
  | 'key_route_not_allowed'
  | 'deferred_work_not_allowed'
  | 'unbounded_server_tool'
  | 'unbounded_input'
  | 'model_not_allowed'
  | 'team_not_found'
  | 'user_not_found'
  | 'not_team_member'
  | 'upstream_access_denied'
  | 'forbidden';
/** The entities a 404 (`<entity>_not_found`) can name. */
export type NotFoundEntity =
  | 'key'
  | 'user'
  | 'team'
  | 'team_member'
  | 'organization'
  | 'organization_member'
  | 'end_user'
  | 'budget'
  | 'model'
  | 'route'
  | 'response'
  | 'file'
  | 'batch'
  | 'assistant'
  | 'thread'
  | 'container'
  | 'vector_store'
  | 'conversation'
  | 'item'
  | 'run';
export type NotFoundCode = `${NotFoundEntity}_not_found`;
/** 409: the request conflicts with what is stored. */
export type ConflictCode =
  | 'concurrent_update'
  | 'key_exists'
  | 'key_alias_taken'
  | 'key_replaced'
  | 'user_exists'
  | 'team_exists'
  | 'member_exists'
  | 'organization_exists'
  | 'organization_has_teams'
  | 'end_user_exists'
  | 'budget_exists'
  | 'budget_in_use'
  | 'model_exists'
  | 'model_name_taken'
  | 'model_alias_taken'
  | 'object_pending';
export type BudgetCode = `${BudgetEntity}_budget_exceeded`;
export type UpstreamCode = 'upstream_failed' | 'upstream_timeout' | 'upstream_model_not_found';
/** 429: a rate limit in the chain (lib/domain/rate-limits), or the upstream's own. */
export type RateLimitCode = 'upstream_rate_limited' | RateLimitDenialCode;

/** Every code a TollgateError can carry: a closed set, so a code is a contract, not a string. */
export type ErrorCode =
  | InvalidRequestCode
  | 'request_too_large'
  | AuthenticationCode
  | PermissionCode
  | BudgetCode
  | NotFoundCode
  | ConflictCode
  | UpstreamCode
  | RateLimitCode
  | 'store_unavailable'
  | 'internal_error';

export interface ErrorBody {
  error: { message: string; type: ErrorType; param: string | null; code: ErrorCode };
}

/** The base of the family; built only through the named subclasses below. */
export abstract class TollgateError extends Error {
  protected constructor(
    readonly status: number,
    readonly type: ErrorType,
    readonly code: ErrorCode,
    message: string,
    param: string | null = null,
  ) {
    // Messages and params quote input (a field name, an id, a model): never one shaped like a key or token.
    super(withoutSecrets(message));
    this.param = param === null ? null : withoutSecrets(param);
    this.name = new.target.name;
  }

  readonly param: string | null;

  toBody(): ErrorBody {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }
}

export const isTollgateError = (e: unknown): e is TollgateError => e instanceof TollgateError;

/**
 * Money in messages: two decimals ("spent 10.02 of its 10.00 budget"), more below a cent so a
 * tiny budget does not read "spent 0.00 of its 0.00".
 */
export function money(n: number): string {
  if (n === 0 || Math.abs(n) >= 0.01 || !Number.isFinite(n)) return n.toFixed(2);
  return n.toFixed(8).replace(/0+$/, '');
}

// 400
export class InvalidRequestError extends TollgateError {
  constructor(message: string, code: InvalidRequestCode = 'invalid_body', param: string | null = null) {
    super(400, 'invalid_request_error', code, message, param);
  }
}
export class UnknownFieldError extends InvalidRequestError {
  constructor(field: string) {
    // A key where a field name goes (`GET /key/info?sk-...`, the `key=` forgotten) is not repeated back.
    if (looksLikeSecret(field)) super('an unknown field whose name looks like a key (not repeated)', 'unknown_field', field);
    else super(`unknown field \`${field}\``, 'unknown_field', field);
  }
}
export class UserParamRequiredError extends InvalidRequestError {
  constructor() {
    super('this proxy requires the `user` field in the request body (enforce_user_param)', 'user_param_required', 'user');
  }
}
/** A path that would reach outside the upstream's base URL (`..`, encoded or not; a backslash; `//`). */
export class InvalidPathError extends InvalidRequestError {
  constructor(message: string) {
    super(message, 'invalid_path', 'path');
  }
}
export class HierarchyViolationError extends InvalidRequestError {
  constructor(message: string, param: string) {
    super(message, 'hierarchy_violation', param);
  }
}

/** 413: the body is larger than API Gateway (and so Lambda) takes. */
export class RequestTooLargeError extends TollgateError {
  constructor(maxBytes: number) {
    super(413, 'invalid_request_error', 'request_too_large', `the request body is larger than ${maxBytes / (1024 * 1024)} MB`);
  }
}

// 401: API Gateway renders all of these as one static 401; the code is still logged.
export class AuthenticationError extends TollgateError {
  constructor(code: AuthenticationCode, message: string) {
    super(401, 'authentication_error', code, message);
  }
}
export class MissingCredentialsError extends AuthenticationError {
  constructor() {
    super('missing_credentials', 'no API key or token was sent (Authorization: Bearer, x-litellm-api-key, api-key or x-api-key)');
  }
}
export class InvalidApiKeyError extends AuthenticationError {
  constructor(reason = 'the API key is not known') {
    super('invalid_api_key', reason);
  }
}
export class InvalidJwtError extends AuthenticationError {
  constructor(reason: string) {
    super('invalid_jwt', `the JWT was rejected: ${reason}`);
  }
}

// 403 permission
export class PermissionDeniedError extends TollgateError {
  constructor(code: PermissionCode, message: string, param: string | null = null) {
    super(403, 'permission_error', code, message, param);
  }
}
export class KeyExpiredError extends PermissionDeniedError {
  constructor(keyName: string, expires: string) {
    super('key_expired', `key \`${keyName}\` expired at ${expires}`);
  }
}
export class KeyBlockedError extends PermissionDeniedError {
  constructor(keyName: string) {
    super('key_blocked', `key \`${keyName}\` is blocked`);
  }
}
export class TeamBlockedError extends PermissionDeniedError {
  constructor(teamId: string) {
    super('team_blocked', `team \`${teamId}\` is blocked`);
  }
}
export class EndUserBlockedError extends PermissionDeniedError {
  constructor(endUserId: string) {
    super('end_user_blocked', `end user \`${endUserId}\` is blocked`, 'user');
  }
}
export class RouteNotAllowedError extends PermissionDeniedError {
  constructor(role: string, method: string, path: string) {
    super('route_not_allowed', `role \`${role}\` may not call ${method} ${path}`);
  }
}
/** Strict enforcement and work billed after the call (a batch, a background response, a run): its cost cannot be held. */
export class DeferredWorkNotAllowedError extends PermissionDeniedError {
  constructor(what: string, param: string | null) {
    super(
      'deferred_work_not_allowed',
      `strict enforcement cannot start ${what}: it is billed when it ends, after this call, so its cost cannot be reserved; start it with fast enforcement`,
      param,
    );
  }
}
/** Strict enforcement and a server tool billed per use with no limit on its uses: the call's cost has no bound to reserve. */
export class UnboundedServerToolError extends PermissionDeniedError {
  constructor(tool: string, why: string, param = 'tools') {
    super(
      'unbounded_server_tool',
      `strict enforcement cannot reserve the cost of the \`${tool}\` tool: ${why}, or call it with fast enforcement`,
      param,
    );
  }
}
/** Strict enforcement and input the upstream keeps (a stored response or conversation continued): its size, billed as input, is not in the request. */
export class UnboundedInputError extends PermissionDeniedError {
  constructor(param: string, why: string) {
    super(
      'unbounded_input',
      `strict enforcement cannot reserve the cost of \`${param}\`: ${why}, and the request does not show its size; send the conversation in \`input\`, or call it with fast enforcement`,
      param,
    );
  }
}
/** A key whose `allowed_routes` does not cover the route called. */
export class KeyRouteNotAllowedError extends PermissionDeniedError {
  constructor(keyName: string, method: string, path: string) {
    super('key_route_not_allowed', `key \`${keyName}\` may not call ${method} ${path}: it is not in the key's \`allowed_routes\``);
  }
}
export class ModelNotAllowedError extends PermissionDeniedError {
  constructor(model: string, entity: string, allowed: readonly string[]) {
    super('model_not_allowed', `model \`${model}\` is not allowed for ${entity} (allowed: ${allowed.join(', ')})`, 'model');
  }
}
/** A team key owned by a user who is not (or no longer) a member of its team. */
export class NotTeamMemberError extends PermissionDeniedError {
  constructor(userId: string, teamId: string, keyName: string) {
    super('not_team_member', `user \`${userId}\` of key \`${keyName}\` is not a member of team \`${teamId}\``);
  }
}
export class ForbiddenError extends PermissionDeniedError {
  constructor(message: string) {
    super('forbidden', message);
  }
}

// 403 budget
export class BudgetExceededError extends TollgateError {
  /** `estimate` (strict mode): the call's estimate did not fit beside `spend`, settled plus reserved. */
  constructor(
    readonly entity: BudgetEntity,
    readonly entityId: string | null,
    readonly spend: number,
    readonly maxBudget: number,
    readonly estimate?: number,
  ) {
    const who = entityId === null ? budgetEntityLabel[entity] : `${budgetEntityLabel[entity]} \`${entityId}\``;
    const message =
      estimate === undefined
        ? `${who} spent ${money(spend)} of its ${money(maxBudget)} budget`
        : `${who} spent or reserved ${money(spend)} of its ${money(maxBudget)} budget; this call may cost up to ${money(estimate)}`;
    super(403, 'budget_exceeded', `${entity}_budget_exceeded`, message);
  }
}

/** Fields each within bounds that together make an item larger than DynamoDB stores (400 KB). */
export class ItemTooLargeError extends InvalidRequestError {
  constructor() {
    super(
      'this change would make the record larger than the store holds (400 KB): shorten its lists and maps, such as `models`, `model_rpm_limit`, `model_tpm_limit` or `metadata`',
      'item_too_large',
    );
  }
}

// 429
/** A rate limit of the caller's chain refused the call; `headers` carry retry-after and OpenAI's x-ratelimit-*. */
export class RateLimitedError extends TollgateError {
  constructor(
    code: RateLimitDenialCode,
    message: string,
    readonly headers: Readonly<Record<string, string>>,
  ) {
    super(429, 'rate_limit_error', code, message);
  }
}
// 404 / 409
export class NotFoundError extends TollgateError {
  constructor(entity: NotFoundEntity, id: string) {
    super(404, 'not_found_error', `${entity}_not_found`, `${entity.replace(/_/g, ' ')} \`${id}\` does not exist`);
  }
}
export class RouteNotFoundError extends TollgateError {
  constructor(method: string, path: string) {
    super(404, 'not_found_error', 'route_not_found', `no route for ${method} ${path}`);
  }
}
export class ConflictError extends TollgateError {
  constructor(code: ConflictCode, message: string, param: string | null = null) {
    super(409, 'conflict_error', code, message, param);
  }
}
export class ConcurrentUpdateError extends ConflictError {
  constructor(what = 'another change to the same items was in progress; retry') {
    super('concurrent_update', what);
  }
}

// 502 / 504
export class UpstreamFailedError extends TollgateError {
  constructor(
    message: string,
    /** The upstream did answer (a 200 whose body is unreadable): the call is charged, not released. */
    readonly answered = false,
  ) {
    super(502, 'upstream_error', 'upstream_failed', message);
  }
}
export class UpstreamTimeoutError extends TollgateError {
  constructor(model: string, ms: number, atTimeLimit = false) {
    super(
      504,
      'upstream_error',
      'upstream_timeout',
      atTimeLimit
        ? `the call to the upstream for \`${model}\` was ended at the function's time limit`
        : `the upstream for \`${model}\` did not answer within ${ms} ms`,
    );
  }
}

// 503
export class StoreUnavailableError extends TollgateError {
  constructor() {
    super(503, 'service_unavailable', 'store_unavailable', 'the store is unavailable; the request was denied');
  }
}

/** A secret (the master key) could not be read: the request is denied, never allowed. */
export class SecretUnavailableError extends TollgateError {
  constructor(what: string) {
    super(503, 'service_unavailable', 'store_unavailable', `${what} could not be read; the request was denied`);
  }
}

export class InternalError extends TollgateError {
  constructor() {
    super(500, 'internal_error', 'internal_error', 'internal error');
  }
}

/** Anything that is not a TollgateError becomes an opaque 500: its message may hold anything. */
export const toTollgateError = (e: unknown): TollgateError => (isTollgateError(e) ? e : new InternalError());
