/** Teams: list and create; one team: edit, block, delete, its members and their budgets, its keys. */
import { get, post } from '../api';
import {
  BudgetMeter,
  budgetColumns,
  EditForm,
  type Field,
  Form,
  Loading,
  RATE_LIMIT_FIELDS,
  Section,
  SpendFacts,
  Table,
  Title,
  useAction,
  useLoad,
} from '../components';
import { list, named, when } from '../format';
import { ConfirmButton, PagedList, usePages } from '../lists';
import type { Member, Team, TeamInfo } from '../types';
import { KeyTable, useRegenerated } from './keys';

const DURATION_HINT = 'A period like 30d, 24h or 1mo; empty: the budget never resets.';

export const teamFields: Field[] = [
  { name: 'team_alias', label: 'Alias' },
  { name: 'organization_id', label: 'Organization id' },
  { name: 'models', label: 'Models', kind: 'list', hint: 'Comma-separated; empty: every model.' },
  { name: 'max_budget', label: 'Max budget (USD)', kind: 'number', hint: 'Empty: no limit.' },
  { name: 'budget_duration', label: 'Budget period', hint: DURATION_HINT },
  ...RATE_LIMIT_FIELDS,
];

const MEMBER_ROLES = [
  ['user', 'user'],
  ['admin', 'admin'],
] as const;

/** A member form's fields: the user, their role and their budget in the team (`prefix`: where the route nests them). */
const memberFields = (prefix: '' | 'member.', roles: NonNullable<Field['options']>, budgetHint: string): Field[] => [
  { name: `${prefix}user_id`, label: 'User id' },
  { name: `${prefix}role`, label: 'Role', kind: 'select', options: roles },
  { name: 'max_budget_in_team', label: 'Member budget (USD)', kind: 'number', hint: budgetHint },
];

const teamHref = (id: string) => `#/teams/${encodeURIComponent(id)}`;

export function Teams() {
  const teams = usePages<Team>('/team/list');

  return (
    <>
      <Title>Teams</Title>
      <Section id="team-list" title="Teams you may see">
        <PagedList pages={teams} what="teams">
          {(rows) => (
            <Table
              caption="Teams"
              rows={rows}
              rowKey={(t) => t.team_id}
              empty="No teams."
              columns={[
                { header: 'Team', cell: (t) => <a href={teamHref(t.team_id)}>{named(t.team_alias, t.team_id)}</a> },
                { header: 'Organization', cell: (t) => t.organization_id ?? '—' },
                { header: 'Models', cell: (t) => list(t.models) },
                ...budgetColumns<Team>((t) => `Team ${t.team_id}`),
                { header: 'Status', cell: (t) => (t.blocked ? <strong class="reached">blocked</strong> : 'active') },
              ]}
            />
          )}
        </PagedList>
      </Section>
      <Section id="team-new" title="Create a team">
        <Form
          id="new-team"
          title="New team"
          submitLabel="Create team"
          fields={[{ name: 'team_id', label: 'Team id', hint: 'Empty: a random id.' }, ...teamFields]}
          onSubmit={async (body) => {
            const team = await post<Team>('/team/new', body);
            teams.reload();
            return `Team ${team.team_id} created.`;
          }}
        />
      </Section>
    </>
  );
}

