/**
 * Amazon Bedrock as a provider: OpenAI chat and the Responses API through Converse and
 * ConverseStream, OpenAI embeddings through InvokeModel, Anthropic messages (Claude models)
 * through Converse and ConverseStream. The translation is pure (translate, stream, responses,
 * messages, embeddings); this module runs the calls
 * under the upstream deadline and maps Bedrock's errors (errors.ts).
 */
import type { ConverseCommandInput, ConverseCommandOutput, ConverseStreamOutput } from '@aws-sdk/client-bedrock-runtime';
import { isObject } from '../../domain/json.js';
import { type TollgateError, UpstreamFailedError } from '../../errors.js';
import { Deadline } from '../../llm/deadline.js';
import { streamRequested } from '../../llm/request.js';
import { anthropicErrorBody, UnsupportedParameterError } from '../errors.js';
import { SSE_HEADERS, sseData, sseNamed, WIRE_DONE, type WireEvent, wireData, wireNamed } from '../http.js';
import type {
  JsonAnswer,
  Operation,
  Provider,
  ProviderClients,
  ProviderModel,
  ProviderRequest,
  StreamAnswer,
  TokenUsage,
} from '../types.js';
import { withSpentUsage, ZERO_USAGE } from '../usage.js';
import type { BedrockRuntime } from './client.js';
import { embeddingFamily, embeddingTokensOf, fromEmbeddingResults, type InvokeResult, toEmbeddingCalls } from './embeddings.js';
import { bedrockError } from './errors.js';
import { converseToMessage, isClaudeOnBedrock, MessagesStreamer, messagesToConverse } from './messages.js';
import { converseToResponse, ResponsesStreamer, responsesToConverse } from './responses.js';
import { ConverseChunker, streamFailureOf } from './stream.js';
import { fromConverseResponse, toConverseRequest } from './translate.js';

/** InvokeModel calls of one embeddings request in flight at once. */
const EMBEDDING_CONCURRENCY = 4;
const JSON_HEADERS = { 'content-type': 'application/json' };

export const bedrockProvider: Provider = {
  name: 'bedrock',
  supports(operation: Operation, model: ProviderModel): boolean {
    if (operation === 'chat') return true;
    if (operation === 'embeddings') return embeddingFamily(model.upstream_model) !== undefined;
    if (operation === 'messages') return isClaudeOnBedrock(model.upstream_model);
    return operation === 'responses';
  },
  async call(req: ProviderRequest, clients: ProviderClients) {
    const region = req.model.aws_region_name || undefined;
    const call = new BedrockCall(req, clients.timeoutMs, region ?? "the function's region");
    const runtime = await clients.bedrock(region);
    switch (req.operation) {
      case 'chat':
        return call.chat(runtime);
      case 'embeddings':
        return call.embeddings(runtime);
      case 'messages':
        if (!isClaudeOnBedrock(req.model.upstream_model))
          throw new UnsupportedParameterError('model', 'is not a Claude model: only Claude models on Bedrock serve /v1/messages');
        return call.messages(runtime);
      case 'responses':
        return call.responses(runtime);
    }
  },
};

class BedrockCall {
  constructor(
    private readonly req: ProviderRequest,
    private readonly timeoutMs: number,
    private readonly region: string,
  ) {}

  private get model(): string {
    return this.req.model.model_name;
  }

  private get modelId(): string {
    return this.req.model.upstream_model;
  }

  private failure(e: unknown, deadline: Deadline): TollgateError {
    return bedrockError(e, {
      model: this.model,
      region: this.region,
      timedOut: deadline.expired ? { ms: this.timeoutMs, atTimeLimit: deadline.atTimeLimit } : undefined,
    });
  }

  /** One call under a fresh deadline, its errors mapped. */
  private async once<T>(run: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const deadline = new Deadline(this.timeoutMs, this.req.signal, this.req.endSignal);
    deadline.touch();
    try {
      return await run(deadline.signal);
    } catch (e) {
      throw this.failure(e, deadline);
    } finally {
      deadline.abort();
    }
  }

  async chat(runtime: BedrockRuntime): Promise<JsonAnswer | StreamAnswer> {
    const input = toConverseRequest(this.req.body, this.modelId);
    const ctx = { id: `chatcmpl-${this.req.requestId}`, created: Math.floor(this.req.now / 1000), model: this.model };
    if (!streamRequested(this.req.body.stream)) {
      const out = await this.once((signal) => runtime.converse(input, signal));
      const { body, usage } = fromConverseResponse(out, ctx);
      return { kind: 'json', status: 200, body, usage, headers: JSON_HEADERS };
    }
    const options = this.req.body.stream_options;
    const chunker = new ConverseChunker(ctx, isObject(options) && options.include_usage === true);
    return this.stream(runtime, input, {
      events: (event) => chunker.push(event).map(wireData),
      end: () => [WIRE_DONE],
      error: (e) => sseData(e.toBody()),
      usage: () => chunker.usage,
    });
  }

