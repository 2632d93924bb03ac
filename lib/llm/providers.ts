/**
 * Calls served through the provider layer (lib/providers): a Bedrock, Azure OpenAI or Anthropic
 * model on one of the four operations (chat, embeddings, messages, responses). OpenAI-compatible
 * models keep the passthrough in handle.ts. The provider answers in the route's own shape; this
 * writes it (JSON, or its events as they come), aborts the upstream call when the client goes
 * away, and hands the usage it metered (cache tokens included) to the call's settlement, which is
 * deferred: the answer goes out first (handle.ts's withSpend/finish).
 *
 * The price library is never imported here: the record carries its prices (resolved when the
 * model was written).
 */
import { Readable } from 'node:stream';
import type { Usage } from '../domain/cost.js';
import type { ModelRecord } from '../domain/records.js';
import { InvalidRequestError, type TollgateError } from '../errors.js';
import { azureResponsesUrl } from '../providers/azure.js';
import { anthropicErrorBody } from '../providers/errors.js';
import { type Operation, operationOf, type ProviderModel, providerFor } from '../providers/index.js';
import { upstreamKey } from '../registry/index.js';
import { ReceivedText } from './count.js';
import type { LlmDeps } from './deps.js';
import { withOutputLimit } from './estimate.js';
import { objectCallOf } from './objects.js';
import type { LlmRequest } from './request.js';
import { errorHeaders, errorResponse, jsonResponse, type LlmResponse } from './response.js';
import { type UpstreamRequest, withoutSecret } from './upstream.js';
import { usableUsage } from './usage.js';

export interface ProviderCall {
  req: LlmRequest;
  deps: LlmDeps;
  now: number;
  /** Lets a settlement complete after the answer: the invocation awaits it. */
  defer(settlement: Promise<unknown>): void;
  /** Strict calls: the output limit a body naming none is sent with (withOutputLimit). */
  outputLimit?: number | undefined;
  /** Aborted when the invocation must end: an upstream call under way ends as timed out (lib/llm/deadline). */
  endSignal?: AbortSignal | undefined;
}

/**
 * Settles a call's spend once, whichever way it ends. `answered`: the upstream's answer ran to its
 * end, or broke off, or began before the client left, so the call is charged: its reported usage,
 * else the text counted, else the estimate, never $0. Not answered (failed, refused, or the client
 * left before the answer began): its reported usage, else released. `partial`: the answer broke
 * off (the upstream cut it, or the client left): what was reported so far (an input count in a
 * first event) may be short of what was received, so the larger of each is charged.
 * Settles once (later calls return the first's promise); resolves with the nano-dollars it settled.
 * `gate`, when given, is asked before anything is written (a cut stream of a deferred object).
 */
export type Finish = (
  usage: Usage | undefined,
  answered: boolean,
  received?: ReceivedText,
  partial?: boolean,
  gate?: ChargeGate,
  /** Only the prompt is known to have been taken (a call that timed out): its input is charged, no output. */
  promptOnly?: boolean,
) => Promise<number>;

/** What a charge asks first, and tells after, when something else must agree with it. */
export interface ChargeGate {
  /** Asked with the cost and usage about to be charged, before anything is written: false charges nothing. */
  allow(nanos: number, usage: Usage): Promise<boolean>;
  /** The charge it allowed was not recorded (the settlement and its journal both failed): take back what `allow` kept. */
  lost(): Promise<void>;
}

/**
 * The operation a provider serves for this model on this route; undefined for an
 * OpenAI-compatible model (the passthrough serves it), and for an Azure deployment's stored
 * responses (made, read, cancelled, deleted: the passthrough records and bills them as it does an
 * OpenAI-compatible model's, at the resource's URL, `passthroughTarget`). A Bedrock, Azure or
 * Anthropic model on a route its provider does not serve is a 400 naming the model, before any
 * upstream call.
 */
export function providerOperation(req: LlmRequest, model: ModelRecord): Operation | undefined {
  const provider = model.provider ?? 'openai';
  if (provider === 'azure' && objectCallOf(req)?.kind === 'response') return undefined;
  const operation = operationOf(req.upstreamPath);
  if (provider === 'openai') {
    if (operation !== 'messages') return undefined;
    throw new InvalidRequestError(
      `model \`${model.model_name}\` is OpenAI-compatible: ${req.route.path} (Anthropic's Messages API) is served by Anthropic models and Claude models on Bedrock`,
      'unsupported_parameter',
      'model',
    );
  }
  if (!operation) {
    throw new InvalidRequestError(
      `model \`${model.model_name}\` (${provider}) cannot serve ${req.route.path}: only chat completions, embeddings, responses and messages go to ${provider}`,
      'unsupported_parameter',
      'model',
    );
  }
  return operation;
}

/** Where a passthrough call goes when not under the model's base URL with a bearer key: an Azure deployment's stored responses. */
export function passthroughTarget(model: ModelRecord, path: string, query: URLSearchParams): UpstreamRequest['target'] {
  if (model.provider !== 'azure') return undefined;
  return { url: azureResponsesUrl(providerModel(model), path, query), keyHeader: 'api-key' };
}

