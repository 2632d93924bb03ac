/**
 * The llm function, behind the authorizer on every LLM route:
 *   1. the caller from the authorizer's context, its entities reloaded through the cached loaders;
 *   2. the body-aware checks (requested models with the registry's aliases and access groups,
 *      the end user, enforce_user_param) by the same runChecks the authorizer ran; a call that
 *      names no model is checked against the passthrough model that will serve it;
 *   3. `/models`: the registry filtered by the caller's access; anything else: forwarded to the
 *      model's upstream with the model's own key, the answer passed back (streamed as it comes);
 *   4. the call's cost settled once along the caller's chain, after the answer is complete.
 * In strict mode (lib/domain/enforcement) step 3 is preceded by a reservation of the call's
 * estimate (lib/llm/strict) and step 4 settles it, releasing the difference; a call that fails,
 * is cancelled or whose client goes away releases all of it.
 *
 * The end user is the JWT's end-user claim when there is one (trusted: the issuer signed it),
 * else the body's `user` field, which the client asserts: a key holder can name any end user.
 */

import { performance } from 'node:perf_hooks';
import { Readable } from 'node:stream';
import type { APIGatewayProxyEvent } from 'aws-lambda';
import { type CallerContext, readCallerContext } from '../authorizer/context.js';
import { allChecks, type CheckInput, owedBillChecks, runChecks } from '../checks/checks.js';
import { type ModelCatalog, requestedModels } from '../checks/models.js';
import type { Caller } from '../domain/caller.js';
import {
  allInputTokens,
  chargedServiceTier,
  costNanos as costOfUsage,
  NANOS_PER_DOLLAR,
  type ToolPrices,
  type Usage,
} from '../domain/cost.js';
import { enforcementOf } from '../domain/enforcement.js';
import { isObject, opensAsEvents, opensAsObject, parseJson } from '../domain/json.js';
import { rateHeaders } from '../domain/rate-limits.js';
import type { EnforcementMode, ModelRecord } from '../domain/records.js';
import { loggedAlias, requestTags, type SpendLog } from '../domain/spend-log.js';
import { estimatedWork, mayUse, type ObjectOwner, ownerOf } from '../domain/tenancy.js';
import {
  ConflictError,
  DeferredWorkNotAllowedError,
  InvalidApiKeyError,
  InvalidRequestError,
  isTollgateError,
  NotFoundError,
  toTollgateError,
  UnboundedInputError,
  UnboundedServerToolError,
  UpstreamFailedError,
  UpstreamTimeoutError,
} from '../errors.js';
import { callMetrics, denialMetric } from '../metrics.js';
import { unshapedUpstreamError } from '../providers/errors.js';
import { type EventSource, relayStream } from '../providers/http.js';
import type { TokenUsage } from '../providers/types.js';
import { isUsageOnlyChunk, mergeUsage, spentUsageOf, usageOfPayload } from '../providers/usage.js';
import { type RegistrySnapshot, upstreamKey } from '../registry/index.js';
import { matchRoute } from '../routes.js';
import type { ObjectOwners, Prepayment } from '../store/objects.js';
import type { Hold } from '../store/spend-ledger.js';
import { logger } from '../telemetry.js';
import { loadCaller } from './caller.js';
import { containerSizes, newSessions } from './containers.js';
import { countUsage, ReceivedText } from './count.js';
import { type LlmDeps, llmDeps } from './deps.js';
import { askedSearches, estimateUsage, requirePricedTier, unboundedServerTool, unboundedStoredInput, withOutputLimit } from './estimate.js';
import { allowedModels, listModelsBody, retrieveModelBody } from './models.js';
import {
  type BatchFile,
  batchFileOf,
  deferredWorkOf,
  type FinishedBill,
  finishedUsage,
  guardBatchInput,
  guardObject,
  guardReferences,
  isPending,
  MAX_ID_LENGTH,
  madeInside,
  madeInsideEvent,
  messageContainer,
  meteringOf,
  type ObjectCall,
  objectCallOf,
  ownOnly,
  recordCreated,
  recordMadeInside,
  runOf,
  runsOf,
  startsRun,
  withBatchModel,
} from './objects.js';
import {
  type ChargeGate,
  callProvider,
  type Finish,
  onDestroy,
  passthroughTarget,
  providerOperation,
  routeErrorResponse,
} from './providers.js';
import { type Admitted, admitCall, countLaterTokens, refusalOf, tokensOf } from './rate.js';
import { type LlmRequest, parseLlmRequest } from './request.js';
import { isTextual, jsonResponse, type LlmResponse } from './response.js';
import { recordSpend } from './spend.js';
import { dataEvent, framedEvents, SseFramer } from './sse.js';
import { reserveCall } from './strict.js';
import { imageModelsOf, imageToolPrices, toolModelsOf, withToolModels } from './tool-models.js';
import { isRedirect, UpstreamCall, type UpstreamRequest, withoutSecret } from './upstream.js';
import { brokenUsage, fromTokenUsage, imageGenTokens, usableUsage, usageOf, withOutputKind } from './usage.js';

/**
 * Settlements still being written for a request. The answer goes out first: its last byte is
 * not held for the settlement. The invocation still waits for them (functions/llm/handler.ts
 * awaits `settlementsOf` in middy's requestEnd, after the response stream has ended): Lambda
 * freezes an instance once its handler resolves, so nothing is fired and forgotten.
 */
const pending = new WeakMap<object, Promise<unknown>[]>();

/** Resolves when every settlement of this request's calls is written (or given up on and logged). */
export async function settlementsOf(event: object): Promise<void> {
  // A stream's close may still be on its way: let it in, and wait for whatever it adds.
  await new Promise((r) => setImmediate(r));
  let seen = 0;
  for (let list = pending.get(event); list && list.length > seen; list = pending.get(event)) {
    seen = list.length;
    await Promise.allSettled(list.slice());
  }
  pending.delete(event);
}

/**
 * `endsAt` (epoch ms): when an upstream call still under way is ended, as timed out, so that it
 * settles before the invocation does (the function's timeout less SETTLE_BEFORE_TIMEOUT_MS).
 * `invocationEndsAt`: the function's timeout itself; a settlement the store has not taken by the
 * time its journal needs before it is kept in the journal instead (recordSpend's `keepBy`).
 */
export async function handleLlmEvent(
  event: APIGatewayProxyEvent,
  deps: LlmDeps = llmDeps(),
  opts: { endsAt?: number | undefined; invocationEndsAt?: number | undefined } = {},
): Promise<LlmResponse> {
  try {
    return await serve(event, deps, opts);
  } catch (e) {
    const error = toTollgateError(e);
    // Only codes are logged: an unexpected error's message may hold anything.
    await denialMetric(error.code);
    if (!isTollgateError(e)) logger().error('llm request failed unexpectedly', { error: (e as Error)?.name });
    else if (error.status >= 500) logger().error('llm request failed', { code: error.code });
    else logger().info('llm request denied', { code: error.code, status: error.status });
    return routeErrorResponse(event.resource ?? event.path, error);
  }
}

interface Call {
  req: LlmRequest;
  caller: Caller;
  /** The registry's aliases and access groups, as the checks saw them. */
  catalog: ModelCatalog;
  deps: LlmDeps;
  now: number;
  mode: EnforcementMode;
  /** Reads the caller again and reruns the checks (strict mode, after an entity changed). */
  recheck(): Promise<void>;
  /** Lets a settlement complete after the answer: the invocation awaits it (settlementsOf). */
  defer(settlement: Promise<unknown>): void;
  /** The upstream object the call names or creates (lib/llm/objects), and who made it. */
  object?: ObjectCall | undefined;
  owner?: ObjectOwner | undefined;
  /** The prices of the models its tools run (its image generation tool's), charged for their own tokens. */
  toolPrices?: ToolPrices | undefined;
  /** The image models its image generation tools run, kept on an object it makes for a deferred bill. */
  imageModels?: string[] | undefined;
  /** The registry model an object the call creates is priced by, when not the one serving it (a batch file's lines'). */
  madeWith?: string | undefined;
  /** The call uploads a batch file, its lines checked. */
  batchInput?: boolean | undefined;
  /** The owner record of the batch file a batch creation names, as its guard read it. */
  batchFile?: ObjectOwner | undefined;
  /** What an object the call creates is charged if it ends with no usage reported (a batch file's: its lines'). */
  estimate?: Usage | undefined;
  /** What a batch file's lines all make, when it is audio or images (their routes' `outputNotText`). */
  outputKind?: 'audio' | 'image' | undefined;
  /** The registry model whose upstream keeps the object the call names (its owner's `served_by`). */
  keeper?: string | undefined;
  /** Strict calls: the output limit a body naming none is sent with (withOutputLimit). */
  outputLimit?: number | undefined;
  /** Aborted when the invocation must end: an upstream call under way ends as timed out, and settles. */
  endSignal?: AbortSignal | undefined;
  /** When a settlement the store has not taken must go to the journal, to be kept before the invocation ends (epoch ms). */
  keepBy?: number | undefined;
  /** performance.now() when the request arrived, and when its (first) upstream call went out. */
  startedMs: number;
  upstreamAtMs?: number | undefined;
}

