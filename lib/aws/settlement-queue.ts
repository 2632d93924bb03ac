/**
 * The settlement journal in AWS: an SQS queue (with a dead-letter queue, infra/constructs/
 * settlement-queue.ts) consumed by the settlement-replay function. The SQS client is loaded on
 * first use only: an llm instance whose settlements all land never pays for it at cold start.
 * The journal is written while the llm invocation waits (the store has just refused the
 * settlement), so its calls have a deadline, the store's by default (lib/store/attempt-deadline):
 * a stalled SQS fails the write (the settlement is then logged as not recorded) instead of
 * holding the invocation until the Lambda times out. A retried SendMessage whose first answer
 * was lost may queue a settlement twice; its replay counts it once (the request id). Owner
 * records go the same way (their replay writes each once).
 */
import type { SQSClient } from '@aws-sdk/client-sqs';
import type { ObjectOwner } from '../domain/tenancy.js';
import { type AttemptTimeouts, boundAttempts, boundedClientConfig } from '../store/attempt-deadline.js';
import { journalRecord, ownersRecord, type SettlementJournal } from '../store/settlement-journal.js';
import type { Settlement } from '../store/spend-ledger.js';

export class SqsSettlementJournal implements SettlementJournal {
  private client: Promise<{ sqs: SQSClient; send: typeof import('@aws-sdk/client-sqs').SendMessageCommand }> | undefined;

  constructor(
    private readonly queueUrl: string,
    private readonly region: string,
    private readonly timeouts: AttemptTimeouts,
  ) {}

  keep(s: Settlement): Promise<void> {
    return this.send(journalRecord(s));
  }

  keepOwners(owners: readonly ObjectOwner[]): Promise<void> {
    return this.send(ownersRecord(owners));
  }

  private async send(body: string): Promise<void> {
    this.client ??= import('@aws-sdk/client-sqs').then((m) => ({
      sqs: boundAttempts(new m.SQSClient({ region: this.region, ...boundedClientConfig(this.timeouts) }), this.timeouts.timeoutMs),
      send: m.SendMessageCommand,
    }));
    const { sqs, send } = await this.client;
    await sqs.send(new send({ QueueUrl: this.queueUrl, MessageBody: body }));
  }
}
