/**
 * Spend over time (`/global/spend/report`, drawn with uPlot, loaded only when there is something
 * to draw) and spend logs with filters (`/spend/logs`), both in LiteLLM's shapes. A deployment
 * that does not serve them yet answers 404, and the page says so instead of drawing anything.
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import { get, type Query } from '../api';
import { Form, Loading, More, Section, Table, Title, useLoad } from '../components';
import { count, day, money, when } from '../format';
import { hashKey } from '../key-hash';
import { usePages } from '../lists';
import { parseLogs, parseReport, type ReportDay, type SpendLog } from '../reports';

const GROUPS = [
  ['team', 'team'],
  ['api_key', 'key'],
  ['user', 'user'],
  ['customer', 'end user'],
  ['model', 'model'],
] as const;

function SpendChart({ days }: { days: ReportDay[] }) {
  const box = useRef<HTMLDivElement>(null);
  const [problem, setProblem] = useState('');
  useEffect(() => {
    let live = true;
    let chart: { destroy(): void } | undefined;
    Promise.all([import('uplot'), import('uplot/dist/uPlot.min.css')]).then(
      ([{ default: UPlot }]) => {
        if (!live || !box.current) return;
        const xs = days.map((d) => Date.parse(`${d.day}T00:00:00Z`) / 1000);
        const ys = days.map((d) => d.total);
        chart = new UPlot(
          {
            width: Math.max(320, Math.min(box.current.clientWidth || 720, 960)),
            height: 280,
            legend: { show: false },
            tzDate: (ts) => UPlot.tzDate(new Date(ts * 1000), 'Etc/UTC'),
            scales: { x: { time: true } },
            series: [{}, { label: 'Spend (USD)', stroke: '#1d4ed8', width: 2, fill: 'rgba(29, 78, 216, 0.12)', points: { show: true } }],
            axes: [{}, { size: 90, values: (_u, vals) => vals.map((v) => money(v)) }],
          },
          [xs, ys],
          box.current,
        );
      },
      (e: unknown) => live && setProblem(`The chart could not be drawn: ${(e as Error).message}`),
    );
    return () => {
      live = false;
      chart?.destroy();
    };
  }, [days]);
  const total = days.reduce((s, d) => s + d.total, 0);
  return (
    <figure class="chart">
      <div
        ref={box}
        role="img"
        aria-label={`Spend per day from ${days[0]?.day} to ${days[days.length - 1]?.day}, ${money(total)} in all; the table below has every day.`}
      />
      <figcaption>Spend per day (UTC), {money(total)} in all.</figcaption>
      {problem ? <p class="notice error">{problem}</p> : null}
    </figure>
  );
}

export function Spend() {
  const now = new Date();
  const [range, setRange] = useState<Record<string, unknown>>({
    start_date: day(new Date(now.getTime() - 29 * 86_400_000)),
    end_date: day(now),
    group_by: 'team',
  });
  const report = useLoad(
    () => get<unknown>('/global/spend/report', range as Record<string, string>).then(parseReport),
    [JSON.stringify(range)],
  );

  const [filter, setFilter] = useState<Query>({});
  const logs = usePages<SpendLog>('/spend/logs', filter, (answer) => {
    const { rows, next } = parseLogs(answer);
    return { data: rows, next_cursor: next };
  });

  return (
    <>
      <Title>Spend</Title>
      <Section id="spend-chart" title="Spend over time">
        <Form
          id="report-range"
          title="Period"
          submitLabel="Show spend"
          mode="filter"
          initial={range}
          fields={[
            { name: 'start_date', label: 'From', kind: 'date' },
            { name: 'end_date', label: 'To', kind: 'date' },
            { name: 'group_by', label: 'Group by', kind: 'select', options: GROUPS },
          ]}
          onSubmit={async (body) => {
            setRange(body);
            return undefined;
          }}
        />
        <Loading state={report} what="GET /global/spend/report">
          {(days) =>
            days.length === 0 ? (
              <p class="muted">No spend in this period.</p>
            ) : (
              <>
                <SpendChart days={days} />
                <Table
                  caption="Spend per day"
                  rows={days}
                  rowKey={(d) => d.day}
                  empty="No spend."
                  columns={[
                    { header: 'Day', cell: (d) => d.day },
                    { header: 'Spend', cell: (d) => money(d.total), numeric: true },
                    {
                      header: `Highest ${GROUPS.find(([g]) => g === range.group_by)?.[1] ?? 'group'}`,
                      cell: (d) => {
                        const top = [...d.groups].sort((a, b) => b.spend - a.spend)[0];
                        return top ? `${top.name} (${money(top.spend)})` : '—';
                      },
                    },
                  ]}
                />
              </>
            )
          }
        </Loading>
      </Section>
      <Section id="spend-logs" title="Spend logs">
        <Form
          id="log-filter"
          title="Filters"
          submitLabel="Show logs"
          mode="filter"
          fields={[
            {
              name: 'api_key',
              label: 'Key (sk-… or its hash)',
              kind: 'password',
              hint: 'Hashed in this browser: only its SHA-256 hash is sent.',
            },
            { name: 'user_id', label: 'User id' },
            { name: 'team_id', label: 'Team id' },
            { name: 'end_user', label: 'End user' },
            { name: 'request_id', label: 'Request id' },
            { name: 'start_date', label: 'From', kind: 'date' },
            { name: 'end_date', label: 'To', kind: 'date' },
          ]}
          onSubmit={async (body) => {
            // A GET query ends up in logs and history: the plaintext key never goes into one.
            const key = typeof body.api_key === 'string' ? body.api_key : undefined;
            setFilter({ ...(body as Query), ...(key ? { api_key: await hashKey(key, 'api_key') } : {}) });
            logs.reset();
            return undefined;
          }}
        />
        <Loading state={logs} what="GET /spend/logs">
          {(page) => (
            <>
              <Table
                caption="Spend logs, newest first"
                rows={page.data}
                rowKey={(r) => r.request_id}
                empty="No spend logs match."
                columns={[
                  { header: 'When', cell: (r) => when(r.startTime) },
                  { header: 'Request', cell: (r) => <span class="mono">{r.request_id}</span> },
                  { header: 'Model', cell: (r) => r.model ?? '—' },
                  { header: 'Key', cell: (r) => r.key_alias ?? (r.api_key ? `${r.api_key.slice(0, 10)}…` : '—') },
                  { header: 'User', cell: (r) => r.user ?? '—' },
                  { header: 'Team', cell: (r) => r.team_id ?? '—' },
                  { header: 'End user', cell: (r) => r.end_user ?? '—' },
                  { header: 'Tokens', cell: (r) => count(r.total_tokens ?? 0), numeric: true },
                  { header: 'Spend', cell: (r) => money(r.spend ?? 0), numeric: true },
                ]}
              />
              <More cursor={page.next_cursor} what="logs" onMore={logs.more} />
            </>
          )}
        </Loading>
      </Section>
    </>
  );
}
