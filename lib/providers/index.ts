/**
 * The provider registry: which provider serves a model, which operation a route asks for, and
 * LiteLLM's model strings (`bedrock/<model id>`, `azure/<deployment>`, ...) read into a provider
 * and an upstream id. Each provider module is loaded on first use, so a deployment that only
 * calls OpenAI-compatible upstreams never evaluates the Bedrock code (nor loads its SDK).
 */
import { InvalidRequestError, UpstreamFailedError } from '../errors.js';
import type { Operation, Provider, ProviderName } from './types.js';

export type {
  JsonAnswer,
  Operation,
  Provider,
  ProviderAnswer,
  ProviderClients,
  ProviderModel,
  ProviderName,
  ProviderRequest,
  StreamAnswer,
  TokenUsage,
} from './types.js';

export const PROVIDERS: readonly ProviderName[] = ['openai', 'azure', 'bedrock', 'anthropic'];

const loaded = new Map<ProviderName, Promise<Provider>>();

/** The provider module for a name, loaded once. */
export function providerFor(name: ProviderName): Promise<Provider> {
  let p = loaded.get(name);
  if (!p) {
    p = load(name);
    if (PROVIDERS.includes(name)) loaded.set(name, p);
  }
  return p;
}

async function load(name: ProviderName): Promise<Provider> {
  switch (name) {
    case 'openai':
      return (await import('./openai.js')).openaiProvider;
    case 'azure':
      return (await import('./azure.js')).azureProvider;
    case 'bedrock':
      return (await import('./bedrock/provider.js')).bedrockProvider;
    case 'anthropic':
      return (await import('./anthropic.js')).anthropicProvider;
    default:
      // A record the registry should have refused; never a crash on `undefined`.
      throw new UpstreamFailedError(`no provider \`${String(name).slice(0, 64)}\` (expected ${PROVIDERS.join(', ')})`);
  }
}

/** The operation an upstream path (no `/v1`, no Azure prefix) asks for; undefined for paths passed through as they are. */
export function operationOf(upstreamPath: string): Operation | undefined {
  switch (upstreamPath) {
    case '/chat/completions':
      return 'chat';
    case '/embeddings':
      return 'embeddings';
    case '/messages':
      return 'messages';
    case '/responses':
      return 'responses';
    default:
      return undefined;
  }
}

/** LiteLLM's prefixes; a model string without one is OpenAI-compatible (LiteLLM's `openai/` is optional there). */
const PREFIXES: ReadonlyMap<string, ProviderName> = new Map([
  ['openai', 'openai'],
  ['azure', 'azure'],
  ['bedrock', 'bedrock'],
  ['anthropic', 'anthropic'],
]);

/**
 * LiteLLM's `litellm_params.model` read into a provider and the upstream's id:
 * `bedrock/anthropic.claude-3-5-sonnet-20240620-v1:0` -> bedrock + `anthropic.claude-...`;
 * `bedrock/converse/<id>` (LiteLLM's explicit Converse route) reads the same;
 * `azure/my-deployment` -> azure + `my-deployment`; `gpt-4o` -> openai + `gpt-4o`.
 */
export function parseProviderModel(model: string): { provider: ProviderName; upstreamModel: string } {
  const slash = model.indexOf('/');
  const prefix = slash > 0 ? model.slice(0, slash) : '';
  const provider = PREFIXES.get(prefix);
  if (!provider) return { provider: 'openai', upstreamModel: model };
  let rest = model.slice(slash + 1);
  if (provider === 'bedrock' && rest.startsWith('converse/')) rest = rest.slice('converse/'.length);
  if (rest.length === 0)
    throw new InvalidRequestError(`\`model\` names the ${provider} provider but no model after \`${prefix}/\``, 'invalid_body', 'model');
  if (provider === 'bedrock' && rest.startsWith('invoke/')) {
    throw new InvalidRequestError(
      '`model`: `bedrock/invoke/` (InvokeModel chat) is not supported; use `bedrock/<model id>` (Converse)',
      'unsupported_parameter',
      'model',
    );
  }
  return { provider, upstreamModel: rest };
}
