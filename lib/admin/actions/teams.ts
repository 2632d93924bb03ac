/**
 * `/team/*`: teams and their members (each membership also listed under its user). Proxy admins do everything. An admin of the team (member role `admin`, internal user)
 * manages its members (not their own member budget) and may change only `team_alias` and
 * `metadata` of the team itself.
 * Members, and a team JWT for its own team, read it. Nobody else writes.
 *
 * Hierarchy, checked whenever a side changes: a team's models lie within its organization's and
 * its max_budget is not above the organization's; its keys' models and max_budget lie within the
 * team's; a member's max_budget_in_team is not above the team's.
 *
 * Deleting a team deletes its keys and memberships in one transaction when they fit; otherwise
 * the team is blocked first in its own write (its keys stop at the authorizer within the cache
 * TTL), then keys and memberships go in chunks and the team last, so repeating an interrupted
 * delete finishes it. Removing a member also deletes that user's keys in the team: leaving a
 * team takes its access away.
 */
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { Authority } from '../../domain/actor.js';
import type { AuditEntry } from '../../domain/audit.js';
import { compareCap, rateDirections } from '../../domain/limits.js';
import { rateChangeStamp } from '../../domain/rate-limits.js';
import type { MemberRecord, OrgRecord, TeamRecord, UserRecord } from '../../domain/records.js';
import { ConflictError, ForbiddenError, InvalidRequestError } from '../../errors.js';
import { encode } from '../../store/codec.js';
import { refs } from '../../store/keys.js';
import { listings, reindex } from '../../store/listings.js';
import type { Page } from '../../store/pagination.js';
import {
  addChild,
  childrenUnchanged,
  definedFields,
  deleteExisting,
  putNew,
  setFields,
  unchangedSince,
  updateFields,
} from '../../store/writes.js';
import { cascadeCounts, cascadeUnits, commitInChunks, commitTogether, fitsInOne, type Unit, untilIndexed } from '../cascade.js';
import { type Actions, action } from '../http/handler.js';
import { memberRole } from '../membership.js';
import { find, findOwn, load, notFound, queryAll, queryPage, type TxOp, transact } from '../persistence.js';
import { type Actor, isProxyAdmin, requireProxyAdmin } from '../rules/actor.js';
import { requireBudgetWithin, requireModelsWithin } from '../rules/hierarchy.js';
import { readsEveryTeamKey } from '../rules/keys.js';
import { dropLimitsDenial, limitsDenial, memberLimits, personalUserLimits, setterAfter } from '../rules/limits.js';
import { teamManagerDenial, teamReaderDenial } from '../rules/teams.js';
import { budgetUpdateAttributes, budgetView, spendFields } from '../schema/budget-view.js';
import {
  alertFields,
  budgetFields,
  id,
  limit,
  metadata,
  modelRateLimitFields,
  models,
  money,
  optionalMoney,
  rateLimitFields,
} from '../schema/fields.js';
import { keyDeleteOps, keyView, type StoredKey, teamKeysPage, teamLabel, userKeysPage } from './keys.js';

const MEMBER_ROLES = ['admin', 'user'] as const;
const memberInput = z.object({ user_id: id, role: z.enum(MEMBER_ROLES).default('user') }).strict();

const teamFields = {
  team_alias: z.string().min(1).max(256).nullable().optional(),
  organization_id: id.nullable().optional(),
  models: models.optional(),
  ...budgetFields,
  ...rateLimitFields,
  ...alertFields,
  ...modelRateLimitFields,
  spend: money.optional(),
  metadata: metadata.optional(),
  blocked: z.boolean().optional(),
};

/** What an admin of the team may change; the rest needs a proxy admin. */
const TEAM_ADMIN_FIELDS = new Set(['team_alias', 'metadata']);

