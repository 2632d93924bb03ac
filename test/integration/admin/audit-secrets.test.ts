/**
 * Review (secrets): "Secrets never reach an audit item, at any depth." Each case writes a team
 * through the real admin API (POST /team/new, metadata) and reads it back from GET /audit.
 * Every case names a credential plainly (header lists, all-caps / acronym names, numbered
 * variants, Basic auth, a key used as a field name); each secret value must not appear.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { handler as audit } from '../../../functions/audit/handler.js';
import { handler as teams } from '../../../functions/teams/handler.js';
import { callApi } from '../../support/admin.js';
import { useTestTable } from '../../support/table.js';

const cases: Record<string, { metadata: Record<string, unknown>; secret: string }> = {
  // headers as a list of {name, value}: the common shape of callback / webhook settings
  'header list {name: Authorization, value}': {
    metadata: { callback: { headers: [{ name: 'Authorization', value: 'Basic dXNlcjpzM2NyZXQtcGFzc3dvcmQ=' }] } },
    secret: 'dXNlcjpzM2NyZXQtcGFzc3dvcmQ=',
  },
  'header list {name: x-api-key, value}': {
    metadata: { headers: [{ name: 'x-api-key', value: 'a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6' }] },
    secret: 'a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6',
  },
  'header pairs [["Authorization", ...]]': {
    metadata: { headers: [['Authorization', 'Token 9f8e7d6c5b4a39281706f5e4d3c2b1a0']] },
    secret: '9f8e7d6c5b4a39281706f5e4d3c2b1a0',
  },
  'acronym camelCase OpenAIKey': {
    metadata: { OpenAIKey: 'azure-0123456789abcdef0123456789ab' },
    secret: 'azure-0123456789abcdef0123456789ab',
  },
  'acronym camelCase slackWebhookURL': {
    metadata: { slackWebhookURL: 'https://alerts.example.org/hooks/T0/B0/s3cr3tW3bh00kT0k3n' },
    secret: 's3cr3tW3bh00kT0k3n',
  },
  'ALL CAPS no separator OPENAIAPIKEY': { metadata: { OPENAIAPIKEY: 'upstream-ABCDEFGHIJKLMNOP' }, secret: 'upstream-ABCDEFGHIJKLMNOP' },
  'lowercase compound accesstoken': { metadata: { accesstoken: 'opaque-at-1234567890' }, secret: 'opaque-at-1234567890' },
  'numbered api_key_2': { metadata: { api_key_2: 'second-upstream-key-0987' }, secret: 'second-upstream-key-0987' },
  'plural api_keys (array)': { metadata: { api_keys: ['plural-key-aaaa1111', 'plural-key-bbbb2222'] }, secret: 'plural-key-aaaa1111' },
  'pwd / passphrase': { metadata: { db: { user: 'svc', pwd: 'hunter2-hunter2' } }, secret: 'hunter2-hunter2' },
  'Basic auth value under a neutral name': { metadata: { auth: 'Basic YWRtaW46c3VwZXJzZWNyZXQ=' }, secret: 'YWRtaW46c3VwZXJzZWNyZXQ=' },
  'virtual key as a field NAME': {
    metadata: { 'sk-Zq3vQm8TnR2pL5xW7yK9bC1dF4gH6jA0': 'alice laptop' },
    secret: 'sk-Zq3vQm8TnR2pL5xW7yK9bC1dF4gH6jA0',
  },
  'url-encoded bearer virtual key': {
    metadata: { callback_url: 'https://cb.example.org/notify?auth=Bearer%20sk-Zq3vQm8TnR2pL5xW7yK9bC1dF4gH6jA0' },
    secret: 'sk-Zq3vQm8TnR2pL5xW7yK9bC1dF4gH6jA0',
  },
  'webhook URL with a token in its query (generic)': {
    metadata: { alerts: { url: 'https://ops.example.org/hooks/notify?token=t0k3n-9a8b7c6d5e4f' } },
    secret: 't0k3n-9a8b7c6d5e4f',
  },
  'Google Chat webhook URL (key and token in the query)': {
    metadata: {
      notify: 'https://chat.googleapis.com/v1/spaces/AAAA1234/messages?key=AIzaSyDdI0hCZtE6vySjMm-WEfRq3CPzqKqqsHI&token=Zx9Yw8Vu7Ts6',
    },
    secret: 'AIzaSyDdI0hCZtE6vySjMm-WEfRq3CPzqKqqsHI',
  },
  'trailing space in name "api_key "': { metadata: { 'api_key ': 'spaced-secret-value-42' }, secret: 'spaced-secret-value-42' },
};

beforeAll(async () => {
  await useTestTable();
});

describe('audit items keep no secret', () => {
  let i = 0;
  for (const [name, { metadata, secret }] of Object.entries(cases)) {
    it(name, async () => {
      const teamId = `t-rev-${i++}`;
      const made = await callApi(teams, 'POST', '/team/new', { team_id: teamId, metadata });
      expect(made.status).toBe(200);
      const history = await callApi(audit, 'GET', '/audit', { entity_type: 'team', entity_id: teamId });
      expect(history.status).toBe(200);
      expect(history.body.data.length).toBeGreaterThan(0);
      expect(JSON.stringify(history.body)).not.toContain(secret);
    });
  }
});
