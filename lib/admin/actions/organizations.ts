/**
 * `/organization/*`: organizations, the teams under them (listed by organization) and their
 * members. Writes are proxy-admin only; an organization may be read by proxy admins and by its
 * own members (the user record's `organization_id`).
 *
 * Deliberate choices: an organization is deleted only once no team belongs to it (409
 * `organization_has_teams`), its members are released in the same transaction when they fit in
 * one, else in chunks before it (so repeating an interrupted delete finishes it); a user belongs
 * to one organization, so `member_add` moves a user who was in another one (the answer and the
 * audit log name the previous organization).
 */
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { AuditEntry } from '../../domain/audit.js';
import { rateChangeStamp } from '../../domain/rate-limits.js';
import type { OrgRecord, TeamRecord } from '../../domain/records.js';
import { ORG_ROLES, type OrgMemberRecord } from '../../domain/records.js';
import { ConflictError, ForbiddenError, InvalidRequestError, NotFoundError } from '../../errors.js';
import { encode } from '../../store/codec.js';
import { refs } from '../../store/keys.js';
import { listings } from '../../store/listings.js';
import { membershipOps } from '../../store/org-members.js';
import {
  addChild,
  childrenUnchanged,
  definedFields,
  deleteAny,
  deleteExisting,
  putNew,
  setFields,
  stillHolds,
} from '../../store/writes.js';
import { commitInChunks, commitTogether, fitsInOne, type Unit, untilIndexed } from '../cascade.js';
import { type Actions, action } from '../http/handler.js';
import { find, load, notFound, queryAll, queryPage, type TxOp, transact } from '../persistence.js';
import { type Actor, isProxyAdmin, requireProxyAdmin } from '../rules/actor.js';
import { budgetUpdateAttributes, budgetView } from '../schema/budget-view.js';
import { alertFields, budgetFields, id, limit, metadata, models, rateLimitFields } from '../schema/fields.js';
import { childAdded } from './teams.js';

const orgFields = {
  organization_alias: z.string().min(1).max(256).nullable().optional(),
  models: models.optional(),
  ...budgetFields,
  ...rateLimitFields,
  ...alertFields,
  metadata: metadata.optional(),
};

const member = z.object({ user_id: id, role: z.enum(ORG_ROLES).default('internal_user') }).strict();
/** LiteLLM takes one member or a list; one becomes a list of one, so errors name `member.0.role`. */
const oneOrMany = <T extends z.ZodType>(item: T, max: number) =>
  z.preprocess((v) => (v !== null && typeof v === 'object' && !Array.isArray(v) ? [v] : v), z.array(item).min(1).max(max));

const audit = (verb: string, orgId: string, changes?: Record<string, unknown>): AuditEntry => ({
  action: `organization.${verb}`,
  entity_type: 'organization',
  entity_id: orgId,
  ...(changes ? { changes } : {}),
});

const teamsOf = (orgId: string) => queryAll<TeamRecord>(listings.teamsOfOrg(orgId));
const membersOf = (orgId: string) => queryAll<OrgMemberRecord>(listings.membersOfOrg(orgId));

/** An organization may not shrink below what its teams already have. */

/** Proxy admins read any organization; a user reads the one they belong to. */
async function requireCanRead(actor: Actor, orgId: string): Promise<void> {
  if (isProxyAdmin(actor)) return;
  const user = actor.userId ? await find('user', actor.userId) : undefined;
  if (user && user.organization_id === orgId) return;
  throw new ForbiddenError(`only a proxy admin or a member of organization \`${orgId}\` may read it`);
}

