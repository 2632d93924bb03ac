/**
 * The settlement journal in AWS (lib/store/settlement-journal): a queue the llm function sends a
 * settlement to when DynamoDB refuses it, consumed by the settlement-replay function, which
 * writes it (idempotently, per request id). A message that keeps failing (DynamoDB still down)
 * is retried every visibility timeout, `maxReceiveCount` times (about a day), then moves to the
 * dead-letter queue, kept 14 days: redrive it to the queue once DynamoDB is back. Alarms: any
 * settlement waiting in the queue for 15 minutes, and any in the dead-letter queue.
 */
import { Duration } from 'aws-cdk-lib';
import { Alarm, ComparisonOperator, TreatMissingData } from 'aws-cdk-lib/aws-cloudwatch';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import type { TollgateFunction } from './function.js';

/** How long a message is hidden after a failed replay: the consumer's timeout, six times over. */
export const REPLAY_VISIBILITY = Duration.minutes(3);
/** Receives before the dead-letter queue: 480 × 3 minutes = a day of DynamoDB outage. */
export const REPLAY_MAX_RECEIVES = 480;
/**
 * How long the queue and its dead-letter queue keep a message: shorter than a settlement's record
 * is kept (TOLLGATE_SETTLEMENT_TTL_SECONDS, 15 days by default), so a replayed or redriven
 * settlement still finds its record and counts once.
 */
export const SETTLEMENT_RETENTION = Duration.days(14);

export interface SettlementQueueProps {
  /** The function that writes kept settlements (functions/settlement-replay). */
  consumer: TollgateFunction;
  /** The functions that keep settlements (the llm function). */
  producers: TollgateFunction[];
}

export class SettlementQueue extends Construct {
  readonly queue: Queue;
  readonly deadLetters: Queue;
  readonly waitingAlarm: Alarm;
  readonly deadLetterAlarm: Alarm;

  constructor(scope: Construct, id: string, props: SettlementQueueProps) {
    super(scope, id);
    this.deadLetters = new Queue(this, 'DeadLetters', {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: SETTLEMENT_RETENTION,
    });
    this.queue = new Queue(this, 'Queue', {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: SETTLEMENT_RETENTION,
      visibilityTimeout: REPLAY_VISIBILITY,
      deadLetterQueue: { queue: this.deadLetters, maxReceiveCount: REPLAY_MAX_RECEIVES },
    });
    for (const p of props.producers) {
      this.queue.grantSendMessages(p.role);
      p.function.addEnvironment('TOLLGATE_SETTLEMENT_QUEUE_URL', this.queue.queueUrl);
    }
    props.consumer.function.addEventSource(new SqsEventSource(this.queue, { batchSize: 10, reportBatchItemFailures: true }));

    this.waitingAlarm = new Alarm(this, 'SettlementsWaiting', {
      alarmDescription: 'Tollgate: settlements DynamoDB refused are waiting for their replay (spend not yet counted)',
      metric: this.queue.metricApproximateAgeOfOldestMessage({ period: Duration.minutes(5) }),
      threshold: Duration.minutes(15).toSeconds(),
      comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: TreatMissingData.NOT_BREACHING,
    });
    this.deadLetterAlarm = new Alarm(this, 'SettlementsDeadLettered', {
      alarmDescription: 'Tollgate: settlements gave up replaying; redrive the dead-letter queue once DynamoDB answers',
      metric: this.deadLetters.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(5) }),
      threshold: 1,
      comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: TreatMissingData.NOT_BREACHING,
    });
  }
}
