/**
 * The console's building blocks: loading an API answer, showing a refusal, forms whose errors
 * land next to the field the API's `param` names, tables, budget meters and the once-shown key.
 */
import type { ComponentChildren } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { type ApiError, asApiError } from './api';
import { budget, money, spendOf, when } from './format';

// ---------------------------------------------------------------------------------------------
// Loading

export interface Loaded<T> {
  data?: T | undefined;
  error?: ApiError | undefined;
  loading: boolean;
  reload(): void;
}

/** Runs `load` when `deps` change (and on reload()); keeps the last answer while reloading. */
export function useLoad<T>(load: () => Promise<T>, deps: unknown[]): Loaded<T> {
  const [state, setState] = useState<{ data?: T | undefined; error?: ApiError | undefined; loading: boolean }>({ loading: true });
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let live = true;
    setState((s) => ({ ...s, loading: true }));
    load().then(
      (data) => live && setState({ data, loading: false }),
      (e: unknown) => live && setState({ error: asApiError(e), loading: false }),
    );
    return () => {
      live = false;
    };
  }, [...deps, tick]);
  return { ...state, reload: () => setTick((t) => t + 1) };
}

/** What a loading section shows: its content, the API's refusal, or that it is loading. */
export function Loading<T>({ state, what, children }: { state: Loaded<T>; what: string; children: (data: T) => ComponentChildren }) {
  if (state.error) return <Problem error={state.error} action={what} quiet />;
  if (state.data === undefined) return <p class="muted">Loading {what}…</p>;
  return <>{children(state.data)}</>;
}

// ---------------------------------------------------------------------------------------------
// Refusals and results

const problemTitle = (e: ApiError): string =>
  e.status === 401
    ? 'Credential refused.'
    : e.status === 403
      ? 'Not allowed.'
      : e.status === 0
        ? 'Error.'
        : e.status >= 500
          ? 'The API failed.'
          : 'Refused.';

/**
 * The API's own message and code; a route this deployment lacks is said plainly, never faked.
 * `quiet`: a read the caller may not make is a fact about their role (a status), not an alarm.
 */
export function Problem({ error, action, quiet }: { error: ApiError; action?: string; quiet?: boolean }) {
  if (error.routeMissing) {
    return (
      <div class="notice unavailable" role="status">
        <strong>Not available on this deployment.</strong> {action ? `${action}: ` : ''}the API answered 404 <code>route_not_found</code>,
        so this Tollgate does not serve that report yet. Nothing is shown rather than a guess.
      </div>
    );
  }
  const calm = quiet && error.status === 403;
  return (
    <div class={calm ? 'notice forbidden' : 'notice error'} role={calm ? 'status' : 'alert'}>
      <strong>{calm ? 'Not visible with this credential.' : problemTitle(error)}</strong> {error.message}{' '}
      <span class="code">
        (HTTP {error.status || '—'}, <code>{error.body.code}</code>
        {error.body.param ? (
          <>
            , field <code>{error.body.param}</code>
          </>
        ) : null}
        )
      </span>
    </div>
  );
}

/** Runs one API action at a time and shows its outcome (success as a status, failure as an alert). */
export function useAction() {
  const [outcome, setOutcome] = useState<{ text: string } | { error: ApiError } | null>(null);
  const [busy, setBusy] = useState(false);
  async function run(fn: () => Promise<unknown>, done: string): Promise<boolean> {
    setBusy(true);
    setOutcome(null);
    try {
      await fn();
      setOutcome({ text: done });
      return true;
    } catch (e) {
      setOutcome({ error: asApiError(e) });
      return false;
    } finally {
      setBusy(false);
    }
  }
  const view = (
    <div class="outcome">
      {outcome && 'error' in outcome ? <Problem error={outcome.error} /> : null}
      <p role="status" class={outcome && 'text' in outcome ? 'notice ok' : 'sr-only'}>
        {outcome && 'text' in outcome ? outcome.text : ''}
      </p>
    </div>
  );
  return { run, busy, view };
}

// ---------------------------------------------------------------------------------------------
// Forms

