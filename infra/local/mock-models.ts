/**
 * The priced models local mode ships, all answered by the mock upstream (infra/local/mock-upstream).
 * Prices are OpenAI's list prices per 1M tokens. Access groups: `premium` (gpt-4o), `standard`
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

/** The TOLLGATE_LOCAL_SECRETS entry for the mock upstream's key. */
export const mockLocalSecrets = (): Record<string, string> => ({ [MOCK_UPSTREAM_SECRET]: MOCK_UPSTREAM_KEY });

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