const teamAudit = (verb: string, teamId: string, changes?: Record<string, unknown>): AuditEntry => ({
  action: `team.${verb}`,
  entity_type: 'team',
  entity_id: teamId,
  ...(changes ? { changes } : {}),
});
const memberAudit = (verb: string, teamId: string, userId: string, changes?: Record<string, unknown>): AuditEntry => ({
  action: `team.${verb}`,
  entity_type: 'team_member',
  entity_id: `${teamId}/${userId}`,
  ...(changes ? { changes } : {}),
});

/** A parent's delete refused: a child was added after its children were listed (or it is gone). */
export const childAdded = (entity: 'team' | 'user' | 'organization', id: string) => () =>
  new ConflictError('concurrent_update', `${entity} \`${id}\` gained a key, member or team meanwhile (or is gone); retry`);

const memberChanged = (teamId: string, userId: string) => () =>
  new ConflictError('concurrent_update', `member \`${userId}\` of team \`${teamId}\` changed meanwhile (or is gone); retry`);

/** A membership as the API shows it: LiteLLM's `max_budget_in_team` for the member budget. */
export function memberView(m: MemberRecord, now: Date) {
  const { max_budget, ...rest } = budgetView(m, now);
  return { ...rest, max_budget_in_team: max_budget ?? null };
}

export const teamView = (t: TeamRecord, now: Date) => budgetView(t, now);

/** LiteLLM's team object lists its members with their roles in `members_with_roles`. */
const rolesOf = (members: MemberRecord[]) => members.map((m) => ({ user_id: m.user_id, role: m.role }));

export const membersOf = (teamId: string) => queryAll<MemberRecord>(listings.membersOfTeam(teamId));
const keysOf = (teamId: string) => queryAll<StoredKey>(listings.keysOfTeam(teamId));

/** Proxy admins, and internal users who are admins of the team (lib/admin/rules/teams). */
export async function requireTeamManager(actor: Actor, teamId: string, what: string): Promise<void> {
  const denial = teamManagerDenial(actor, teamId, isProxyAdmin(actor) ? undefined : await memberRole(actor, teamId), what);
  if (denial) throw denial;
}

/**
 * The team's keys the actor may read (lib/admin/rules/keys), first page: every one for whoever reads
 * them all, else the actor's own in the team, paged as `/key/list?team_id=` pages them for it.
 */
async function teamKeysFor(actor: Actor, teamId: string, role: MemberRecord['role'] | undefined): Promise<Page<StoredKey>> {
  if (readsEveryTeamKey(actor, teamId, role)) return teamKeysPage(teamId);
  if (!actor.userId) return { data: [], next_cursor: null };
  const page = await userKeysPage(actor.userId);
  return { data: page.data.filter((k) => k.team_id === teamId), next_cursor: page.next_cursor };
}

type Limits = { models?: string[] | undefined; max_budget?: number | null | undefined };

async function requireTeamWithinOrg(teamId: string, team: Limits, org: OrgRecord): Promise<void> {
  const child = { label: teamLabel(teamId), models: team.models, max_budget: team.max_budget };
  const parent = { label: `organization \`${org.organization_id}\``, models: org.models, max_budget: org.max_budget };
  await requireModelsWithin(child, parent, 'models');
  requireBudgetWithin(child, parent);
}

function requireMemberBudgetWithin(budget: number | null | undefined, team: TeamRecord): void {
  requireBudgetWithin(
    { label: 'max_budget_in_team', max_budget: budget },
    { label: teamLabel(team.team_id), max_budget: team.max_budget },
    'max_budget_in_team',
  );
}

function uniqueUsers(list: { user_id: string }[], param: string): void {
  const seen = new Set<string>();
  list.forEach((m, i) => {
    if (seen.has(m.user_id))
      throw new InvalidRequestError(`user \`${m.user_id}\` is listed twice`, 'duplicate_member', `${param}.${i}.user_id`);
    seen.add(m.user_id);
  });
}

