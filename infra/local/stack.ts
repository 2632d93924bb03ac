/**
 * Everything `npm start` runs, in one process: DynamoDB Local (unless an endpoint is given), the
 * table, the master key, the mock upstreams (OpenAI-compatible, Bedrock runtime, Anthropic) with
 * their priced models, and the local gateway. The
 * e2e tests start the same stack against their shared DynamoDB Local.
 */
import { mkdirSync, mkdtempSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import {
  adminStore,
  configureApp,
  documentClient,
  modelRegistry,
  objectOwners,
  resetApp,
  settlementJournal,
  spendSettler,
} from '../../lib/app/index.js';
import { tableStreamConsumers } from '../../lib/app/spend.js';
import { generateKey } from '../../lib/auth/keys.js';
import { type Config, config as processConfig } from '../../lib/config.js';
import type { ModelRecord } from '../../lib/domain/records.js';
import { PENDING_SWEEP_EVERY_MINUTES } from '../../lib/domain/tenancy.js';
import { FileSettlementJournal, replayAndReport } from '../../lib/spend/file-journal.js';
import { encode } from '../../lib/store/codec.js';
import { ensureTable } from '../../lib/store/schema.js';
import { runSweep, SWEEP_EVERY_MINUTES } from '../../lib/store/sweep.js';
import { logger } from '../../lib/telemetry.js';
import { consoleOidcOf } from '../console-site.js';
import { type LocalDynamo, startLocalDynamo } from './dynamodb.js';
import { type GatewayOptions, startGateway } from './gateway.js';
import { type MockAnthropic, startMockAnthropic } from './mock-anthropic.js';
import { type MockBedrock, startMockBedrock } from './mock-bedrock.js';
import {
  MOCK_ANTHROPIC_KEY,
  MOCK_UPSTREAM_KEY,
  mockAnthropicModels,
  mockBedrockModels,
  mockLocalSecrets,
  mockModels,
} from './mock-models.js';
import { startMockUpstream } from './mock-upstream.js';
import { loggedStreamEvents, startTableStream, type TableStream } from './table-stream.js';

/** How often the local gateway replays kept settlements (lib/spend/file-journal). */
export const JOURNAL_REPLAY_EVERY_MS = 5000;

export interface LocalStackOptions {
  /** Default: the process configuration (the environment). */
  config?: Config;
  /** A DynamoDB that is already running (tests); else the config's endpoint; else DynamoDB Local is started. */
  dynamoEndpoint?: string;
  /** Default: the config's PORT; 0 picks a free port. */
  port?: number;
  /** Default: the config's TOLLGATE_LOCAL_HOST. */
  host?: string;
  onRequest?: GatewayOptions['onRequest'];
  /** Told what is being waited for, step by step (npm start prints it while it starts). */
  onProgress?: (step: string) => void;
}

export interface LocalStack {
  url: string;
  port: number;
  dynamoEndpoint: string;
  /** The DynamoDB Local this stack started, if it started one. */
  dynamo: LocalDynamo | undefined;
  /** Its data folder (absolute); undefined when it keeps data in memory or is not ours. */
  dataDir: string | undefined;
  upstreamUrl: string;
  /** The mock Bedrock runtime's endpoint (TOLLGATE_BEDROCK_ENDPOINT unless one was configured). */
  bedrockUrl: string;
  anthropicUrl: string;
  models: ModelRecord[];
  tableName: string;
  masterKey: string;
  /** True when no master key was configured and this one was made up (main.ts prints it once). */
  masterKeyGenerated: boolean;
  config: Config;
  /**
   * The table stream's poller: `drain()` waits until spend logs and rollups are caught up.
   * Undefined when TOLLGATE_LOCAL_TABLE_STREAM is false (a process of its own reads the stream:
   * infra/local/table-stream-main.ts).
   */
  tableStream: TableStream | undefined;
  stop(): Promise<void>;
}

/** Fails with EADDRINUSE before the slow parts start (Java takes seconds to come up). */
function assertPortFree(port: number, host: string): Promise<void> {
  if (port === 0) return Promise.resolve();
  return new Promise((done, fail) => {
    const probe = createServer();
    probe.once('error', fail);
    probe.listen(port, host, () => probe.close(() => done()));
  });
}

export async function startLocalStack(opts: LocalStackOptions = {}): Promise<LocalStack> {
  const base = opts.config ?? processConfig();
  const port = opts.port ?? base.port;
  const host = opts.host ?? base.local.host;
  // The console's single sign-on, checked before anything starts: a bad setting is one line.
  const consoleSettings = { oidc: consoleOidcOf({ ...base.consoleOidc, jwtIssuers: base.jwt.issuers.map((i) => i.issuer) }) };
  await assertPortFree(port, host);

  // Undone in reverse order if a later step fails, so no Java process outlives a failed start.
  const cleanups: (() => Promise<void>)[] = [];
  const stop = async () => {
    for (const undo of cleanups.splice(0).reverse()) await undo().catch(() => undefined);
  };
  try {
    let dynamo: LocalDynamo | undefined;
    let dataDir: string | undefined;
    let endpoint = opts.dynamoEndpoint ?? base.dynamoEndpoint;
    if (!endpoint) {
      dataDir = base.local.dataDir ? resolve(base.local.dataDir) : undefined;
      if (dataDir) mkdirSync(dataDir, { recursive: true });
      opts.onProgress?.('starting DynamoDB Local (Java) and waiting until it answers as DynamoDB');
      const started = await startLocalDynamo({ dataDir });
      dynamo = started;
      cleanups.push(() => started.stop());
      endpoint = dynamo.endpoint;
    }

    // The mock Bedrock runtime and Anthropic API start first (milliseconds): the configuration names the Bedrock endpoint.
    const [bedrock, anthropic]: [MockBedrock, MockAnthropic] = await Promise.all([
      startMockBedrock({ host: '127.0.0.1' }),
      startMockAnthropic({ apiKey: MOCK_ANTHROPIC_KEY }),
    ]);
    cleanups.push(() => bedrock.close());
    cleanups.push(() => anthropic.close());

    const masterKey = base.masterKey ?? generateKey();
    // Every client and cache of the process is rebuilt from the new configuration.
    resetApp();
    const cfg = configureApp({
      config: {
        ...base,
        dynamoEndpoint: endpoint,
        masterKey,
        port,
        // The mock models' upstream key is a secret like any other, resolved in local mode from here.
        localSecrets: { ...mockLocalSecrets(), ...base.localSecrets },
        // Settlements DynamoDB refused wait here for their replay (below). With a data folder the
        // journal is kept beside it; else it lives as long as this run (so does an in-memory table).
        settlementJournal: base.settlementJournal ?? { dir: mkdtempSync(join(tmpdir(), 'tollgate-settlement-journal-')) },
        bedrockEndpoint: base.bedrockEndpoint ?? bedrock.url,
      },
    });
    cleanups.push(async () => {
      documentClient().destroy();
      resetApp();
    });

    const raw = new DynamoDBClient({ endpoint, region: cfg.region, credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
    opts.onProgress?.(`creating table ${cfg.tableName} unless it exists`);
    try {
      await ensureTable(raw, cfg.tableName);
    } finally {
      raw.destroy();
    }

    opts.onProgress?.('starting the mock upstream (OpenAI-compatible) and the gateway');
    const upstream = await startMockUpstream({ host: '127.0.0.1', apiKey: MOCK_UPSTREAM_KEY });
    cleanups.push(() => upstream.close());
    // Written on every start: the upstream's port is new each time, even over a persistent table.
    const models = [...mockModels(upstream.url), ...mockBedrockModels(), ...mockAnthropicModels(anthropic.url)];
    for (const m of models) await documentClient().send(new PutCommand({ TableName: cfg.tableName, Item: encode.model(m) }));
    modelRegistry().invalidate();

    const gateway = await startGateway({ port, host, consoleSettings, ...(opts.onRequest ? { onRequest: opts.onRequest } : {}) });
    cleanups.push(() => gateway.close());

    // The table stream's consumers, as the deployed table-stream function runs them: spend logs
    // and the daily rollups the reports read (lib/spend/stream); unless a process of their own does.
    let tableStream: TableStream | undefined;
    if (cfg.local.tableStream) {
      const started = await startTableStream({
        endpoint,
        tableName: cfg.tableName,
        consumers: tableStreamConsumers(),
        ...loggedStreamEvents,
      });
      tableStream = started;
      cleanups.push(() => started.stop());
    }

    // The deployed stack's schedule (infra/stack.ts): release strict reservations nobody settled,
    // settle regenerated keys' copies left unsettled, tidy the counters of ended windows (lib/store/sweep).
    const sweep = setInterval(
      () =>
        void runSweep(documentClient(), cfg.tableName, Date.now(), {
          shards: cfg.spendShards,
          settleKeyCopy: (token, attempts) => adminStore().settleKeyCopy(token, attempts),
        }).catch(() => undefined),
      SWEEP_EVERY_MINUTES * 60_000,
    );
    sweep.unref();
    cleanups.push(async () => clearInterval(sweep));

    // The deployed stack's schedule of the llm function: read and bill pending objects nobody read (lib/llm/pending).
    let billing = false;
    const pending = setInterval(() => {
      if (billing) return;
      billing = true;
      // Loaded when first due, as the gateway loads the functions: `npm start` does not wait for the llm code.
      void import('../../lib/llm/pending.js')
        .then(async ({ billDuePending }) => billDuePending((await import('../../lib/llm/deps.js')).llmDeps()))
        .catch((e) => logger().warn('pending objects not swept', { error: (e as Error)?.name }))
        .finally(() => {
          billing = false;
        });
    }, PENDING_SWEEP_EVERY_MINUTES * 60_000);
    pending.unref();
    cleanups.push(async () => clearInterval(pending));

    // The deployed stack's settlement queue consumer: lands kept settlements once DynamoDB answers.
    const journal = settlementJournal();
    if (journal instanceof FileSettlementJournal) {
      let replaying = false;
      let waiting = 0;
      const replay = setInterval(() => {
        if (replaying) return;
        replaying = true;
        void replayAndReport(journal, { settler: spendSettler(), owners: objectOwners() }, waiting)
          .then((n) => {
            waiting = n;
          })
          .catch(() => undefined)
          .finally(() => {
            replaying = false;
          });
      }, JOURNAL_REPLAY_EVERY_MS);
      replay.unref();
      cleanups.push(async () => clearInterval(replay));
    }

    return {
      url: gateway.url,
      port: gateway.port,
      dynamoEndpoint: endpoint,
      dynamo,
      dataDir,
      upstreamUrl: upstream.url,
      bedrockUrl: bedrock.url,
      anthropicUrl: anthropic.url,
      models,
      tableName: cfg.tableName,
      masterKey,
      masterKeyGenerated: base.masterKey === undefined,
      tableStream,
      config: cfg,
      stop,
    };
  } catch (e) {
    await stop();
    throw e;
  }
}
