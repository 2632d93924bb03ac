/**
 * The priced models local mode ships: OpenAI models answered by the mock upstream
 * (infra/local/mock-upstream), Bedrock models by the mock Bedrock runtime (mockBedrockModels) and
 * an Anthropic model by the mock Anthropic API (mockAnthropicModels).
 * Prices are the providers' list prices per 1M tokens. Access groups: `premium` (gpt-4o), `standard`
 * (gpt-4o-mini and the embedding model); each model also answers to its dated alias.
 *
 * The upstream key is a secret like any other: local mode maps MOCK_UPSTREAM_SECRET to
 * MOCK_UPSTREAM_KEY through TOLLGATE_LOCAL_SECRETS (see mockLocalSecrets), and the mock
 * upstream is started with `apiKey: MOCK_UPSTREAM_KEY`, so a request that arrives without
 * Tollgate's key (or with the caller's) is refused as it would be upstream.
 */
import type { ModelRecord } from '../../lib/domain/records.js';

export const MOCK_UPSTREAM_SECRET = 'tollgate/local/mock-upstream';
export const MOCK_UPSTREAM_KEY = 'sk-mock-upstream-local-only';

export const MOCK_ANTHROPIC_SECRET = 'tollgate/local/mock-anthropic';
export const MOCK_ANTHROPIC_KEY = 'sk-ant-mock-anthropic-local-only';

/** The TOLLGATE_LOCAL_SECRETS entries for the mock upstreams' keys (Bedrock needs none: the role's, or dummy credentials locally). */
export const mockLocalSecrets = (): Record<string, string> => ({
  [MOCK_UPSTREAM_SECRET]: MOCK_UPSTREAM_KEY,
  [MOCK_ANTHROPIC_SECRET]: MOCK_ANTHROPIC_KEY,
});

const CREATED_AT = '2024-07-18T00:00:00.000Z';

export function mockModels(upstreamUrl: string): ModelRecord[] {
  const model = (name: string, input: number, output: number, groups: string[], aliases: string[]): ModelRecord => ({
    model_name: name,
    upstream_base_url: upstreamUrl,
    upstream_model: name,
    api_key_secret: MOCK_UPSTREAM_SECRET,
    input_cost_per_million: input,
    output_cost_per_million: output,
    access_groups: groups,
    aliases,
    created_at: CREATED_AT,
  });
  return [
    model('gpt-4o', 2.5, 10, ['premium'], ['gpt-4o-2024-08-06']),
    model('gpt-4o-mini', 0.15, 0.6, ['standard'], ['gpt-4o-mini-2024-07-18']),
    model('text-embedding-3-small', 0.02, 0, ['standard'], []),
  ];
}

/** Bedrock models, answered by the mock Bedrock runtime (TOLLGATE_BEDROCK_ENDPOINT); Claude also serves /v1/messages. */
export function mockBedrockModels(): ModelRecord[] {
  return [
    {
      model_name: 'bedrock-claude-3-5-sonnet',
      provider: 'bedrock',
      upstream_model: 'anthropic.claude-3-5-sonnet-20240620-v1:0',
      aws_region_name: 'us-east-1',
      input_cost_per_million: 3,
      output_cost_per_million: 15,
      cache_read_cost_per_million: 0.3,
      cache_write_cost_per_million: 3.75,
      access_groups: ['bedrock'],
      aliases: [],
      created_at: CREATED_AT,
    },
    {
      model_name: 'bedrock-titan-embed-v2',
      provider: 'bedrock',
      upstream_model: 'amazon.titan-embed-text-v2:0',
      aws_region_name: 'us-east-1',
      input_cost_per_million: 0.02,
      output_cost_per_million: 0,
      access_groups: ['bedrock'],
      aliases: [],
      created_at: CREATED_AT,
    },
  ];
}

/** An Anthropic model, answered by the mock Anthropic API at `anthropicUrl` (serves /v1/messages). */
export function mockAnthropicModels(anthropicUrl: string): ModelRecord[] {
  return [
    {
      model_name: 'claude-3-5-haiku',
      provider: 'anthropic',
      upstream_base_url: anthropicUrl,
      upstream_model: 'claude-3-5-haiku-20241022',
      api_key_secret: MOCK_ANTHROPIC_SECRET,
      input_cost_per_million: 0.8,
      output_cost_per_million: 4,
      cache_read_cost_per_million: 0.08,
      cache_write_cost_per_million: 1,
      access_groups: ['anthropic'],
      aliases: [],
      created_at: CREATED_AT,
    },
  ];
}
