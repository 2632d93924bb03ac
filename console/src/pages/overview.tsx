/**
 * Overview: spend against each budget for what the caller may list (keys, teams, users,
 * organizations, end users), budgets reached, and, where the deployment serves spend reports,
 * today's spend and the top models. Each list is the API's answer to this credential: an
 * internal user sees their own keys and teams, and a refusal for the rest.
 */
import { get } from '../api';
import { BudgetMeter, budgetColumns, type Column, type Loaded, Loading, Section, Table, Title, useLoad } from '../components';
import { count, day, money, named } from '../format';
import { modelTotals, parseReport } from '../reports';
import type { Budgeted, EndUser, Key, Organization, Page, Team, User } from '../types';

const TOP = 10;
/** The most the API answers in one page: the overview reads one page of each list, and says when there is more. */
const READ = 1000;

interface Row extends Budgeted {
  kind: string;
  id: string;
  name: string;
  href?: string;
}

const rowsOf = <T extends Budgeted>(
  state: Loaded<Page<T>>,
  kind: string,
  id: (x: T) => string,
  name: (x: T) => string,
  href?: (x: T) => string,
): Row[] => (state.data?.data ?? []).map((x) => ({ ...x, kind, id: id(x), name: name(x), ...(href ? { href: href(x) } : {}) }));

/** A list the overview read only the first page of (the API has a `next_cursor` for more). */
const partial = (state: Loaded<Page<unknown>>): boolean => Boolean(state.data?.next_cursor);

/** That a list was read in part, and where the whole of it is. */
const Partial = ({ read, plural, href }: { read: number; plural: string; href: string }) => (
  <p class="notice partial">
    <strong>Partial:</strong> only the first {count(read)} {plural} were read; there are more, not counted here. The{' '}
    <a href={href}>
      {plural[0]?.toUpperCase()}
      {plural.slice(1)} page
    </a>{' '}
    lists them all.
  </p>
);

const bySpend = (a: Row, b: Row) => (b.spend ?? 0) - (a.spend ?? 0);

const columns = (what: string): Column<Row>[] => [
  { header: what, cell: (r) => (r.href ? <a href={r.href}>{r.name}</a> : r.name) },
  ...budgetColumns<Row>((r) => `${what} ${r.name}`, 'Spend this period / budget'),
  { header: 'Total spend', cell: (r) => money(r.total_spend ?? r.spend), numeric: true },
];

/** One list's top spenders: `plural` and `href` name the list and its page. */
interface TopProps {
  id: string;
  title: string;
  what: string;
  plural: string;
  href: string;
  state: Loaded<Page<unknown>>;
  rows: Row[];
}

function Top({ id, title, what, plural, href, state, rows }: TopProps) {
  return (
    <Section id={id} title={title}>
      <Loading state={state} what={title.toLowerCase()}>
        {() => (
          <>
            <Table
              caption={`${title}, highest spend first`}
              rows={[...rows].sort(bySpend).slice(0, TOP)}
              columns={columns(what)}
              empty={`No ${what.toLowerCase()}s yet.`}
              rowKey={(r) => r.id}
            />
            {rows.length > TOP ? (
              <p class="muted">
                The {TOP} highest of the {count(rows.length)} {partial(state) ? 'read' : 'listed'}.
              </p>
            ) : null}
            {partial(state) ? <Partial read={rows.length} plural={plural} href={href} /> : null}
          </>
        )}
      </Loading>
    </Section>
  );
}

