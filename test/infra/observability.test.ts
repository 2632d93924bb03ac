/**
 * Budget alerts, alarms and the dashboard in the synthesized template: the alert rule matches
 * Tollgate's events and targets the email topic when asked; the alerting function may put events
 * on the default bus only and read only the Slack secret it is given; the alarms exist and notify
 * the alarm topic when asked; the dashboard is there. cdk-nag over these is in stack.test.ts.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { PROJECT_ROOT } from '../../infra/bundling.js';
import { ALERT_DETAIL_TYPE, ALERT_SOURCE } from '../../lib/alerts/deliver.js';
import { actionsOf, type CfnResource, logicalId, ofType, resourcesOf, type Statement, synth } from './template.js';

const SLACK = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:tollgate/slack-AbCdEf';
const base = synth({});
const full = synth({
  alertEmail: 'ops@example.com',
  alarmEmail: 'oncall@example.com',
  alertSlackSecretArn: SLACK,
  alertThresholds: '90,50',
});

const fnOf = (s: typeof base, name: string) =>
  logicalId(s, (s.stack.functions.get(name as never) as unknown as { function: never }).function);
const envOf = (s: typeof base, name: string) =>
  (s.resources[fnOf(s, name)] as CfnResource).Properties.Environment.Variables as Record<string, string>;
const statementsOf = (s: typeof base, name: string): Statement[] => {
  const role = JSON.stringify((s.resources[fnOf(s, name)] as CfnResource).Properties.Role);
  return ofType(s, 'AWS::IAM::Policy')
    .filter(([, p]) => JSON.stringify(p.Properties.Roles).includes(JSON.parse(role)['Fn::GetAtt']?.[0] ?? '§'))
    .flatMap(([, p]) => p.Properties.PolicyDocument.Statement as Statement[]);
};

describe('budget alerts', () => {
  it("a rule matches Tollgate's alert events; with alertEmail it targets an email topic", () => {
    const alertRules = (s: typeof base) =>
      ofType(s, 'AWS::Events::Rule').filter(([, r]) => JSON.stringify(r.Properties.EventPattern ?? {}).includes(ALERT_DETAIL_TYPE));
    const [[, rule]] = alertRules(full) as [[string, CfnResource]];
    expect(rule.Properties.EventPattern).toEqual({ source: [ALERT_SOURCE], 'detail-type': [ALERT_DETAIL_TYPE] });
    expect(JSON.stringify(rule.Properties.Targets)).toContain(logicalId(full, full.stack.observability.alertTopic as never));
    const subs = ofType(full, 'AWS::SNS::Subscription').map(([, s]) => [s.Properties.Protocol, s.Properties.Endpoint]);
    expect(subs).toEqual(
      expect.arrayContaining([
        ['email', 'ops@example.com'],
        ['email', 'oncall@example.com'],
      ]),
    );
    expect(alertRules(base)[0]?.[1].Properties.Targets).toBeUndefined();
    expect(ofType(base, 'AWS::SNS::Topic')).toHaveLength(0);
  });

  it('the alerting function puts events on the default bus only, reads only the Slack secret, and gets the thresholds', () => {
    const sts = statementsOf(full, 'table-stream');
    const puts = sts.filter((st) => actionsOf(st).includes('events:PutEvents'));
    expect(puts.map((st) => JSON.stringify(resourcesOf(st)))).toEqual([expect.stringContaining('event-bus/default')]);
    const secrets = sts.filter((st) => actionsOf(st).some((a) => a.startsWith('secretsmanager:')));
    expect(secrets.flatMap(resourcesOf)).toEqual([SLACK]);
    expect(envOf(full, 'table-stream')).toMatchObject({
      TOLLGATE_ALERT_EVENT_BUS: 'default',
      TOLLGATE_ALERT_THRESHOLDS: '50,90',
      TOLLGATE_ALERT_SLACK_SECRET_ARN: SLACK,
    });
    expect(envOf(base, 'table-stream').TOLLGATE_ALERT_SLACK_SECRET_ARN).toBeUndefined();
  });
});

describe('alarms and the dashboard', () => {
  it('5xx rate, authorizer errors, table throttles, the table stream and the settlement queue alarms notify the alarm topic when asked', () => {
    const alarms = ofType(full, 'AWS::CloudWatch::Alarm');
    const described = alarms.map(([, a]) => a.Properties.AlarmDescription as string);
    for (const want of [
      /5xx/,
      /authorizer failed/,
      /throttled/,
      /waiting for their replay/,
      /gave up replaying/,
      /more than 5 minutes behind/,
      /gave a batch up/,
    ])
      expect(described.some((d) => want.test(d))).toBe(true);
    const behind = alarms.find(([, a]) => /more than 5 minutes behind/.test(a.Properties.AlarmDescription))?.[1].Properties;
    expect(behind).toMatchObject({ MetricName: 'IteratorAge', Statistic: 'Maximum', Threshold: 300_000 });
    const topic = logicalId(full, full.stack.observability.alarmTopic as never);
    for (const [, a] of alarms) expect(JSON.stringify(a.Properties.AlarmActions)).toContain(topic);
    for (const [, a] of ofType(base, 'AWS::CloudWatch::Alarm')) expect(a.Properties.AlarmActions).toBeUndefined();
  });

  it('a dashboard shows the API, every function and the table', () => {
    const [[, d]] = ofType(base, 'AWS::CloudWatch::Dashboard') as [[string, CfnResource]];
    const body = JSON.stringify(d.Properties.DashboardBody);
    for (const want of [
      '5XXError',
      'Latency',
      'Errors',
      'Duration',
      'ConsumedWriteCapacityUnits',
      'ReadThrottleEvents',
      'WriteThrottleEvents',
    ])
      expect(body).toContain(want);
  });

  it('bad options are one line each', () => {
    expect(() => synth({ alertEmail: 'not-an-email' })).toThrow(/alertEmail/);
    expect(() => synth({ alertThresholds: '0,50' })).toThrow(/alertThresholds/);
    expect(() => synth({ alertSlackSecretArn: 'tollgate/slack' })).toThrow(/alertSlackSecretArn/);
  });
});

const alarmOf = (s: typeof base, described: RegExp): Record<string, any> => {
  const found = ofType(s, 'AWS::CloudWatch::Alarm').filter(([, a]) => described.test(a.Properties.AlarmDescription));
  expect(found).toHaveLength(1);
  return (found[0] as [string, CfnResource])[1].Properties;
};
const metricsOf = (alarm: Record<string, any>) =>
  ((alarm.Metrics as { MetricStat?: { Metric: Record<string, any> } }[] | undefined) ?? []).flatMap((m) =>
    m.MetricStat ? [m.MetricStat.Metric] : [],
  );

describe('DynamoDB throttle alarm', () => {
  it('sums the table read and write throttle events (ThrottledRequests by TableName alone is never published)', () => {
    const alarm = alarmOf(base, /throttled/);
    const table = { Name: 'TableName', Value: { Ref: logicalId(base, base.stack.table.table) } };
    expect(metricsOf(alarm).map((m) => [m.Namespace, m.MetricName, m.Dimensions])).toEqual(
      expect.arrayContaining([
        ['AWS/DynamoDB', 'ReadThrottleEvents', [table]],
        ['AWS/DynamoDB', 'WriteThrottleEvents', [table]],
      ]),
    );
    const expression = (alarm.Metrics as { Expression?: string; ReturnData?: boolean }[]).find((m) => m.Expression);
    expect(expression?.Expression).toMatch(/FILL\(\w+, 0\) \+ FILL\(\w+, 0\)/);
    expect(JSON.stringify(base.resources)).not.toContain('ThrottledRequests');
  });
});

describe('authorizer alarm', () => {
  it('counts only the authorizer failing closed (its error log, a timeout), not the 401s its Lambda errors also count', () => {
    const alarm = alarmOf(full, /authorizer failed/);
    expect(alarm).toMatchObject({ Namespace: 'Tollgate', MetricName: 'AuthorizerFailures', Statistic: 'Sum', Threshold: 1 });
    expect(alarm.Dimensions).toBeUndefined();
    const logs = logicalId(full, (full.stack.functions.get('authorizer') as unknown as { logGroup: never }).logGroup);
    const filters = ofType(full, 'AWS::Logs::MetricFilter').filter(([, f]) => JSON.stringify(f.Properties.LogGroupName).includes(logs));
    const patterns = filters.map(([, f]) => f.Properties.FilterPattern as string);
    expect(patterns).toEqual(
      expect.arrayContaining([
        '{ ($.level = "ERROR") && ($.message = "authorization failed") }',
        expect.stringMatching(/"Task timed out".*"Status: timeout"/),
      ]),
    );
    for (const [, f] of filters)
      expect(f.Properties.MetricTransformations).toEqual([
        { MetricNamespace: 'Tollgate', MetricName: 'AuthorizerFailures', MetricValue: '1' },
      ]);
    // The line the first filter matches is the handler's, when it fails closed.
    const handler = readFileSync(join(PROJECT_ROOT, 'functions/authorizer/handler.ts'), 'utf8');
    expect(handler).toMatch(/catch \(e\) \{[^}]*logger\(\)\.error\('authorization failed'/s);
  });
});

describe('spend metrics alarms', () => {
  afterEach(() => {
    vi.restoreAllMocks();
    vi.unstubAllEnvs();
  });

  /** The EMF record lib/metrics writes for one count: namespace, dimensions and their values. */
  const emitted = async (name: 'SettlementsLost' | 'PendingUnbilled') => {
    vi.stubEnv('POWERTOOLS_METRICS_DISABLED', 'false');
    const lines: string[] = [];
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      lines.push(String(chunk));
      return true;
    });
    vi.resetModules();
    const { countMetric } = await import('../../lib/metrics.js');
    await countMetric(name);
    vi.restoreAllMocks();
    const record = lines
      .flatMap((l) => l.split('\n'))
      .filter((l) => l.includes('"_aws"'))
      .map((l) => JSON.parse(l) as Record<string, any>)
      .find((r) => r[name] === 1);
    const directive = record?._aws.CloudWatchMetrics[0] as { Namespace: string; Dimensions: string[][] };
    return {
      Namespace: directive.Namespace,
      Dimensions: (directive.Dimensions[0] as string[]).map((d) => ({ Name: d, Value: record?.[d] })),
    };
  };

  for (const [name, described] of [
    ['SettlementsLost', /neither written nor kept/],
    ['PendingUnbilled', /retired unbilled/],
  ] as const) {
    it(`${name}: at least one in 5 minutes alarms, on the metric lib/metrics emits, and notifies the alarm topic`, async () => {
      const alarm = alarmOf(full, described);
      const { Namespace, Dimensions } = await emitted(name);
      expect(alarm).toMatchObject({
        Namespace,
        MetricName: name,
        Dimensions,
        Statistic: 'Sum',
        Period: 300,
        Threshold: 1,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
        EvaluationPeriods: 1,
        TreatMissingData: 'notBreaching',
      });
      expect(JSON.stringify(alarm.AlarmActions)).toContain(logicalId(full, full.stack.observability.alarmTopic as never));
    });
  }
});

