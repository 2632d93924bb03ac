/**
 * What a call does to a stored object and how it is metered (lib/llm/objects): only what makes
 * the model generate is charged, a pending object is billed once it has ended, and every object
 * a body names is found, at any depth.
 */
import { describe, expect, it } from 'vitest';
import { deferredWorkOf, finishedUsage, meteringOf, objectCallOf, referencedObjects } from '../../../lib/llm/objects.js';

const op = (method: string, upstreamPath: string) => objectCallOf({ method: method as 'GET', upstreamPath });

describe('objectCallOf', () => {
  it.each([
    ['POST', 'files', { kind: 'file', op: 'create' }],
    ['GET', 'batches', { kind: 'batch', op: 'list' }],
    ['GET', 'responses/resp_1', { kind: 'response', op: 'read', id: 'resp_1' }],
    ['GET', 'responses/resp_1/input_items', { kind: 'response', op: 'read', id: 'resp_1', action: 'input_items' }],
    ['DELETE', 'files/file-1', { kind: 'file', op: 'delete', id: 'file-1' }],
    ['POST', 'batches/batch_1/cancel', { kind: 'batch', op: 'change', id: 'batch_1', action: 'cancel' }],
    ['POST', 'threads/thread_1/runs', { kind: 'thread', op: 'change', id: 'thread_1', action: 'runs' }],
    ['POST', 'threads/runs', { kind: 'thread', op: 'create', action: 'runs' }],
    ['POST', 'chat/completions', undefined],
    // Calls under the collection that name no response (found by review: answered 404).
    ['POST', 'responses/input_tokens', undefined],
    ['POST', 'responses/compact', undefined],
    ['GET', 'responses/input_tokens', { kind: 'response', op: 'read', id: 'input_tokens' }],
    ['POST', 'responses/compact/cancel', { kind: 'response', op: 'change', id: 'compact', action: 'cancel' }],
  ])('%s %s', (method, path, expected) => {
    expect(op(method, path)).toEqual(expected);
  });
});

describe('deferredWorkOf: what strict enforcement refuses', () => {
  it.each<[string, string, unknown, string | undefined]>([
    ['POST', 'batches', {}, 'a batch'],
    ['POST', 'responses', { background: true }, 'a background response'],
    ['POST', 'responses', { background: 'yes' }, 'a background response'],
    ['POST', 'threads/runs', {}, 'a thread run'],
    ['POST', 'threads/thread_1/runs', {}, 'a thread run'],
    ['POST', 'threads/thread_1/runs/run_1/submit_tool_outputs', {}, 'a thread run'],
    // Nothing that starts work billed later.
    ['POST', 'responses', { background: false }, undefined],
    ['POST', 'responses', { background: 'off' }, undefined],
    ['POST', 'responses', {}, undefined],
    ['POST', 'batches/batch_1/cancel', {}, undefined],
    ['GET', 'batches/batch_1', undefined, undefined],
    ['POST', 'threads/thread_1/runs/run_1/cancel', {}, undefined],
    ['GET', 'threads/thread_1/runs/run_1', undefined, undefined],
    ['POST', 'threads', {}, undefined],
    ['POST', 'threads/thread_1/messages', {}, undefined],
    ['POST', 'files', undefined, undefined],
  ])('%s %s %j', (method, path, body, what) => {
    expect(deferredWorkOf(op(method, path), body)?.what).toBe(what);
  });

  it('a plain call starts nothing', () => {
    expect(deferredWorkOf(undefined, { background: true })).toBeUndefined();
  });
});

describe('meteringOf', () => {
  it.each([
    ['POST', 'responses', { status: 'completed', usage: { input_tokens: 1, output_tokens: 1 } }, 'charge'],
    ['POST', 'responses', { status: 'queued' }, 'deferred'],
    ['POST', 'batches', { status: 'validating' }, 'deferred'],
    ['POST', 'files', {}, 'none'],
    ['POST', 'threads', {}, 'none'],
    // A run is billed through its record, when an answer shows it ended, whatever this one shows;
    // an answer that names no run leaves no record: charged now.
    ['POST', 'threads/runs', { object: 'thread.run', id: 'run_1', status: 'queued' }, 'deferred'],
    ['POST', 'threads/runs', { id: 'run_1', status: 'queued' }, 'deferred'],
    ['POST', 'threads/runs', {}, 'charge'],
    [
      'POST',
      'threads/thread_1/runs',
      { object: 'thread.run', id: 'run_1', status: 'completed', usage: { prompt_tokens: 1, completion_tokens: 1 } },
      'deferred',
    ],
    ['POST', 'threads/thread_1/runs/run_1/submit_tool_outputs', { object: 'thread.run', id: 'run_1', status: 'in_progress' }, 'deferred'],
    ['POST', 'threads/thread_1/runs/run_1/submit_tool_outputs', {}, 'charge'],
    ['POST', 'threads/thread_1/runs/run_1/cancel', { object: 'thread.run', id: 'run_1', status: 'cancelled' }, 'deferred'],
    ['POST', 'threads/thread_1/messages', {}, 'none'],
    ['POST', 'batches/batch_1/cancel', { status: 'cancelling' }, 'none'],
    ['POST', 'responses/resp_1/cancel', { status: 'cancelled' }, 'none'],
    ['POST', 'assistants/asst_1', {}, 'none'],
    ['GET', 'responses/resp_1', { status: 'completed', usage: { input_tokens: 1, output_tokens: 1 } }, 'none'],
    ['DELETE', 'responses/resp_1', {}, 'none'],
  ])('%s %s: %j is %s', (method, path, answer, expected) => {
    expect(meteringOf(op(method, path), answer)).toBe(expected);
  });
});

