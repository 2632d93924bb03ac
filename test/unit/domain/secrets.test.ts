/** The one credential detector (lib/domain/secrets): by name, by value shape, in URLs; ordinary data is left alone. */
import { describe, expect, it } from 'vitest';
import {
  isSecretName,
  looksLikeKeyNotName,
  looksLikeSecret,
  NOT_REPEATED,
  redactQuery,
  withoutSecrets,
} from '../../../lib/domain/secrets.js';

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
