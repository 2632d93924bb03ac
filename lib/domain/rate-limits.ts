/**
 * Rate limits: which limits govern a call, and what an answer says about them. Pure.
 *
 * LiteLLM's fields: `rpm_limit`, `tpm_limit` and `max_parallel_requests` on keys, users, teams,
 * team members and organizations; `model_rpm_limit` / `model_tpm_limit` (per model) on keys and
 * teams; `rpm` / `tpm` on a registry model (the upstream's own limit, shared by every caller).
 *
 * Semantics (docs/rate-limits.md):
 * - windows are fixed UTC minutes; a request is counted when admitted, in the minute it was
 *   admitted. A burst at a window's edge may admit up to twice a limit within 60 seconds
 *   (the end of one minute and the start of the next), never more than the limit in one minute.
 * - tokens are counted from the settled usage into the minute the call was admitted; a strict
 *   caller's estimate is counted when admitted and corrected at settlement. A call is admitted
 *   while the minute's tokens are below the limit (strict: while they leave room for its estimate).
 * - parallel requests are counted from admission to the call's end (answered, failed, cancelled
 *   or timed out). A lease left by an instance that died expires after the longest a call can run.
 *
 * Every limit that applies is checked, as budgets are; of those a call exceeds, the tightest
 * (lowest limit) names itself in the denial. A user's limits apply to all of their calls (in any
 * team), a member's to their calls in that team.
 */
import type { Caller } from './caller.js';

/** Who a limit belongs to. `key_model`/`team_model` are a key's or team's per-model limits. */
export type RateScope = 'key' | 'user' | 'team' | 'team_member' | 'organization' | 'model' | 'key_model' | 'team_model';

export const RATE_SCOPES: readonly RateScope[] = ['key', 'user', 'team', 'team_member', 'organization', 'key_model', 'team_model', 'model'];

export const rateScopeLabel: Readonly<Record<RateScope, string>> = {
  key: 'key',
  user: 'user',
  team: 'team',
  team_member: 'team member',
  organization: 'organization',
  model: 'model',
  key_model: 'key',
  team_model: 'team',
};

/** The rate-limit fields of an entity, with LiteLLM's names (null or absent: no limit). */
export interface RateLimited {
  rpm_limit?: number | null;
  tpm_limit?: number | null;
  max_parallel_requests?: number | null;
  /** When any rate limit of the entity last changed (ISO 8601; `rateChangeStamp`). Not an API field. */
  rate_changed_at?: string | null;
}

/** Per-model limits: model name -> limit. Stored as JSON text (lib/store/codec), read as own keys only. */
export type ModelLimits = Readonly<Record<string, number>>;

export interface ModelRateLimited {
  model_rpm_limit?: ModelLimits | null;
  model_tpm_limit?: ModelLimits | null;
}

/** One subject's limits on a call. `owner` + `id` (+ `model`) address its counters in the store. */
export interface RateLimit {
  scope: RateScope;
  /** The counter's owner: the entity kind whose id `id` is. */
  owner: 'key' | 'user' | 'team' | 'team_member' | 'organization' | 'model';
  /** The stored id: the key's hash, `user@team` for a member, the model's name. */
  id: string;
  /** How messages name it: `sk-...abcd`, `u-1@t-1`. */
  label: string;
  /** For per-model limits of a key or team: the model they count. */
  model?: string | undefined;
  rpm?: number | undefined;
  tpm?: number | undefined;
  parallel?: number | undefined;
  /**
   * When the entity holding the limit last changed (ms): until the old limit can no longer be in
   * use, its counts may sit on another layout's items (`layoutsMayDiffer`).
   */
  changedAt?: number | undefined;
}

export type LimitKind = 'rpm' | 'tpm' | 'parallel';

/**
 * Hot subjects: one DynamoDB item takes about 1,000 writes a second, and a big item costs a write
 * unit per KB on every write. A limit is spread over shards, each holding its share of it (the
 * shares sum to the limit exactly, so the shards together never admit more): a window shard per
 * 30,000 requests (or 3,000,000 tokens) a minute, a parallel shard per 32 calls in flight (its
 * leases then fit in 1 KB). Below those every limit is one item, and exact to the request.
 */
export const RPM_PER_SHARD = 30_000;
export const TPM_PER_SHARD = 3_000_000;
export const LEASES_PER_SHARD = 32;
export const MAX_RATE_SHARDS = 32;

