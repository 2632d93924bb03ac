/**
 * Where budget alerts go: always the log (local mode's console prints it); an EventBridge event
 * (`source: tollgate`, detail type `Tollgate Budget Alert`, the detail a BudgetAlert: docs/alerts.md)
 * when a bus is configured; a webhook (Slack-compatible `text`, and the alert) when a URL is given
 * directly (local mode) or in a secret (Slack, in AWS). A delivery that fails throws: the alert's
 * claim is given back and the stream retries it.
 */
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import type { Config } from '../config.js';
import { alertText, type BudgetAlert } from '../domain/alerts.js';
import { readSecret } from '../secrets.js';
import { boundAttempts, boundedClientConfig } from '../store/attempt-deadline.js';
import { logger } from '../telemetry.js';

export const ALERT_SOURCE = 'tollgate';
export const ALERT_DETAIL_TYPE = 'Tollgate Budget Alert';

/**
 * Where an alert goes. `sinkName` says which destination it is, the same across deployments (a
 * retry skips the sinks that took the alert by their names, so a redeploy that adds or reorders
 * sinks does not skip or repeat the wrong one); one without a name is known by its place.
 */
export type AlertSink = ((alert: BudgetAlert) => Promise<void>) & { sinkName?: string };

/** A sink with its name. */
export const namedSink = (sinkName: string, send: (alert: BudgetAlert) => Promise<void>): AlertSink => Object.assign(send, { sinkName });

/** How a retry knows a sink that took an alert: its name, else its place in the list. */
export const sinkId = (sink: AlertSink, place: number): string => sink.sinkName ?? `#${place}`;

/**
 * Text as Slack shows it, not as markup: an id is the entity's own name (a JWT user's comes from
 * the identity provider) and `<!channel>` or `<url|label>` in it would mention everyone or link.
 */
const slackEscaped = (text: string): string => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/**
 * `c.store` bounds each EventBridge attempt, its body included (lib/store/attempt-deadline), as
 * the webhook's fetch is bounded by its signal: a stalled endpoint fails the delivery (the stream
 * retries it) instead of holding the table-stream function until its timeout.
 */
export function alertSinks(c: Pick<Config, 'alerts' | 'region' | 'store'>, fetchFn: typeof fetch = fetch): AlertSink[] {
  const sinks: AlertSink[] = [namedSink('log', async (a) => logger().warn(`budget alert: ${alertText(a)}`, { alert: a }))];
  const { eventBus, webhookUrl, slackSecretArn } = c.alerts;
  if (eventBus) {
    let eventBridge: EventBridgeClient | undefined;
    sinks.push(
      namedSink(`eventbridge:${eventBus}`, async (a) => {
        eventBridge ??= boundAttempts(new EventBridgeClient({ region: c.region, ...boundedClientConfig(c.store) }), c.store.timeoutMs);
        const out = await eventBridge.send(
          new PutEventsCommand({
            Entries: [{ Source: ALERT_SOURCE, DetailType: ALERT_DETAIL_TYPE, Detail: JSON.stringify(a), EventBusName: eventBus }],
          }),
        );
        if (out.FailedEntryCount) throw new Error(`EventBridge refused the alert: ${out.Entries?.[0]?.ErrorCode ?? 'unknown'}`);
      }),
    );
  }
  const post = async (url: string, a: BudgetAlert) => {
    const res = await fetchFn(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ text: slackEscaped(`Tollgate: ${alertText(a)}`), alert: a }),
      signal: AbortSignal.timeout(5_000),
    }).catch((e: unknown) => {
      // The URL is a secret (a Slack webhook's path is its credential), and fetch's errors may
      // repeat it: the failure is said by its kind only.
      const cause = (e as { cause?: { code?: unknown } })?.cause?.code;
      throw new Error(`the alert webhook could not be reached (${typeof cause === 'string' ? cause : (e as Error)?.name})`);
    });
    if (!res.ok) throw new Error(`the alert webhook answered HTTP ${res.status}`);
  };
  if (webhookUrl) sinks.push(namedSink('webhook', (a) => post(webhookUrl, a)));
  if (slackSecretArn) sinks.push(namedSink('slack', async (a) => post(await readSecret(slackSecretArn), a)));
  return sinks;
}