export interface Field {
  /** The API field; dotted for nested ones (`litellm_params.model`). */
  name: string;
  label: string;
  /** `datetime`: a date and time in UTC (labelled so), sent as an ISO time. */
  kind?: 'text' | 'number' | 'list' | 'select' | 'checkbox' | 'password' | 'date' | 'datetime' | 'email';
  options?: readonly (readonly [value: string, label: string])[];
  hint?: string;
  required?: boolean;
  autocomplete?: string;
  /** Fields of one group are shown together under its name, collapsed until opened (or an error lands there). */
  group?: string;
  /** Once set, the API takes a new value but no removal: an edit that empties it is refused here, not sent. */
  kept?: boolean;
}

/** LiteLLM's rate limits (docs/rate-limits.md), on keys, users, teams and organizations. */
export const RATE_LIMIT_FIELDS: Field[] = [
  { name: 'rpm_limit', label: 'Requests per minute', kind: 'number', hint: 'Empty: no limit.' },
  { name: 'tpm_limit', label: 'Tokens per minute', kind: 'number', hint: 'Empty: no limit.' },
  { name: 'max_parallel_requests', label: 'Parallel requests', kind: 'number', hint: 'Calls in flight at once; empty: no limit.' },
];

type Value = string | boolean;
type Body = Record<string, unknown>;

function toValue(f: Field, v: unknown): Value {
  if (f.kind === 'checkbox') return v === true;
  // A select shows its first option when nothing is chosen: the value must say the same.
  if (f.kind === 'select' && (v === null || v === undefined || v === '') && !f.options?.some(([o]) => o === ''))
    return f.options?.[0]?.[0] ?? '';
  if (v === null || v === undefined) return '';
  if (Array.isArray(v)) return v.join(', ');
  return String(v);
}

/** A form value as the API takes it; undefined leaves it out, null clears it (edit forms). */
function fromValue(f: Field, v: Value, clearing: boolean): unknown {
  if (f.kind === 'checkbox') return v;
  const s = String(v).trim();
  if (s === '') return clearing ? (f.kind === 'list' ? [] : null) : undefined;
  if (f.kind === 'number') return Number(s);
  if (f.kind === 'list')
    return s
      .split(',')
      .map((x) => x.trim())
      .filter((x) => x.length > 0);
  if (f.kind === 'datetime') return utcTime(s);
  return s;
}

/**
 * A `datetime-local` value (`YYYY-MM-DDTHH:mm[:ss]`) read as UTC, as the console shows every time:
 * `new Date(s)` reads it in the browser's zone, hours away from the UTC times in the tables.
 */
function utcTime(s: string): string {
  const d = new Date(/(Z|[+-]\d\d:\d\d)$/.test(s) ? s : `${s}Z`);
  return Number.isNaN(d.getTime()) ? s : d.toISOString();
}

/**
 * Why a number field's text is not a number, or undefined when it is one (or empty). The field is
 * a text field: a number field reports text it cannot read (`$50`, `1,000`, `1e`) as empty, which
 * an edit sent as "no limit" (found by review).
 */
function notANumber(f: Field, v: Value): string | undefined {
  if (f.kind !== 'number') return undefined;
  const s = String(v).trim();
  if (s === '' || (/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(s) && Number.isFinite(Number(s)))) return undefined;
  return `${f.label}: "${s}" is not a number (write it like 50 or 0.5, without a currency sign or thousands separators)`;
}

/** Why an edit may not empty a field (a `kept` one that had a value), or undefined. */
function notRemovable(f: Field, v: Value, before: Value | undefined): string | undefined {
  if (!f.kept || String(v).trim() !== '' || String(before ?? '').trim() === '') return undefined;
  return `${f.label}: once set, it can be changed, not removed (it is still ${String(before)})`;
}

function setPath(body: Body, path: string, value: unknown): void {
  const parts = path.split('.');
  let at = body;
  for (const p of parts.slice(0, -1)) {
    at[p] ??= {};
    at = at[p] as Body;
  }
  at[parts[parts.length - 1] as string] = value;
}

