/**
 * Keys: the ones this credential may list (an internal user's own, a team's for its admin,
 * all for a proxy admin); generate (the plaintext shown once, with a copy button), edit (models,
 * allowed routes, budget, rate limits), block, unblock, regenerate, delete.
 */
import { useState } from 'preact/hooks';
import { get, post } from '../api';
import {
  BudgetMeter,
  confirmed,
  EditPanel,
  type Field,
  Form,
  Loading,
  More,
  RATE_LIMIT_FIELDS,
  ResetAt,
  SecretOnce,
  Section,
  Table,
  Title,
  useAction,
  useLoad,
} from '../components';
import { list, when } from '../format';
import type { Key, NewKey, Page } from '../types';

const limitFields: Field[] = [
  { name: 'key_alias', label: 'Alias', hint: 'Unique among keys.' },
  { name: 'models', label: 'Models', kind: 'list', hint: "Comma-separated; empty: the team's models (or every model)." },
  {
    name: 'allowed_routes',
    label: 'Allowed routes',
    kind: 'list',
    hint: "Comma-separated route groups (llm, info, management) or paths (/key/info, /v1/files, /key/*); empty: every route the key's role may call.",
  },
  { name: 'max_budget', label: 'Max budget (USD)', kind: 'number', hint: 'Empty: no limit.' },
  { name: 'budget_duration', label: 'Budget period', hint: 'A period like 30d, 24h or 1mo; empty: never resets.' },
  ...RATE_LIMIT_FIELDS,
];

const generateFields: Field[] = [
  { name: 'team_id', label: 'Team id' },
  { name: 'user_id', label: 'User id', hint: 'Empty: yours (a proxy admin: no user).' },
  ...limitFields,
  { name: 'duration', label: 'Expires after', hint: 'A period like 30d; empty: never.' },
];

const keyLabel = (k: Key) => (k.key_alias ? `${k.key_alias} (${k.key_name})` : k.key_name);

export function KeyTable({ keys, onChange }: { keys: readonly Key[]; onChange(): void }) {
  const act = useAction();
  const [editing, setEditing] = useState<Key | null>(null);
  const [secret, setSecret] = useState<NewKey | null>(null);
  const keyAction = (path: string, k: Key, done: string, body: Record<string, unknown> = { key: k.token }) =>
    act.run(() => post(path, body), done).then(onChange);

  return (
    <>
      {act.view}
      {secret ? <SecretOnce id="regenerated" secret={secret.key} name={keyLabel(secret)} onDismiss={() => setSecret(null)} /> : null}
      <Table
        caption="Keys"
        rows={keys}
        rowKey={(k) => k.token}
        empty="No keys."
        columns={[
          { header: 'Key', cell: (k) => <span class="mono">{keyLabel(k)}</span> },
          { header: 'Team', cell: (k) => (k.team_id ? <a href={`#/teams/${encodeURIComponent(k.team_id)}`}>{k.team_id}</a> : '—') },
          { header: 'User', cell: (k) => k.user_id ?? '—' },
          { header: 'Models', cell: (k) => list(k.models) },
          { header: 'Allowed routes', cell: (k) => list(k.allowed_routes) },
          { header: 'Spend / budget', cell: (k) => <BudgetMeter spend={k.spend} max={k.max_budget} label={`Key ${k.key_name}`} /> },
          { header: 'Period', cell: (k) => <ResetAt at={k.budget_reset_at} /> },
          { header: 'Expires', cell: (k) => (k.expires ? when(k.expires) : 'never') },
          { header: 'Status', cell: (k) => (k.blocked ? <strong class="reached">blocked</strong> : 'active') },
          {
            header: 'Actions',
            cell: (k) => (
              <div class="row-actions">
                <button type="button" class="secondary" aria-label={`Edit key ${keyLabel(k)}`} onClick={() => setEditing(k)}>
                  Edit
                </button>
                <button
                  type="button"
                  disabled={act.busy}
                  aria-label={`${k.blocked ? 'Unblock' : 'Block'} key ${keyLabel(k)}`}
                  onClick={() =>
                    keyAction(k.blocked ? '/key/unblock' : '/key/block', k, `Key ${k.key_name} ${k.blocked ? 'unblocked' : 'blocked'}.`)
                  }
                >
                  {k.blocked ? 'Unblock' : 'Block'}
                </button>
                <button
                  type="button"
                  class="secondary"
                  disabled={act.busy}
                  aria-label={`Regenerate key ${keyLabel(k)}`}
                  onClick={() => {
                    if (!confirmed(`Regenerate key ${k.key_name}? The current key stops working now.`)) return;
                    let fresh: NewKey | undefined;
                    act
                      .run(async () => {
                        fresh = await post<NewKey>('/key/regenerate', { key: k.token });
                      }, `Key ${k.key_name} regenerated.`)
                      .then(() => {
                        if (fresh) setSecret(fresh);
                        onChange();
                      });
                  }}
                >
                  Regenerate
                </button>
                <button
                  type="button"
                  class="danger"
                  disabled={act.busy}
                  aria-label={`Delete key ${keyLabel(k)}`}
                  onClick={() =>
                    confirmed(`Delete key ${k.key_name}?`) && keyAction('/key/delete', k, `Key ${k.key_name} deleted.`, { keys: [k.token] })
                  }
                >
                  Delete
                </button>
              </div>
            ),
          },
        ]}
      />
      {editing ? (
        <EditPanel
          id="edit-key"
          noun="key"
          name={keyLabel(editing)}
          savedName={editing.key_name}
          record={editing}
          fixed={{ key: editing.token }}
          fields={limitFields}
          save={(body) => post('/key/update', body).then(onChange)}
          onClose={() => setEditing(null)}
        />
      ) : null}
    </>
  );
}

