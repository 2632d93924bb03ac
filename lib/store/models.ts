/** The model registry's items: every model, listed through the by-kind index (GSI1 `MODEL`). */
import { type DynamoDBDocumentClient, QueryCommand } from '@aws-sdk/lib-dynamodb';
import type { ModelRecord } from '../domain/records.js';
import { StoreUnavailableError } from '../errors.js';
import { logger, traced } from '../telemetry.js';
import { decode } from './codec.js';
import { hydrate } from './hydrate.js';
import { INDEX } from './keys.js';

/** All models through GSI1, every page. */
export class DynamoModelSource {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  listModels(): Promise<ModelRecord[]> {
    return traced('registry.list', async () => {
      const out: ModelRecord[] = [];
      let start: Record<string, unknown> | undefined;
      try {
        do {
          const res = await this.client.send(
            new QueryCommand({
              TableName: this.tableName,
              IndexName: INDEX.byKind,
              KeyConditionExpression: 'GSI1PK = :kind',
              ExpressionAttributeValues: { ':kind': 'MODEL' },
              ExclusiveStartKey: start,
            }),
          );
          for (const item of await hydrate(this.client, this.tableName, res.Items ?? [])) out.push(decode<ModelRecord>(item));
          start = res.LastEvaluatedKey;
        } while (start);
      } catch (e) {
        logger().error('model registry read failed', { error: (e as Error).name });
        throw new StoreUnavailableError();
      }
      return out;
    });
  }
}