function getPath(body: Body | undefined, path: string): unknown {
  let at: unknown = body;
  for (const p of path.split('.')) at = at && typeof at === 'object' ? (at as Body)[p] : undefined;
  return at;
}

/**
 * The field an API error's `param` names: list indexes dropped (`models.0` is `models`,
 * `member.0.user_id` is `member.user_id`), else the closest enclosing field.
 */
export function fieldOf(fields: readonly Field[], param: string | null): Field | undefined {
  if (!param) return undefined;
  const path = param
    .split('.')
    .filter((s) => !/^\d+$/.test(s))
    .join('.');
  return (
    fields.find((f) => f.name === path) ??
    fields.filter((f) => path.startsWith(`${f.name}.`)).sort((a, b) => b.name.length - a.name.length)[0]
  );
}

const domId = (form: string, name: string) => `${form}-${name.replace(/[^A-Za-z0-9_-]/g, '-')}`;

export interface FormProps {
  id: string;
  title: string;
  fields: Field[];
  submitLabel: string;
  /**
   * `create` leaves empty fields out; `edit` sends only what changed (emptied: null, no limit);
   * `filter` is `create` without a reset after success.
   */
  mode?: 'create' | 'edit' | 'filter';
  initial?: Body | undefined;
  /** Fields always sent (the entity an edit is about). */
  fixed?: Body;
  /** Resolves to the message to announce (none for filters); throws the API's error. */
  onSubmit(body: Body): Promise<string | undefined>;
  children?: ComponentChildren;
}

