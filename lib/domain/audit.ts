/**
 * The audit log's records: who changed what, when, with the changed fields and never a secret.
 * Redaction happens here, before anything is stored: by field name and by value shape, at any
 * depth of nesting, with the one detector of lib/domain/secrets.
 */
import { hasCredentialShape, isSecretName, looksLikeSecret, REDACTED, redactQuery } from './secrets.js';

export interface AuditEntry {
  /** e.g. `team.new`, `key.block` */
  action: string;
  entity_type: string;
  entity_id: string;
  /** The fields the change set, with their new values (secrets removed). */
  changes?: Record<string, unknown>;
}

export interface AuditRecord extends AuditEntry {
  audit_id: string;
  actor: string;
  actor_role: string;
  at: string;
}

/** Deeper than any metadata the admin API accepts; past it, nothing is kept. */
const MAX_DEPTH = 32;
/** Fields that name the entry's other fields, as in a header list: `{name: "Authorization", value: "..."}`. */
const NAMING_FIELDS = ['name', 'key', 'header', 'field'];

/**
 * A credential written as text under its name: a header line (`Authorization: ...`), an
 * environment line (`OPENAI_API_KEY=...`), a JSON string's field (`{"api_key":"..."}`), each
 * name judged as a field's is.
 */
const NAMED_IN_TEXT = /(?<![A-Za-z0-9_.-])([A-Za-z][A-Za-z0-9_.-]{0,63})["']?\s*[:=]\s*["']?([^\s"',;&}]{4,})/g;
/** Credentials in a URI of any scheme: `postgres://user:password@host`. */
const URI_CREDENTIALS = /[a-z][a-z0-9+.-]*:\/\/[^\s/@:]+:[^\s/@]+@/i;

/** What a header list holds as a value rather than as a word: text of 8 or more characters without spaces. */
const looksLikeAValue = (v: unknown): boolean => typeof v === 'string' && v.length >= 8 && !/\s/.test(v);

function namesSecretInText(s: string): boolean {
  for (const m of s.matchAll(NAMED_IN_TEXT)) if (m[2] !== REDACTED && isSecretName(m[1] as string)) return true;
  return URI_CREDENTIALS.test(s);
}

/** A string with its secrets removed: a URL keeps its shape with `?token=[redacted]`; other credentials go whole. */
function redactString(s: string): string {
  const kept = redactQuery(s);
  return hasCredentialShape(kept) || namesSecretInText(kept) ? REDACTED : kept;
}

/** `{name: "x-api-key", value: "..."}`: an object one of whose naming fields names a credential. */
function namesASecret(o: Record<string, unknown>): string | undefined {
  return NAMING_FIELDS.find((f) => Object.hasOwn(o, f) && typeof o[f] === 'string' && isSecretName(o[f] as string));
}

function redactValue(value: unknown, depth: number): unknown {
  if (typeof value === 'string') return redactString(value);
  if (value === null || typeof value !== 'object') return value;
  if (depth >= MAX_DEPTH) return REDACTED;
  if (Array.isArray(value)) {
    // A header pair, `["x-api-key", "..."]`, or a flat header list: a value that follows a
    // credential's name goes (in a longer list, a word such as a tag after `auth`, `["auth", "prod", "x"]`, stays).
    return value.map((v, i) =>
      i > 0 && typeof value[i - 1] === 'string' && isSecretName(value[i - 1] as string) && (value.length === 2 || looksLikeAValue(v))
        ? REDACTED
        : redactValue(v, depth + 1),
    );
  }
  const naming = namesASecret(value as Record<string, unknown>);
  const out: Record<string, unknown> = {};
  let hidden = 0;
  for (const [k, v] of Object.entries(value)) {
    if (v === undefined) continue;
    // A key used as a field name (`{"sk-...": "alice laptop"}`): the name goes, the value stays.
    const name = looksLikeSecret(k) ? `${REDACTED}${hidden++ ? ` ${hidden}` : ''}` : k;
    const secret = naming !== undefined ? k !== naming : isSecretName(k);
    // defineProperty: a field named `__proto__` is kept as data, never as the prototype.
    Object.defineProperty(out, name, {
      value: secret ? REDACTED : redactValue(v, depth + 1),
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return out;
}

/**
 * Drops anything that could be a credential, at any depth: fields named like one (any case,
 * separator or number), the values of header lists and pairs naming one, values shaped like one
 * (also URL-encoded), the secret query parameters of URLs. Field names are kept, so the log still
 * says what changed, unless a name is itself a key.
 */
export function redact(changes: Record<string, unknown> | undefined): Record<string, unknown> | undefined {
  if (!changes) return undefined;
  return redactValue(changes, 0) as Record<string, unknown>;
}