async function serve(
  event: APIGatewayProxyEvent,
  deps: LlmDeps,
  { endsAt, invocationEndsAt }: { endsAt?: number | undefined; invocationEndsAt?: number | undefined },
): Promise<LlmResponse> {
  const now = deps.clock();
  const startedMs = performance.now();
  const ctx = readCallerContext(event.requestContext?.authorizer as Record<string, unknown> | null | undefined);
  if (!ctx) throw new InvalidApiKeyError('the request reached the llm function without an authorizer context');
  const parsed = await parseLlmRequest(event);
  const [loaded, registry] = await Promise.all([loadCallerFor(ctx, parsed, deps), deps.registry.snapshot()]);
  const asked = await withAssistantModel(parsed, deps.objects, loaded, registry);
  const listing = asked.route.answer === 'model_list';
  const object = objectCallOf(asked);
  // A batch file's lines name the models its batch will run: checked as the body's are.
  const batch = object ? await batchFileOf(asked) : undefined;
  // An object another tenant made (or one Tollgate never saw made) is a 404 before any upstream call;
  // a call on one that names no model goes to the upstream that keeps it, so that model is checked.
  const namesModel = requestedModels(asked.model).length > 0 || asked.pathModel !== undefined;
  let owner = object && !namesModel ? await guardObject(deps.objects, loaded, object) : undefined;
  const keeper = owner?.served_by && registry.resolve(owner.served_by) ? owner.served_by : undefined;
  // The models its tools run (an image generation tool's) are checked as the body's are.
  const tools = listing ? [] : toolModelsOf(asked);
  const models = listing
    ? []
    : [...modelsOf(asked, deps, keeper), ...(batch?.models ?? []), ...(batch?.toolModels ?? []), ...tools.map((t) => t.name)];
  const caller = checked(loaded, asked, models, deps, registry, now);
  if (object && namesModel) owner = await guardObject(deps.objects, caller, object);
  // A batch file's lines run the registry's upstream id of the one model they name.
  const made = batch ? batchModelOf(registry, batch.models) : undefined;
  const madeBy = made ? registry.resolve(made) : undefined;
  const req = withToolModels(madeBy ? await withBatchModel(asked, madeBy.upstream_model, registry) : asked, tools, registry);
  const imageModels = imageModelsOf(tools);
  const imageGen = imageToolPrices(imageModels, registry);

  if (listing) return jsonResponse(200, listModelsBody(allowedModels(registry, checkBase(req, deps, caller, now))));
  if (req.route.answer === 'model_info') return jsonResponse(200, retrieveModelBody(registry, req.pathModel ?? ''));
  const call: Call = {
    req,
    caller,
    catalog: registry.catalog,
    deps,
    now,
    // Reads that bill work already done reserve nothing (a strict proxy's reservation would be refused by a spent budget).
    mode: deps.billsOwed ? 'fast' : enforcementOf(caller.state, deps.enforcement),
    defer: (work) => {
      // Handled at once (found by review: a deferred bill the store failed was an unhandled
      // rejection until settlementsOf came to it); what failed stays for the next answer or sweep.
      const settlement = work.catch((e: unknown) => {
        logger().error('deferred work failed', { requestId: req.requestId, error: (e as Error)?.name });
      });
      const list = pending.get(event);
      if (list) list.push(settlement);
      else pending.set(event, [settlement]);
    },
    recheck: async () => {
      call.caller = checked(await loadCallerFor(ctx, req, deps), req, models, deps, registry, now);
    },
    object,
    owner,
    keeper,
    startedMs,
    ...(imageGen ? { toolPrices: { imageGen } } : {}),
    ...(imageModels.length > 0 ? { imageModels } : {}),
  };
  if (endsAt !== undefined) call.endSignal = AbortSignal.timeout(Math.max(0, Math.floor(endsAt - Date.now())));
  if (invocationEndsAt !== undefined) call.keepBy = invocationEndsAt - deps.journalMs;
  // Strict enforcement holds every call's cost before it runs, its output up to a limit the upstream is sent.
  if (call.mode === 'strict') call.outputLimit = deps.strictDefaultMaxTokens;
  // Work billed after the call cannot be held.
  const deferred = call.mode === 'strict' ? deferredWorkOf(object, req.body.kind === 'json' ? req.body.value : undefined) : undefined;
  if (deferred) throw new DeferredWorkNotAllowedError(deferred.what, deferred.param);
  // Nor can it hold the cost of a tool billed per use that nothing bounds (a web search without
  // `max_uses`, a file search without `max_tool_calls`).
  const unbounded = call.mode === 'strict' ? unboundedServerTool(req) : undefined;
  if (unbounded) throw new UnboundedServerToolError(unbounded.unbounded, unbounded.why, unbounded.param);
  // Nor input the upstream keeps, billed beyond what the request shows.
  const stored = call.mode === 'strict' ? unboundedStoredInput(req) : undefined;
  if (stored) throw new UnboundedInputError(stored.param, stored.why);
  if (batch) {
    call.batchInput = true;
    call.madeWith = made;
    call.estimate = batchEstimate(call, batch);
    call.outputKind = batchOutputKind(batch);
    await guardReferences(
      deps.objects,
      caller,
      batch.requests.map((r) => r.body),
    );
  }
  return forward(call, registry);
}

const checkBase = (req: LlmRequest, deps: LlmDeps, caller: Caller, now: number) =>
  ({ now, method: req.method, path: req.path, route: req.route, caller, settings: deps.settings }) satisfies Partial<CheckInput>;

const loadCallerFor = (ctx: CallerContext, req: LlmRequest, deps: LlmDeps): Promise<Caller> =>
  loadCaller(ctx, deps.reader, {
    endUserId: ctx.end_user_id ?? req.user,
    needGlobal: deps.settings.maxBudget !== undefined && req.route.spends === true,
  });

/**
 * A run started on an assistant (`POST /threads/{id}/runs`, `POST /threads/runs`) that names no
 * model runs the assistant's, as recorded when it was made or last given a model through
 * Tollgate: the run names it, so it is checked and priced as any model a body names, and the
 * upstream runs that one (found by review: the assistant's model ran unchecked, priced as the
 * thread's or the passthrough model). An assistant the caller may not use is left to its guard (404).
 * An assistant changed outside Tollgate (its upstream's dashboard) keeps the model recorded here:
 * its runs are told that one.
 */
async function withAssistantModel(req: LlmRequest, objects: ObjectOwners, caller: Caller, registry: RegistrySnapshot): Promise<LlmRequest> {
  const object = objectCallOf(req);
  if (object?.kind !== 'thread' || object.op === 'read' || object.action !== 'runs') return req;
  if (req.model !== undefined || req.pathModel !== undefined || req.body.kind !== 'json') return req;
  const assistantId = req.body.value.assistant_id;
  if (typeof assistantId !== 'string' || assistantId.length === 0 || assistantId.length > MAX_ID_LENGTH) return req;
  const assistant = await objects.get(assistantId);
  if (assistant?.object_kind !== 'assistant' || !assistant.model || !mayUse(caller, assistant)) return req;
  // A model since removed from the registry: the run goes as before, to the thread's keeper (found
  // by review: a 404 for a model the caller never named).
  if (!registry.resolve(assistant.model)) return req;
  return { ...req, model: assistant.model };
}

/**
 * The models the body asks for; when neither body nor path names one, the passthrough model that
 * will serve the call, so the caller must be allowed it like any model it names.
 */
function modelsOf(req: LlmRequest, deps: LlmDeps, keeper: string | undefined): string[] {
  const named = requestedModels(req.model);
  if (named.length > 0 || req.pathModel !== undefined) return named;
  const serving = keeper ?? deps.passthroughModel;
  return serving ? [serving] : [];
}

/** The caller, through the body-aware checks (throws their denial). */
function checked(caller: Caller, req: LlmRequest, models: string[], deps: LlmDeps, registry: RegistrySnapshot, now: number): Caller {
  const denial = runChecks(
    {
      ...checkBase(req, deps, caller, now),
      pathModel: req.pathModel,
      body: { models, user: req.user },
      catalog: registry.catalog,
    },
    deps.billsOwed ? owedBillChecks : allChecks,
  );
  if (denial) throw denial;
  return caller;
}

async function forward(call: Call, registry: RegistrySnapshot): Promise<LlmResponse> {
  const { req, deps } = call;
  const names = req.pathModel ? [req.pathModel] : requestedModels(req.model);
  if (names.length > 1)
    return fanOut(
      call,
      names.map((n) => resolveModel(registry, n)),
    );
  if (names.length === 1) return callModel(call, resolveModel(registry, names[0] as string), req.requestId);
  const serving = call.keeper ?? deps.passthroughModel;
  const fallback = serving ? registry.resolve(serving) : undefined;
  if (!fallback)
    throw new InvalidRequestError('the request names no `model`, and this proxy has no default upstream for it', 'model_required', 'model');
  return callModel(call, fallback, req.requestId);
}

/**
 * A batch file's estimate: each line's, as a call with its body would be estimated (embeddings
 * generate nothing; a Responses line may run file searches), web and file searches included.
 */
