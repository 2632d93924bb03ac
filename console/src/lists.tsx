/**
 * What the list pages share: a list read page by page, its rows' buttons (labels that name the
 * record; a delete asks first) and the editor a row's Edit opens under the list.
 */
import type { ComponentChildren } from 'preact';
import { useState } from 'preact/hooks';
import { get, type Query } from './api';
import { type Column, confirmed, EditPanel, type Field, type Loaded, Loading, More, Table, useLoad } from './components';
import type { Page } from './types';

type Body = Record<string, unknown>;

// ---------------------------------------------------------------------------------------------
// Pages of a list

export interface Pages<T> extends Loaded<Page<T>> {
  /** Reads one more page, from the API's `next_cursor`. */
  more(cursor: string): void;
  /** Back to the first page alone. */
  reset(): void;
}

/**
 * Every page of a list read so far, as one page; another query starts from the first page again.
 * `read` makes a page of the API's answer where its shape is not `{data, next_cursor}` for sure.
 */
export function usePages<T>(path: string, query: Query = {}, read: (answer: unknown) => Page<T> = (a) => a as Page<T>): Pages<T> {
  const asked = JSON.stringify(query);
  const [asking, setAsking] = useState({ asked, cursors: [''] });
  const cursors = asking.asked === asked ? asking.cursors : [''];
  const state = useLoad(async () => {
    const data: T[] = [];
    let next: string | null = null;
    for (const cursor of cursors) {
      const page = read(await get<unknown>(path, { ...query, cursor }));
      data.push(...page.data);
      next = page.next_cursor;
    }
    return { data, next_cursor: next };
  }, [path, asked, cursors.join('|')]);
  return {
    ...state,
    more: (cursor) => setAsking({ asked, cursors: [...cursors, cursor] }),
    reset: () => setAsking({ asked, cursors: [''] }),
  };
}

/** A paged list as it loads (or its refusal): what `children` makes of its rows, then a button for more. */
export function PagedList<T>({
  pages,
  what,
  children,
}: {
  pages: Pages<T>;
  what: string;
  children(rows: readonly T[]): ComponentChildren;
}) {
  return (
    <Loading state={pages} what={what}>
      {(page) => (
        <>
          {children(page.data)}
          <More cursor={page.next_cursor} what={what} onMore={pages.more} />
        </>
      )}
    </Loading>
  );
}

// ---------------------------------------------------------------------------------------------
// A row's buttons

/** A button that asks `question` first and acts only on yes. `label` names what it acts on, for screen readers. */
export function ConfirmButton({
  question,
  onConfirm,
  label,
  class: className,
  busy,
  children,
}: {
  question: string;
  onConfirm(): unknown;
  label?: string;
  class?: string;
  busy: boolean;
  children: ComponentChildren;
}) {
  return (
    <button type="button" class={className} disabled={busy} aria-label={label} onClick={() => confirmed(question) && onConfirm()}>
      {children}
    </button>
  );
}

/** Edit, labelled with the record it opens (`Edit budget b1`). */
export const EditButton = ({ what, onEdit }: { what: string; onEdit(): void }) => (
  <button type="button" class="secondary" aria-label={`Edit ${what}`} onClick={onEdit}>
    Edit
  </button>
);

/** Delete, labelled with the record (`Delete budget b1`); asks `Delete budget b1?` unless `question` says more. */
export const DeleteButton = ({
  what,
  question,
  busy,
  onDelete,
}: {
  what: string;
  question?: string;
  busy: boolean;
  onDelete(): unknown;
}) => (
  <ConfirmButton class="danger" label={`Delete ${what}`} question={question ?? `Delete ${what}?`} busy={busy} onConfirm={onDelete}>
    Delete
  </ConfirmButton>
);

// ---------------------------------------------------------------------------------------------
// A table of records with Edit and Delete

/** The editor a row's Edit opens: its form's id and fields, the id the update is about, the update. */
export interface RowEditor<T> {
  id: string;
  fields: Field[];
  fixed(row: T): Body;
  save(body: Body): Promise<unknown>;
  /** What the form starts from, when the row's shape is not the fields' (default: the row). */
  initial?(row: T): object;
  /** The record's name in the saved message, when it is not the one in the labels. */
  savedName?(row: T): string;
}

export interface RecordTableProps<T> {
  caption: string;
  rows: readonly T[];
  rowKey(row: T): string;
  empty: string;
  columns: Column<T>[];
  /** What a row is, in lower case (`end user`), and its name in labels: `Edit end user c1`. */
  noun: string;
  name(row: T): string;
  /** An action of the page is running: Delete and the row's own actions wait. */
  busy: boolean;
  edit?: RowEditor<T>;
  /** Deletes a row (asked first: `Delete <noun> <name>?` unless `question` says more). */
  remove?: { run(row: T): unknown; question?(row: T): string };
  /** The row's own actions, between Edit and Delete (block, regenerate). */
  actions?(row: T): ComponentChildren;
}

/** A list's table with an Actions column (Edit, the row's own, Delete) and the editor Edit opens under it. */
export function RecordTable<T>({ noun, name, busy, edit, remove, actions, columns, ...table }: RecordTableProps<T>) {
  // The row is found again in every render by its key: after a save reloads the rows, the editor
  // compares with the record as it is now (an old row made a reverted field look unchanged).
  const [editingKey, setEditingKey] = useState<string | null>(null);
  const editing = editingKey === null ? null : (table.rows.find((r) => table.rowKey(r) === editingKey) ?? null);
  const actionsColumn: Column<T> = {
    header: 'Actions',
    cell: (row) => (
      <div class="row-actions">
        {edit ? <EditButton what={`${noun} ${name(row)}`} onEdit={() => setEditingKey(table.rowKey(row))} /> : null}
        {actions?.(row)}
        {remove ? (
          <DeleteButton what={`${noun} ${name(row)}`} question={remove.question?.(row)} busy={busy} onDelete={() => remove.run(row)} />
        ) : null}
      </div>
    ),
  };
  return (
    <>
      <Table {...table} columns={[...columns, actionsColumn]} />
      {edit && editing !== null ? (
        <EditPanel
          id={edit.id}
          noun={noun}
          name={name(editing)}
          savedName={edit.savedName?.(editing)}
          record={edit.initial?.(editing) ?? (editing as object)}
          fixed={edit.fixed(editing)}
          fields={edit.fields}
          save={edit.save}
          onClose={() => setEditingKey(null)}
        />
      ) : null}
    </>
  );
}
