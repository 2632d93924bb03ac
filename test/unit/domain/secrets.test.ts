/** The one credential detector (lib/domain/secrets): by name, by value shape, in URLs; ordinary data is left alone. */
import { describe, expect, it } from 'vitest';
import { redact } from '../../../lib/domain/audit.js';
import { idProblem } from '../../../lib/domain/ids.js';
import {
  isSecretName,
  looksLikeKeyNotName,
  looksLikeSecret,
  NOT_REPEATED,
  REDACTED,
  redactQuery,
  withoutSecrets,
} from '../../../lib/domain/secrets.js';
import { secretTagIndex, tagsOf } from '../../../lib/domain/spend-log.js';

describe('isSecretName: any case, separator or trailing number', () => {
  it.each([
    'api_key',
    'x-api-key',
    'Authorization',
    'OpenAIKey',
    'slackWebhookURL',
    'webhook_url',
    'OPENAIAPIKEY',
    'accesstoken',
    'access_tokens',
    'api_key_2',
    'api_keys',
    'pwd',
    'passphrase',
    'api_key ',
    'clientSecret',
    'Cookie',
  ])('%j names a credential', (n) => expect(isSecretName(n)).toBe(true));

  it.each([
    'monkey',
    'turkey',
    'hotkey',
    'keyAlias',
    'key_alias',
    'keyName',
    'max_tokens',
    'tokens',
    'deleted_keys',
    'team_id',
    'model_name',
    'tpm_limit',
  ])('%j does not', (n) => expect(isSecretName(n)).toBe(false));
});

describe('looksLikeSecret: by shape, also URL-encoded', () => {
  it.each([
    'sk-proj-Qw3rTy8UiOp2AsDfGhJkLzXcVbNm1234',
    'rk-live-0123456789abcdef0123',
    'AIzaSyDdI0hCZtE6vySjMm-WEfRq3CPzqKqqsHI',
    'xoxb-1234567890-abcdefgh',
    'ghp_abcdefghijklmnop',
    'AKIAIOSFODNN7EXAMPLE',
    'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1LTEifQ.c2lnbmF0dXJl',
    'Bearer abcdefgh12345678',
    'Basic YWRtaW46c3VwZXJzZWNyZXQ=',
    'Token 9f8e7d6c5b4a39281706f5e4d3c2b1a0',
    'Digest username="ada", response="6629fae4"',
    'Bearer%20sk-Zq3vQm8TnR2pL5xW7yK9bC1dF4gH6jA0',
    'alice sk-Zq3vQm8TnR2pL5xW7yK9bC1dF4gH6jA0',
    'https://ops.example.org/hooks/notify?token=t0k3n-9a8b7c6d5e4f',
    'https://cb.example.org/x?page=1&sig=abc',
    'https://user:pass@example.org/',
  ])('%j', (s) => expect(looksLikeSecret(s)).toBe(true));

  it.each([
    'gpt-4o',
    'sk-learn-team',
    'auth0|65f1c2',
    'ada.lovelace+tollgate@example.com',
    '0f8fad5b-d9cb-469f-a165-70867728950e',
    'CN=Ada, O=Example',
    'Basic tier',
    'Token budget',
    'https://example.org/docs?page=2',
    'key=value',
  ])('%j is no secret', (s) => expect(looksLikeSecret(s)).toBe(false));
});

describe('looksLikeSecret: a key glued after a name with `_` (found by review: `web_search_sk-...` passed)', () => {
  const shapes = [
    'sk-proj-Qw3rTy8UiOp2AsDfGhJkLzXcVbNm1234',
    'rk-live-0123456789abcdef0123',
    'AIzaSyDdI0hCZtE6vySjMm-WEfRq3CPzqKqqsHI',
    'xoxb-1234567890-abcdefgh',
    'ghp_abcdefghijklmnop',
    'AKIAIOSFODNN7EXAMPLE',
    'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1LTEifQ.c2lnbmF0dXJl',
    'Bearer abcdefgh12345678',
  ];
  it.each(shapes)('web_search_%s', (s) => {
    expect(looksLikeSecret(`web_search_${s}`)).toBe(true);
    expect(withoutSecrets(`unknown tool type \`web_search_${s}\``)).not.toContain(s.slice(-8));
  });
  it('a JWT is replaced whole, its signature too', () => {
    const jwt = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1LTEifQ.c2lnbmF0dXJl';
    expect(withoutSecrets(`token ${jwt} expired`)).toBe(`token ${NOT_REPEATED} expired`);
  });
  it.each(['task_sk-learn', 'desk_lamp', 'risk_sk'])('%j is no secret', (s) => expect(looksLikeSecret(s)).toBe(false));
});

