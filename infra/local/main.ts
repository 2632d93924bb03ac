/**
 * `npm start`: the whole of Tollgate on this machine (see infra/local/stack.ts), a banner with
 * what to do next, and a clean stop on Ctrl-C or SIGTERM that leaves no Java process behind.
 */
// Local mode's console is for people: CloudWatch's metric lines (EMF) stay off unless asked for.
process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';

import { checkSettings } from '../../lib/app/wiring.js';
import { type Config, ConfigError, config } from '../../lib/config.js';
import { ensureConsoleBuilt } from './console.js';
import { JavaMissingError } from './dynamodb.js';
import { stopOnSignals } from './signals.js';
import { type LocalStack, startLocalStack } from './stack.js';

function fail(message: string): never {
  process.stderr.write(`tollgate: ${message}\n`);
  process.exit(1);
}

function startupProblem(e: unknown, cfg: Config): string {
  if (e instanceof JavaMissingError) return e.message;
  if ((e as NodeJS.ErrnoException).code === 'EADDRINUSE') {
    return `port ${cfg.port} on ${cfg.local.host} is already in use; stop what holds it or choose another with PORT=<port>`;
  }
  return `could not start: ${(e as Error).message}`;
}

const modelsOf = (stack: LocalStack, provider: 'bedrock' | 'anthropic' | undefined): string =>
  stack.models
    .filter((m) => m.provider === provider)
    .map((m) => m.model_name)
    .join(', ');

type ConsoleBuild = { ok: true; built: boolean } | { ok: false; message: string };

function banner(stack: LocalStack, ui: ConsoleBuild): string {
  const dynamo = stack.dynamo
    ? `${stack.dynamoEndpoint} (DynamoDB Local, ${stack.dataDir ? `data in ${stack.dataDir}` : 'in memory'})`
    : `${stack.dynamoEndpoint} (external)`;
  const lines = [
    '',
    `Tollgate is running at ${stack.url}`,
    ui.ok
      ? `  Console        ${stack.url}/ui/ (sign in with the master key)${ui.built ? ', built just now' : ''}`
      : `  Console        not available: its build failed (${ui.message}); the API works without it`,
    `  DynamoDB       ${dynamo}, table ${stack.tableName}`,
    ...(stack.tableStream
      ? []
      : [
          `  Table stream   not read here (TOLLGATE_LOCAL_TABLE_STREAM=false): spend logs, rollups and counters from the stream wait for`,
          `                 TOLLGATE_DYNAMODB_ENDPOINT=${stack.dynamoEndpoint} TOLLGATE_TABLE_NAME=${stack.tableName} npm run table-stream`,
          `                 (with this gateway's other TOLLGATE_ settings: docs/local.md)`,
        ]),
    `  Mock upstream  ${stack.upstreamUrl} (models: ${modelsOf(stack, undefined)})`,
    `  Mock Bedrock   ${stack.bedrockUrl} (models: ${modelsOf(stack, 'bedrock')})`,
    `  Mock Anthropic ${stack.anthropicUrl} (models: ${modelsOf(stack, 'anthropic')}; also /v1/messages)`,
  ];
  if (stack.masterKeyGenerated) {
    // The one place a secret is printed: the user needs it, and nobody else knows it.
    lines.push(
      '',
      '  No TOLLGATE_MASTER_KEY was set; this one was generated for this run:',
      `    export TOLLGATE_MASTER_KEY=${stack.masterKey}`,
    );
  }
  lines.push(
    '',
    'Try:',
    `  curl ${stack.url}/v1/chat/completions -H "Authorization: Bearer $TOLLGATE_MASTER_KEY" \\`,
    `    -H 'content-type: application/json' -d '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Hello"}]}'`,
    '  (or "model":"bedrock-claude-3-5-sonnet" for Bedrock; POST /v1/messages with "model":"claude-3-5-haiku" for Anthropic)',
    '',
    'Ctrl-C to stop.',
    '',
  );
  return lines.join('\n');
}

async function main(): Promise<void> {
  let cfg: Config;
  try {
    cfg = config();
    // The JWT route lists are checked against the route table here (lib/config cannot see it).
    checkSettings(cfg);
  } catch (e) {
    if (e instanceof ConfigError) fail(e.message);
    throw e;
  }

  // The console builds (when stale) while DynamoDB Local starts, so startup takes no longer.
  const ui: Promise<ConsoleBuild> = ensureConsoleBuilt().then(
    (state) => ({ ok: true, built: state === 'built' }),
    (e: unknown) => ({ ok: false, message: (e as Error).message.split('\n')[0] ?? 'unknown error' }),
  );

  let stack: LocalStack;
  try {
    stack = await startLocalStack({
      config: cfg,
      // Method, path and status only: headers and query strings may carry keys.
      onRequest: ({ method, path, status, ms }) => process.stdout.write(`${method} ${path} ${status} ${ms} ms\n`),
      onProgress: (step) => process.stdout.write(`tollgate: ${step}...\n`),
    });
  } catch (e) {
    fail(startupProblem(e, cfg));
  }
  process.stdout.write(banner(stack, await ui));

  // Last resort if the process ends without stop() (an uncaught error): never orphan Java.
  process.on('exit', () => {
    const java = stack.dynamo?.process;
    if (java && java.exitCode === null && java.signalCode === null) java.kill('SIGKILL');
  });

  // stop() bounds Java's exit itself.
  stopOnSignals((signal) => {
    process.stdout.write(`\n${signal}: stopping\n`);
    return stack.stop();
  }, fail);
}

main().catch((e: unknown) => fail((e as Error).message));
