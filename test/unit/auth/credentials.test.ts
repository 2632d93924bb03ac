/**
 * Finding the credential: x-litellm-api-key > Authorization: Bearer > api-key > x-api-key; any case
 * of names and of `bearer`; conflicting duplicates, oversized and non-ASCII values refused with a
 * typed 401 that never repeats the credential.
 */
import { describe, expect, it } from 'vitest';
import {
  extractCredential,
  type HeaderBag,
  headerValues,
  MAX_CREDENTIAL_LENGTH,
  type MultiHeaderBag,
} from '../../../lib/auth/credentials.js';
import { AuthenticationError, InvalidApiKeyError, MissingCredentialsError } from '../../../lib/errors.js';

const extract = (headers: HeaderBag, multi?: MultiHeaderBag) => extractCredential(headerValues(headers, multi));

/** The error extract throws (fails the test if it returns). */
function refusal(headers: HeaderBag, multi?: MultiHeaderBag): AuthenticationError {
  try {
    const got = extract(headers, multi);
    throw new Error(`expected a refusal, got ${JSON.stringify(got)}`);
  } catch (e) {
    expect(e).toBeInstanceOf(AuthenticationError);
    return e as AuthenticationError;
  }
}

describe('precedence: x-litellm-api-key > Authorization Bearer > api-key > x-api-key', () => {
  const all = { 'x-litellm-api-key': 'sk-litellm', authorization: 'Bearer sk-bearer', 'api-key': 'sk-azure', 'x-api-key': 'sk-anthropic' };

  it.each([
    [all, 'x-litellm-api-key', 'sk-litellm'],
    [{ ...all, 'x-litellm-api-key': undefined }, 'authorization', 'sk-bearer'],
    [{ 'api-key': 'sk-azure', 'x-api-key': 'sk-anthropic' }, 'api-key', 'sk-azure'],
    [{ 'x-api-key': 'sk-anthropic' }, 'x-api-key', 'sk-anthropic'],
  ])('%j -> %s', (headers, source, value) => {
    expect(extract(headers)).toEqual({ source, value });
  });

  it('no credential header at all is missing_credentials', () => {
    const e = refusal({ 'content-type': 'application/json' });
    expect(e).toBeInstanceOf(MissingCredentialsError);
    expect(e).toMatchObject({ status: 401, type: 'authentication_error', code: 'missing_credentials' });
  });

  it('null and undefined header bags are missing_credentials', () => {
    expect(refusal(null)).toBeInstanceOf(MissingCredentialsError);
    expect(refusal(undefined, null)).toBeInstanceOf(MissingCredentialsError);
  });
});

describe('any case of header names and of `bearer`', () => {
  it.each(['authorization', 'Authorization', 'AUTHORIZATION', 'aUtHoRiZaTiOn'])('header %s', (name) => {
    expect(extract({ [name]: 'Bearer sk-1' })).toEqual({ source: 'authorization', value: 'sk-1' });
  });

  it.each(['X-LiteLLM-API-Key', 'X-API-KEY', 'Api-Key'])('header %s', (name) => {
    expect(extract({ [name]: 'sk-1' }).value).toBe('sk-1');
  });

  it.each(['Bearer sk-1', 'bearer sk-1', 'BEARER sk-1', 'bEaReR sk-1', 'Bearer   sk-1', 'Bearer\tsk-1', '  Bearer sk-1  '])(
    'Authorization: %j',
    (value) => {
      expect(extract({ authorization: value }).value).toBe('sk-1');
    },
  );

  it('a Bearer prefix on the other headers is tolerated', () => {
    expect(extract({ 'x-api-key': 'Bearer sk-1' }).value).toBe('sk-1');
  });
});

describe('Authorization must use the Bearer scheme', () => {
  it.each(['Basic c2stMTpwYXNz', 'Token sk-1', 'Bearersk-1', 'sk-1', 'Bearer: sk-1'])('%j is refused with invalid_api_key', (value) => {
    const e = refusal({ authorization: value, 'x-api-key': 'sk-fallback' });
    expect(e).toBeInstanceOf(InvalidApiKeyError);
    expect(e).toMatchObject({ status: 401, code: 'invalid_api_key' });
  });
});

