/** A spend log as a settlement carries it (lib/domain/spend-log), for tests: these fields, then the overrides. */
import type { SpendLog } from '../../lib/domain/spend-log.js';

export const spendLogFixture = (overrides: Partial<SpendLog> = {}): SpendLog => {
  const at = new Date(overrides.startTime ?? Date.now()).toISOString();
  return {
    request_id: 'req-fixture',
    call_type: '/v1/chat/completions',
    model: 'gpt-4o-mini',
    model_group: 'gpt-4o-mini',
    api_key: null,
    key_alias: null,
    user: null,
    team_id: null,
    organization_id: null,
    end_user: null,
    prompt_tokens: 1,
    completion_tokens: 1,
    total_tokens: 2,
    spend: 0.000001,
    usage_source: 'reported',
    startTime: at,
    endTime: at,
    status: 'success',
    request_tags: [],
    ...overrides,
  };
};
