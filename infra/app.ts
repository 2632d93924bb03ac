/**
 * The CDK app (`npx cdk synth`, `npx cdk deploy`): one Tollgate stack, environment-agnostic so
 * it synthesizes offline without credentials, checked by cdk-nag's AwsSolutions pack on every
 * synth (cdk-nag 3 runs as a CDK policy-validation plugin; a violation not acknowledged in code
 * fails the synth).
 */
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { OptionError } from './constructs/options.js';
import { TollgateStack } from './stack.js';

const app = new App();
const stackName = (app.node.tryGetContext('stackName') as string | undefined) ?? 'Tollgate';
try {
  new TollgateStack(app, stackName, { description: 'Tollgate: access control and spend control for LLM APIs' });
} catch (e) {
  // A bad option (`-c maxBudget=lots`) is the user's to fix: one line naming it, no stack trace.
  if (e instanceof OptionError) {
    process.stderr.write(`tollgate: ${e.message}\n`);
    process.exit(1);
  }
  throw e;
}
Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
app.synth();