const providerModel = (m: ModelRecord): ProviderModel => ({
  model_name: m.model_name,
  provider: m.provider ?? 'openai',
  upstream_model: m.upstream_model,
  upstream_base_url: m.upstream_base_url ?? null,
  api_version: m.api_version ?? null,
  aws_region_name: m.aws_region_name ?? null,
});

/**
 * One call through the model's provider; the answer as the route defines it, its settlement
 * deferred. `extraHeaders` go out with the answer (the rate limiter's `x-ratelimit-*`).
 */
export async function callProvider(
  call: ProviderCall,
  model: ModelRecord,
  operation: Operation,
  finish: Finish,
  extraHeaders: Record<string, string> = {},
  /** Sees the answer's payload, or each event's (what the provider made: an Anthropic container). */
  onPayload?: (payload: unknown) => void,
): Promise<LlmResponse> {
  const { req, deps } = call;
  if (req.body.kind !== 'json')
    throw new InvalidRequestError(`${req.route.path} needs a JSON body for model \`${model.model_name}\``, 'invalid_body');
  const target = providerModel(model);
  const provider = await providerFor(target.provider);
  if (!provider.supports(operation, target)) {
    throw new InvalidRequestError(
      `model \`${model.model_name}\` (${target.provider}/${model.upstream_model}) cannot serve ${req.route.path}`,
      'unsupported_parameter',
      'model',
    );
  }
  const controller = new AbortController();
  const apiKey = await upstreamKey(model);
  // A stream's events, each seen once as the provider parsed (or made) it: the watch, and the text
  // to count should the usage be missing or cut short.
  const received = new ReceivedText();
  const answer = await provider.call(
    {
      operation,
      body: withOutputLimit(req.body.value, req.upstreamPath, model, call.outputLimit),
      model: target,
      apiKey,
      callerHeaders: req.headers,
      requestId: req.requestId,
      now: call.now,
      signal: controller.signal,
      endSignal: call.endSignal,
      onPayload: (payload) => {
        received.addEvent(payload);
        onPayload?.(payload);
      },
    },
    deps.providers,
  );
  if (answer.kind === 'json') {
    if (answer.status < 400) onPayload?.(answer.body);
    // An upstream's error answer carries no usage: released. An answer without usage: the estimate.
    call.defer(finish(answer.usage, answer.status < 400, usableUsage(answer.usage) ? undefined : receivedOf(answer.body)));
    return jsonResponse(answer.status, answer.body, { ...answer.headers, ...extraHeaders });
  }
  const out = Readable.from(
    events(answer.events, controller, apiKey, (ended, sent) => {
      const usage = answer.usage();
      // Refused (the upstream's error before any answer, found by review): what it reported, else nothing, as a refused JSON call.
      if (answer.refused()) return call.defer(finish(usage, false));
      // Begun, it is charged even if the client left: what it was sent is counted (found by review).
      const partial = !ended || answer.broken();
      call.defer(finish(usage, ended || sent > 0, usableUsage(usage) && !partial ? undefined : received, partial));
    }),
    {
      objectMode: false,
    },
  );
  // A client that leaves while the upstream is silent: the generator's `finally` (the settlement)
  // would wait for the upstream's next event (found by review). Aborting the upstream ends the wait.
  onDestroy(out, () => controller.abort());
  // A body abandoned before its first read never runs the generator's `finally`: release here then.
  out.once('close', () => {
    controller.abort();
    call.defer(finish(undefined, false));
  });
  return {
    statusCode: answer.status,
    headers: { ...answer.headers, ...extraHeaders, 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' },
    body: out,
  };
}

/**
 * The provider's events as they come. `ended`: the provider's stream ran to its end (whole, or
 * ended by its error event), so the call is charged; otherwise the client left, the upstream call
 * is aborted, and what was sent before is charged.
 */
async function* events(
  source: AsyncIterable<string>,
  controller: AbortController,
  /** The key Tollgate sent the upstream: an event that repeats it (an error's message) does not hand it on. */
  secret: string | undefined,
  /** `sent`: how many events went out. */
  onDone: (ended: boolean, sent: number) => void,
): AsyncGenerator<Buffer> {
  let ended = false;
  let sent = 0;
  try {
    for await (const event of source) {
      sent++;
      yield Buffer.from(withoutSecret(event, secret));
    }
    ended = true;
  } finally {
    if (!ended) controller.abort();
    onDone(ended, sent);
  }
}

/**
 * Runs `fn` as `stream` is destroyed, before it waits for its source to stop (Readable.from's
 * destroy waits for the source's pending read: a silent upstream's next event).
 */
export function onDestroy(stream: Readable, fn: () => void): void {
  const destroy = stream._destroy.bind(stream);
  stream._destroy = (error, callback) => {
    fn();
    destroy(error, callback);
  };
}

/** The text of a whole (JSON) answer, to count. */
function receivedOf(body: unknown): ReceivedText {
  const received = new ReceivedText();
  received.add(body);
  return received;
}

/** An error as the route's clients expect it: Anthropic's shape on `/messages`, OpenAI's elsewhere. */
export function routeErrorResponse(routePath: string | undefined, error: TollgateError): LlmResponse {
  return routePath !== undefined && /(^|\/)messages$/.test(routePath)
    ? jsonResponse(error.status, anthropicErrorBody(error), errorHeaders(error))
    : errorResponse(error);
}
