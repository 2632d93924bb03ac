/**
 * The records Tollgate keeps, with LiteLLM's field names. Budgeted records share `Budgeted`:
 * `spend` is lifetime spend; when `budget_duration` is set, the spend that counts against
 * `max_budget` is the current window's counter (see lib/domain/periods). `committed` counters
 * hold settled spend plus strict-mode reservations outstanding (see docs/spend.md).
 */

import type { Authority } from './actor.js';
import type { Alerting } from './alerts.js';
import type { ModelRateLimited, RateLimited } from './rate-limits.js';

export type UserRole = 'proxy_admin' | 'internal_user' | 'internal_user_viewer';
export type MemberRole = 'admin' | 'user';
export type EnforcementMode = 'fast' | 'strict';

/** Spend counters per budget window, keyed by the window's id (e.g. `1d:2026-11-28`). */
export type WindowSpend = Record<string, number>;

/** Committed spend on an entity's counter shards other than its own item (lib/store/shards). */
export interface CommittedElsewhere {
  lifetime?: number;
  windows: WindowSpend;
}

export interface Budgeted {
  max_budget?: number | null;
  budget_duration?: string | null;
  /**
   * When the budget period was set on this entity (ISO time): fixed-length windows (`30d`, `24h`)
   * count from it (lib/domain/periods). Absent: from the entity's `created_at`.
   */
  budget_set_at?: string | null;
  created_at?: string;
  spend?: number;
  window_spend?: WindowSpend;
  /** Lifetime settled spend plus reservations outstanding (strict mode). */
  committed?: number;
  /** The same per window id. */
  window_committed?: WindowSpend;
  /** Set by reads that summed counter shards; never stored. */
  committed_elsewhere?: CommittedElsewhere;
  enforcement?: EnforcementMode | null;
}

export interface KeyRecord extends Budgeted, RateLimited, ModelRateLimited, Alerting {
  token: string; // sha256 hex of the full key
  key_name: string; // sk-...last4
  key_alias?: string | null;
  user_id?: string | null;
  team_id?: string | null;
  organization_id?: string | null;
  models?: string[];
  /** The routes the key may call, within its role's (lib/checks/route-access); empty or absent: any. */
  allowed_routes?: string[] | null;
  blocked?: boolean;
  expires?: string | null; // ISO 8601
  metadata?: Record<string, unknown>;
  created_at: string;
  updated_at?: string;
  created_by?: string;
  /** The highest authority that set the key's limits: less authority may only tighten them. */
  limits_set_by?: Authority | null;
  /**
   * Where the key's rate-limit counters live (lib/domain/rate-limits): the first key's hash,
   * carried to every key that regenerates it, so a key and its copies in their grace period share
   * one set of limits.
   */
  rate_id?: string | null;
  /**
   * After regeneration with a grace period: the old hash stays valid until then, acting as the key
   * `replaced_by` names (the newest: its budget, counters and limits govern every copy).
   */
  grace_until?: string | null;
  replaced_by?: string | null;
}

export interface UserRecord extends Budgeted, RateLimited, Alerting {
  user_id: string;
  user_email?: string | null;
  user_alias?: string | null;
  user_role: UserRole;
  models?: string[];
  teams?: string[];
  organization_id?: string | null;
  metadata?: Record<string, unknown>;
  created_at: string;
  updated_at?: string;
}

export interface TeamRecord extends Budgeted, RateLimited, ModelRateLimited, Alerting {
  team_id: string;
  team_alias?: string | null;
  organization_id?: string | null;
  models?: string[];
  blocked?: boolean;
  metadata?: Record<string, unknown>;
  created_at: string;
  updated_at?: string;
}

export interface MemberRecord extends Budgeted, RateLimited {
  team_id: string;
  user_id: string;
  role: MemberRole;
  /** The highest authority that set the member's budget: less authority may only tighten it. */
  limits_set_by?: Authority | null;
  created_at: string;
  updated_at?: string;
}

export const ORG_ROLES = ['org_admin', 'internal_user', 'internal_user_viewer'] as const;
export type OrgRole = (typeof ORG_ROLES)[number];

/** A user's membership of an organization (a user belongs to at most one). */
export interface OrgMemberRecord {
  organization_id: string;
  user_id: string;
  user_role: OrgRole;
  created_at: string;
}

export interface OrgRecord extends Budgeted, RateLimited, Alerting {
  organization_id: string;
  organization_alias?: string | null;
  models?: string[];
  metadata?: Record<string, unknown>;
  created_at: string;
  updated_at?: string;
}

export interface EndUserRecord extends Budgeted {
  user_id: string; // LiteLLM's customer id field
  alias?: string | null;
  blocked?: boolean;
  budget_id?: string | null;
  allowed_model_region?: string | null;
  created_at: string;
  updated_at?: string;
}

export interface BudgetRecord {
  budget_id: string;
  max_budget?: number | null;
  soft_budget?: number | null;
  budget_duration?: string | null;
  tpm_limit?: number | null;
  rpm_limit?: number | null;
  /** How many end users point to this budget (kept by the admin API; a budget in use is not deleted). */
  end_user_count?: number;
  created_at: string;
  updated_at?: string;
}

/** Proxy-wide spend (GLOBAL / SPEND). */
export type GlobalSpendRecord = Pick<Budgeted, 'spend' | 'window_spend' | 'committed' | 'window_committed' | 'committed_elsewhere'>;

