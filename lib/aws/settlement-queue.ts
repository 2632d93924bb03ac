/**
 * The settlement journal in AWS: an SQS queue (with a dead-letter queue, infra/constructs/
 * settlement-queue.ts) consumed by the settlement-replay function. The SQS client is loaded on
 * first use only: an llm instance whose settlements all land never pays for it at cold start.
 */
import type { SQSClient } from '@aws-sdk/client-sqs';
import { journalRecord, type SettlementJournal } from '../store/settlement-journal.js';
import type { Settlement } from '../store/spend-ledger.js';

export class SqsSettlementJournal implements SettlementJournal {
  private client: Promise<{ sqs: SQSClient; send: typeof import('@aws-sdk/client-sqs').SendMessageCommand }> | undefined;

  constructor(
    private readonly queueUrl: string,
    private readonly region: string,
  ) {}

  async keep(s: Settlement): Promise<void> {
    this.client ??= import('@aws-sdk/client-sqs').then((m) => ({
      sqs: new m.SQSClient({ region: this.region }),
      send: m.SendMessageCommand,
    }));
    const { sqs, send } = await this.client;
    await sqs.send(new send({ QueueUrl: this.queueUrl, MessageBody: journalRecord(s) }));
  }
}
