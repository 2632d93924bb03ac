/**
 * Rate-limit counters in the table (lib/domain/rate-limits has the semantics).
 *
 * - A minute window per subject: `RATE#<owner>#<id>` / `MIN#<minute>#<shard>` (a key's or team's
 *   per-model limits: `MIN#<minute>#<shard>#<model>`; a hot limit is spread over shards, each
 *   holding its share) with `requests` and `tokens`, expiring with `ttl`
 *   a few minutes after the window. Admission is one conditional UpdateItem per limited subject:
 *   it adds the request (and a strict caller's token estimate) only if the window still has room,
 *   so concurrent instances never admit more than the limit. ALL_NEW gives the counts the
 *   answer's headers report; on a refusal ALL_OLD says which limit was full.
 * - Parallel requests per subject: `RATE#<owner>#<id>` / `PARALLEL#<shard>`, a count `inflight`
 *   and one lease attribute per call in flight (`lease#<hash>`) holding when it expires. Admission adds a lease under the
 *   condition that fewer than the limit are in flight; the call's end removes it. A lease left by
 *   a dead instance is removed by the next admission that finds the limit full (the refusal
 *   returns the item: expired leases are cleared, and the admission tried again).
 *
 * - A hot limit's items are named by its layout (lib/domain/rate-limits windowLayout): a limit
 *   changed so that its shards or their shares change counts on fresh items. While another layout
 *   may hold counts of the same minute (or live leases), that is within the cache TTL and the
 *   longest call after the entity's `rate_changed_at`, an admission first reads them (one Query)
 *   and the new layout's shares are of what they leave. A limit that did not change reads nothing.
 *
 * The updates of one call run concurrently (one round trip). If any limit refuses, the counts
 * already added are taken back: a refused call is not counted, and concurrent callers never see
 * more admitted than a limit; they may, for that instant, see a count one too high and be refused
 * (never admitted) by it. A caller with no limit makes no read and no write here.
 */

import { createHash, randomUUID } from 'node:crypto';
import { type DynamoDBDocumentClient, QueryCommand, UpdateCommand, type UpdateCommandInput } from '@aws-sdk/lib-dynamodb';
import {
  type LimitKind,
  layoutsMayDiffer,
  MINUTE_MS,
  minuteOf,
  PARALLEL_RETRY_MS,
  parallelLayout,
  parallelShards,
  type RateDenial,
  type RateHeaderInput,
  type RateLimit,
  SHARD_SIZES,
  type ShardSizes,
  shardOrder,
  shareAfter,
  tokenSpread,
  windowLayout,
  windowShards,
} from '../domain/rate-limits.js';
import { StoreUnavailableError } from '../errors.js';
import { logger } from '../telemetry.js';
import { isConditionalCheckFailed, refusedItem } from './errors.js';
import type { ItemRef } from './keys.js';

const REQUESTS = 'requests';
const TOKENS = 'tokens';
const INFLIGHT = 'inflight';
const LEASE_PREFIX = 'lease#';
const TTL = 'ttl';
/** A window's last admission, by the name it gave itself: its own retry is not counted again. */
const LAST_ADMITTED = 'last_admitted';
/** A window's counters are kept this long after it ends (for inspection), then expire. */
const WINDOW_KEEP_S = 300;

/** The key prefix of every rate-limit counter item, `RATE#<owner>#<id>` (infra grants the llm function these). */
export const RATE_PK_PREFIX = 'RATE#';
const WINDOW_PREFIX = (minute: number) => `MIN#${minute}#`;
const PARALLEL_PREFIX = 'PARALLEL#';
/** A layout's part of a sort key: none for one item, so a limit of one item keeps one address. */
const layoutPart = (layout: string) => (layout === '' ? '' : `${layout}#`);

/**
 * Where a limit's counters are, in the layout its values give (lib/domain/rate-limits
 * windowLayout, parallelLayout): one item is `MIN#<minute>#0` / `PARALLEL#0`, a sharded one
 * `MIN#<minute>#<layout>#<shard>` / `PARALLEL#<layout>#<shard>`.
 */
