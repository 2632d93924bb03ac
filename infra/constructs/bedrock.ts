/**
 * The llm function's Bedrock access: `bedrock:InvokeModel` and
 * `bedrock:InvokeModelWithResponseStream` (the permissions Converse and ConverseStream need) on
 * exactly the models and inference profiles named by the `bedrockModels` option, never
 * `bedrock:*` and never `Resource: *`.
 *  - a model id is its foundation-model ARN in the stack's region;
 *  - a cross-region inference profile id (`us.`, `eu.`, `apac.`, `global.`, ... + a model id) is
 *    the profile's ARN in the stack's region, plus that one foundation model in any region: the
 *    profile routes each call to a region AWS picks among its destinations;
 *  - a full ARN is taken as it is (a model in another region, an application inference profile).
 */
import { ArnFormat, Stack, Validations } from 'aws-cdk-lib';
import { type IRole, PolicyStatement } from 'aws-cdk-lib/aws-iam';

export const BEDROCK_INVOKE_ACTIONS = ['bedrock:InvokeModel', 'bedrock:InvokeModelWithResponseStream'] as const;

/** The geography prefixes of Bedrock's system-defined cross-region inference profiles. */
const PROFILE_PREFIXES: ReadonlySet<string> = new Set(['us', 'eu', 'apac', 'us-gov', 'global', 'jp', 'au', 'ca']);

/** The resources one `bedrockModels` entry stands for. */
export function bedrockResources(stack: Stack, entry: string): { resources: string[]; anyRegionModel?: string } {
  if (entry.startsWith('arn:')) return { resources: [entry] };
  const dot = entry.indexOf('.');
  const prefix = entry.slice(0, dot);
  const foundation = (id: string, region?: string) =>
    stack.formatArn({
      service: 'bedrock',
      account: '',
      ...(region ? { region } : {}),
      resource: 'foundation-model',
      resourceName: id,
      arnFormat: ArnFormat.SLASH_RESOURCE_NAME,
    });
  if (PROFILE_PREFIXES.has(prefix)) {
    const model = entry.slice(dot + 1);
    const profile = stack.formatArn({
      service: 'bedrock',
      resource: 'inference-profile',
      resourceName: entry,
      arnFormat: ArnFormat.SLASH_RESOURCE_NAME,
    });
    return { resources: [profile, foundation(model, '*')], anyRegionModel: model };
  }
  return { resources: [foundation(entry)] };
}

/** Grants the role the invoke actions on the configured models; nothing when none is configured. */
export function grantBedrockInvoke(role: IRole, models: readonly string[]): void {
  if (models.length === 0) return;
  const stack = Stack.of(role);
  const resources: string[] = [];
  const anyRegion: string[] = [];
  for (const entry of models) {
    const r = bedrockResources(stack, entry);
    resources.push(...r.resources);
    if (r.anyRegionModel) anyRegion.push(r.anyRegionModel);
  }
  role.addToPrincipalPolicy(new PolicyStatement({ actions: [...BEDROCK_INVOKE_ACTIONS], resources: [...new Set(resources)] }));
  for (const model of new Set(anyRegion)) {
    Validations.of(role).acknowledge({
      id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:bedrock:*::foundation-model/${model}]`,
      reason: `bedrockModels: a cross-region inference profile sends each call to a region AWS picks among its destinations, so the foundation model \`${model}\` is granted in every region (that one model only, no other resource)`,
    });
  }
}
