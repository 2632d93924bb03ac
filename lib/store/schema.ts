/**
 * The table's shape, in one place: the CDK stack and the local table creation both read it.
 * GSI1 lists one kind of item (all teams, all keys); GSI2 lists by owning user (a user's keys
 * and memberships); GSI3 lists by parent (a team's keys, an organization's teams). All three are
 * sparse: an item appears only where it has the attribute. They project keys only: a settlement
 * moving the counters of a key, team or organization then writes no index (with every attribute
 * projected, each counter move was written again to each index its item is in: more than half of
 * a settlement's write units). Readers of an index read the items from the base table
 * (lib/store/hydrate).
 */
import { CreateTableCommand, DescribeTableCommand, type DynamoDBClient, UpdateTableCommand } from '@aws-sdk/client-dynamodb';

export const TABLE_SCHEMA = {
  partitionKey: 'PK',
  sortKey: 'SK',
  ttlAttribute: 'ttl',
  indexes: [
    { name: 'GSI1', partitionKey: 'GSI1PK', sortKey: 'GSI1SK' },
    { name: 'GSI2', partitionKey: 'GSI2PK', sortKey: 'GSI2SK' },
    { name: 'GSI3', partitionKey: 'GSI3PK', sortKey: 'GSI3SK' },
  ],
  indexProjection: 'KEYS_ONLY',
  /** The stream the spend logs and rollups are built from, off the request path (lib/spend/stream). */
  streamView: 'NEW_AND_OLD_IMAGES',
} as const;

/**
 * Creates the table (on-demand) unless it exists; used by local mode and the tests. A failure
 * that is not DynamoDB's own answer (a database still warming up) is retried for a few seconds.
 */
/**
 * `stream: false` leaves the stream off: a table whose spend logs and alerts nobody reads (tests
 * and benches that do not need them; DynamoDB Local writes every stream record to disk).
 */
export async function ensureTable(
  client: DynamoDBClient,
  tableName: string,
  retryForMs = 10_000,
  opts: { stream?: boolean } = {},
): Promise<void> {
  const deadline = Date.now() + retryForMs;
  for (;;) {
    try {
      return await createTableUnlessExists(client, tableName, opts.stream ?? true);
    } catch (e) {
      const name = (e as { name?: string }).name;
      const answered = name !== undefined && /Exception$|^ValidationError$/.test(name) && !/^SyntaxError$/.test(name);
      if (answered || Date.now() > deadline) throw e;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

async function createTableUnlessExists(client: DynamoDBClient, tableName: string, stream: boolean): Promise<void> {
  try {
    const { Table } = await client.send(new DescribeTableCommand({ TableName: tableName }));
    // A table made before it had a stream (a kept local data folder) gets one.
    if (stream && !Table?.StreamSpecification?.StreamEnabled)
      await client.send(
        new UpdateTableCommand({
          TableName: tableName,
          ...(stream ? { StreamSpecification: { StreamEnabled: true, StreamViewType: TABLE_SCHEMA.streamView } } : {}),
        }),
      );
    return;
  } catch (e) {
    if ((e as { name?: string }).name !== 'ResourceNotFoundException') throw e;
  }
  const attrs = [TABLE_SCHEMA.partitionKey, TABLE_SCHEMA.sortKey, ...TABLE_SCHEMA.indexes.flatMap((i) => [i.partitionKey, i.sortKey])];
  await client.send(
    new CreateTableCommand({
      TableName: tableName,
      BillingMode: 'PAY_PER_REQUEST',
      ...(stream ? { StreamSpecification: { StreamEnabled: true, StreamViewType: TABLE_SCHEMA.streamView } } : {}),
      AttributeDefinitions: attrs.map((name) => ({ AttributeName: name, AttributeType: 'S' })),
      KeySchema: [
        { AttributeName: TABLE_SCHEMA.partitionKey, KeyType: 'HASH' },
        { AttributeName: TABLE_SCHEMA.sortKey, KeyType: 'RANGE' },
      ],
      GlobalSecondaryIndexes: TABLE_SCHEMA.indexes.map((i) => ({
        IndexName: i.name,
        KeySchema: [
          { AttributeName: i.partitionKey, KeyType: 'HASH' },
          { AttributeName: i.sortKey, KeyType: 'RANGE' },
        ],
        Projection: { ProjectionType: TABLE_SCHEMA.indexProjection },
      })),
    }),
  );
}