export const rateRefs = {
  window: (l: Pick<RateLimit, 'owner' | 'id' | 'model' | 'rpm' | 'tpm'>, minute: number, shard = 0, sizes = SHARD_SIZES): ItemRef => ({
    PK: `${RATE_PK_PREFIX}${l.owner}#${l.id}`,
    SK: `${WINDOW_PREFIX(minute)}${layoutPart(windowLayout(l, sizes))}${shard}${l.model === undefined ? '' : `#${l.model}`}`,
  }),
  parallel: (l: Pick<RateLimit, 'owner' | 'id' | 'parallel'>, shard = 0, sizes = SHARD_SIZES): ItemRef => ({
    PK: `${RATE_PK_PREFIX}${l.owner}#${l.id}`,
    SK: `${PARALLEL_PREFIX}${layoutPart(parallelLayout(l, sizes))}${shard}`,
  }),
};

/**
 * The model a window item of `minute` counts (undefined: the subject's own limits), from its sort
 * key: after the minute, a sharded layout's name (it holds a `.`) and the shard, or the shard alone.
 */
function windowModel(sk: string, minute: number): string | undefined {
  const parts = sk.slice(WINDOW_PREFIX(minute).length).split('#');
  const rest = parts.slice(parts[0]?.includes('.') ? 2 : 1).join('#');
  return rest === '' ? undefined : rest;
}

/** A call's lease attribute: short (a hash of the request id), so a shard's leases fit in 1 KB. */
export const leaseName = (requestId: string): string =>
  LEASE_PREFIX + createHash('sha256').update(requestId).digest('base64url').slice(0, 12);

/** A limit and the shard that counted the call. */
export interface Counted {
  limit: RateLimit;
  shard: number;
}

export interface RateAdmission {
  /** Unique per upstream call: names its lease. */
  requestId: string;
  at: number;
  limits: readonly RateLimit[];
  /** Tokens counted at admission (a strict caller's estimate; 0 otherwise). */
  estimateTokens: number;
  /** When this call's parallel lease expires if it is never released (its instance died). */
  leaseUntil: number;
}

/** What an admitted call holds, handed back to `finish`. */
export interface RateTicket {
  requestId: string;
  minute: number;
  estimateTokens: number;
  /** The limits that count this call's tokens (their window shards get the settled tokens). */
  tokenLimits: readonly Counted[];
  /** Every window (rpm or tpm) that counted the request: a call refused after admission is taken back from them. */
  windows: readonly Counted[];
  /** The limits (and shards) that hold a lease for this call. */
  leased: readonly Counted[];
}

export type AdmissionOutcome =
  | { admitted: true; ticket: RateTicket; counts: RateHeaderInput[] }
  | { admitted: false; denials: RateDenial[] };

export interface RateLimiter {
  admit(a: RateAdmission): Promise<AdmissionOutcome>;
  /** The call is over: its tokens (settled usage) are counted and its leases released. */
  finish(ticket: RateTicket, tokens: number): Promise<void>;
  /** The call never ran (its budget refused it): its request and estimate are taken back, its leases released. */
  cancel(ticket: RateTicket): Promise<void>;
  /**
   * Tokens of a call whose usage came after it ended (a background response, a batch, billed by
   * a later read): counted now, in the current minute, by every limit of `limits` with a tpm.
   */
  countTokens(limits: readonly RateLimit[], tokens: number): Promise<void>;
}

type Step =
  | { ok: true; kind: 'window' | 'lease'; counted: Counted; counts?: RateHeaderInput; undo: () => Promise<unknown> }
  | { ok: false; denial: RateDenial };

const num = (v: unknown): number => (typeof v === 'number' ? v : Number(v ?? 0)) || 0;

/** How many drained parallel layouts an instance remembers (then forgets them all, and reads again). */
const DRAINED_KEPT = 10_000;

/** Attempts to give a parallel slot back (each after the SDK's own retries), 100 ms then 400 ms apart. */
const RELEASE_ATTEMPTS = 3;