function batchEstimate(call: Call, batch: BatchFile): Usage {
  let inputTokens = 0;
  let outputTokens = 0;
  let webSearches = 0;
  let fileSearches = 0;
  let sessions = 0;
  for (const { url, body } of batch.requests) {
    const route = {
      ...call.req.route,
      generates: !url.includes('embeddings'),
      ...(matchRoute('POST', url)?.route.runsHostedTools ? { runsHostedTools: true } : {}),
    };
    const one = estimateUsage({ body: { kind: 'json', value: body }, route }, call.deps.strictDefaultMaxTokens);
    inputTokens += one.inputTokens;
    outputTokens += one.outputTokens;
    webSearches += one.webSearches ?? 0;
    fileSearches += one.fileSearches ?? 0;
    sessions += one.codeInterpreterSessions ?? 0;
  }
  return {
    inputTokens,
    outputTokens,
    ...(webSearches > 0 ? { webSearches } : {}),
    ...(fileSearches > 0 ? { fileSearches } : {}),
    ...(sessions > 0 ? { codeInterpreterSessions: sessions } : {}),
  };
}

/** What a batch file's lines make, when all of them make audio or all images (found by review: image batches were billed as text). */
function batchOutputKind(batch: BatchFile): 'audio' | 'image' | undefined {
  const kinds = new Set(batch.requests.map((r) => matchRoute('POST', r.url)?.route.outputNotText));
  const [only] = kinds;
  return kinds.size === 1 ? only : undefined;
}

/** The one model a batch file's lines name (the upstream's rule: one model a batch), by its registry name. */
function batchModelOf(registry: RegistrySnapshot, names: string[]): string | undefined {
  const made = new Set(names.map((n) => resolveModel(registry, n).model_name));
  if (made.size > 1)
    throw new InvalidRequestError(`a batch file's lines must name one model; these name ${[...made].join(', ')}`, 'invalid_body', 'file');
  return [...made][0];
}

function resolveModel(registry: RegistrySnapshot, name: string): ModelRecord {
  const model = registry.resolve(name);
  if (!model) throw new NotFoundError('model', name);
  return model;
}

/**
 * The body the upstream gets: the caller's, with `model` set to the upstream's id for it, and a
 * strict call's output limit where it names none (`outputLimit`, withOutputLimit).
 */
function upstreamBody(
  req: LlmRequest,
  model: ModelRecord,
  outputLimit: number | undefined,
): { body: UpstreamRequest['body']; stripUsage: boolean } {
  const named = req.model !== undefined || req.pathModel !== undefined;
  switch (req.body.kind) {
    case 'none':
      return { body: undefined, stripUsage: false };
    case 'raw':
      return { body: { bytes: req.body.bytes, contentType: req.body.contentType }, stripUsage: false };
    case 'form': {
      const form = new FormData();
      for (const [k, v] of req.body.value) form.append(k, v);
      if (named) form.set('model', model.upstream_model);
      return { body: { form }, stripUsage: false };
    }
    case 'json': {
      const value: Record<string, unknown> = { ...withOutputLimit(req.body.value, req.upstreamPath, model, outputLimit) };
      if (named) value.model = model.upstream_model;
      let stripUsage = false;
      if (req.stream && req.route.streamsUsage) {
        // Usage is how a streamed answer gets counted: always ask for it; hide it from a client
        // that did not ask (a chunk with empty `choices` trips clients that index choices[0]).
        const asked = isObject(value.stream_options) ? value.stream_options : {};
        stripUsage = asked.include_usage !== true;
        value.stream_options = { ...asked, include_usage: true };
      }
      return { body: { bytes: Buffer.from(JSON.stringify(value)), contentType: 'application/json' }, stripUsage };
    }
  }
}

async function startCall(
  call: Call,
  model: ModelRecord,
  body: UpstreamRequest['body'],
  /** Another method and query, on the same path or one under it (a read before a deletion). */
  as?: { method: string; query: URLSearchParams; path?: string },
): Promise<UpstreamCall> {
  const { req, deps } = call;
  const query = as?.query ?? req.query;
  const path = as?.path ?? req.upstreamPath;
  const upstream = new UpstreamCall({
    model,
    method: as?.method ?? req.method,
    path,
    query,
    target: passthroughTarget(model, path, query),
    callerHeaders: req.headers,
    apiKey: await upstreamKey(model),
    body,
    timeoutMs: deps.upstreamTimeoutMs,
    endSignal: call.endSignal,
  });
  call.upstreamAtMs ??= performance.now();
  const res = await upstream.start(deps.fetch);
  if (res.status === 401 || res.status === 403) {
    // The caller's credential was fine (the authorizer said so); ours was not. Not the caller's 401.
    upstream.cancel();
    throw new UpstreamFailedError(`the upstream for \`${model.model_name}\` refused Tollgate's credentials (HTTP ${res.status})`);
  }
  if (isRedirect(res.status)) {
    // Never followed: the call (and its prompt) goes nowhere but under the model's base URL.
    upstream.cancel();
    throw new UpstreamFailedError(
      `the upstream for \`${model.model_name}\` answered a redirect (HTTP ${res.status}), which Tollgate does not follow`,
    );
  }
  return upstream;
}

async function callModel(call: Call, model: ModelRecord, requestId: string): Promise<LlmResponse> {
  // Bedrock, Azure and Anthropic models go through their provider (lib/llm/providers); OpenAI-compatible ones pass through.
  const operation = providerOperation(call.req, model);
  // Objects the body names (a response continued, a batch's file) must be the caller's own, as in
  // the path, wherever the body reaches an upstream that stores them (OpenAI-compatible, Azure).
  // Anthropic keeps code execution containers: a body naming one is guarded, one its answer names recorded.
  const keeps = !operation || model.provider === 'azure' || model.provider === 'anthropic';
  if (keeps && call.req.body.kind === 'json') {
    await guardReferences(call.deps.objects, call.caller, call.req.body.value);
    if (call.object) {
      const file = await guardBatchInput(call.deps.objects, call.caller, call.object, call.req.body.value);
      if (file) call.batchFile = file;
    }
  }
  if (operation)
    return withSpend(call, model, requestId, (finish, rate) => {
      call.upstreamAtMs ??= performance.now();
      return callProvider(call, model, operation, finish, rate.headers, providerMade(call, model));
    });
  return withSpend(call, model, requestId, async (finish, rate) => {
    await billBeforeDelete(call, model);
    const { body, stripUsage } = upstreamBody(call.req, model, call.outputLimit);
    const upstream = await startCall(call, model, body);
    const res = upstream.response as Response;
    // Whatever the request said, an event stream is relayed as one and metered from its events.
    if (res.ok && res.body && (res.headers.get('content-type') ?? '').includes('text/event-stream')) {
      const object = call.object?.op === 'create' ? call.object : undefined;
      // A response made as a stream is metered by its stream, never again when read (not pending);
      // but one made in the background goes on upstream when its stream is cut (its client left):
      // recorded pending, it is billed by a read that finds it ended, beyond what the stream charged.
      const background =
        object?.kind === 'response' &&
        deferredWorkOf(object, call.req.body.kind === 'json' ? call.req.body.value : undefined) !== undefined;
      let made: { id: string; recorded: Promise<void> } | undefined;
      const onCreated = object
        ? once((payload: unknown) => {
            // A response's events carry it in `response`; a run's (`POST /threads/runs`) are the run itself.
            const created = isObject(payload) ? (isObject(payload.response) ? payload.response : runOf(object, payload)) : undefined;
            if (!created) return false;
            const models = background
              ? {
                  ...servedBy(model),
                  estimate: estimateUsage(call.req, call.deps.strictDefaultMaxTokens),
                  // As a JSON answer's record keeps them (found by review: a streamed one's did not).
                  imageModels: call.imageModels,
                  containerSizes: containerSizes(call.req.body.kind === 'json' ? call.req.body.value : undefined),
                }
              : servedBy(model);
            const recorded = recordCreated(call.deps.objects, call.caller, object, created, new Date(call.now), models, background);
            call.defer(recorded);
            if (background && typeof created.id === 'string') made = { id: created.id, recorded };
            return true;
          })
        : pendingBill(call, model);
      const onMadeInside = madeInsideStream(call, model);
      const run = streamedRun(call, model);
      let relayed = false;
      const onPayload = (payload: unknown) => {
        onCreated?.(payload);
        onMadeInside?.(payload);
        run?.see(payload);
      };
      // A stored object read (or changed) as a stream is not a new call: its events' usage is not charged.
      const charged = meteringOf(call.object, undefined) === 'charge';
      const out = Readable.from(
        relay(
          upstream,
          stripUsage,
          (usage, answered, received, partial) => {
            relayed = true;
            const end: StreamEnd = { usage, answered, received, partial };
            call.defer(
              run
                ? run.settle(finish, end)
                : !charged
                  ? finish(undefined, false)
                  : made
                    ? settleBackgroundStream(call, made, finish, end)
                    : finishStream(finish, end),
            );
          },
          onPayload,
        ),
        { objectMode: false },
      );
      // A client that goes away destroys the body while the relay may be waiting on the upstream's
      // next chunk: its `finally` (the settlement) would wait for that chunk, and the invocation
      // would end without it (found by review). The upstream is cancelled at once instead, which
      // ends the wait; the upstream stops generating too.
      onDestroy(out, () => upstream.cancel());
      // A body abandoned before its first read never runs relay's `finally`: release here then
      // (not otherwise: a background response's settlement reads before it settles, and this would come first).
      out.once('close', () => {
        if (!relayed) call.defer(finish(undefined, false));
      });
      return {
        statusCode: res.status,
        headers: {
          ...upstream.returnedHeaders(),
          ...rate.headers,
          'content-type': 'text/event-stream; charset=utf-8',
          'cache-control': 'no-cache',
        },
        body: out,
      };
    }
    // The whole answer goes out as soon as it is read; its settlement follows.
    const answer = await complete(
      model,
      upstream,
      async (usage, answered, received) => call.defer(finish(usage, answered, received)),
      // Reading, listing or deleting an object, or making one whose usage comes later, is not charged now.
      (json) => (meteringOf(call.object, json) === 'charge' ? [usageOf(json), true] : [undefined, false]),
    );
    if (call.object && answer.status < 300) answer.bytes = await afterObjectCall(call, call.object, model, answer.bytes);
    return {
      statusCode: answer.status,
      headers: { ...answer.headers, ...rate.headers },
      body: isTextual(answer.headers['content-type']) ? answer.bytes.toString('utf8') : Readable.from([answer.bytes]),
    };
  });
}

