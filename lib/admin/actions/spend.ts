/**
 * Spend you can see, in LiteLLM's paths and shapes (docs/litellm-compatibility.md notes the
 * differences): `/spend/logs` (one record per settled request), `/global/spend`,
 * `/global/spend/report`, `/spend/tags` and `/user/daily/activity` (from the daily rollups, so a
 * month reads one partition a day, not every request).
 *
 * Who sees what, as on the info routes: a proxy admin everything; a team's admin that team's
 * records; an internal user their own (their keys'); a key its own. The records and rollups are
 * built off the request path from the table's stream (lib/spend/stream.ts): a request shows up
 * here a moment (about a second) after its settlement.
 */
import { z } from 'zod';
import { spendLogStore } from '../../app/spend.js';
import { hashKey } from '../../auth/keys.js';
import { config } from '../../config.js';
import { dollarsToNanos, NANOS_PER_DOLLAR } from '../../domain/cost.js';
import { daysBetween, isCalendarDay, type ReportGroup } from '../../domain/spend-log.js';
import { ForbiddenError, InvalidRequestError } from '../../errors.js';
import type { LogQuery, RollupItem } from '../../store/spend-logs.js';
import { type Actions, action } from '../http/handler.js';
import { isTeamAdmin } from '../membership.js';
import { find } from '../persistence.js';
import { type Actor, isProxyAdmin, requireProxyAdmin } from '../rules/actor.js';
import { flag, id, limit } from '../schema/fields.js';

const date = z.string().refine(isCalendarDay, 'must be a day of the calendar like 2026-12-05');
/** The longest range a query reads (one rollup or log partition per day). */
const MAX_DAYS = 366;

function range(start: string | undefined, end: string | undefined, now: Date, defaultDays = 30): string[] {
  const to = end ?? now.toISOString().slice(0, 10);
  const from = start ?? new Date(Date.parse(`${to}T00:00:00Z`) - (defaultDays - 1) * 86_400_000).toISOString().slice(0, 10);
  const days = daysBetween(from, to, MAX_DAYS);
  if (!days)
    throw new InvalidRequestError(
      `\`start_date\` must not be after \`end_date\`, and the range at most ${MAX_DAYS} days`,
      'invalid_field',
      'start_date',
    );
  return days;
}

/** The plaintext key or its hash, as the key's hash. */
const keyHashOf = (k: string): string => (/^[0-9a-f]{64}$/.test(k) ? k : hashKey(k));

/**
 * Which partition a caller's `/spend/logs` query reads, and the filters on it; throws what they
 * may not see; null when the answer is empty by permission (someone else's key).
 */
async function logScope(actor: Actor, q: LogsInput): Promise<Pick<LogQuery, 'scope' | 'id' | 'where'> | null> {
  const admin = isProxyAdmin(actor);
  const where: LogQuery['where'] = {};
  const hash = q.api_key ? keyHashOf(q.api_key) : undefined;
  if (q.team_id) {
    if (!admin && !(await isTeamAdmin(actor, q.team_id)))
      throw new ForbiddenError(`only a proxy admin or an admin of team \`${q.team_id}\` may read its spend logs`);
    return {
      scope: 'team',
      id: q.team_id,
      where: {
        ...(hash ? { api_key: hash } : {}),
        ...(q.user_id ? { user: q.user_id } : {}),
        ...(q.end_user ? { end_user: q.end_user } : {}),
      },
    };
  }
  if (hash) {
    const filters = { ...(q.user_id ? { user: q.user_id } : {}), ...(q.end_user ? { end_user: q.end_user } : {}) };
    if (admin || hash === actor.keyHash) return { scope: 'key', id: hash, where: filters };
    // A key's records are of whoever held it and of the teams it was in: one that was moved to
    // this team or this user shows the admin the team's records only, the user their own, as
    // `team_id` and `user_id` would (found by review: the key's earlier team's and user's showed).
    const key = await find('key', hash);
    if (key?.team_id && (await isTeamAdmin(actor, key.team_id)))
      return { scope: 'key', id: hash, where: { ...filters, team_id: key.team_id } };
    if (key && actor.userId && key.user_id === actor.userId && (!q.user_id || q.user_id === actor.userId))
      return { scope: 'key', id: hash, where: { ...filters, user: actor.userId } };
    // Someone else's key reads as no key at all (as /key/info answers it).
    return null;
  }
  if (q.user_id) {
    if (!admin && q.user_id !== actor.userId)
      throw new ForbiddenError(`only a proxy admin or user \`${q.user_id}\` may read their spend logs`);
    return { scope: 'user', id: q.user_id, where: q.end_user ? { end_user: q.end_user } : {} };
  }
  if (admin) return q.end_user ? { scope: 'end_user', id: q.end_user, where } : { scope: 'all', where };
  // No filter: the caller's own records.
  if (actor.principal === 'virtual_key' && actor.keyHash)
    return { scope: 'key', id: actor.keyHash, where: q.end_user ? { end_user: q.end_user } : {} };
  if (actor.userId) return { scope: 'user', id: actor.userId, where: q.end_user ? { end_user: q.end_user } : {} };
  throw new ForbiddenError('name a `team_id` you administer, or sign in as a user or a key, to read spend logs');
}

