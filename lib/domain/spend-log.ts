/**
 * Spend logs: one record per settled request, with LiteLLM's SpendLogs field names (no prompt
 * or completion text), and the daily rollups the reports read. Pure.
 *
 * A record is written with its settlement (the settlement's own item carries it, so a
 * record and the counters it moved can never disagree) and indexed and rolled up off the request
 * path, from the table's stream (lib/spend/stream.ts).
 */
import { looksLikeSecret } from './secrets.js';

export interface SpendLog {
  request_id: string;
  /** The route called (`/v1/chat/completions`); LiteLLM's call type. */
  call_type: string;
  /** The registry model that served it. */
  model: string;
  /** The name the caller asked for (an alias, or the model itself). */
  model_group: string;
  /** The key's hash (never the key). */
  api_key: string | null;
  key_alias: string | null;
  user: string | null;
  team_id: string | null;
  organization_id: string | null;
  end_user: string | null;
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  /** Dollars. */
  spend: number;
  /** `reported` by the upstream, `counted` from the text, or `estimated`. */
  usage_source: string;
  /** Web searches billed (Anthropic's `server_tool_use.web_search_requests`, Responses `web_search_call` items); absent: none. */
  web_search_requests?: number;
  /** File search calls billed (Responses `file_search_call` items); absent: none. */
  file_search_calls?: number;
  /** Code interpreter sessions billed (containers made for the call, in 1 GB sessions); absent: none. */
  code_interpreter_sessions?: number;
  /**
   * The Responses API's image generation tool's own tokens (`tool_usage.image_gen`), charged at
   * its image model's prices: input (cached included) and output; absent: none.
   */
  image_generation_input_tokens?: number;
  image_generation_output_tokens?: number;
  /** The `service_tier` the upstream reported serving the call at; absent: it reported none. */
  service_tier?: string;
  /**
   * The tier whose prices were charged (`priority`, `flex`, `default`), when a tier was reported:
   * `default` beside a reported `priority` marks a priority call charged standard prices, the
   * model having no priority price.
   */
  service_tier_charged?: string;
  startTime: string;
  endTime: string;
  status: 'success' | 'failure';
  request_tags: string[];
}

export const MAX_TAGS = 20;
export const MAX_TAG_LENGTH = 128;

/**
 * The first tag of a list that looks like a key or token (lib/domain/secrets), if any: tags are
 * stored in every spend log and listed by /spend/tags, so such a tag is refused where it enters.
 */
export function secretTagIndex(tags: unknown): number | undefined {
  if (!Array.isArray(tags)) return undefined;
  const i = tags.findIndex((t) => typeof t === 'string' && looksLikeSecret(t));
  return i < 0 ? undefined : i;
}

/**
 * Tags as LiteLLM takes them: strings, each once, in order, bounded. Anything else is ignored,
 * and so is a tag that looks like a secret (refused where tags enter; never logged from older data).
 */
export function tagsOf(...sources: unknown[]): string[] {
  const out: string[] = [];
  for (const source of sources) {
    if (!Array.isArray(source)) continue;
    for (const t of source) {
      if (typeof t !== 'string' || t.length === 0 || t.length > MAX_TAG_LENGTH || out.includes(t) || looksLikeSecret(t)) continue;
      out.push(t);
      if (out.length >= MAX_TAGS) return out;
    }
  }
  return out;
}

/**
 * A key's alias as a log holds it: none when it looks like a secret (aliases are checked where
 * they enter, but one stored before that, a key pasted as its alias, must not reach every log).
 */
export const loggedAlias = (alias: string | null | undefined): string | null => (alias && !looksLikeSecret(alias) ? alias : null);

/** The tags a request carries: the body's `metadata.tags`, then the key's and the team's own (their metadata's `tags`). */
export function requestTags(body: unknown, keyMetadata: unknown, teamMetadata: unknown): string[] {
  const tags = (v: unknown) => (v && typeof v === 'object' && !Array.isArray(v) ? (v as { tags?: unknown }).tags : undefined);
  const bodyMeta = body && typeof body === 'object' && !Array.isArray(body) ? (body as { metadata?: unknown }).metadata : undefined;
  return tagsOf(tags(bodyMeta), tags(keyMetadata), tags(teamMetadata));
}

/** The UTC day of an ISO time: `2026-12-05`. */
export const dayOf = (iso: string): string => iso.slice(0, 10);