export class DynamoRateLimiter implements RateLimiter {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
    private readonly clock: () => number = Date.now,
    private readonly sizes: ShardSizes = SHARD_SIZES,
    /** How long an instance may go on using a limit after it changed: the entity cache's TTL. */
    private readonly cacheTtlMs = 10_000,
  ) {}

  /** Parallel layouts whose older layouts were found empty after the change settled, by the change they follow. */
  private readonly drained = new Map<string, number | undefined>();

  async admit(a: RateAdmission): Promise<AdmissionOutcome> {
    const minute = minuteOf(a.at);
    const steps: Promise<Step>[] = [];
    // The longest a call admitted under an older limit may still run, settling on its layout.
    const callMs = Math.max(0, a.leaseUntil - a.at);
    for (const l of a.limits) {
      if (l.rpm !== undefined || l.tpm !== undefined) steps.push(this.countRequest(l, minute.id, a.estimateTokens, callMs));
      if (l.parallel !== undefined) steps.push(this.lease(l, a.requestId, a.leaseUntil, callMs));
    }
    const settled = await Promise.allSettled(steps);
    const failure = settled.find((s) => s.status === 'rejected');
    const denials = settled.flatMap((s) => (s.status === 'fulfilled' && !s.value.ok ? [s.value.denial] : []));
    if (failure || denials.length > 0) {
      await Promise.allSettled(settled.map((s) => (s.status === 'fulfilled' && s.value.ok ? s.value.undo() : undefined)));
      if (failure) {
        logger().error('rate limit admission failed', { error: ((failure as PromiseRejectedResult).reason as Error)?.name });
        throw new StoreUnavailableError();
      }
      return { admitted: false, denials };
    }
    const ok = settled.flatMap((s) => (s.status === 'fulfilled' && s.value.ok ? [s.value] : []));
    return {
      admitted: true,
      counts: ok.flatMap((s) => (s.counts ? [s.counts] : [])),
      ticket: {
        requestId: a.requestId,
        minute: minute.id,
        estimateTokens: a.estimateTokens,
        tokenLimits: ok.filter((s) => s.kind === 'window' && s.counted.limit.tpm !== undefined).map((s) => s.counted),
        windows: ok.filter((s) => s.kind === 'window').map((s) => s.counted),
        leased: ok.filter((s) => s.kind === 'lease').map((s) => s.counted),
      },
    };
  }

  /**
   * The call's settled tokens count in the minute the call ends: a call that outlasts its minute
   * still weighs on the window the next admissions check. A strict caller's estimate is taken back
   * from the minute it was admitted in.
   */
  async finish(ticket: RateTicket, tokens: number): Promise<void> {
    const used = Math.max(0, Math.round(tokens));
    const now = minuteOf(this.clock()).id;
    const work: Promise<unknown>[] = [...ticket.leased.map((c) => this.release(c, ticket.requestId))];
    for (const c of ticket.tokenLimits) {
      if (now === ticket.minute) {
        const delta = used - ticket.estimateTokens;
        if (delta !== 0) work.push(this.addCounts(rateRefs.window(c.limit, now, c.shard, this.sizes), 0, delta, now));
        continue;
      }
      if (ticket.estimateTokens > 0)
        work.push(this.addCounts(rateRefs.window(c.limit, ticket.minute, c.shard, this.sizes), 0, -ticket.estimateTokens, ticket.minute));
      if (used > 0) work.push(this.addCounts(rateRefs.window(c.limit, now, c.shard, this.sizes), 0, used, now));
    }
    await this.settleAll(ticket, work);
  }

  async cancel(ticket: RateTicket): Promise<void> {
    await this.settleAll(ticket, [
      ...ticket.windows.map((c) =>
        this.addCounts(
          rateRefs.window(c.limit, ticket.minute, c.shard, this.sizes),
          -1,
          c.limit.tpm === undefined ? 0 : -ticket.estimateTokens,
          ticket.minute,
        ),
      ),
      ...ticket.leased.map((c) => this.release(c, ticket.requestId)),
    ]);
  }

  async countTokens(limits: readonly RateLimit[], tokens: number): Promise<void> {
    const used = Math.max(0, Math.round(tokens));
    if (used === 0) return;
    const minute = minuteOf(this.clock()).id;
    const work = limits.flatMap((l) =>
      tokenSpread(l, used, this.sizes).map((p) => this.addCounts(rateRefs.window(l, minute, p.shard, this.sizes), 0, p.tokens, minute)),
    );
    await this.settleAll(undefined, work);
  }

  private async settleAll(ticket: RateTicket | undefined, work: Promise<unknown>[]): Promise<void> {
    const results = await Promise.allSettled(work);
    const failed = results.filter((r) => r.status === 'rejected').length;
    // Rate counters are not money: a lost token count under-counts one minute, a lost release
    // holds a slot until its lease expires. Logged, not retried forever.
    if (failed > 0) logger().warn('rate limit counters not updated', { requestId: ticket?.requestId, failed });
  }

  /**
   * Adds one request (and the estimate) to the subject's minute if its rpm and tpm leave room: on
   * one of its shards, each holding its share of the limits, tried from a random one. A limit that
   * changed lately first reads what its other layouts counted this minute: the shares are of what
   * that leaves.
   */
  private async countRequest(l: RateLimit, minute: number, estimate: number, callMs: number): Promise<Step> {
    const retryAt = (minute + 1) * MINUTE_MS;
    // Requests count at admission; tokens also when a call ends, on the layout it was admitted on.
    const carried = layoutsMayDiffer(l, minute * MINUTE_MS, this.cacheTtlMs, l.tpm === undefined ? 0 : callMs)
      ? await this.otherWindows(l, minute)
      : { requests: 0, tokens: 0 };
    const rpmLeft = l.rpm === undefined ? undefined : l.rpm - carried.requests;
    const tpmLeft = l.tpm === undefined ? undefined : l.tpm - carried.tokens;
    if (l.rpm !== undefined && (rpmLeft as number) <= 0) return { ok: false, denial: { limit: l, kind: 'rpm', value: l.rpm, retryAt } };
    if (l.tpm !== undefined && (tpmLeft as number) - Math.max(1, estimate) < 0)
      return { ok: false, denial: { limit: l, kind: 'tpm', value: l.tpm, retryAt } };
    const n = windowShards(l, this.sizes);
    // What refused the call: a shard that was written to and said no, else one skipped for having no share.
    let refusedBy: LimitKind | undefined;
    let skippedBy: LimitKind | undefined;
    for (const shard of shardOrder(n)) {
      const rpm = l.rpm === undefined ? undefined : shareAfter(l.rpm, carried.requests, n, shard);
      const tpm = l.tpm === undefined ? undefined : shareAfter(l.tpm, carried.tokens, n, shard);
      // A shard with no share of the rpm (more shards for the tpm than requests a minute) never
      // admits: its condition would pass on an empty item, so it is not written to at all.
      if (rpm !== undefined && rpm <= 0) {
        skippedBy ??= 'rpm';
        continue;
      }
      const conditions: string[] = [];
      const ref = rateRefs.window(l, minute, shard, this.sizes);
      // A strict caller's estimate only where tokens are limited: finish takes it back from those
      // only (found by review: left on an rpm-only window, it counted against a tpm added there).
      const est = l.tpm === undefined ? 0 : estimate;
      const values: Record<string, unknown> = { ':one': 1, ':est': est, ':ttl': Math.ceil(retryAt / 1000) + WINDOW_KEEP_S };
      if (rpm !== undefined) {
        conditions.push('(attribute_not_exists(#r) OR #r < :rpm)');
        values[':rpm'] = rpm;
      }
      if (tpm !== undefined) {
        // Fast callers: admitted while the minute's tokens are below the limit. Strict: while the
        // estimate still fits.
        const most = tpm - Math.max(1, estimate);
        if (most < 0) {
          // A shard that could admit, but not this estimate: a better reason than one with no rpm share.
          skippedBy = 'tpm';
          continue;
        }
        conditions.push('(attribute_not_exists(#t) OR #t <= :tmax)');
        values[':tmax'] = most;
      }
      // The admission names itself: an attempt the SDK sends again after the first committed (its
      // answer lost, a timeout) is refused by its own name, not counted twice, and reads as
      // admitted; read as a full window, it was a wrong 429 whose count stayed (found by review).
      // One name an item: when another admission landed on the item in between, the retry is
      // counted again (or refused, if that filled it), one count too many for the minute. A quiet
      // window, where one count matters most (rpm 1), is exact.
      const mark = randomUUID();
      values[':me'] = mark;
      const input: UpdateCommandInput = {
        TableName: this.tableName,
        Key: ref,
        UpdateExpression: 'ADD #r :one, #t :est SET #ttl = :ttl, #la = :me',
        ConditionExpression: `${conditions.join(' AND ')} AND (attribute_not_exists(#la) OR #la <> :me)`,
        ExpressionAttributeNames: { '#r': REQUESTS, '#t': TOKENS, '#ttl': TTL, '#la': LAST_ADMITTED },
        ExpressionAttributeValues: values,
        ReturnValues: 'ALL_NEW',
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      };
      // What the answer's headers report: exact on one shard, scaled from this one's over several.
      const admitted = (item: Record<string, unknown>): Step => ({
        ok: true,
        kind: 'window',
        counted: { limit: l, shard },
        counts: {
          limit: l,
          counts: { requests: num(item[REQUESTS]) * n + carried.requests, tokens: num(item[TOKENS]) * n + carried.tokens },
        },
        undo: () => this.addCounts(ref, -1, -est, minute),
      });
      try {
        const out = await this.client.send(new UpdateCommand(input));
        return admitted(out.Attributes ?? {});
      } catch (e) {
        if (!isConditionalCheckFailed(e)) throw e;
        const old = refusedItem(e);
        if (old[LAST_ADMITTED] === mark) return admitted(old);
        refusedBy = rpm !== undefined && num(old[REQUESTS]) >= rpm ? 'rpm' : 'tpm';
      }
    }
    const kind = refusedBy ?? skippedBy ?? 'rpm';
    return { ok: false, denial: { limit: l, kind, value: (kind === 'rpm' ? l.rpm : l.tpm) as number, retryAt } };
  }

  /**
   * Takes a parallel slot for the call on one of the subject's shards (each holding its share of
   * the limit), clearing leases of dead instances from a shard found full.
   */
  private async lease(l: RateLimit, requestId: string, until: number, callMs: number): Promise<Step> {
    const max = l.parallel as number;
    const denial: Step = { ok: false, denial: { limit: l, kind: 'parallel', value: max, retryAt: this.clock() + PARALLEL_RETRY_MS } };
    // Calls still running on another layout's leases (a limit changed lately) hold slots too.
    const drainKey = `${rateRefs.parallel(l, 0, this.sizes).SK}@${rateRefs.parallel(l, 0, this.sizes).PK}`;
    const look = layoutsMayDiffer(l, this.clock(), this.cacheTtlMs, callMs) && this.drained.get(drainKey) !== l.changedAt;
    const carried = look ? await this.otherLeases(l) : 0;
    // No instance takes a lease on the old layout any more, and none is left there: nothing can
    // appear on it again, so this instance stops reading it (until the limit changes again).
    if (look && carried === 0 && !layoutsMayDiffer(l, this.clock(), this.cacheTtlMs, 0)) {
      if (this.drained.size >= DRAINED_KEPT) this.drained.clear();
      this.drained.set(drainKey, l.changedAt);
    }
    if (max - carried <= 0) return denial;
    const n = parallelShards(l, this.sizes);
    for (const shard of shardOrder(n)) {
      const ref = rateRefs.parallel(l, shard, this.sizes);
      const share = shareAfter(max, carried, n, shard);
      // As for windows: an empty item would pass the condition of a shard with no share.
      if (share <= 0) continue;
      for (let attempt = 0; attempt < 2; attempt++) {
        try {
          await this.client.send(
            new UpdateCommand({
              TableName: this.tableName,
              Key: ref,
              UpdateExpression: 'SET #lease = :until, #ttl = :ttl ADD #n :one',
              // A retried write (its first answer lost) must not count the call twice: the lease is new.
              ConditionExpression: '(attribute_not_exists(#n) OR #n < :max) AND attribute_not_exists(#lease)',
              ExpressionAttributeNames: { '#lease': leaseName(requestId), '#n': INFLIGHT, '#ttl': TTL },
              ExpressionAttributeValues: { ':until': until, ':ttl': Math.ceil(until / 1000) + WINDOW_KEEP_S, ':one': 1, ':max': share },
              ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
            }),
          );
          const counted = { limit: l, shard };
          return { ok: true, kind: 'lease', counted, undo: () => this.release(counted, requestId) };
        } catch (e) {
          if (!isConditionalCheckFailed(e)) throw e;
          const old = refusedItem(e);
          // Our own lease is there: an earlier attempt of this very write landed.
          if (old[leaseName(requestId)] !== undefined) {
            const counted = { limit: l, shard };
            return { ok: true, kind: 'lease', counted, undo: () => this.release(counted, requestId) };
          }
          if (attempt > 0 || !(await this.clearExpired(ref, old))) break;
        }
      }
    }
    return denial;
  }

  /** Every item under a subject whose sort key starts with `prefix` (one subject: a few dozen at most). */
  private async itemsOf(pk: string, prefix: string): Promise<Record<string, unknown>[]> {
    const items: Record<string, unknown>[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const out = await this.client.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: 'PK = :pk AND begins_with(SK, :prefix)',
          ExpressionAttributeValues: { ':pk': pk, ':prefix': prefix },
          ConsistentRead: true,
          ExclusiveStartKey: start,
        }),
      );
      items.push(...((out.Items ?? []) as Record<string, unknown>[]));
      start = out.LastEvaluatedKey;
    } while (start);
    return items;
  }

  /** What the limit's other layouts (of its model) counted in `minute`. */
  private async otherWindows(l: RateLimit, minute: number): Promise<{ requests: number; tokens: number }> {
    const own = new Set(Array.from({ length: windowShards(l, this.sizes) }, (_, k) => rateRefs.window(l, minute, k, this.sizes).SK));
    const items = await this.itemsOf(rateRefs.window(l, minute, 0, this.sizes).PK, WINDOW_PREFIX(minute));
    const others = items.filter((i) => !own.has(String(i.SK)) && windowModel(String(i.SK), minute) === l.model);
    return {
      requests: others.reduce((sum, i) => sum + num(i[REQUESTS]), 0),
      tokens: others.reduce((sum, i) => sum + num(i[TOKENS]), 0),
    };
  }

  /** The live leases on the limit's other parallel layouts: calls admitted under another limit, still running. */
  private async otherLeases(l: RateLimit): Promise<number> {
    const own = new Set(Array.from({ length: parallelShards(l, this.sizes) }, (_, k) => rateRefs.parallel(l, k, this.sizes).SK));
    const items = await this.itemsOf(rateRefs.parallel(l, 0, this.sizes).PK, PARALLEL_PREFIX);
    const now = this.clock();
    return items
      .filter((i) => !own.has(String(i.SK)))
      .reduce((sum, i) => sum + Object.entries(i).filter(([name, v]) => name.startsWith(LEASE_PREFIX) && num(v) >= now).length, 0);
  }

  /** Removes the leases that expired (their calls' instances died); true when any were. */
  private async clearExpired(ref: ItemRef, item: Record<string, unknown>): Promise<boolean> {
    const now = this.clock();
    const expired = Object.entries(item).filter(([name, v]) => name.startsWith(LEASE_PREFIX) && num(v) < now);
    if (expired.length === 0) return false;
    const names: Record<string, string> = { '#n': INFLIGHT };
    const values: Record<string, unknown> = { ':gone': -expired.length };
    const conditions: string[] = [];
    expired.forEach(([name, v], i) => {
      names[`#l${i}`] = name;
      values[`:v${i}`] = v;
      conditions.push(`#l${i} = :v${i}`);
    });
    try {
      await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: ref,
          UpdateExpression: `REMOVE ${expired.map((_, i) => `#l${i}`).join(', ')} ADD #n :gone`,
          ConditionExpression: conditions.join(' AND '),
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
        }),
      );
      logger().warn('expired parallel-request leases cleared', { count: expired.length });
      return true;
    } catch (e) {
      // Another instance cleared them first: its admission took the freed slot or left it free.
      if (isConditionalCheckFailed(e)) return true;
      throw e;
    }
  }

  /**
   * Gives a parallel slot back. Tried again on a store error (a release that landed and is tried
   * again finds no lease: nothing happens), since a lost release holds the slot until its lease
   * expires, which is up to the llm function's timeout plus a minute.
   */
  private async release(c: Counted, requestId: string): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.client.send(
          new UpdateCommand({
            TableName: this.tableName,
            Key: rateRefs.parallel(c.limit, c.shard, this.sizes),
            UpdateExpression: 'REMOVE #lease ADD #n :minus',
            ConditionExpression: 'attribute_exists(#lease)',
            ExpressionAttributeNames: { '#lease': leaseName(requestId), '#n': INFLIGHT },
            ExpressionAttributeValues: { ':minus': -1 },
          }),
        );
        return;
      } catch (e) {
        // Already released, or cleared as expired: nothing to give back.
        if (isConditionalCheckFailed(e)) return;
        if (attempt >= RELEASE_ATTEMPTS) throw e;
        await new Promise((r) => setTimeout(r, 100 * 4 ** (attempt - 1)));
      }
    }
  }

  /** Moves a window's counts; the window expires like any (a late write never makes an immortal item). */
  private addCounts(ref: ItemRef, requests: number, tokens: number, minute: number): Promise<unknown> {
    return this.client.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: ref,
        UpdateExpression: 'ADD #r :r, #t :t SET #ttl = if_not_exists(#ttl, :ttl)',
        ExpressionAttributeNames: { '#r': REQUESTS, '#t': TOKENS, '#ttl': TTL },
        ExpressionAttributeValues: { ':r': requests, ':t': tokens, ':ttl': Math.ceil(((minute + 1) * MINUTE_MS) / 1000) + WINDOW_KEEP_S },
      }),
    );
  }
}