/**
 * Inside a team a user's budget and models no longer govern their calls (lib/domain/chain): only a
 * proxy admin sets them, so only a proxy admin may add a user who has them to a team (found by
 * review: a team admin added a user a proxy admin had capped at $0 and one model, who then made a
 * team key and called any team model; moving that user's key into the team was already refused).
 * Less authority is judged on the user records it read: the answer holds each user to what was
 * read, so a limit a proxy admin sets meanwhile refuses the add (409).
 */
async function joiningUsersRead(actor: Actor, userIds: readonly string[], teamId: string): Promise<ReadonlyMap<string, UserRecord>> {
  const read = new Map<string, UserRecord>();
  if (isProxyAdmin(actor)) return read;
  // Each must exist now (found by review: one made meanwhile, with limits, was added unjudged).
  for (const user of await Promise.all(userIds.map((u) => load('user', u)))) {
    const denial = dropLimitsDenial(
      'team_admin',
      'proxy_admin',
      personalUserLimits(user),
      `user \`${user.user_id}\``,
      `add them to a team (inside team \`${teamId}\` their budget and models would not govern their calls)`,
    );
    if (denial) throw denial;
    read.set(user.user_id, user);
  }
  return read;
}

const userChanged = (userId: string) => () =>
  new ConflictError('concurrent_update', `user \`${userId}\` changed meanwhile (or is gone); retry`);

/**
 * The writes that add members: each user must exist and not be a member yet; a user in `held`
 * must still be as it was read there.
 */
function memberAddOps(
  team: TeamRecord,
  list: { user_id: string; role: MemberRecord['role'] }[],
  budget: number | null | undefined,
  now: Date,
  setBy: Authority,
  held: ReadonlyMap<string, UserRecord> = new Map(),
): { ops: TxOp[]; audit: AuditEntry[]; added: MemberRecord[] } {
  const ops: TxOp[] = [];
  const audit: AuditEntry[] = [];
  const added: MemberRecord[] = [];
  for (const m of list) {
    const member: MemberRecord = {
      team_id: team.team_id,
      user_id: m.user_id,
      role: m.role,
      max_budget: budget ?? null,
      limits_set_by: setBy,
      spend: 0,
      created_at: now.toISOString(),
    };
    ops.push(
      putNew(
        refs.member(team.team_id, m.user_id),
        encode.member(member),
        () => new ConflictError('member_exists', `user \`${m.user_id}\` is already a member of team \`${team.team_id}\``, 'member'),
      ),
      // The user gains a membership: a delete of the user that listed theirs before it is refused (lib/admin/cascade).
      held.has(m.user_id)
        ? addChild(refs.user(m.user_id), userChanged(m.user_id), now, unchangedSince(held.get(m.user_id) as UserRecord))
        : addChild(refs.user(m.user_id), notFound('user', m.user_id), now),
    );
    audit.push(
      memberAudit('member_add', team.team_id, m.user_id, { role: m.role, ...(budget !== undefined ? { max_budget_in_team: budget } : {}) }),
    );
    added.push(member);
  }
  return { ops, audit, added };
}

/** What deleting a team removes, as units that each land whole: keys, then memberships. */
async function setTeamBlocked(teamId: string, blocked: boolean, actor: Actor, now: Date) {
  requireProxyAdmin(actor, `${blocked ? 'block' : 'unblock'} teams`);
  await load('team', teamId);
  await transact(
    [setFields(refs.team(teamId), { blocked, updated_at: now.toISOString() }, notFound('team', teamId))],
    actor,
    teamAudit(blocked ? 'block' : 'unblock', teamId, { blocked }),
    now,
  );
  return teamView(await load('team', teamId), now);
}

