/** Reusable budgets (end users point to them): list, create, edit, delete. */
import { get, post } from '../api';
import { type Field, Form, Loading, Section, Title, useAction, useLoad } from '../components';
import { budget, when } from '../format';
import { RecordTable } from '../lists';
import type { BudgetRecord, Page } from '../types';

const budgetFields: Field[] = [
  { name: 'max_budget', label: 'Max budget (USD)', kind: 'number', hint: 'Empty: no limit.' },
  { name: 'budget_duration', label: 'Budget period', hint: 'A period like 30d or 1mo; empty: never resets.' },
];

export function Budgets() {
  const budgets = useLoad(() => get<Page<BudgetRecord>>('/budget/list', { limit: 1000 }), []);
  const act = useAction();
  return (
    <>
      <Title>Budgets</Title>
      <Section id="budget-list" title="Budgets">
        {act.view}
        <Loading state={budgets} what="budgets">
          {(page) => (
            <RecordTable
              caption="Budgets"
              rows={page.data}
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
        </Loading>
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