/**
 * One upstream call with its spend: admitted by its rate limits (throwing the 429), reserved
 * when strict (throwing the denial), settled by `run` through `finish`, and released should
 * `run` throw.
 */
async function withSpend<T>(
  call: Call,
  model: ModelRecord,
  requestId: string,
  run: (finish: Finish, rate: Admitted) => Promise<T>,
  admitted?: Admitted,
): Promise<T> {
  if (!admitted) requirePricedTier(call.req, model);
  const rate = admitted ?? (await admitCall(call, model, requestId));
  let hold: Hold | undefined;
  try {
    hold = call.mode === 'strict' ? await reserveCall(call, model, requestId) : undefined;
  } catch (e) {
    // Refused by its budget: the call never ran, so it counts nowhere and holds no slot.
    if (rate.ticket) call.defer(call.deps.rateLimiter.cancel(rate.ticket));
    throw e;
  }
  let done: Promise<number> | undefined;
  const finish: Finish = (usage, answered, received, partial, gate, promptOnly) =>
    (done ??= settle(call, model, usage, answered, requestId, hold, rate, received, partial, gate, promptOnly));
  try {
    return await run(finish, rate);
  } catch (e) {
    // An upstream that answered, unreadably, is charged (counted, else the estimate), never $0;
    // one that billed part of the call before it failed (a fan-out's calls that succeeded), that
    // part. One that took a call that is charged, now or later (not a read, a listing, an upload),
    // and did not answer in time: the prompt it was sent, no output, as it may be working on it
    // still, and bill it (found by review: such a call cost $0; a read that timed out must cost
    // nothing; a run started with no answer leaves no record to bill it later).
    const spent = fromTokenUsage(spentUsageOf(e));
    const timedOut = spent === undefined && e instanceof UpstreamTimeoutError && meteringOf(call.object, undefined) !== 'none';
    if (timedOut) await finish(undefined, true, undefined, false, undefined, true);
    else await finish(spent, (e instanceof UpstreamFailedError && e.answered) || spent !== undefined);
    throw e;
  }
}

interface Answer {
  status: number;
  headers: Record<string, string>;
  bytes: Buffer;
}

/** What a successful object call leaves behind: its owner recorded, a list narrowed, a deletion, a deferred bill. */
async function afterObjectCall(call: Call, object: ObjectCall, model: ModelRecord, bytes: Buffer): Promise<Buffer> {
  const { objects } = call.deps;
  const json = parseJson(bytes);
  await billRun(call, object, model, json);
  call.defer(billRunsOfMessages(call, model, object, json));
  switch (object.op) {
    case 'create': {
      // A batch is priced by the model its file's lines name, a batch file by the model its lines name.
      // The batch's input file, as the request named it (guarded: the caller's own, checked as a batch file).
      const asked = call.req.body.kind === 'json' ? call.req.body.value.input_file_id : undefined;
      const input = object.kind === 'batch' && typeof asked === 'string' ? asked : undefined;
      const file = input ? (call.batchFile ?? (await objects.get(input))) : undefined;
      const made = call.madeWith ?? file?.model ?? model.model_name;
      // Charged if it ends with no usage reported: a batch its file's estimate, a background response its request's.
      const estimate =
        call.estimate ??
        (file?.estimate ? estimatedWork(file.estimate) : undefined) ??
        (object.kind === 'response' && isPending(object.kind, json)
          ? estimateUsage(call.req, call.deps.strictDefaultMaxTokens)
          : undefined);
      // Kept for replay if the store refuses it: the object exists upstream, its client gets it.
      await recordCreated(call.deps.keptObjects, call.caller, object, json, new Date(call.now), {
        priced: made,
        served: model.model_name,
        batchInput: call.batchInput === true,
        estimate,
        imageModels: call.imageModels,
        // A batch's: its file's, whose lines it runs.
        outputKind: call.outputKind ?? file?.output_kind ?? undefined,
        containerSizes:
          object.kind === 'response' ? containerSizes(call.req.body.kind === 'json' ? call.req.body.value : undefined) : undefined,
      });
      return bytes;
    }
    case 'list':
      return Buffer.from(JSON.stringify(await ownOnly(objects, call.caller, json)));
    case 'delete':
      if (object.id) call.defer(objects.remove(object.id));
      return bytes;
    case 'read':
    case 'change': {
      // An assistant given a model runs it from now on: its record names it (withAssistantModel).
      if (
        object.op === 'change' &&
        object.kind === 'assistant' &&
        object.action === undefined &&
        call.req.model !== undefined &&
        call.owner &&
        call.owner.model !== model.model_name
      )
        await objects.setModel(call.owner.object_id, model.model_name);
      // What the upstream made inside it (a finished batch's output files) is its maker's, recorded before the answer names it.
      await recordMadeInside(call.deps.keptObjects, recordsInside(call), madeInside(object.kind, json), new Date(call.now));
      // A background response or a batch is billed once, by the first read (or cancel) that finds it ended.
      const bill = call.owner?.billing === 'pending' && object.id ? finishedUsage(object.kind, json, call.owner.estimate) : undefined;
      if (bill && object.id && call.owner) call.defer(billOnce(call, model, call.owner, bill));
      return bytes;
    }
    default:
      return bytes;
  }
}

/**
 * A run is billed once, when an answer shows it ended, through its record: made (or given tool
 * outputs) it is recorded pending, to whoever started it (its thread may be a teammate's), with
 * its request's estimate; the first answer that shows it ended (its JSON, a stream's last event,
 * a read, a list of the thread's runs, a cancel) bills it, by its whole usage, else that estimate.
 */
async function billRun(call: Call, object: ObjectCall, model: ModelRecord, answer: unknown): Promise<void> {
  const runs = runsOf(object, answer);
  if (runs.length === 0) return;
  const started = startsRun(object) ? runs[0] : undefined;
  // Kept for replay if the store refuses it, as any object made (a run's stream records its own: streamedRun).
  if (started) await recordRun(call, model, started, call.deps.keptObjects);
  let pending: Awaited<ReturnType<typeof pendingRuns>>;
  try {
    pending = await pendingRuns(call, runs);
  } catch (e) {
    // The store is down: the run's record waits (written or kept), for the next answer that shows it ended.
    logger().warn('runs not billed: their records could not be read', { requestId: call.req.requestId, error: (e as Error)?.name });
    return;
  }
  for (const { run, owner } of pending) {
    const bill = finishedUsage('run', run, owner.estimate);
    if (bill) call.defer(billOnce(call, model, owner, bill));
  }
}

/**
 * The most runs a read of a thread's messages looks up, at once: a client polls its messages while
 * a run writes them, and each lookup is an upstream call on the shared upstream key (found by
 * review: up to 20 in a row per read).
 */
const MESSAGE_RUNS = 3;

/**
 * A read of a thread's messages shows what its runs wrote (each assistant message names its
 * `run_id`): a run still pending whose output is read there is looked up and, if it has ended,
 * billed once (found by review: a client polling the messages, never the run, got it free). Off
 * the answer's path; a lookup that fails leaves the run pending for the next answer that shows it.
 */
async function billRunsOfMessages(call: Call, model: ModelRecord, object: ObjectCall, answer: unknown): Promise<void> {
  if (object.kind !== 'thread' || call.req.method !== 'GET' || !/^messages(?:\/[^/]+)?$/.test(object.action ?? '')) return;
  // Only messages a run has finished writing (one still being written: its run is under way).
  const named = messagesOf(answer).flatMap((m) =>
    typeof m.run_id === 'string' && m.run_id.length > 0 && m.run_id.length <= MAX_ID_LENGTH && m.status !== 'in_progress' ? [m.run_id] : [],
  );
  const ids = [...new Set(named)];
  if (ids.length === 0) return;
  const threadPath = call.req.upstreamPath.replace(/\/messages(?:\/[^/]+)?$/, '');
  try {
    const pending = (
      await pendingRuns(
        call,
        ids.map((id) => ({ id })),
      )
    ).slice(0, MESSAGE_RUNS);
    // Each to its end, whatever the others do: a bill claimed is recorded before the invocation ends.
    await Promise.allSettled(
      pending.map(async ({ run, owner }) => {
        const read = await startCall(call, model, undefined, {
          method: 'GET',
          query: new URLSearchParams(),
          path: `${threadPath}/runs/${encodeURIComponent(run.id)}`,
        });
        const res = read.response as Response;
        if (!res.ok) return read.cancel();
        const bill = finishedUsage('run', parseJson(await read.readAll()), owner.estimate);
        if (bill) await billOnce(call, model, owner, bill);
      }),
    );
  } catch (e) {
    logger().warn('runs named by thread messages not billed', { requestId: call.req.requestId, error: (e as Error)?.name });
  }
}

