/**
 * Budget alerts from the table's stream (lib/spend/stream.ts runs this beside the spend logs):
 * for each settlement that lands with a spend log, the key, user, team and organization it
 * names are read afresh (their counter shards summed), and every level their spend has reached
 * in the window the request counted in (lib/domain/alerts) is announced once: claimed with a marker
 * (lib/store/alerts), delivered, confirmed. Off the request path: no write units there.
 */
import { randomUUID } from 'node:crypto';
import type { DynamoDBRecord } from 'aws-lambda';
import type { Alerting } from '../domain/alerts.js';
import { type AlertEntity, type AlertLevel, alertLevels, alertSpend, alertWindow, type BudgetAlert, reached } from '../domain/alerts.js';
import { dollarsToNanos } from '../domain/cost.js';
import type { Budgeted } from '../domain/records.js';
import type { SpendLog } from '../domain/spend-log.js';
import { failedOn, readableLogOf, type StreamConsumer, settledAtOf } from '../spend/stream.js';
import { type AlertMarkers, alertRef, type Claim } from '../store/alerts.js';
import type { EntityReader } from '../store/entities.js';
import type { ItemRef } from '../store/keys.js';
import { type AlertSink, sinkId } from './deliver.js';

export interface AlertDeps {
  /**
   * A reader for one batch of records, new at each call: it reads each entity once, afresh when
   * made (alerts judge the counters as they are). The batch's counters are all added before
   * alerts run (`afterward`), so a read per record found the same counters, at one read of each
   * entity per request (found measuring the stream's consumer: most of its reads).
   */
  reader: () => EntityReader;
  markers: () => AlertMarkers;
  sinks: () => AlertSink[];
  thresholds: () => readonly number[];
  clock: () => number;
}

type Entity = Budgeted & Alerting;

/**
 * An entity a log names: how alerts name it (`id`, and a key's hash) and what its markers are
 * named by (`lasting`): a key's `rate_id`, which a regenerated key keeps with its spend and budget,
 * so the new hash does not announce again what the key already reached.
 */
interface Alerted {
  entity: AlertEntity;
  id: string;
  keyHash?: string;
  lasting: string;
  record: Entity;
}

/** The entities a log names, read afresh. */
async function entitiesOf(log: SpendLog, reader: EntityReader): Promise<Alerted[]> {
  const [key, user, team, org] = await Promise.all([
    log.api_key ? reader.key(log.api_key) : undefined,
    log.user ? reader.user(log.user) : undefined,
    log.team_id ? reader.team(log.team_id) : undefined,
    log.organization_id ? reader.state({ orgId: log.organization_id }).then((s) => s.org) : undefined,
  ]);
  const out: Alerted[] = [];
  if (key) out.push({ entity: 'key', id: key.key_name, keyHash: key.token, lasting: key.rate_id ?? key.token, record: key });
  if (user) out.push({ entity: 'user', id: user.user_id, lasting: user.user_id, record: user });
  if (team) out.push({ entity: 'team', id: team.team_id, lasting: team.team_id, record: team });
  if (org) out.push({ entity: 'organization', id: org.organization_id, lasting: org.organization_id, record: org });
  return out;
}

/**
 * What a level is about: its amount (a budget raised or lowered, a soft budget moved, makes it
 * another level, announced again when reached), and for an entity named by its id, that entity
 * (one deleted and made again with the same id has levels of its own). A key's markers follow its
 * `rate_id`, which a regenerated key keeps with its budget: its amount alone.
 */
const basisOf = (e: Alerted, level: AlertLevel): string => {
  const amount = String(dollarsToNanos(level.amount));
  return e.entity === 'key' ? amount : `${amount}@${e.record.created_at ?? ''}`;
};

/** How long a consumer waits for another's live claim to be confirmed before it fails the record. */
const CLAIM_WAITS_MS = [50, 100, 200, 400];

/**
 * A claim of the level, or the word that it was announced. Another consumer's live claim is
 * waited for a moment (it is usually confirmed within milliseconds); one still live after that
 * fails the record, which the stream retries until that claim is confirmed or lapses: that
 * consumer may have died before delivering, and passed over, the level would wait for a later
 * request of the entity, which a spent budget never lets come.
 */
async function claimed(
  markers: AlertMarkers,
  ref: ItemRef,
  token: string,
  basis: string,
  what: string,
): Promise<Exclude<Claim, { holder: 'other' }>> {
  for (let attempt = 0; ; attempt++) {
    const claim = await markers.claim(ref, token, basis);
    if (claim.holder !== 'other') return claim;
    const wait = CLAIM_WAITS_MS[attempt];
    if (wait === undefined)
      throw new Error(`the alert of ${what} is claimed by another consumer until ${new Date(claim.until).toISOString()}: retried`);
    await new Promise((r) => setTimeout(r, wait));
  }
}

/** Announces every level reached by the entities of one settled log; throws when a delivery fails or a claim is held. */
export async function alertsFor(
  log: SpendLog,
  deps: AlertDeps,
  settledAt?: number,
  reader: EntityReader = deps.reader(),
): Promise<BudgetAlert[]> {
  const now = deps.clock();
  // The window the request counted in (its settlement's), not the one the stream hands it over
  // in: a level crossed in a window's last moments is judged on that window's counter.
  const counted = settledAt ?? Date.parse(log.startTime);
  const sent: BudgetAlert[] = [];
  for (const e of await entitiesOf(log, reader)) {
    const spend = alertSpend(e.record, counted);
    const levels = reached(alertLevels(e.record, deps.thresholds()), spend);
    if (levels.length === 0) continue;
    const window = alertWindow(e.record, counted);
    for (const level of levels) {
      const ref = alertRef(e.entity, e.lasting, window, level.name);
      const token = randomUUID();
      const claim = await claimed(deps.markers(), ref, token, basisOf(e, level), `${e.entity} \`${e.id}\` at ${level.name} (${window})`);
      if (claim.holder === 'sent') continue;
      const alert: BudgetAlert = {
        entity: e.entity,
        id: e.id,
        ...(e.keyHash ? { key_hash: e.keyHash } : {}),
        level: level.kind,
        percent: level.percent ?? null,
        threshold: level.amount,
        spend,
        max_budget: e.record.max_budget ?? null,
        soft_budget: e.record.soft_budget ?? null,
        budget_window: window,
        at: new Date(now).toISOString(),
      };
      // A sink that took it on an earlier try is not sent it again (the others failed then).
      const delivered = new Set(claim.delivered);
      try {
        for (const [i, sink] of deps.sinks().entries()) {
          if (delivered.has(sinkId(sink, i))) continue;
          await sink(alert);
          delivered.add(sinkId(sink, i));
        }
      } catch (err) {
        await deps.markers().release(ref, token, delivered);
        throw err;
      }
      await deps.markers().confirm(ref, token, alert.at);
      sent.push(alert);
    }
  }
  return sent;
}

/** The stream consumer: alerts for each settled request, in order; a failed delivery stops the batch there. */
export function alertConsumer(deps: AlertDeps): StreamConsumer {
  return async (records: readonly DynamoDBRecord[]) => {
    const reader = deps.reader();
    for (const record of records) {
      const log = readableLogOf(record, 'budget alerts');
      if (!log) continue;
      try {
        await alertsFor(log, deps, settledAtOf(record), reader);
      } catch (e) {
        return failedOn(record, 'budget alerts', e);
      }
    }
    return {};
  };
}
