/** Which window counters the sweeper's tidy pass removes (lib/store/sweep): ended ones, judged by their own duration. */
import { describe, expect, it } from 'vitest';
import { endedWindowAttributes, endedWindowTest } from '../../../lib/store/sweep.js';

const at = (iso: string) => Date.parse(iso);

describe('endedWindowTest', () => {
  it('keeps the current and the previous window, removes earlier ones', () => {
    const ended = endedWindowTest(at('2026-11-28T12:30:00Z'));
    expect(ended('ws#1h@2026-11-28T12:00:00Z')).toBe(false);
    expect(ended('wc#1h@2026-11-28T11:00:00Z')).toBe(false);
    expect(ended('ws#1h@2026-11-28T10:00:00Z')).toBe(true);
    expect(ended('wc#1h@2020-01-01T00:00:00Z')).toBe(true);
    // A later window (another instance's clock ahead) is kept.
    expect(ended('ws#1h@2026-11-28T13:00:00Z')).toBe(false);
  });

  it('at a boundary the window just ended becomes the previous one', () => {
    const ended = endedWindowTest(at('2026-11-28T12:00:00Z'));
    expect(ended('ws#1h@2026-11-28T11:00:00Z')).toBe(false);
    expect(ended('ws#1h@2026-11-28T10:00:00Z')).toBe(true);
    expect(endedWindowTest(at('2026-11-28T11:59:59.999Z'))('ws#1h@2026-11-28T10:00:00Z')).toBe(false);
  });

  it('judges each id by its own duration: days from Monday, weeks, calendar months', () => {
    const ended = endedWindowTest(at('2026-03-01T00:00:01Z')); // a Sunday
    expect(ended('ws#1mo@2026-03-01T00:00:00Z')).toBe(false);
    expect(ended('ws#1mo@2026-02-01T00:00:00Z')).toBe(false);
    expect(ended('ws#1mo@2026-01-01T00:00:00Z')).toBe(true);
    expect(ended('ws#3mo@2025-10-01T00:00:00Z')).toBe(false); // previous quarter
    expect(ended('ws#3mo@2025-07-01T00:00:00Z')).toBe(true);
    expect(ended('ws#1w@2026-02-16T00:00:00Z')).toBe(false);
    expect(ended('ws#1w@2026-02-09T00:00:00Z')).toBe(true);
    expect(ended('ws#2d@2026-02-26T00:00:00Z')).toBe(false);
    expect(ended('ws#2d@2026-02-24T00:00:00Z')).toBe(true);
    expect(ended('ws#24h@2026-02-28T00:00:00Z')).toBe(false);
    expect(ended('ws#24h@2026-02-27T00:00:00Z')).toBe(true);
  });

  it('leaves alone whatever it cannot parse, and every other attribute', () => {
    const ended = endedWindowTest(at('2026-11-28T12:30:00Z'));
    for (const name of [
      'ws#garbage',
      'ws#1h',
      'ws#1h@yesterday',
      'ws#0h@2020-01-01T00:00:00Z',
      'ws#1x@2020-01-01T00:00:00Z',
      'ws# 1h@2020-01-01T00:00:00Z',
      'ws#1h@2020-01-01',
      'ws#1h@2020-13-45T00:00:00Z',
      'ws#999999w@1970-01-05T00:00:00Z',
    ]) {
      expect(ended(name), name).toBe(false);
    }
    for (const name of ['spend', 'committed', 'PK', 'max_budget', 'w#1h@2020-01-01T00:00:00Z', 'WS#1h@2020-01-01T00:00:00Z'])
      expect(ended(name), name).toBe(false);
  });

  it("lists an item's ended window attributes", () => {
    const item = {
      PK: 'KEY#x',
      SK: 'KEY',
      spend: 5,
      committed: 6,
      'ws#1h@2026-11-28T12:00:00Z': 1,
      'ws#1h@2026-11-28T09:00:00Z': 1,
      'wc#1h@2026-11-28T09:00:00Z': 1,
      'ws#1d@2026-11-20T00:00:00Z': 2,
    };
    expect(endedWindowAttributes(item, at('2026-11-28T12:30:00Z')).sort()).toEqual([
      'wc#1h@2026-11-28T09:00:00Z',
      'ws#1d@2026-11-20T00:00:00Z',
      'ws#1h@2026-11-28T09:00:00Z',
    ]);
  });
});
