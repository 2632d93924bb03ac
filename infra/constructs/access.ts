/**
 * Who may touch what. Written out action by action rather than with the table's grant*
 * helpers, which add Scan, DescribeTable and `index/*` that no Tollgate function uses.
 * A DynamoDB transaction needs no action of its own: its parts are authorized as PutItem,
 * UpdateItem, DeleteItem and ConditionCheckItem.
 */
import { type IRole, PolicyStatement } from 'aws-cdk-lib/aws-iam';
import type { ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import { ALERT_MARKER_PREFIX } from '../../lib/store/alerts.js';
import { COUNTER_MARKER_PREFIX } from '../../lib/store/counter-ledger.js';
import { refs } from '../../lib/store/keys.js';
import { objectRef } from '../../lib/store/objects.js';
import { RATE_PK_PREFIX } from '../../lib/store/rate-limits.js';
import { TIDY_CURSOR } from '../../lib/store/sweep.js';

export const TABLE_READ = ['dynamodb:GetItem', 'dynamodb:BatchGetItem', 'dynamodb:Query'] as const;
export const TABLE_WRITE = [
  'dynamodb:PutItem',
  'dynamodb:UpdateItem',
  'dynamodb:DeleteItem',
  'dynamodb:BatchWriteItem',
  'dynamodb:ConditionCheckItem',
] as const;
/** The key prefix of upstream objects' owner records (lib/store/objects). */
export const OBJECT_ITEM_PREFIX = objectRef('').PK;
/**
 * Spend counters are added to (UpdateItem ADD, on the entities' own items), settlements recorded
 * once (conditional PutItem), in transactions. PutItem is limited to `SETTLEMENT_PUT_PREFIXES`,
 * UpdateItem to `SETTLEMENT_UPDATE_PREFIXES`; ConditionCheckItem is not limited: it changes
 * nothing, and a strict reservation checks the reusable budget an end user follows (`BUDGET#`).
 */
export const SPEND_WRITE = ['dynamodb:UpdateItem', 'dynamodb:PutItem', 'dynamodb:ConditionCheckItem'] as const;
/** The only items spend writes create whole (lib/store/spend-ledger): settlement records. */
export const SETTLEMENT_PUT_PREFIXES = [`${refs.settlement('').PK}*`] as const;
/**
 * The partitions spend counters live in (lib/store/keys counterRef): each entity's item, its
 * counter shards (`SPEND#<n>`, lib/store/shards) and a team's members, all under the entity's own
 * partition key, and the proxy's `GLOBAL`. Never a model, an alias, a budget or an audit item.
 */
export const COUNTER_PARTITIONS: readonly string[] = [
  ...[refs.key(''), refs.user(''), refs.team(''), refs.org(''), refs.endUser('')].map((r) => `${r.PK}*`),
  refs.globalSpend().PK,
];
/**
 * What a settlement updates: counters, and its own record (a strict call's `reserved` record
 * moved to `settled`, lib/store/spend-ledger).
 */
export const SETTLEMENT_UPDATE_PREFIXES: readonly string[] = [...COUNTER_PARTITIONS, ...SETTLEMENT_PUT_PREFIXES];
/** What the llm function updates besides: rate-limit counters (lib/store/rate-limits) and owner records (billing claims, prepayments). */
export const LLM_UPDATE_PREFIXES: readonly string[] = [...SETTLEMENT_UPDATE_PREFIXES, `${RATE_PK_PREFIX}*`, `${OBJECT_ITEM_PREFIX}*`];
/** The key prefix of user items (lib/store): all the authorizer may ever create. */
export const USER_ITEM_PREFIX = 'USER#';

export interface TableRef {
  tableArn: string;
  indexArns: string[];
}

/** Reads on the authorization path go to the base table by key: no index. */
export function grantAuthorizerAccess(role: IRole, table: TableRef, opts: { upsertUser: boolean }): void {
  role.addToPrincipalPolicy(new PolicyStatement({ actions: [...TABLE_READ], resources: [table.tableArn] }));
  if (opts.upsertUser) {
    // A JWT user's first call creates its user item; the condition keeps every other item out of reach.
    role.addToPrincipalPolicy(
      new PolicyStatement({
        actions: ['dynamodb:PutItem'],
        resources: [table.tableArn],
        conditions: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': [`${USER_ITEM_PREFIX}*`] } },
      }),
    );
  }
}

/** Entity functions list through the indexes and write the items they manage (and audit items). */
export function grantEntityAccess(role: IRole, table: TableRef, opts: { write: boolean }): void {
  const resources = [table.tableArn, ...table.indexArns];
  role.addToPrincipalPolicy(new PolicyStatement({ actions: [...TABLE_READ], resources }));
  if (opts.write) role.addToPrincipalPolicy(new PolicyStatement({ actions: [...TABLE_WRITE], resources: [table.tableArn] }));
}

/**
 * Whoever writes settlements (the llm function, the settlement replay) reads entities and the
 * model registry, adds to counters and puts settlement records: a PutItem on any other key (a
 * key, a user and its role, a team) would let it write what only the admin API may.
 */
export function grantSettlementAccess(role: IRole, table: TableRef, updates: readonly string[] = SETTLEMENT_UPDATE_PREFIXES): void {
  role.addToPrincipalPolicy(new PolicyStatement({ actions: [...TABLE_READ], resources: [table.tableArn, ...table.indexArns] }));
  role.addToPrincipalPolicy(new PolicyStatement({ actions: ['dynamodb:ConditionCheckItem'], resources: [table.tableArn] }));
  // UpdateItem creates an item as readily as PutItem: as limited, or a model's upstream, a user's role could be rewritten.
  role.addToPrincipalPolicy(leadingKeys(['dynamodb:UpdateItem'], table, updates));
  role.addToPrincipalPolicy(leadingKeys(['dynamodb:PutItem'], table, SETTLEMENT_PUT_PREFIXES));
}

/**
 * The llm function records spend, counts rate limits, and keeps (puts, updates, deletes) the
 * owner records of upstream objects.
 */
export function grantLlmAccess(role: IRole, table: TableRef): void {
  grantSettlementAccess(role, table, LLM_UPDATE_PREFIXES);
  grantObjectOwners(role, table, ['dynamodb:PutItem', 'dynamodb:DeleteItem']);
}

/** The settlement replay lands kept settlements and puts kept owner records (lib/store/settlement-journal), never deletes one. */
export function grantReplayAccess(role: IRole, table: TableRef): void {
  grantSettlementAccess(role, table);
  grantObjectOwners(role, table, ['dynamodb:PutItem']);
}

/** `actions` on the table, for items whose partition key matches one of `patterns` (IAM StringLike). */
function leadingKeys(actions: string[], table: TableRef, patterns: readonly string[]): PolicyStatement {
  return new PolicyStatement({
    actions,
    resources: [table.tableArn],
    conditions: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': [...patterns] } },
  });
}

function grantObjectOwners(role: IRole, table: TableRef, actions: string[]): void {
  role.addToPrincipalPolicy(leadingKeys(actions, table, [`${OBJECT_ITEM_PREFIX}*`]));
}

/** What the table-stream function writes (lib/store/spend-logs): log index items, rollups and their markers. */
export const SPEND_LOG_PREFIXES = ['SPENDLOG#*', 'SPENDROLL#*', 'SPENDROLLED#*'] as const;
/** The daily rollups (lib/store/spend-logs), added to with UpdateItem. */
const ROLLUP_PREFIX = SPEND_LOG_PREFIXES[1];
/** What the table-stream function updates beside its alert markers: counters (ledger records) and rollups. */
export const TABLE_STREAM_UPDATE_PREFIXES: readonly string[] = [...COUNTER_PARTITIONS, ROLLUP_PREFIX];

/**
 * The table-stream function reads settlements and entities by key, writes spend-log items and
 * alert markers; it adds the ledger's records into the counters (UpdateItem ADD on the entities'
 * items, never Put or Delete) and puts their markers (lib/store/counter-ledger), whatever the
 * spendCounters layout: records written before a switch to `transaction` still arrive. A ledger
 * record names its counter items itself, so the counters' UpdateItem is limited to
 * `COUNTER_PARTITIONS`: a record naming any other item is refused.
 */
export function grantTableStreamAccess(role: IRole, table: TableRef): void {
  // Alerts read the entities a log names by key (lib/store/loader: BatchGetItem).
  role.addToPrincipalPolicy(new PolicyStatement({ actions: ['dynamodb:GetItem', 'dynamodb:BatchGetItem'], resources: [table.tableArn] }));
  // Alert markers (lib/store/alerts): claimed, confirmed and given back with the sinks that took
  // it, each a conditional UpdateItem; a marker is never put whole or deleted (it expires by TTL).
  role.addToPrincipalPolicy(
    new PolicyStatement({
      actions: ['dynamodb:UpdateItem'],
      resources: [table.tableArn],
      conditions: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': [`${ALERT_MARKER_PREFIX}*`] } },
    }),
  );
  // Index items (BatchWriteItem) and the ledger's markers (PutItem, in its transactions).
  role.addToPrincipalPolicy(
    leadingKeys(['dynamodb:PutItem', 'dynamodb:BatchWriteItem'], table, [...SPEND_LOG_PREFIXES, `${COUNTER_MARKER_PREFIX}*`]),
  );
  role.addToPrincipalPolicy(leadingKeys(['dynamodb:UpdateItem'], table, TABLE_STREAM_UPDATE_PREFIXES));
}

/**
 * The spend sweeper (lib/store/sweep) lists expired reservations and entities by kind on GSI1,
 * queries a few partitions of the base table (the proxy's, its own cursor's, teams' and sharded
 * kinds' for members and counter shards: `partitions`, as `dynamodb:LeadingKeys` patterns), reads
 * the items it listed by key (the index holds keys only: `readPartitions`), and only ever
 * updates items: it releases reservations (in transactions) and REMOVEs the counters of ended
 * windows; beside that it reads and deletes in key partitions, settling a regenerated key's copy.
 */
export const SWEEPER_WRITE = ['dynamodb:UpdateItem'] as const;
/**
 * What it updates (`SWEEPER_WRITE`): counters (releases, tidying, a regenerated key's copy), the
 * reservation records it expires, and its tidy cursor.
 */
export const SWEEPER_UPDATE_PREFIXES: readonly string[] = [...COUNTER_PARTITIONS, ...SETTLEMENT_PUT_PREFIXES, TIDY_CURSOR.PK];
export const SWEEPER_KEY_COPY = ['dynamodb:GetItem', 'dynamodb:DeleteItem'] as const;
export function grantSweeperAccess(
  role: IRole,
  table: TableRef,
  reservationIndexArn: string,
  partitions: readonly string[],
  readPartitions: readonly string[],
): void {
  role.addToPrincipalPolicy(new PolicyStatement({ actions: ['dynamodb:Query'], resources: [reservationIndexArn] }));
  role.addToPrincipalPolicy(
    new PolicyStatement({
      actions: ['dynamodb:BatchGetItem'],
      resources: [table.tableArn],
      conditions: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': [...readPartitions] } },
    }),
  );
  role.addToPrincipalPolicy(
    new PolicyStatement({
      actions: ['dynamodb:Query'],
      resources: [table.tableArn],
      conditions: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': [...partitions] } },
    }),
  );
  role.addToPrincipalPolicy(leadingKeys([...SWEEPER_WRITE], table, SWEEPER_UPDATE_PREFIXES));
  // Settling a regenerated key's copy (lib/store/key-copy): it reads the old key's item and, for a
  // tombstone, deletes it, in key partitions only.
  role.addToPrincipalPolicy(
    new PolicyStatement({
      actions: [...SWEEPER_KEY_COPY],
      resources: [table.tableArn],
      conditions: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': [`${refs.key('').PK}*`] } },
    }),
  );
}

/** GetSecretValue only (plus Decrypt through the default key, which Secrets Manager does for us). */
export function grantSecretRead(role: IRole, secrets: ISecret[]): void {
  if (secrets.length === 0) return;
  role.addToPrincipalPolicy(
    new PolicyStatement({
      actions: ['secretsmanager:GetSecretValue'],
      resources: secrets.map((s) => s.secretFullArn ?? `${s.secretArn}-??????`),
    }),
  );
}