describe('redactQuery', () => {
  it('replaces the values of secret parameters and keeps the rest of the URL', () => {
    expect(redactQuery('https://chat.googleapis.com/v1/spaces/A/messages?key=AIzaSy0123&token=Zx9&thread=t1&page=2')).toBe(
      'https://chat.googleapis.com/v1/spaces/A/messages?key=[redacted]&token=[redacted]&thread=t1&page=2',
    );
  });
});

describe('withoutSecrets: what an error message may say', () => {
  it('a key in a message is replaced, the message kept', () => {
    expect(withoutSecrets('unknown field `sk-Zq3vQm8TnR2pL5xW7yK9bC1dF4gH6jA0`')).toBe(`unknown field \`${NOT_REPEATED}\``);
    expect(withoutSecrets('user `Bearer abcdefgh12345678` is blocked')).not.toContain('abcdefgh12345678');
  });
  it('a message without one is unchanged', () => {
    expect(withoutSecrets('team `t-1` is blocked')).toBe('team `t-1` is blocked');
  });
});

describe('looksLikeKeyNotName: a key pasted where the name of its secret belongs (found by review: an Azure key was stored)', () => {
  it.each([
    ['an Azure OpenAI key (32 hex digits)', '0123456789abcdef0123456789abcdef'],
    ['a Together key (64 hex digits)', '0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef'],
    ['an AWS secret access key', 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY'],
    ['a Mistral key (32 letters and digits)', 'Ab3dEf6hIj9lMn2pQr5tUv8xYz1bCd4f'],
    ['a Groq key after its prefix', `gsk_${'Ab3dEf6hIj9lMn2pQr5tUv8xYz1bCd4fGh7jKl0n'}`],
    ['a key after a path', 'prod/openai/Ab3dEf6hIj9lMn2pQr5tUv8xYz1bCd4f'],
    ['any credential shape', 'sk-proj-abcdefghijklmnop1234'],
  ])('%s is a key', (_, value) => expect(looksLikeKeyNotName(value)).toBe(true));

  it.each([
    'tollgate/openai',
    'OPENAI_API_KEY',
    'prod/providers/azure-openai-eastus2-deployment-key',
    'arn:aws:secretsmanager:us-east-1:123456789012:secret:tollgate/openai-AbCdEf',
    'tollgate/550e8400-e29b-41d4-a716-446655440000',
    // 40 characters of base64's alphabet, but words (found by review: refused as an AWS key).
    'Prod/OpenAI/TeamAnalytics/PrimaryKey2025',
    'abcdefghijklmnopqrstuvwxyzabcdefghij',
    '12345678901234567890123456789012345',
  ])('%s is a name', (value) => expect(looksLikeKeyNotName(value)).toBe(false));
});

describe('a long random run of letters and digits is a key wherever it stands (found by review: the generated master key passed every guard)', () => {
  // Made as Secrets Manager makes the master key (infra/constructs/secrets): 48 letters and digits,
  // each kind at least once (requireEachIncludedType, its default). Drawn once and written down, so
  // a failure is the same on every run.
  const keys = [
    '1PTozEYISu2XvjzGVbacsGYbEhqhc6Yn9CsSdOjN2pnzxT8B',
    '8LxxQPDmV94YOI3NVptTlYghX1K4epItAuvFz3JqgQ4kigaa',
    'FygrvdFIpj9ZREqmDoAZH7STHO1ImEd1jTxSjwVtVd5EBcAk',
    'AtkcS6XvT8yFGXASpbQGcywjlIxWXX27X7urYpY0eDFSYnov',
    'HoozDQULuR2Ozjo3wtMU3Ua1C4MJkVi1nhezl9IrJ7k6RuAr',
    'Nm82Hyfzqu2ldq8GYOTZRBkpIwiQDUL0BcdMnhLs2rwpv8yz',
    'WHbYqAcvdCrAUatwRMZkyYOmApTvZRBmnM10M2SWw71WNOgB',
    'Fwah3MMp0zuHoSMcQMkGFBFjZdccYJpHN8wmIJIG8gSqhifZ',
  ];

  it.each(keys)('%s is a secret, alone or within text', (key) => {
    expect(looksLikeSecret(key)).toBe(true);
    expect(looksLikeSecret(`team_${key}`)).toBe(true);
    expect(looksLikeSecret(`https://example.org/v1/${key}/models`)).toBe(true);
  });
  it.each(keys)('a message naming %s keeps all but the key', (key) => {
    expect(withoutSecrets(`unknown field \`${key}\` in the body`)).toBe(`unknown field \`${NOT_REPEATED}\` in the body`);
    expect(withoutSecrets(`no team named team_${key} here`)).toBe(`no team named team_${NOT_REPEATED} here`);
  });
  it.each(keys)('%s is no id', (key) => expect(idProblem(key)).toBe('must not be a secret: it looks like an API key or token'));
  it.each(keys)('%s is kept out of tags', (key) => {
    expect(tagsOf(['prod', key, `env:${key}`, 'team-a'])).toEqual(['prod', 'team-a']);
    expect(secretTagIndex(['prod', key])).toBe(1);
  });
  it.each(keys)('%s is redacted from an audit item, field name or value', (key) => {
    expect(redact({ metadata: { note: `rotated to ${key}` }, [key]: 'pasted as a field name' })).toEqual({
      metadata: { note: REDACTED },
      [REDACTED]: 'pasted as a field name',
    });
  });
  it('44 random letters and digits are a key, 43 not yet', () => {
    expect(looksLikeSecret('J0AVHYOtRvcCFtWjhG1zYuFBHgSzIsII5zBqDR6a0eTf')).toBe(true);
    expect(looksLikeSecret('0AVHYOtRvcCFtWjhG1zYuFBHgSzIsII5zBqDR6a0eTf')).toBe(false);
  });

  it.each([
    ['a UUID', '0f8fad5b-d9cb-469f-a165-70867728950e'],
    ['a sha256 in hex', 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'],
    ['an OpenAI chat completion id', 'chatcmpl-B9MHDbslfHbTwWlhUmoNbqVBWpHVt'],
    ['an OpenAI response id', 'resp_67ccd2bed1ec8190b14f964abc0542670bb6a6b452d3795b'],
    ['an Anthropic message id', 'msg_01XFDUDYJgAACzvnptvVoYEL'],
    ['an Anthropic request id', 'req_011CSHoEeqs5C35K2UUqR7Fy'],
    ['an OpenAI file id', 'file-AbC123XyZ456uvW789'],
    [
      'a Bedrock inference profile ARN',
      'arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-3-5-sonnet-20241022-v2:0',
    ],
    ['a Bedrock provisioned model ARN', 'arn:aws:bedrock:us-east-1:123456789012:provisioned-model/a1b2c3d4e5f6'],
    ['a secret name', 'Prod/OpenAI/TeamAnalytics/PrimaryKey2025'],
    ['a CamelCase name', 'TeamAnalyticsProductionWorkspace2025Q4'],
    ['a CamelCase name of 44', 'CloudFrontDistributionS3OriginAccessIdentity'],
    ['a CamelCase name of 53', 'APIGatewayRequestSimpleAuthorizerHandlerV2WithContext'],
    ['a CDK logical id', 'TollgateStackFunctionsAuthorizerServiceRoleDefaultPolicyE6F8D1A2'],
    ['a Bedrock model', 'anthropic.claude-3-5-sonnet-20241022-v2:0'],
    ['a fine-tuned model', 'ft:gpt-4o-mini-2024-07-18:org:custom:AbCdEf12'],
    ['lower-case letters and digits', 'abcdefghijklmnop0123456789abcdefghijklmnop0123456789'],
    ['upper-case hex', 'E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855'],
  ])('%s is no secret', (_, s) => {
    expect(looksLikeSecret(s)).toBe(false);
    expect(withoutSecrets(`model \`${s}\` is not allowed`)).toBe(`model \`${s}\` is not allowed`);
  });
  it.each([
    ['an Entra ID subject (43, random)', 'bPnSL00SVbZoFB97zHSwi9ksiT4bAzGxL2LKk2oaJcM'],
    ["Entra ID's documented subject", 'AAAAAAAAAAAAAAAAAAAAAIkzqFVrSaSaFHy782bbtaQ'],
    ['a CamelCase name', 'TeamAnalyticsProductionWorkspace2025Q4'],
  ])('%s is an id and a tag (found by review: Entra ID subjects were refused as user ids)', (_, id) => {
    expect(idProblem(id)).toBeUndefined();
    expect(tagsOf([id])).toEqual([id]);
  });
});