describe('finishedUsage', () => {
  const usage = { input_tokens: 2, output_tokens: 3 };
  it.each(['completed', 'cancelled', 'expired', 'failed'])('a batch %s with usage is billed', (status) => {
    expect(finishedUsage('batch', { status, usage })).toEqual({ usage: { inputTokens: 2, outputTokens: 3 }, source: 'reported' });
  });
  it.each(['completed', 'incomplete', 'cancelled', 'failed'])('a response %s with usage is billed', (status) => {
    expect(finishedUsage('response', { status, usage })).toEqual({ usage: { inputTokens: 2, outputTokens: 3 }, source: 'reported' });
  });
  describe('ended with no usage reported: its estimate for the work it did (found by review)', () => {
    const estimate = { input_tokens: 100, output_tokens: 1000 };
    const estimated = (inputTokens: number, outputTokens: number) => ({ usage: { inputTokens, outputTokens }, source: 'estimated' });
    it.each([
      ['response', { status: 'completed' }, estimated(100, 1000)],
      ['response', { status: 'incomplete' }, estimated(100, 1000)],
      ['response', { status: 'failed' }, undefined],
      ['response', { status: 'cancelled' }, undefined],
      ['batch', { status: 'completed', request_counts: { total: 4, completed: 1 } }, estimated(25, 250)],
      ['batch', { status: 'cancelled', request_counts: { total: 3, completed: 1 } }, estimated(34, 334)],
      ['batch', { status: 'completed' }, estimated(100, 1000)],
      ['batch', { status: 'expired', request_counts: { total: 0, completed: 0 } }, undefined],
      ['batch', { status: 'failed', request_counts: { total: 4, completed: 4 } }, undefined],
    ] as const)('%s %j', (kind, answer, bill) => {
      expect(finishedUsage(kind, answer, estimate)).toEqual(bill);
      expect(finishedUsage(kind, answer)).toBeUndefined();
    });
  });
  it('an estimate with web searches charges them too, a batch its completed share rounded up (found in review: it charged none)', () => {
    const estimate = { input_tokens: 100, output_tokens: 1000, web_searches: 5 };
    expect(finishedUsage('response', { status: 'completed' }, estimate)).toEqual({
      usage: { inputTokens: 100, outputTokens: 1000, webSearches: 5 },
      source: 'estimated',
    });
    expect(finishedUsage('batch', { status: 'completed', request_counts: { total: 4, completed: 1 } }, estimate)).toEqual({
      usage: { inputTokens: 25, outputTokens: 250, webSearches: 2 },
      source: 'estimated',
    });
    // Reported usage is what is charged: the estimate's searches are a bound, not a count.
    expect(finishedUsage('response', { status: 'completed', usage: { input_tokens: 2, output_tokens: 3 } }, estimate)).toEqual({
      usage: { inputTokens: 2, outputTokens: 3 },
      source: 'reported',
    });
  });
  it('an estimate with file searches charges them too, a batch its completed share rounded up', () => {
    const estimate = { input_tokens: 100, output_tokens: 1000, web_searches: 5, file_searches: 3 };
    expect(finishedUsage('response', { status: 'completed' }, estimate)).toEqual({
      usage: { inputTokens: 100, outputTokens: 1000, webSearches: 5, fileSearches: 3 },
      source: 'estimated',
    });
    expect(finishedUsage('batch', { status: 'completed', request_counts: { total: 4, completed: 1 } }, estimate)).toEqual({
      usage: { inputTokens: 25, outputTokens: 250, webSearches: 2, fileSearches: 1 },
      source: 'estimated',
    });
  });
  it.each(['validating', 'in_progress', 'finalizing', 'cancelling', 'queued', undefined])('not yet ended (%s): nothing', (status) => {
    expect(finishedUsage('batch', { status, usage })).toBeUndefined();
    expect(finishedUsage('response', { status, usage })).toBeUndefined();
  });
});

describe('referencedObjects', () => {
  it('every id a body names, at any depth, each once', () => {
    const body = {
      previous_response_id: 'resp_1',
      input_file_id: 'file-1',
      assistant_id: 'asst_1',
      thread_id: 'thread_1',
      file_ids: ['file-2', 'file-1'],
      input: [{ role: 'user', content: [{ type: 'input_file', file_id: 'file-3' }] }],
      tool_resources: { code_interpreter: { file_ids: ['file-4'] } },
    };
    expect(referencedObjects(body)).toEqual([
      { kind: 'response', id: 'resp_1' },
      { kind: 'file', id: 'file-1' },
      { kind: 'assistant', id: 'asst_1' },
      { kind: 'thread', id: 'thread_1' },
      { kind: 'file', id: 'file-2' },
      { kind: 'file', id: 'file-3' },
      { kind: 'file', id: 'file-4' },
    ]);
  });
  it('no ids: none; a field on the prototype chain names nothing', () => {
    expect(referencedObjects({ model: 'gpt-4o', input: 'hi', previous_response_id: null, file_id: '' })).toEqual([]);
    expect(referencedObjects(JSON.parse('{"__proto__":{"file_id":"x"},"constructor":"y"}'))).toEqual([{ kind: 'file', id: 'x' }]);
  });
  it("metadata is the caller's own key-value tags, never a reference (found by review)", () => {
    expect(referencedObjects({ model: 'gpt-4o', metadata: { thread_id: 't-42', conversation: 'c-1', file_id: 'f' } })).toEqual([]);
    expect(referencedObjects({ input: [{ metadata: { file_id: 'f' } }], previous_response_id: 'resp_1' })).toEqual([
      { kind: 'response', id: 'resp_1' },
    ]);
  });
  it('more than 100 is a 400', () => {
    expect(() => referencedObjects({ file_ids: Array.from({ length: 101 }, (_, i) => `f${i}`) })).toThrow('at most 100');
  });
});
