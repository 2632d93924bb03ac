/**
 * Showing that a refused admin request changed nothing: the same refusal through both entry
 * points, and the whole table (a Scan: tests only) identical before and after. Also: the
 * functions' sample events are valid.
 */
import { readdir, readFile } from 'node:fs/promises';
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import { expect } from 'vitest';
import type { Actions } from '../../lib/admin/http/handler.js';
import { parseInput } from '../../lib/admin/schema/fields.js';
import { documentClient } from '../../lib/app/index.js';
import type { CallerContext } from '../../lib/authorizer/context.js';
import { tableName } from '../../lib/store/client.js';
import type { Item } from '../../lib/store/codec.js';
import { adminCtx, callApi, invokeDirect } from './admin.js';

export async function scanTable(): Promise<Item[]> {
  const out: Item[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const res = await documentClient().send(new ScanCommand({ TableName: tableName(), ConsistentRead: true, ExclusiveStartKey: start }));
    out.push(...(res.Items ?? []));
    start = res.LastEvaluatedKey;
  } while (start);
  return out.sort((a, b) => `${a.PK}|${a.SK}`.localeCompare(`${b.PK}|${b.SK}`));
}

export interface Refusal {
  /** `POST /organization/new` */
  route: string;
  action: string;
  input: Record<string, unknown>;
  status: number;
  code: string;
  /** The field the error must name (omit to not check). */
  param?: string | null;
  message?: RegExp;
}

type Handler = Parameters<typeof callApi>[0];

/**
 * The refusal through API Gateway (with `caller`) and, unless `apiOnly` (permission refusals:
 * a direct invoker is always an admin), by direct invocation; the table is unchanged.
 */
export async function expectRefused(handler: Handler, r: Refusal, opts: { caller?: CallerContext; apiOnly?: boolean } = {}): Promise<void> {
  const [method, path] = r.route.split(' ') as [string, string];
  const before = await scanTable();
  const expected = { status: r.status, code: r.code, ...(r.param !== undefined ? { param: r.param } : {}) };
  const api = await callApi(handler, method, path, r.input, opts.caller ?? adminCtx);
  expect(
    { status: api.status, code: api.body.error?.code, ...(r.param !== undefined ? { param: api.body.error?.param } : {}) },
    `${r.route} ${JSON.stringify(r.input)}`,
  ).toEqual(expected);
  if (r.message) expect(api.body.error.message).toMatch(r.message);
  if (!opts.apiOnly) {
    await expect(
      invokeDirect(handler, { ...r.input, action: r.action }),
      `direct ${r.action} ${JSON.stringify(r.input)}`,
    ).rejects.toMatchObject(expected);
  }
  expect(await scanTable()).toEqual(before);
}

/** Every action of a function has a sample event in functions/<fn>/events/<action>.json, and each is valid input. */
export async function expectSampleEvents(fn: string, actions: Actions): Promise<void> {
  const dir = new URL(`../../functions/${fn}/events/`, import.meta.url);
  const files = (await readdir(dir)).filter((f) => f.endsWith('.json')).sort();
  expect(files).toEqual(
    Object.keys(actions)
      .map((a) => `${a}.json`)
      .sort(),
  );
  for (const f of files) {
    const { action, ...fields } = JSON.parse(await readFile(new URL(f, dir), 'utf8')) as { action: string };
    expect(action, f).toBe(f.replace(/\.json$/, ''));
    expect(() => parseInput((actions[action] as Actions[string]).schema, fields), f).not.toThrow();
  }
}