describe('the spend sweeper on its schedule', () => {
  it('a failed run is not retried by Lambda (the next run, 5 minutes later, does the same work)', () => {
    const sweeper = fnOf(base, 'spend-sweeper');
    const configs = ofType(base, 'AWS::Lambda::EventInvokeConfig').filter(([, c]) =>
      JSON.stringify(c.Properties.FunctionName).includes(sweeper),
    );
    expect(configs.map(([, c]) => c.Properties.MaximumRetryAttempts)).toEqual([0]);
  });

  it('a failed run alarms and notifies the alarm topic', () => {
    const alarm = alarmOf(full, /spend-sweeper run failed/);
    expect(alarm).toMatchObject({
      Namespace: 'AWS/Lambda',
      MetricName: 'Errors',
      Dimensions: [{ Name: 'FunctionName', Value: { Ref: fnOf(full, 'spend-sweeper') } }],
      Statistic: 'Sum',
      Threshold: 1,
      TreatMissingData: 'notBreaching',
    });
    expect(JSON.stringify(alarm.AlarmActions)).toContain(logicalId(full, full.stack.observability.alarmTopic as never));
  });
});

describe('spend log export (spendLogExport)', () => {
  const withExport = synth({ spendLogExport: true });
  it('a private bucket the table-stream function may only put spend-log objects into; nothing without the option', () => {
    const buckets = (s: typeof base) => ofType(s, 'AWS::S3::Bucket').filter(([id]) => id.includes('SpendLogExport'));
    expect(buckets(base)).toHaveLength(0);
    const [[id, bucket]] = buckets(withExport) as [[string, CfnResource]];
    expect(bucket.Properties.PublicAccessBlockConfiguration).toMatchObject({ BlockPublicAcls: true, RestrictPublicBuckets: true });
    const puts = statementsOf(withExport, 'table-stream').filter((st) => actionsOf(st).some((a) => a.startsWith('s3:')));
    expect(puts.map((st) => actionsOf(st))).toEqual([['s3:PutObject']]);
    expect(JSON.stringify(resourcesOf(puts[0] as Statement))).toContain(id);
    expect(JSON.stringify(resourcesOf(puts[0] as Statement))).toContain('/spend-logs/*');
    expect(envOf(withExport, 'table-stream').TOLLGATE_SPEND_LOG_EXPORT_BUCKET).toEqual({ Ref: id });
  });
});
