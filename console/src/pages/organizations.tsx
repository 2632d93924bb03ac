/** Organizations: list, create, edit, delete, add members. Proxy admins only (the API says so to others). */
import { post } from '../api';
import { budgetColumns, type Field, Form, RATE_LIMIT_FIELDS, Section, Title, useAction } from '../components';
import { list, named } from '../format';
import { PagedList, RecordTable, usePages } from '../lists';
import type { Organization } from '../types';

const orgFields: Field[] = [
  { name: 'organization_alias', label: 'Alias' },
  { name: 'models', label: 'Models', kind: 'list', hint: 'Comma-separated; empty: every model.' },
  { name: 'max_budget', label: 'Max budget (USD)', kind: 'number', hint: 'Empty: no limit.' },
  { name: 'budget_duration', label: 'Budget period', hint: 'A period like 30d or 1mo; empty: never resets.' },
  ...RATE_LIMIT_FIELDS,
];

export function Organizations() {
  const orgs = usePages<Organization>('/organization/list');
  const act = useAction();
  return (
    <>
      <Title>Organizations</Title>
      <Section id="org-list" title="Organizations">
        {act.view}
        <PagedList pages={orgs} what="organizations">
          {(rows) => (
            <RecordTable
              caption="Organizations"
              rows={rows}
              rowKey={(o) => o.organization_id}
              empty="No organizations."
              columns={[
                { header: 'Organization', cell: (o) => named(o.organization_alias, o.organization_id) },
                { header: 'Models', cell: (o) => list(o.models) },
                ...budgetColumns<Organization>((o) => `Organization ${o.organization_id}`),
              ]}
              noun="organization"
              name={(o) => o.organization_id}
              busy={act.busy}
              edit={{
                id: 'edit-org',
                fields: orgFields,
                fixed: (o) => ({ organization_id: o.organization_id }),
                save: (body) => post('/organization/update', body).then(orgs.reload),
              }}
              remove={{
                run: (o) =>
                  act
                    .run(
                      () => post('/organization/delete', { organization_ids: [o.organization_id] }),
                      `Organization ${o.organization_id} deleted.`,
                    )
                    .then(orgs.reload),
              }}
            />
          )}
        </PagedList>
      </Section>
      <Section id="org-new" title="Create an organization">
        <div class="two">
          <Form
            id="new-org"
            title="New organization"
            submitLabel="Create organization"
            fields={[{ name: 'organization_id', label: 'Organization id', hint: 'Empty: a random id.' }, ...orgFields]}
            onSubmit={async (body) => {
              const org = await post<Organization>('/organization/new', body);
              orgs.reload();
              return `Organization ${org.organization_id} created.`;
            }}
          />
          <Form
            id="org-member"
            title="Add a member"
            submitLabel="Add member"
            fields={[
              { name: 'organization_id', label: 'Organization id' },
              { name: 'member.user_id', label: 'User id' },
              {
                name: 'member.role',
                label: 'Role',
                kind: 'select',
                options: [
                  ['internal_user', 'internal user'],
                  ['internal_user_viewer', 'internal user (viewer)'],
                  ['org_admin', 'organization admin'],
                ],
              },
            ]}
            onSubmit={async (body) => {
              await post('/organization/member_add', body);
              return 'Member added.';
            }}
          />
        </div>
      </Section>
    </>
  );
}
