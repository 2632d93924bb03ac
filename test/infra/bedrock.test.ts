/**
 * The llm function may invoke exactly the Bedrock models and inference profiles of the
 * `bedrockModels` option: foundation-model and inference-profile ARNs, the two invoke actions,
 * no `bedrock:*`, no `Resource: *`; no other function gets any Bedrock permission; cdk-nag stays
 * clean (the one cross-region grant is acknowledged, per model).
 */
import { AwsSolutionsChecks } from 'cdk-nag';
import { describe, expect, it } from 'vitest';
import { resolveOptions } from '../../infra/constructs/options.js';
import { type DeployedFunction, SERVING_FUNCTIONS } from '../../infra/stack.js';
import { actionsOf, resourcesOf, type Synth, statementsOf, synth } from './template.js';

const CLAUDE = 'anthropic.claude-3-5-sonnet-20240620-v1:0';
const HAIKU_PROFILE = 'us.anthropic.claude-3-5-haiku-20241022-v1:0';
const OTHER_REGION = 'arn:aws:bedrock:eu-central-1::foundation-model/amazon.titan-embed-text-v2:0';

const bedrockStatements = (s: Synth, fn: DeployedFunction) =>
  statementsOf(s, fn).filter((st) => actionsOf(st).some((a) => a.startsWith('bedrock:')));
const fnJoin = (...parts: unknown[]) => ({ 'Fn::Join': ['', parts] });

describe('Bedrock access of the llm function', () => {
  const s = synth({ bedrockModels: [CLAUDE, HAIKU_PROFILE, OTHER_REGION] });

  it('the two invoke actions on exactly the configured models and profiles', () => {
    const sts = bedrockStatements(s, 'llm');
    expect(sts).toHaveLength(1);
    const st = sts[0]!;
    expect(st.Effect).toBe('Allow');
    expect(actionsOf(st).sort()).toEqual(['bedrock:InvokeModel', 'bedrock:InvokeModelWithResponseStream']);
    const sorted = (xs: unknown[]) => xs.map((x) => JSON.stringify(x)).sort();
    expect(sorted(resourcesOf(st))).toEqual(
      sorted([
        fnJoin('arn:', { Ref: 'AWS::Partition' }, ':bedrock:', { Ref: 'AWS::Region' }, `::foundation-model/${CLAUDE}`),
        fnJoin(
          'arn:',
          { Ref: 'AWS::Partition' },
          ':bedrock:',
          { Ref: 'AWS::Region' },
          ':',
          { Ref: 'AWS::AccountId' },
          `:inference-profile/${HAIKU_PROFILE}`,
        ),
        fnJoin('arn:', { Ref: 'AWS::Partition' }, ':bedrock:*::foundation-model/anthropic.claude-3-5-haiku-20241022-v1:0'),
        OTHER_REGION,
      ]),
    );
  });

  it('no bedrock:* and no Resource * anywhere; no other function may call Bedrock', () => {
    // Every function the stack deploys, the settlement replay and the table stream included.
    const all = [...s.stack.functions.keys()];
    expect(all).toEqual(expect.arrayContaining([...SERVING_FUNCTIONS, 'authorizer', 'spend-sweeper', 'settlement-replay', 'table-stream']));
    for (const fn of all) {
      for (const st of statementsOf(s, fn)) {
        for (const a of actionsOf(st)) expect(a).not.toMatch(/^bedrock:.*\*/);
        if (actionsOf(st).some((a) => a.startsWith('bedrock:'))) expect(resourcesOf(st)).not.toContain('*');
      }
      if (fn !== 'llm') expect(bedrockStatements(s, fn)).toEqual([]);
    }
  });

  it('without the option the llm function has no Bedrock permission at all', () => {
    expect(bedrockStatements(synth(), 'llm')).toEqual([]);
  });

  it('cdk-nag reports nothing unacknowledged', () => {
    const violations = new AwsSolutionsChecks().validateScope(s.stack).violations.map((v) => v.ruleName);
    expect(violations).toEqual([]);
  });

  it('refuses wildcards and things that are not Bedrock models', () => {
    for (const bad of ['*', 'anthropic.*', 'arn:aws:bedrock:us-east-1::foundation-model/*', 'arn:aws:s3:::bucket', 'claude']) {
      expect(() => resolveOptions({ bedrockModels: [bad] }), bad).toThrow(/bedrockModels/);
    }
    expect(resolveOptions({ bedrockModels: `${CLAUDE},${HAIKU_PROFILE}` }).bedrockModels).toEqual([CLAUDE, HAIKU_PROFILE]);
  });
});