export function Form({ id, title, fields, submitLabel, mode = 'create', initial, fixed, onSubmit, children }: FormProps) {
  const start = () => Object.fromEntries(fields.map((f) => [f.name, toValue(f, getPath(initial, f.name))]));
  const [values, setValues] = useState<Record<string, Value>>(start);
  // The fields the user edited and has not saved yet, each with the number of its latest edit. The
  // record read again (after a save) replaces every other field, else an edit would send back the
  // old value of a field the API changed (as if the admin had changed it). Edits are counted, not
  // compared with what was shown: typing the shown value back as a reload lands is still typing.
  const edited = useRef(new Map<string, number>());
  const edits = useRef(0);
  const startKey = JSON.stringify(start());
  useEffect(() => {
    const now = start();
    setValues(
      (v) => Object.fromEntries(fields.map((f) => [f.name, edited.current.has(f.name) ? v[f.name] : now[f.name]])) as Record<string, Value>,
    );
  }, [startKey]);
  const [fieldError, setFieldError] = useState<{ name: string; message: string } | null>(null);
  const [formError, setFormError] = useState<ApiError | null>(null);
  const [done, setDone] = useState('');
  const [busy, setBusy] = useState(false);
  const [opened, setOpened] = useState<ReadonlySet<string>>(new Set());
  // After the render that opened the error's group: a field in a closed group cannot take the focus.
  useEffect(() => {
    if (fieldError) document.getElementById(domId(id, fieldError.name))?.focus();
  }, [fieldError]);

  async function submit(e: Event) {
    e.preventDefault();
    const body: Body = { ...(fixed ?? {}) };
    const before = start();
    const problem = (f: Field) =>
      notANumber(f, values[f.name] ?? '') ?? (mode === 'edit' ? notRemovable(f, values[f.name] ?? '', before[f.name]) : undefined);
    const unreadable = fields.find((f) => problem(f) !== undefined);
    if (unreadable) {
      setDone('');
      setFormError(null);
      setFieldError({ name: unreadable.name, message: problem(unreadable) as string });
      if (unreadable.group) setOpened((o) => new Set(o).add(unreadable.group as string));
      return;
    }
    for (const f of fields) {
      const v = values[f.name] ?? '';
      if (mode === 'edit' && v === before[f.name]) continue;
      const out = fromValue(f, v, mode === 'edit');
      if (out !== undefined) setPath(body, f.name, out);
    }
    setBusy(true);
    setFieldError(null);
    setFormError(null);
    setDone('');
    const submitted = new Map(edited.current);
    try {
      const message = await onSubmit(body);
      // Saved: a field not edited again since follows the record from now on.
      for (const [name, edit] of submitted) if (edited.current.get(name) === edit) edited.current.delete(name);
      // Filters say nothing: the list they drive is the answer.
      setDone(message ?? '');
      if (mode === 'create') {
        edited.current.clear();
        setValues(start());
      }
    } catch (err) {
      const apiError = asApiError(err);
      const field = fieldOf(fields, apiError.body.param);
      if (field) {
        setFieldError({ name: field.name, message: apiError.message });
        if (field.group) setOpened((o) => new Set(o).add(field.group as string));
      } else setFormError(apiError);
    } finally {
      setBusy(false);
    }
  }

  function fieldView(f: Field) {
    const fid = domId(id, f.name);
    const error = fieldError?.name === f.name ? fieldError.message : undefined;
    const describedBy = [f.hint ? `${fid}-hint` : '', error ? `${fid}-error` : ''].filter(Boolean).join(' ') || undefined;
    const common = {
      id: fid,
      name: f.name,
      'aria-invalid': error ? ('true' as const) : undefined,
      'aria-describedby': describedBy,
      'aria-required': f.required ? ('true' as const) : undefined,
    };
    const set = (v: Value) => {
      edits.current += 1;
      edited.current.set(f.name, edits.current);
      setValues((s) => ({ ...s, [f.name]: v }));
    };
    const label = (
      <label for={fid}>
        {f.label}
        {f.kind === 'datetime' ? ' (UTC)' : null}
        {f.required ? <span class="req"> (required)</span> : null}
      </label>
    );
    let control: ComponentChildren;
    if (f.kind === 'checkbox') {
      control = (
        <input
          {...common}
          type="checkbox"
          checked={values[f.name] === true}
          onChange={(e) => set((e.currentTarget as HTMLInputElement).checked)}
        />
      );
    } else if (f.kind === 'select') {
      control = (
        <select {...common} value={String(values[f.name] ?? '')} onChange={(e) => set((e.currentTarget as HTMLSelectElement).value)}>
          {(f.options ?? []).map(([value, text]) => (
            <option value={value}>{text}</option>
          ))}
        </select>
      );
    } else {
      // A number is typed as text (inputmode decimal): the text is kept as typed and checked on submit.
      const type =
        f.kind === 'password'
          ? 'password'
          : f.kind === 'date'
            ? 'date'
            : f.kind === 'datetime'
              ? 'datetime-local'
              : f.kind === 'email'
                ? 'email'
                : 'text';
      control = (
        <input
          {...common}
          // One text-like control for several types (Preact's types split them per type).
          type={type as 'text'}
          {...(f.kind === 'number' ? { inputMode: 'decimal' as const } : {})}
          autocomplete={f.autocomplete ?? 'off'}
          spellcheck={false}
          value={String(values[f.name] ?? '')}
          onInput={(e) => set((e.currentTarget as HTMLInputElement).value)}
        />
      );
    }
    return (
      <div class={`field${f.kind === 'checkbox' ? ' check' : ''}`}>
        {f.kind === 'checkbox' ? (
          <>
            {control}
            {label}
          </>
        ) : (
          <>
            {label}
            {control}
          </>
        )}
        {f.hint ? (
          <p id={`${fid}-hint`} class="hint">
            {f.hint}
          </p>
        ) : null}
        {error ? (
          <p id={`${fid}-error`} class="field-error">
            {error}
          </p>
        ) : null}
      </div>
    );
  }

  return (
    <form id={id} class="form" onSubmit={submit} noValidate aria-labelledby={`${id}-title`}>
      <h3 id={`${id}-title`}>{title}</h3>
      {children}
      <div class="fields">{fields.filter((f) => !f.group).map(fieldView)}</div>
      {[...new Set(fields.flatMap((f) => (f.group ? [f.group] : [])))].map((group) => {
        const inGroup = fields.filter((f) => f.group === group);
        const given = inGroup.filter((f) => values[f.name] !== '' && values[f.name] !== false).length;
        return (
          <details
            class="field-group"
            open={opened.has(group)}
            onToggle={(e) => {
              const open = (e.currentTarget as HTMLDetailsElement).open;
              setOpened((o) => {
                const next = new Set(o);
                if (open) next.add(group);
                else next.delete(group);
                return next;
              });
            }}
          >
            <summary>
              {group}
              {given > 0 ? ` (${given} given)` : ''}
            </summary>
            <div class="fields">{inGroup.map(fieldView)}</div>
          </details>
        );
      })}
      {formError ? <Problem error={formError} /> : null}
      <div class="actions">
        <button type="submit" disabled={busy}>
          {submitLabel}
        </button>
        <span role="status" class="done">
          {done}
        </span>
      </div>
    </form>
  );
}

