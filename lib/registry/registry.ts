/**
 * The model registry, read side. The whole list of models is small (lib/store/models reads it), so an instance reads it in one query and keeps it
 * for the cache TTL (single flight: concurrent misses share one query). From the list come name
 * and alias resolution and the ModelCatalog the checks use for aliases and access groups.
 *
 * A record the function cannot use safely (no upstream URL, a negative price, ...) is left out
 * and logged: a model that cannot be priced must not be callable for free.
 */
import type { ModelCatalog } from '../checks/models.js';
import { isValidPrice, TIER_PRICE_FIELDS } from '../domain/cost.js';
import type { ModelRecord } from '../domain/records.js';
import { azureConfigProblem } from '../providers/azure.js';
import { baseUrlProblem } from '../providers/http.js';
import { defaultSessionPrice } from '../providers/tool-prices.js';
import { logger } from '../telemetry.js';

export interface ModelSource {
  listModels(): Promise<ModelRecord[]>;
}

export interface RegistrySnapshot {
  /** Usable models, sorted by name. */
  readonly models: readonly ModelRecord[];
  readonly catalog: ModelCatalog;
  /** The model a requested name stands for: its public name first, then an alias. */
  resolve(name: string): ModelRecord | undefined;
}

const PROVIDERS: ReadonlySet<string> = new Set(['openai', 'azure', 'bedrock', 'anthropic']);

/** Why a record is unusable, or undefined when it is fine. */
export function modelRecordProblem(m: Partial<ModelRecord>): string | undefined {
  if (typeof m.model_name !== 'string' || m.model_name.length === 0) return 'no model_name';
  if (typeof m.upstream_model !== 'string' || m.upstream_model.length === 0) return 'no upstream_model';
  const provider = m.provider ?? 'openai';
  if (!PROVIDERS.has(provider)) return `unknown provider ${String(provider).slice(0, 32)}`;
  if (provider === 'azure') {
    const problem = azureConfigProblem({
      upstream_model: m.upstream_model,
      upstream_base_url: m.upstream_base_url,
      api_version: m.api_version,
    });
    if (problem) return problem;
  } else if (provider === 'openai' || m.upstream_base_url != null) {
    const problem = baseUrlProblem(m.upstream_base_url);
    if (problem) return `upstream_base_url ${problem}`;
  }
  if (!isValidPrice(m.input_cost_per_million) || !isValidPrice(m.output_cost_per_million)) return 'prices must be numbers >= 0';
  for (const p of [
    m.cache_read_cost_per_million,
    m.cache_write_cost_per_million,
    m.cache_write_1h_cost_per_million,
    m.input_audio_cost_per_million,
    m.output_audio_cost_per_million,
    m.input_image_cost_per_million,
    m.output_image_cost_per_million,
    m.cache_read_image_cost_per_million,
    m.search_context_cost_per_query,
    m.file_search_cost_per_1k_calls,
    m.code_interpreter_cost_per_session,
    ...TIER_PRICE_FIELDS.map((f) => m[f]),
  ])
    if (p !== undefined && !isValidPrice(p)) return 'prices must be numbers >= 0';
  for (const t of m.price_tiers ?? []) {
    if (!Number.isSafeInteger(t.above_input_tokens) || t.above_input_tokens < 0) return 'a price tier needs a whole number of input tokens';
    for (const p of [t.input_cost_per_million, t.output_cost_per_million]) if (!isValidPrice(p)) return 'prices must be numbers >= 0';
    for (const p of [t.cache_read_cost_per_million, t.cache_write_cost_per_million, t.cache_write_1h_cost_per_million])
      if (p !== undefined && !isValidPrice(p)) return 'prices must be numbers >= 0';
  }
  return undefined;
}

export function buildSnapshot(records: readonly ModelRecord[]): RegistrySnapshot {
  const byName = new Map<string, ModelRecord>();
  for (const m of [...records].sort((a, b) => (a.model_name < b.model_name ? -1 : a.model_name > b.model_name ? 1 : 0))) {
    const problem = modelRecordProblem(m);
    if (problem) {
      logger().warn('model record skipped', { model: String(m.model_name), problem });
      continue;
    }
    // A record made before its code interpreter price was kept: OpenAI's (found by review: strict
    // callers of the tool were refused, and its sessions went unbilled, until an admin's update).
    const sessionPrice = m.code_interpreter_cost_per_session ?? defaultSessionPrice(m);
    byName.set(
      m.model_name,
      sessionPrice === m.code_interpreter_cost_per_session ? m : { ...m, code_interpreter_cost_per_session: sessionPrice },
    );
  }
  // Maps, never plain objects: a model, alias or group may be named `constructor` or `__proto__`.
  const aliases = new Map<string, string>();
  const accessGroups = new Map<string, string[]>();
  for (const m of byName.values()) {
    for (const alias of m.aliases ?? []) {
      // A public name always means its own model; the first model (by name) keeps a shared alias.
      if (byName.has(alias) || aliases.has(alias)) {
        logger().warn('model alias ignored', { model: m.model_name, alias });
        continue;
      }
      aliases.set(alias, m.model_name);
    }
    for (const group of m.access_groups ?? []) {
      const members = accessGroups.get(group);
      if (members) members.push(m.model_name);
      else accessGroups.set(group, [m.model_name]);
    }
  }
  return {
    models: [...byName.values()],
    catalog: { aliases, accessGroups },
    resolve: (name) => byName.get(name) ?? byName.get(aliases.get(name) ?? ''),
  };
}

export class ModelRegistry {
  private cached: { at: number; snapshot: RegistrySnapshot } | undefined;
  private pending: Promise<RegistrySnapshot> | undefined;

  constructor(
    private readonly source: ModelSource,
    private readonly options: { ttlMs: number; clock?: () => number },
  ) {}

  /** The registry as of at most the cache TTL ago. Throws StoreUnavailableError when it cannot be read. */
  snapshot(): Promise<RegistrySnapshot> {
    const now = this.now();
    if (this.cached && now - this.cached.at < this.options.ttlMs) return Promise.resolve(this.cached.snapshot);
    this.pending ??= this.source
      .listModels()
      .then((records) => {
        const snapshot = buildSnapshot(records);
        this.cached = { at: now, snapshot };
        return snapshot;
      })
      .finally(() => {
        this.pending = undefined;
      });
    return this.pending;
  }

  /** Forgets the list (after a model was written in this instance). */
  invalidate(): void {
    this.cached = undefined;
  }

  private now(): number {
    return (this.options.clock ?? Date.now)();
  }
}
