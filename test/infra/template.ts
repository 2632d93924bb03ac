/**
 * Synthesizes the stack for assertions the fast way: no esbuild bundling, no built-in
 * CloudFormation validation, the feature flags of cdk.json. Plus readers for the template
 * (API paths rebuilt from resources, the IAM statements a function's role holds).
 */

import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { afterAll } from 'vitest';
import { PROJECT_ROOT } from '../../infra/bundling.js';
import type { TollgateOptions } from '../../infra/constructs/options.js';
import { type DeployedFunction, TollgateStack } from '../../infra/stack.js';

const cdkJsonContext = (JSON.parse(readFileSync(join(PROJECT_ROOT, 'cdk.json'), 'utf8')) as { context: Record<string, unknown> }).context;

export interface Synth {
  app: App;
  stack: TollgateStack;
  template: Template;
  resources: Record<string, CfnResource>;
}

export interface CfnResource {
  Type: string;
  Properties: Record<string, any>;
  DeletionPolicy?: string;
  UpdateReplacePolicy?: string;
}

/** Cloud assembly folders of this test file's synths, removed after it (each file imports this anew). */
const outdirs: string[] = [];
afterAll(() => {
  for (const dir of outdirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/**
 * The cloud assembly goes to a folder of its own, emptied once the template is read: every synth
 * stages the console deployment's AWS CLI layer (about 22 MB), and a run synthesizes the stack about
 * 90 times, so keeping them (CDK's default: a temporary folder never removed) left 2 GB in the
 * temporary directory per run. The folder itself stays until the file's tests end: a test that adds
 * to the stack synthesizes it again.
 */
export function synth(options: TollgateOptions = {}, context: Record<string, unknown> = {}): Synth {
  const outdir = mkdtempSync(join(tmpdir(), 'tollgate-synth-'));
  outdirs.push(outdir);
  try {
    const app = new App({
      outdir,
      context: { ...cdkJsonContext, ...context, 'aws:cdk:bundling-stacks': [] },
      builtinCloudFormationValidation: false,
    });
    const stack = new TollgateStack(app, 'Tollgate', { options });
    const template = Template.fromStack(stack);
    return { app, stack, template, resources: template.toJSON().Resources as Record<string, CfnResource> };
  } finally {
    for (const entry of readdirSync(outdir)) rmSync(join(outdir, entry), { recursive: true, force: true });
  }
}

export const ofType = (s: Synth, type: string): [string, CfnResource][] => Object.entries(s.resources).filter(([, r]) => r.Type === type);

/** The logical id of a construct's CloudFormation resource. */
export const logicalId = (s: Synth, construct: { node: { defaultChild?: unknown } }): string =>
  s.stack.getLogicalId(construct.node.defaultChild as never);

/** Every API method as `VERB /path`, rebuilt from the Resource tree. */
export function apiMethods(s: Synth): Map<string, CfnResource> {
  const paths = new Map<string, string>();
  const pathOf = (id: string): string => {
    const known = paths.get(id);
    if (known !== undefined) return known;
    const r = s.resources[id];
    if (r?.Type !== 'AWS::ApiGateway::Resource') throw new Error(`not an API resource: ${id}`);
    const parent = r.Properties.ParentId as { Ref?: string };
    const path = `${parent.Ref ? pathOf(parent.Ref) : ''}/${r.Properties.PathPart as string}`;
    paths.set(id, path);
    return path;
  };
  const out = new Map<string, CfnResource>();
  for (const [, m] of ofType(s, 'AWS::ApiGateway::Method')) {
    const res = m.Properties.ResourceId as { Ref?: string };
    const path = res.Ref ? pathOf(res.Ref) : '/';
    out.set(`${m.Properties.HttpMethod as string} ${path}`, m);
  }
  return out;
}

export interface Statement {
  Effect: string;
  Action: string | string[];
  Resource: unknown;
  Condition?: Record<string, unknown>;
}

export const actionsOf = (st: Statement): string[] => (Array.isArray(st.Action) ? st.Action : [st.Action]);
export const resourcesOf = (st: Statement): unknown[] => (Array.isArray(st.Resource) ? st.Resource : [st.Resource]);

/** Every IAM statement attached to the role of one of the stack's functions. */
export function statementsOf(s: Synth, fn: DeployedFunction): Statement[] {
  const f = s.stack.functions.get(fn);
  if (!f) throw new Error(`no function ${fn}`);
  const roleId = logicalId(s, f.role);
  const role = s.resources[roleId] as CfnResource;
  const managed = (role.Properties.ManagedPolicyArns as unknown[] | undefined) ?? [];
  if (managed.length > 0) throw new Error(`${fn} has managed policies`);
  const inline = ((role.Properties.Policies as { PolicyDocument: { Statement: Statement[] } }[] | undefined) ?? []).flatMap(
    (p) => p.PolicyDocument.Statement,
  );
  const attached = ofType(s, 'AWS::IAM::Policy')
    .filter(([, p]) => (p.Properties.Roles as { Ref: string }[]).some((r) => r.Ref === roleId))
    .flatMap(([, p]) => p.Properties.PolicyDocument.Statement as Statement[]);
  return [...inline, ...attached];
}
