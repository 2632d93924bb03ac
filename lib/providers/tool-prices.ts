/**
 * Prices of hosted tools the price library does not carry. OpenAI's code interpreter container:
 * $0.03 for 1 GB (a larger one at its multiple), for models served by OpenAI or Azure. Another
 * OpenAI-compatible upstream (a gateway, a self-hosted server) has none by default: what it bills
 * for a container is its own, so its sessions are logged and counted until an admin prices them.
 * Kept apart from the price library (lib/providers/prices), which only the admin functions load.
 */
import type { ModelRecord } from '../domain/records.js';

const OPENAI_CONTAINER_PRICE = 0.03;

const servedByOpenAi = (base: string | null | undefined): boolean => {
  if (base === undefined || base === null) return true;
  try {
    return new URL(base).hostname === 'api.openai.com';
  } catch {
    return false;
  }
};

/** Whether OpenAI itself serves the model: OpenAI's API, or Azure OpenAI (not another OpenAI-compatible server). */
export const servedByOpenAiOrAzure = (m: Pick<ModelRecord, 'provider' | 'upstream_base_url'>): boolean =>
  m.provider === 'azure' || ((m.provider ?? 'openai') === 'openai' && servedByOpenAi(m.upstream_base_url));

/** The code interpreter session price a model has when none was set: OpenAI's, on OpenAI and Azure. */
export const defaultSessionPrice = (m: Pick<ModelRecord, 'provider' | 'upstream_base_url'>): number | undefined =>
  servedByOpenAiOrAzure(m) ? OPENAI_CONTAINER_PRICE : undefined;