export const teamActions: Actions = {
  new: action(
    z.object({ team_id: id.optional(), ...teamFields, members_with_roles: z.array(memberInput).max(30).optional() }).strict(),
    async (input, { actor, now }) => {
      requireProxyAdmin(actor, 'create teams');
      const { team_id, members_with_roles: members = [], spend, ...fields } = input;
      const teamId = team_id ?? randomUUID();
      uniqueUsers(members, 'members_with_roles');
      const orgId = fields.organization_id ?? null;
      if (orgId) await requireTeamWithinOrg(teamId, fields, await load('organization', orgId));
      const set = definedFields(fields);
      const team: TeamRecord = {
        team_id: teamId,
        ...set,
        organization_id: orgId,
        blocked: fields.blocked ?? false,
        created_at: now.toISOString(),
        ...spendFields(spend ?? 0, fields.budget_duration, now),
      };
      const added = memberAddOps(team, members, undefined, now, 'proxy_admin');
      const ops: TxOp[] = [
        putNew(
          refs.team(teamId),
          encode.team(team),
          () => new ConflictError('team_exists', `team \`${teamId}\` already exists`, 'team_id'),
        ),
        ...(orgId ? [addChild(refs.org(orgId), notFound('organization', orgId), now)] : []),
        ...added.ops,
      ];
      await transact(ops, actor, [teamAudit('new', teamId, { ...set, ...(spend !== undefined ? { spend } : {}) }), ...added.audit], now);
      return { ...teamView(team, now), members_with_roles: added.added.map((m) => ({ user_id: m.user_id, role: m.role })) };
    },
  ),

  update: action(z.object({ team_id: id, ...teamFields }).strict(), async (input, { actor, now }) => {
    const { team_id: teamId, ...fields } = input;
    const set = definedFields(fields);
    const named = Object.keys(set);
    if (named.length === 0)
      throw new InvalidRequestError('nothing to update: name at least one field besides `team_id`', 'nothing_to_update');
    if (!isProxyAdmin(actor)) {
      await requireTeamManager(actor, teamId, `update team \`${teamId}\``);
      const beyond = named.filter((f) => !TEAM_ADMIN_FIELDS.has(f));
      if (beyond.length > 0)
        throw new ForbiddenError(
          `an admin of team \`${teamId}\` may change only team_alias and metadata; \`${beyond[0]}\` needs a proxy admin`,
        );
    }
    const current = await load('team', teamId);
    const nextOrg = set.organization_id !== undefined ? set.organization_id : (current.organization_id ?? null);
    const orgMoved = nextOrg !== (current.organization_id ?? null);
    const next: Limits = {
      models: set.models ?? current.models,
      max_budget: set.max_budget !== undefined ? set.max_budget : current.max_budget,
    };
    const changed = { models: set.models !== undefined, max_budget: set.max_budget !== undefined };
    if (nextOrg && (orgMoved || changed.models || changed.max_budget))
      await requireTeamWithinOrg(teamId, next, await load('organization', nextOrg));
    // Narrowing a team never waits on its keys and members: every request checks the whole chain
    // (key ∩ team ∩ organization models, every budget), so a key listing a model its team dropped
    // is refused that model at once, and /key/info shows what it may still use.

    const { spend, ...plain } = set;
    const attrs: Record<string, unknown> = { ...plain, ...rateChangeStamp(current, plain, now), updated_at: now.toISOString() };
    Object.assign(
      attrs,
      budgetUpdateAttributes(current, set.budget_duration, spend, now, spend !== undefined ? await findOwn('team', teamId) : undefined),
    );
    const remove: string[] = [];
    if (orgMoved) {
      const listed = reindex.teamOrg(teamId, nextOrg);
      Object.assign(attrs, listed.set);
      remove.push(...listed.remove);
    }
    const ops: TxOp[] = [updateFields(refs.team(teamId), attrs, remove, notFound('team', teamId))];
    if (orgMoved && nextOrg) ops.push(addChild(refs.org(nextOrg), notFound('organization', nextOrg), now));
    await transact(ops, actor, teamAudit('update', teamId, set), now);
    if (set.organization_id !== undefined) {
      // Keys carry their team's organization (the authorizer reads it with the key). Until this
      // catches up the reader still finds the team's organization, with one more read. Keys that
      // still name another one (a move interrupted after the team's write) catch up whenever the
      // organization is named again, moved or not: repeating the move finishes it.
      await untilIndexed(current);
      const keys = (await keysOf(teamId)).filter((k) => (k.organization_id ?? null) !== nextOrg);
      await commitInChunks(
        keys.map((k) => ({
          ops: [
            setFields(
              refs.key(k.token),
              { organization_id: nextOrg, updated_at: now.toISOString() },
              () => new ConflictError('concurrent_update', `key \`${k.key_name}\` changed meanwhile; retry`),
            ),
          ],
          audit: [
            { action: 'key.update', entity_type: 'key', entity_id: k.token, changes: { organization_id: nextOrg, reason: 'team.update' } },
          ],
        })),
        actor,
        now,
      );
    }
    // LiteLLM's answer: `{team_id, data: <the team>}`.
    return { team_id: teamId, data: teamView(await load('team', teamId), now) };
  }),

  delete: action(z.object({ team_ids: z.array(id).min(1).max(20) }).strict(), async ({ team_ids }, { actor, now }) => {
    requireProxyAdmin(actor, 'delete teams');
    const ids = [...new Set(team_ids)];
    const teams: TeamRecord[] = [];
    for (const teamId of ids) teams.push(await load('team', teamId));
    const plans = await Promise.all(
      teams.map(async (t) => {
        await untilIndexed(t);
        const units = await cascadeUnits({ team: t.team_id }, 'team.delete');
        const counts = cascadeCounts(units);
        const last: Unit = {
          // Held to the children it listed: a key or member added meanwhile refuses the delete (409, retry).
          ops: [deleteExisting(refs.team(t.team_id), childAdded('team', t.team_id), childrenUnchanged(t))],
          audit: [teamAudit('delete', t.team_id, { deleted_keys: counts.keys, deleted_members: counts.memberships })],
        };
        return { team: t, units, last };
      }),
    );
    const everything = plans.flatMap((p) => [...p.units, p.last]);
    if (fitsInOne(everything)) {
      await commitTogether(everything, actor, now);
    } else {
      for (const p of plans) {
        if (fitsInOne([...p.units, p.last])) {
          await commitTogether([...p.units, p.last], actor, now);
          continue;
        }
        // Too big for one transaction: stop the team's keys at once, then clear it out.
        if (!p.team.blocked) {
          await transact(
            [setFields(refs.team(p.team.team_id), { blocked: true, updated_at: now.toISOString() }, notFound('team', p.team.team_id))],
            actor,
            teamAudit('block', p.team.team_id, { blocked: true, reason: 'team.delete' }),
            now,
          );
        }
        await commitInChunks(p.units, actor, now);
        await commitTogether([p.last], actor, now);
      }
    }
    return { deleted_teams: ids };
  }),

  info: action(z.object({ team_id: id }).strict(), async ({ team_id: teamId }, { actor, now }) => {
    const role = isProxyAdmin(actor) ? undefined : await memberRole(actor, teamId);
    const denial = teamReaderDenial(actor, teamId, role);
    if (denial) throw denial;
    const team = await load('team', teamId);
    const [members, keys] = await Promise.all([membersOf(teamId), teamKeysFor(actor, teamId, role)]);
    return {
      team_id: teamId,
      team_info: { ...teamView(team, now), members_with_roles: rolesOf(members) },
      team_memberships: members.map((m) => memberView(m, now)),
      keys: keys.data.map((k) => keyView(k, now)),
      // More keys: `/key/list?team_id=...&cursor=...`.
      keys_next_cursor: keys.next_cursor,
    };
  }),

  list: action(
    z.object({ organization_id: id.optional(), cursor: z.string().optional(), limit: limit.optional() }).strict(),
    async (q, { actor, now }) => {
      if (isProxyAdmin(actor)) {
        const page = q.organization_id
          ? await queryPage<TeamRecord>({ ...listings.teamsOfOrg(q.organization_id), cursor: q.cursor, limit: q.limit ?? 100 })
          : await queryPage<TeamRecord>({ ...listings.all('team'), cursor: q.cursor, limit: q.limit ?? 100 });
        return { data: page.data.map((t) => teamView(t, now)), next_cursor: page.next_cursor };
      }
      const keep = (t: TeamRecord | undefined): t is TeamRecord => !!t && (!q.organization_id || t.organization_id === q.organization_id);
      if (actor.role === 'team' && actor.teamId) {
        const team = q.cursor ? undefined : await find('team', actor.teamId);
        return { data: keep(team) ? [teamView(team, now)] : [], next_cursor: null };
      }
      if (!actor.userId) throw new ForbiddenError('only a proxy admin or a team member may list teams');
      // A user's own teams, through their memberships.
      const page = await queryPage<MemberRecord>({ ...listings.membershipsOfUser(actor.userId), cursor: q.cursor, limit: q.limit ?? 100 });
      const teams = await Promise.all(page.data.map((m) => find('team', m.team_id)));
      return { data: teams.filter(keep).map((t) => teamView(t, now)), next_cursor: page.next_cursor };
    },
  ),

  block: action(z.object({ team_id: id }).strict(), ({ team_id }, { actor, now }) => setTeamBlocked(team_id, true, actor, now)),
  unblock: action(z.object({ team_id: id }).strict(), ({ team_id }, { actor, now }) => setTeamBlocked(team_id, false, actor, now)),

  member_add: action(
    z
      .object({
        team_id: id,
        member: z.preprocess((v) => (Array.isArray(v) ? v : v === undefined ? v : [v]), z.array(memberInput).min(1).max(30)),
        max_budget_in_team: optionalMoney,
      })
      .strict(),
    async (input, { actor, now }) => {
      await requireTeamManager(actor, input.team_id, `add members to team \`${input.team_id}\``);
      uniqueUsers(input.member, 'member');
      const team = await load('team', input.team_id);
      requireMemberBudgetWithin(input.max_budget_in_team, team);
      const read = await joiningUsersRead(
        actor,
        input.member.map((m) => m.user_id),
        team.team_id,
      );
      const setBy = isProxyAdmin(actor) ? 'proxy_admin' : 'team_admin';
      const added = memberAddOps(team, input.member, input.max_budget_in_team, now, setBy, read);
      const existing = await membersOf(team.team_id);
      await transact([addChild(refs.team(team.team_id), notFound('team', team.team_id), now), ...added.ops], actor, added.audit, now);
      // LiteLLM answers with the team (all its members_with_roles) and the memberships it made.
      return {
        ...teamView(team, now),
        members_with_roles: rolesOf([...existing, ...added.added]),
        updated_team_memberships: added.added.map((m) => memberView(m, now)),
      };
    },
  ),

  member_update: action(
    z
      .object({ team_id: id, user_id: id, role: z.enum(MEMBER_ROLES).optional(), max_budget_in_team: optionalMoney, ...rateLimitFields })
      .strict(),
    async (input, { actor, now }) => {
      const { team_id: teamId, user_id: userId } = input;
      await requireTeamManager(actor, teamId, `update members of team \`${teamId}\``);
      const rates = definedFields({
        rpm_limit: input.rpm_limit,
        tpm_limit: input.tpm_limit,
        max_parallel_requests: input.max_parallel_requests,
      });
      const limited = input.max_budget_in_team !== undefined || Object.keys(rates).length > 0;
      // A team admin sets the budgets and rate limits of members, never their own.
      if (!isProxyAdmin(actor) && userId === actor.userId && limited) {
        throw new ForbiddenError(
          `only a proxy admin may change the member budget or rate limits of user \`${userId}\` in team \`${teamId}\`: a team admin may not change their own`,
        );
      }
      if (input.role === undefined && !limited) {
        throw new InvalidRequestError(
          'nothing to update: give `role`, `max_budget_in_team`, `rpm_limit`, `tpm_limit` or `max_parallel_requests`',
          'nothing_to_update',
        );
      }
      const team = await load('team', teamId);
      const current = await find('team_member', teamId, userId);
      if (!current) throw notFound('team_member', teamId, userId)();
      requireMemberBudgetWithin(input.max_budget_in_team, team);
      // A member budget a proxy admin set, a team admin may only lower.
      const authority: Authority = isProxyAdmin(actor) ? 'proxy_admin' : 'team_admin';
      const limits = {
        max_budget_in_team:
          input.max_budget_in_team !== undefined ? compareCap(current.max_budget, input.max_budget_in_team) : ('same' as const),
        ...rateDirections(current, rates),
      };
      const denial = limitsDenial(authority, current.limits_set_by, `member \`${userId}\` of team \`${teamId}\``, limits);
      if (denial) throw denial;
      const fields = definedFields({
        role: input.role,
        max_budget: input.max_budget_in_team,
        ...rates,
        limits_set_by: setterAfter(authority, current.limits_set_by, limits),
      });
      await transact(
        [
          setFields(
            refs.member(teamId, userId),
            { ...fields, ...rateChangeStamp(current, rates, now), updated_at: now.toISOString() },
            isProxyAdmin(actor) ? notFound('team_member', teamId, userId) : memberChanged(teamId, userId),
            // A team admin was judged on the limits it read: a proxy admin's change meanwhile is not overwritten.
            isProxyAdmin(actor) ? undefined : unchangedSince(current),
          ),
        ],
        actor,
        memberAudit(
          'member_update',
          teamId,
          userId,
          definedFields({ role: input.role, max_budget_in_team: input.max_budget_in_team, ...rates }),
        ),
        now,
      );
      return memberView((await find('team_member', teamId, userId)) as MemberRecord, now);
    },
  ),

  member_delete: action(z.object({ team_id: id, user_id: id }).strict(), async ({ team_id: teamId, user_id: userId }, { actor, now }) => {
    await requireTeamManager(actor, teamId, `remove members of team \`${teamId}\``);
    await load('team', teamId);
    const member = await find('team_member', teamId, userId);
    if (!member) throw notFound('team_member', teamId, userId)();
    // Removing and adding back would drop limits a proxy admin set: only a proxy admin may remove such a member.
    const denial = dropLimitsDenial(
      isProxyAdmin(actor) ? 'proxy_admin' : 'team_admin',
      member.limits_set_by,
      memberLimits(member),
      `member \`${userId}\` of team \`${teamId}\``,
      'remove them',
    );
    if (denial) throw denial;
    // The user's keys in this team go with the membership (listed by user: fewer than the team's),
    // once the index shows a key made for them just before (lib/admin/cascade untilIndexed).
    await untilIndexed((await find('user', userId)) ?? {});
    const keys = (await queryAll<StoredKey>(listings.keysOfUser(userId))).filter((k) => k.team_id === teamId);
    const units: Unit[] = keys.map((k) => ({
      ops: keyDeleteOps(k, false),
      audit: [
        { action: 'key.delete', entity_type: 'key', entity_id: k.token, changes: { key_name: k.key_name, reason: 'team.member_delete' } },
      ],
    }));
    const last: Unit = {
      ops: [
        isProxyAdmin(actor)
          ? deleteExisting(refs.member(teamId, userId), notFound('team_member', teamId, userId))
          : // The team admin was judged on the limits it read: limits a proxy admin set meanwhile are not dropped.
            deleteExisting(refs.member(teamId, userId), memberChanged(teamId, userId), unchangedSince(member)),
      ],
      audit: [memberAudit('member_delete', teamId, userId, { deleted_keys: keys.length })],
    };
    if (fitsInOne([...units, last])) await commitTogether([...units, last], actor, now);
    else {
      await commitInChunks(units, actor, now);
      await commitTogether([last], actor, now);
    }
    return { team_id: teamId, user_id: userId, deleted_keys: keys.map((k) => k.token) };
  }),
};
