/**
 * Stateful routes (lib/domain/tenancy): upstream objects created through Tollgate remember their
 * tenant, other tenants get 404 for them, lists show a tenant only its own, and billing follows
 * what the object is:
 *  - creating a response is metered as any call; created in the background (its usage unknown
 *    yet), a batch or a run under way, it is billed once, when a read (a stream too, a cancel, or
 *    the read a deletion makes first) finds it ended: by its usage, else its estimate kept with
 *    its record (the settlement's request id is the object's, so it counts once however many
 *    read it);
 *  - reading, listing or deleting an object, and uploading a file, are never billed (a stored
 *    response read again carries its old usage: that is not a new call).
 * Objects named in a body (`previous_response_id`, files, containers, vector stores, item
 * references) are guarded as in the path; a batch file's lines as bodies, when it is uploaded.
 * What the upstream makes inside an object (a batch's output files, a response's output items and
 * containers, a thread's vector stores) is recorded as that object's tenant's.
 */

import type { Caller } from '../domain/caller.js';
import type { Usage } from '../domain/cost.js';
import { isObject } from '../domain/json.js';
import { estimatedWork, madeFor, mayUse, type ObjectKind, type ObjectOwner, ownerOf } from '../domain/tenancy.js';
import { InvalidRequestError, NotFoundError } from '../errors.js';
import { containerOfItem } from '../providers/usage.js';
import type { RegistrySnapshot } from '../registry/index.js';
import type { ObjectOwners } from '../store/objects.js';
import { type LlmRequest, streamRequested } from './request.js';
import { bodyWithToolModels, toolModelsOf } from './tool-models.js';
import { usableUsage, usageOf } from './usage.js';

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
  /** What follows the id in the path (`cancel`, `runs`, `runs/run_1/submit_tool_outputs`); `runs` for `POST /threads/runs`. */
  action?: string | undefined;
}

/**
 * Calls under a collection's path that name no object: OpenAI's `POST /v1/responses/input_tokens`
 * (counts a request's tokens) and `POST /v1/responses/compact` (compacts a conversation into new
 * input). Plain calls, metered as any; the objects their body names are guarded as any body's.
 * They were taken for response ids and answered 404 (found by review).
 */
const COLLECTION_CALLS: ReadonlyMap<ObjectKind, ReadonlySet<string>> = new Map([['response', new Set(['input_tokens', 'compact'])]]);

/** What a call does to an upstream object, if it names one (`POST /v1/files`, `GET /v1/responses/resp_1`). */
export function objectCallOf(req: Pick<LlmRequest, 'method' | 'upstreamPath'>): ObjectCall | undefined {
  const [collection = '', id, ...rest] = (req.upstreamPath.split('?')[0] ?? '').split('/').filter((s) => s.length > 0);
  const kind = COLLECTIONS.get(collection);
  if (!kind) return undefined;
  if (req.method === 'POST' && id !== undefined && rest.length === 0 && COLLECTION_CALLS.get(kind)?.has(id)) return undefined;
  if (id === undefined) return req.method === 'POST' ? { kind, op: 'create' } : req.method === 'GET' ? { kind, op: 'list' } : undefined;
  // `POST /threads/runs` makes a thread and runs it: no thread is named.
  if (kind === 'thread' && id === 'runs' && rest.length === 0 && req.method === 'POST') return { kind, op: 'create', action: 'runs' };
  const op: ObjectOp = req.method === 'DELETE' && rest.length === 0 ? 'delete' : req.method === 'GET' ? 'read' : 'change';
  return { kind, op, id, ...(rest.length > 0 ? { action: rest.join('/') } : {}) };
}

/** Whether a call is about a thread's runs (makes one, gives it tool outputs, reads, lists or cancels them). */
const generates = (object: ObjectCall): boolean => object.kind === 'thread' && (object.action ?? '').split('/')[0] === 'runs';

/** Whether a call starts a run or lets one go on: made (`POST /threads/runs`, `/threads/{id}/runs`) or given tool outputs. */
export const startsRun = (object: ObjectCall | undefined): boolean =>
  !!object &&
  object.kind === 'thread' &&
  object.op !== 'read' &&
  (object.action === 'runs' || /^runs\/[^/]+\/submit_tool_outputs$/.test(object.action ?? ''));

