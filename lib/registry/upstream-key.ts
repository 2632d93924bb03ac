/** The key Tollgate sends to a model's upstream: never the caller's credential. */

import type { ModelRecord } from '../domain/records.js';
import { UpstreamFailedError } from '../errors.js';
import { upstreamSecret } from '../secrets.js';
import { logger } from '../telemetry.js';

/** The upstream key, or undefined for a model without `api_key_secret` (an upstream with no auth). */
export async function upstreamKey(model: ModelRecord): Promise<string | undefined> {
  if (!model.api_key_secret) return undefined;
  let value: string | undefined;
  try {
    value = await upstreamSecret(model.api_key_secret);
  } catch (e) {
    logger().error('upstream key read failed', { model: model.model_name, error: (e as Error).name });
    value = undefined;
  }
  if (!value) throw new UpstreamFailedError(`the upstream key for model \`${model.model_name}\` could not be read`);
  return value;
}
