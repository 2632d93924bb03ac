/** Secrets never reach an audit item, at any depth: redaction by field name and by value shape. */
import { describe, expect, it } from 'vitest';
import { redact } from '../../../lib/domain/audit.js';

const KEY = `sk-${'A'.repeat(40)}`;

describe('redact', () => {
  it('a nested api_key is redacted, and so is every field named like a credential, at any depth', () => {
    const out = redact({
      metadata: { nested: { api_key: 'plain-secret', deeper: [{ token: 't', password: 'p', 'x-api-key': 'k', Authorization: 'a' }] } },
      client_secret: 'c',
      master_key: 'm',
    });
    expect(out).toEqual({
      metadata: {
        nested: {
          api_key: '[redacted]',
          deeper: [{ token: '[redacted]', password: '[redacted]', 'x-api-key': '[redacted]', Authorization: '[redacted]' }],
        },
      },
      client_secret: '[redacted]',
      master_key: '[redacted]',
    });
  });

  it('values shaped like credentials are redacted wherever they stand: sk- keys, bearer tokens, JWTs', () => {
    const jwt = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1LTEifQ.c2lnbmF0dXJl';
    const out = redact({ note: KEY, list: ['ok', `Bearer ${'x'.repeat(20)}`], deep: { a: { b: { c: jwt } } }, plain: 'hello' });
    expect(out).toEqual({ note: '[redacted]', list: ['ok', '[redacted]'], deep: { a: { b: { c: '[redacted]' } } }, plain: 'hello' });
    expect(JSON.stringify(out)).not.toContain(KEY);
  });

  it('camelCase credential names, webhook URLs and platform tokens are redacted too (found by review)', () => {
    const out = redact({
      metadata: {
        clientSecret: 'abcdefgh12345678',
        accessToken: 'opaque-value-1234',
        slackWebhookUrl: 'https://example.org/x',
        webhook_url: 'https://example.org/y',
        note: 'https://hooks.slack.com/services/T000/B000/XXXXsecretXXXX',
        gh: 'ghp_abcdefghijklmnop',
        slack: 'xoxb-1234567890-abcdefgh',
        basic: 'https://user:pass@example.org/path',
        // Not credentials: kept.
        monkey: 'banana',
        keyAlias: 'mine',
        url: 'https://example.org/docs',
      },
    });
    expect(out).toEqual({
      metadata: {
        clientSecret: '[redacted]',
        accessToken: '[redacted]',
        slackWebhookUrl: '[redacted]',
        webhook_url: '[redacted]',
        note: '[redacted]',
        gh: '[redacted]',
        slack: '[redacted]',
        basic: '[redacted]',
        monkey: 'banana',
        keyAlias: 'mine',
        url: 'https://example.org/docs',
      },
    });
  });

  it('field names are kept so the log says what changed; numbers, booleans and nulls stay', () => {
    expect(redact({ max_budget: 5, blocked: true, key_alias: null, models: ['gpt-4o'] })).toEqual({
      max_budget: 5,
      blocked: true,
      key_alias: null,
      models: ['gpt-4o'],
    });
  });

  it('a field named __proto__ stays data: it never becomes the prototype of the redacted copy', () => {
    const input = JSON.parse('{"metadata": {"__proto__": {"api_key": "x", "polluted": true}}}') as Record<string, unknown>;
    const out = redact(input) as { metadata: Record<string, unknown> };
    expect(Object.getPrototypeOf(out.metadata)).toBe(Object.prototype);
    expect(Object.hasOwn(out.metadata, '__proto__')).toBe(true);
    expect(JSON.stringify(out)).toBe('{"metadata":{"__proto__":{"api_key":"[redacted]","polluted":true}}}');
  });

  it('deeper than any accepted metadata, nothing is kept', () => {
    let deep: Record<string, unknown> = { v: KEY };
    for (let i = 0; i < 40; i++) deep = { d: deep };
    expect(JSON.stringify(redact(deep))).not.toContain(KEY);
  });
});

describe('redact: the class of credential shapes (found by review)', () => {
  it('header lists and pairs that name a credential lose their values, not their names', () => {
    const out = redact({
      headers: [
        { name: 'Authorization', value: 'Basic dXNlcjpz' },
        { name: 'Accept', value: 'application/json' },
      ],
      pairs: [['x-api-key', 'abc']],
    });
    expect(out).toEqual({
      headers: [
        { name: 'Authorization', value: '[redacted]' },
        { name: 'Accept', value: 'application/json' },
      ],
      pairs: [['x-api-key', '[redacted]']],
    });
  });

  it('a URL keeps its shape, its secret query parameters go', () => {
    expect(redact({ url: 'https://ops.example.org/hook?token=t0k3n&page=2' })).toEqual({
      url: 'https://ops.example.org/hook?token=[redacted]&page=2',
    });
  });

  it('a key used as a field name is replaced, its value kept', () => {
    expect(redact({ [KEY]: 'alice laptop', [`${KEY}B`]: 'bob' })).toEqual({ '[redacted]': 'alice laptop', '[redacted] 2': 'bob' });
  });

  it('ids, budgets and model names stay', () => {
    const data = {
      team_id: 't-1',
      max_budget: 10,
      models: ['gpt-4o', 'sk-learn-team'],
      max_tokens: 100,
      metadata: { owner: 'ada@example.com' },
    };
    expect(redact(data)).toEqual(data);
  });
});

describe('redact: secrets written as text under their names, and names the detector missed (found by review)', () => {
  const hex = '0123456789abcdef0123456789abcdef';
  it.each([
    ['a JSON string', { config: '{"api_key":"plain-upstream-secret-9999"}' }, 'config'],
    ['a header line', { headers: [`Authorization: opaque-${hex}`] }, 'headers'],
    ['an environment line', { notes: `OPENAI_API_KEY=${hex}` }, 'notes'],
    ['a YAML-ish line', { notes: `password: hunter2hunter2` }, 'notes'],
    ['a connection string of any scheme', { db: 'postgres://svc:pw-for-svc@db.internal:5432/app' }, 'db'],
    ['a flat header list of three', { h: ['x-api-key', hex, 'x'] }, 'h'],
  ])('%s', (_, changes, field) => {
    const out = JSON.stringify(redact(changes));
    expect(out).not.toMatch(/plain-upstream-secret|0123456789abcdef|hunter2|pw-for-svc/);
    expect(Object.keys(redact(changes) ?? {})).toEqual([field]);
  });

  it.each([['auth'], ['bearer'], ['X-Auth'], ['upstreamAuth']])('a field named %s', (name) => {
    expect(redact({ upstream: { [name]: hex } })).toEqual({ upstream: { [name]: '[redacted]' } });
  });

  it('a tag list with a credential-like word in it keeps its tags', () => {
    expect(redact({ tags: ['auth', 'prod', 'token', 'team-a', 'x'] })).toEqual({ tags: ['auth', 'prod', 'token', 'team-a', 'x'] });
  });

  it('text that only mentions a secret is kept: no name with a value', () => {
    expect(redact({ note: 'rotate the api key monthly', limits: 'max_tokens: 4096', url: 'https://example.com/docs' })).toEqual({
      note: 'rotate the api key monthly',
      limits: 'max_tokens: 4096',
      url: 'https://example.com/docs',
    });
  });
});