/** The messages an answer about a thread's messages holds: a page of them, or one. */
const messagesOf = (answer: unknown): Record<string, unknown>[] =>
  isObject(answer) && answer.object === 'list' && Array.isArray(answer.data)
    ? answer.data.filter(isObject)
    : isObject(answer) && answer.object === 'thread.message'
      ? [answer]
      : [];

/** The runs of an answer whose records still wait for their bill, with those records. */
async function pendingRuns<R extends { id: string }>(call: Call, runs: readonly R[]): Promise<{ run: R; owner: ObjectOwner }[]> {
  const owners = await call.deps.objects.getMany(runs.map((r) => r.id));
  return runs.flatMap((run) => {
    const owner = owners.get(run.id);
    return owner?.billing === 'pending' ? [{ run, owner }] : [];
  });
}

/** A run started (or given tool outputs) recorded pending, to whoever started it; tool outputs submitted to a run already recorded add to it. */
const recordRun = (
  call: Call,
  model: ModelRecord,
  run: Record<string, unknown> & { id: string },
  objects: ObjectOwners = call.deps.objects,
): Promise<void> =>
  objects.putNew({
    ...ownerOf(
      call.caller,
      'run',
      run.id,
      new Date(call.now),
      { ...servedBy(model), estimate: estimateUsage(call.req, call.deps.strictDefaultMaxTokens) },
      'pending',
    ),
    // Where the run is read (the sweep of pending objects nobody read: lib/llm/pending).
    ...threadOfRun(call, run),
  });

/** A run's thread: the one its answer names, else the one its call named. */
function threadOfRun(call: Call, run: Record<string, unknown>): { thread_id?: string } {
  const named = typeof run.thread_id === 'string' ? run.thread_id : call.object?.kind === 'thread' ? call.object.id : undefined;
  return named && named.length <= MAX_ID_LENGTH ? { thread_id: named } : {};
}

/**
 * A run's stream (made, or given tool outputs, as a stream): billed through the run's record, as
 * its JSON answer would be, by the last run event it relays. Ended: the record's bill, once.
 * Paused (`requires_action`): nothing yet, its bill comes when it ends. Cut (its client left, the
 * run goes on upstream): what it was sent is charged now and kept on the record, the rest when an
 * answer shows it ended (found by review: a run given tool outputs as a stream was billed twice).
 */
function streamedRun(call: Call, model: ModelRecord): { see: (payload: unknown) => void; settle: SettleStream } | undefined {
  const { object } = call;
  if (!startsRun(object) || !object) return undefined;
  let last: (Record<string, unknown> & { id: string }) | undefined;
  let recorded: Promise<boolean> | undefined;
  return {
    see: (payload) => {
      const run = runOf(object, payload);
      if (!run) return;
      last = run;
      // Awaited when the stream ends; a failure then is that settlement's to handle, never an unhandled rejection.
      recorded ??= recordRun(call, model, run).then(
        () => true,
        (e: unknown) => {
          logger().error('run record failed', { requestId: call.req.requestId, error: (e as Error)?.name });
          return false;
        },
      );
    },
    settle: async (finish, end) => {
      // No run named, or its record not written: no record to bill through, charged as any stream.
      if (!last || !(await recorded)) return finishStream(finish, end);
      const run = last;
      try {
        const owner = await call.deps.objects.get(run.id);
        if (owner?.billing !== 'pending') return finish(undefined, false);
        const bill = finishedUsage('run', run, owner.estimate);
        if (bill) {
          await billOnce(call, model, owner, bill);
          return finish(undefined, false);
        }
        if (!end.partial) return finish(undefined, false);
        return await prepaid(call, run.id, finish, end);
      } catch (e) {
        // The store failed on the way: the call's hold and rate slot are released all the same,
        // and its record stays pending, for the answer that next shows the run ended.
        logger().error('run bill failed', { objectId: run.id, requestId: call.req.requestId, error: (e as Error)?.name });
        return finish(undefined, false);
      }
    },
  };
}

/** How a relayed stream ended (relay's `onDone`): what its settlement is given. */
interface StreamEnd {
  usage: Usage | undefined;
  answered: boolean;
  received: ReceivedText;
  partial: boolean;
}

/** Settles a stream as any call: `finish` with how it ended. */
const finishStream = (finish: Finish, end: StreamEnd, gate?: ChargeGate): Promise<number> =>
  finish(end.usage, end.answered, end.received, end.partial, gate);

type SettleStream = (finish: Finish, end: StreamEnd) => Promise<number>;

/**
 * Bills a deferred object's usage once, to the key, user, team and organization that made it
 * (whoever reads it first: its maker, a teammate, an admin), at the prices of the model that
 * made it: the object's id is the settlement's idempotency token, and only the read that claims
 * the bill settles it.
 */
async function billOnce(call: Call, serving: ModelRecord, owner: ObjectOwner, bill: FinishedBill): Promise<void> {
  const { source } = bill;
  const registry = await call.deps.registry.snapshot();
  // The containers made for it (first shown in it), each of a size its tools asked.
  const sessions = await newSessions(call.deps.objects, bill.containers ?? [], undefined, owner.object_id, owner.container_sizes ?? []);
  // A batch of images (or speech): output its usage does not split is what its lines make.
  const kinded = withOutputKind(bill.usage, owner.output_kind ?? undefined) ?? bill.usage;
  const usage = sessions > (kinded.codeInterpreterSessions ?? 0) ? { ...kinded, codeInterpreterSessions: sessions } : kinded;
  const made = owner.model ? registry.resolve(owner.model) : undefined;
  // Its image generation tool's tokens, at the image models the call that made it named.
  const imageGen = owner.image_models ? imageToolPrices(owner.image_models, registry) : undefined;
  const maker = await makerOf(call, owner);
  const claimed = await call.deps.objects.claimBilling(owner.object_id);
  if (!claimed) return;
  const model = made ?? serving;
  const requestId = `object:${owner.object_id}`;
  // Its tokens join its maker's tpm windows beside the bill (the call they came from counted none;
  // a cut stream of it counted those it delivered).
  const counted = countLaterTokens(call, maker, model, usage, claimed.prepaid_tokens ?? 0);
  await recordSpend(call.deps.settler, call.deps.journal, call.deps.settings, {
    caller: maker,
    model,
    ...(imageGen ? { toolPrices: { imageGen } } : {}),
    usage,
    usageSource: source,
    requestId,
    at: call.now,
    keepBy: call.keepBy,
    creditNanos: claimed.prepaid_nanos ?? undefined,
    // Its spend log, as any call's: the maker's, at the moment it counted (its budget windows'),
    // not when its work began: the reports and listings by day then agree with the budgets, as
    // LiteLLM logs a batch's cost when it tracks it (found by review: yesterday's report held it).
    log: logOf({
      requestId,
      callType: DEFERRED_CALL_TYPES[owner.object_kind] ?? `/v1/${owner.object_kind}`,
      model,
      modelGroup: model.model_name,
      caller: maker,
      // The maker's end user, not the one of the read that found it ended.
      endUser: maker.endUserId ?? null,
      usage,
      // The tokens its cut streams' logs showed already: this log shows the rest.
      loggedBefore: { input: claimed.prepaid_input_tokens ?? 0, output: claimed.prepaid_output_tokens ?? 0 },
      usageSource: source,
      startTime: new Date(call.now).toISOString(),
      endTime: new Date(call.deps.clock()).toISOString(),
      status: 'success',
    }),
  });
  await counted;
}

/** The route a deferred bill's spend log names: the call that made what it bills. */
const DEFERRED_CALL_TYPES: Partial<Record<ObjectOwner['object_kind'], string>> = {
  response: '/v1/responses',
  batch: '/v1/batches',
  run: '/v1/threads/runs',
};

/**
 * Deleting a pending object (a background response no read has found ended) would lose its bill:
 * it is read first and billed once if it has ended; one still running is a 409 (cancel it first:
 * the cancel's answer bills it), never deleted unbilled.
 */
async function billBeforeDelete(call: Call, model: ModelRecord): Promise<void> {
  const { object, owner } = call;
  if (object?.op !== 'delete' || !object.id) return;
  if (object.kind === 'thread') return billRunsBeforeDelete(call, model, object, object.id);
  if (owner?.billing !== 'pending') return;
  const read = await startCall(call, model, undefined, { method: 'GET', query: new URLSearchParams() });
  const res = read.response as Response;
  if (res.status === 404) return read.cancel(); // gone upstream already: nothing it says can be billed
  if (!res.ok) {
    read.cancel();
    throw new UpstreamFailedError(
      `the upstream for \`${model.model_name}\` could not say what ${object.kind} \`${object.id}\` cost (HTTP ${res.status})`,
    );
  }
  const bill = finishedUsage(object.kind, parseJson(await read.readAll()), owner.estimate);
  if (!bill) throw new ConflictError('object_pending', `${object.kind} \`${object.id}\` has not ended: cancel it before deleting it`, 'id');
  await billOnce(call, model, owner, bill);
}

/** The most pages of a thread's runs read before the thread is deleted (100 runs a page). */
const RUN_PAGES = 10;

