/**
 * Stateful routes (lib/domain/tenancy): upstream objects created through Tollgate remember their
 * tenant, other tenants get 404 for them, lists show a tenant only its own, and billing follows
 * what the object is:
 *  - creating a response is metered as any call; created in the background (its usage unknown
 *    yet) or a batch, it is billed once, when a read first finds it done with its usage (the
 *    settlement's request id is the object's, so it counts once however many read it);
 *  - reading, listing or deleting an object, and uploading a file, are never billed (a stored
 *    response read again carries its old usage: that is not a new call).
 */
import type { Caller } from '../domain/caller.js';
import type { Usage } from '../domain/cost.js';
import { mayUse, type ObjectKind, type ObjectOwner, ownerOf } from '../domain/tenancy.js';
import { NotFoundError } from '../errors.js';
import type { ObjectOwners } from '../store/objects.js';
import type { LlmRequest } from './request.js';
import { usageOf } from './usage.js';

const COLLECTIONS = new Map<string, ObjectKind>([
  ['responses', 'response'],
  ['files', 'file'],
  ['batches', 'batch'],
  ['assistants', 'assistant'],
  ['threads', 'thread'],
]);

export type ObjectOp = 'create' | 'list' | 'read' | 'delete' | 'change';

export interface ObjectCall {
  kind: ObjectKind;
  op: ObjectOp;
  /** The object the path names (read, delete, change). */
  id?: string | undefined;
}

/** What a call does to an upstream object, if it names one (`POST /v1/files`, `GET /v1/responses/resp_1`). */
export function objectCallOf(req: Pick<LlmRequest, 'method' | 'upstreamPath'>): ObjectCall | undefined {
  const [collection = '', id, ...rest] = (req.upstreamPath.split('?')[0] ?? '').split('/').filter((s) => s.length > 0);
  const kind = COLLECTIONS.get(collection);
  if (!kind) return undefined;
  if (id === undefined) return req.method === 'POST' ? { kind, op: 'create' } : req.method === 'GET' ? { kind, op: 'list' } : undefined;
  const op: ObjectOp = req.method === 'DELETE' && rest.length === 0 ? 'delete' : req.method === 'GET' ? 'read' : 'change';
  return { kind, op, id };
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A created object whose usage is not known yet: a batch, or a response made in the background. */
export function isPending(kind: ObjectKind, answer: unknown): boolean {
  if (kind === 'batch') return true;
  return kind === 'response' && isObject(answer) && (answer.status === 'queued' || answer.status === 'in_progress') && !usageOf(answer);
}

/**
 * How an answered call is metered: `charge` (its usage, else the estimate: any call), `none`
 * (never billed), `deferred` (billed once, later).
 */
export function meteringOf(object: ObjectCall | undefined, answer: unknown): 'charge' | 'none' | 'deferred' {
  if (!object) return 'charge';
  switch (object.op) {
    case 'create':
      if (object.kind === 'file' || object.kind === 'assistant' || object.kind === 'thread') return 'none';
      return isPending(object.kind, answer) ? 'deferred' : 'charge';
    case 'change':
      return 'charge';
    default:
      return 'none';
  }
}

/** The usage a pending object's read brings, when it is done: billed then, once. */
export function finishedUsage(kind: ObjectKind, answer: unknown): Usage | undefined {
  if (!isObject(answer)) return undefined;
  const done = kind === 'batch' ? answer.status === 'completed' : answer.status === 'completed' || answer.status === 'incomplete';
  return done ? usageOf(answer) : undefined;
}

/** The 404 a caller gets for an object it may not use, or that Tollgate never saw made. */
export async function guardObject(owners: ObjectOwners, caller: Caller, object: ObjectCall): Promise<ObjectOwner | undefined> {
  if (!object.id) return undefined;
  const owner = await owners.get(object.id);
  if (!mayUse(caller, owner)) throw new NotFoundError(object.kind, object.id);
  return owner;
}

/** Records who made the object an answer describes (its `id`), before the answer goes out. */
export async function recordCreated(
  owners: ObjectOwners,
  caller: Caller,
  object: ObjectCall,
  answer: unknown,
  at: Date,
  model: string,
): Promise<void> {
  if (!isObject(answer) || typeof answer.id !== 'string' || answer.id.length === 0 || answer.id.length > 512) return;
  await owners.put(ownerOf(caller, object.kind, answer.id, at, model, isPending(object.kind, answer) ? 'pending' : undefined));
}

/** A list answer with only the caller's objects in its `data`. */
export async function ownOnly(owners: ObjectOwners, caller: Caller, answer: unknown): Promise<unknown> {
  if (caller.role === 'proxy_admin' || !isObject(answer) || !Array.isArray(answer.data)) return answer;
  const ids = answer.data.flatMap((o) => (isObject(o) && typeof o.id === 'string' ? [o.id] : []));
  const found = await owners.getMany(ids);
  const data = answer.data.filter((o) => isObject(o) && typeof o.id === 'string' && mayUse(caller, found.get(o.id)));
  // The page's bounds name only what the caller sees: never another tenant's object.
  const idOf = (o: unknown) => (o as { id: string } | undefined)?.id ?? null;
  return { ...answer, data, first_id: idOf(data[0]), last_id: idOf(data.at(-1)) };
}
