import { describe, expect, it } from 'vitest';
import { InvalidRequestError, UpstreamFailedError } from '../../../lib/errors.js';
import { anthropicMessagesUrl, anthropicTarget, DEFAULT_ANTHROPIC_VERSION } from '../../../lib/providers/anthropic.js';
import { anthropicErrorBody, UpstreamRateLimitError } from '../../../lib/providers/errors.js';

const model = { model_name: 'sonnet', provider: 'anthropic' as const, upstream_model: 'claude-sonnet-4-5' };
const headers = (entries: [string, string][]) => new Map(entries.map(([k, v]) => [k, [v]]));

describe('Anthropic messages URL', () => {
  it.each([
    [undefined, 'https://api.anthropic.com/v1/messages'],
    ['https://api.anthropic.com', 'https://api.anthropic.com/v1/messages'],
    ['https://api.anthropic.com/', 'https://api.anthropic.com/v1/messages'],
    ['https://api.anthropic.com/v1', 'https://api.anthropic.com/v1/messages'],
    ['https://proxy.example.com/anthropic', 'https://proxy.example.com/anthropic/v1/messages'],
  ])('base %s -> %s', (base, url) => {
    expect(anthropicMessagesUrl(base)).toBe(url);
  });
});

describe('Anthropic headers', () => {
  it('Tollgate’s key as x-api-key; the caller’s version and beta; never the caller’s credentials', () => {
    const t = anthropicTarget(
      model,
      'sk-ant-ours',
      headers([
        ['anthropic-version', '2023-06-01'],
        ['anthropic-beta', 'tools-2024'],
        ['authorization', 'Bearer sk-caller'],
        ['x-api-key', 'sk-caller'],
        ['cookie', 'c'],
      ]),
    );
    expect(Object.fromEntries(t.headers)).toEqual({
      accept: 'application/json, text/event-stream',
      'anthropic-version': '2023-06-01',
      'anthropic-beta': 'tools-2024',
      'x-api-key': 'sk-ant-ours',
    });
  });

  it('a default version when the caller sends none', () => {
    expect(anthropicTarget(model, 'k', undefined).headers.get('anthropic-version')).toBe(DEFAULT_ANTHROPIC_VERSION);
  });
});

describe('Tollgate errors in Anthropic’s shape', () => {
  it.each([
    [new InvalidRequestError('bad', 'invalid_body', 'x'), 'invalid_request_error'],
    [new UpstreamRateLimitError('sonnet'), 'rate_limit_error'],
    [new UpstreamFailedError('down'), 'api_error'],
  ])('%s', (e, type) => {
    expect(anthropicErrorBody(e)).toEqual({ type: 'error', error: { type, message: e.message, code: e.code } });
  });
});