export function TeamDetail({ teamId }: { teamId: string }) {
  const info = useLoad(() => get<TeamInfo>('/team/info', { team_id: teamId }), [teamId]);
  const act = useAction();
  const regenerated = useRegenerated();
  const reload = info.reload;

  return (
    <>
      <Title>Team {teamId}</Title>
      <p>
        <a href="#/teams">All teams</a>
      </p>
      {act.view}
      {regenerated.view}
      <Loading state={info} what={`team ${teamId}`}>
        {(t) => {
          const team = t.team_info;
          return (
            <>
              <Section id="team-summary" title="Summary">
                <dl class="facts">
                  <dt>Alias</dt>
                  <dd>{team.team_alias ?? '—'}</dd>
                  <dt>Organization</dt>
                  <dd>{team.organization_id ?? '—'}</dd>
                  <dt>Models</dt>
                  <dd>{list(team.models)}</dd>
                  <SpendFacts record={team} label={`Team ${teamId}`} />
                  <dt>Status</dt>
                  <dd>{team.blocked ? <strong class="reached">blocked: its keys are refused</strong> : 'active'}</dd>
                </dl>
                <div class="actions">
                  <button
                    type="button"
                    disabled={act.busy}
                    onClick={() =>
                      act
                        .run(
                          () => post(team.blocked ? '/team/unblock' : '/team/block', { team_id: teamId }),
                          team.blocked ? `Team ${teamId} unblocked.` : `Team ${teamId} blocked.`,
                        )
                        .then(reload)
                    }
                  >
                    {team.blocked ? 'Unblock team' : 'Block team'}
                  </button>
                  <ConfirmButton
                    class="danger"
                    busy={act.busy}
                    question={`Delete team ${teamId} with its keys and memberships?`}
                    onConfirm={() =>
                      act
                        .run(() => post('/team/delete', { team_ids: [teamId] }), `Team ${teamId} deleted.`)
                        .then((ok) => {
                          if (ok) location.hash = '#/teams';
                        })
                    }
                  >
                    Delete team
                  </ConfirmButton>
                </div>
              </Section>
              <Section id="team-edit" title="Edit">
                <EditForm
                  id="edit-team"
                  noun="team"
                  name={teamId}
                  record={team}
                  fixed={{ team_id: teamId }}
                  fields={teamFields}
                  save={(body) => post('/team/update', body).then(reload)}
                />
              </Section>
              <Members teamId={teamId} members={t.team_memberships} reload={reload} />
              <Section id="team-keys" title="Keys of the team">
                <KeyTable keys={t.keys} onChange={reload} onRegenerated={regenerated.show} />
                {t.keys_next_cursor ? <p class="muted">More keys: the Keys page, filtered by this team.</p> : null}
              </Section>
            </>
          );
        }}
      </Loading>
    </>
  );
}

function Members({ teamId, members, reload }: { teamId: string; members: Member[]; reload(): void }) {
  const act = useAction();
  return (
    <Section id="team-members" title="Members">
      {act.view}
      <Table
        caption={`Members of team ${teamId}`}
        rows={members}
        rowKey={(m) => m.user_id}
        empty="No members."
        columns={[
          { header: 'User', cell: (m) => <a href={`#/users/${encodeURIComponent(m.user_id)}`}>{m.user_id}</a> },
          { header: 'Role', cell: (m) => m.role },
          {
            header: 'Spend / member budget',
            cell: (m) => <BudgetMeter spend={m.spend} max={m.max_budget_in_team} label={`Member ${m.user_id}`} />,
          },
          { header: 'Since', cell: (m) => when((m as Member & { created_at?: string }).created_at) },
          {
            header: 'Actions',
            cell: (m) => (
              <ConfirmButton
                class="danger"
                label={`Remove ${m.user_id} from team ${teamId}`}
                question={`Remove ${m.user_id} from team ${teamId}? Their keys in the team are deleted too.`}
                busy={act.busy}
                onConfirm={() =>
                  act
                    .run(
                      () => post('/team/member_delete', { team_id: teamId, user_id: m.user_id }),
                      `${m.user_id} removed from team ${teamId}.`,
                    )
                    .then(reload)
                }
              >
                Remove
              </ConfirmButton>
            ),
          },
        ]}
      />
      <div class="two">
        <Form
          id="member-add"
          title="Add a member"
          submitLabel="Add member"
          fixed={{ team_id: teamId }}
          fields={memberFields('member.', MEMBER_ROLES, 'Empty: no member budget.')}
          onSubmit={async (body) => {
            await post('/team/member_add', body);
            reload();
            return 'Member added.';
          }}
        />
        <Form
          id="member-update"
          title="Change a member"
          submitLabel="Change member"
          mode="filter"
          fixed={{ team_id: teamId }}
          fields={memberFields('', [['', 'unchanged'], ...MEMBER_ROLES], 'Empty: unchanged.')}
          onSubmit={async (body) => {
            await post('/team/member_update', body);
            reload();
            return 'Member changed.';
          }}
        />
      </div>
    </Section>
  );
}