const shardsFor = (...needs: number[]): number => Math.min(MAX_RATE_SHARDS, Math.max(1, ...needs.map((n) => Math.ceil(n))));

/** What one shard holds at most (the defaults above; tests use small ones). */
export interface ShardSizes {
  rpm: number;
  tpm: number;
  leases: number;
}
export const SHARD_SIZES: ShardSizes = { rpm: RPM_PER_SHARD, tpm: TPM_PER_SHARD, leases: LEASES_PER_SHARD };

/** How many items a limit's minute window is spread over. */
export const windowShards = (l: Pick<RateLimit, 'rpm' | 'tpm'>, sizes: ShardSizes = SHARD_SIZES): number =>
  shardsFor((l.rpm ?? 0) / sizes.rpm, (l.tpm ?? 0) / sizes.tpm);

/** How many items a limit's parallel leases are spread over. */
export const parallelShards = (l: Pick<RateLimit, 'parallel'>, sizes: ShardSizes = SHARD_SIZES): number =>
  shardsFor((l.parallel ?? 0) / sizes.leases);

/** Shard k's share of `total` over n shards: the shares sum to `total` exactly. */
export const shareOf = (total: number, n: number, k: number): number => Math.floor(total / n) + (k < total % n ? 1 : 0);

/**
 * Which set of items a limit's minute window is counted on: '' for one item (its address never
 * changes, and one item is exact whatever the limit), else the shard count and the limits the
 * shards hold shares of. A limit changed so that its shards or their shares change counts on a
 * fresh set of items, whose shares then start from what the other sets counted (`shareAfter`):
 * the old shards' counts would otherwise be ignored (fewer shards) or exceed the new shares
 * (more shards, other shares) and leave the new limit admitted again on top of them.
 */
export function windowLayout(l: Pick<RateLimit, 'rpm' | 'tpm'>, sizes: ShardSizes = SHARD_SIZES): string {
  const n = windowShards(l, sizes);
  return n === 1 ? '' : `${n}.${l.rpm ?? ''}.${l.tpm ?? ''}`;
}

/** As `windowLayout`, for a limit's parallel leases. */
export function parallelLayout(l: Pick<RateLimit, 'parallel'>, sizes: ShardSizes = SHARD_SIZES): string {
  const n = parallelShards(l, sizes);
  return n === 1 ? '' : `${n}.${l.parallel ?? ''}`;
}

/**
 * Shard k's share of what is left of `total` once `carried` (what other layouts counted) is
 * taken off: the shares sum to the rest exactly, and to nothing when the others reached `total`.
 */
export const shareAfter = (total: number, carried: number, n: number, k: number): number => shareOf(Math.max(0, total - carried), n, k);

/**
 * Whether another layout may hold counts a limit must see at `since` (a window's start, or now
 * for leases): an instance may use a limit for `cacheTtlMs` after it changed (its entity cache),
 * and a call it admitted runs for up to `callMs`, settling its tokens or holding its lease on the
 * old layout meanwhile. `CHANGE_MARGIN_MS` more covers clocks apart and a write still on its way.
 * A limit whose entity did not change that recently reads nothing more.
 */
export const layoutsMayDiffer = (l: Pick<RateLimit, 'changedAt'>, since: number, cacheTtlMs: number, callMs: number): boolean =>
  l.changedAt !== undefined && l.changedAt + cacheTtlMs + callMs + CHANGE_MARGIN_MS >= since;

/** How far the admin's clock and an instance's may differ, and a write may take to land. */
export const CHANGE_MARGIN_MS = 5_000;

/** When an entity's rate limits last changed, as the rate limits carry it (`rate_changed_at`). */
export function changedAtOf(r: { rate_changed_at?: string | null | undefined } | undefined): number | undefined {
  const t = r?.rate_changed_at ? Date.parse(r.rate_changed_at) : Number.NaN;
  return Number.isFinite(t) ? t : undefined;
}

/** Every field that holds a rate limit, on any entity (a registry model's are `rpm` and `tpm`). */
export const RATE_FIELDS = ['rpm_limit', 'tpm_limit', 'max_parallel_requests', 'model_rpm_limit', 'model_tpm_limit', 'rpm', 'tpm'] as const;