/**
 * The work a call starts that is billed after the call is over (a batch, a response made in the
 * background, a thread run), named for a message with the field that asks for it; undefined for
 * any other call. Strict enforcement refuses it: its cost cannot be reserved for as long as it
 * runs. `background` is read as the upstream reads it (lib/llm/request streamRequested).
 */
export function deferredWorkOf(object: ObjectCall | undefined, body: unknown): { what: string; param: string | null } | undefined {
  if (!object) return undefined;
  if (object.kind === 'batch' && object.op === 'create') return { what: 'a batch', param: null };
  if (object.kind === 'response' && object.op === 'create' && isObject(body) && streamRequested(body.background))
    return { what: 'a background response', param: 'background' };
  // A run made (`POST /threads/runs`, `POST /threads/{id}/runs`) or given tool outputs to go on; not a read or a cancel.
  if (startsRun(object)) return { what: 'a thread run', param: null };
  return undefined;
}

/** Statuses of a run not ended yet: its usage comes when it ends (tool outputs submitted add to the same run). */
const RUN_UNDER_WAY = ['queued', 'in_progress', 'requires_action', 'cancelling'];

/** A created object whose usage is not known yet: a batch, a response made in the background, a run under way. */
export function isPending(kind: ObjectKind, answer: unknown): boolean {
  if (kind === 'batch') return true;
  // Usage that counts nothing is none (usableUsage): such an answer's work is still to be billed.
  if (!isObject(answer) || usableUsage(usageOf(answer))) return false;
  if (kind === 'run') return typeof answer.status === 'string' && RUN_UNDER_WAY.includes(answer.status);
  return kind === 'response' && (answer.status === 'queued' || answer.status === 'in_progress');
}

/** The run an answer about a thread describes (a run made, read, cancelled or given tool outputs). */
export function runOf(object: ObjectCall, answer: unknown): (Record<string, unknown> & { id: string }) | undefined {
  if (object.kind !== 'thread' || !isObject(answer) || answer.object !== 'thread.run') return undefined;
  return typeof answer.id === 'string' && answer.id.length > 0 && answer.id.length <= MAX_ID_LENGTH
    ? (answer as Record<string, unknown> & { id: string })
    : undefined;
}

/**
 * The runs an answer about a thread shows: the run itself, or a page of them (`GET /threads/{id}/runs`).
 * The answer to a run's own call (made, read, given tool outputs, cancelled) is that run, whether
 * or not it says `object: "thread.run"` (an OpenAI-compatible upstream may leave it out): its id
 * and status make it one (found by review: such a run was never billed).
 */
export function runsOf(object: ObjectCall, answer: unknown): (Record<string, unknown> & { id: string })[] {
  // Where the answer can only be runs (a run's own calls, its thread's list of runs), one with no `object` is still one.
  const asRun = (v: unknown, lenient: boolean) =>
    runOf(object, v) ??
    (lenient && isObject(v) && v.object === undefined && typeof v.status === 'string'
      ? runOf(object, { ...v, object: 'thread.run' })
      : undefined);
  const action = object.action ?? '';
  const one = asRun(answer, startsRun(object) || /^runs\/[^/]+$|^runs\/[^/]+\/(?:cancel|submit_tool_outputs)$/.test(action));
  if (one) return [one];
  if (object.kind !== 'thread' || !isObject(answer) || answer.object !== 'list' || !Array.isArray(answer.data)) return [];
  return answer.data.flatMap((r) => {
    const run = asRun(r, action === 'runs');
    return run ? [run] : [];
  });
}

/**
 * How an answered call is metered: `charge` (its usage, else the estimate: any call), `none`
 * (never billed), `deferred` (billed once, later).
 */
