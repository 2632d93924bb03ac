/** The decision as API Gateway's authorizer result: stage-wide resource, Deny context, 401. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { stageWideResource, toAuthorizerResult, UnauthorizedError } from '../../../lib/authorizer/policy.js';
import { InvalidApiKeyError, KeyBlockedError, ModelNotAllowedError, TeamBlockedError } from '../../../lib/errors.js';
import { renderGatewayResponse } from '../../../lib/gateway-responses.js';
import { keyCaller } from '../checks/fixtures.js';

const ARN = 'arn:aws:execute-api:us-east-1:123456789012:a1b2c3d4e5/prod/POST/v1/chat/completions';
const STAGE = 'arn:aws:execute-api:us-east-1:123456789012:a1b2c3d4e5/prod/*';

describe('stageWideResource: the whole stage, so a cached policy is never wrong for a sibling route', () => {
  it.each([
    [ARN, STAGE],
    ['arn:aws:execute-api:us-east-1:123456789012:a1b2c3d4e5/prod/GET/', STAGE],
    ['arn:aws:execute-api:us-east-1:123456789012:a1b2c3d4e5/prod/GET/openai/deployments/gpt-4o/chat/completions', STAGE],
    ['arn:aws-cn:execute-api:cn-north-1:123456789012:api9/v2/GET/models', 'arn:aws-cn:execute-api:cn-north-1:123456789012:api9/v2/*'],
  ])('%s -> %s', (arn, resource) => {
    expect(stageWideResource(arn)).toBe(resource);
  });

  it('a path holding colons (fine-tuned model names) still gives the stage', () => {
    expect(stageWideResource('arn:aws:execute-api:us-east-1:123456789012:a1b2c3d4e5/prod/GET/v1/models/ft:gpt-4o:acme:7p4lURel')).toBe(
      STAGE,
    );
    expect(stageWideResource('arn:aws:execute-api:us-east-1:123456789012:a1b2c3d4e5/prod/GET/v1/models/a:b/c')).toBe(STAGE);
  });

  it.each(['garbage', 'arn:aws:execute-api:us-east-1:123456789012:a1b2c3d4e5', 'arn:aws:execute-api:us-east-1:123456789012:/prod/GET/x'])(
    'an ARN without api id and stage is returned unchanged (never widened): %s',
    (arn) => {
      expect(stageWideResource(arn)).toBe(arn);
    },
  );
});

describe('toAuthorizerResult', () => {
  it('unauthorized throws the exact `Unauthorized` API Gateway answers 401 to', () => {
    expect(() => toAuthorizerResult({ effect: 'unauthorized', error: new InvalidApiKeyError() }, ARN)).toThrow(UnauthorizedError);
    expect(() => toAuthorizerResult({ effect: 'unauthorized', error: new InvalidApiKeyError() }, ARN)).toThrow(/^Unauthorized$/);
  });

  it('allow: an Allow over the stage with the caller context, principal the key hash', () => {
    const caller = keyCaller();
    const result = toAuthorizerResult(
      { effect: 'allow', caller, context: { principal: 'virtual_key', role: 'internal_user', user_id: 'u-1' } },
      ARN,
    );
    expect(result).toEqual({
      principalId: caller.keyHash,
      policyDocument: { Version: '2012-10-17', Statement: [{ Action: 'execute-api:Invoke', Effect: 'Allow', Resource: STAGE }] },
      context: { principal: 'virtual_key', role: 'internal_user', user_id: 'u-1' },
    });
  });

  it('allow on a public route (no caller): principal `anonymous`, empty context', () => {
    expect(toAuthorizerResult({ effect: 'allow', caller: undefined, context: undefined }, ARN)).toMatchObject({
      principalId: 'anonymous',
      context: {},
    });
  });

  it('deny: a Deny over the stage whose context carries message, type, code and status', () => {
    const result = toAuthorizerResult({ effect: 'deny', error: new TeamBlockedError('t-1'), caller: keyCaller() }, ARN);
    expect(result.policyDocument.Statement).toEqual([{ Action: 'execute-api:Invoke', Effect: 'Deny', Resource: STAGE }]);
    expect(result.context).toEqual({ message: 'team `t-1` is blocked', type: 'permission_error', code: 'team_blocked', status: 403 });
  });
});

describe('the Deny context is safe to insert in the JSON template', () => {
  const denyContext = (message: string) => {
    const error = new KeyBlockedError('k');
    Object.defineProperty(error, 'message', { value: message });
    return toAuthorizerResult({ effect: 'deny', error }, ARN).context as Record<string, unknown>;
  };

  it.each([
    ['quotes', 'model "gpt-4o" refused', "model 'gpt-4o' refused"],
    ['backslashes', 'C:\\path\\"x', "C:'path''x"],
    ['control characters', 'a\nb\r\tc\u0000d\u001fe', 'a b  c d e'],
    ['a template reference', 'see $context.authorizer.code', 'see $context.authorizer.code'],
  ])('%s', (_what, message, rendered) => {
    const body = JSON.parse(renderGatewayResponse('ACCESS_DENIED', denyContext(message)).body);
    expect(body).toEqual({ error: { message: rendered, type: 'permission_error', param: null, code: 'key_blocked' } });
  });

  it('property: any model name a caller puts in the path renders as valid JSON', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 64 }), (model) => {
        const error = new ModelNotAllowedError(model, 'key `sk-...abcd`', ['gpt-4o']);
        const context = toAuthorizerResult({ effect: 'deny', error }, ARN).context as Record<string, unknown>;
        const parsed = JSON.parse(renderGatewayResponse('ACCESS_DENIED', context).body);
        // biome-ignore lint/suspicious/noControlCharactersInRegex: the policy strips control characters; the test says which.
        const expected = error.message.replace(/["\\]/g, "'").replace(/[\u0000-\u001f]/g, ' ');
        return parsed.error.message === expected && parsed.error.code === 'model_not_allowed';
      }),
      { numRuns: 2000 },
    );
  });
});
