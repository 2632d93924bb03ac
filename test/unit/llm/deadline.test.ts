import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Deadline, upstreamFailure } from '../../../lib/llm/deadline.js';

describe('the upstream deadline', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('expires after a silence of its length, and says so', () => {
    const d = new Deadline(1000);
    d.touch();
    vi.advanceTimersByTime(999);
    expect(d.signal.aborted).toBe(false);
    vi.advanceTimersByTime(1);
    expect(d.signal.aborted).toBe(true);
    expect(d.expired).toBe(true);
  });

  it('each sign of life restarts the clock: a long answer that keeps talking is never cut', () => {
    const d = new Deadline(1000);
    d.touch();
    for (let i = 0; i < 10; i++) {
      vi.advanceTimersByTime(900);
      d.touch();
    }
    expect(d.signal.aborted).toBe(false);
  });

  it('the caller going away aborts the call, and is not a timeout', () => {
    const caller = new AbortController();
    const d = new Deadline(1000, caller.signal);
    d.touch();
    caller.abort();
    expect(d.signal.aborted).toBe(true);
    expect(d.expired).toBe(false);
    expect(new Deadline(1000, caller.signal).signal.aborted).toBe(true);
  });

  it('stopped, it never fires; aborted, it cannot be restarted', () => {
    const d = new Deadline(1000);
    d.touch();
    d.stop();
    vi.advanceTimersByTime(5000);
    expect(d.signal.aborted).toBe(false);
    d.abort();
    d.touch();
    vi.advanceTimersByTime(5000);
    expect(d.expired).toBe(false);
  });
});

describe('the invocation’s end', () => {
  it('ends the call as timed out at the time limit, told apart from a silence and from the caller leaving', () => {
    const end = new AbortController();
    const d = new Deadline(60_000, undefined, end.signal);
    d.touch();
    end.abort();
    expect([d.signal.aborted, d.expired, d.atTimeLimit]).toEqual([true, true, true]);
    expect(upstreamFailure(new Error('aborted'), d, 'm').message).toBe(
      "the call to the upstream for `m` was ended at the function's time limit",
    );
    const caller = new AbortController();
    const left = new Deadline(60_000, caller.signal, new AbortController().signal);
    caller.abort();
    expect([left.signal.aborted, left.expired, left.atTimeLimit]).toEqual([true, false, false]);
    // A call done stops listening: the invocation's end, later, leaves it alone (found by review).
    const laterEnd = new AbortController();
    const done = new Deadline(60_000, undefined, laterEnd.signal);
    done.touch();
    done.stop();
    laterEnd.abort();
    expect([done.signal.aborted, done.expired, done.atTimeLimit]).toEqual([false, false, false]);
    // Already past: ended at once.
    const past = new Deadline(60_000, undefined, AbortSignal.abort());
    expect([past.signal.aborted, past.atTimeLimit]).toEqual([true, true]);
  });
});