export function meteringOf(object: ObjectCall | undefined, answer: unknown): 'charge' | 'none' | 'deferred' {
  if (!object) return 'charge';
  switch (object.op) {
    case 'create':
      // A run is billed once, through its record, when an answer shows it ended: by everything it did.
      // An answer that names no run leaves no record to bill through: charged now, as any call.
      if (generates(object)) return answer === undefined || runsOf(object, answer).length > 0 ? 'deferred' : 'charge';
      if (object.kind === 'file' || object.kind === 'assistant' || object.kind === 'thread') return 'none';
      return isPending(object.kind, answer) ? 'deferred' : 'charge';
    case 'change':
      // A run makes the model generate, billed through its record; cancelling, modifying or adding
      // a message does not (a cancelled batch or response is billed once, by what it did, as a
      // read finds it ended).
      if (!generates(object)) return 'none';
      return !startsRun(object) || answer === undefined || runsOf(object, answer).length > 0 ? 'deferred' : 'charge';
    default:
      return 'none';
  }
}

/** Where a batch or a response has ended: its usage is what it will ever cost. */
const ENDED: Readonly<Record<string, readonly string[]>> = {
  batch: ['completed', 'cancelled', 'expired', 'failed'],
  response: ['completed', 'incomplete', 'cancelled', 'failed'],
  run: ['completed', 'incomplete', 'cancelled', 'failed', 'expired'],
};

/** Whether an answer about a deferred object shows it ended (whatever it did). */
export const hasEnded = (kind: ObjectKind, answer: unknown): boolean =>
  isObject(answer) && typeof answer.status === 'string' && ENDED[kind]?.includes(answer.status) === true;

/** What an ended object is billed: the usage it reports, else (never $0 for work done) its estimate's share. */
export interface FinishedBill {
  usage: Usage;
  source: 'reported' | 'estimated';
  /** The containers its code interpreter ran in (a response's): those made for it are billed as sessions. */
  containers?: string[];
}

/**
 * The bill a pending object's answer (read or cancel) brings, once it has ended: billed then,
 * once. Ended with no usage reported, it is charged its estimate for the work it did: a
 * response that completed (or stopped incomplete) all of it, a batch its completed requests'
 * share; a failed or cancelled response, a failed batch, did none worth a bill.
 */
export function finishedUsage(kind: ObjectKind, answer: unknown, estimate?: ObjectOwner['estimate']): FinishedBill | undefined {
  if (!isObject(answer) || typeof answer.status !== 'string' || !ENDED[kind]?.includes(answer.status)) return undefined;
  // Usage that counts nothing is none, as for any call (found by review: billed $0).
  const reported = usableUsage(usageOf(answer));
  const ran = madeInside(kind, answer).flatMap((m) => (m.kind === 'container' ? [m.id] : []));
  const containers = ran.length > 0 ? { containers: ran } : {};
  if (reported) return { usage: reported, source: 'reported', ...containers };
  const share = estimate ? doneShare(kind, answer) : 0;
  if (!estimate || share <= 0) return undefined;
  return { usage: estimatedWork(estimate, share), source: 'estimated', ...containers };
}

/** How much of its work an ended object did, from 0 to 1. */
function doneShare(kind: ObjectKind, answer: Record<string, unknown>): number {
  if (kind === 'response' || kind === 'run') return answer.status === 'completed' || answer.status === 'incomplete' ? 1 : 0;
  if (answer.status === 'failed') return 0;
  const counts = isObject(answer.request_counts) ? answer.request_counts : undefined;
  const total = Number(counts?.total);
  const completed = Number(counts?.completed);
  // No counts to go by: all of it (an estimate is an upper bound, never $0).
  if (!counts || !Number.isFinite(total) || !Number.isFinite(completed)) return 1;
  return total > 0 ? Math.min(1, Math.max(0, completed / total)) : 0;
}

/** The 404 a caller gets for an object it may not use, or that Tollgate never saw made. */
export async function guardObject(owners: ObjectOwners, caller: Caller, object: ObjectCall): Promise<ObjectOwner | undefined> {
  if (!object.id) return undefined;
  // Longer than any id Tollgate records: nobody's, and no key DynamoDB takes (a read would fail).
  if (object.id.length > MAX_ID_LENGTH) throw new NotFoundError(object.kind, object.id.slice(0, 64));
  const owner = await owners.get(object.id);
  if (!mayUse(caller, owner)) throw new NotFoundError(object.kind, object.id);
  return owner;
}

