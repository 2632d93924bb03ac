/**
 * Review (secrets): "Secrets never reach ... an error." An admin request that carries a key where
 * a field NAME is expected (`GET /key/info?sk-...`, the `key=` forgotten; or a body
 * `{"sk-...": ...}`) is refused with `unknown field \`<the key>\`` and `param: <the key>`, and
 * by direct invocation the thrown error (which the Lambda runtime logs) carries it too.
 */
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { handler as keys } from '../../../functions/keys/handler.js';
import { callApi, invokeDirect } from '../../support/admin.js';
import { seedKey } from '../../support/seed.js';
import { useTestTable } from '../../support/table.js';

let key = '';
beforeAll(async () => {
  await useTestTable({ TOLLGATE_LOG_LEVEL: 'DEBUG' });
  ({ key } = await seedKey({}));
});

describe('admin errors never repeat a key', () => {
  it('GET /key/info?<key> (the `key=` forgotten)', async () => {
    const res = await callApi(keys, 'GET', '/key/info', { [key]: '' });
    expect(res.status).toBe(400);
    expect(JSON.stringify(res.body)).not.toContain(key);
  });

  it('POST /key/generate with a key as a field name (e.g. metadata flattened by a client)', async () => {
    const res = await callApi(keys, 'POST', '/key/generate', { key_alias: 'x', [key]: 'old key' });
    expect(res.status).toBe(400);
    expect(JSON.stringify(res.body)).not.toContain(key);
  });

  it('direct invocation with a key where the action goes: neither the error nor the log line repeats it (found by review: the log did)', async () => {
    const lines: string[] = [];
    const write = process.stdout.write;
    process.stdout.write = ((chunk: unknown) => {
      lines.push(String(chunk));
      return true;
    }) as typeof process.stdout.write;
    const spies = (['log', 'info', 'warn', 'error', 'debug'] as const).map((level) =>
      vi.spyOn(console, level).mockImplementation((...args: unknown[]) => {
        lines.push(args.map((a) => (typeof a === 'string' ? a : JSON.stringify(a))).join(' '));
      }),
    );
    try {
      const err = await invokeDirect(keys, { action: key }).catch((e: Error) => e);
      expect((err as { code?: string }).code).toBe('unknown_action');
      expect(`${(err as Error).message} ${JSON.stringify(err)}`).not.toContain(key);
    } finally {
      process.stdout.write = write;
      for (const s of spies) s.mockRestore();
    }
    const logs = lines.join('\n');
    expect(logs).toContain('admin action refused');
    expect(logs).not.toContain(key);
  });

  it('direct invocation: the thrown error', async () => {
    const err = await invokeDirect(keys, { action: 'info', [key]: '' }).catch((e: Error) => e);
    expect(err).toBeInstanceOf(Error);
    expect(`${(err as Error).message} ${JSON.stringify(err)}`).not.toContain(key);
  });
});
