/**
 * Objects an upstream keeps (stored responses, files, batches, assistants, threads) belong to the
 * tenant that created them through Tollgate: one upstream key sees every tenant's objects, so
 * Tollgate keeps who made each and lets only that tenant near it. Pure.
 *
 * The tenant is the narrowest of: the creator's team (any caller of that team), else its user
 * (any of the user's personal calls), else its key. A proxy admin reaches every object. An object
 * Tollgate has no record of (made before, or directly at the upstream) is nobody's: 404.
 */
import type { Caller } from './caller.js';
import type { Usage } from './cost.js';

/**
 * `run` is a run on a thread, recorded to bill it once when it ends (its thread is what callers name).
 * `item` is one item of a response's output, which a later input may name (`item_reference`).
 * `container`, `vector_store` and `conversation` have no route through Tollgate: the first two are
 * made inside a call (a code interpreter's sandbox, a thread's file search) and recorded from its
 * answer; a body naming one is guarded like any other reference.
 */
export const OBJECT_KINDS = [
  'response',
  'file',
  'batch',
  'assistant',
  'thread',
  'container',
  'vector_store',
  'conversation',
  'item',
  'run',
] as const;
export type ObjectKind = (typeof OBJECT_KINDS)[number];

/** Who made an object, as Tollgate recorded it. */
export interface ObjectOwner {
  object_id: string;
  object_kind: ObjectKind;
  /** The key that made it (its maker is billed through it, or through the key that replaced it). */
  key_hash?: string | null;
  /**
   * The making key's line: its first key's hash, carried through every regeneration (`rate_id`).
   * A key-only tenant (no team, no user) is its line, so a regenerated key keeps its objects.
   */
  key_line?: string | null;
  user_id?: string | null;
  team_id?: string | null;
  organization_id?: string | null;
  /**
   * The end user the call that made it named (its JWT's claim, else the body's `user`): a deferred
   * bill charges their budget too, as the call would have (found by review: background responses,
   * batches and runs never reached an end user's budget). Records made before it was kept: none.
   */
  end_user_id?: string | null;
  /** `pending`: its usage was not known when it was made (a background response, a batch); billed once, when it is. */
  billing?: 'pending' | 'billed' | null;
  /** The registry model that made it: a deferred bill is priced by it. */
  model?: string | null;
  /**
   * The image models its image generation tools ran (registry names): a deferred bill charges the
   * tool's tokens (`tool_usage.image_gen`) at their prices. Records made before: none, not charged.
   */
  image_models?: string[] | null;
  /**
   * The sizes (in 1 GB sessions, largest first) of the code interpreter containers its request's
   * tools have made for it: a deferred bill charges the containers it shows made for it at these.
   */
  container_sizes?: number[] | null;
  /**
   * A batch file's, and its batch's: what its lines make when all of them make audio or images
   * (their routes'), so its bill charges output its usage does not split as that.
   */
  output_kind?: 'audio' | 'image' | null;
  /**
   * A container's: the response whose answer first showed it (the one billed its session); a
   * later response shown running in it is not. Records made before it was kept: none (never billed again).
   */
  made_in?: string | null;
  /** The registry model whose upstream keeps it: a call naming no model that reads, cancels or deletes it goes there. */
  served_by?: string | null;
  /** A file whose lines Tollgate checked as a batch's when it was uploaded: only such a file is a batch's input. */
  batch_input?: boolean | null;
  /** What a pending object is charged if it ends with no usage reported (a batch: its completed requests' share). */
  estimate?: StoredEstimate | null;
  /**
   * What the call that made it charged already, in nano-dollars: a background response streamed
   * to a client that left before its end (what it was sent is charged then). Its bill, when a
   * read finds it ended, is what it cost beyond that.
   */
  prepaid_nanos?: number | null;
  /** The tokens those cut streams counted in the rate windows: the bill counts only those beyond them. */
  prepaid_tokens?: number | null;
  /** A run's thread (the path its run is read at), for the sweep that bills pending objects nobody read. */
  thread_id?: string | null;
  /**
   * Of those, the input and output tokens their spend logs show: the bill's log shows only those
   * beyond them, so the reports' token totals count each token once (found by review: they ran
   * high by the cut streams' share). Records prepaid before these were kept: none.
   */
  prepaid_input_tokens?: number | null;
  prepaid_output_tokens?: number | null;
  created_at: string;
}

/** A pending object's estimate as its owner record keeps it: tokens, and the web and file searches and code interpreter sessions its tools allow. */
export interface StoredEstimate {
  input_tokens: number;
  output_tokens: number;
  web_searches?: number;
  file_searches?: number;
  code_interpreter_sessions?: number;
}

/** The work a pending object's estimate charges (lib/llm/estimate's bound). */
export type EstimatedWork = Pick<Usage, 'inputTokens' | 'outputTokens' | 'webSearches' | 'fileSearches' | 'codeInterpreterSessions'>;

export const storedEstimate = (w: EstimatedWork): StoredEstimate => ({
  input_tokens: w.inputTokens,
  output_tokens: w.outputTokens,
  ...(w.webSearches ? { web_searches: w.webSearches } : {}),
  ...(w.fileSearches ? { file_searches: w.fileSearches } : {}),
  ...(w.codeInterpreterSessions ? { code_interpreter_sessions: w.codeInterpreterSessions } : {}),
});

