/** End users (LiteLLM's customers: the `user` of a request): list, create, edit, block, delete. */
import { post } from '../api';
import { budgetColumns, type Field, Form, Section, Title, useAction } from '../components';
import { named } from '../format';
import { PagedList, RecordTable, usePages } from '../lists';
import type { EndUser } from '../types';

const endUserFields: Field[] = [
  { name: 'alias', label: 'Alias' },
  { name: 'max_budget', label: 'Max budget (USD)', kind: 'number', hint: 'Empty: no own limit.' },
  { name: 'budget_duration', label: 'Budget period', hint: 'A period like 30d or 1mo; empty: never resets.' },
  { name: 'budget_id', label: 'Shared budget id', hint: 'A budget from the Budgets page (its own max budget wins).' },
];

export function EndUsers() {
  const endUsers = usePages<EndUser>('/customer/list');
  const act = useAction();
  return (
    <>
      <Title>End users</Title>
      <Section id="end-user-list" title="End users">
        {act.view}
        <PagedList pages={endUsers} what="end users">
          {(rows) => (
            <RecordTable
              caption="End users"
              rows={rows}
              rowKey={(e) => e.user_id}
              empty="No end users."
              columns={[
                { header: 'End user', cell: (e) => named(e.alias, e.user_id) },
                ...budgetColumns<EndUser>((e) => `End user ${e.user_id}`),
                { header: 'Shared budget', cell: (e) => e.budget_id ?? '—' },
                { header: 'Status', cell: (e) => (e.blocked ? <strong class="reached">blocked</strong> : 'active') },
              ]}
              noun="end user"
              name={(e) => e.user_id}
              busy={act.busy}
              edit={{
                id: 'edit-end-user',
                fields: endUserFields,
                fixed: (e) => ({ user_id: e.user_id }),
                save: (body) => post('/customer/update', body).then(endUsers.reload),
              }}
              actions={(e) => (
                <button
                  type="button"
                  disabled={act.busy}
                  aria-label={`${e.blocked ? 'Unblock' : 'Block'} end user ${e.user_id}`}
                  onClick={() =>
                    act
                      .run(
                        () => post(e.blocked ? '/customer/unblock' : '/customer/block', { user_ids: [e.user_id] }),
                        `End user ${e.user_id} ${e.blocked ? 'unblocked' : 'blocked'}.`,
                      )
                      .then(endUsers.reload)
                  }
                >
                  {e.blocked ? 'Unblock' : 'Block'}
                </button>
              )}
              remove={{
                run: (e) =>
                  act
                    .run(() => post('/customer/delete', { user_ids: [e.user_id] }), `End user ${e.user_id} deleted.`)
                    .then(endUsers.reload),
              }}
            />
          )}
        </PagedList>
      </Section>
      <Section id="end-user-new" title="Create an end user">
        <Form
          id="new-end-user"
          title="New end user"
          submitLabel="Create end user"
          fields={[
            { name: 'user_id', label: 'End user id', hint: 'The `user` your application sends.' },
            ...endUserFields,
            { name: 'blocked', label: 'Blocked', kind: 'checkbox' },
          ]}
          onSubmit={async (body) => {
            const e = await post<EndUser>('/customer/new', body);
            endUsers.reload();
            return `End user ${e.user_id} created.`;
          }}
        />
      </Section>
    </>
  );
}
