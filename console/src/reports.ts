/**
 * Spend reports in LiteLLM's shapes, read defensively: they come from routes a deployment may
 * not serve yet (`/global/spend/report`, `/spend/logs`, `/global/spend`), and the console shows
 * "not available" for those rather than anything made up.
 *
 * `/global/spend/report` answers one entry per day: `{group_by_day, teams: [{team_name,
 * total_spend, metadata: [{model, spend, total_tokens, api_key}]}]}` (or `api_keys`,
 * `customers`, ... for the other `group_by` values).
 */

export interface ReportGroup {
  name: string;
  spend: number;
  models: { model: string; spend: number; tokens: number }[];
}

export interface ReportDay {
  day: string;
  groups: ReportGroup[];
  total: number;
}

const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : 0);
const str = (v: unknown): string | undefined => (typeof v === 'string' && v ? v : undefined);

function group(raw: Record<string, unknown>): ReportGroup {
  const name =
    str(raw.team_name) ??
    str(raw.team_alias) ??
    str(raw.team_id) ??
    str(raw.key_alias) ??
    str(raw.api_key) ??
    str(raw.customer) ??
    str(raw.end_user) ??
    str(raw.user_id) ??
    str(raw.user) ??
    str(raw.model) ??
    '(none)';
  const models = (Array.isArray(raw.metadata) ? (raw.metadata as Record<string, unknown>[]) : []).map((m) => ({
    model: str(m.model) ?? '(unknown)',
    spend: num(m.spend),
    tokens: num(m.total_tokens),
  }));
  return { name, spend: num(raw.total_spend ?? raw.total_cost ?? raw.spend), models };
}

export function parseReport(answer: unknown): ReportDay[] {
  const days = Array.isArray(answer)
    ? answer
    : Array.isArray((answer as { data?: unknown })?.data)
      ? (answer as { data: unknown[] }).data
      : [];
  return (days as Record<string, unknown>[])
    .map((d) => {
      const list = Object.entries(d).find(([k, v]) => k !== 'group_by_day' && Array.isArray(v))?.[1] as
        | Record<string, unknown>[]
        | undefined;
      const groups = (list ?? []).map(group);
      return { day: String(d.group_by_day ?? d.date ?? '').slice(0, 10), groups, total: groups.reduce((s, g) => s + g.spend, 0) };
    })
    .filter((d) => d.day)
    .sort((a, b) => a.day.localeCompare(b.day));
}

/** Spend per model over the report's days, highest first. */
export function modelTotals(days: ReportDay[]): { model: string; spend: number; tokens: number }[] {
  const by = new Map<string, { model: string; spend: number; tokens: number }>();
  for (const d of days) {
    for (const g of d.groups) {
      for (const m of g.models) {
        const t = by.get(m.model) ?? { model: m.model, spend: 0, tokens: 0 };
        t.spend += m.spend;
        t.tokens += m.tokens;
        by.set(m.model, t);
      }
    }
  }
  return [...by.values()].sort((a, b) => b.spend - a.spend);
}

/** One spend log record (LiteLLM's SpendLogs row). */
export interface SpendLog {
  request_id: string;
  startTime?: string;
  model?: string;
  api_key?: string;
  key_alias?: string | null;
  user?: string | null;
  team_id?: string | null;
  end_user?: string | null;
  total_tokens?: number;
  prompt_tokens?: number;
  completion_tokens?: number;
  spend?: number;
  status?: string;
}

export function parseLogs(answer: unknown): { rows: SpendLog[]; next: string | null } {
  if (Array.isArray(answer)) return { rows: answer as SpendLog[], next: null };
  const a = answer as { data?: unknown; logs?: unknown; next_cursor?: unknown } | undefined;
  const rows = Array.isArray(a?.data) ? a.data : Array.isArray(a?.logs) ? a.logs : [];
  return { rows: rows as SpendLog[], next: typeof a?.next_cursor === 'string' ? a.next_cursor : null };
}
