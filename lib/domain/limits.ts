/**
 * Limits, and which way a change moves them. Authority only tightens: whoever has less
 * authority than the one who set an entity's limits may make each of them stricter, never
 * looser (lib/admin/rules/limits). Every limit-like field of an entity is listed here with its
 * comparison; a field the admin API accepts is either a limit listed here or named as not one
 * (test/unit/domain/limits.test.ts fails for a new field that is neither).
 */
import { addDuration, isDuration, parseDuration } from './periods.js';

export type Direction = 'tighter' | 'same' | 'looser';

const by = (cmp: number): Direction => (cmp < 0 ? 'tighter' : cmp > 0 ? 'looser' : 'same');

/** A cap where null or absent means no limit: lower is tighter, removing it loosens. */
export function compareCap(current: number | null | undefined, next: number | null | undefined): Direction {
  const c = current ?? Number.POSITIVE_INFINITY;
  const n = next ?? Number.POSITIVE_INFINITY;
  return by(n === c ? 0 : n < c ? -1 : 1);
}

/** Spend counted against a budget: more is tighter (less budget left), lowering it loosens. */
export function compareSpend(current: number, next: number): Direction {
  return by(next === current ? 0 : next > current ? -1 : 1);
}

/** An expiry (ISO time) where null means never: earlier is tighter, removing it loosens. */
export function compareExpiry(current: string | null | undefined, next: string | null | undefined): Direction {
  const c = current ? Date.parse(current) : Number.POSITIVE_INFINITY;
  const n = next ? Date.parse(next) : Number.POSITIVE_INFINITY;
  // An unreadable time counts as expired (the authorizer fails closed on it): the tightest.
  const cc = Number.isNaN(c) ? Number.NEGATIVE_INFINITY : c;
  const nn = Number.isNaN(n) ? Number.NEGATIVE_INFINITY : n;
  return by(nn === cc ? 0 : nn < cc ? -1 : 1);
}

/**
 * A budget window: none (a lifetime budget that never resets) is the tightest; a longer window
 * resets less often, so it is tighter than a shorter one. A calendar window (`Nmo`) has no one
 * length (February's month is 28 days, March's 31): a change is tighter only when the new window's
 * shortest length is at least the current one's longest, so `30d` to `1mo` loosens.
 */
export function compareWindow(current: string | null | undefined, next: string | null | undefined): Direction {
  if ((current ?? null) === (next ?? null)) return 'same';
  const c = windowLengths(current);
  const n = windowLengths(next);
  if (n.shortest === c.shortest && n.longest === c.longest && n.shortest === n.longest) return 'same';
  return n.shortest >= c.longest ? 'tighter' : 'looser';
}

const LIFETIME = { shortest: Number.POSITIVE_INFINITY, longest: Number.POSITIVE_INFINITY };
/** Start months enough to meet every run of calendar months: the Gregorian calendar repeats every 400 years. */
const CALENDAR_CYCLE = 400 * 12;

/** The shortest and longest a window can be, in milliseconds; a lifetime (or unreadable) window is infinite. */
function windowLengths(text: string | null | undefined): { shortest: number; longest: number } {
  if (!text || !isDuration(text)) return LIFETIME;
  const d = parseDuration(text);
  if (d.unit !== 'mo') {
    const exact = addDuration(0, d);
    return { shortest: exact, longest: exact };
  }
  let shortest = Number.POSITIVE_INFINITY;
  let longest = 0;
  for (let m = 0; m < CALENDAR_CYCLE; m++) {
    const length = Date.UTC(2000, m + d.n, 1) - Date.UTC(2000, m, 1);
    shortest = Math.min(shortest, length);
    longest = Math.max(longest, length);
  }
  return { shortest, longest };
}

/** Enforcement: `strict` is the tightest, `fast` the loosest, unset (the proxy's default) between. */
export function compareEnforcement(current: string | null | undefined, next: string | null | undefined): Direction {
  const rank = (m: string | null | undefined) => (m === 'strict' ? 0 : m === 'fast' ? 2 : 1);
  return by(rank(next) - rank(current));
}

/**
 * A model list where empty means every model: a list is tighter when each of its entries lies
 * within the current list. Lists compare as sets (duplicates and order change nothing).
 * `unrestricted` says whether a list allows every model (empty, `all-proxy-models`); `outside`
 * names an entry of a list that another does not cover (lib/admin/rules/hierarchy's modelOutside,
 * with the registry's aliases and groups); `growable` says whether an entry names models an admin
 * may change later (an access group, an alias): one not in the current list loosens, whatever it
 * holds now, unless the current list allows every model.
 */