/** The longest object id Tollgate records an owner for. */
export const MAX_ID_LENGTH = 512;

/** Body fields that name an upstream object, and what kind (a string, or a list of them). */
const REFERENCES: Readonly<Record<string, ObjectKind>> = {
  previous_response_id: 'response',
  input_file_id: 'file',
  file_id: 'file',
  file_ids: 'file',
  assistant_id: 'assistant',
  thread_id: 'thread',
  // A code interpreter's sandbox (its files), a file search's store, a conversation's items.
  container: 'container',
  vector_store_ids: 'vector_store',
  conversation: 'conversation',
};
/** The most ids a body may name (each is a read of its owner): more is a 400, never a slow guard. */
const MAX_REFERENCES = 100;

/** Every object a request body names, at any depth (`input[].content[].file_id` too). */
export function referencedObjects(body: unknown): { kind: ObjectKind; id: string }[] {
  const out = new Map<string, { kind: ObjectKind; id: string }>();
  const walk = (v: unknown, depth: number): void => {
    if (depth > 32 || typeof v !== 'object' || v === null) return;
    if (Array.isArray(v)) {
      for (const e of v) walk(e, depth + 1);
      return;
    }
    // An input item naming a stored one (another response's output) by its id.
    const ref = v as Record<string, unknown>;
    if (ref.type === 'item_reference' && typeof ref.id === 'string' && ref.id.length > 0)
      out.set(`item:${ref.id}`, { kind: 'item', id: ref.id });
    for (const [k, e] of Object.entries(v)) {
      // The caller's own tags (`metadata: {thread_id: "t-42"}`): names nothing upstream.
      if (k === 'metadata') continue;
      const kind = Object.hasOwn(REFERENCES, k) ? REFERENCES[k] : undefined;
      // A reference is an id, a list of them, or an object naming one by its `id` (`conversation: {id}`).
      const named = (x: unknown) => (isObject(x) && typeof x.id === 'string' ? x.id : x);
      if (kind)
        for (const id of (Array.isArray(e) ? e : [e]).map(named))
          if (typeof id === 'string' && id.length > 0) out.set(`${kind}:${id}`, { kind, id });
      walk(e, depth + 1);
    }
  };
  walk(body, 0);
  if (out.size > MAX_REFERENCES)
    throw new InvalidRequestError(`the body names ${out.size} stored objects; at most ${MAX_REFERENCES}`, 'invalid_body');
  return [...out.values()];
}

/**
 * The 404 a caller gets for a body that names another tenant's object (or one Tollgate never saw
 * made): continuing a response (`previous_response_id`), a batch over a file (`input_file_id`), a
 * file in a message, a run of an assistant; as for the object in the path.
 */
export async function guardReferences(owners: ObjectOwners, caller: Caller, body: unknown): Promise<void> {
  if (caller.role === 'proxy_admin') return;
  const refs = referencedObjects(body);
  if (refs.length === 0) return;
  // Longer than any id Tollgate records (recordCreated): nobody's, and no key DynamoDB takes.
  const long = refs.find((r) => r.id.length > MAX_ID_LENGTH);
  if (long) throw new NotFoundError(long.kind, long.id.slice(0, 64));
  const found = await owners.getMany(refs.map((r) => r.id));
  const denied = refs.find((r) => !mayUse(caller, found.get(r.id)) || found.get(r.id)?.object_kind !== r.kind);
  if (denied) throw new NotFoundError(denied.kind, denied.id);
}

/** What a batch file asks for: the models its lines name, and the requests they send (objects they name are guarded). */
export interface BatchFile {
  models: string[];
  /** The models its lines' tools run (an image generation tool's): checked as the lines' own. */
  toolModels: string[];
  requests: { url: string; body: Record<string, unknown> }[];
}

/**
 * The batch file a call uploads (`POST /files`, purpose `batch`), read: a batch runs its lines'
 * bodies, so their `model` is checked like a body's and the objects they name like a body's.
 * Every line must be a JSON object whose `body.model` is a string (the upstream's own rule): a
 * line that is not is a 400, never passed unread. Undefined for any other call.
 */