export function Overview() {
  const keys = useLoad(() => get<Page<Key>>('/key/list', { return_full_object: true, limit: READ }), []);
  const teams = useLoad(() => get<Page<Team>>('/team/list', { limit: READ }), []);
  const users = useLoad(() => get<Page<User>>('/user/list', { limit: READ }), []);
  const orgs = useLoad(() => get<Page<Organization>>('/organization/list', { limit: READ }), []);
  const endUsers = useLoad(() => get<Page<EndUser>>('/customer/list', { limit: READ }), []);
  const today = day(new Date());
  const report = useLoad(() => get<unknown>('/global/spend/report', { start_date: today, end_date: today }).then(parseReport), []);
  const proxy = useLoad(() => get<{ spend: number; max_budget?: number | null }>('/global/spend'), []);

  const keyRows = rowsOf(
    keys,
    'key',
    (k) => k.token,
    (k) => named(k.key_alias, k.key_name),
  );
  const teamRows = rowsOf(
    teams,
    'team',
    (t) => t.team_id,
    (t) => named(t.team_alias, t.team_id),
    (t) => `#/teams/${encodeURIComponent(t.team_id)}`,
  );
  const userRows = rowsOf(
    users,
    'user',
    (u) => u.user_id,
    (u) => named(u.user_alias, u.user_id),
    (u) => `#/users/${encodeURIComponent(u.user_id)}`,
  );
  const orgRows = rowsOf(
    orgs,
    'organization',
    (o) => o.organization_id,
    (o) => named(o.organization_alias, o.organization_id),
  );
  const endUserRows = rowsOf(
    endUsers,
    'end user',
    (e) => e.user_id,
    (e) => named(e.alias, e.user_id),
  );
  const all = [...keyRows, ...teamRows, ...userRows, ...orgRows, ...endUserRows];
  const limited = all.filter((r) => r.max_budget !== null && r.max_budget !== undefined);
  const reached = limited.filter((r) => (r.spend ?? 0) >= (r.max_budget as number));
  const near = limited.filter((r) => (r.spend ?? 0) < (r.max_budget as number) && (r.spend ?? 0) >= 0.8 * (r.max_budget as number));

  const lists: TopProps[] = [
    { id: 'top-keys', title: 'Top keys', what: 'Key', plural: 'keys', href: '#/keys', state: keys, rows: keyRows },
    { id: 'top-teams', title: 'Top teams', what: 'Team', plural: 'teams', href: '#/teams', state: teams, rows: teamRows },
    { id: 'top-users', title: 'Top users', what: 'User', plural: 'users', href: '#/users', state: users, rows: userRows },
    {
      id: 'top-orgs',
      title: 'Top organizations',
      what: 'Organization',
      plural: 'organizations',
      href: '#/organizations',
      state: orgs,
      rows: orgRows,
    },
    {
      id: 'top-end-users',
      title: 'Top end users',
      what: 'End user',
      plural: 'end users',
      href: '#/end-users',
      state: endUsers,
      rows: endUserRows,
    },
  ];
  const readInPart = lists.filter((l) => partial(l.state));

  const alertColumns: Column<Row>[] = [{ header: 'Kind', cell: (r) => r.kind }, ...columns('Name').slice(0, 3)];

  return (
    <>
      <Title>Overview</Title>
      <Section id="today" title="Spend today">
        <Loading state={report} what="GET /global/spend/report">
          {(days) => {
            const models = modelTotals(days);
            return (
              <>
                <p class="big">
                  {money(days.reduce((s, d) => s + d.total, 0))} <span class="muted">on {today} (UTC)</span>
                </p>
                <Table
                  caption="Top models today"
                  rows={models.slice(0, TOP)}
                  columns={[
                    { header: 'Model', cell: (m) => m.model },
                    { header: 'Spend', cell: (m) => money(m.spend), numeric: true },
                    { header: 'Tokens', cell: (m) => count(m.tokens), numeric: true },
                  ]}
                  empty="No model spend today."
                  rowKey={(m) => m.model}
                />
              </>
            );
          }}
        </Loading>
        <Loading state={proxy} what="GET /global/spend">
          {(g) => (
            <p>
              Proxy-wide: <BudgetMeter spend={g.spend} max={g.max_budget} label="Proxy" />
            </p>
          )}
        </Loading>
      </Section>

      <Section id="alerts" title="Budgets reached">
        <p class="muted">Among what this credential may list; the API refuses calls once spend reaches the budget.</p>
        {readInPart.map((l) => (
          <Partial read={l.rows.length} plural={l.plural} href={l.href} />
        ))}
        <Table
          caption="Budgets reached"
          rows={reached.sort(bySpend)}
          columns={alertColumns}
          empty="No budget reached."
          rowKey={(r) => `${r.kind}:${r.id}`}
        />
        <Table
          caption="At 80 % of their budget or more"
          rows={near.sort(bySpend)}
          columns={alertColumns}
          empty="Nothing at 80 % of its budget."
          rowKey={(r) => `${r.kind}:${r.id}`}
        />
      </Section>

      {lists.map((l) => (
        <Top key={l.id} {...l} />
      ))}
    </>
  );
}
