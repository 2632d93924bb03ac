import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Deadline } from '../../../lib/llm/deadline.js';

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