export const organizationActions: Actions = {
  new: action(z.object({ organization_id: id.optional(), ...orgFields }).strict(), async (input, { actor, now }) => {
    requireProxyAdmin(actor, 'create organizations');
    const { organization_id, ...fields } = input;
    const orgId = organization_id ?? randomUUID();
    const set = definedFields(fields);
    const org: OrgRecord = { organization_id: orgId, ...set, spend: 0, created_at: now.toISOString() };
    await transact(
      [
        putNew(
          refs.org(orgId),
          encode.org(org),
          () => new ConflictError('organization_exists', `organization \`${orgId}\` already exists`, 'organization_id'),
        ),
      ],
      actor,
      audit('new', orgId, set),
      now,
    );
    return budgetView(org, now);
  }),

  update: action(z.object({ organization_id: id, ...orgFields }).strict(), async (input, { actor, now }) => {
    requireProxyAdmin(actor, 'update organizations');
    const { organization_id: orgId, ...fields } = input;
    const set = definedFields(fields);
    if (Object.keys(set).length === 0)
      throw new InvalidRequestError('nothing to update: name at least one field besides `organization_id`', 'nothing_to_update');
    const current = await load('organization', orgId);
    // A new budget period counts from now (budget_set_at), as for every entity with a budget.
    const period = budgetUpdateAttributes(current, set.budget_duration, undefined, now);
    // Narrowing an organization never waits on its teams: every request checks the whole chain.
    await transact(
      [
        setFields(
          refs.org(orgId),
          { ...set, ...period, ...rateChangeStamp(current, set, now), updated_at: now.toISOString() },
          notFound('organization', orgId),
        ),
      ],
      actor,
      audit('update', orgId, set),
      now,
    );
    return budgetView(await load('organization', orgId), now);
  }),

  delete: action(z.object({ organization_ids: z.array(id).min(1).max(20) }).strict(), async ({ organization_ids }, { actor, now }) => {
    requireProxyAdmin(actor, 'delete organizations');
    const ids = [...new Set(organization_ids)];
    const plans: { units: Unit[]; last: Unit }[] = [];
    // Read before listing: the delete is held to it, so a team or member added meanwhile refuses it.
    const orgs: OrgRecord[] = [];
    for (const orgId of ids) orgs.push(await load('organization', orgId));
    // The index lag waited out for all at once (one after another, 20 could pass API Gateway's 29 s).
    await Promise.all(orgs.map(untilIndexed));
    for (const org of orgs) {
      const orgId = org.organization_id;
      const teams = await teamsOf(orgId);
      if (teams.length > 0) {
        const names = teams
          .slice(0, 5)
          .map((t) => `\`${t.team_id}\``)
          .join(', ');
        throw new ConflictError(
          'organization_has_teams',
          `organization \`${orgId}\` still has ${teams.length} team(s) (${names}); delete or move them first`,
          'organization_ids',
        );
      }
      const released: string[] = [];
      const units: Unit[] = [];
      for (const m of await membersOf(orgId)) {
        const ops: TxOp[] = [deleteAny(refs.orgMember(orgId, m.user_id))];
        const user = await find('user', m.user_id);
        // Only users still in this organization are released; a user moved meanwhile is left alone.
        if (user?.organization_id === orgId) {
          released.push(m.user_id);
          ops.push(
            setFields(
              refs.user(m.user_id),
              { organization_id: null, updated_at: now.toISOString() },
              () => new ConflictError('concurrent_update', `user \`${m.user_id}\` changed meanwhile; retry`),
              {
                expression: '#org = :org',
                names: { '#org': 'organization_id' },
                values: { ':org': orgId },
              },
            ),
          );
        }
        units.push({
          ops,
          audit: [
            {
              action: 'organization.member_release',
              entity_type: 'user',
              entity_id: m.user_id,
              changes: { previous_organization_id: orgId, reason: 'organization.delete' },
            },
          ],
        });
      }
      const last: Unit = {
        ops: [deleteExisting(refs.org(orgId), childAdded('organization', orgId), childrenUnchanged(org))],
        audit: [audit('delete', orgId, released.length > 0 ? { released_members: released } : undefined)],
      };
      plans.push({ units, last });
    }
    // The organization's own audit entry names every member it released: the members' own go only
    // where they must land apart from it.
    const together = (p: { units: Unit[]; last: Unit }): Unit[] => [...p.units.map((u) => ({ ops: u.ops, audit: [] })), p.last];
    const everything = plans.flatMap(together);
    if (fitsInOne(everything)) await commitTogether(everything, actor, now);
    else {
      for (const p of plans) {
        if (fitsInOne(together(p))) {
          await commitTogether(together(p), actor, now);
          continue;
        }
        // Too big for one transaction: members are released first (repeating an interrupted delete
        // finds the rest), the organization goes last.
        await commitInChunks(p.units, actor, now);
        await commitTogether([p.last], actor, now);
      }
    }
    return { deleted_organization_ids: ids };
  }),

  info: action(z.object({ organization_id: id }).strict(), async ({ organization_id: orgId }, { actor, now }) => {
    await requireCanRead(actor, orgId);
    const org = await load('organization', orgId);
    const [teams, members] = await Promise.all([teamsOf(orgId), membersOf(orgId)]);
    return {
      ...budgetView(org, now),
      teams: teams.map((t) => budgetView(t, now)),
      members: members.map(({ organization_id, user_id, user_role, created_at }) => ({ organization_id, user_id, user_role, created_at })),
    };
  }),

  list: action(z.object({ cursor: z.string().optional(), limit: limit.optional() }).strict(), async (q, { actor, now }) => {
    requireProxyAdmin(actor, 'list organizations');
    const page = await queryPage<OrgRecord>({ ...listings.all('org'), cursor: q.cursor, limit: q.limit ?? 100 });
    return { data: page.data.map((o) => budgetView(o, now)), next_cursor: page.next_cursor };
  }),

  member_add: action(z.object({ organization_id: id, member: oneOrMany(member, 20) }).strict(), async (input, { actor, now }) => {
    requireProxyAdmin(actor, 'add organization members');
    const orgId = input.organization_id;
    const list = input.member;
    const seen = new Set<string>();
    for (const m of list) {
      if (seen.has(m.user_id)) throw new InvalidRequestError(`user \`${m.user_id}\` is listed twice`, 'duplicate_member', 'member');
      seen.add(m.user_id);
    }
    await load('organization', orgId);
    const at = now.toISOString();
    // The organization must still exist when the members land (and a delete that listed its members before is refused).
    const ops: TxOp[] = [addChild(refs.org(orgId), notFound('organization', orgId), now)];
    const entries: AuditEntry[] = [audit('member_add', orgId, { members: list.map((m) => ({ user_id: m.user_id, role: m.role })) })];
    const updatedUsers: { user_id: string; organization_id: string; previous_organization_id: string | null }[] = [];
    const memberships: OrgMemberRecord[] = [];
    for (const m of list) {
      const user = await find('user', m.user_id);
      if (!user) throw new NotFoundError('user', m.user_id);
      const from = user.organization_id ?? null;
      const existing = from === orgId ? await find('org_member', orgId, m.user_id) : undefined;
      const membership: OrgMemberRecord = {
        organization_id: orgId,
        user_id: m.user_id,
        user_role: m.role,
        created_at: existing?.created_at ?? at,
      };
      // Held to the organization it leaves: a concurrent move elsewhere (or a delete) would leave that one's membership behind.
      ops.push(
        setFields(
          refs.user(m.user_id),
          { organization_id: orgId, updated_at: at },
          () => new ConflictError('concurrent_update', `user \`${m.user_id}\` changed organization meanwhile (or is gone); retry`),
          stillHolds('organization_id', from),
        ),
      );
      ops.push(...membershipOps(m.user_id, from, membership));
      entries.push({
        action: 'organization.member_add',
        entity_type: 'user',
        entity_id: m.user_id,
        changes: {
          organization_id: orgId,
          organization_role: m.role,
          ...(from && from !== orgId ? { previous_organization_id: from } : {}),
        },
      });
      updatedUsers.push({ user_id: m.user_id, organization_id: orgId, previous_organization_id: from !== orgId ? from : null });
      memberships.push(membership);
    }
    await transact(ops, actor, entries, now);
    return { organization_id: orgId, updated_users: updatedUsers, updated_organization_memberships: memberships };
  }),
};
