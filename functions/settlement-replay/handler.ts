import middy from '@middy/core';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { objectOwners, spendSettler } from '../../lib/app/llm.js';
import { countMetric } from '../../lib/metrics.js';
import { JournalRecordError, replayJournalRecord } from '../../lib/store/settlement-journal.js';
import { logger, tracing } from '../../lib/telemetry.js';

/**
 * Consumes the settlement queue (lib/aws/settlement-queue.ts): each message is a settlement the
 * llm function could not write; it is written now, counting once per request id (a message
 * delivered twice, or one whose settlement had landed after all, changes nothing). A message
 * that fails is reported back and retried by SQS after its visibility timeout, until the queue's
 * maxReceiveCount sends it to the dead-letter queue (alarmed; redrive it once DynamoDB is back).
 * A message of owner records (objects an upstream made while the store refused their records)
 * writes each that is not there yet.
 */
export const handler = middy<SQSEvent, SQSBatchResponse>()
  .use(tracing())
  .handler(async (event) => {
    const batchItemFailures: SQSBatchResponse['batchItemFailures'] = [];
    let landed = 0;
    for (const record of event.Records) {
      try {
        await replayJournalRecord({ settler: spendSettler(), owners: objectOwners() }, record.body);
        landed++;
      } catch (e) {
        const malformed = e instanceof JournalRecordError;
        logger().error(malformed ? 'settlement message rejected' : 'settlement replay failed', {
          messageId: record.messageId,
          error: malformed ? e.message : (e as Error).name,
        });
        batchItemFailures.push({ itemIdentifier: record.messageId });
      }
    }
    if (landed > 0) await countMetric('SettlementsReplayed', landed);
    return { batchItemFailures };
  });
