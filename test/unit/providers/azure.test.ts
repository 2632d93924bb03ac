import { describe, expect, it } from 'vitest';
import { UpstreamFailedError } from '../../../lib/errors.js';
import { azureConfigProblem, azureTarget, azureUrl } from '../../../lib/providers/azure.js';
import { UnsupportedParameterError } from '../../../lib/providers/errors.js';
import type { Operation, ProviderModel } from '../../../lib/providers/types.js';

const azure = (overrides: Partial<ProviderModel> = {}): ProviderModel => ({
  model_name: 'gpt4o-eu',
  provider: 'azure',
  upstream_model: 'gpt-4o-prod',
  upstream_base_url: 'https://my-resource.openai.azure.com',
  api_version: '2024-10-21',
  ...overrides,
});

describe('Azure OpenAI URLs', () => {
  it.each<[string, Partial<ProviderModel>, Operation, string]>([
    [
      'chat on a deployment',
      {},
      'chat',
      'https://my-resource.openai.azure.com/openai/deployments/gpt-4o-prod/chat/completions?api-version=2024-10-21',
    ],
    [
      'embeddings on a deployment',
      { upstream_model: 'embed-3-small' },
      'embeddings',
      'https://my-resource.openai.azure.com/openai/deployments/embed-3-small/embeddings?api-version=2024-10-21',
    ],
    [
      'a preview api_version',
      { api_version: '2025-04-01-preview' },
      'chat',
      'https://my-resource.openai.azure.com/openai/deployments/gpt-4o-prod/chat/completions?api-version=2025-04-01-preview',
    ],
    [
      'responses (the deployment goes in `model`)',
      { api_version: '2025-04-01-preview' },
      'responses',
      'https://my-resource.openai.azure.com/openai/responses?api-version=2025-04-01-preview',
    ],
    ['the v1 API', { api_version: 'v1' }, 'chat', 'https://my-resource.openai.azure.com/openai/v1/chat/completions'],
    [
      'the v1 API, preview',
      { api_version: 'preview' },
      'responses',
      'https://my-resource.openai.azure.com/openai/v1/responses?api-version=preview',
    ],
    [
      'a base given with a trailing slash and /openai',
      { upstream_base_url: 'https://my-resource.openai.azure.com/openai/' },
      'chat',
      'https://my-resource.openai.azure.com/openai/deployments/gpt-4o-prod/chat/completions?api-version=2024-10-21',
    ],
    [
      'a deployment with dots and underscores',
      { upstream_model: 'gpt-4.1_mini' },
      'chat',
      'https://my-resource.openai.azure.com/openai/deployments/gpt-4.1_mini/chat/completions?api-version=2024-10-21',
    ],
    [
      'a base behind a gateway path',
      { upstream_base_url: 'https://apim.example.com/team-a' },
      'embeddings',
      'https://apim.example.com/team-a/openai/deployments/gpt-4o-prod/embeddings?api-version=2024-10-21',
    ],
  ])('%s', (_, overrides, operation, url) => {
    expect(azureUrl(azure(overrides), operation)).toBe(url);
  });

  it('a streamed chat goes to the same URL (stream is in the body)', () => {
    expect(azureUrl(azure(), 'chat')).toBe(azureUrl(azure(), 'chat'));
  });

  it('the key travels as api-key, never as a bearer token', () => {
    const t = azureTarget(azure(), 'chat', 'azure-secret');
    expect(t.headers.get('api-key')).toBe('azure-secret');
    expect(t.headers.get('authorization')).toBeNull();
  });

  it('Azure serves no /v1/messages', () => {
    expect(() => azureUrl(azure(), 'messages')).toThrow(UnsupportedParameterError);
  });

  it.each<[string, Partial<ProviderModel>]>([
    ['no api_base', { upstream_base_url: null }],
    ['an api_base with a query', { upstream_base_url: 'https://x.openai.azure.com?x=1' }],
    ['an api_base with credentials', { upstream_base_url: 'https://u:p@x.openai.azure.com' }],
    ['an api_base that is not http', { upstream_base_url: 'ftp://x.openai.azure.com' }],
    ['a deployment with a slash', { upstream_model: 'a/b' }],
    ['a deployment of dots', { upstream_model: '..' }],
    ['a deployment with an encoded slash', { upstream_model: 'a%2fb' }],
    ['no api_version', { api_version: null }],
    ['an api_version that is not one', { api_version: '2024-10-21&x=1' }],
  ])('%s is a configuration problem (a 502 naming the model, and a reason for /model/new)', (_, overrides) => {
    expect(azureConfigProblem(azure(overrides))).toEqual(expect.any(String));
    expect(() => azureUrl(azure(overrides), 'chat')).toThrow(UpstreamFailedError);
  });
});