/** One limit's value as compared: none (null, absent) alike, a per-model map by its own entries. */
const limitValue = (v: unknown): string =>
  v === null || v === undefined
    ? ''
    : typeof v === 'object'
      ? JSON.stringify(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : JSON.stringify(v);

/**
 * What a write stores besides `set` when it changes a rate limit: `rate_changed_at`, the moment,
 * which tells the instances that see the new limit to look for counts on the old one's layout
 * (`layoutsMayDiffer`). A write that changes no limit adds nothing, so its callers read nothing more.
 */
export function rateChangeStamp(current: object | undefined, set: object, now: Date): { rate_changed_at?: string } {
  const was = (current ?? {}) as Record<string, unknown>;
  const next = set as Record<string, unknown>;
  const changed = RATE_FIELDS.some((f) => Object.hasOwn(next, f) && next[f] !== undefined && limitValue(was[f]) !== limitValue(next[f]));
  return changed ? { rate_changed_at: now.toISOString() } : {};
}

/**
 * Tokens counted outside an admission (a call billed after it ended) over a limit's window shards:
 * over the shards that admit (a share of the tpm, and of the rpm when there is one), by their tpm
 * shares, so that every admitting shard sees its part of them.
 */
export function tokenSpread(
  l: Pick<RateLimit, 'rpm' | 'tpm'>,
  tokens: number,
  sizes: ShardSizes = SHARD_SIZES,
): { shard: number; tokens: number }[] {
  if (l.tpm === undefined || tokens <= 0) return [];
  const tpm = l.tpm;
  const n = windowShards(l, sizes);
  const admitting = Array.from({ length: n }, (_, shard) => ({ shard, share: shareOf(tpm, n, shard) })).filter(
    ({ shard, share }) => share > 0 && (l.rpm === undefined || shareOf(l.rpm, n, shard) > 0),
  );
  if (admitting.length === 0) return [];
  const total = admitting.reduce((sum, a) => sum + a.share, 0);
  const out = admitting.map((a) => ({ shard: a.shard, tokens: Math.floor((tokens * a.share) / total) }));
  const rest = tokens - out.reduce((sum, o) => sum + o.tokens, 0);
  for (let i = 0; i < rest; i++) (out[i % out.length] as { tokens: number }).tokens++;
  return out.filter((o) => o.tokens > 0);
}

/** The order shards are tried in: every one, from a random start. */
export function shardOrder(n: number, random: () => number = Math.random): number[] {
  const start = Math.min(n - 1, Math.floor(random() * n));
  return Array.from({ length: n }, (_, i) => (start + i) % n);
}

export const MINUTE_MS = 60_000;

/** The fixed UTC minute a moment falls in, and when it ends. */
export const minuteOf = (at: number): { id: number; endsAt: number } => {
  const id = Math.floor(at / MINUTE_MS);
  return { id, endsAt: (id + 1) * MINUTE_MS };
};

/** A limit as the checks use it: a non-negative whole number, else none. */
const cap = (v: unknown): number | undefined => (typeof v === 'number' && Number.isInteger(v) && v >= 0 ? v : undefined);

/** A per-model limit, by the model's own name only (never an inherited property). */
export function modelLimit(limits: ModelLimits | null | undefined, model: string): number | undefined {
  if (!limits || typeof limits !== 'object' || !Object.hasOwn(limits, model)) return undefined;
  return cap(limits[model]);
}

/**
 * A model's per-model limit under any of the names it answers to (its public name, its aliases):
 * one model, whichever name a call uses; two entries for one model, the tighter.
 */
export function modelLimitByNames(limits: ModelLimits | null | undefined, names: readonly string[]): number | undefined {
  let out: number | undefined;
  for (const name of names) {
    const v = modelLimit(limits, name);
    if (v !== undefined && (out === undefined || v < out)) out = v;
  }
  return out;
}

const hasAny = (l: RateLimit): boolean => l.rpm !== undefined || l.tpm !== undefined || l.parallel !== undefined;

/** When an entity's rate limits last changed (ISO 8601; lib/admin stamps it, `rateChangeStamp`). */
interface Stamped {
  rate_changed_at?: string | null | undefined;
}

function entityLimit(
  scope: RateScope & RateLimit['owner'],
  id: string,
  label: string,
  r: (RateLimited & Stamped) | undefined,
): RateLimit | undefined {
  if (!r) return undefined;
  const l: RateLimit = {
    scope,
    owner: scope,
    id,
    label,
    rpm: cap(r.rpm_limit),
    tpm: cap(r.tpm_limit),
    parallel: cap(r.max_parallel_requests),
    changedAt: changedAtOf(r),
  };
  return hasAny(l) ? l : undefined;
}

function perModel(
  scope: 'key_model' | 'team_model',
  owner: 'key' | 'team',
  id: string,
  label: string,
  r: (ModelRateLimited & Stamped) | undefined,
  model: ModelRates,
): RateLimit | undefined {
  if (!r) return undefined;
  const names = [model.model_name, ...(model.resolvedAliases ?? [])];
  const l: RateLimit = {
    scope,
    owner,
    id,
    label,
    // Counted under the public name: one counter per model, whichever name the call used.
    model: model.model_name,
    rpm: modelLimitByNames(r.model_rpm_limit, names),
    tpm: modelLimitByNames(r.model_tpm_limit, names),
    changedAt: changedAtOf(r),
  };
  return hasAny(l) ? l : undefined;
}

/** The registry model's own limits (the upstream's, shared by every caller). */
export interface ModelRates {
  model_name: string;
  /**
   * The aliases that resolve to this model in the registry (lib/checks/models aliasesOf; not the
   * record's own `aliases`, some of which the registry may ignore): a per-model limit set under
   * one of them limits the model as under its public name.
   */
  resolvedAliases?: readonly string[] | undefined;
  rpm?: number | null;
  tpm?: number | null;
  rate_changed_at?: string | null | undefined;
}

/**
 * Every rate limit that governs a call of `caller` to `model`, in check order: key, user, team,
 * member, organization, the key's and team's per-model limits, the registry model. Empty for a
 * caller with no limit at all: such a call makes no rate-limit read or write.
 */
export function rateLimitsOf(caller: Caller, model: ModelRates): RateLimit[] {
  const { key, user, team, member, org } = caller.state;
  const name = model.model_name;
  const memberOfTeam = member && team && member.team_id === team.team_id ? member : undefined;
  const out = [
    key && entityLimit('key', key.rate_id ?? key.token, key.key_name, key),
    user && entityLimit('user', user.user_id, user.user_id, user),
    team && entityLimit('team', team.team_id, team.team_id, team),
    memberOfTeam &&
      entityLimit(
        'team_member',
        // Each part encoded: ids may hold `@` (emails), and two memberships must never share counters.
        `${encodeURIComponent(memberOfTeam.user_id)}@${encodeURIComponent(memberOfTeam.team_id)}`,
        `${memberOfTeam.user_id}@${memberOfTeam.team_id}`,
        memberOfTeam,
      ),
    org && entityLimit('organization', org.organization_id, org.organization_id, org),
    key && perModel('key_model', 'key', key.rate_id ?? key.token, key.key_name, key, model),
    team && perModel('team_model', 'team', team.team_id, team.team_id, team, model),
  ];
  const registry: RateLimit = {
    scope: 'model',
    owner: 'model',
    id: name,
    label: name,
    rpm: cap(model.rpm),
    tpm: cap(model.tpm),
    changedAt: changedAtOf(model),
  };
  if (hasAny(registry)) out.push(registry);
  return out.filter((l): l is RateLimit => l !== undefined);
}

/** The counts a limit's counters held after a call was admitted (this call included). */
export interface RateCounts {
  requests: number;
  tokens: number;
}

/** A limit the call exceeded, and what it found. */
export interface RateDenial {
  limit: RateLimit;
  kind: LimitKind;
  /** The limit's value for `kind`. */
  value: number;
  /** When to retry: the window's end (rpm, tpm), or shortly (parallel). */
  retryAt: number;
}

/** Of the limits a call exceeded, the tightest (lowest value); ties go to check order. */
export function tightest(denials: readonly RateDenial[]): RateDenial | undefined {
  let best: RateDenial | undefined;
  for (const d of denials) if (!best || d.value < best.value) best = d;
  return best;
}

/** How long a caller refused for parallel requests is told to wait before retrying. */
export const PARALLEL_RETRY_MS = 1_000;

const CODE_SCOPE: Readonly<Record<RateScope, string>> = {
  key: 'key',
  user: 'user',
  team: 'team',
  team_member: 'team_member',
  organization: 'organization',
  model: 'model',
  key_model: 'key_model',
  team_model: 'team_model',
};

/** The denial's code, as the error contract names it: `key_rpm_exceeded`, `max_parallel_requests_exceeded`. */
export function denialCode(d: Pick<RateDenial, 'limit' | 'kind'>): RateLimitDenialCode {
  if (d.kind === 'parallel') return 'max_parallel_requests_exceeded';
  return `${CODE_SCOPE[d.limit.scope] as RateScope}_${d.kind}_exceeded`;
}

export type RateLimitDenialCode = `${RateScope}_${'rpm' | 'tpm'}_exceeded` | 'max_parallel_requests_exceeded';

/** The message of a denial: names the entity, the limit and its value. */
export function denialMessage(d: RateDenial): string {
  const who = `${rateScopeLabel[d.limit.scope]} \`${d.limit.label}\``;
  const onModel = d.limit.model !== undefined ? ` for model \`${d.limit.model}\`` : '';
  switch (d.kind) {
    case 'rpm':
      return `${who} reached its limit of ${d.value} requests per minute${onModel}`;
    case 'tpm':
      return `${who} reached its limit of ${d.value} tokens per minute${onModel}`;
    case 'parallel':
      return `${who} has ${d.value} requests in flight, its max_parallel_requests`;
  }
}

/** OpenAI's duration format for reset headers: `1s`, `6m0s`, `20ms`. */
export function formatReset(ms: number): string {
  const clamped = Math.max(0, Math.ceil(ms));
  if (clamped < 1000) return `${clamped}ms`;
  const s = Math.ceil(clamped / 1000);
  return s < 60 ? `${s}s` : `${Math.floor(s / 60)}m${s % 60}s`;
}

/** What the answer's `x-ratelimit-*` headers report: the tightest remaining of each kind. */
export interface RateHeaderInput {
  limit: RateLimit;
  counts: RateCounts;
}

/**
 * OpenAI's rate-limit headers for an admitted call: for requests and for tokens, the limit with
 * the least remaining. No header for a kind no limit counts.
 */
export function rateHeaders(admitted: readonly RateHeaderInput[], at: number): Record<string, string> {
  const resetIn = formatReset(minuteOf(at).endsAt - at);
  const out: Record<string, string> = {};
  const pick = (kind: 'rpm' | 'tpm', used: (c: RateCounts) => number) => {
    let best: { limit: number; remaining: number } | undefined;
    for (const a of admitted) {
      const value = a.limit[kind];
      if (value === undefined) continue;
      const remaining = Math.max(0, value - used(a.counts));
      if (!best || remaining < best.remaining) best = { limit: value, remaining };
    }
    return best;
  };
  const requests = pick('rpm', (c) => c.requests);
  if (requests) {
    out['x-ratelimit-limit-requests'] = String(requests.limit);
    out['x-ratelimit-remaining-requests'] = String(requests.remaining);
    out['x-ratelimit-reset-requests'] = resetIn;
  }
  const tokens = pick('tpm', (c) => c.tokens);
  if (tokens) {
    out['x-ratelimit-limit-tokens'] = String(tokens.limit);
    out['x-ratelimit-remaining-tokens'] = String(tokens.remaining);
    out['x-ratelimit-reset-tokens'] = resetIn;
  }
  return out;
}

/**
 * The headers of a refusal, from every limit that refused the call: `retry-after` is the latest of
 * their waits (the call is admitted only once every one of them would admit it: a parallel slot
 * frees within a second, a full window only when its minute ends), and OpenAI's headers report,
 * for each window kind exceeded, its tightest limit with nothing remaining.
 */
export function denialHeaders(denials: readonly RateDenial[], at: number): Record<string, string> {
  const waitMs = Math.max(0, ...denials.map((d) => d.retryAt - at));
  const out: Record<string, string> = {
    'retry-after': String(Math.max(1, Math.ceil(waitMs / 1000))),
    'retry-after-ms': String(Math.max(1, Math.ceil(waitMs))),
  };
  for (const kind of ['rpm', 'tpm'] as const) {
    const d = tightest(denials.filter((x) => x.kind === kind));
    if (!d) continue;
    const noun = kind === 'rpm' ? 'requests' : 'tokens';
    out[`x-ratelimit-limit-${noun}`] = String(d.value);
    out[`x-ratelimit-remaining-${noun}`] = '0';
    out[`x-ratelimit-reset-${noun}`] = formatReset(Math.max(0, d.retryAt - at));
  }
  return out;
}
