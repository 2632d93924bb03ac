/**
 * A minimal gateway over the provider layer, as the llm function will use it: a route's
 * operation, the model's provider, one `call`, the answer written as JSON or as events, the
 * usage recorded when the answer is complete. No checks and no store: these tests are about the
 * providers and their upstreams. Official clients (openai, @anthropic-ai/sdk) talk to it.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { InvalidRequestError, NotFoundError, type TollgateError, toTollgateError } from '../../../lib/errors.js';
import { bedrockRuntime } from '../../../lib/providers/bedrock/client.js';
import { anthropicErrorBody } from '../../../lib/providers/errors.js';
import {
  type Operation,
  operationOf,
  type ProviderClients,
  type ProviderModel,
  providerFor,
  type TokenUsage,
} from '../../../lib/providers/index.js';

export interface Metered {
  requestId: string;
  model: string;
  operation: Operation;
  status: number;
  usage: TokenUsage | undefined;
}

export interface ProviderGateway {
  url: string;
  metered: Metered[];
  close(): Promise<void>;
}

export interface GatewayOptions {
  models: ProviderModel[];
  /** Upstream keys by public model name. */
  keys?: Record<string, string>;
  /** The mock Bedrock runtime's endpoint. */
  bedrockEndpoint?: string;
  timeoutMs?: number;
}

export async function startProviderGateway(opts: GatewayOptions): Promise<ProviderGateway> {
  const models = new Map(opts.models.map((m) => [m.model_name, m]));
  const metered: Metered[] = [];
  const clients: ProviderClients = {
    fetch: (input, init) => fetch(input, init),
    timeoutMs: opts.timeoutMs ?? 10_000,
    bedrock: (region) =>
      bedrockRuntime({
        region: region ?? 'us-east-1',
        endpoint: opts.bedrockEndpoint,
        credentials: { accessKeyId: 'AKIDLOCAL', secretAccessKey: 'local-secret' },
        maxAttempts: 1,
      }),
  };

  async function serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0]?.replace(/^\/v1(?=\/)/, '') ?? '/';
    const operation = operationOf(path);
    const messagesRoute = operation === 'messages';
    const requestId = randomUUID();
    const fail = (e: TollgateError) => {
      res.writeHead(e.status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(messagesRoute ? anthropicErrorBody(e) : e.toBody()));
    };
    try {
      if (req.method !== 'POST' || !operation) throw new NotFoundError('route', `${req.method} ${path}`);
      const body = JSON.parse((await readBody(req)) || '{}') as Record<string, unknown>;
      const name = typeof body.model === 'string' ? body.model : '';
      const model = models.get(name);
      if (!model) throw new NotFoundError('model', name);
      const provider = await providerFor(model.provider);
      if (!provider.supports(operation, model))
        throw new InvalidRequestError(`model \`${name}\` cannot serve ${path}`, 'unsupported_parameter', 'model');
      const controller = new AbortController();
      res.once('close', () => controller.abort());
      const headers = new Map(Object.entries(req.headers).map(([k, v]) => [k, Array.isArray(v) ? v : v === undefined ? [] : [v]]));
      const answer = await provider.call(
        {
          operation,
          body,
          model,
          apiKey: opts.keys?.[name],
          callerHeaders: headers,
          requestId,
          now: Date.now(),
          signal: controller.signal,
        },
        clients,
      );
      res.writeHead(answer.status, answer.headers);
      if (answer.kind === 'json') {
        res.end(JSON.stringify(answer.body));
        metered.push({ requestId, model: name, operation, status: answer.status, usage: answer.usage });
        return;
      }
      for await (const event of answer.events) res.write(event);
      res.end();
      metered.push({ requestId, model: name, operation, status: answer.status, usage: answer.usage() });
    } catch (e) {
      if (!res.headersSent) fail(toTollgateError(e));
      else res.end();
    }
  }

  const server = createServer((req, res) => void serve(req, res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    metered,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => resolve(Buffer.concat(parts).toString('utf8')));
    req.on('error', reject);
  });
}
