/**
 * The audit log's records: who changed what, when, with the changed fields and never a secret.
 * Redaction happens here, before anything is stored: by field name and by value shape, at any
 * depth of nesting.
 */
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

/** Field names that hold credentials: `api_key`, `x-api-key`, `Authorization`, `client_secret`, `password`... */
const SECRET_FIELD =
  /(^|[_-])(key|token|secret|password|passwd|api[_-]?key|master[_-]?key|authorization|credentials?|webhook(?:[_-]?url)?)$/i;
/** And in camelCase: `clientSecret`, `accessToken`, `slackWebhookUrl`. */
const SECRET_CAMEL = /[a-z0-9](Key|Token|Secret|Password|Passwd|Authorization|Credentials?|Webhook(?:Url)?)$/;
const isSecretField = (k: string): boolean => SECRET_FIELD.test(k) || SECRET_CAMEL.test(k);
/** Values shaped like credentials wherever they appear: `sk-...` keys, bearer tokens, JWTs. */
const SECRET_VALUE =
  /\bsk-[A-Za-z0-9_-]{8,}|\bbearer\s+[A-Za-z0-9._~+/-]{8,}|\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}|\b(?:ghp|gho|ghu|ghs|github_pat|xox[abpr]|glpat)[-_][A-Za-z0-9_-]{8,}|https?:\/\/hooks\.slack\.com\/\S+|https?:\/\/[^\s/]*\b(?:webhook\.office|discord(?:app)?\.com\/api\/webhooks)\S*|https?:\/\/[^\s/@]+:[^\s/@]+@/i;
const REDACTED = '[redacted]';
/** Deeper than any metadata the admin API accepts; past it, nothing is kept. */
const MAX_DEPTH = 32;

function redactValue(value: unknown, depth: number): unknown {
  if (typeof value === 'string') return SECRET_VALUE.test(value) ? REDACTED : value;
  if (value === null || typeof value !== 'object') return value;
  if (depth >= MAX_DEPTH) return REDACTED;
  if (Array.isArray(value)) return value.map((v) => redactValue(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    if (v === undefined) continue;
    // defineProperty: a field named `__proto__` is kept as data, never as the prototype.
    Object.defineProperty(out, k, {
      value: isSecretField(k) ? REDACTED : redactValue(v, depth + 1),
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return out;
}

/**
 * Drops anything that could be a credential, at any depth: fields named like one and values
 * shaped like one. Field names are kept, so the log still says what changed.
 */
export function redact(changes: Record<string, unknown> | undefined): Record<string, unknown> | undefined {
  if (!changes) return undefined;
  return redactValue(changes, 0) as Record<string, unknown>;
}
