/**
 * `npm start` as a user runs it: a child process that comes up, answers, and on SIGTERM leaves
 * nothing behind (its DynamoDB Local Java process included); the two startup failures a user
 * meets most, each a one-line error with exit code 1; and TOLLGATE_LOCAL_DATA_DIR keeping the
 * data across a restart.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { freePort } from '../../infra/local/dynamodb.js';
import { type LocalStack, startLocalStack } from '../../infra/local/stack.js';
import { parseConfig } from '../../lib/config.js';

const repo = fileURLToPath(new URL('../../', import.meta.url));
const MASTER = 'sk-e2e-npm-start-master';

/** The environment a user's shell would have: no settings leaking in from the test run. */
function userEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env))
    if (!k.startsWith('TOLLGATE_') && !k.startsWith('VITEST') && k !== 'NODE_ENV') env[k] = v;
  return { ...env, TOLLGATE_LOG_LEVEL: 'WARN', ...extra };
}

/** Processes as `ps` sees them: pid, process group and command line. */
function processes(): { pid: number; pgid: number; args: string }[] {
  const out = spawnSync('ps', ['-eo', 'pid=,pgid=,args='], { encoding: 'utf8' }).stdout;
  return out
    .split('\n')
    .map((line) => /^\s*(\d+)\s+(\d+)\s+(.*)$/.exec(line))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ pid: Number(m[1]), pgid: Number(m[2]), args: m[3] as string }));
}

const javaOnPort = (port: number) => processes().filter((p) => /\bjava\b/.test(p.args) && p.args.includes(`-port ${port}`));
const inGroup = (pgid: number) => processes().filter((p) => p.pgid === pgid);

function collect(child: ChildProcess): { out: () => string; err: () => string } {
  let out = '';
  let err = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  return { out: () => out, err: () => err };
}

const exited = (child: ChildProcess): Promise<number | null> =>
  child.exitCode !== null || child.signalCode !== null
    ? Promise.resolve(child.exitCode)
    : new Promise((r) => child.once('exit', (code) => r(code)));

async function waitFor<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined> | T | undefined): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/**
 * `npm start` on a port of the kernel's choosing (PORT=0; a port picked here and bound seconds
 * later can be taken in between), in its own process group so everything it started can be
 * found (and, on failure, killed). `url()` is the address its banner names, once it is out.
 */