/**
 * Deleting a thread would lose the bills of its runs still pending (found by review: a run whose
 * output was read from the thread's messages, its thread then deleted, was never billed): its
 * runs are listed first, those that ended are billed once, and one still under way is a 409
 * (cancel it first).
 */
async function billRunsBeforeDelete(call: Call, model: ModelRecord, object: ObjectCall, threadId: string): Promise<void> {
  let after: string | undefined;
  for (let page = 0; page < RUN_PAGES; page++) {
    const query = new URLSearchParams({ limit: '100', ...(after ? { after } : {}) });
    const read = await startCall(call, model, undefined, { method: 'GET', query, path: `${call.req.upstreamPath}/runs` });
    const res = read.response as Response;
    if (UNLISTED.includes(res.status)) {
      // Gone upstream already, or an upstream that keeps no runs to list: nothing it says can be billed.
      if (res.status !== 404) logger().warn('thread runs not listed before its deletion', { threadId, status: res.status });
      return read.cancel();
    }
    if (!res.ok) {
      read.cancel();
      throw new UpstreamFailedError(
        `the upstream for \`${model.model_name}\` could not list the runs of thread \`${threadId}\` (HTTP ${res.status})`,
      );
    }
    const answer = parseJson(await read.readAll());
    const runs = runsOf(object, answer);
    for (const { run, owner } of await pendingRuns(call, runs)) {
      if (isPending('run', run))
        throw new ConflictError(
          'object_pending',
          `run \`${run.id}\` on thread \`${threadId}\` has not ended: cancel it before deleting its thread`,
          'id',
        );
      const bill = finishedUsage('run', run, owner.estimate);
      if (bill) await billOnce(call, model, owner, bill);
    }
    if (!isObject(answer) || answer.has_more !== true || runs.length === 0) return;
    after = runs.at(-1)?.id;
  }
  logger().warn('thread runs past the pages read before its deletion were not billed', { threadId, pages: RUN_PAGES });
}

/** What a list of a thread's runs answers when there is none to list: the thread is gone, or the upstream lists no runs. */
const UNLISTED = [400, 404, 405, 501];

/**
 * Who made an object, as a caller to bill: the one reading it when it is its maker (its end user
 * too), else its maker's entities, its end user's included, loaded now. One of them deleted since is billed as far as it still exists
 * (a settlement skips entities that are gone).
 */
async function makerOf(call: Call, owner: ObjectOwner): Promise<Caller> {
  const ids = {
    userId: owner.user_id ?? undefined,
    teamId: owner.team_id ?? undefined,
    orgId: owner.organization_id ?? undefined,
    keyHash: owner.key_hash ?? undefined,
    endUserId: owner.end_user_id ?? undefined,
  };
  const { caller } = call;
  if (
    caller.keyHash === ids.keyHash &&
    caller.userId === ids.userId &&
    caller.teamId === ids.teamId &&
    caller.orgId === ids.orgId &&
    caller.endUserId === ids.endUserId
  )
    return caller;
  const [found, state] = await Promise.all([
    ids.keyHash ? call.deps.reader.key(ids.keyHash) : Promise.resolve(undefined),
    call.deps.reader.state({
      userId: ids.userId,
      teamId: ids.teamId,
      orgId: ids.orgId,
      endUserId: ids.endUserId,
      global: call.deps.settings.maxBudget !== undefined,
    }),
  ]);
  // Made by a copy since regenerated: billed to the newest key, which holds the budget of every copy.
  const key = found?.replaced_by ? await call.deps.reader.newestKey(found) : found;
  return {
    principal: ids.keyHash ? 'virtual_key' : 'jwt',
    role: 'internal_user',
    ...ids,
    ...(key ? { keyHash: key.token } : {}),
    keyName: key?.key_name,
    state: { ...state, key },
  };
}

/**
 * The owner to record what a read or change of an object shows made inside it: a change's (a
 * thread given a vector store), or a pending object's (a background response's output, a batch's
 * files, first seen ended); an object made whole was recorded with its creation.
 */
const recordsInside = (call: Call): ObjectOwner | undefined =>
  call.object?.op === 'change' || call.owner?.billing === 'pending' ? call.owner : undefined;

/** What a stream's events show the upstream made inside the object (a code interpreter's container): its owner's, or the caller's that makes it. */
function madeInsideStream(call: Call, model: ModelRecord): ((payload: unknown) => void) | undefined {
  const { object } = call;
  if (!object) return undefined;
  const at = new Date(call.now);
  const tenant = object.op === 'create' ? ownerOf(call.caller, object.kind, '', at, servedBy(model)) : recordsInside(call);
  if (!tenant) return undefined;
  const seen = new Set<string>();
  // The response the events are of (its first event names it): a container an item shows is its.
  let response: string | undefined;
  return (payload) => {
    if (isObject(payload) && isObject(payload.response) && typeof payload.response.id === 'string') response = payload.response.id;
    const made = madeInsideEvent(object.kind, payload)
      .filter((m) => !seen.has(m.id))
      .map((m) => (m.kind === 'container' && !m.madeIn && response ? { ...m, madeIn: response } : m));
    for (const m of made) seen.add(m.id);
    if (made.length > 0) call.defer(recordMadeInside(call.deps.keptObjects, tenant, made, at));
  };
}

/** What an Anthropic model's answer shows it made (a code execution container): the caller's. */
function providerMade(call: Call, model: ModelRecord): ((payload: unknown) => void) | undefined {
  if (model.provider !== 'anthropic') return undefined;
  const at = new Date(call.now);
  const tenant = ownerOf(call.caller, 'container', '', at, servedBy(model));
  const seen = new Set<string>();
  return (payload) => {
    const made = messageContainer(payload).filter((m) => !seen.has(m.id));
    for (const m of made) seen.add(m.id);
    if (made.length > 0) call.defer(recordMadeInside(call.deps.keptObjects, tenant, made, at));
  };
}

/**
 * A pending object (a background response) read or cancelled as a stream: billed by the first
 * event that shows it ended with its usage, once, as a JSON read would be.
 */
function pendingBill(call: Call, model: ModelRecord): ((payload: unknown) => void) | undefined {
  const { object, owner } = call;
  if (!object || !owner || owner.billing !== 'pending' || object.op === 'create') return undefined;
  return once((payload: unknown) => {
    const bill = isObject(payload) && isObject(payload.response) ? finishedUsage(object.kind, payload.response, owner.estimate) : undefined;
    if (bill) call.defer(billOnce(call, model, owner, bill));
    return bill !== undefined;
  });
}

const servedBy = (model: ModelRecord) => ({ priced: model.model_name, served: model.model_name });

const once = <A>(fn: (a: A) => boolean) => {
  let done = false;
  return (a: A) => {
    if (!done) done = fn(a);
  };
};

/** A whole answer read, checked and settled. Upstream errors pass through when OpenAI-shaped. */
async function complete(
  model: ModelRecord,
  upstream: UpstreamCall,
  finish: (usage: Usage | undefined, answered: boolean, received?: ReceivedText) => Promise<unknown>,
  meter: (json: unknown) => [Usage | undefined, boolean] = (json) => [usageOf(json), true],
): Promise<Answer> {
  const res = upstream.response as Response;
  const bytes = await upstream.readAll();
  const headers = upstream.returnedHeaders();
  // Read whatever the content type says (found by review: a JSON answer sent as text/plain, or
  // server-sent events without their type, went unmetered: its usage unread, its text uncounted).
  const json = (headers['content-type'] ?? '').includes('json') || opensAsObject(bytes) ? parseJson(bytes) : undefined;
  if (!res.ok) {
    await finish(undefined, false);
    // readAll has taken Tollgate's upstream key out of the body already.
    if (isObject(json) && isObject(json.error)) return { status: res.status, headers, bytes };
    throw unshapedUpstreamError(model.model_name, res, 'an OpenAI');
  }
  const received = new ReceivedText();
  if (json === undefined && opensAsEvents(bytes)) {
    // Only a call that is metered is charged for them: an object's read, list or deletion is not
    // (found by review: a file's content that read as events was charged as an answer).
    const [, metered] = meter(undefined);
    await finish(metered ? eventsUsage(bytes, model.model_name, received) : undefined, metered, received);
    return { status: res.status, headers, bytes };
  }
  received.add(json);
  const [usage, answered] = meter(json);
  await finish(usage, answered, received);
  return { status: res.status, headers, bytes };
}

/** The usage of server-sent events read whole (an upstream that streamed without saying so), their text noted to count. */
function eventsUsage(bytes: Buffer, model: string, received: ReceivedText): Usage | undefined {
  const framer = new SseFramer(model);
  let usage: TokenUsage | undefined;
  for (const ev of [...framer.push(bytes), ...framer.end()]) {
    const payload = ev.data === undefined || ev.data === '[DONE]' ? undefined : parseJson(ev.data);
    usage = mergeUsage(usage, usageOfPayload(payload));
    received.addEvent(payload);
  }
  return fromTokenUsage(usage);
}

/**
 * A comma list in `model` (LiteLLM's batch completion): every model is called at once and the
 * answers come back as a JSON array, in the order named. Each call settles on its own; the first
 * failure is the answer, but calls that succeeded are still counted.
 */
