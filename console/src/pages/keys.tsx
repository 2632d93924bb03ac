/**
 * Keys: the ones this credential may list (an internal user's own, a team's for its admin,
 * all for a proxy admin); generate (the plaintext shown once, with a copy button), edit (models,
 * allowed routes, budget, rate limits), block, unblock, regenerate, delete.
 */
import type { ComponentChildren } from 'preact';
import { useState } from 'preact/hooks';
import { post, type Query } from '../api';
import { budgetColumns, type Field, Form, RATE_LIMIT_FIELDS, SecretOnce, Section, Title, useAction } from '../components';
import { list, named, when } from '../format';
import { canHash, sha256Hex } from '../key-hash';
import { ConfirmButton, PagedList, RecordTable, usePages } from '../lists';
import { credential } from '../session';
import type { Key, NewKey } from '../types';

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

const keyLabel = (k: Key) => named(k.key_alias, k.key_name);

/** A regenerated key, and whether it was the credential this session is signed in with. */
export interface Regenerated {
  key: NewKey;
  own: boolean;
}

/**
 * Where a regenerated key's plaintext is shown: above the list's loading boundary (`view` goes
 * outside it), so the list's reload failing (refused, when the key was this session's own
 * credential) never takes the only copy of the new key away.
 */
export function useRegenerated(): { show(r: Regenerated): void; view: ComponentChildren } {
  const [shown, setShown] = useState<Regenerated | null>(null);
  const view = shown ? (
    <SecretOnce
      // Another key regenerated: a new panel, focused again.
      key={shown.key.token}
      id="regenerated"
      secret={shown.key.key}
      name={keyLabel(shown.key)}
      note={
        shown.own ? (
          <>
            <strong>This was the key you are signed in with:</strong> it no longer works, so this console's calls are refused now. Copy the
            new key, then sign out and sign in with it.
          </>
        ) : undefined
      }
      onDismiss={() => setShown(null)}
    />
  ) : null;
  return { show: setShown, view };
}

/** Whether the key of `token` (its hash) is the credential this session is signed in with. */
async function isSessionKey(token: string): Promise<boolean> {
  const signedInWith = credential();
  return signedInWith !== null && canHash() && (await sha256Hex(signedInWith)) === token;
}

/** A list of keys with their actions; a regenerated key goes to `onRegenerated` (see useRegenerated). */
export function KeyTable({
  keys,
  onChange,
  onRegenerated,
}: {
  keys: readonly Key[];
  onChange(): void;
  onRegenerated(r: Regenerated): void;
}) {
  const act = useAction();
  const keyAction = (path: string, k: Key, done: string, body: Record<string, unknown> = { key: k.token }) =>
    act.run(() => post(path, body), done).then(onChange);

  return (
    <>
      {act.view}
      <RecordTable
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
          ...budgetColumns<Key>((k) => `Key ${k.key_name}`),
          { header: 'Expires', cell: (k) => (k.expires ? when(k.expires) : 'never') },
          { header: 'Status', cell: (k) => (k.blocked ? <strong class="reached">blocked</strong> : 'active') },
        ]}
        noun="key"
        name={keyLabel}
        busy={act.busy}
        edit={{
          id: 'edit-key',
          fields: limitFields,
          fixed: (k) => ({ key: k.token }),
          save: (body) => post('/key/update', body).then(onChange),
          savedName: (k) => k.key_name,
        }}
        actions={(k) => (
          <>
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
            <ConfirmButton
              class="secondary"
              busy={act.busy}
              label={`Regenerate key ${keyLabel(k)}`}
              question={`Regenerate key ${k.key_name}? The current key stops working now.`}
              onConfirm={() => {
                let fresh: NewKey | undefined;
                const own = isSessionKey(k.token);
                act
                  .run(async () => {
                    fresh = await post<NewKey>('/key/regenerate', { key: k.token });
                  }, `Key ${k.key_name} regenerated.`)
                  .then(async () => {
                    if (fresh) onRegenerated({ key: fresh, own: await own });
                    onChange();
                  });
              }}
            >
              Regenerate
            </ConfirmButton>
          </>
        )}
        remove={{
          question: (k) => `Delete key ${k.key_name}?`,
          run: (k) => keyAction('/key/delete', k, `Key ${k.key_name} deleted.`, { keys: [k.token] }),
        }}
      />
    </>
  );
}

export function Keys() {
  const [filter, setFilter] = useState<Query>({});
  const [secret, setSecret] = useState<NewKey | null>(null);
  const regenerated = useRegenerated();
  const keys = usePages<Key>('/key/list', { ...filter, return_full_object: true });

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
            setFilter(body as Query);
            keys.reset();
            return undefined;
          }}
        />
        {regenerated.view}
        <PagedList pages={keys} what="keys">
          {(rows) => <KeyTable keys={rows} onChange={keys.reload} onRegenerated={regenerated.show} />}
        </PagedList>
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
