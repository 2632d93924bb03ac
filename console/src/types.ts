/** The API's answers, as far as the console reads them (LiteLLM's field names). */

export interface Budgeted {
  spend: number;
  total_spend?: number;
  max_budget?: number | null;
  budget_duration?: string | null;
  budget_reset_at?: string | null;
}

export interface Key extends Budgeted {
  token: string;
  key_name: string;
  key_alias?: string | null;
  user_id?: string | null;
  team_id?: string | null;
  organization_id?: string | null;
  models?: string[];
  /** Route groups or paths the key may call (within its role's); empty or absent: any. */
  allowed_routes?: string[] | null;
  blocked?: boolean;
  expires?: string | null;
  created_at?: string;
}

/** `/key/generate`, `/key/regenerate`: the plaintext in `key`, this once. */
export interface NewKey extends Key {
  key: string;
}

export interface Team extends Budgeted {
  team_id: string;
  team_alias?: string | null;
  organization_id?: string | null;
  models?: string[];
  blocked?: boolean;
}

export interface Member extends Budgeted {
  team_id: string;
  user_id: string;
  role: 'admin' | 'user';
  max_budget_in_team?: number | null;
}

export interface TeamInfo {
  team_id: string;
  team_info: Team & { members_with_roles: { user_id: string; role: string }[] };
  team_memberships: Member[];
  keys: Key[];
  keys_next_cursor: string | null;
}

export interface User extends Budgeted {
  user_id: string;
  user_email?: string | null;
  user_alias?: string | null;
  user_role?: string;
  models?: string[];
  organization_id?: string | null;
}

export interface UserInfo {
  user_id: string;
  user_info: User;
  keys: Key[];
  teams: (Member & { team_alias?: string | null })[];
}

export interface Organization extends Budgeted {
  organization_id: string;
  organization_alias?: string | null;
  models?: string[];
}

export interface EndUser extends Budgeted {
  user_id: string;
  alias?: string | null;
  blocked?: boolean;
  budget_id?: string | null;
}

export interface BudgetRecord {
  budget_id: string;
  max_budget?: number | null;
  budget_duration?: string | null;
  created_at?: string;
}

/** A long-context tier of the price library: a call whose input passes `above_input_tokens` is priced whole at it. */
export interface PriceTier {
  above_input_tokens: number;
  input_cost_per_million: number;
  output_cost_per_million: number;
  cache_read_cost_per_million?: number;
  cache_write_cost_per_million?: number;
  cache_write_1h_cost_per_million?: number;
}

/** `/model/info`'s prices: per 1M tokens unless named otherwise; null: the model has none. */
export interface ModelPrices {
  input_cost_per_million: number;
  output_cost_per_million: number;
  cache_read_cost_per_million: number | null;
  cache_write_cost_per_million: number | null;
  cache_write_1h_cost_per_million: number | null;
  input_audio_cost_per_million: number | null;
  output_audio_cost_per_million: number | null;
  input_image_cost_per_million: number | null;
  output_image_cost_per_million: number | null;
  cache_read_image_cost_per_million: number | null;
  /** LiteLLM's shape: one price per search for every size. */
  search_context_cost_per_query: { search_context_size_medium: number } | null;
  /** Dollars per 1,000 file search calls (LiteLLM's unit). */
  file_search_cost_per_1k_calls: number | null;
  /** Dollars per 1 GB code interpreter session (LiteLLM's name). */
  code_interpreter_cost_per_session: number | null;
  input_cost_per_million_priority: number | null;
  output_cost_per_million_priority: number | null;
  cache_read_cost_per_million_priority: number | null;
  input_cost_per_million_flex: number | null;
  output_cost_per_million_flex: number | null;
  cache_read_cost_per_million_flex: number | null;
  price_tiers: PriceTier[] | null;
  /** `@pydantic/genai-prices@<version>` (the price library) or `registry` (set by an admin). */
  price_source: string;
  price_source_version: string | null;
}

export interface ModelEntry {
  model_name: string;
  litellm_params: { model: string; api_base?: string | null; api_key_secret?: string | null };
  model_info: ModelPrices & { access_groups: string[]; aliases: string[] };
}

export interface AuditRecord {
  audit_id: string;
  actor: string;
  actor_role: string;
  at: string;
  action: string;
  entity_type: string;
  entity_id: string;
  changes?: Record<string, unknown>;
}

export interface Page<T> {
  data: T[];
  next_cursor: string | null;
}