const logsInput = z
  .object({
    api_key: z.string().min(1).max(512).optional(),
    user_id: id.optional(),
    team_id: id.optional(),
    end_user: id.optional(),
    request_id: z.string().min(1).max(300).optional(),
    start_date: date.optional(),
    end_date: date.optional(),
    cursor: z.string().max(4096).optional(),
    limit: limit.optional(),
    /** LiteLLM's: `false` lists the logs, as always here; `true` (its per-day sums) is the reports'. */
    summarize: flag.optional(),
  })
  .strict();
type LogsInput = z.output<typeof logsInput>;

const reportInput = z
  .object({
    start_date: date.optional(),
    end_date: date.optional(),
    group_by: z.enum(['team', 'customer', 'api_key', 'user', 'model']).optional(),
  })
  .strict();

/** LiteLLM's report row names per group. */
const GROUP_FIELD: Record<Exclude<ReportGroup, 'organization' | 'tag'>, string> = {
  team: 'team_name',
  customer: 'customer',
  api_key: 'api_key',
  user: 'user_id',
  model: 'model',
};

/** Rows summed; `spend` in nano-dollars (each row's is an exact decimal: added as such, not as binary fractions). */
const sum = (rows: readonly RollupItem[]) =>
  rows.reduce(
    (t, r) => ({
      spend: t.spend + dollarsToNanos(r.spend),
      prompt_tokens: t.prompt_tokens + r.prompt_tokens,
      completion_tokens: t.completion_tokens + r.completion_tokens,
      requests: t.requests + r.requests,
      failed: t.failed + r.failed_requests,
    }),
    { spend: 0, prompt_tokens: 0, completion_tokens: 0, requests: 0, failed: 0 },
  );

/** Rows grouped by a key, in first-seen order. */
function groupBy<T>(rows: readonly T[], key: (r: T) => string): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const r of rows) {
    const k = key(r);
    const list = out.get(k);
    if (list) list.push(r);
    else out.set(k, [r]);
  }
  return out;
}

/** The id of a report's row of requests with no id in its group (shown as null: no real id is one). */
const UNASSIGNED = '\u0000unassigned';

/**
 * The requests a group's rows leave out, per day and model: those with no id in the group (a
 * personal key's call has no team, a JWT's no api_key, most no customer). Every request has a
 * model row, so they are the model rows less the group's rows, in exact nano-dollars. LiteLLM
 * reports them as a row of their own (`Unassigned Team`, a null customer); without it a day's
 * report summed to less than the day's spend (found by review).
 */
