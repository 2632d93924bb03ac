/**
 * The webhook's `text` is Slack markup (found by review): an id is the entity's own name, and a
 * user id taken from an identity provider's claim (JWT users are created on first sight) may
 * hold `<!channel>` or `<https://evil.example|a link>`, which Slack turns into a mention of
 * everyone or a link of the id's choosing. The text escapes `&`, `<` and `>` as Slack asks;
 * the `alert` object beside it keeps the id as it is.
 */
import { describe, expect, it } from 'vitest';
import { alertSinks } from '../../../lib/alerts/deliver.js';
import type { BudgetAlert } from '../../../lib/domain/alerts.js';

describe('the webhook text', () => {
  it('escapes Slack markup in what it repeats', async () => {
    const posted: { text: string; alert: BudgetAlert }[] = [];
    const fetchFn = (async (_url: string, init: RequestInit) => {
      posted.push(JSON.parse(String(init.body)));
      return new Response('ok');
    }) as unknown as typeof fetch;
    const sinks = alertSinks(
      {
        alerts: { webhookUrl: 'https://hooks.example/x', thresholds: [] } as never,
        region: 'us-east-1',
        store: { timeoutMs: 2000, maxAttempts: 2 },
      },
      fetchFn,
    );
    const alert: BudgetAlert = {
      entity: 'user',
      id: '<!channel> & <https://evil.example|click>',
      level: 'threshold',
      percent: 80,
      threshold: 8,
      spend: 8,
      max_budget: 10,
      soft_budget: null,
      budget_window: 'lifetime',
      at: '2026-12-06T00:00:00.000Z',
    };
    for (const sink of sinks.slice(1)) await sink(alert);
    expect(posted).toHaveLength(1);
    expect(posted[0]?.text).not.toMatch(/[<>]/);
    expect(posted[0]?.text).toContain('&lt;!channel&gt; &amp; &lt;https://evil.example|click&gt;');
    expect(posted[0]?.alert.id).toBe(alert.id);
  });
});
