/** Users: list and create (with their first key, shown once); one user: edit, delete, keys, teams. */
import { useState } from 'preact/hooks';
import { get, post } from '../api';
import {
  BudgetMeter,
  budgetColumns,
  EditForm,
  type Field,
  Form,
  Loading,
  RATE_LIMIT_FIELDS,
  SecretOnce,
  Section,
  SpendFacts,
  Table,
  Title,
  useAction,
  useLoad,
} from '../components';
import { list, named } from '../format';
import { DeleteButton, PagedList, usePages } from '../lists';
import type { User, UserInfo } from '../types';
import { KeyTable, useRegenerated } from './keys';

const ROLES = [
  ['internal_user', 'internal user'],
  ['internal_user_viewer', 'internal user (viewer)'],
  ['proxy_admin', 'proxy admin'],
] as const;

const userFields: Field[] = [
  { name: 'user_email', label: 'Email', kind: 'email' },
  { name: 'user_alias', label: 'Alias' },
  { name: 'user_role', label: 'Role', kind: 'select', options: ROLES },
  { name: 'models', label: 'Models', kind: 'list', hint: 'Comma-separated; empty: every model.' },
  { name: 'max_budget', label: 'Max budget (USD)', kind: 'number', hint: 'Empty: no limit.' },
  { name: 'budget_duration', label: 'Budget period', hint: 'A period like 30d or 1mo; empty: never resets.' },
  ...RATE_LIMIT_FIELDS,
];

const userHref = (id: string) => `#/users/${encodeURIComponent(id)}`;

export function Users() {
  const [created, setCreated] = useState<{ key: string; key_name: string; user_id: string } | null>(null);
  const users = usePages<User>('/user/list');
  const me = useLoad(() => get<UserInfo>('/user/info'), []);
  const act = useAction();

  return (
    <>
      <Title>Users</Title>
      {me.data ? (
        <Section id="me" title="Your user">
          <p>
            <a href={userHref(me.data.user_id)}>{me.data.user_id}</a> ({me.data.user_info.user_role}),{' '}
            <BudgetMeter spend={me.data.user_info.spend} max={me.data.user_info.max_budget} label="Your budget" />
          </p>
        </Section>
      ) : null}
      <Section id="user-list" title="Users">
        {act.view}
        <PagedList pages={users} what="users">
          {(rows) => (
            <Table
              caption="Users"
              rows={rows}
              rowKey={(u) => u.user_id}
              empty="No users."
              columns={[
                { header: 'User', cell: (u) => <a href={userHref(u.user_id)}>{named(u.user_alias, u.user_id)}</a> },
                { header: 'Email', cell: (u) => u.user_email ?? '—' },
                { header: 'Role', cell: (u) => u.user_role ?? '—' },
                { header: 'Models', cell: (u) => list(u.models) },
                ...budgetColumns<User>((u) => `User ${u.user_id}`),
                {
                  header: 'Actions',
                  cell: (u) => (
                    <DeleteButton
                      what={`user ${u.user_id}`}
                      question={`Delete user ${u.user_id} with their keys and memberships?`}
                      busy={act.busy}
                      onDelete={() =>
                        act.run(() => post('/user/delete', { user_ids: [u.user_id] }), `User ${u.user_id} deleted.`).then(users.reload)
                      }
                    />
                  ),
                },
              ]}
            />
          )}
        </PagedList>
      </Section>
      <Section id="user-new" title="Create a user">
        {created ? (
          <SecretOnce
            id="user-key"
            secret={created.key}
            name={`${created.key_name} of user ${created.user_id}`}
            onDismiss={() => setCreated(null)}
          />
        ) : null}
        <Form
          id="new-user"
          title="New user"
          submitLabel="Create user"
          initial={{ auto_create_key: true, user_role: 'internal_user' }}
          fields={[
            { name: 'user_id', label: 'User id', hint: 'Empty: a random id.' },
            ...userFields,
            { name: 'teams', label: 'Teams', kind: 'list', hint: 'Team ids to join as a member (comma-separated).' },
            { name: 'auto_create_key', label: 'Create a personal key for the user', kind: 'checkbox' },
            { name: 'key_alias', label: 'Alias of that key' },
          ]}
          onSubmit={async (body) => {
            const user = await post<User & { key?: string; key_name?: string }>('/user/new', body);
            if (user.key) setCreated({ key: user.key, key_name: user.key_name ?? '', user_id: user.user_id });
            users.reload();
            return `User ${user.user_id} created.`;
          }}
        />
      </Section>
    </>
  );
}

export function UserDetail({ userId }: { userId: string }) {
  const info = useLoad(() => get<UserInfo>('/user/info', { user_id: userId }), [userId]);
  const regenerated = useRegenerated();
  return (
    <>
      <Title>User {userId}</Title>
      <p>
        <a href="#/users">All users</a>
      </p>
      {regenerated.view}
      <Loading state={info} what={`user ${userId}`}>
        {(u) => (
          <>
            <Section id="user-summary" title="Summary">
              <dl class="facts">
                <dt>Role</dt>
                <dd>{u.user_info.user_role ?? '—'}</dd>
                <dt>Email</dt>
                <dd>{u.user_info.user_email ?? '—'}</dd>
                <dt>Models</dt>
                <dd>{list(u.user_info.models)}</dd>
                <SpendFacts record={u.user_info} label={`User ${userId}`} />
              </dl>
            </Section>
            <Section id="user-edit" title="Edit">
              <EditForm
                id="edit-user"
                noun="user"
                name={userId}
                record={u.user_info}
                fixed={{ user_id: userId }}
                fields={userFields}
                save={(body) => post('/user/update', body).then(info.reload)}
              />
            </Section>
            <Section id="user-teams" title="Teams">
              <Table
                caption={`Teams of user ${userId}`}
                rows={u.teams}
                rowKey={(t) => t.team_id}
                empty="Member of no team."
                columns={[
                  {
                    header: 'Team',
                    cell: (t) => <a href={`#/teams/${encodeURIComponent(t.team_id)}`}>{named(t.team_alias, t.team_id)}</a>,
                  },
                  { header: 'Role', cell: (t) => t.role },
                  {
                    header: 'Spend / member budget',
                    cell: (t) => <BudgetMeter spend={t.spend} max={t.max_budget_in_team} label={`Member budget in ${t.team_id}`} />,
                  },
                ]}
              />
            </Section>
            <Section id="user-keys" title="Keys">
              <KeyTable keys={u.keys} onChange={info.reload} onRegenerated={regenerated.show} />
            </Section>
          </>
        )}
      </Loading>
    </>
  );
}