async function fanOut(call: Call, models: ModelRecord[]): Promise<LlmResponse> {
  const { req } = call;
  if (req.stream) throw new InvalidRequestError('`stream` cannot be used with several models in `model`', 'invalid_body', 'stream');
  if (req.body.kind !== 'json') throw new InvalidRequestError('several models in `model` need a JSON body', 'invalid_body', 'model');
  // A stored object (a response, a batch) is one upstream's, made once: it is never fanned out,
  // which would bypass its tenancy (the objects its body names, its owner record, its deferred bill).
  if (call.object)
    throw new InvalidRequestError(
      `several models in \`model\` cannot be used on ${req.route.path}: it makes or names a stored object`,
      'unsupported_parameter',
      'model',
    );
  const provided = models.find((m) => (m.provider ?? 'openai') !== 'openai');
  if (provided)
    throw new InvalidRequestError(
      `several models in \`model\` are for OpenAI-compatible models only; \`${provided.model_name}\` is a ${provided.provider} model`,
      'unsupported_parameter',
      'model',
    );
  // Every model is admitted by its rate limits before any is called: a refusal calls (and bills) none.
  for (const model of models) requirePricedTier(req, model);
  const admissions = await Promise.allSettled(models.map((model, i) => admitCall(call, model, `${req.requestId}#${i}`)));
  const refusals = admissions.flatMap((a) => (a.status === 'rejected' ? [a.reason as unknown] : []));
  if (refusals.length > 0) {
    for (const a of admissions) if (a.status === 'fulfilled' && a.value.ticket) call.defer(call.deps.rateLimiter.cancel(a.value.ticket));
    throw refusalOf(refusals);
  }
  const admitted = admissions.map((a) => (a as PromiseFulfilledResult<Admitted>).value);
  const results = await Promise.allSettled(
    models.map((model, i) =>
      withSpend(
        call,
        model,
        `${req.requestId}#${i}`,
        async (finish) => complete(model, await startCall(call, model, upstreamBody(req, model, call.outputLimit).body), finish),
        admitted[i],
      ),
    ),
  );
  const failed = results.find((r) => r.status === 'rejected');
  if (failed) throw failed.reason;
  const answers = results.map((r) => (r as PromiseFulfilledResult<Answer>).value);
  const refused = answers.find((a) => a.status >= 300);
  if (refused) return { statusCode: refused.status, headers: refused.headers, body: refused.bytes.toString('utf8') };
  // The tightest limit among every model's admission, as one call's answer reports it.
  const headers = rateHeaders(
    admitted.flatMap((a) => a.counts),
    call.now,
  );
  return jsonResponse(
    200,
    answers.map((a, i) => {
      const parsed = parseJson(a.bytes);
      if (parsed === undefined)
        throw new UpstreamFailedError(
          `the upstream for \`${(models[i] as ModelRecord).model_name}\` answered with a body that is not JSON`,
        );
      return parsed;
    }),
    headers,
  );
}

/**
 * The stream relay: each complete server-sent event is passed on as soon as it arrives, its
 * usage noted on the way, by the providers' relay loop (relayStream). A stream that breaks after
 * the status went out ends with an error event (OpenAI clients raise it). The settlement runs
 * when the upstream is done, before the stream ends, so the handler does not finish before the
 * spend is recorded. A client that leaves once the answer has begun is charged what it was sent
 * (found by review: leaving before the usage event got most of an answer for nothing).
 */
async function* relay(
  upstream: UpstreamCall,
  stripUsage: boolean,
  onDone: (usage: Usage | undefined, answered: boolean, received: ReceivedText, partial: boolean) => void,
  /** Sees every event's payload (a created object's id is in the first). */
  onPayload?: (payload: unknown) => void,
): AsyncGenerator<Buffer> {
  const received = new ReceivedText();
  const answer = relayStream(
    passthroughEvents(upstream),
    (upstream.response as Response).status,
    (failure) => dataEvent(failure.toBody()),
    {
      skip: (payload) => stripUsage && isUsageOnlyChunk(payload),
      onPayload: (payload) => {
        onPayload?.(payload);
        received.addEvent(payload);
      },
    },
  );
  // The upstream's stream ended, whole, cut or failed: it was answered (and is charged). Else the client left.
  let ended = false;
  try {
    // An error thrown in at a `yield` is the client's (it went away): not the upstream's failure.
    for await (const event of answer.events) yield Buffer.from(withoutSecret(event, upstream.req.apiKey));
    ended = true;
  } finally {
    upstream.cancel();
    // Settled after the stream's end (deferred): the client's last byte does not wait for it.
    // Begun (some of the answer arrived), it is answered even if the client left; refused (the
    // upstream's error before any answer, found by review), it is not: charged what it reported, else nothing.
    const refused = answer.refused();
    onDone(fromTokenUsage(answer.usage()), !refused && (ended || upstream.began), received, !refused && (answer.broken() || !ended));
  }
}

/**
 * A background response's stream ended. Whole, with its usage: that is its bill, claimed once (a
 * read that found it ended first billed it already). Cut (its client left, the upstream went on):
 * what the stream delivered is charged now, counted, and kept on its record, so the read that
 * finds it ended bills only what it cost beyond that (found by review: its output was free).
 */
async function settleBackgroundStream(
  call: Call,
  made: { id: string; recorded: Promise<void> },
  finish: Finish,
  end: StreamEnd,
): Promise<number> {
  try {
    await made.recorded;
    if (!end.partial && usableUsage(end.usage)) {
      if (await call.deps.objects.claimBilling(made.id)) return finishStream(finish, end);
      return finish(undefined, false);
    }
  } catch (e) {
    // Its record unwritten or unclaimable: charged as any stream, never lost (a read may bill it again).
    logger().error('background response bill failed', { objectId: made.id, requestId: call.req.requestId, error: (e as Error)?.name });
    return finishStream(finish, end);
  }
  return prepaid(call, made.id, finish, end);
}

/**
 * A cut stream of a deferred object (a background response, a run): what it delivered is
 * charged now, and kept on the object's record first, so the answer that later finds it ended
 * bills only what it cost beyond that (and counts only the tokens beyond those in its rate
 * windows). A bill claimed in full before the record was written (a read in the meantime) leaves
 * the stream nothing to charge. A record the store failed to write: the stream is charged all the
 * same (never lost), and a later bill may charge its share again (logged). A charge kept on the
 * record but not recorded (its settlement and journal both failed) is taken back from the record,
 * so the later bill charges it. Left: an instance stopped between the two writes, or a read that
 * claims the bill before the take-back, leaves that share uncharged (logged). An attempt the SDK
 * sends again after the first committed adds nothing twice (lib/store/objects prepay).
 */
function prepaid(call: Call, objectId: string, finish: Finish, end: StreamEnd): Promise<number> {
  const { objects } = call.deps;
  const facts = { objectId, requestId: call.req.requestId };
  /** What the record kept for this stream. */
  let kept: Prepayment | undefined;
  return finishStream(finish, end, {
    allow: async (nanos, usage) => {
      const prepayment = { nanos, tokens: tokensOf(usage), inputTokens: allInputTokens(usage), outputTokens: usage.outputTokens };
      if (nanos <= 0 && prepayment.tokens <= 0) return true;
      try {
        if (await objects.prepay(objectId, prepayment)) {
          kept = prepayment;
          return true;
        }
        logger().info('deferred object billed in full before its cut stream settled: the stream charges nothing', { ...facts, nanos });
        return false;
      } catch (e) {
        logger().warn('deferred object prepayment not recorded: its stream is charged, a later bill may charge it again', {
          ...facts,
          nanos,
          error: (e as Error)?.name,
        });
        return true;
      }
    },
    // Its charge lost: the bill that finds the object ended charges its share again, and its log
    // shows its tokens (this stream's log was lost with it). Not its rate tokens: the windows
    // counted them all the same. Only what the record kept: a prepayment the store failed to
    // write has nothing to take back (a negative credit would overcharge).
    lost: async () => {
      if (!kept) return;
      const back = { nanos: -kept.nanos, tokens: 0, inputTokens: -kept.inputTokens, outputTokens: -kept.outputTokens };
      const taken = await objects.prepay(objectId, back).then(
        (done) => (done ? 'taken' : 'billed since'),
        () => 'store failed',
      );
      if (taken !== 'taken')
        logger().error('deferred object prepaid a charge that was lost: its share is not charged', {
          ...facts,
          nanos: kept.nanos,
          why: taken,
        });
    },
  });
}

/** The passthrough's upstream as the relay loop reads it: its body framed as events (lib/llm/sse). */
const passthroughEvents = (upstream: UpstreamCall): EventSource => ({
  model: upstream.req.model.model_name,
  events: () => framedEvents(upstream.chunks(), upstream.req.model.model_name),
  failure: (e) => upstream.failure(e),
  cancel: () => upstream.cancel(),
  returnedHeaders: () => upstream.returnedHeaders(),
});

/** What a call is charged with nothing measured: its estimate; only its input when only its prompt is known to have been taken. */
function estimatedCharge(call: Call, promptOnly: boolean): Usage {
  const estimate = estimateUsage(call.req, call.deps.strictDefaultMaxTokens);
  return promptOnly ? { inputTokens: estimate.inputTokens, outputTokens: 0 } : estimate;
}

/**
 * A call's settlement: its usage priced and written once along the caller's chain. It begins on
 * a later turn of the event loop than the one that finished the answer: what runs before its
 * first wait (pricing, the settlement's items, the SDK's serializing and signing: most of a
 * millisecond) would otherwise run ahead of the writes that carry the answer's last bytes out.
 */