describe('duplicate headers (multiValueHeaders)', () => {
  it('the same header twice with different values is refused', () => {
    const e = refusal(null, { 'x-api-key': ['sk-one', 'sk-two'] });
    expect(e).toMatchObject({ code: 'invalid_api_key' });
    expect(e.message).toContain('`x-api-key`');
  });

  it('names differing only in case are the same header', () => {
    expect(refusal({ Authorization: 'Bearer sk-one', authorization: 'Bearer sk-two' }).code).toBe('invalid_api_key');
  });

  it('the headers map and multiValueHeaders disagreeing is refused', () => {
    expect(refusal({ authorization: 'Bearer sk-one' }, { Authorization: ['Bearer sk-two'] }).code).toBe('invalid_api_key');
  });

  it('the same value twice is accepted', () => {
    expect(extract({ authorization: 'Bearer sk-1' }, { Authorization: ['Bearer sk-1', 'Bearer sk-1'] })).toEqual({
      source: 'authorization',
      value: 'sk-1',
    });
  });

  it('the same token with different spellings of Bearer is one value', () => {
    expect(extract(null, { authorization: ['Bearer sk-1', 'bearer  sk-1 '] }).value).toBe('sk-1');
  });

  it('a conflict in a higher header is refused, not skipped for a lower one', () => {
    expect(refusal(null, { 'x-litellm-api-key': ['sk-a', 'sk-b'], 'x-api-key': ['sk-c'] }).code).toBe('invalid_api_key');
  });
});

describe('empty values are skipped', () => {
  it.each([
    [{ 'x-litellm-api-key': '', 'x-api-key': 'sk-1' }, 'x-api-key'],
    [{ 'x-litellm-api-key': '   ', 'x-api-key': 'sk-1' }, 'x-api-key'],
    [{ authorization: '', 'x-api-key': 'sk-1' }, 'x-api-key'],
    [{ authorization: 'Bearer ', 'x-api-key': 'sk-1' }, 'x-api-key'],
    [{ authorization: 'Bearer', 'x-api-key': 'sk-1' }, 'x-api-key'],
    [{ 'x-litellm-api-key': null, 'api-key': 'sk-1' }, 'api-key'],
  ] as const)('%j -> %s', (headers, source) => {
    expect(extract(headers)).toEqual({ source, value: 'sk-1' });
  });

  it('an empty value beside a real one in multiValueHeaders is no conflict', () => {
    expect(extract(null, { 'x-api-key': ['', 'sk-1', null, undefined] })).toEqual({ source: 'x-api-key', value: 'sk-1' });
  });

  it('only empty values is missing_credentials', () => {
    expect(refusal({ authorization: 'Bearer  ', 'x-api-key': '' })).toBeInstanceOf(MissingCredentialsError);
  });
});

describe('values no key or token has are refused, and the message never holds the credential', () => {
  const SECRET = 'sk-SuperSecretValue123';

  it(`exactly ${MAX_CREDENTIAL_LENGTH} characters is accepted`, () => {
    expect(extract({ 'x-api-key': 'a'.repeat(MAX_CREDENTIAL_LENGTH) }).value).toHaveLength(MAX_CREDENTIAL_LENGTH);
  });

  it.each([
    ['one character over the limit', SECRET + 'a'.repeat(MAX_CREDENTIAL_LENGTH)],
    ['a megabyte', SECRET + 'b'.repeat(1 << 20)],
    ['non-ASCII', `${SECRET}é`],
    ['an emoji', `${SECRET}🔑`],
    ['an inner space', `${SECRET} x`],
    ['a NUL byte', `${SECRET}\u0000`],
    ['a control character', `${SECRET}\u001b[0m`],
    ['DEL', `${SECRET}\u007f`],
  ])('%s: typed 401 invalid_api_key', (_what, value) => {
    for (const headers of [{ 'x-api-key': value }, { authorization: `Bearer ${value}` }]) {
      const e = refusal(headers);
      expect(e).toBeInstanceOf(InvalidApiKeyError);
      expect(e).toMatchObject({ status: 401, type: 'authentication_error', code: 'invalid_api_key' });
      expect(e.message).not.toContain(SECRET);
      expect(e.message.length).toBeLessThan(200);
    }
  });

  it('a refused Authorization scheme does not echo the value either', () => {
    expect(refusal({ authorization: `Basic ${SECRET}` }).message).not.toContain(SECRET);
  });

  it('a duplicate refusal does not echo either value', () => {
    const e = refusal(null, { 'x-api-key': [SECRET, `${SECRET}2`] });
    expect(e.message).not.toContain(SECRET);
  });
});

describe('headerValues', () => {
  it('merges both maps by lowercase name, dropping repeats and non-strings', () => {
    const merged = headerValues({ 'X-Api-Key': 'a', Other: 'z' }, { 'x-api-key': ['a', 'b'], 'x-empty': null });
    expect(Object.fromEntries(merged)).toEqual({ 'x-api-key': ['a', 'b'], other: ['z'] });
  });
});