export function Keys() {
  const [filter, setFilter] = useState<Record<string, unknown>>({});
  const [pages, setPages] = useState<string[]>(['']);
  const [secret, setSecret] = useState<NewKey | null>(null);
  const keys = useLoad(async () => {
    const all: Key[] = [];
    let next: string | null = null;
    for (const cursor of pages) {
      const page: Page<Key> = await get<Page<Key>>('/key/list', {
        ...(filter as Record<string, string>),
        return_full_object: true,
        cursor,
      });
      all.push(...page.data);
      next = page.next_cursor;
    }
    return { data: all, next_cursor: next };
  }, [JSON.stringify(filter), pages.join('|')]);

  return (
    <>
      <Title>Keys</Title>
      <Section id="key-list" title="Keys you may see">
        <Form
          id="key-filter"
          title="Filter"
          submitLabel="Show keys"
          mode="filter"
          fields={[
            { name: 'team_id', label: 'Team id' },
            { name: 'user_id', label: 'User id' },
          ]}
          onSubmit={async (body) => {
            setFilter(body);
            setPages(['']);
            return undefined;
          }}
        />
        <Loading state={keys} what="keys">
          {(page) => (
            <>
              <KeyTable keys={page.data} onChange={keys.reload} />
              <More cursor={page.next_cursor} what="keys" onMore={(c) => setPages((p) => [...p, c])} />
            </>
          )}
        </Loading>
      </Section>
      <Section id="key-new" title="Generate a key">
        {secret ? <SecretOnce id="generated" secret={secret.key} name={keyLabel(secret)} onDismiss={() => setSecret(null)} /> : null}
        <Form
          id="new-key"
          title="New key"
          submitLabel="Generate key"
          fields={generateFields}
          onSubmit={async (body) => {
            const created = await post<NewKey>('/key/generate', body);
            setSecret(created);
            keys.reload();
            return `Key ${created.key_name} generated.`;
          }}
        />
      </Section>
    </>
  );
}
