/**
 * The table's stream in tests: read once to its end by a reader of its own (from the stream's
 * start), and the items of a partition; and settling spend logs as the llm function does.
 */
import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import { type FilterPattern, startTableStream } from '../../infra/local/table-stream.js';
import { documentClient, spendSettler } from '../../lib/app/index.js';
import { dollarsToNanos } from '../../lib/domain/cost.js';
import type { SpendLog } from '../../lib/domain/spend-log.js';
import type { StreamConsumer } from '../../lib/spend/stream.js';
import { tableName } from '../../lib/store/client.js';
import type { Item } from '../../lib/store/codec.js';
import type { TestTable } from './table.js';

/** Every record from the stream's start through `consumers`, by a new reader, then stopped. */
export async function drainOnce(table: TestTable, consumers: readonly StreamConsumer[], filter?: FilterPattern | null): Promise<void> {
  const reader = await startTableStream({
    endpoint: table.endpoint,
    tableName: table.tableName,
    consumers,
    everyMs: 0,
    ...(filter === undefined ? {} : { filter }),
  });
  try {
    await reader.drain();
  } finally {
    await reader.stop();
  }
}

/** Every item of a partition. */
export async function partitionItems(pk: string): Promise<Item[]> {
  const out: Item[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const page = await documentClient().send(
      new QueryCommand({
        TableName: tableName(),
        KeyConditionExpression: 'PK = :pk',
        ExpressionAttributeValues: { ':pk': pk },
        ...(start ? { ExclusiveStartKey: start } : {}),
      }),
    );
    out.push(...((page.Items ?? []) as Item[]));
    start = page.LastEvaluatedKey;
  } while (start);
  return out;
}

/** Settles each log as its own request (no counters), `parallel` at a time. */
export async function settleLogs(logs: readonly SpendLog[], parallel = 1): Promise<void> {
  for (let i = 0; i < logs.length; i += parallel)
    await Promise.all(
      logs.slice(i, i + parallel).map((log) =>
        spendSettler().settle({
          requestId: log.request_id,
          at: Date.parse(log.startTime),
          costNanos: dollarsToNanos(log.spend),
          model: log.model,
          targets: [],
          log,
        }),
      ),
    );
}
