import { describe, expect, it } from 'vitest';
import { InvalidRequestError, TollgateError } from '../../../lib/errors.js';
import { bedrockError } from '../../../lib/providers/bedrock/errors.js';

const ctx = { model: 'claude-sonnet', region: 'eu-west-1' };
/** An error as the SDK throws it: its class name, fault side and HTTP status. */
const sdkError = (name: string, status: number, message = 'upstream says no', fault = status >= 500 ? 'server' : 'client') =>
  Object.assign(new Error(message), { name, $fault: fault, $metadata: { httpStatusCode: status } });

describe('Bedrock errors -> OpenAI-shaped errors with honest statuses', () => {
  it.each([
    ['ThrottlingException', 429, 429, 'rate_limit_error', 'upstream_rate_limited'],
    ['ServiceQuotaExceededException', 400, 429, 'rate_limit_error', 'upstream_rate_limited'],
    ['ValidationException', 400, 400, 'invalid_request_error', 'upstream_invalid_request'],
    ['AccessDeniedException', 403, 403, 'permission_error', 'upstream_access_denied'],
    ['ResourceNotFoundException', 404, 404, 'not_found_error', 'upstream_model_not_found'],
    ['ModelTimeoutException', 408, 504, 'upstream_error', 'upstream_timeout'],
    ['ModelNotReadyException', 429, 502, 'upstream_error', 'upstream_failed'],
    ['ModelErrorException', 424, 502, 'upstream_error', 'upstream_failed'],
    ['ModelStreamErrorException', 424, 502, 'upstream_error', 'upstream_failed'],
    ['InternalServerException', 500, 502, 'upstream_error', 'upstream_failed'],
    ['ServiceUnavailableException', 503, 502, 'upstream_error', 'upstream_failed'],
    ['SomethingNewException', 500, 502, 'upstream_error', 'upstream_failed'],
    ['SomethingNewClientException', 409, 400, 'invalid_request_error', 'upstream_invalid_request'],
  ])('%s (HTTP %i) is %i %s %s', (name, status, expectedStatus, type, code) => {
    const e = bedrockError(sdkError(name, status), ctx);
    expect(e).toBeInstanceOf(TollgateError);
    expect([e.status, e.type, e.code]).toEqual([expectedStatus, type, code]);
    expect(e.toBody().error).toMatchObject({ type, code });
    expect(e.message).toContain('`claude-sonnet`');
  });

  it('a validation message is kept (it speaks about the request), shortened to one line', () => {
    const e = bedrockError(
      sdkError('ValidationException', 400, `The maximum tokens you requested exceeds the model limit\n of 4096.${'x'.repeat(500)}`),
      ctx,
    );
    expect(e.message).toMatch(/rejected the request: The maximum tokens you requested exceeds the model limit of 4096\./);
    expect(e.message.length).toBeLessThan(400);
    expect(e.message).not.toContain('\n');
  });

  it('other upstream messages are not shown (they may hold anything)', () => {
    for (const name of ['InternalServerException', 'AccessDeniedException', 'ThrottlingException']) {
      expect(bedrockError(sdkError(name, 500, 'arn:aws:iam::123456789012:role/secret-role is not authorized'), ctx).message).not.toContain(
        '123456789012',
      );
    }
  });

  it('access denied names the region and what to check', () => {
    expect(bedrockError(sdkError('AccessDeniedException', 403), ctx).message).toMatch(/eu-west-1.*model access/);
  });

  it('our own deadline is a 504 upstream_timeout, whatever the SDK threw', () => {
    const e = bedrockError(Object.assign(new Error('aborted'), { name: 'AbortError' }), { ...ctx, timedOut: { ms: 30000 } });
    expect([e.status, e.code]).toEqual([504, 'upstream_timeout']);
    expect(e.message).toContain('30000 ms');
  });

  it('a network error without a status is a 502 that names no internals', () => {
    const e = bedrockError(Object.assign(new Error('connect ECONNREFUSED 10.0.0.1:443'), { name: 'Error' }), ctx);
    expect([e.status, e.code]).toEqual([502, 'upstream_failed']);
    expect(e.message).not.toContain('10.0.0.1');
  });

  it('a stream failure event (name and message only) maps like the exception', () => {
    expect(bedrockError({ name: 'ThrottlingException', message: 'slow down' }, ctx).status).toBe(429);
    expect(bedrockError({ name: 'ValidationException', message: 'bad input' }, ctx).status).toBe(400);
  });

  it('a TollgateError passes through unchanged', () => {
    const original = new InvalidRequestError('y', 'invalid_field');
    expect(bedrockError(original, ctx)).toBe(original);
  });

  it('a 429 carries no secret and tells the caller to retry', () => {
    const e = bedrockError(sdkError('ThrottlingException', 429, 'Too many tokens, please wait'), ctx);
    expect(e.toBody()).toEqual({
      error: {
        message: 'the upstream for `claude-sonnet` is throttling requests; retry later',
        type: 'rate_limit_error',
        param: null,
        code: 'upstream_rate_limited',
      },
    });
  });
});
