/**
 * The Bedrock runtime, as the provider uses it: Converse, ConverseStream and InvokeModel through
 * the AWS SDK's own client, authenticated by the function's role (or, in local mode, pointed at
 * the mock with dummy credentials). The SDK is imported on first use, so a deployment whose models
 * are all elsewhere never loads it; one client per region and endpoint is kept for the process.
 */
import type {
  BedrockRuntimeClient,
  BedrockRuntimeClientConfig,
  ConverseCommandInput,
  ConverseCommandOutput,
  ConverseStreamCommandInput,
  ConverseStreamOutput,
} from '@aws-sdk/client-bedrock-runtime';
import type { InvokeResult } from './embeddings.js';

export interface BedrockRuntime {
  converse(input: ConverseCommandInput, signal: AbortSignal): Promise<ConverseCommandOutput>;
  /** Resolves once the stream's headers arrived; the events follow. */
  converseStream(input: ConverseStreamCommandInput, signal: AbortSignal): Promise<AsyncIterable<ConverseStreamOutput>>;
  /** One InvokeModel call with a JSON body; its JSON answer and Bedrock's input token count. */
  invokeModel(modelId: string, body: unknown, signal: AbortSignal): Promise<InvokeResult>;
}

export interface BedrockClientOptions {
  region: string;
  /** Another endpoint than Bedrock's (local mode's mock). */
  endpoint?: string | undefined;
  /** Static credentials (local mode's dummy ones); otherwise the SDK's chain (in Lambda: the role's). */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string } | undefined;
  /** SDK attempts per call (throttling is retried with backoff); the SDK's default is 3. */
  maxAttempts?: number | undefined;
  /** Wraps the SDK client once (the tracer's captureAWSv3Client). */
  instrument?: (<T>(client: T) => T) | undefined;
}

/** Bedrock's answer header with an InvokeModel call's input tokens (Cohere's body carries none). */
const INPUT_TOKENS_HEADER = 'x-amzn-bedrock-input-token-count';

const runtimes = new Map<string, Promise<BedrockRuntime>>();

/** The process's runtime for these options (one per region and endpoint). */
export function bedrockRuntime(opts: BedrockClientOptions): Promise<BedrockRuntime> {
  const key = `${opts.region}|${opts.endpoint ?? ''}`;
  let runtime = runtimes.get(key);
  if (!runtime) {
    runtime = createBedrockRuntime(opts);
    runtime.catch(() => runtimes.delete(key));
    runtimes.set(key, runtime);
  }
  return runtime;
}

export async function createBedrockRuntime(opts: BedrockClientOptions): Promise<BedrockRuntime> {
  const sdk = await import('@aws-sdk/client-bedrock-runtime');
  const config: BedrockRuntimeClientConfig = {
    region: opts.region,
    ...(opts.endpoint ? { endpoint: opts.endpoint } : {}),
    ...(opts.credentials ? { credentials: opts.credentials } : {}),
    ...(opts.maxAttempts ? { maxAttempts: opts.maxAttempts } : {}),
  };
  const base = new sdk.BedrockRuntimeClient(config);
  const client: BedrockRuntimeClient = opts.instrument ? opts.instrument(base) : base;
  return {
    converse: (input, signal) => client.send(new sdk.ConverseCommand(input), { abortSignal: signal }),
    async converseStream(input, signal) {
      const out = await client.send(new sdk.ConverseStreamCommand(input), { abortSignal: signal });
      return out.stream ?? emptyStream();
    },
    async invokeModel(modelId, body, signal) {
      const command = new sdk.InvokeModelCommand({
        modelId,
        contentType: 'application/json',
        accept: 'application/json',
        body: new TextEncoder().encode(JSON.stringify(body)),
      });
      let inputTokenCount: number | undefined;
      // The token count travels in a response header the command's output does not carry.
      command.middlewareStack.add(
        (next) => async (args) => {
          const result = await next(args);
          const header = (result.response as { headers?: Record<string, string | undefined> } | undefined)?.headers?.[INPUT_TOKENS_HEADER];
          const n = header === undefined ? Number.NaN : Number(header);
          if (Number.isSafeInteger(n) && n >= 0) inputTokenCount = n;
          return result;
        },
        { step: 'deserialize', name: 'tollgateInputTokenCount', priority: 'high' },
      );
      const out = await client.send(command, { abortSignal: signal });
      return { body: parseBody(out.body), inputTokenCount };
    },
  };
}

async function* emptyStream(): AsyncGenerator<ConverseStreamOutput> {}

function parseBody(bytes: Uint8Array | undefined): unknown {
  if (!bytes) return undefined;
  try {
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    return undefined;
  }
}
