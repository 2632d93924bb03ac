/**
 * Records <-> table items. Items carry their keys, a `kind`, the index attributes, and spend
 * counters per budget window as top-level number attributes (`ws#<window>` for settled spend,
 * `wc#<window>` for committed spend: settled plus strict-mode reservations outstanding) so a
 * settlement is a plain atomic `ADD` that creates the counter of a new window by itself.
 * Lifetime counters are `spend` and `committed`.
 */
import type {
  BudgetRecord,
  EndUserRecord,
  GlobalSpendRecord,
  KeyRecord,
  MemberRecord,
  ModelRecord,
  OrgRecord,
  TeamRecord,
  UserRecord,
  WindowSpend,
} from '../domain/records.js';
import { type ItemRef, refs } from './keys.js';

export type Item = Record<string, unknown>;

export const WINDOW_SPEND_PREFIX = 'ws#';
export const WINDOW_COMMITTED_PREFIX = 'wc#';
export const COMMITTED_ATTR = 'committed';
// copied_counters: a replaced key's bookkeeping (lib/store/key-copy), never part of its record.
const RESERVED = new Set(['PK', 'SK', 'kind', 'GSI1PK', 'GSI1SK', 'GSI2PK', 'GSI2SK', 'GSI3PK', 'GSI3SK', 'ttl', 'copied_counters']);

export type Kind = 'key' | 'user' | 'team' | 'member' | 'org' | 'end_user' | 'budget' | 'model' | 'global';

/**
 * Free-form JSON that callers supply (`metadata`, an audit entry's `changes`) is stored as a JSON
 * string: its keys are data, never attribute names the document marshaller would interpret (a key
 * named `constructor` made it take the map for a class instance) or that could reach a prototype.
 */
const JSON_ATTRIBUTES = new Set(['metadata', 'changes', 'model_rpm_limit', 'model_tpm_limit']);

/** An attribute's value as stored. */
export const storedValue = (name: string, value: unknown): unknown =>
  JSON_ATTRIBUTES.has(name) && value !== null && value !== undefined && typeof value === 'object' ? JSON.stringify(value) : value;

/** An attribute's value as read (items written before JSON attributes were strings hold maps). */
const readValue = (name: string, value: unknown): unknown => {
  if (!JSON_ATTRIBUTES.has(name) || typeof value !== 'string') return value;
  try {
    return JSON.parse(value) as unknown;
  } catch {
    return value;
  }
};

/** The record an item holds: table attributes removed, window counters gathered into maps. */
export function decode<T>(item: Item): T {
  const out: Record<string, unknown> = {};
  let ws: WindowSpend | undefined;
  let wc: WindowSpend | undefined;
  for (const [name, value] of Object.entries(item)) {
    if (RESERVED.has(name)) continue;
    if (name.startsWith(WINDOW_SPEND_PREFIX)) (ws ??= {})[name.slice(WINDOW_SPEND_PREFIX.length)] = Number(value);
    else if (name.startsWith(WINDOW_COMMITTED_PREFIX)) (wc ??= {})[name.slice(WINDOW_COMMITTED_PREFIX.length)] = Number(value);
    else out[name] = readValue(name, value);
  }
  if (ws) out.window_spend = ws;
  if (wc) out.window_committed = wc;
  return out as T;
}

function flattenWindows(record: object): Item {
  // committed_elsewhere is what a read summed from other shards: never written back.
  const {
    window_spend,
    window_committed,
    committed_elsewhere: _elsewhere,
    ...rest
  } = record as { window_spend?: WindowSpend; window_committed?: WindowSpend; committed_elsewhere?: unknown } & Item;
  const out: Item = { ...rest };
  for (const [id, v] of Object.entries(window_spend ?? {})) out[WINDOW_SPEND_PREFIX + id] = v;
  for (const [id, v] of Object.entries(window_committed ?? {})) out[WINDOW_COMMITTED_PREFIX + id] = v;
  // DynamoDB rejects undefined; null is kept as an explicit "unset".
  for (const k of Object.keys(out)) {
    if (out[k] === undefined) delete out[k];
    else out[k] = storedValue(k, out[k]);
  }
  return out;
}

const item = (ref: ItemRef, kind: Kind, record: object, index: Item = {}): Item => ({
  ...flattenWindows(record),
  ...ref,
  kind,
  ...index,
});

export const encode = {
  key: (k: KeyRecord) =>
    item(refs.key(k.token), 'key', k, {
      GSI1PK: 'KEY',
      GSI1SK: `${k.created_at}#${k.token}`,
      ...(k.user_id ? { GSI2PK: `USER#${k.user_id}`, GSI2SK: `KEY#${k.created_at}#${k.token}` } : {}),
      ...(k.team_id ? { GSI3PK: `TEAM#${k.team_id}`, GSI3SK: `KEY#${k.created_at}#${k.token}` } : {}),
    }),
  user: (u: UserRecord) => item(refs.user(u.user_id), 'user', u, { GSI1PK: 'USER', GSI1SK: u.user_id }),
  team: (t: TeamRecord) =>
    item(refs.team(t.team_id), 'team', t, {
      GSI1PK: 'TEAM',
      GSI1SK: t.team_id,
      ...(t.organization_id ? { GSI3PK: `ORG#${t.organization_id}`, GSI3SK: `TEAM#${t.team_id}` } : {}),
    }),
  member: (m: MemberRecord) =>
    item(refs.member(m.team_id, m.user_id), 'member', m, { GSI2PK: `USER#${m.user_id}`, GSI2SK: `MEMBER#${m.team_id}` }),
  org: (o: OrgRecord) => item(refs.org(o.organization_id), 'org', o, { GSI1PK: 'ORG', GSI1SK: o.organization_id }),
  endUser: (e: EndUserRecord) => item(refs.endUser(e.user_id), 'end_user', e, { GSI1PK: 'END_USER', GSI1SK: e.user_id }),
  budget: (b: BudgetRecord) => item(refs.budget(b.budget_id), 'budget', b, { GSI1PK: 'BUDGET', GSI1SK: b.budget_id }),
  model: (m: ModelRecord) => item(refs.model(m.model_name), 'model', m, { GSI1PK: 'MODEL', GSI1SK: m.model_name }),
  global: (g: GlobalSpendRecord) => item(refs.globalSpend(), 'global', g),
  keyAlias: (alias: string, token: string): Item => ({ ...refs.keyAlias(alias), kind: 'key_alias', key_alias: alias, token }),
  /** `ttl`: seconds since the epoch. */
  keySuccessor: (token: string, successor: string, ttl: number): Item => ({
    ...refs.keySuccessor(token),
    kind: 'key_successor',
    replaced_by: successor,
    ttl,
  }),
  modelAlias: (alias: string, modelName: string): Item => ({
    ...refs.modelAlias(alias),
    kind: 'model_alias',
    alias,
    model_name: modelName,
  }),
} as const;