function unassignedRows(grouped: readonly RollupItem[], byModel: readonly RollupItem[]): RollupItem[] {
  const assigned = new Map<string, RollupItem[]>();
  for (const r of grouped) {
    const at = JSON.stringify([r.day, r.model]);
    const list = assigned.get(at);
    if (list) list.push(r);
    else assigned.set(at, [r]);
  }
  return byModel.flatMap((m) => {
    const total = sum([m]);
    const taken = sum(assigned.get(JSON.stringify([m.day, m.model])) ?? []);
    const left = {
      spend: total.spend - taken.spend,
      prompt_tokens: total.prompt_tokens - taken.prompt_tokens,
      completion_tokens: total.completion_tokens - taken.completion_tokens,
      requests: total.requests - taken.requests,
      failed: total.failed - taken.failed,
    };
    if (left.requests <= 0 && left.spend <= 0) return [];
    return [
      {
        day: m.day,
        group: m.group,
        id: UNASSIGNED,
        model: m.model,
        spend: dollars(left.spend),
        prompt_tokens: left.prompt_tokens,
        completion_tokens: left.completion_tokens,
        requests: left.requests,
        failed_requests: left.failed,
      },
    ];
  });
}

/** Money as reports show it: nano-dollars (a sum) as dollars. */
const dollars = (nanos: number): number => nanos / NANOS_PER_DOLLAR;

