/**
 * Seeing Tollgate run: budget alerts delivered, a dashboard, and alarms.
 *
 * - Budget alerts: the table-stream function announces each crossing (lib/alerts) as an
 *   EventBridge event on the default bus (`source: tollgate`, detail type `Tollgate Budget
 *   Alert`: docs/alerts.md). A rule sends them to an SNS topic with an email subscription when
 *   `alertEmail` is set; `alertSlackSecretArn` names a secret holding a Slack webhook URL the
 *   function posts them to. Any other target can be added to the bus by the deployment.
 * - Alarms: the API's 5xx rate, the authorizer failing closed, DynamoDB throttles, the table
 *   stream, settlements lost, pending objects retired unbilled, the spend sweeper failing (and the
 *   settlement queue's two alarms, made with it); each notifies an SNS topic when `alarmEmail` is set.
 * - A CloudWatch dashboard: requests, errors and latency of the API; invocations, errors and
 *   duration of every function; the table's consumed capacity and throttles.
 */
import { Duration, Stack, Validations } from 'aws-cdk-lib';
import type { RestApi } from 'aws-cdk-lib/aws-apigateway';
import {
  Alarm,
  ComparisonOperator,
  Dashboard,
  GraphWidget,
  MathExpression,
  Metric,
  TextWidget,
  TreatMissingData,
} from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import type { TableV2 } from 'aws-cdk-lib/aws-dynamodb';
import { Rule } from 'aws-cdk-lib/aws-events';
import { SnsTopic } from 'aws-cdk-lib/aws-events-targets';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { FilterPattern } from 'aws-cdk-lib/aws-logs';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { EmailSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { ALERT_DETAIL_TYPE, ALERT_SOURCE } from '../../lib/alerts/deliver.js';
import type { TollgateFunction } from './function.js';
import type { ResolvedOptions } from './options.js';

/** lib/metrics.ts: Powertools Metrics with this namespace and service, which it adds as the `service` dimension. */
export const SPEND_METRICS = { namespace: 'Tollgate', dimensionsMap: { service: 'tollgate' } } as const;

/** What functions/authorizer/handler.ts logs (Powertools, JSON) when it fails closed: a store or secret failure. */
export const AUTHORIZER_FAILURE_LOG = { level: 'ERROR', message: 'authorization failed' } as const;

export interface ObservabilityProps {
  options: ResolvedOptions;
  api: RestApi;
  table: TableV2;
  /** Every deployed function by name. */
  functions: ReadonlyMap<string, TollgateFunction>;
  /** The function that announces budget alerts (the table stream's consumer). */
  alerter: TollgateFunction;
  /** Alarms made elsewhere that notify the same topic (the settlement queue's). */
  moreAlarms: readonly Alarm[];
  /** Where the table stream's event source mapping sends the batches it gave up on. */
  streamFailures: IQueue;
}

export class TollgateObservability extends Construct {
  readonly alertRule: Rule;
  readonly alertTopic: Topic | undefined;
  readonly alarmTopic: Topic | undefined;
  readonly alarms: Alarm[];
  readonly dashboard: Dashboard;

  constructor(scope: Construct, id: string, props: ObservabilityProps) {
    super(scope, id);
    const o = props.options;
    const stack = Stack.of(this);

    // Budget alerts: events on the default bus, and where they go.
    const fn = props.alerter;
    fn.function.addEnvironment('TOLLGATE_ALERT_EVENT_BUS', 'default');
    if (o.alertThresholds) fn.function.addEnvironment('TOLLGATE_ALERT_THRESHOLDS', o.alertThresholds);
    fn.role.addToPrincipalPolicy(
      new PolicyStatement({
        actions: ['events:PutEvents'],
        resources: [stack.formatArn({ service: 'events', resource: 'event-bus', resourceName: 'default' })],
      }),
    );
    if (o.alertSlackSecretArn) {
      fn.function.addEnvironment('TOLLGATE_ALERT_SLACK_SECRET_ARN', o.alertSlackSecretArn);
      Secret.fromSecretCompleteArn(this, 'SlackWebhook', o.alertSlackSecretArn).grantRead(fn.role);
    }
    this.alertRule = new Rule(this, 'BudgetAlerts', {
      description: 'Tollgate budget alerts (thresholds of max_budget, soft budgets) as they are crossed',
      eventPattern: { source: [ALERT_SOURCE], detailType: [ALERT_DETAIL_TYPE] },
    });
    this.alertTopic = o.alertEmail ? this.topic('BudgetAlertTopic', 'Tollgate budget alerts', o.alertEmail) : undefined;
    if (this.alertTopic) this.alertRule.addTarget(new SnsTopic(this.alertTopic));

    // Alarms.
    this.alarmTopic = o.alarmEmail ? this.topic('AlarmTopic', 'Tollgate alarms', o.alarmEmail) : undefined;
    const apiMetric = (metricName: string, statistic = 'Sum') =>
      new Metric({
        namespace: 'AWS/ApiGateway',
        metricName,
        dimensionsMap: { ApiName: props.api.restApiName },
        statistic,
        period: Duration.minutes(5),
      });
    const tableMetric = (metricName: string) =>
      new Metric({
        namespace: 'AWS/DynamoDB',
        metricName,
        dimensionsMap: { TableName: props.table.tableName },
        statistic: 'Sum',
        period: Duration.minutes(5),
      });
    const authorizer = props.functions.get('authorizer') as TollgateFunction;
    const sweeper = props.functions.get('spend-sweeper') as TollgateFunction;
    // `ThrottledRequests` by TableName alone is never published (it needs an Operation): count the
    // read and write throttle events instead, a missing series as none.
    const throttled = new MathExpression({
      expression: 'FILL(reads, 0) + FILL(writes, 0)',
      usingMetrics: { reads: tableMetric('ReadThrottleEvents'), writes: tableMetric('WriteThrottleEvents') },
      period: Duration.minutes(5),
      label: 'throttle events',
    });
    const throttles = new Alarm(this, 'TableThrottles', {
      alarmDescription: 'Tollgate: DynamoDB throttled requests (hot counters: raise spendShards)',
      metric: throttled,
      threshold: 1,
      comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: TreatMissingData.NOT_BREACHING,
    });
    this.alarms = [
      new Alarm(this, 'Api5xxRate', {
        alarmDescription: 'Tollgate: more than 5% of API requests answered 5xx over 5 minutes',
        metric: new MathExpression({
          expression: '100 * IF(requests > 0, errors / requests, 0)',
          usingMetrics: { errors: apiMetric('5XXError'), requests: apiMetric('Count') },
          period: Duration.minutes(5),
          label: '5xx %',
        }),
        threshold: 5,
        comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: TreatMissingData.NOT_BREACHING,
      }),
      new Alarm(this, 'AuthorizerErrors', {
        alarmDescription:
          'Tollgate: the authorizer failed closed: the store or a secret failed, or it timed out (callers get 503 store_unavailable; unknown keys are 401s and not counted)',
        metric: this.authorizerFailures(authorizer),
        threshold: 1,
        comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: TreatMissingData.NOT_BREACHING,
      }),
      new Alarm(this, 'TableStreamBehind', {
        alarmDescription:
          "Tollgate: the table stream's consumer is more than 5 minutes behind (counters from the stream, spend logs and budget alerts are late; a batch may be failing)",
        metric: fn.function.metric('IteratorAge', { statistic: 'Maximum', period: Duration.minutes(5) }),
        threshold: 5 * 60 * 1000,
        comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: TreatMissingData.NOT_BREACHING,
      }),
      new Alarm(this, 'TableStreamGaveUp', {
        alarmDescription:
          "Tollgate: the table stream's consumer gave a batch up (24 hours of failures): its counters, spend logs or alerts were not written; see docs/spend.md",
        metric: props.streamFailures.metricApproximateNumberOfMessagesVisible({ statistic: 'Maximum', period: Duration.minutes(5) }),
        threshold: 1,
        comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: TreatMissingData.NOT_BREACHING,
      }),
      throttles,
      this.countAlarm(
        'SettlementsLost',
        "Tollgate: a call's spend was neither written nor kept for replay (SettlementsLost): charge it by hand from the 'spend not recorded' log line",
      ),
      this.countAlarm(
        'PendingUnbilled',
        "Tollgate: a pending object was retired unbilled (PendingUnbilled): charge it by hand from the 'pending object retired unbilled' log line",
      ),
      new Alarm(this, 'SpendSweeperErrors', {
        alarmDescription:
          'Tollgate: a scheduled spend-sweeper run failed (until a run succeeds, expired strict reservations keep holding budget headroom and ended windows keep their counters)',
        metric: sweeper.function.metricErrors({ period: Duration.minutes(5) }),
        threshold: 1,
        comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: TreatMissingData.NOT_BREACHING,
      }),
    ];
    if (this.alarmTopic) {
      const action = new SnsAction(this.alarmTopic);
      for (const a of [...this.alarms, ...props.moreAlarms]) a.addAlarmAction(action);
    }

    // The dashboard.
    const fns = [...props.functions.entries()];
    this.dashboard = new Dashboard(this, 'Dashboard', { dashboardName: `${stack.stackName}-tollgate` });
    this.dashboard.addWidgets(
      new TextWidget({
        markdown: '# Tollgate\nAPI, functions and table. Spend: `/global/spend/report`; alerts: the `BudgetAlerts` rule.',
        width: 24,
        height: 2,
      }),
      new GraphWidget({
        title: 'API requests and errors',
        left: [apiMetric('Count'), apiMetric('4XXError'), apiMetric('5XXError')],
        width: 12,
      }),
      new GraphWidget({ title: 'API latency (p50, p99)', left: [apiMetric('Latency', 'p50'), apiMetric('Latency', 'p99')], width: 12 }),
      new GraphWidget({
        title: 'Function errors',
        left: fns.map(([, f]) => f.function.metricErrors({ period: Duration.minutes(5) })),
        width: 12,
      }),
      new GraphWidget({
        title: 'Function duration p99',
        left: fns.map(([, f]) => f.function.metricDuration({ period: Duration.minutes(5), statistic: 'p99' })),
        width: 12,
      }),
      new GraphWidget({
        title: 'DynamoDB: consumed write units and throttles',
        left: [
          new Metric({
            namespace: 'AWS/DynamoDB',
            metricName: 'ConsumedWriteCapacityUnits',
            dimensionsMap: { TableName: props.table.tableName },
            statistic: 'Sum',
          }),
        ],
        right: [throttled],
        width: 24,
      }),
    );
  }

  /** One of lib/metrics' counts, at least once in 5 minutes. */
  private countAlarm(metricName: 'SettlementsLost' | 'PendingUnbilled', alarmDescription: string): Alarm {
    return new Alarm(this, metricName, {
      alarmDescription,
      metric: new Metric({ ...SPEND_METRICS, metricName, statistic: 'Sum', period: Duration.minutes(5) }),
      threshold: 1,
      comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: TreatMissingData.NOT_BREACHING,
    });
  }

  /**
   * The authorizer failing closed, from its log: its Lambda errors also count every unknown key
   * (the `Unauthorized` it throws for API Gateway's 401), and it emits no metric of its own. The
   * handler's error line and Lambda's timeout line feed one metric, published only when they occur.
   */
  private authorizerFailures(authorizer: TollgateFunction): Metric {
    const metric = { metricNamespace: 'Tollgate', metricName: 'AuthorizerFailures', metricValue: '1' };
    authorizer.logGroup.addMetricFilter('FailedClosed', {
      ...metric,
      filterPattern: FilterPattern.all(
        FilterPattern.stringValue('$.level', '=', AUTHORIZER_FAILURE_LOG.level),
        FilterPattern.stringValue('$.message', '=', AUTHORIZER_FAILURE_LOG.message),
      ),
    });
    // Lambda's own line for a timeout: `Task timed out after`, or on newer runtimes `Status: timeout` in the REPORT line.
    const timedOut = authorizer.logGroup.addMetricFilter('TimedOut', {
      ...metric,
      filterPattern: FilterPattern.anyTerm('Task timed out', 'Status: timeout'),
    });
    return timedOut.metric({ statistic: 'Sum', period: Duration.minutes(5) });
  }

  private topic(id: string, name: string, email: string): Topic {
    const topic = new Topic(this, id, { displayName: name, enforceSSL: true });
    topic.addSubscription(new EmailSubscription(email));
    Validations.of(topic).acknowledge({
      id: 'AwsSolutions-SNS2',
      reason:
        "Alerts and alarms carry ids and amounts, never a secret; EventBridge and CloudWatch cannot publish to a topic encrypted with SNS's AWS managed key.",
    });
    return topic;
  }
}
