/**
 * Settlement: a call's cost added once to every counter along the caller's chain (key, user,
 * team, team member, organization, end user, proxy-wide), all in one TransactWriteItems with an
 * idempotency item `REQ#<request id>` that must not exist yet. Either every counter moves or none
 * does, and a retried settlement (same request id, within the record's TTL) changes nothing.
 *
 * Each counter moves twice: lifetime `spend`, and `ws#<window id>` for the entity's
 * budget_duration window (lib/spend/periods), which a new window starts at zero by construction.
 * Amounts are exact decimals (lib/spend/cost): DynamoDB sums them without rounding.
 *
 * Entities that must exist (key, user, team, member, organization) are updated only if they still
 * do: a key deleted mid-call must not come back as a bare counter that looks like a key. An end
 * user, or the proxy-wide item, that does not exist yet is created as a spend-tracking item,
 * as LiteLLM does for customers it first sees in a `user` field.
 *
 * `SpendSettler` is the seam the strict mode (reserve, then settle) plugs into.
 */
import { NumberValue, TransactWriteCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { Caller } from '../checks/caller.js';
import { StoreUnavailableError, type BudgetEntity } from '../errors.js';
import { WINDOW_SPEND_PREFIX, type Item } from '../store/codec.js';
import { cancellationCodes, isTransactionCanceled } from '../store/errors.js';
import { refs, type ItemRef } from '../store/keys.js';
import { logger } from '../telemetry.js';
import { nanosToDecimal } from './cost.js';
import { isDuration, windowOf } from './periods.js';

export interface SpendTarget {
  entity: BudgetEntity;
  /** For logs and the settlement record: `t-1`, `u-1@t-1`, or null for the proxy. */
  id: string | null;
  ref: ItemRef;
  /** The entity's budget_duration: its current window's counter moves too. */
  duration?: string | null | undefined;
  /** Create the item when absent with these attributes (end users, the proxy); else it must exist. */
  createWith?: Item | undefined;
}

export interface Settlement {
  /** Unique per upstream call (API Gateway's request id): the idempotency token. */
  requestId: string;
  /** When the call happened: picks the budget windows. */
  at: number;
  costNanos: number;
  model: string;
  targets: readonly SpendTarget[];
}

export type SettlementOutcome =
  | { status: 'settled'; moved: readonly SpendTarget[]; skipped: readonly SpendTarget[] }
  | { status: 'duplicate' };

export interface SpendSettler {
  settle(s: Settlement): Promise<SettlementOutcome>;
}

/** The counters one call moves, from the caller the checks saw. */
export function spendTargets(caller: Caller, opts: { budgetDuration?: string | undefined; now: number }): SpendTarget[] {
  const { key, user, team, member, org, endUser, endUserBudget } = caller.state;
  const out: SpendTarget[] = [];
  if (key) out.push({ entity: 'key', id: key.key_name, ref: refs.key(key.token), duration: key.budget_duration });
  // The user's counters follow its budget, which governs calls made without a team (lib/checks);
  // spend inside a team is the member's.
  if (user && !caller.teamId) out.push({ entity: 'user', id: user.user_id, ref: refs.user(user.user_id), duration: user.budget_duration });
  if (team) out.push({ entity: 'team', id: team.team_id, ref: refs.team(team.team_id), duration: team.budget_duration });
  if (member && team && member.team_id === team.team_id) {
    out.push({ entity: 'team_member', id: `${member.user_id}@${member.team_id}`, ref: refs.member(member.team_id, member.user_id), duration: member.budget_duration });
  }
  if (org) out.push({ entity: 'organization', id: org.organization_id, ref: refs.org(org.organization_id), duration: org.budget_duration });
  const endUserId = endUser?.user_id ?? caller.endUserId;
  if (endUserId) {
    out.push({
      entity: 'end_user',
      id: endUserId,
      ref: refs.endUser(endUserId),
      duration: endUser?.budget_duration ?? endUserBudget?.budget_duration,
      createWith: { kind: 'end_user', user_id: endUserId, GSI1PK: 'END_USER', GSI1SK: endUserId, created_at: new Date(opts.now).toISOString() },
    });
  }
  out.push({ entity: 'global', id: null, ref: refs.globalSpend(), duration: opts.budgetDuration, createWith: { kind: 'global' } });
  return out;
}

export interface DynamoSettlerOptions {
  /** Seconds the idempotency record is kept. */
  ttlSeconds: number;
  /** Told which items changed, so the instance's cache forgets them. */
  onChanged?: ((changed: readonly ItemRef[]) => void) | undefined;
  /** Attempts when transactions conflict (concurrent settlements on the same counters). */
  maxConflictRetries?: number;
}

export class DynamoSettler implements SpendSettler {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
    private readonly options: DynamoSettlerOptions,
  ) {}

  async settle(s: Settlement): Promise<SettlementOutcome> {
    let targets = [...s.targets];
    const skipped: SpendTarget[] = [];
    const maxConflicts = this.options.maxConflictRetries ?? 8;
    for (let conflicts = 0; ; ) {
      try {
        await this.client.send(new TransactWriteCommand({ TransactItems: this.transaction(s, targets) }));
        this.options.onChanged?.(targets.map((t) => t.ref));
        return { status: 'settled', moved: targets, skipped };
      } catch (e) {
        if (!isTransactionCanceled(e)) {
          logger().error('settlement failed', { requestId: s.requestId, error: (e as Error).name });
          throw new StoreUnavailableError();
        }
        const codes = cancellationCodes(e);
        if (codes[0] === 'ConditionalCheckFailed') return { status: 'duplicate' };
        const gone = targets.filter((_, i) => codes[i + 1] === 'ConditionalCheckFailed');
        if (gone.length > 0) {
          // Deleted since the checks ran: its spend no longer has anywhere to go.
          skipped.push(...gone);
          targets = targets.filter((t) => !gone.includes(t));
          logger().warn('settlement skipped deleted entities', { requestId: s.requestId, entities: gone.map((t) => t.entity) });
          continue;
        }
        if (codes.includes('TransactionConflict') && ++conflicts <= maxConflicts) {
          await new Promise((r) => setTimeout(r, Math.random() * 10 * 2 ** Math.min(conflicts, 6)));
          continue;
        }
        logger().error('settlement cancelled', { requestId: s.requestId, reasons: codes });
        throw new StoreUnavailableError();
      }
    }
  }

  private transaction(s: Settlement, targets: readonly SpendTarget[]) {
    const amount = NumberValue.from(nanosToDecimal(s.costNanos));
    const record = {
      Put: {
        TableName: this.tableName,
        Item: {
          ...refs.settlement(s.requestId),
          kind: 'settlement',
          request_id: s.requestId,
          model: s.model,
          cost: amount,
          targets: targets.map((t) => `${t.ref.PK}|${t.ref.SK}`),
          created_at: new Date(s.at).toISOString(),
          ttl: Math.floor(s.at / 1000) + this.options.ttlSeconds,
        },
        ConditionExpression: 'attribute_not_exists(PK)',
      },
    };
    return [record, ...targets.map((t) => ({ Update: this.counterUpdate(t, amount, s.at) }))];
  }

  private counterUpdate(t: SpendTarget, amount: NumberValue, at: number) {
    const names: Record<string, string> = { '#spend': 'spend' };
    const values: Record<string, unknown> = { ':c': amount };
    const add = ['#spend :c'];
    const window = t.duration && isDuration(t.duration) ? windowOf(t.duration, at) : undefined;
    if (window) {
      names['#ws'] = WINDOW_SPEND_PREFIX + window.id;
      add.push('#ws :c');
    }
    const set: string[] = [];
    Object.entries(t.createWith ?? {}).forEach(([attr, value], i) => {
      names[`#s${i}`] = attr;
      values[`:s${i}`] = value;
      set.push(`#s${i} = if_not_exists(#s${i}, :s${i})`);
    });
    return {
      TableName: this.tableName,
      Key: t.ref,
      UpdateExpression: `ADD ${add.join(', ')}${set.length > 0 ? ` SET ${set.join(', ')}` : ''}`,
      ...(t.createWith ? {} : { ConditionExpression: 'attribute_exists(PK)' }),
      ExpressionAttributeNames: names,
      ExpressionAttributeValues: values,
    };
  }
}