export function compareModels(
  current: readonly string[] | null | undefined,
  next: readonly string[] | null | undefined,
  rules: {
    unrestricted: (list: readonly string[] | null | undefined) => boolean;
    outside: (child: readonly string[] | null | undefined, parent: readonly string[] | null | undefined) => string | undefined;
    growable?: (entry: string) => boolean;
  },
): Direction {
  const c = new Set(current ?? []);
  const n = new Set(next ?? []);
  if (c.size === n.size && [...n].every((m) => c.has(m))) return 'same';
  if (rules.unrestricted(next)) return rules.unrestricted(current) ? 'same' : 'looser';
  // Every model allowed before: any list that is not unrestricted allows fewer.
  if (rules.unrestricted(current)) return 'tighter';
  if ([...n].some((m) => !c.has(m) && rules.growable?.(m))) return 'looser';
  return rules.outside(next, current) === undefined ? 'tighter' : 'looser';
}

/** Two sets of what is allowed (routes a key may call): a subset is tighter, anything outside the current set loosens. */
export function compareAllowed<T>(current: ReadonlySet<T>, next: ReadonlySet<T>): Direction {
  for (const x of next) if (!current.has(x)) return 'looser';
  return next.size === current.size ? 'same' : 'tighter';
}

/** The limits a change loosens, by field name, in the order given. */
export const loosened = (directions: Readonly<Record<string, Direction>>): string[] =>
  Object.entries(directions)
    .filter(([, d]) => d === 'looser')
    .map(([field]) => field);

/**
 * Per-model caps (`model_rpm_limit`): tighter when no model's cap rises and none is removed.
 * A model with no entry has no cap of its own, so adding one tightens and removing one loosens.
 */
export function compareModelCaps(
  current: Readonly<Record<string, number>> | null | undefined,
  next: Readonly<Record<string, number>> | null | undefined,
): Direction {
  const c = current ?? {};
  const n = next ?? {};
  const models = new Set([...Object.keys(c), ...Object.keys(n)]);
  let tighter = false;
  for (const m of models) {
    const d = compareCap(Object.hasOwn(c, m) ? c[m] : undefined, Object.hasOwn(n, m) ? n[m] : undefined);
    if (d === 'looser') return 'looser';
    if (d === 'tighter') tighter = true;
  }
  return tighter ? 'tighter' : 'same';
}

/** The rate-limit fields of every entity that takes them (lib/domain/rate-limits). */
export const RATE_LIMIT_FIELDS = ['rpm_limit', 'tpm_limit', 'max_parallel_requests'] as const;
/** The per-model ones, on keys and teams. */
export const MODEL_RATE_LIMIT_FIELDS = ['model_rpm_limit', 'model_tpm_limit'] as const;

type RateFields = Partial<Record<(typeof RATE_LIMIT_FIELDS)[number], number | null>> &
  Partial<Record<(typeof MODEL_RATE_LIMIT_FIELDS)[number], Readonly<Record<string, number>> | null>>;

/** Which way a change moves each rate limit it names (a field not named stays the same). */
export function rateDirections(current: RateFields, set: RateFields): Record<string, Direction> {
  const out: Record<string, Direction> = {};
  for (const f of RATE_LIMIT_FIELDS) if (set[f] !== undefined) out[f] = compareCap(current[f], set[f]);
  for (const f of MODEL_RATE_LIMIT_FIELDS) if (set[f] !== undefined) out[f] = compareModelCaps(current[f], set[f]);
  return out;
}

/**
 * Alert thresholds (percentages of max_budget): more alerts are stricter. A new list is tighter
 * when it keeps every threshold of the current one (absent: the proxy's), looser when it drops one.
 */
export function compareThresholds(
  current: readonly number[] | null | undefined,
  next: readonly number[] | null | undefined,
  proxy: readonly number[],
): Direction {
  const c = new Set(current ?? proxy);
  const n = new Set(next ?? proxy);
  if ([...c].some((p) => !n.has(p))) return 'looser';
  return n.size > c.size ? 'tighter' : 'same';
}

/** The alert fields of keys, users, teams and organizations (lib/domain/alerts). */
export const ALERT_FIELDS = ['soft_budget', 'alert_thresholds'] as const;

/** Which way a change moves each alert field it names. */
export function alertDirections(
  current: { soft_budget?: number | null; alert_thresholds?: readonly number[] | null },
  set: { soft_budget?: number | null; alert_thresholds?: readonly number[] | null },
  proxy: readonly number[],
): Record<string, Direction> {
  const out: Record<string, Direction> = {};
  if (set.soft_budget !== undefined) out.soft_budget = compareCap(current.soft_budget, set.soft_budget);
  if (set.alert_thresholds !== undefined) out.alert_thresholds = compareThresholds(current.alert_thresholds, set.alert_thresholds, proxy);
  return out;
}
