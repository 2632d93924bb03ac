/** Budget periods: parsing, calendar-aligned UTC windows, month arithmetic, the spend that counts. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  addDuration,
  budgetAnchor,
  budgetResetAt,
  currentSpend,
  isDuration,
  parseDuration,
  windowEndedBefore,
  windowOf,
} from '../../../lib/domain/periods.js';
import { InvalidRequestError } from '../../../lib/errors.js';

const t = (iso: string) => Date.parse(iso);
const iso = (ms: number) => new Date(ms).toISOString();

describe('parseDuration', () => {
  it.each([
    ['30s', 30, 's'],
    ['15m', 15, 'm'],
    ['24h', 24, 'h'],
    ['30d', 30, 'd'],
    ['2w', 2, 'w'],
    ['1mo', 1, 'mo'],
    ['3mo', 3, 'mo'],
    ['3660d', 3660, 'd'],
    ['120mo', 120, 'mo'],
    ['87600h', 87600, 'h'],
    ['999999s', 999999, 's'],
  ])('accepts %j', (text, n, unit) => {
    expect(parseDuration(text)).toEqual({ n, unit });
    expect(isDuration(text)).toBe(true);
  });

  it.each([
    '',
    ' ',
    '0d',
    '01d',
    '-1d',
    '1.5d',
    '1y',
    '1D',
    '1MO',
    'd',
    '1',
    '1 d',
    '1000000d',
    // Over ten years: a typo, not a budget (issue 10, item 8).
    '999999d',
    '999999mo',
    '3661d',
    '121mo',
    '524w',
    '87601h',
    // White space is refused, not trimmed: one period, one spelling.
    ' 7d ',
    '7d ',
    ' 1d',
    '1d\n',
    '1mos',
    'mo',
    '1ms',
    '30 days',
    '1d1h',
    '١d',
  ])('rejects %j with a typed 400 invalid_duration', (text) => {
    expect(isDuration(text)).toBe(false);
    let caught: unknown;
    try {
      parseDuration(text);
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(InvalidRequestError);
    expect(caught).toMatchObject({ status: 400, type: 'invalid_request_error', code: 'invalid_duration', param: 'budget_duration' });
  });

  it('names the parameter it was given', () => {
    expect(() => parseDuration('forever', 'duration')).toThrow(
      expect.objectContaining({ param: 'duration', message: expect.stringContaining('`duration`') }),
    );
  });

  it('echoes at most 32 characters of the bad input', () => {
    expect(() => parseDuration('x'.repeat(10_000))).toThrow(
      expect.objectContaining({ message: expect.not.stringContaining('x'.repeat(33)) }),
    );
  });
});

describe('windowOf: calendar-aligned UTC windows', () => {
  const now = t('2026-11-28T15:30:12.345Z'); // a Saturday
  it.each([
    ['30s', '2026-11-28T15:30:00.000Z', '2026-11-28T15:30:30.000Z'],
    ['15m', '2026-11-28T15:30:00.000Z', '2026-11-28T15:45:00.000Z'],
    ['1h', '2026-11-28T15:00:00.000Z', '2026-11-28T16:00:00.000Z'],
    ['24h', '2026-11-28T00:00:00.000Z', '2026-11-29T00:00:00.000Z'],
    ['1d', '2026-11-28T00:00:00.000Z', '2026-11-29T00:00:00.000Z'],
    ['7d', '2026-11-23T00:00:00.000Z', '2026-11-30T00:00:00.000Z'],
    ['1w', '2026-11-23T00:00:00.000Z', '2026-11-30T00:00:00.000Z'],
    ['1mo', '2026-11-01T00:00:00.000Z', '2026-12-01T00:00:00.000Z'],
    ['3mo', '2026-10-01T00:00:00.000Z', '2027-01-01T00:00:00.000Z'],
    ['12mo', '2026-01-01T00:00:00.000Z', '2027-01-01T00:00:00.000Z'],
  ])('%s: [%s, %s)', (d, start, end) => {
    const w = windowOf(d, now);
    expect([iso(w.start), iso(w.end)]).toEqual([start, end]);
  });

  it('1d starts at 00:00 UTC', () => {
    expect(iso(windowOf('1d', t('2026-03-01T00:00:00.000Z')).start)).toBe('2026-03-01T00:00:00.000Z');
    expect(iso(windowOf('1d', t('2026-02-28T23:59:59.999Z')).start)).toBe('2026-02-28T00:00:00.000Z');
  });

  it('7d, 1w and 2w windows start on Mondays at 00:00 UTC', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: t('2000-01-01T00:00:00Z'), max: t('2100-01-01T00:00:00Z') }),
        fc.constantFrom('7d', '1w', '2w', '14d'),
        (ms, d) => {
          const start = new Date(windowOf(d, ms).start);
          return start.getUTCDay() === 1 && start.getUTCHours() === 0 && start.getUTCMinutes() === 0 && start.getUTCMilliseconds() === 0;
        },
      ),
    );
  });

  it('1mo windows start on the 1st; 3mo blocks start in January, April, July, October', () => {
    for (let month = 0; month < 24; month++) {
      const ms = Date.UTC(2025, month, 17, 8);
      expect(new Date(windowOf('1mo', ms).start).getUTCDate()).toBe(1);
      expect([0, 3, 6, 9]).toContain(new Date(windowOf('3mo', ms).start).getUTCMonth());
    }
  });

  it('ids name the duration and the window start', () => {
    expect(windowOf('1d', now).id).toBe('1d@2026-11-28T00:00:00Z');
    expect(windowOf('1mo', now).id).toBe('1mo@2026-11-01T00:00:00Z');
    expect(windowOf('1w', now).id).not.toBe(windowOf('7d', now).id);
  });

  it('rejects a bad duration with the typed error', () => {
    expect(() => windowOf('monthly', now)).toThrow(InvalidRequestError);
  });
});

describe('window boundaries: the last ms belongs to the window, the next ms to the next one', () => {
  it.each([
    ['1d', '2026-11-28T23:59:59.999Z', '2026-11-29T00:00:00.000Z'],
    ['1h', '2026-11-28T15:59:59.999Z', '2026-11-28T16:00:00.000Z'],
    ['7d', '2026-11-29T23:59:59.999Z', '2026-11-30T00:00:00.000Z'],
    ['1mo', '2026-11-30T23:59:59.999Z', '2026-12-01T00:00:00.000Z'],
    ['1mo', '2028-02-29T23:59:59.999Z', '2028-03-01T00:00:00.000Z'],
    ['3mo', '2026-12-31T23:59:59.999Z', '2027-01-01T00:00:00.000Z'],
  ])('%s: %s | %s', (d, last, first) => {
    const a = windowOf(d, t(last));
    const b = windowOf(d, t(first));
    expect(a.end).toBe(t(first));
    expect(b.start).toBe(t(first));
    expect(a.id).not.toBe(b.id);
  });

  it('property: now is inside its window, and windows tile time without gaps', () => {
    const durations = fc.constantFrom(
      '30s',
      '15m',
      '1h',
      '5h',
      '24h',
      '1d',
      '3d',
      '7d',
      '30d',
      '1w',
      '2w',
      '1mo',
      '2mo',
      '3mo',
      '5mo',
      '12mo',
    );
    fc.assert(
      fc.property(fc.integer({ min: t('1950-01-01T00:00:00Z'), max: t('2200-01-01T00:00:00Z') }), durations, (ms, d) => {
        const w = windowOf(d, ms);
        const next = windowOf(d, w.end);
        return (
          w.start <= ms && ms < w.end && windowOf(d, w.start).id === w.id && windowOf(d, w.end - 1).id === w.id && next.start === w.end
        );
      }),
      { numRuns: 3000 },
    );
  });
});

describe('addDuration: fixed units add milliseconds, months are calendar months clamped to month end', () => {
  it.each([
    ['2026-01-31T10:00:00.000Z', '1mo', '2026-02-28T10:00:00.000Z'],
    ['2024-01-31T10:00:00.000Z', '1mo', '2024-02-29T10:00:00.000Z'],
    ['2026-03-31T00:00:00.000Z', '1mo', '2026-04-30T00:00:00.000Z'],
    ['2026-01-31T00:00:00.000Z', '2mo', '2026-03-31T00:00:00.000Z'],
    ['2026-08-31T00:00:00.000Z', '6mo', '2027-02-28T00:00:00.000Z'],
    ['2026-12-15T23:59:59.999Z', '1mo', '2027-01-15T23:59:59.999Z'],
    ['2026-01-15T00:00:00.000Z', '12mo', '2027-01-15T00:00:00.000Z'],
    ['2026-11-28T12:00:00.000Z', '30s', '2026-11-28T12:00:30.000Z'],
    ['2026-11-28T12:00:00.000Z', '15m', '2026-11-28T12:15:00.000Z'],
    ['2026-11-28T12:00:00.000Z', '24h', '2026-11-29T12:00:00.000Z'],
    ['2026-11-28T12:00:00.000Z', '30d', '2026-12-28T12:00:00.000Z'],
    ['2026-11-28T12:00:00.000Z', '2w', '2026-12-12T12:00:00.000Z'],
  ])('%s + %s = %s', (from, d, to) => {
    expect(iso(addDuration(t(from), parseDuration(d)))).toBe(to);
  });
});

describe('currentSpend: the window’s counter with a period, lifetime spend without', () => {
  const now = t('2026-11-28T12:00:00.000Z');

  it('without a period, lifetime spend counts', () => {
    expect(currentSpend({ spend: 12.5, window_spend: { '1d@2026-11-28T00:00:00Z': 1 } }, now)).toBe(12.5);
  });

  it('without a period or any spend, zero', () => {
    expect(currentSpend({}, now)).toBe(0);
  });

  it('with a period, only the current window counts', () => {
    expect(
      currentSpend(
        { spend: 500, budget_duration: '1d', window_spend: { '1d@2026-11-27T00:00:00Z': 480, '1d@2026-11-28T00:00:00Z': 20 } },
        now,
      ),
    ).toBe(20);
  });

  it('with a period and no counter for this window yet, zero', () => {
    expect(currentSpend({ spend: 500, budget_duration: '1d', window_spend: { '1d@2026-11-27T00:00:00Z': 480 } }, now)).toBe(0);
  });

  it('a counter of another duration with the same start does not count', () => {
    expect(currentSpend({ budget_duration: '1mo', window_spend: { '1d@2026-11-01T00:00:00Z': 9 } }, now)).toBe(0);
  });

  it('an explicit duration overrides the record’s own', () => {
    expect(currentSpend({ spend: 500, window_spend: { '1mo@2026-11-01T00:00:00Z': 7 } }, now, '1mo')).toBe(7);
  });
});

describe('budgetResetAt: the end of the current window', () => {
  const now = t('2026-11-28T12:00:00.000Z');

  it.each([
    ['1d', '2026-11-29T00:00:00.000Z'],
    ['1h', '2026-11-28T13:00:00.000Z'],
    ['1w', '2026-11-30T00:00:00.000Z'],
    ['1mo', '2026-12-01T00:00:00.000Z'],
    ['3mo', '2027-01-01T00:00:00.000Z'],
  ])('%s resets at %s', (d, at) => {
    expect(budgetResetAt(d, now)).toBe(at);
  });

  it.each([null, undefined, ''])('no period (%j): null', (d) => {
    expect(budgetResetAt(d, now)).toBeNull();
  });
});

describe('windows anchored where the budget was set: fixed lengths count from it, months stay calendar', () => {
  const anchor = t('2026-11-03T13:45:12.000Z');
  const DAY = 86_400_000;

  it('a 30d budget set at 13:45:12 resets 30 days later at 13:45:12, then every 30 days', () => {
    expect(windowOf('30d', anchor, anchor)).toMatchObject({ start: anchor, end: anchor + 30 * DAY, id: '30d@2026-11-03T13:45:12Z' });
    expect(windowOf('30d', anchor + 30 * DAY - 1, anchor).start).toBe(anchor);
    expect(windowOf('30d', anchor + 30 * DAY, anchor).start).toBe(anchor + 30 * DAY);
    expect(windowOf('30d', anchor + 95 * DAY, anchor)).toMatchObject({ start: anchor + 90 * DAY, end: anchor + 120 * DAY });
    expect(budgetResetAt('30d', anchor + DAY, anchor)).toBe('2026-12-03T13:45:12.000Z');
  });

  it.each([
    ['1d', '2026-11-04T13:45:12.000Z'],
    ['24h', '2026-11-04T13:45:12.000Z'],
    ['1h', '2026-11-03T14:45:12.000Z'],
    ['2w', '2026-11-17T13:45:12.000Z'],
    ['45m', '2026-11-03T14:30:12.000Z'],
  ])('%s counts from the anchor too: the first reset at %s', (d, at) => {
    expect(budgetResetAt(d, anchor + 1000, anchor)).toBe(at);
  });

  it('1mo ignores the anchor: calendar months, reset on the 1st', () => {
    expect(windowOf('1mo', anchor + DAY, anchor)).toEqual(windowOf('1mo', anchor + DAY));
    expect(budgetResetAt('1mo', anchor + DAY, anchor)).toBe('2026-12-01T00:00:00.000Z');
  });

  it('a moment before the anchor (a clock behind) falls in the window before it, not in the first', () => {
    expect(windowOf('30d', anchor - 1, anchor)).toMatchObject({ start: anchor - 30 * DAY, end: anchor });
  });

  it('without an anchor (the proxy-wide budget), the calendar-aligned blocks as before', () => {
    expect(windowOf('1d', anchor, undefined).start).toBe(t('2026-11-03T00:00:00.000Z'));
  });

  it('property: now is inside its window, whole windows from the anchor', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 4_000_000_000 }).map((s) => s * 1000),
        fc.integer({ min: -1e11, max: 1e11 }),
        fc.constantFrom('30s', '15m', '1h', '24h', '1d', '30d', '2w'),
        (a, offset, d) => {
          const w = windowOf(d, a + offset, a);
          const size = w.end - w.start;
          return w.start <= a + offset && a + offset < w.end && (w.start - a) % size === 0;
        },
      ),
    );
  });
});

describe('budgetAnchor: when the budget was set, else when the entity was created, in whole seconds', () => {
  it('prefers budget_set_at', () => {
    expect(budgetAnchor({ budget_set_at: '2026-11-03T13:45:12.789Z', created_at: '2025-01-01T00:00:00.000Z' })).toBe(
      t('2026-11-03T13:45:12.000Z'),
    );
  });
  it('falls back to created_at', () => {
    expect(budgetAnchor({ budget_set_at: null, created_at: '2025-01-01T10:00:00.500Z' })).toBe(t('2025-01-01T10:00:00.000Z'));
  });
  it.each([[undefined], [{}], [{ created_at: 'not a time' }], [{ budget_set_at: 'garbage' }]])('none for %j', (b) => {
    expect(budgetAnchor(b as never)).toBeUndefined();
  });
  it('currentSpend reads the window counted from the record’s own anchor', () => {
    const record = {
      budget_duration: '30d',
      budget_set_at: '2026-11-03T13:45:12.000Z',
      spend: 9,
      window_spend: { '30d@2026-11-03T13:45:12Z': 4 },
    };
    expect(currentSpend(record, t('2026-11-20T00:00:00.000Z'))).toBe(4);
    expect(currentSpend(record, t('2026-12-03T13:45:12.000Z'))).toBe(0);
  });
});

describe('windowEndedBefore: a window no budget reads any more (the current and the previous are kept)', () => {
  it.each([
    ['30d@2026-11-03T13:45:12Z', '2027-01-02T13:45:11.999Z', false],
    ['30d@2026-11-03T13:45:12Z', '2027-01-02T13:45:12.000Z', true],
    ['1h@2026-11-28T10:00:00Z', '2026-11-28T11:59:59.999Z', false],
    ['1h@2026-11-28T10:00:00Z', '2026-11-28T12:00:00.000Z', true],
    ['1mo@2026-10-01T00:00:00Z', '2026-11-30T23:59:59.999Z', false],
    ['1mo@2026-10-01T00:00:00Z', '2026-12-01T00:00:00.000Z', true],
  ])('%s at %s: %s', (id, now, ended) => {
    expect(windowEndedBefore(id, t(now))).toBe(ended);
  });
  it.each([['no-at-sign'], ['30x@2026-11-03T13:45:12Z'], ['30d@yesterday']])('%s: unreadable', (id) => {
    expect(windowEndedBefore(id, Date.now())).toBeUndefined();
  });
});