export const spendActions: Actions = {
  logs: action(logsInput, async (q, { actor, now }) => {
    if (q.summarize)
      throw new InvalidRequestError(
        '`summarize=true` (spend per day) is not served by /spend/logs: read /global/spend/report or /user/daily/activity; `summarize=false` lists the logs',
        'invalid_field',
        'summarize',
      );
    const store = spendLogStore();
    if (q.request_id) {
      const log = await store.byRequest(q.request_id);
      const visible =
        log &&
        (isProxyAdmin(actor) ||
          log.api_key === actor.keyHash ||
          (actor.userId && log.user === actor.userId) ||
          (log.team_id && (await isTeamAdmin(actor, log.team_id))));
      return { data: visible ? [log] : [], next_cursor: null };
    }
    const scope = await logScope(actor, q);
    if (!scope) return { data: [], next_cursor: null };
    const days = range(q.start_date, q.end_date, now);
    return store.list({
      ...scope,
      ...(scope.scope === 'all' ? { days: [...days].reverse() } : { from: days[0], to: days.at(-1) }),
      cursor: q.cursor,
      limit: q.limit ?? 100,
    });
  }),

  global_spend: action(z.object({}).strict(), async (_q, { actor, now }) => {
    requireProxyAdmin(actor, 'read the proxy-wide spend');
    const c = config();
    const days = range(undefined, undefined, now, 30);
    const rows = await spendLogStore().rollups(days, { group: 'model' });
    return {
      spend: dollars(sum(rows).spend),
      max_budget: c.maxBudget ?? null,
      budget_duration: c.budgetDuration ?? null,
      period: { start_date: days[0], end_date: days.at(-1) },
    };
  }),

  global_report: action(reportInput, async (q, { actor, now }) => {
    requireProxyAdmin(actor, 'read spend reports');
    const group: Exclude<ReportGroup, 'organization' | 'tag'> = q.group_by ?? 'team';
    const days = range(q.start_date, q.end_date, now);
    const store = spendLogStore();
    const [grouped, byModel] = await Promise.all([
      store.rollups(days, { group }),
      group === 'model' ? undefined : store.rollups(days, { group: 'model' }),
    ]);
    const rows = byModel ? [...grouped, ...unassignedRows(grouped, byModel)].sort((a, b) => a.day.localeCompare(b.day)) : grouped;
    const field = GROUP_FIELD[group];
    const listName =
      group === 'team'
        ? 'teams'
        : group === 'customer'
          ? 'customers'
          : group === 'api_key'
            ? 'api_keys'
            : group === 'user'
              ? 'users'
              : 'models';
    return [...groupBy(rows, (r) => r.day)].map(([day, dayRows]) => ({
      group_by_day: day,
      [listName]: [...groupBy(dayRows, (r) => r.id)].map(([gid, g]) => ({
        [field]: gid === UNASSIGNED ? null : gid,
        total_spend: dollars(sum(g).spend),
        metadata: g.map((r) => ({
          model: r.model,
          spend: r.spend,
          total_tokens: r.prompt_tokens + r.completion_tokens,
          requests: r.requests,
        })),
      })),
    }));
  }),

  tags: action(
    z.object({ start_date: date.optional(), end_date: date.optional(), tags: z.string().max(4096).optional() }).strict(),
    async (q, { actor, now }) => {
      requireProxyAdmin(actor, 'read spend by tag');
      const wanted = q.tags ? new Set(q.tags.split(',').map((t) => t.trim())) : undefined;
      const rows = (await spendLogStore().rollups(range(q.start_date, q.end_date, now), { group: 'tag' })).filter(
        (r) => !wanted || wanted.has(r.id),
      );
      return [...groupBy(rows, (r) => r.id)]
        .map(([name, g]) => ({ individual_request_tag: name, log_count: sum(g).requests, total_spend: dollars(sum(g).spend) }))
        .sort((a, b) => b.total_spend - a.total_spend);
    },
  ),

  daily_activity: action(
    z
      .object({
        user_id: id.optional(),
        start_date: date.optional(),
        end_date: date.optional(),
        // LiteLLM's paging, by day: `page_size` days a page (every day asked when not given).
        page: z.coerce.number().int().min(1).optional(),
        page_size: z.coerce.number().int().min(1).max(1000).optional(),
      })
      .strict(),
    async (q, { actor, now }) => {
      const userId = q.user_id ?? actor.userId;
      if (!userId) throw new InvalidRequestError('name a `user_id`', 'missing_field', 'user_id');
      if (!isProxyAdmin(actor) && userId !== actor.userId)
        throw new ForbiddenError(`only a proxy admin or user \`${userId}\` may read their activity`);
      const days = range(q.start_date, q.end_date, now);
      const pageSize = q.page_size ?? days.length;
      const totalPages = Math.max(1, Math.ceil(days.length / pageSize));
      // Past the last page: no days and has_more false, as LiteLLM answers (a client pages until then).
      const page = q.page ?? 1;
      const pageDays = days.slice((page - 1) * pageSize, page * pageSize);
      const rows = await spendLogStore().rollups(days, { group: 'user', id: userId });
      const metrics = (g: readonly RollupItem[]) => {
        const t = sum(g);
        return {
          spend: dollars(t.spend),
          prompt_tokens: t.prompt_tokens,
          completion_tokens: t.completion_tokens,
          total_tokens: t.prompt_tokens + t.completion_tokens,
          api_requests: t.requests,
          successful_requests: t.requests - t.failed,
          failed_requests: t.failed,
        };
      };
      const results = pageDays.map((d) => {
        const dayRows = rows.filter((r) => r.day === d);
        return {
          date: d,
          metrics: metrics(dayRows),
          breakdown: { models: Object.fromEntries([...groupBy(dayRows, (r) => r.model)].map(([m, g]) => [m, { metrics: metrics(g) }])) },
        };
      });
      const all = metrics(rows);
      // LiteLLM's DailySpendMetadata names (and, as before, the per-day names); the totals are
      // over every day asked, the results over the page's.
      const metadata = {
        ...all,
        total_spend: all.spend,
        total_prompt_tokens: all.prompt_tokens,
        total_completion_tokens: all.completion_tokens,
        total_tokens: all.total_tokens,
        total_api_requests: all.api_requests,
        total_successful_requests: all.successful_requests,
        total_failed_requests: all.failed_requests,
        page,
        total_pages: totalPages,
        has_more: page < totalPages,
        start_date: days[0],
        end_date: days.at(-1),
      };
      return { results, metadata };
    },
  ),
};
