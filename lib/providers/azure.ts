/**
 * Azure OpenAI: LiteLLM's `azure/<deployment>` with `api_base` (https://<resource>.openai.azure.com),
 * `api_version` and an `api-key` secret. The answers are OpenAI's, so forwarding is shared with
 * the OpenAI provider; what differs is where a call goes and how it authenticates:
 *   chat, embeddings   {api_base}/openai/deployments/{deployment}/{path}?api-version={api_version}
 *   responses          {api_base}/openai/responses?api-version={api_version} (the deployment in `model`)
 *   api_version `v1`   {api_base}/openai/v1/{path}, the deployment in `model` (Azure's v1 API;
 *                      `preview` and `latest` add `?api-version=` with that value)
 *   a stored response  {api_base}/openai/responses/{id}[/...]?api-version= (`/openai/v1/...` for the v1 API):
 *                      made, read, cancelled and deleted through the passthrough, as on the
 *                      OpenAI-compatible path, so it is recorded to its tenant (lib/llm/objects)
 * The key goes in the `api-key` header.
 */
import { UpstreamFailedError } from '../errors.js';
import { assertUpstreamPath, upstreamUrl } from '../llm/upstream.js';
import { UnsupportedParameterError } from './errors.js';
import { baseUrlProblem, type HttpTarget } from './http.js';
import { forwardOpenAiShaped } from './openai.js';
import type { Operation, Provider, ProviderModel } from './types.js';

const PATHS: ReadonlyMap<Operation, string> = new Map([
  ['chat', '/chat/completions'],
  ['embeddings', '/embeddings'],
  ['responses', '/responses'],
]);

/** Azure's rule for deployment names (letters, digits, `-`, `_`, `.`), which also keeps them one path segment. */
const DEPLOYMENT = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const API_VERSION = /^(v1|preview|latest|\d{4}-\d{2}-\d{2}(-preview)?)$/;
const V1_VERSIONS = new Set(['v1', 'preview', 'latest']);

/**
 * Whether an api-version takes `stream_options` (the usage of a stream): Azure added it in
 * 2024-09-01-preview (GA 2024-10-21); an older dated version answers 400 "Unrecognized request
 * argument supplied: stream_options" (found by review: every stream on such a deployment failed).
 * A stream there reports no usage and is counted (gpt-tokenizer), as any stream without usage.
 */
export const takesStreamOptions = (version: string | null | undefined): boolean =>
  !version || V1_VERSIONS.has(version) || version.slice(0, 10) >= '2024-09-01';

/** Why a model's Azure settings cannot make a URL, or undefined when they can (for `/model/new`'s 400 too). */
export function azureConfigProblem(model: Pick<ProviderModel, 'upstream_model' | 'upstream_base_url' | 'api_version'>): string | undefined {
  const base = model.upstream_base_url;
  if (!base || !URL.canParse(base)) return 'api_base must be the resource URL, e.g. https://my-resource.openai.azure.com';
  const problem = baseUrlProblem(base);
  if (problem) return `api_base ${problem}`;
  if (!DEPLOYMENT.test(model.upstream_model) || model.upstream_model.includes('..'))
    return 'the deployment name must be 1-64 letters, digits, `-`, `_` or `.`';
  if (!model.api_version || !API_VERSION.test(model.api_version))
    return 'api_version must look like 2024-10-21, 2025-04-01-preview, v1, preview or latest';
  return undefined;
}

/** The URL of an operation on an Azure deployment. Throws a 502 naming the model when its settings are unusable. */
export function azureUrl(model: ProviderModel, operation: Operation): string {
  const path = PATHS.get(operation);
  if (!path) throw new UnsupportedParameterError('model', `is an Azure OpenAI deployment: it cannot serve ${operation}`);
  const problem = azureConfigProblem(model);
  if (problem) throw new UpstreamFailedError(`model \`${model.model_name}\` is misconfigured for Azure OpenAI: ${problem}`);
  // A base given with `/openai` (as Azure's portal sometimes shows it) reads the same as without.
  const root = (model.upstream_base_url as string).replace(/\/+$/, '').replace(/\/openai$/, '');
  const version = model.api_version as string;
  let url: string;
  if (V1_VERSIONS.has(version)) url = `${root}/openai/v1${path}${version === 'v1' ? '' : `?api-version=${version}`}`;
  else if (operation === 'responses') url = `${root}/openai/responses?api-version=${version}`;
  else url = `${root}/openai/deployments/${encodeURIComponent(model.upstream_model)}${path}?api-version=${version}`;
  assertUpstreamPath(new URL(url).pathname);
  return url;
}

/**
 * The URL of a call on the Responses API's stored objects (`/responses`, `/responses/{id}`,
 * `/responses/{id}/cancel`, ...): the caller's query kept (`include`, `stream`, ...), the
 * api-version the model's. Confined under the resource's `/openai` root as every passthrough path is.
 */
export function azureResponsesUrl(model: ProviderModel, path: string, query: URLSearchParams): string {
  if (path !== '/responses' && !path.startsWith('/responses/'))
    throw new UnsupportedParameterError('model', `is an Azure OpenAI deployment: it cannot serve ${path}`);
  const problem = azureConfigProblem(model);
  if (problem) throw new UpstreamFailedError(`model \`${model.model_name}\` is misconfigured for Azure OpenAI: ${problem}`);
  const root = (model.upstream_base_url as string).replace(/\/+$/, '').replace(/\/openai$/, '');
  const version = model.api_version as string;
  const q = new URLSearchParams(query);
  q.delete('api-version');
  if (version !== 'v1') q.set('api-version', version);
  return upstreamUrl(`${root}/openai${V1_VERSIONS.has(version) ? '/v1' : ''}`, path, q);
}

export function azureTarget(model: ProviderModel, operation: Operation, apiKey: string | undefined): HttpTarget {
  const headers = new Headers({ accept: 'application/json, text/event-stream' });
  if (apiKey) headers.set('api-key', apiKey);
  return { url: azureUrl(model, operation), headers };
}

export const azureProvider: Provider = {
  name: 'azure',
  supports: (operation) => PATHS.has(operation),
  call: (req, clients) =>
    forwardOpenAiShaped(req, clients, azureTarget(req.model, req.operation, req.apiKey), takesStreamOptions(req.model.api_version)),
};
