import { describe, expect, it } from 'vitest';
import { InvalidPathError } from '../../../lib/errors.js';
import { bytesWithoutSecret, upstreamUrl } from '../../../lib/llm/upstream.js';

const BASE = 'https://api.example.com/v1';
const none = new URLSearchParams();

describe('upstreamUrl keeps every URL under the base URL', () => {
  it.each([
    ['/chat/completions', 'https://api.example.com/v1/chat/completions'],
    ['/files/file-1/content', 'https://api.example.com/v1/files/file-1/content'],
    ['/threads/thread_abc.1/runs', 'https://api.example.com/v1/threads/thread_abc.1/runs'],
    ['/files/..file', 'https://api.example.com/v1/files/..file'],
  ])('%s is joined', (path, url) => {
    expect(upstreamUrl(`${BASE}/`, path, none)).toBe(url);
  });

  it('appends the query', () => {
    expect(upstreamUrl(BASE, '/files', new URLSearchParams({ purpose: 'batch' }))).toBe(`${BASE}/files?purpose=batch`);
  });

  it.each([
    ['a dot-dot segment', '/files/../../outside'],
    ['a dot segment', '/files/./x'],
    ['encoded dots and slash', '/threads/%2e%2e%2f%2e%2e%2foutside'],
    ['encoded dots, upper case', '/threads/%2E%2E/outside'],
    ['dots and an encoded slash', '/files/..%2f..%2foutside'],
    ['dots and an encoded slash, upper case', '/files/..%2F..%2Foutside'],
    ['a backslash', '/files/a\\..\\..\\outside'],
    ['an encoded backslash', '/files/a%5c..%5c..%5coutside'],
    ['dots encoded twice', '/files/%252e%252e%252foutside'],
    ['a protocol-relative path', '//evil.example/x'],
    ['an empty segment', '/files//evil.example'],
    ['no leading slash', '@evil.example/x'],
    ['a query in the path', '/files?x=1'],
    ['a fragment in the path', '/files#x'],
  ])('%s (%s) is a 400 invalid_path', (_, path) => {
    let thrown: unknown;
    try {
      upstreamUrl(BASE, path, none);
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toBeInstanceOf(InvalidPathError);
    expect((thrown as InvalidPathError).toBody().error).toMatchObject({
      code: 'invalid_path',
      param: 'path',
      type: 'invalid_request_error',
    });
    expect((thrown as InvalidPathError).status).toBe(400);
  });
});

describe('bytesWithoutSecret', () => {
  const secret = 'sk-upstream-0123456789';
  it('redacts every copy of the credential and keeps every other byte, text or not', () => {
    const binary = Buffer.from([0xff, 0x00, 0xfe]);
    const body = Buffer.concat([binary, Buffer.from(secret), Buffer.from(' and '), Buffer.from(secret), binary]);
    expect(bytesWithoutSecret(body, secret)).toEqual(Buffer.concat([binary, Buffer.from('[redacted] and [redacted]'), binary]));
  });

  it('hands back the same buffer when the credential is absent, unknown or too short to look for', () => {
    const body = Buffer.from('{"ok":true}');
    expect(bytesWithoutSecret(body, secret)).toBe(body);
    expect(bytesWithoutSecret(body, undefined)).toBe(body);
    expect(bytesWithoutSecret(Buffer.from('abc'), 'abc')).toEqual(Buffer.from('abc'));
  });
});
