/**
 * Budget periods. Every instance computes the same window for a moment without coordination,
 * and a new window starts at zero by construction (its counter does not exist yet):
 * - `Ns`, `Nm`, `Nh`, `Nd`, `Nw` on an entity: blocks of that length counted from the moment the
 *   budget was set on the entity (its anchor: `budget_set_at`, else `created_at`), as LiteLLM
 *   resets a `30d` budget 30 days after it was created, then every 30 days;
 * - the same without an anchor (the proxy-wide budget): blocks counted from 1970-01-01T00:00Z
 *   (`24h` and `1h` start on the hour / at midnight UTC), days and weeks from Monday 1970-01-05
 *   (`1d` at 00:00 UTC, `7d` on Mondays);
 * - `Nmo`: blocks of N calendar months counted from January 1970, anchor or not, so `1mo`
 *   resets on the 1st.
 */
import { InvalidRequestError } from '../errors.js';
import type { Budgeted } from './records.js';

export type DurationUnit = 's' | 'm' | 'h' | 'd' | 'w' | 'mo';
export interface Duration {
  n: number;
  unit: DurationUnit;
}

const DURATION = /^([1-9][0-9]{0,5})(s|m|h|d|w|mo)$/;
/** At most ten years in any unit: a longer period is a typo, not a budget. */
export const MAX_DURATION: Readonly<Record<DurationUnit, number>> = { s: 999_999, m: 999_999, h: 87_600, d: 3_660, w: 523, mo: 120 };

/** The duration a text names; none for white space around it, an unknown unit or over ten years. */
function durationOf(text: string): Duration | undefined {
  const m = DURATION.exec(text);
  if (!m) return undefined;
  const d = { n: Number(m[1]), unit: m[2] as DurationUnit };
  return d.n <= MAX_DURATION[d.unit] ? d : undefined;
}

export function parseDuration(text: string, param = 'budget_duration'): Duration {
  const d = durationOf(text);
  if (!d) {
    throw new InvalidRequestError(
      `\`${param}\` must look like 30s, 15m, 24h, 30d, 2w or 1mo, at most ten years (got \`${text.slice(0, 32)}\`)`,
      'invalid_duration',
      param,
    );
  }
  return d;
}

export const isDuration = (text: string): boolean => durationOf(text) !== undefined;

const SECOND = 1000;
const FIXED_MS: Record<'s' | 'm' | 'h', number> = { s: SECOND, m: 60 * SECOND, h: 3600 * SECOND };
const DAY = 86_400_000;
const MONDAY_EPOCH = 4 * DAY; // 1970-01-05T00:00Z

/** Adds a duration to a moment (key expiry): months are calendar months, clamped to month end. */
export function addDuration(now: number, d: Duration): number {
  switch (d.unit) {
    case 's':
    case 'm':
    case 'h':
      return now + d.n * FIXED_MS[d.unit];
    case 'd':
      return now + d.n * DAY;
    case 'w':
      return now + d.n * 7 * DAY;
    case 'mo': {
      const t = new Date(now);
      const target = new Date(
        Date.UTC(
          t.getUTCFullYear(),
          t.getUTCMonth() + d.n,
          1,
          t.getUTCHours(),
          t.getUTCMinutes(),
          t.getUTCSeconds(),
          t.getUTCMilliseconds(),
        ),
      );
      const lastDay = new Date(Date.UTC(target.getUTCFullYear(), target.getUTCMonth() + 1, 0)).getUTCDate();
      target.setUTCDate(Math.min(t.getUTCDate(), lastDay));
      return target.getTime();
    }
  }
}

export interface Window {
  /** Stable id of the window, used as the counter's name: `1d@2026-11-28T00:00:00Z`. */
  id: string;
  start: number;
  end: number;
}

const iso = (ms: number) => new Date(ms).toISOString().replace('.000Z', 'Z');

/**
 * Where an entity's fixed-length windows count from: when its budget was set, else when it was
 * created, in whole seconds (window ids stay short); undefined for neither or an unreadable time.
 */
export function budgetAnchor(b: Pick<Budgeted, 'budget_set_at' | 'created_at'> | undefined): number | undefined {
  for (const text of [b?.budget_set_at, b?.created_at]) {
    if (typeof text !== 'string') continue;
    const t = Date.parse(text);
    if (Number.isFinite(t)) return Math.floor(t / SECOND) * SECOND;
  }
  return undefined;
}

/** The window `now` falls in: counted from `anchor` for fixed lengths when given (see above). */
export function windowOf(durationText: string, now: number, anchor?: number): Window {
  const d = parseDuration(durationText);
  const label = `${d.n}${d.unit}`;
  let start: number;
  let end: number;
  if (d.unit === 'mo') {
    const t = new Date(now);
    const monthIndex = (t.getUTCFullYear() - 1970) * 12 + t.getUTCMonth();
    // Floored modulo: before 1970 the month index is negative.
    const first = monthIndex - (((monthIndex % d.n) + d.n) % d.n);
    start = Date.UTC(1970, first, 1);
    end = Date.UTC(1970, first + d.n, 1);
  } else {
    const size = d.unit === 'd' ? d.n * DAY : d.unit === 'w' ? d.n * 7 * DAY : d.n * FIXED_MS[d.unit];
    const origin = anchor ?? (d.unit === 'd' || d.unit === 'w' ? MONDAY_EPOCH : 0);
    start = origin + Math.floor((now - origin) / size) * size;
    end = start + size;
  }
  return { id: `${label}@${iso(start)}`, start, end };
}

/** The spend that counts against `max_budget` now: the current window's, or lifetime spend. */
export function currentSpend(
  b: Pick<Budgeted, 'spend' | 'window_spend' | 'budget_duration' | 'budget_set_at' | 'created_at'>,
  now: number,
  duration = b.budget_duration,
): number {
  if (!duration) return b.spend ?? 0;
  return b.window_spend?.[windowOf(duration, now, budgetAnchor(b)).id] ?? 0;
}

/** When the current budget window ends (`budget_reset_at`), or null without a period. */
export function budgetResetAt(duration: string | null | undefined, now: number, anchor?: number): string | null {
  return duration ? new Date(windowOf(duration, now, anchor).end).toISOString() : null;
}

/**
 * Whether a window (by its id, `<duration>@<start>`) ended more than one full window before
 * `now`: no budget reads its counter any more (the current and the previous window are kept).
 * Undefined for an id it cannot read.
 */
export function windowEndedBefore(id: string, now: number): boolean | undefined {
  const at = id.indexOf('@');
  if (at < 0) return undefined;
  const d = durationOf(id.slice(0, at));
  const start = Date.parse(id.slice(at + 1));
  if (!d || !Number.isFinite(start)) return undefined;
  // The window two after this one has started: this one is neither the current nor the previous.
  return addDuration(start, { n: d.n * 2, unit: d.unit }) <= now;
}