async function npmStart() {
  const child = spawn('npm', ['start'], {
    cwd: repo,
    env: userEnv({ PORT: '0', TOLLGATE_MASTER_KEY: MASTER }),
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const io = collect(child);
  const url = () => /Tollgate is running at (http:\/\/\S+)/.exec(io.out())?.[1];
  return { url, child, io, pgid: child.pid as number };
}

describe('npm start', () => {
  it('answers /health within 60 s and stops on SIGTERM leaving no process behind, Java included', async () => {
    const { url, child, io, pgid } = await npmStart();
    try {
      const started = Date.now();
      const base = await waitFor('/health', 60_000, async () => {
        if (child.exitCode !== null) throw new Error(`npm start exited with ${child.exitCode}: ${io.err()}`);
        const at = url();
        const res = at ? await fetch(`${at}/health`).catch(() => undefined) : undefined;
        if (res?.status !== 200) return undefined;
        expect(await res.json()).toEqual({ status: 'healthy' });
        return at;
      });
      expect(Date.now() - started).toBeLessThan(60_000);

      const models = await fetch(`${base}/v1/models`, { headers: { authorization: `Bearer ${MASTER}` } });
      expect(models.status).toBe(200);

      const banner = await waitFor('the banner', 10_000, () => /DynamoDB\s+http:\/\/127\.0\.0\.1:(\d+)/.exec(io.out()) ?? undefined);
      const dynamoPort = Number(banner[1]);
      expect(javaOnPort(dynamoPort)).toHaveLength(1);
      expect(inGroup(pgid).length).toBeGreaterThan(2);
      // No signal relay between npm and main (found on a loaded CI run): tsx's CLI relays SIGTERM to
      // its child and SIGKILLs it unless it acknowledges within 30 ms, so main died before stopping Java.
      expect(inGroup(pgid).filter((p) => /[\\/](\.bin[\\/]tsx|tsx[\\/]dist[\\/]cli)\b/.test(p.args))).toEqual([]);
      // A master key the user chose is never echoed.
      expect(io.out() + io.err()).not.toContain(MASTER);

      // To npm alone, as a process manager would send it (the group is only our cleanup handle).
      process.kill(pgid, 'SIGTERM');
      await Promise.race([
        exited(child),
        new Promise((_, no) => setTimeout(() => no(new Error('npm start did not exit within 20 s')), 20_000)),
      ]);
      // npm may exit before its child has stopped: Java gets SIGTERM, then SIGKILL after 5 s, and
      // main gives up at 15 s; on a loaded machine the kernel's reaping comes on top.
      await waitFor('every process to be gone', 25_000, () =>
        javaOnPort(dynamoPort).length === 0 && inGroup(pgid).length === 0 ? true : undefined,
      ).catch((e: Error) => {
        throw new Error(
          `${e.message}; left: ${inGroup(pgid)
            .map((p) => `${p.pid} ${p.args.slice(0, 80)}`)
            .join(' | ')}`,
        );
      });
      expect(io.out()).toContain('SIGTERM: stopping');
    } finally {
      try {
        process.kill(-pgid, 'SIGKILL');
      } catch {
        // already gone, as it should be
      }
    }
  }, 120_000);

  it('comes up while both cores are busy, saying what it waits for (issue 10, item 14)', async () => {
    // Two bounded CPU burners, one per core, for at most the test's own duration.
    const burners = [0, 1].map(() =>
      spawn(process.execPath, ['-e', 'const end = Date.now() + 90000; while (Date.now() < end) {}'], { stdio: 'ignore' }),
    );
    const { url, child, io, pgid } = await npmStart();
    try {
      const base = await waitFor('/health under load', 100_000, async () => {
        if (child.exitCode !== null) throw new Error(`npm start exited with ${child.exitCode}: ${io.err()}`);
        const at = url();
        const res = at ? await fetch(`${at}/health`).catch(() => undefined) : undefined;
        return res?.status === 200 ? at : undefined;
      });
      const chat = await fetch(`${base}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${MASTER}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'busy' }] }),
      });
      expect(chat.status).toBe(200);
      // It said what it was waiting for, in order, before the banner.
      const out = io.out();
      const steps = [
        'tollgate: starting DynamoDB Local',
        'tollgate: creating table',
        'tollgate: starting the mock upstream',
        'Tollgate is running at',
      ];
      const at = steps.map((s) => out.indexOf(s));
      expect(at.every((i) => i >= 0)).toBe(true);
      expect([...at].sort((a, b) => a - b)).toEqual(at);
      expect(io.err()).not.toContain('could not start');
    } finally {
      for (const b of burners) b.kill('SIGKILL');
      try {
        process.kill(-pgid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }, 150_000);
});

describe('startup failures: one line, exit code 1', () => {
  const tsx = `${repo}node_modules/.bin/tsx`;
  const run = (env: Record<string, string>) => {
    const child = spawn(tsx, ['infra/local/main.ts'], { cwd: repo, env, stdio: ['ignore', 'pipe', 'pipe'] });
    const io = collect(child);
    return exited(child).then((code) => ({ code, out: io.out(), err: io.err() }));
  };

  it('without Java', async () => {
    // Only the project's own binaries (Node 24 among them) on PATH: no java.
    const r = await run({ PATH: `${repo}node_modules/.bin`, HOME: process.env.HOME ?? '/tmp', PORT: String(await freePort()) });
    expect(r.code).toBe(1);
    expect(r.err.trim().split('\n')).toHaveLength(1);
    expect(r.err).toMatch(/^tollgate: Java 17 or newer is needed/);
  });

  it('with the port taken', async () => {
    const blocker: Server = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const port = (blocker.address() as { port: number }).port;
    try {
      const r = await run(userEnv({ PORT: String(port) }) as Record<string, string>);
      expect(r.code).toBe(1);
      expect(r.err.trim().split('\n')).toHaveLength(1);
      expect(r.err).toContain(`port ${port} on 127.0.0.1 is already in use`);
    } finally {
      blocker.close();
    }
  });
});

describe('TOLLGATE_LOCAL_DATA_DIR', () => {
  it('keeps teams, keys and spend across a restart, in a folder it creates; a generated master key is new at every start', async () => {
    const root = mkdtempSync(join(tmpdir(), 'tollgate-data-'));
    const dataDir = join(root, 'not', 'yet');
    // The settings of a shell with only this variable set (no endpoint: DynamoDB Local is started).
    const start = () =>
      startLocalStack({ config: parseConfig({ TOLLGATE_LOCAL_DATA_DIR: dataDir, TOLLGATE_LOG_LEVEL: 'SILENT' }), port: 0 });
    const api = async (stack: LocalStack, path: string, key: string, body?: unknown) => {
      const res = await fetch(`${stack.url}${path}`, {
        method: body === undefined ? 'GET' : 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      return { status: res.status, json: (await res.json()) as Record<string, any> };
    };
    // One word in, three out ("Mock answer: Hello") at gpt-4o-mini's 0.15 / 0.60 per 1M tokens.
    const COST = 0.00000195;
    try {
      const first = await start();
      let firstMaster: string;
      let key: string;
      try {
        expect(first.dataDir).toBe(dataDir);
        expect(existsSync(dataDir)).toBe(true);
        expect(first.masterKeyGenerated).toBe(true);
        firstMaster = first.masterKey;
        expect((await api(first, '/team/new', firstMaster, { team_id: 'kept' })).status).toBe(200);
        key = (await api(first, '/key/generate', firstMaster, { team_id: 'kept' })).json.key as string;
        const chat = await api(first, '/v1/chat/completions', key, {
          model: 'gpt-4o-mini',
          messages: [{ role: 'user', content: 'Hello' }],
        });
        expect(chat.status).toBe(200);
        await expect
          .poll(async () => (await api(first, '/team/info?team_id=kept', firstMaster)).json.team_info.spend, { timeout: 5000 })
          .toBe(COST);
      } finally {
        await first.stop();
      }
      const second = await start();
      try {
        expect(second.masterKey).not.toBe(firstMaster);
        expect((await api(second, '/team/info?team_id=kept', firstMaster)).status).toBe(401);
        expect((await api(second, '/team/info?team_id=kept', second.masterKey)).json.team_info).toMatchObject({
          team_id: 'kept',
          spend: COST,
        });
        expect((await api(second, '/v1/models', key)).status).toBe(200);
      } finally {
        await second.stop();
      }
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