export async function batchFileOf(req: Pick<LlmRequest, 'method' | 'upstreamPath' | 'body'>): Promise<BatchFile | undefined> {
  const object = objectCallOf(req);
  if (object?.kind !== 'file' || object.op !== 'create' || req.body.kind !== 'form') return undefined;
  const form = req.body.value;
  // Any `purpose` field counts: an upstream may read another of several than we would.
  if (!form.getAll('purpose').some((p) => typeof p === 'string' && p.trim().toLowerCase() === 'batch')) return undefined;
  const models = new Set<string>();
  const toolModels = new Set<string>();
  const requests: BatchFile['requests'] = [];
  for (const file of form.getAll('file')) {
    const text = typeof file === 'string' ? file : await file.text();
    let n = 0;
    for (const raw of text.split('\n')) {
      n++;
      if (raw.trim().length === 0) continue;
      let parsed: unknown;
      try {
        parsed = JSON.parse(raw);
      } catch {
        parsed = undefined;
      }
      const body = isObject(parsed) ? parsed.body : undefined;
      const model = isObject(body) ? body.model : undefined;
      if (!isObject(body) || typeof model !== 'string' || model.length === 0)
        throw new InvalidRequestError(`line ${n} of the batch file is not a JSON object naming its \`body.model\``, 'invalid_body', 'file');
      models.add(model);
      for (const tool of toolModelsOf({ body: { kind: 'json', value: body } })) toolModels.add(tool.name);
      requests.push({ url: isObject(parsed) && typeof parsed.url === 'string' ? parsed.url : '', body });
    }
  }
  return { models: [...models], toolModels: [...toolModels], requests };
}

/**
 * The upload with its batch file's lines naming `upstreamModel`, the registry's upstream id for
 * the one model they name (found by review: lines were checked for what a name means in the
 * registry, an alias to an allowed model, but the upstream ran the name as written). Other fields
 * and files go on as they came.
 */
export async function withBatchModel(req: LlmRequest, upstreamModel: string, registry: RegistrySnapshot): Promise<LlmRequest> {
  if (req.body.kind !== 'form') return req;
  const form = new FormData();
  for (const [name, value] of req.body.value) {
    if (name !== 'file') {
      form.append(name, value);
      continue;
    }
    // A `file` given as text (a URL-encoded body, a part without a filename) is rewritten as a file's is (found by review).
    const lines = (typeof value === 'string' ? value : await value.text())
      .split('\n')
      .filter((line) => line.trim().length > 0)
      .map((line) => {
        const parsed = JSON.parse(line) as { body: Record<string, unknown> };
        const body = bodyWithToolModels(parsed.body, toolModelsOf({ body: { kind: 'json', value: parsed.body } }), registry);
        return JSON.stringify({ ...parsed, body: { ...body, model: upstreamModel } });
      });
    const text = `${lines.join('\n')}\n`;
    if (typeof value === 'string') form.append(name, text);
    else form.append(name, new File([text], value.name, { type: value.type }));
  }
  return { ...req, body: { kind: 'form', value: form } };
}

/**
 * A batch runs its input file's lines: only a file whose lines were checked when it was uploaded
 * (batchFileOf: their models, the objects they name) may be one. A proxy admin's batch may run any.
 */
export async function guardBatchInput(
  owners: ObjectOwners,
  caller: Caller,
  object: ObjectCall,
  body: unknown,
): Promise<ObjectOwner | undefined> {
  if (object.kind !== 'batch' || object.op !== 'create' || !isObject(body)) return undefined;
  const id = body.input_file_id;
  if (typeof id !== 'string' || id.length === 0 || id.length > MAX_ID_LENGTH) return undefined; // none: the upstream's 400
  const file = await owners.get(id);
  if (caller.role !== 'proxy_admin' && file?.batch_input !== true)
    throw new InvalidRequestError(
      `file \`${id}\` was not uploaded through Tollgate as a batch file (purpose \`batch\`): a batch cannot run it`,
      'invalid_field',
      'input_file_id',
    );
  return file;
}