/** Who serves a model, as LiteLLM prefixes `litellm_params.model` (`bedrock/...`); absent: OpenAI-compatible. */
export type ModelProvider = 'openai' | 'azure' | 'bedrock' | 'anthropic';

/** A long-context price: above `above_input_tokens` input tokens (cache reads and writes included), the call's prices. */
export interface PriceTier {
  above_input_tokens: number;
  input_cost_per_million: number;
  output_cost_per_million: number;
  cache_read_cost_per_million?: number;
  cache_write_cost_per_million?: number;
  /** Absent (tiers stored before it was kept): the tier's write price. */
  cache_write_1h_cost_per_million?: number;
}

export interface ModelRecord {
  model_name: string; // public name
  /** Absent on records written before providers: OpenAI-compatible. */
  provider?: ModelProvider;
  /** OpenAI-compatible base URL (with `/v1`), Azure `api_base`, Anthropic base; absent for Bedrock (the SDK's regional endpoint). */
  upstream_base_url?: string;
  upstream_model: string;
  /** Bedrock: the model's region (LiteLLM's `aws_region_name`); absent: the function's own. */
  aws_region_name?: string;
  /** Azure OpenAI: `api-version`. */
  api_version?: string;
  /** Secrets Manager name of the upstream key; in local mode, an env variable name. */
  api_key_secret?: string | null;
  input_cost_per_million: number;
  output_cost_per_million: number;
  /** Cache reads and writes per 1M tokens; absent: charged at the input price (never free). */
  cache_read_cost_per_million?: number;
  cache_write_cost_per_million?: number;
  /** Anthropic's 1-hour cache writes per 1M tokens; absent: charged at the cache write price. */
  cache_write_1h_cost_per_million?: number;
  /** Long-context prices, ascending: a call with more input tokens than a tier's threshold is priced at it whole. */
  price_tiers?: PriceTier[];
  /**
   * Audio tokens per 1M (LiteLLM's `input_cost_per_audio_token`, `output_cost_per_audio_token` per
   * 1M): the audio a call sends and gets (gpt-audio, gpt-realtime, gpt-4o-transcribe). Absent:
   * charged at the text price.
   */
  input_audio_cost_per_million?: number;
  output_audio_cost_per_million?: number;
  /**
   * Image tokens per 1M (LiteLLM's `input_cost_per_image_token`, `output_cost_per_image_token` per
   * 1M): the images a call sends and makes (gpt-image-1 edits at $10 against $5 for text; gpt-image-1.5
   * images at $32 against $10). Absent: charged at the text price.
   */
  input_image_cost_per_million?: number;
  output_image_cost_per_million?: number;
  /** Image tokens read from the cache per 1M (LiteLLM's `cache_read_input_image_token_cost` per 1M: gpt-image-1's $2.50). Absent: the cache read price. */
  cache_read_image_cost_per_million?: number;
  /**
   * Dollars per server-side web search (LiteLLM's `search_context_cost_per_query`, its medium
   * size: Anthropic's $10 per 1,000 is 0.01). Absent: the price library's, when it knows one.
   */
  search_context_cost_per_query?: number;
  /**
   * Dollars per 1,000 file search calls (LiteLLM's `file_search_cost_per_1k_calls`: OpenAI's $2.50
   * for the Responses API's `file_search` tool). Absent: the price library's, when it knows one.
   */
  file_search_cost_per_1k_calls?: number;
  /**
   * Dollars per code interpreter session of 1 GB (LiteLLM's `code_interpreter_cost_per_session`:
   * OpenAI's $0.03 a container), a larger container at its multiple (4 GB: 4 sessions' price).
   * Absent: its sessions are logged and counted, not charged.
   */
  code_interpreter_cost_per_session?: number;
  /**
   * OpenAI's `service_tier` prices per 1M tokens (LiteLLM's `input_cost_per_token_priority` and
   * kin): a call the upstream reports served at `priority` or `flex` is charged at them. A tier
   * needs its input and output price; its cache reads without their own price are charged at its
   * input price. Absent: a flex call is charged the standard prices; a priority call is refused
   * (`service_tier: "priority"`) or, answered priority anyway, charged standard and marked.
   */
  input_cost_per_million_priority?: number;
  output_cost_per_million_priority?: number;
  cache_read_cost_per_million_priority?: number;
  input_cost_per_million_flex?: number;
  output_cost_per_million_flex?: number;
  cache_read_cost_per_million_flex?: number;
  /** Where the prices came from: `registry` (given) or the price library with its version. */
  price_source?: string;
  access_groups?: string[];
  aliases?: string[];
  /** The upstream's own limits, shared by every caller of this model (lib/domain/rate-limits). */
  rpm?: number | null;
  tpm?: number | null;
  /** When `rpm` or `tpm` last changed (lib/domain/rate-limits rateChangeStamp). */
  rate_changed_at?: string | null;
  created_at: string;
  updated_at?: string;
}

/** Every entity that may have a budget, as the checks see it. */
export interface EntityState {
  key?: KeyRecord | undefined;
  user?: UserRecord | undefined;
  team?: TeamRecord | undefined;
  member?: MemberRecord | undefined;
  org?: OrgRecord | undefined;
  endUser?: EndUserRecord | undefined;
  /** The end user's reusable budget, when it points to one. */
  endUserBudget?: BudgetRecord | undefined;
  global?: GlobalSpendRecord | undefined;
}
