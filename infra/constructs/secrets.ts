/**
 * Secrets Manager references: the master key (given, or created here) and the upstream API keys.
 * A secret may be given by complete ARN, partial ARN or name; IAM then needs the `-??????`
 * suffix Secrets Manager appends to names, which the CDK adds for partial references.
 */
import { Arn, ArnFormat, Stack, Validations } from 'aws-cdk-lib';
import { type ISecret, Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';

// Secrets Manager ends every ARN with `-` and six random characters.
const COMPLETE_ARN_SUFFIX = /-[A-Za-z0-9]{6}$/;

export function importSecret(scope: Construct, id: string, ref: string): ISecret {
  if (!ref.startsWith('arn:')) return Secret.fromSecretNameV2(scope, id, ref);
  const name = Arn.split(ref, ArnFormat.COLON_RESOURCE_NAME).resourceName ?? '';
  return COMPLETE_ARN_SUFFIX.test(name) ? Secret.fromSecretCompleteArn(scope, id, ref) : Secret.fromSecretPartialArn(scope, id, ref);
}

export interface SecretRef {
  secret: ISecret;
  /** What a function passes to GetSecretValue (env value): the ARN or name as configured. */
  id: string;
}

export class TollgateSecrets extends Construct {
  readonly masterKey: SecretRef;
  readonly masterKeyCreated: boolean;
  readonly upstream: SecretRef[];
  /** `arn:...:secret:<prefix>*` when a prefix is configured. */
  readonly upstreamPrefixArn: string | undefined;

  constructor(
    scope: Construct,
    id: string,
    props: { masterKeySecretArn: string | undefined; upstreamSecretArns: string[]; upstreamSecretPrefix: string | undefined },
  ) {
    super(scope, id);
    if (props.masterKeySecretArn) {
      this.masterKey = { secret: importSecret(this, 'MasterKey', props.masterKeySecretArn), id: props.masterKeySecretArn };
      this.masterKeyCreated = false;
    } else {
      // 48 letters and digits, each kind present (Secrets Manager's default, requireEachIncludedType):
      // a shape lib/domain/secrets knows as a key, so no id, tag, audit item or message keeps it.
      // Not spelled out: any change to generateSecretString makes CloudFormation replace the value,
      // an existing stack's master key.
      const secret = new Secret(this, 'MasterKey', {
        description: 'Tollgate master key (proxy admin credential): read it once, store it safely',
        generateSecretString: { passwordLength: 48, excludePunctuation: true, includeSpace: false },
      });
      Validations.of(secret).acknowledge({
        id: 'AwsSolutions-SMG4',
        reason:
          'The master key is a bearer credential held by operators; rotating it is a deliberate act (put a new value), and a rotation Lambda could not update the clients holding it.',
      });
      this.masterKey = { secret, id: secret.secretArn };
      this.masterKeyCreated = true;
    }
    this.upstream = props.upstreamSecretArns.map((ref, i) => ({ secret: importSecret(this, `Upstream${i}`, ref), id: ref }));
    this.upstreamPrefixArn = props.upstreamSecretPrefix
      ? Stack.of(this).formatArn({
          service: 'secretsmanager',
          resource: 'secret',
          resourceName: `${props.upstreamSecretPrefix}*`,
          arnFormat: ArnFormat.COLON_RESOURCE_NAME,
        })
      : undefined;
  }
}
