/**
 * The audit log: every change the admin API makes writes one item in the same transaction as
 * the change (who, action, entity, when, changed fields), never a secret. Items live under
 * AUDIT#<entity type>#<entity id> (history of one entity) and in GSI1 under AUDIT (by time).
 */
import { randomUUID } from 'node:crypto';
import type { Item } from '../store/codec.js';
import { actorLabel, type Actor } from './actor.js';

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

const SECRET_FIELD = /(^|_)(key|token|secret|password|api_key|master_key)$/i;

/** Drops anything that could be a credential; keeps field names so the log says what changed. */
export function redact(changes: Record<string, unknown> | undefined): Record<string, unknown> | undefined {
  if (!changes) return undefined;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(changes)) {
    if (v === undefined) continue;
    out[k] = SECRET_FIELD.test(k) ? '[redacted]' : typeof v === 'string' && /\bsk-[A-Za-z0-9_-]{8,}/.test(v) ? '[redacted]' : v;
  }
  return out;
}

export function auditItem(actor: Actor, entry: AuditEntry, at: Date): Item {
  const ts = at.toISOString();
  const auditId = randomUUID();
  const record: AuditRecord = {
    audit_id: auditId,
    actor: actorLabel(actor),
    actor_role: actor.role,
    at: ts,
    action: entry.action,
    entity_type: entry.entity_type,
    entity_id: entry.entity_id,
    ...(entry.changes ? { changes: redact(entry.changes) } : {}),
  };
  return {
    PK: `AUDIT#${entry.entity_type}#${entry.entity_id}`,
    SK: `${ts}#${auditId}`,
    kind: 'audit',
    GSI1PK: 'AUDIT',
    GSI1SK: `${ts}#${auditId}`,
    ...record,
  };
}
