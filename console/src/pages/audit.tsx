/** The audit log: every change the admin API made, newest first, by entity or by time. */
import { useState } from 'preact/hooks';
import { get } from '../api';
import { Form, Loading, More, Section, Table, Title, useLoad } from '../components';
import { when } from '../format';
import type { AuditRecord, Page } from '../types';

const ENTITY_TYPES = [
  ['', 'any'],
  ['key', 'key'],
  ['team', 'team'],
  ['team_member', 'team member'],
  ['user', 'user'],
  ['organization', 'organization'],
  ['end_user', 'end user'],
  ['budget', 'budget'],
  ['model', 'model'],
] as const;

export function Audit() {
  const [filter, setFilter] = useState<Record<string, unknown>>({});
  const [pages, setPages] = useState<string[]>(['']);
  const entries = useLoad(async () => {
    const all: AuditRecord[] = [];
    let next: string | null = null;
    for (const cursor of pages) {
      const page: Page<AuditRecord> = await get<Page<AuditRecord>>('/audit', { ...(filter as Record<string, string>), cursor, limit: 100 });
      all.push(...page.data);
      next = page.next_cursor;
    }
    return { data: all, next_cursor: next };
  }, [JSON.stringify(filter), pages.join('|')]);

  return (
    <>
      <Title>Audit log</Title>
      <Section id="audit-filter" title="Filters">
        <Form
          id="audit-form"
          title="Which entries"
          submitLabel="Show entries"
          mode="filter"
          fields={[
            { name: 'entity_type', label: 'Entity type', kind: 'select', options: ENTITY_TYPES },
            { name: 'entity_id', label: 'Entity id', hint: 'With an entity type: that entity’s history.' },
            { name: 'since', label: 'Since', kind: 'datetime' },
            { name: 'until', label: 'Until', kind: 'datetime' },
          ]}
          onSubmit={async (body) => {
            setFilter(body);
            setPages(['']);
            return undefined;
          }}
        />
      </Section>
      <Section id="audit-entries" title="Entries">
        <Loading state={entries} what="the audit log">
          {(page) => (
            <>
              <Table
                caption="Audit entries, newest first"
                rows={page.data}
                rowKey={(a) => a.audit_id}
                empty="No entries match."
                columns={[
                  { header: 'When', cell: (a) => when(a.at) },
                  { header: 'Actor', cell: (a) => `${a.actor} (${a.actor_role})` },
                  { header: 'Action', cell: (a) => <code>{a.action}</code> },
                  { header: 'Entity', cell: (a) => `${a.entity_type} ${a.entity_id}` },
                  { header: 'Changes', cell: (a) => (a.changes ? <code class="changes">{JSON.stringify(a.changes)}</code> : '—') },
                ]}
              />
              <More cursor={page.next_cursor} what="entries" onMore={(c) => setPages((p) => [...p, c])} />
            </>
          )}
        </Loading>
      </Section>
    </>
  );
}
