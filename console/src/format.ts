/** How numbers, money and times are shown. */

const dollars = new Intl.NumberFormat('en-US', { style: 'currency', currency: 'USD', minimumFractionDigits: 2, maximumFractionDigits: 2 });
// Sub-dollar spend (a chat costs micro-dollars) keeps three significant digits, never rounds to $0.00.
const cents = new Intl.NumberFormat('en-US', { style: 'currency', currency: 'USD', maximumSignificantDigits: 3 });

export function money(n: number | null | undefined): string {
  if (n === null || n === undefined) return '—';
  if (!Number.isFinite(n)) return String(n);
  if (n === 0) return '$0';
  if (Math.abs(n) >= 1) return dollars.format(n);
  const small = cents.format(n);
  // At least cents: $0.50, not $0.5.
  return (small.split('.')[1] ?? '').length >= 2 ? small : dollars.format(n);
}

// Prices and budgets are figures an admin set (to the nano-dollar the API keeps): shown whole, never rounded.
const exact = new Intl.NumberFormat('en-US', { style: 'currency', currency: 'USD', minimumFractionDigits: 2, maximumFractionDigits: 9 });

/** A price or a budget as it is stored: $1.125, $0.1875, $0.0000025 (at least cents: $0.50). */
export function price(n: number | null | undefined): string {
  if (n === null || n === undefined) return '—';
  if (!Number.isFinite(n)) return String(n);
  return n === 0 ? '$0' : exact.format(n);
}

export function budget(max: number | null | undefined): string {
  return max === null || max === undefined ? 'no limit' : price(max);
}

// Rounded down: a spend under its budget never reads as the budget ($99.996 of $100 is $99.99).
const dollarsDown = new Intl.NumberFormat('en-US', {
  style: 'currency',
  currency: 'USD',
  minimumFractionDigits: 2,
  maximumFractionDigits: 2,
  roundingMode: 'trunc',
});
const centsDown = new Intl.NumberFormat('en-US', {
  style: 'currency',
  currency: 'USD',
  maximumSignificantDigits: 3,
  roundingMode: 'trunc',
});

/**
 * Spend against a budget (`max`, none: no limit): under the budget it is rounded down, so it never
 * appears to reach a budget it has not; at or over it, it is shown whole (as the budget is).
 */
export function spendOf(n: number, max: number | null | undefined): string {
  if (!Number.isFinite(n) || n === 0) return money(n);
  if (max !== null && max !== undefined && n >= max) return price(n);
  if (Math.abs(n) >= 1) return dollarsDown.format(n);
  const small = centsDown.format(n);
  return (small.split('.')[1] ?? '').length >= 2 ? small : dollarsDown.format(n);
}

export function when(iso: string | null | undefined): string {
  if (!iso) return '—';
  const d = new Date(iso);
  return Number.isNaN(d.getTime())
    ? iso
    : d
        .toISOString()
        .replace('T', ' ')
        .replace(/\.\d+Z$/, ' UTC');
}

export function list(items: readonly string[] | null | undefined, empty = 'all'): string {
  return items && items.length > 0 ? items.join(', ') : empty;
}

/** A record's name as the console shows it: `alias (id)`, or the id alone. */
export const named = (alias: string | null | undefined, id: string): string => (alias ? `${alias} (${id})` : id);

export const count = (n: number): string => new Intl.NumberFormat('en-US').format(n);

/** `YYYY-MM-DD` of a date, in UTC (the API's days are UTC days). */
export const day = (d: Date): string => d.toISOString().slice(0, 10);
