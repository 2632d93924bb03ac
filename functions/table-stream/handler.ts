/**
 * The table's stream consumer: spend logs indexed and daily rollups added (lib/spend/stream.ts),
 * budget alerts announced (lib/alerts/consume.ts), off the request path. A failed record is reported, so the stream redelivers from it.
 */
import type { DynamoDBBatchResponse, DynamoDBStreamEvent } from 'aws-lambda';
import { tableStreamConsumers } from '../../lib/app/spend.js';
import { consumeAll } from '../../lib/spend/stream.js';

const consumers = tableStreamConsumers();

export const handler = async (event: DynamoDBStreamEvent): Promise<DynamoDBBatchResponse> => {
  const failedAt = await consumeAll(consumers, event.Records);
  return { batchItemFailures: failedAt ? [{ itemIdentifier: failedAt }] : [] };
};
