/**
 * `npm run table-stream`: the table stream's consumers (spend logs, rollups, counters from the
 * stream, alerts, the export: lib/spend/stream) in a process of their own, as the deployed
 * table-stream function runs apart from the llm function. For a local gateway started with
 * TOLLGATE_LOCAL_TABLE_STREAM=false: several gateways on one table (one reader of its stream is
 * enough), or the bench, which pauses this process to measure the request path alone. Reads the
 * gateway's table: TOLLGATE_DYNAMODB_ENDPOINT and TOLLGATE_TABLE_NAME (the banner shows both).
 */
process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';

import { tableStreamConsumers } from '../../lib/app/spend.js';
import { configureApp } from '../../lib/app/wiring.js';
import { ConfigError, config } from '../../lib/config.js';
import { stopOnSignals } from './signals.js';
import { loggedStreamEvents, startTableStream } from './table-stream.js';

function fail(message: string): never {
  process.stderr.write(`tollgate table-stream: ${message}\n`);
  process.exit(1);
}

async function main(): Promise<void> {
  let cfg: ReturnType<typeof config>;
  try {
    cfg = config();
  } catch (e) {
    if (e instanceof ConfigError) fail(e.message);
    throw e;
  }
  const endpoint = cfg.dynamoEndpoint;
  if (!endpoint) fail("TOLLGATE_DYNAMODB_ENDPOINT is not set: name the gateway's DynamoDB (its banner shows the endpoint)");
  configureApp({ config: cfg });
  const stream = await startTableStream({
    endpoint,
    tableName: cfg.tableName,
    consumers: tableStreamConsumers(),
    ...loggedStreamEvents,
  }).catch((e: unknown) => fail(`could not read the stream of table ${cfg.tableName} at ${endpoint}: ${(e as Error).message}`));
  process.stdout.write(`reading the stream of table ${cfg.tableName} at ${endpoint}\n`);
  // The poller's timers do not hold a process open (in the gateway its server does): this does, until a stop.
  const alive = setInterval(() => undefined, 60_000);
  stopOnSignals(async () => {
    clearInterval(alive);
    await stream.stop();
  }, fail);
}

main().catch((e: unknown) => fail((e as Error).message));