/** What a report can group by, with LiteLLM's names. */
export const REPORT_GROUPS = ['team', 'customer', 'api_key', 'user', 'model', 'organization', 'tag'] as const;
export type ReportGroup = (typeof REPORT_GROUPS)[number];

/** One rollup row a record adds to: a day, a group, an id in it, and the model (per-model breakdown). */
export interface RollupRow {
  group: ReportGroup;
  id: string;
  model: string;
}

/** The rows a record adds to (its spend, tokens and one request each). */
export function rollupRowsOf(log: SpendLog): RollupRow[] {
  const rows: RollupRow[] = [{ group: 'model', id: log.model, model: log.model }];
  const add = (group: ReportGroup, id: string | null) => {
    if (id) rows.push({ group, id, model: log.model });
  };
  add('api_key', log.api_key);
  add('user', log.user);
  add('team', log.team_id);
  add('organization', log.organization_id);
  add('customer', log.end_user);
  for (const t of log.request_tags) add('tag', t);
  return rows;
}

/**
 * Whether a text is a day of the calendar, `YYYY-MM-DD`: not one that rolls over (`2026-02-30`
 * parses as March 2nd).
 */
export function isCalendarDay(text: string): boolean {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(text)) return false;
  const t = Date.parse(`${text}T00:00:00Z`);
  return !Number.isNaN(t) && new Date(t).toISOString().slice(0, 10) === text;
}

/** The days from `start` to `end` (inclusive, `YYYY-MM-DD`), at most `max`; undefined when the range is wrong. */
export function daysBetween(start: string, end: string, max = 366): string[] | undefined {
  if (!isCalendarDay(start) || !isCalendarDay(end)) return undefined;
  const from = Date.parse(`${start}T00:00:00Z`);
  const to = Date.parse(`${end}T00:00:00Z`);
  if (to < from) return undefined;
  const n = Math.round((to - from) / 86_400_000) + 1;
  if (n > max) return undefined;
  return Array.from({ length: n }, (_, i) => new Date(from + i * 86_400_000).toISOString().slice(0, 10));
}

/** A log as stored: no null or empty field (the settlement item stays small: its write units are per KB). */
export function packLog(log: SpendLog): string {
  return JSON.stringify(log, (_k, v) => (v === null || (Array.isArray(v) && v.length === 0) ? undefined : v));
}

/**
 * A stored log read back, every field present. Throws when the text is no log: not a JSON
 * object, or without the request id and start time every log is indexed and rolled up by.
 */
export function unpackLog(text: string): SpendLog {
  const parsed: unknown = JSON.parse(text);
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('spend log: not an object');
  const l = parsed as Partial<SpendLog>;
  if (typeof l.request_id !== 'string' || l.request_id.length === 0) throw new Error('spend log: no request_id');
  if (typeof l.startTime !== 'string' || Number.isNaN(Date.parse(l.startTime))) throw new Error('spend log: no startTime');
  return {
    request_id: l.request_id,
    call_type: l.call_type ?? '',
    model: l.model ?? '',
    model_group: l.model_group ?? l.model ?? '',
    api_key: l.api_key ?? null,
    key_alias: l.key_alias ?? null,
    user: l.user ?? null,
    team_id: l.team_id ?? null,
    organization_id: l.organization_id ?? null,
    end_user: l.end_user ?? null,
    prompt_tokens: l.prompt_tokens ?? 0,
    completion_tokens: l.completion_tokens ?? 0,
    total_tokens: l.total_tokens ?? 0,
    spend: l.spend ?? 0,
    usage_source: l.usage_source ?? 'reported',
    ...(typeof l.web_search_requests === 'number' ? { web_search_requests: l.web_search_requests } : {}),
    ...(typeof l.file_search_calls === 'number' ? { file_search_calls: l.file_search_calls } : {}),
    ...(typeof l.code_interpreter_sessions === 'number' ? { code_interpreter_sessions: l.code_interpreter_sessions } : {}),
    ...(typeof l.image_generation_input_tokens === 'number' ? { image_generation_input_tokens: l.image_generation_input_tokens } : {}),
    ...(typeof l.image_generation_output_tokens === 'number' ? { image_generation_output_tokens: l.image_generation_output_tokens } : {}),
    ...(typeof l.service_tier === 'string' ? { service_tier: l.service_tier } : {}),
    ...(typeof l.service_tier_charged === 'string' ? { service_tier_charged: l.service_tier_charged } : {}),
    startTime: l.startTime,
    endTime: l.endTime ?? l.startTime ?? '',
    status: l.status ?? 'success',
    request_tags: l.request_tags ?? [],
  };
}
