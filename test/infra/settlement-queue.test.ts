/**
 * The settlement journal in AWS (infra/constructs/settlement-queue.ts): the llm function may send
 * to one queue, whose URL it is given; a failed replay is retried, then dead-lettered; the
 * replay function consumes it reporting item failures and may write spend; two alarms watch it.
 * cdk-nag over the whole stack (stack.test.ts) covers the queues too.
 */
import type { Queue } from 'aws-cdk-lib/aws-sqs';
import { describe, expect, it } from 'vitest';
import { REPLAY_MAX_RECEIVES, REPLAY_VISIBILITY } from '../../infra/constructs/settlement-queue.js';
import type { DeployedFunction } from '../../infra/stack.js';
import { actionsOf, type CfnResource, logicalId, ofType, resourcesOf, statementsOf, synth } from './template.js';

const s = synth();
const q = s.stack.settlements;
const queueId = (queue: Queue) => logicalId(s, queue);
const fnId = (fn: DeployedFunction) => logicalId(s, s.stack.functions.get(fn)?.function as never);
const resource = (id: string) => s.resources[id] as CfnResource;

describe('the settlement queue', () => {
  it('is encrypted, kept 14 days, and dead-letters a settlement after a day of failed replays', () => {
    const main = resource(queueId(q.queue)).Properties;
    expect(main.SqsManagedSseEnabled).toBe(true);
    expect(main.MessageRetentionPeriod).toBe(14 * 86_400);
    expect(main.VisibilityTimeout).toBe(REPLAY_VISIBILITY.toSeconds());
    expect(main.RedrivePolicy).toEqual({
      deadLetterTargetArn: { 'Fn::GetAtt': [queueId(q.deadLetters), 'Arn'] },
      maxReceiveCount: REPLAY_MAX_RECEIVES,
    });
    expect(REPLAY_MAX_RECEIVES * REPLAY_VISIBILITY.toMinutes()).toBeGreaterThanOrEqual(24 * 60);
    const dead = resource(queueId(q.deadLetters)).Properties;
    expect(dead.SqsManagedSseEnabled).toBe(true);
    expect(dead.MessageRetentionPeriod).toBe(14 * 86_400);
  });

  it('refuses anything but TLS on both queues', () => {
    const policies = ofType(s, 'AWS::SQS::QueuePolicy');
    for (const queue of [q.queue, q.deadLetters]) {
      const policy = policies.find(([, p]) => JSON.stringify(p.Properties.Queues) === JSON.stringify([{ Ref: queueId(queue) }]));
      const deny = (policy?.[1].Properties.PolicyDocument.Statement as { Effect: string; Condition?: unknown }[]).find(
        (st) => st.Effect === 'Deny',
      );
      expect(deny?.Condition).toEqual({ Bool: { 'aws:SecureTransport': 'false' } });
    }
  });

  it('the llm function knows its URL and may only send to it', () => {
    const env = resource(fnId('llm')).Properties.Environment.Variables;
    expect(env.TOLLGATE_SETTLEMENT_QUEUE_URL).toEqual({ Ref: queueId(q.queue) });
    const sqs = statementsOf(s, 'llm').filter((st) => actionsOf(st).some((a) => a.startsWith('sqs:')));
    expect(sqs.flatMap(actionsOf).sort()).toEqual(['sqs:GetQueueAttributes', 'sqs:GetQueueUrl', 'sqs:SendMessage']);
    expect(sqs.flatMap(resourcesOf)).toEqual([{ 'Fn::GetAtt': [queueId(q.queue), 'Arn'] }]);
    for (const fn of ['authorizer', 'keys', 'spend-sweeper'] as const) {
      expect(
        statementsOf(s, fn)
          .flatMap(actionsOf)
          .some((a) => a.startsWith('sqs:')),
      ).toBe(false);
    }
  });

  it('the replay function consumes it, reporting item failures, and may write spend', () => {
    const mappings = ofType(s, 'AWS::Lambda::EventSourceMapping').filter(([, r]) =>
      JSON.stringify(r.Properties.EventSourceArn).includes(queueId(q.queue)),
    );
    expect(mappings).toHaveLength(1);
    const m = (mappings[0] as [string, CfnResource])[1].Properties;
    expect(m.EventSourceArn).toEqual({ 'Fn::GetAtt': [queueId(q.queue), 'Arn'] });
    expect(m.FunctionName).toEqual({ Ref: fnId('settlement-replay') });
    expect(m.FunctionResponseTypes).toEqual(['ReportBatchItemFailures']);
    const actions = statementsOf(s, 'settlement-replay').flatMap(actionsOf);
    expect(actions).toContain('dynamodb:UpdateItem');
    expect(actions).toContain('sqs:DeleteMessage');
    expect(actions.some((a) => a.startsWith('secretsmanager:'))).toBe(false);
    expect(resource(fnId('settlement-replay')).Properties.Timeout * 6).toBeLessThanOrEqual(REPLAY_VISIBILITY.toSeconds());
  });

  it('alarms when a settlement has waited 15 minutes, and on any dead-lettered one', () => {
    const alarms = ofType(s, 'AWS::CloudWatch::Alarm').map(([, a]) => a.Properties);
    const waiting = alarms.find((a) => a.MetricName === 'ApproximateAgeOfOldestMessage');
    expect(waiting?.Dimensions).toEqual([{ Name: 'QueueName', Value: { 'Fn::GetAtt': [queueId(q.queue), 'QueueName'] } }]);
    expect(waiting?.Threshold).toBe(900);
    // Found by its queue, not by its metric: the table stream's failure queue has an alarm on the same metric.
    const dead = alarms.find(
      (a) => a.MetricName === 'ApproximateNumberOfMessagesVisible' && JSON.stringify(a.Dimensions).includes(queueId(q.deadLetters)),
    );
    expect(dead?.Dimensions).toEqual([{ Name: 'QueueName', Value: { 'Fn::GetAtt': [queueId(q.deadLetters), 'QueueName'] } }]);
    expect(dead?.Threshold).toBe(1);
  });
});