// ---------------------------------------------------------------------------------------------
// Tables and budgets

export interface Column<T> {
  header: string;
  cell(row: T): ComponentChildren;
  numeric?: boolean;
}

export function Table<T>({
  caption,
  rows,
  columns,
  empty,
  rowKey,
}: {
  caption: string;
  rows: readonly T[];
  columns: Column<T>[];
  empty: string;
  rowKey(row: T): string;
}) {
  if (rows.length === 0) return <p class="muted">{empty}</p>;
  return (
    // Focusable so a keyboard can scroll a wide table (axe: scrollable-region-focusable).
    // biome-ignore lint/a11y/noNoninteractiveTabindex: a scrollable region must take the focus to be scrolled by keyboard
    <section class="table-wrap" aria-label={caption} tabIndex={0}>
      <table>
        <caption>{caption}</caption>
        <thead>
          <tr>
            {columns.map((c) => (
              <th scope="col" class={c.numeric ? 'num' : undefined}>
                {c.header}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {rows.map((r) => (
            <tr key={rowKey(r)}>
              {columns.map((c) => (
                <td class={c.numeric ? 'num' : undefined}>{c.cell(r)}</td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

/** Spend against a budget, as the API reported both (the API applies the rule; this shows it). */
export function BudgetMeter({ spend, max, label }: { spend: number | undefined; max: number | null | undefined; label: string }) {
  const s = spend ?? 0;
  const limited = max !== null && max !== undefined;
  const reached = limited && s >= max;
  return (
    <span class="budget">
      <span>
        {spendOf(s, max)} of {budget(max)}
      </span>
      {limited && max > 0 ? (
        <meter
          min={0}
          max={max}
          value={Math.min(s, max)}
          low={max * 0.5}
          high={max * 0.8}
          optimum={0}
          aria-label={`${label}: ${spendOf(s, max)} of ${budget(max)}`}
        />
      ) : null}
      {reached ? <strong class="reached"> budget reached</strong> : null}
    </span>
  );
}

export const ResetAt = ({ at }: { at: string | null | undefined }) => <span class="muted">{at ? `resets ${when(at)}` : 'no period'}</span>;

/** What a budgeted record reports of its spend (the API's `spend`, `max_budget`, `budget_reset_at`, `total_spend`). */
export interface Spending {
  spend?: number | undefined;
  total_spend?: number | undefined;
  max_budget?: number | null | undefined;
  budget_reset_at?: string | null | undefined;
}

/** A list's budget columns: spend against the budget (the meter named by `label`), and when the period resets. */
export const budgetColumns = <T extends Spending>(label: (row: T) => string, header = 'Spend / budget'): Column<T>[] => [
  { header, cell: (r) => <BudgetMeter spend={r.spend} max={r.max_budget} label={label(r)} /> },
  { header: 'Period', cell: (r) => <ResetAt at={r.budget_reset_at} /> },
];

/** A record's spend in its summary's facts: against its budget with the reset, and in all. */
export const SpendFacts = ({ record, label }: { record: Spending; label: string }) => (
  <>
    <dt>Spend / budget</dt>
    <dd>
      <BudgetMeter spend={record.spend} max={record.max_budget} label={label} /> <ResetAt at={record.budget_reset_at} />
    </dd>
    <dt>Total spend</dt>
    <dd>{money(record.total_spend ?? record.spend)}</dd>
  </>
);

// ---------------------------------------------------------------------------------------------
// A new key's plaintext, shown once

/** `note`: what else the holder must know (the key was the session's own), read with the key. */
export function SecretOnce({
  id,
  secret,
  name,
  note,
  onDismiss,
}: {
  id: string;
  secret: string;
  name: string;
  note?: ComponentChildren;
  onDismiss(): void;
}) {
  const [copied, setCopied] = useState('');
  const input = useRef<HTMLInputElement>(null);
  useEffect(() => input.current?.focus(), []);
  async function copy() {
    try {
      await navigator.clipboard.writeText(secret);
      setCopied('Copied to the clipboard.');
    } catch {
      input.current?.select();
      setCopied('The clipboard is not available here: the key is selected, copy it with Ctrl+C.');
    }
  }
  return (
    <section class="secret" aria-labelledby={`${id}-title`}>
      <h3 id={`${id}-title`}>New key {name}</h3>
      <p>
        <strong>Copy it now: it is shown only this once.</strong> Tollgate keeps only its hash.
      </p>
      {note ? (
        <p id={`${id}-note`} class="notice error">
          {note}
        </p>
      ) : null}
      <div class="field">
        <label for={`${id}-value`}>Key</label>
        <input
          id={`${id}-value`}
          ref={input}
          class="mono"
          readOnly
          aria-describedby={note ? `${id}-note` : undefined}
          value={secret}
          onFocus={(e) => (e.currentTarget as HTMLInputElement).select()}
        />
      </div>
      <div class="actions">
        <button type="button" onClick={copy}>
          Copy key
        </button>
        <button type="button" class="secondary" onClick={onDismiss}>
          I have copied it
        </button>
        <span role="status">{copied}</span>
      </div>
    </section>
  );
}

export interface EditFormProps {
  /** The form's id. */
  id: string;
  /** What is edited, in lower case: `key`, `budget`, `end user`. */
  noun: string;
  /** The record's name in the title (and the saved message unless `savedName` says otherwise). */
  name: string;
  savedName?: string;
  record: object;
  /** Fields always sent: the id the update is about. */
  fixed: Body;
  fields: Field[];
  /** Sends the changed fields (the update route); then the page reloads what it shows. */
  save(body: Body): Promise<unknown>;
}

export interface EditPanelProps extends EditFormProps {
  onClose(): void;
}

/** One record's edit form: only what changed is sent, then `<Noun> <name> saved.` is announced. */
export function EditForm({ id, noun, name, savedName, record, fixed, fields, save }: EditFormProps) {
  return (
    <Form
      id={id}
      title={`Edit ${noun} ${name}`}
      submitLabel={`Save ${noun}`}
      mode="edit"
      initial={record as Body}
      fixed={fixed}
      fields={fields}
      onSubmit={async (body) => {
        await save(body);
        return `${noun[0]?.toUpperCase()}${noun.slice(1)} ${savedName ?? name} saved.`;
      }}
    />
  );
}

/** One record's editor under its list: its edit form, and a close button. */
export function EditPanel({ onClose, ...form }: EditPanelProps) {
  return (
    <div class="panel">
      <EditForm key={JSON.stringify(form.fixed)} {...form} />
      <button type="button" class="secondary" onClick={onClose}>
        Close the editor
      </button>
    </div>
  );
}

export function Section({ title, id, children }: { title: string; id: string; children: ComponentChildren }) {
  return (
    <section aria-labelledby={id} class="section">
      <h2 id={id}>{title}</h2>
      {children}
    </section>
  );
}

/** More of a paginated list (the API's `next_cursor`). */
export function More({ cursor, onMore, what }: { cursor: string | null | undefined; onMore(cursor: string): void; what: string }) {
  if (!cursor) return null;
  return (
    <button type="button" class="secondary" onClick={() => onMore(cursor)}>
      Load more {what}
    </button>
  );
}

export const confirmed = (question: string): boolean => window.confirm(question);

/** The page's heading; focused on navigation so screen readers and keyboards start there. */
export const Title = ({ children }: { children: ComponentChildren }) => (
  <h1 id="page-title" tabIndex={-1}>
    {children}
  </h1>
);
