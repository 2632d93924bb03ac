/**
 * Bedrock's errors as Tollgate's, with honest statuses. The SDK throws its exceptions by name
 * (`ThrottlingException`, ...); a ConverseStream reports the same ones as stream events after
 * the answer started (see streamFailureOf). Only a validation message is shown to the caller
 * (it speaks about the request); the others name the model and what happened.
 *
 *   ThrottlingException, ServiceQuotaExceededException  429 rate_limit_error  upstream_rate_limited
 *   ValidationException                                 400 invalid_request   upstream_invalid_request
 *   AccessDeniedException                               403 permission_error  upstream_access_denied
 *   ResourceNotFoundException                           404 not_found_error   upstream_model_not_found
 *   ModelTimeoutException, our deadline                 504 upstream_error    upstream_timeout
 *   ModelNotReadyException, ModelErrorException,
 *   ModelStreamErrorException, InternalServerException,
 *   ServiceUnavailableException, anything else          502 upstream_error    upstream_failed
 */
import { TollgateError, UpstreamFailedError, UpstreamTimeoutError } from '../../errors.js';
import {
  UpstreamAccessDeniedError,
  UpstreamInvalidRequestError,
  UpstreamModelNotFoundError,
  UpstreamModelTimeoutError,
  UpstreamRateLimitError,
} from '../errors.js';

export interface BedrockFailure {
  name?: unknown;
  message?: unknown;
  $fault?: unknown;
  $metadata?: { httpStatusCode?: unknown };
}

/** What went wrong, for the error: the model's public name and the call's facts. */
export interface FailureContext {
  model: string;
  region: string;
  /** Whether our deadline (not the upstream) ended the call, and after how long a silence. */
  timedOut?: { ms: number; atTimeLimit?: boolean } | undefined;
}

const FAILED: Readonly<Record<string, string>> = {
  ModelNotReadyException: 'the model is not ready to serve; retry later',
  ModelErrorException: 'the model failed while answering',
  ModelStreamErrorException: 'the model failed while streaming',
  InternalServerException: 'Bedrock had an internal error',
  ServiceUnavailableException: 'Bedrock is unavailable',
};

export function bedrockError(e: unknown, ctx: FailureContext): TollgateError {
  if (e instanceof TollgateError) return e;
  if (ctx.timedOut) return new UpstreamTimeoutError(ctx.model, ctx.timedOut.ms, ctx.timedOut.atTimeLimit);
  const f = (typeof e === 'object' && e !== null ? e : {}) as BedrockFailure;
  const name = typeof f.name === 'string' ? f.name : '';
  const message = typeof f.message === 'string' ? f.message : undefined;
  switch (name) {
    case 'ThrottlingException':
    case 'ServiceQuotaExceededException':
      return new UpstreamRateLimitError(ctx.model);
    case 'ValidationException':
      return new UpstreamInvalidRequestError(ctx.model, message);
    case 'AccessDeniedException':
      return new UpstreamAccessDeniedError(
        ctx.model,
        `Bedrock denied access in ${ctx.region} (model access not granted, or the model is not among those the function may invoke)`,
      );
    case 'ResourceNotFoundException':
      return new UpstreamModelNotFoundError(ctx.model, `Bedrock has no such model or inference profile in ${ctx.region}`);
    case 'ModelTimeoutException':
      return new UpstreamModelTimeoutError(ctx.model);
  }
  const what = Object.hasOwn(FAILED, name) ? FAILED[name] : undefined;
  if (what) return new UpstreamFailedError(`the upstream for \`${ctx.model}\` failed: ${what}`);
  const status = f.$metadata?.httpStatusCode;
  // A client fault we have no name for is still about the request; a network error has no status.
  if (
    f.$fault === 'client' &&
    typeof status === 'number' &&
    status >= 400 &&
    status < 500 &&
    status !== 401 &&
    status !== 403 &&
    status !== 429
  ) {
    return new UpstreamInvalidRequestError(ctx.model, message);
  }
  if (status === 429) return new UpstreamRateLimitError(ctx.model);
  return new UpstreamFailedError(
    `the upstream for \`${ctx.model}\` failed${typeof status === 'number' ? ` (HTTP ${status})` : name && /^[A-Za-z]{1,64}$/.test(name) ? ` (${name})` : ''}`,
  );
}