  async messages(runtime: BedrockRuntime): Promise<JsonAnswer | StreamAnswer> {
    const input = messagesToConverse(this.req.body, this.modelId);
    const ctx = { id: `msg_${this.req.requestId.replace(/[^A-Za-z0-9]/g, '')}`, model: this.model };
    if (!streamRequested(this.req.body.stream)) {
      const out: ConverseCommandOutput = await this.once((signal) => runtime.converse(input, signal));
      const { body, usage } = converseToMessage(out, ctx);
      return { kind: 'json', status: 200, body, usage, headers: JSON_HEADERS };
    }
    const streamer = new MessagesStreamer(ctx);
    return this.stream(runtime, input, {
      events: (event) => streamer.push(event).map((e) => wireNamed(e.event, e.data)),
      end: () => streamer.end().map((e) => wireNamed(e.event, e.data)),
      error: (e) => sseNamed('error', anthropicErrorBody(e)),
      usage: () => streamer.usage,
    });
  }

  async responses(runtime: BedrockRuntime): Promise<JsonAnswer | StreamAnswer> {
    const input = responsesToConverse(this.req.body, this.modelId);
    const ctx = {
      id: `resp_${this.req.requestId.replace(/[^A-Za-z0-9]/g, '')}`,
      created: Math.floor(this.req.now / 1000),
      model: this.model,
      request: this.req.body,
    };
    if (!streamRequested(this.req.body.stream)) {
      const out = await this.once((signal) => runtime.converse(input, signal));
      const { body, usage } = converseToResponse(out, ctx);
      return { kind: 'json', status: 200, body, usage, headers: JSON_HEADERS };
    }
    const streamer = new ResponsesStreamer(ctx);
    return this.stream(runtime, input, {
      events: (event) => streamer.push(event).map((e) => wireNamed(e.event, e.data)),
      end: () => streamer.end().map((e) => wireNamed(e.event, e.data)),
      error: (e) => sseNamed('error', { type: 'error', code: e.code, message: e.message, param: e.param }),
      usage: () => streamer.usage,
    });
  }

  /**
   * A ConverseStream relayed as server-sent events. Errors before the first event are thrown
   * (the caller answers with an error status); after it, they end the stream with an error event.
   */
  private async stream(
    runtime: BedrockRuntime,
    input: ConverseCommandInput,
    shape: {
      events(e: ConverseStreamOutput): WireEvent[];
      end(): WireEvent[];
      error(e: TollgateError): string;
      usage(): TokenUsage | undefined;
    },
  ): Promise<StreamAnswer> {
    const deadline = new Deadline(this.timeoutMs, this.req.signal, this.req.endSignal);
    deadline.touch();
    let source: AsyncIterable<ConverseStreamOutput>;
    try {
      source = await runtime.converseStream(input, deadline.signal);
    } catch (e) {
      deadline.abort();
      throw this.failure(e, deadline);
    }
    const self = this;
    let broken = false;
    // Some of the answer was made, or Bedrock's exception event came first (a refusal: StreamAnswer.refused).
    let began = false;
    let refused = false;
    // Each event made here is shown to the watch as made: nothing parses it again.
    const onPayload = this.req.onPayload;
    function* out(made: WireEvent[]): Generator<string> {
      for (const e of made) {
        began = true;
        onPayload?.(e.payload);
        yield e.wire;
      }
    }
    async function* events(): AsyncGenerator<string> {
      try {
        let stopped = false;
        for await (const event of source) {
          deadline.touch();
          const failed = streamFailureOf(event);
          if (failed) {
            broken = true;
            refused = !began;
            yield shape.error(bedrockError(failed, { model: self.model, region: self.region }));
            return;
          }
          if (event.messageStop) stopped = true;
          yield* out(shape.events(event));
        }
        if (!stopped) {
          // Ended short of messageStop (found by review): cut, never shown as a complete answer.
          broken = true;
          yield shape.error(new UpstreamFailedError(`the upstream for \`${self.model}\` ended its stream before the answer ended`, true));
          return;
        }
        yield* out(shape.end());
      } catch (e) {
        broken = true;
        yield shape.error(self.failure(e, deadline));
      } finally {
        deadline.abort();
      }
    }
    return {
      kind: 'stream',
      status: 200,
      headers: { ...SSE_HEADERS },
      events: events(),
      usage: shape.usage,
      broken: () => broken,
      refused: () => refused,
    };
  }

  async embeddings(runtime: BedrockRuntime): Promise<JsonAnswer> {
    const plan = toEmbeddingCalls(this.req.body, this.modelId);
    const results: InvokeResult[] = new Array(plan.calls.length);
    let next = 0;
    let failed = false;
    const worker = async () => {
      while (next < plan.calls.length && !failed) {
        const i = next++;
        try {
          results[i] = await this.once((signal) => runtime.invokeModel(this.modelId, plan.calls[i], signal));
        } catch (e) {
          failed = true;
          throw e;
        }
      }
    };
    // Every call under way ends first: AWS bills each one that succeeded, so the failure carries their usage.
    const ended = await Promise.allSettled(Array.from({ length: Math.min(EMBEDDING_CONCURRENCY, plan.calls.length) }, worker));
    const failure = ended.find((w): w is PromiseRejectedResult => w.status === 'rejected');
    if (failure) {
      const spent = embeddingTokensOf(plan, results);
      throw spent > 0 ? withSpentUsage(failure.reason, { ...ZERO_USAGE, inputTokens: spent }) : failure.reason;
    }
    const { body, usage } = fromEmbeddingResults(plan, results, this.model);
    return { kind: 'json', status: 200, body, usage, headers: JSON_HEADERS };
  }
}
