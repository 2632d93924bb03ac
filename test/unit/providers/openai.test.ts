import { describe, expect, it } from 'vitest';
import { UpstreamFailedError } from '../../../lib/errors.js';
import { UnsupportedParameterError } from '../../../lib/providers/errors.js';
import { operationOf, PROVIDERS, parseProviderModel, providerFor } from '../../../lib/providers/index.js';
import { openaiBody, openaiTarget } from '../../../lib/providers/openai.js';
import type { ProviderModel } from '../../../lib/providers/types.js';

const model: ProviderModel = {
  model_name: 'gpt-4o',
  provider: 'openai',
  upstream_model: 'gpt-4o-2024-08-06',
  upstream_base_url: 'https://api.example.com/v1',
};

describe('OpenAI-compatible upstreams', () => {
  it('URLs under the base, a bearer key', () => {
    expect(openaiTarget(model, 'chat', 'sk-up').url).toBe('https://api.example.com/v1/chat/completions');
    expect(openaiTarget(model, 'embeddings', undefined).url).toBe('https://api.example.com/v1/embeddings');
    expect(openaiTarget({ ...model, upstream_base_url: undefined }, 'responses', undefined).url).toBe(
      'https://api.openai.com/v1/responses',
    );
    expect(openaiTarget(model, 'chat', 'sk-up').headers.get('authorization')).toBe('Bearer sk-up');
    expect(openaiTarget(model, 'chat', undefined).headers.get('authorization')).toBeNull();
  });

  it('/v1/messages is not served', () => {
    expect(() => openaiTarget(model, 'messages', undefined)).toThrow(UnsupportedParameterError);
  });

  it('the body names the upstream model; a streamed chat always asks for usage and remembers whether the client did', () => {
    expect(openaiBody({ operation: 'chat', model, body: { model: 'gpt-4o', messages: [] } })).toEqual({
      body: { model: 'gpt-4o-2024-08-06', messages: [] },
      clientWantsUsage: true,
    });
    expect(openaiBody({ operation: 'chat', model, body: { model: 'gpt-4o', stream: true } })).toEqual({
      body: { model: 'gpt-4o-2024-08-06', stream: true, stream_options: { include_usage: true } },
      clientWantsUsage: false,
    });
    expect(
      openaiBody({ operation: 'chat', model, body: { stream: true, stream_options: { include_usage: true, x: 1 } } }).clientWantsUsage,
    ).toBe(true);
    expect(openaiBody({ operation: 'responses', model, body: { stream: true } }).body).toEqual({
      model: 'gpt-4o-2024-08-06',
      stream: true,
    });
  });
});

describe('the provider registry', () => {
  it.each([
    ['/chat/completions', 'chat'],
    ['/embeddings', 'embeddings'],
    ['/messages', 'messages'],
    ['/responses', 'responses'],
    ['/images/generations', undefined],
  ])('%s is %s', (path, op) => expect(operationOf(path)).toBe(op));

  it.each([
    ['bedrock/anthropic.claude-3-5-sonnet-20240620-v1:0', 'bedrock', 'anthropic.claude-3-5-sonnet-20240620-v1:0'],
    ['bedrock/converse/us.anthropic.claude-sonnet-4-20250514-v1:0', 'bedrock', 'us.anthropic.claude-sonnet-4-20250514-v1:0'],
    [
      'bedrock/arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.meta.llama3-2-1b-instruct-v1:0',
      'bedrock',
      'arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.meta.llama3-2-1b-instruct-v1:0',
    ],
    ['azure/gpt-4o-prod', 'azure', 'gpt-4o-prod'],
    ['anthropic/claude-sonnet-4-5', 'anthropic', 'claude-sonnet-4-5'],
    ['openai/gpt-4o', 'openai', 'gpt-4o'],
    ['gpt-4o', 'openai', 'gpt-4o'],
    ['meta-llama/Llama-3.1-8B-Instruct', 'openai', 'meta-llama/Llama-3.1-8B-Instruct'],
  ])('LiteLLM model %s -> %s %s', (litellm, provider, upstreamModel) => {
    expect(parseProviderModel(litellm)).toEqual({ provider, upstreamModel });
  });

  it('loads each provider by name; an unknown name is a 502, not a crash', async () => {
    for (const name of PROVIDERS) expect((await providerFor(name)).name).toBe(name);
    await expect(providerFor('constructor' as never)).rejects.toBeInstanceOf(UpstreamFailedError);
  });

  it.each(['bedrock/', 'azure/', 'bedrock/invoke/anthropic.claude-v2'])('%s is refused', (litellm) => {
    expect(() => parseProviderModel(litellm)).toThrow(/model/);
  });
});
