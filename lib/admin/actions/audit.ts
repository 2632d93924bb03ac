/** `/audit`: the audit log by entity (its history) or by time (everything, newest first). */
import { z } from 'zod';
import type { AuditRecord } from '../../domain/audit.js';
import { InvalidRequestError } from '../../errors.js';
import { listings } from '../../store/listings.js';
import { type Actions, action } from '../http/handler.js';
import { queryPage } from '../persistence.js';
import { requireProxyAdmin } from '../rules/actor.js';
import { limit } from '../schema/fields.js';

/** A time in years 0000-9999: the audit log's sort keys are ISO strings, which sort by time only there. */
const isoTime = z.string().refine((s) => {
  const t = Date.parse(s);
  // Years past 9999 or before 0000 print as `+010000-…` / `-000001-…` (27 characters, not 24).
  return !Number.isNaN(t) && new Date(t).toISOString().length === 24;
}, 'must be an ISO 8601 time in the years 0000-9999');

export const auditActions: Actions = {
  list: action(
    z
      .object({
        entity_type: z.enum(['key', 'team', 'user', 'organization', 'end_user', 'budget', 'model', 'team_member']).optional(),
        entity_id: z.string().min(1).max(300).optional(),
        since: isoTime.optional(),
        until: isoTime.optional(),
        cursor: z.string().optional(),
        limit: limit.optional(),
      })
      .strict(),
    async (q, { actor }) => {
      requireProxyAdmin(actor, 'read the audit log');
      if ((q.entity_type === undefined) !== (q.entity_id === undefined)) {
        throw new InvalidRequestError(
          '`entity_type` and `entity_id` go together',
          'invalid_field',
          q.entity_type ? 'entity_id' : 'entity_type',
        );
      }
      if (q.since && q.until && Date.parse(q.since) > Date.parse(q.until))
        throw new InvalidRequestError('`since` must not be after `until`', 'invalid_field', 'since');
      const since = q.since ? new Date(q.since).toISOString() : '0000';
      const until = q.until ? `${new Date(q.until).toISOString()}~` : '9999';
      const between: [string, string] = [since, until];
      const page = await queryPage<AuditRecord>({
        ...(q.entity_type && q.entity_id ? listings.auditOf(q.entity_type, q.entity_id, between) : listings.auditByTime(between)),
        cursor: q.cursor,
        limit: q.limit ?? 100,
        ascending: false,
      });
      return page;
    },
  ),
};
