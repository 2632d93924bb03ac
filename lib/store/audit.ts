/**
 * Audit items: every change the admin API makes writes one item in the same transaction as
 * the change (who, action, entity, when, changed fields), never a secret. Items live under
 * AUDIT#<entity type>#<entity id> (history of one entity) and in GSI1 under AUDIT (by time).
 */
import { randomUUID } from 'node:crypto';
import { type Actor, actorLabel } from '../domain/actor.js';
import { type AuditEntry, type AuditRecord, redact } from '../domain/audit.js';
import { type Item, storedValue } from './codec.js';

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
    ...(record.changes ? { changes: storedValue('changes', record.changes) } : {}),
  };
}