/** The stored estimate's work; `share` of it (a batch's completed requests), each count rounded up. */
export function estimatedWork(s: StoredEstimate, share = 1): EstimatedWork {
  const searches = Math.ceil((s.web_searches ?? 0) * share);
  const fileSearches = Math.ceil((s.file_searches ?? 0) * share);
  const sessions = Math.ceil((s.code_interpreter_sessions ?? 0) * share);
  return {
    inputTokens: Math.ceil(s.input_tokens * share),
    outputTokens: Math.ceil(s.output_tokens * share),
    ...(searches > 0 ? { webSearches: searches } : {}),
    ...(fileSearches > 0 ? { fileSearches } : {}),
    ...(sessions > 0 ? { codeInterpreterSessions: sessions } : {}),
  };
}

/**
 * How long after it was made a pending object nobody has read is first looked at (lib/llm/pending,
 * which reads it upstream and bills it once it has ended), and how long after each look that finds
 * it still under way it is looked at again: a response or a run ends in minutes, a batch in hours.
 */
export const PENDING_LOOK_AFTER_MS: Readonly<Record<'first' | 'again', Partial<Record<ObjectKind, number>>>> = {
  first: { response: 15 * 60_000, run: 15 * 60_000, batch: 60 * 60_000 },
  again: { response: 15 * 60_000, run: 15 * 60_000, batch: 60 * 60_000 },
};
/** How often pending objects due are looked at (the stack's schedule, the local gateway's timer). */
export const PENDING_SWEEP_EVERY_MINUTES = 5;

/** The event the schedule sends the llm function to look at them: `{"tollgate": "bill-pending"}`. */
export const BILL_PENDING_EVENT = Object.freeze({ tollgate: 'bill-pending' });

/** A kind this lists nothing for is looked at after this. */
export const PENDING_LOOK_DEFAULT_MS = 60 * 60_000;

/** When a pending object made at `createdAt` is first looked at. */
export const firstLookAt = (kind: ObjectKind, createdAt: string): Date =>
  new Date(Date.parse(createdAt) + (PENDING_LOOK_AFTER_MS.first[kind] ?? PENDING_LOOK_DEFAULT_MS));

/** When a pending object found still under way at `now` is looked at again. */
export const nextLookAt = (kind: ObjectKind, now: number): Date =>
  new Date(now + (PENDING_LOOK_AFTER_MS.again[kind] ?? PENDING_LOOK_DEFAULT_MS));

/** The owner record of an object a caller just created. */
export function ownerOf(
  caller: Caller,
  kind: ObjectKind,
  objectId: string,
  at: Date,
  models: {
    priced: string;
    served: string;
    batchInput?: boolean;
    estimate?: EstimatedWork | undefined;
    imageModels?: string[] | undefined;
    containerSizes?: number[] | undefined;
    outputKind?: 'audio' | 'image' | undefined;
  },
  billing?: 'pending',
): ObjectOwner {
  return {
    object_id: objectId,
    object_kind: kind,
    model: models.priced,
    served_by: models.served,
    ...(models.batchInput ? { batch_input: true } : {}),
    ...(models.estimate ? { estimate: storedEstimate(models.estimate) } : {}),
    ...(models.imageModels && models.imageModels.length > 0 ? { image_models: [...models.imageModels] } : {}),
    ...(models.containerSizes && models.containerSizes.length > 0 ? { container_sizes: [...models.containerSizes] } : {}),
    ...(models.outputKind ? { output_kind: models.outputKind } : {}),
    key_hash: caller.keyHash ?? null,
    key_line: keyLineOf(caller) ?? null,
    user_id: caller.userId ?? null,
    team_id: caller.teamId ?? null,
    organization_id: caller.orgId ?? null,
    ...(caller.endUserId ? { end_user_id: caller.endUserId } : {}),
    ...(billing ? { billing } : {}),
    created_at: at.toISOString(),
  };
}

/** The owner record of an object the upstream made for another (a batch's output file): its maker's, never billed. */
export function madeFor(
  owner: Pick<ObjectOwner, 'model' | 'served_by' | 'key_hash' | 'key_line' | 'user_id' | 'team_id' | 'organization_id'>,
  kind: ObjectKind,
  objectId: string,
  at: Date,
  madeIn?: string,
): ObjectOwner {
  return {
    object_id: objectId,
    object_kind: kind,
    ...(madeIn ? { made_in: madeIn } : {}),
    model: owner.model ?? null,
    served_by: owner.served_by ?? null,
    key_hash: owner.key_hash ?? null,
    key_line: owner.key_line ?? null,
    user_id: owner.user_id ?? null,
    team_id: owner.team_id ?? null,
    organization_id: owner.organization_id ?? null,
    created_at: at.toISOString(),
  };
}

/** A caller's key line: its key's first hash (`rate_id`, set on regeneration), else its own hash. */
const keyLineOf = (caller: Caller): string | undefined => (caller.keyHash ? (caller.state.key?.rate_id ?? caller.keyHash) : undefined);

/** Whether a caller may use an object: same team, else same user (personal), else same key (or a regeneration of it). */
export function mayUse(caller: Caller, owner: ObjectOwner | undefined): boolean {
  if (caller.role === 'proxy_admin') return true;
  if (!owner) return false;
  if (owner.team_id) return caller.teamId === owner.team_id;
  if (owner.user_id) return !caller.teamId && caller.userId === owner.user_id;
  if (!owner.key_hash) return false;
  // The same key, or one that regenerated it (a record made before lines were kept: its hash was its line, unless its key was a copy already).
  return caller.keyHash === owner.key_hash || keyLineOf(caller) === (owner.key_line ?? owner.key_hash);
}
