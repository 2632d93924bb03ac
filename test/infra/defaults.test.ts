/**
 * AWS defaults a careful operator expects (issue 10, item 15): stage throttling as the outer
 * guard, an optional WAF web ACL with a rate-based rule, the passthrough model as a stack option,
 * and a bad `-c` option answered in one line without a stack trace.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { resolveOptions } from '../../infra/constructs/options.js';
import { ofType, synth } from './template.js';

const repo = fileURLToPath(new URL('../../', import.meta.url));

describe('stage throttling', () => {
  it('is on by default (500 rps, burst 1000), for every method of the stage', () => {
    const [, stage] = ofType(synth(), 'AWS::ApiGateway::Stage')[0]!;
    expect(stage.Properties.MethodSettings).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ HttpMethod: '*', ResourcePath: '/*', ThrottlingRateLimit: 500, ThrottlingBurstLimit: 1000 }),
      ]),
    );
  });

  it('takes its rate and burst as options, within what API Gateway allows', () => {
    const [, stage] = ofType(synth({ throttleRateLimit: 50, throttleBurstLimit: 100 }), 'AWS::ApiGateway::Stage')[0]!;
    expect(stage.Properties.MethodSettings).toEqual(
      expect.arrayContaining([expect.objectContaining({ ThrottlingRateLimit: 50, ThrottlingBurstLimit: 100 })]),
    );
    expect(() => resolveOptions({ throttleRateLimit: 0 })).toThrow(/throttleRateLimit/);
    expect(() => resolveOptions({ throttleBurstLimit: '1.5' })).toThrow(/throttleBurstLimit/);
  });
});

describe('an optional WAF web ACL', () => {
  it('none by default', () => {
    const s = synth();
    expect(ofType(s, 'AWS::WAFv2::WebACL')).toHaveLength(0);
    expect(ofType(s, 'AWS::WAFv2::WebACLAssociation')).toHaveLength(0);
  });

  it('wafRateLimit creates a regional web ACL that blocks an IP above the limit per 5 minutes, associated with the stage', () => {
    const s = synth({ wafRateLimit: 2000 });
    const [aclId, acl] = ofType(s, 'AWS::WAFv2::WebACL')[0]!;
    expect(acl.Properties.Scope).toBe('REGIONAL');
    expect(acl.Properties.DefaultAction).toEqual({ Allow: {} });
    expect(acl.Properties.Rules).toEqual([
      expect.objectContaining({ Action: { Block: {} }, Statement: { RateBasedStatement: { Limit: 2000, AggregateKeyType: 'IP' } } }),
    ]);
    const [, assoc] = ofType(s, 'AWS::WAFv2::WebACLAssociation')[0]!;
    expect(assoc.Properties.WebACLArn).toEqual({ 'Fn::GetAtt': [aclId, 'Arn'] });
  });

  it('an ACL of your own (webAclArn) is associated instead; both together is refused', () => {
    const s = synth({ webAclArn: 'arn:aws:wafv2:us-east-1:111122223333:regional/webacl/mine/1' });
    expect(ofType(s, 'AWS::WAFv2::WebACL')).toHaveLength(0);
    expect(ofType(s, 'AWS::WAFv2::WebACLAssociation')).toHaveLength(1);
    expect(() => resolveOptions({ wafRateLimit: 100, webAclArn: 'arn:x' })).toThrow(/wafRateLimit: cannot be combined with webAclArn/);
    expect(() => resolveOptions({ wafRateLimit: 5 })).toThrow(/wafRateLimit/);
  });
});

describe('passthroughModel', () => {
  it('sets TOLLGATE_PASSTHROUGH_MODEL on the llm function only', () => {
    const s = synth({ passthroughModel: 'gpt-4o-mini' });
    const fns = ofType(s, 'AWS::Lambda::Function').map(([, f]) => f.Properties.Environment?.Variables ?? {});
    const withIt = fns.filter((v) => v.TOLLGATE_PASSTHROUGH_MODEL === 'gpt-4o-mini');
    expect(withIt).toHaveLength(1);
    expect(withIt[0]!.TOLLGATE_ENFORCEMENT).toBeDefined();
  });
});

describe('a bad -c option', () => {
  it('is one line naming the option, exit code 1, no stack trace', () => {
    const out = mkdtempSync(join(tmpdir(), 'tollgate-cdk-out-'));
    try {
      const r = spawnSync(join(repo, 'node_modules/.bin/tsx'), ['infra/app.ts'], {
        cwd: repo,
        encoding: 'utf8',
        env: { ...process.env, CDK_OUTDIR: out, CDK_CONTEXT_JSON: JSON.stringify({ maxBudget: 'lots' }) },
        timeout: 60_000,
      });
      expect(r.status).toBe(1);
      expect(r.stderr.trim()).toBe('tollgate: Tollgate option maxBudget: must be a number from 0');
      expect(r.stderr).not.toMatch(/\bat .*\(.*:\d+:\d+\)/);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  }, 90_000);
});
