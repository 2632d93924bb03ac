/** Reusable budgets (end users point to them): list, create, edit, delete. */
import { post } from '../api';
import { type Field, Form, Section, Title, useAction } from '../components';
import { budget, when } from '../format';
import { PagedList, RecordTable, usePages } from '../lists';
import type { BudgetRecord } from '../types';

const budgetFields: Field[] = [
  { name: 'max_budget', label: 'Max budget (USD)', kind: 'number', hint: 'Empty: no limit.' },
  { name: 'budget_duration', label: 'Budget period', hint: 'A period like 30d or 1mo; empty: never resets.' },
];

export function Budgets() {
  const budgets = usePages<BudgetRecord>('/budget/list');
  const act = useAction();
  return (
    <>
      <Title>Budgets</Title>
      <Section id="budget-list" title="Budgets">
        {act.view}
        <PagedList pages={budgets} what="budgets">
          {(rows) => (
            <RecordTable
              caption="Budgets"
              rows={rows}
              rowKey={(b) => b.budget_id}
              empty="No budgets."
              columns={[
                { header: 'Budget', cell: (b) => b.budget_id },
                { header: 'Max budget', cell: (b) => budget(b.max_budget), numeric: true },
                { header: 'Period', cell: (b) => b.budget_duration ?? 'never resets' },
                { header: 'Created', cell: (b) => when(b.created_at) },
              ]}
              noun="budget"
              name={(b) => b.budget_id}
              busy={act.busy}
              edit={{
                id: 'edit-budget',
                fields: budgetFields,
                fixed: (b) => ({ budget_id: b.budget_id }),
                save: (body) => post('/budget/update', body).then(budgets.reload),
              }}
              remove={{
                run: (b) =>
                  act.run(() => post('/budget/delete', { id: b.budget_id }), `Budget ${b.budget_id} deleted.`).then(budgets.reload),
              }}
            />
          )}
        </PagedList>
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