/** Records who made the object an answer describes (its `id`), before the answer goes out. */
export async function recordCreated(
  owners: ObjectOwners,
  caller: Caller,
  object: ObjectCall,
  answer: unknown,
  at: Date,
  /** The model a deferred bill is priced by, and the one whose upstream keeps the object. */
  models: Parameters<typeof ownerOf>[4],
  /** Whether its usage comes later; by default what the answer says. A streamed response is metered by its stream: never. */
  pending: boolean = isPending(object.kind, answer),
): Promise<void> {
  if (!isObject(answer)) return;
  // `POST /threads/runs` answers with the run: the object it made is the run's thread.
  const id = object.kind === 'thread' && object.action === 'runs' ? answer.thread_id : answer.id;
  if (typeof id !== 'string' || id.length === 0 || id.length > MAX_ID_LENGTH) return;
  const owner = ownerOf(caller, object.kind, id, at, models, pending ? 'pending' : undefined);
  await Promise.all([owners.put(owner), recordMadeInside(owners, owner, madeInside(object.kind, answer), at)]);
}

/**
 * The objects an answer about an object says the upstream made for it, in places only the
 * upstream writes (never an echo of the request): a finished batch's output and error files, a
 * response's output items and the containers its code interpreter ran in, the vector stores a
 * thread or assistant got.
 */
export function madeInside(kind: ObjectKind, answer: unknown): MadeInside[] {
  if (!isObject(answer)) return [];
  const ids = (k: ObjectKind, vs: unknown[]) =>
    vs.flatMap((id) => (typeof id === 'string' && id.length > 0 && id.length <= MAX_ID_LENGTH ? [{ kind: k, id }] : []));
  // A container is the response's that first shows it: the one billed its session (lib/llm/containers).
  const madeIn = typeof answer.id === 'string' && answer.id.length > 0 && answer.id.length <= MAX_ID_LENGTH ? answer.id : undefined;
  switch (kind) {
    case 'batch':
      return ids('file', [answer.output_file_id, answer.error_file_id]);
    case 'response': {
      const output = (Array.isArray(answer.output) ? answer.output : []).filter(isObject);
      return [
        ...ids(
          'item',
          output.map((item) => item.id),
        ),
        ...ids('container', output.map(containerOfItem)).map((m) => (madeIn ? { ...m, madeIn } : m)),
      ];
    }
    case 'thread':
    case 'assistant': {
      const search = isObject(answer.tool_resources) ? answer.tool_resources.file_search : undefined;
      return ids('vector_store', isObject(search) && Array.isArray(search.vector_store_ids) ? search.vector_store_ids : []);
    }
    default:
      return [];
  }
}

/** An object an answer shows the upstream made for another; a container, with the response it was first shown in. */
export interface MadeInside {
  kind: ObjectKind;
  id: string;
  madeIn?: string;
}

/** The same, as one event of a stream shows it: a response whole (`response.completed`), or one output item. */
export function madeInsideEvent(kind: ObjectKind, payload: unknown): MadeInside[] {
  if (!isObject(payload)) return [];
  if (isObject(payload.response)) return madeInside(kind, payload.response);
  return isObject(payload.item) && kind === 'response' ? madeInside(kind, { output: [payload.item] }) : [];
}

/**
 * The container an Anthropic message's code execution ran in, as its answer or a stream event
 * names it (`container`, `message.container`, `delta.container`).
 */
export function messageContainer(payload: unknown): { kind: ObjectKind; id: string }[] {
  if (!isObject(payload)) return [];
  const holder = [payload, payload.message, payload.delta].find((h) => isObject(h) && isObject(h.container));
  const id = isObject(holder) && isObject(holder.container) ? holder.container.id : undefined;
  return typeof id === 'string' && id.length > 0 && id.length <= MAX_ID_LENGTH ? [{ kind: 'container', id }] : [];
}

/** Records objects made inside another as its owner's (never taking one another owns): its team uses them, nobody else. */
export async function recordMadeInside(
  owners: ObjectOwners,
  owner: Parameters<typeof madeFor>[0] | undefined,
  made: readonly MadeInside[],
  at: Date,
): Promise<void> {
  if (!owner) return;
  await Promise.all(made.map((m) => owners.putNew(madeFor(owner, m.kind, m.id, at, m.madeIn))));
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
