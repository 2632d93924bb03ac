/** Writing fixtures straight into the table through the codec (no admin API involved). */
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import type { APIGatewayRequestAuthorizerEvent } from 'aws-lambda';
import { documentClient } from '../../lib/app/index.js';
import { generateKey, hashKey, keyName } from '../../lib/auth/keys.js';
import type {
  EndUserRecord,
  GlobalSpendRecord,
  KeyRecord,
  MemberRecord,
  OrgRecord,
  TeamRecord,
  UserRecord,
} from '../../lib/domain/records.js';
import { tableName } from '../../lib/store/client.js';
import { encode, type Item } from '../../lib/store/codec.js';

const now = () => new Date().toISOString();
/**
 * When a seeded entity's budget period was set, unless a test says otherwise: Monday 2026-01-05
 * 00:00 UTC, so fixed-length windows (`1h`, `1d`, `7d`, `1w`), which count from it
 * (lib/domain/periods), meet the calendar boundaries the tests step across.
 */
export const SEEDED_BUDGET_SET_AT = '2026-01-05T00:00:00.000Z';

export async function put(item: Item): Promise<void> {
  await documentClient().send(new PutCommand({ TableName: tableName(), Item: item }));
}

/**
 * A key; a team key of a user makes the user a member of the team too (as the admin API requires),
 * unless a membership is there already or `member: false` asks for an orphan.
 */
export async function seedKey(
  fields: Partial<KeyRecord> = {},
  opts: { member?: boolean } = {},
): Promise<{ key: string; record: KeyRecord }> {
  const key = generateKey();
  const record: KeyRecord = {
    token: hashKey(key),
    key_name: keyName(key),
    created_at: now(),
    budget_set_at: SEEDED_BUDGET_SET_AT,
    spend: 0,
    ...fields,
  };
  await put(encode.key(record));
  if (record.team_id && record.user_id && opts.member !== false) {
    const member: MemberRecord = { team_id: record.team_id, user_id: record.user_id, role: 'user', created_at: now(), spend: 0 };
    try {
      await documentClient().send(
        new PutCommand({ TableName: tableName(), Item: encode.member(member), ConditionExpression: 'attribute_not_exists(PK)' }),
      );
    } catch (e) {
      if ((e as Error).name !== 'ConditionalCheckFailedException') throw e;
    }
  }
  return { key, record };
}

export const seedUser = async (f: Partial<UserRecord> & { user_id: string }) => {
  const r: UserRecord = { user_role: 'internal_user', created_at: now(), budget_set_at: SEEDED_BUDGET_SET_AT, spend: 0, ...f };
  await put(encode.user(r));
  return r;
};
export const seedTeam = async (f: Partial<TeamRecord> & { team_id: string }) => {
  const r: TeamRecord = { created_at: now(), budget_set_at: SEEDED_BUDGET_SET_AT, spend: 0, ...f };
  await put(encode.team(r));
  return r;
};
export const seedMember = async (f: Partial<MemberRecord> & { team_id: string; user_id: string }) => {
  const r: MemberRecord = { role: 'user', created_at: now(), budget_set_at: SEEDED_BUDGET_SET_AT, spend: 0, ...f };
  await put(encode.member(r));
  return r;
};
export const seedOrg = async (f: Partial<OrgRecord> & { organization_id: string }) => {
  const r: OrgRecord = { created_at: now(), budget_set_at: SEEDED_BUDGET_SET_AT, spend: 0, ...f };
  await put(encode.org(r));
  return r;
};
export const seedEndUser = async (f: Partial<EndUserRecord> & { user_id: string }) => {
  const r: EndUserRecord = { created_at: now(), budget_set_at: SEEDED_BUDGET_SET_AT, spend: 0, ...f };
  await put(encode.endUser(r));
  return r;
};
export const seedGlobal = async (f: GlobalSpendRecord) => put(encode.global(f));

/** A REST REQUEST authorizer event as API Gateway sends it. */
export function authorizerEvent(opts: {
  method?: string;
  resource?: string;
  path?: string;
  headers?: Record<string, string>;
  pathParameters?: Record<string, string>;
}): APIGatewayRequestAuthorizerEvent {
  const method = opts.method ?? 'POST';
  const resource = opts.resource ?? opts.path ?? '/chat/completions';
  const path = opts.path ?? resource;
  return {
    type: 'REQUEST',
    methodArn: `arn:aws:execute-api:us-east-1:123456789012:abc123/prod/${method}${path}`,
    resource,
    path,
    httpMethod: method,
    headers: opts.headers ?? {},
    multiValueHeaders: Object.fromEntries(Object.entries(opts.headers ?? {}).map(([k, v]) => [k, [v]])),
    pathParameters: opts.pathParameters ?? null,
    queryStringParameters: null,
    multiValueQueryStringParameters: null,
    stageVariables: null,
    requestContext: {} as APIGatewayRequestAuthorizerEvent['requestContext'],
  };
}