async function settle(
  call: Call,
  model: ModelRecord,
  given: Usage | undefined,
  answered: boolean,
  requestId: string,
  hold: Hold | undefined,
  rate: Admitted,
  received?: ReceivedText,
  partial = false,
  gate?: ChargeGate,
  promptOnly = false,
): Promise<number> {
  await new Promise((r) => setImmediate(r));
  // Answered without usable usage (none, negative, fractional, "NaN", a stream cut before it):
  // the text sent and received is counted; with no text to count, the estimate is charged.
  // Broken off, what was reported so far and what was counted: the larger of each.
  // A tokenizer that fails to load must not hold the call's rate-limit slot: fall back to the estimate.
  // Usage that counts nothing is none.
  const reported = usableUsage(given);
  const counted = answered && (!reported || partial) ? await countUsage(call.req, received).catch(() => undefined) : undefined;
  // An answer that is not text (speech, images) is counted for its input only: its output is the
  // estimate's (found by review: speech and images were charged their prompt, their output free).
  const uncounted = counted && !promptOnly && call.req.route.outputNotText !== undefined;
  const countedAll = uncounted
    ? { ...counted, outputTokens: Math.max(counted.outputTokens, estimateUsage(call.req, call.deps.strictDefaultMaxTokens).outputTokens) }
    : counted;
  const measured = partial ? brokenUsage(reported, countedAll) : (reported ?? countedAll);
  // A chat call with `web_search_options` is billed its search call, which its answer does not count.
  // Speech and images: output tokens the usage does not say the kind of are audio or images.
  const measuredOrEstimated = withOutputKind(
    withSearches(
      measured ?? (answered ? estimatedCharge(call, promptOnly) : undefined),
      askedSearches(call.req.body.kind === 'json' ? call.req.body.value : undefined),
    ),
    call.req.route.outputNotText,
  );
  // The code interpreter's containers made for the call, each a session billed.
  const found = await withSessions(call, measuredOrEstimated, received);
  // Refused by its gate: charged nothing (its hold and rate slot are released all the same).
  const usage = found && gate && !(await gate.allow(costOfUsage(found, model, call.toolPrices), found)) ? undefined : found;
  const asReported = measured !== undefined && reported !== undefined && sameUsage(measured, reported);
  const usageSource = !usage ? 'none' : asReported ? 'reported' : !measured || uncounted ? 'estimated' : 'counted';
  // The call's tokens join its rate-limit windows, and its parallel slot is freed, beside the settlement.
  const rateCounted = rate.ticket ? call.deps.rateLimiter.finish(rate.ticket, tokensOf(usage)) : undefined;
  const costNanos = await recordSpend(call.deps.settler, call.deps.journal, call.deps.settings, {
    caller: call.caller,
    model,
    toolPrices: call.toolPrices,
    usage,
    usageSource,
    requestId,
    at: call.now,
    keepBy: call.keepBy,
    hold,
    log: spendLogOf(call, model, requestId, usage, usageSource, answered),
  });
  // Allowed by its gate but not recorded (lost: its journal failed too): what the gate kept is taken back.
  if (gate && usage && costNanos === 0 && costOfUsage(usage, model, call.toolPrices) > 0) await gate.lost();
  logger().info('llm call', {
    requestId,
    route: call.req.route.path,
    model: model.model_name,
    mode: call.mode,
    inputTokens: usage?.inputTokens ?? 0,
    outputTokens: usage?.outputTokens ?? 0,
    usageSource,
    costNanos,
  });
  await Promise.all([
    rateCounted,
    callMetrics({
      model: model.model_name,
      spendUsd: costNanos / NANOS_PER_DOLLAR,
      inputTokens: usage?.inputTokens ?? 0,
      outputTokens: usage?.outputTokens ?? 0,
      addedMs: call.upstreamAtMs === undefined ? undefined : call.upstreamAtMs - call.startedMs,
      cache: call.deps.reader.loader.stats,
    }),
  ]);
  return costNanos;
}

/**
 * Usage with the code interpreter sessions the answer shows were started for the call (its
 * containers made for it: lib/llm/containers), at least; the estimate's bound when nothing
 * better is known.
 */
async function withSessions(call: Call, usage: Usage | undefined, received: ReceivedText | undefined): Promise<Usage | undefined> {
  if (!usage || !received || received.containers.size === 0 || call.req.route.runsHostedTools !== true) return usage;
  const json = call.req.body.kind === 'json' ? call.req.body.value : undefined;
  const sessions = await newSessions(call.deps.objects, received.containers, json, received.responseId, containerSizes(json));
  return sessions > (usage.codeInterpreterSessions ?? 0) ? { ...usage, codeInterpreterSessions: sessions } : usage;
}

/** Usage with at least `searches` web searches. */
const withSearches = (usage: Usage | undefined, searches: number): Usage | undefined =>
  usage && searches > (usage.webSearches ?? 0) ? { ...usage, webSearches: searches } : usage;

const sameUsage = (a: Usage, b: Usage): boolean =>
  a.inputTokens === b.inputTokens &&
  a.outputTokens === b.outputTokens &&
  (a.cacheReadTokens ?? 0) === (b.cacheReadTokens ?? 0) &&
  (a.cacheWriteTokens ?? 0) === (b.cacheWriteTokens ?? 0) &&
  (a.cacheWrite1hTokens ?? 0) === (b.cacheWrite1hTokens ?? 0) &&
  (a.webSearches ?? 0) === (b.webSearches ?? 0) &&
  (a.fileSearches ?? 0) === (b.fileSearches ?? 0) &&
  imageGenTokens(a) === imageGenTokens(b);

/** The request's spend log (lib/domain/spend-log): who, what, how many tokens; never the text. */
function spendLogOf(
  call: Call,
  model: ModelRecord,
  requestId: string,
  usage: Usage | undefined,
  usageSource: string,
  answered: boolean,
): Omit<SpendLog, 'spend'> {
  const { caller, req } = call;
  return logOf({
    requestId,
    callType: req.route.path,
    model,
    modelGroup: req.pathModel ?? (req.model && !req.model.includes(',') ? req.model : model.model_name),
    caller,
    endUser: caller.endUserId ?? null,
    usage,
    usageSource,
    startTime: new Date(call.now).toISOString(),
    endTime: new Date(call.deps.clock()).toISOString(),
    status: answered ? 'success' : 'failure',
    body: req.body.kind === 'json' ? req.body.value : undefined,
  });
}

/** A spend log: who (the caller's key, user, team, organization), what, how many tokens; the tags of the body, key and team. */
function logOf(o: {
  requestId: string;
  callType: string;
  model: ModelRecord;
  modelGroup: string;
  caller: Caller;
  endUser: string | null;
  usage: Usage | undefined;
  /** Of `usage`, the input and output tokens other logs showed already (a deferred bill's cut streams'). */
  loggedBefore?: { input: number; output: number };
  usageSource: string;
  startTime: string;
  endTime: string;
  status: 'success' | 'failure';
  body?: unknown;
}): Omit<SpendLog, 'spend'> {
  const { caller } = o;
  // LiteLLM's prompt_tokens, whatever the provider: every input token, cache reads and writes
  // included (Usage keeps them apart to price them), as the tpm limit counts them.
  const input = Math.max(0, (o.usage ? allInputTokens(o.usage) : 0) - (o.loggedBefore?.input ?? 0));
  const output = Math.max(0, (o.usage?.outputTokens ?? 0) - (o.loggedBefore?.output ?? 0));
  return {
    request_id: o.requestId,
    call_type: o.callType,
    model: o.model.model_name,
    model_group: o.modelGroup,
    api_key: caller.keyHash ?? null,
    key_alias: loggedAlias(caller.state.key?.key_alias),
    user: caller.userId ?? null,
    team_id: caller.teamId ?? null,
    organization_id: caller.orgId ?? null,
    end_user: o.endUser,
    prompt_tokens: input,
    completion_tokens: output,
    total_tokens: input + output,
    usage_source: o.usageSource,
    ...billedExtras(o.usage, o.model),
    startTime: o.startTime,
    endTime: o.endTime,
    status: o.status,
    request_tags: requestTags(o.body, caller.state.key?.metadata, caller.state.team?.metadata),
  };
}

/**
 * What a spend log shows beside tokens: the web and file searches billed, the image generation
 * tool's tokens, the tier reported and the tier charged.
 */
function billedExtras(
  usage: Usage | undefined,
  model: ModelRecord,
): Pick<
  SpendLog,
  | 'web_search_requests'
  | 'file_search_calls'
  | 'code_interpreter_sessions'
  | 'image_generation_input_tokens'
  | 'image_generation_output_tokens'
  | 'service_tier'
  | 'service_tier_charged'
> {
  const image = usage?.imageGen;
  return {
    ...(usage?.webSearches ? { web_search_requests: usage.webSearches } : {}),
    ...(usage?.fileSearches ? { file_search_calls: usage.fileSearches } : {}),
    ...(usage?.codeInterpreterSessions ? { code_interpreter_sessions: usage.codeInterpreterSessions } : {}),
    ...(image
      ? {
          image_generation_input_tokens: image.inputTokens + (image.cacheReadTokens ?? 0),
          image_generation_output_tokens: image.outputTokens,
        }
      : {}),
    ...(usage?.serviceTier ? { service_tier: usage.serviceTier, service_tier_charged: chargedServiceTier(usage, model) } : {}),
  };
}
