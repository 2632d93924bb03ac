/** Reusable budgets (end users point to them): list, create, edit, delete. */
import { useState } from 'preact/hooks';
import { get, post } from '../api';
import { confirmed, EditPanel, type Field, Form, Loading, Section, Table, Title, useAction, useLoad } from '../components';
import { budget, when } from '../format';
import type { BudgetRecord, Page } from '../types';

const budgetFields: Field[] = [
  { name: 'max_budget', label: 'Max budget (USD)', kind: 'number', hint: 'Empty: no limit.' },
  { name: 'budget_duration', label: 'Budget period', hint: 'A period like 30d or 1mo; empty: never resets.' },
];

export function Budgets() {
  const budgets = useLoad(() => get<Page<BudgetRecord>>('/budget/list', { limit: 1000 }), []);
  const [editing, setEditing] = useState<BudgetRecord | null>(null);
  const act = useAction();
  return (
    <>
      <Title>Budgets</Title>
      <Section id="budget-list" title="Budgets">
        {act.view}
        <Loading state={budgets} what="budgets">
          {(page) => (
            <Table
              caption="Budgets"
              rows={page.data}
              rowKey={(b) => b.budget_id}
              empty="No budgets."
              columns={[
                { header: 'Budget', cell: (b) => b.budget_id },
                { header: 'Max budget', cell: (b) => budget(b.max_budget), numeric: true },
                { header: 'Period', cell: (b) => b.budget_duration ?? 'never resets' },
                { header: 'Created', cell: (b) => when(b.created_at) },
                {
                  header: 'Actions',
                  cell: (b) => (
                    <div class="row-actions">
                      <button type="button" class="secondary" aria-label={`Edit budget ${b.budget_id}`} onClick={() => setEditing(b)}>
                        Edit
                      </button>
                      <button
                        type="button"
                        class="danger"
                        disabled={act.busy}
                        aria-label={`Delete budget ${b.budget_id}`}
                        onClick={() =>
                          confirmed(`Delete budget ${b.budget_id}?`) &&
                          act.run(() => post('/budget/delete', { id: b.budget_id }), `Budget ${b.budget_id} deleted.`).then(budgets.reload)
                        }
                      >
                        Delete
                      </button>
                    </div>
                  ),
                },
              ]}
            />
          )}
        </Loading>
        {editing ? (
          <EditPanel
            id="edit-budget"
            noun="budget"
            name={editing.budget_id}
            record={editing}
            fixed={{ budget_id: editing.budget_id }}
            fields={budgetFields}
            save={(body) => post('/budget/update', body).then(budgets.reload)}
            onClose={() => setEditing(null)}
          />
        ) : null}
      </Section>
      <Section id="budget-new" title="Create a budget">
        <Form
          id="new-budget"
          title="New budget"
          submitLabel="Create budget"
          fields={[{ name: 'budget_id', label: 'Budget id', hint: 'Empty: a random id.' }, ...budgetFields]}
          onSubmit={async (body) => {
            const b = await post<BudgetRecord>('/budget/new', body);
            budgets.reload();
            return `Budget ${b.budget_id} created.`;
          }}
        />
      </Section>
    </>
  );
}
