/** The llm function's collaborators, from the configuration; tests replace parts of them. */
import { checkSettings } from '../check-settings.js';
import type { CheckSettings } from '../checks/checks.js';
import { config } from '../config.js';
import type { EnforcementMode } from '../domain/records.js';
import { modelRegistry, type ModelRegistry } from '../registry/index.js';
import { DynamoSettler, type SpendSettler } from '../store/spend-ledger.js';
import { documentClient } from '../store/client.js';
import { entityReader } from '../store/index.js';
import type { EntityReader } from '../store/entities.js';
import type { FetchLike } from './upstream.js';

export interface LlmDeps {
  reader: EntityReader;
  registry: ModelRegistry;
  settler: SpendSettler;
  settings: CheckSettings;
  /** The mode of requests whose key, team and organization name none (TOLLGATE_ENFORCEMENT). */
  enforcement: EnforcementMode;
  strictDefaultMaxTokens: number;
  /** How long after a call starts its reservation may be swept. */
  reservationTtlMs: number;
  upstreamTimeoutMs: number;
  passthroughModel: string | undefined;
  clock: () => number;
  fetch: FetchLike;
}

let overrides: Partial<LlmDeps> = {};

/** Built per invocation from the process singletons, so a reconfigured process is seen at once. */
export function llmDeps(): LlmDeps {
  const c = config();
  const reader = overrides.reader ?? entityReader();
  return {
    reader,
    registry: modelRegistry(),
    settler: new DynamoSettler(documentClient(), c.tableName, {
      ttlSeconds: c.settlementTtlSeconds,
      shards: c.spendShards,
      onChanged: (changed) => changed.forEach((ref) => reader.loader.invalidate(ref)),
    }),
    settings: checkSettings(c),
    enforcement: c.enforcement,
    strictDefaultMaxTokens: c.strictDefaultMaxTokens,
    reservationTtlMs: c.reservationTtlSeconds * 1000,
    upstreamTimeoutMs: c.upstreamTimeoutMs,
    passthroughModel: c.passthroughModel,
    clock: Date.now,
    fetch: (input, init) => fetch(input, init),
    ...overrides,
  };
}

/** Replaces some collaborators (tests: a clock, a settler that fails); `undefined` restores all. */
export function setLlmDeps(next: Partial<LlmDeps> | undefined): void {
  overrides = next ?? {};
}
