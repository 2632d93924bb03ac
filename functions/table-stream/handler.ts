/**
 * The table's stream consumer: spend logs indexed and daily rollups added, off the request path
 * (lib/spend/stream.ts). A failed record is reported, so the stream redelivers from it.
 */
import type { DynamoDBBatchResponse, DynamoDBStreamEvent } from 'aws-lambda';
import { spendLogStore } from '../../lib/app/spend.js';
import { consumeAll, spendLogConsumer } from '../../lib/spend/stream.js';

const consumers = [spendLogConsumer(spendLogStore)];

export const handler = async (event: DynamoDBStreamEvent): Promise<DynamoDBBatchResponse> => {
  const failedAt = await consumeAll(consumers, event.Records);
  return { batchItemFailures: failedAt ? [{ itemIdentifier: failedAt }] : [] };
};
