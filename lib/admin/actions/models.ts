/**
 * `/model/*`: the model registry's write side, in LiteLLM's shape as far as it fits:
 * `{model_name, litellm_params: {model, api_base, api_key_secret}, model_info: {prices,
 * access_groups, aliases}}`, stored as model records (read by lib/registry).
 *
 * Upstream keys never reach the table: a model names the secret that holds its key
 * (`api_key_secret`: a Secrets Manager name, or a TOLLGATE_LOCAL_SECRETS name locally;
 * LiteLLM's `api_key: "os.environ/NAME"` is read as the name NAME). A literal `api_key` is refused.
 *
 * Prices are required (a model without one would be callable for free); `*_cost_per_token`
 * is converted to our per-1M prices. Aliases are unique across models and never equal a model
 * name: each alias holds a marker item written in the model's transaction.
 *
 * Writes are proxy-admin only. `/model/info` is open to every caller: others see only the models
 * they may use, and only public fields (no upstream URL, no secret name).
 */
import { z } from 'zod';
import { modelRegistry } from '../../app/llm.js';
import { ALL_PROXY_MODELS, ALL_TEAM_MODELS, firstRefusal, type ModelCatalog, type ModelRestriction } from '../../checks/models.js';
import type { AuditEntry } from '../../domain/audit.js';
import { PRICED_SERVICE_TIERS, TIER_PRICE_FIELDS } from '../../domain/cost.js';
import { rateChangeStamp } from '../../domain/rate-limits.js';
import type { ModelRecord } from '../../domain/records.js';
import { looksLikeKeyNotName, looksLikeSecret } from '../../domain/secrets.js';
import { ConflictError, type InvalidRequestCode, InvalidRequestError } from '../../errors.js';
import { azureConfigProblem } from '../../providers/azure.js';
import { baseUrlProblem } from '../../providers/http.js';
import { parseProviderModel } from '../../providers/index.js';
import { priceOf as knownPrice } from '../../providers/prices.js';
import { defaultSessionPrice } from '../../providers/tool-prices.js';
import { buildSnapshot, modelRecordProblem } from '../../registry/registry.js';
import { encode } from '../../store/codec.js';
import { refs } from '../../store/keys.js';
import { listings } from '../../store/listings.js';
import { definedFields, deleteAny, deleteExisting, putNew, requireAbsent, unchangedSince, updateFields } from '../../store/writes.js';
import { logger } from '../../telemetry.js';
import { type Actions, action } from '../http/handler.js';
import { find, load, notFound, queryAll, type TxOp, transact } from '../persistence.js';
import { type Actor, isProxyAdmin, requireProxyAdmin } from '../rules/actor.js';
import { money, rateCap } from '../schema/fields.js';

const NAME = /^[A-Za-z0-9._:@+=/-]{1,256}$/;
const NAME_RULE = 'must be 1-256 characters of letters, digits and . _ : @ + = / - (no spaces, commas or *)';
const name = z
  .string()
  .regex(NAME, NAME_RULE)
  .refine((n) => n !== ALL_PROXY_MODELS && n !== ALL_TEAM_MODELS, 'is a reserved name')
  // A model name is logged with every request it serves.
  .refine((n) => !looksLikeSecret(n), 'must not be a secret: it looks like an API key or token');

const KEY_AS_NAME = 'looks like a key itself: give the name of the secret that holds the key';
const secretName = z
  .string()
  .regex(/^[A-Za-z0-9/_+=.@:-]{1,512}$/, 'must be the name (or ARN) of a secret: letters, digits and / _ + = . @ : -')
  // Provider keys (`sk-...`, `AIza...`, Azure's 32 hex digits, an AWS secret key) look like this; a secret's name does not.
  .refine((s) => !looksLikeKeyNotName(s), KEY_AS_NAME);

const httpUrl = z
  .string()
  .max(2048)
  .superRefine((u, ctx) => {
    const problem = baseUrlProblem(u);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  });

const litellmParams = z
  .object({
    model: z.string().min(1).max(256),
    api_base: httpUrl.optional(),
    // Accepted only to refuse a literal key with a clear error (see keySecretOf).
    api_key: z.string().max(8192).optional(),
    api_key_secret: secretName.nullable().optional(),
    // The upstream's own limits, shared by every caller of the model (lib/domain/rate-limits).
    rpm: rateCap,
    tpm: rateCap,
    // Bedrock: the model's region (absent: the llm function's own); Azure OpenAI: `api-version`.
    aws_region_name: z
      .string()
      .regex(/^[a-z]{2}(-[a-z]+)+-\d{1,2}$/, 'must be an AWS region such as us-east-1')
      .optional(),
    api_version: z.string().min(1).max(64).optional(),
  })
  .strict();

type TierPriceField = (typeof TIER_PRICE_FIELDS)[number];
const TIER_PRICE_SCHEMA = Object.fromEntries(TIER_PRICE_FIELDS.map((f) => [f, money.optional()])) as Record<
  TierPriceField,
  z.ZodOptional<typeof money>
>;

const modelInfo = z
  .object({
    input_cost_per_token: money.optional(),
    output_cost_per_token: money.optional(),
    input_cost_per_million: money.optional(),
    output_cost_per_million: money.optional(),
    cache_read_cost_per_million: money.optional(),
    cache_write_cost_per_million: money.optional(),
    cache_write_1h_cost_per_million: money.optional(),
    // Audio tokens: per 1M, or LiteLLM's per token.
    input_audio_cost_per_million: money.optional(),
    output_audio_cost_per_million: money.optional(),
    input_cost_per_audio_token: money.optional(),
    output_cost_per_audio_token: money.optional(),
    // Image tokens: per 1M, or LiteLLM's per token.
    input_image_cost_per_million: money.optional(),
    output_image_cost_per_million: money.optional(),
    input_cost_per_image_token: money.optional(),
    output_cost_per_image_token: money.optional(),
    cache_read_image_cost_per_million: money.optional(),
    cache_read_input_image_token_cost: money.optional(),
    // Dollars per web search: a number, or LiteLLM's `{search_context_size_low, _medium, _high}`.
    search_context_cost_per_query: z
      .union(
        [
          money,
          z
            .object({
              search_context_size_low: money.optional(),
              search_context_size_medium: money.optional(),
              search_context_size_high: money.optional(),
            })
            .strict(),
        ],
        { error: "must be a price in dollars (a number), or LiteLLM's {search_context_size_low, _medium, _high} of prices" },
      )
      .optional(),
    // Dollars per 1,000 file search calls (LiteLLM's name and unit).
    file_search_cost_per_1k_calls: money.optional(),
    // Dollars per 1 GB code interpreter session (LiteLLM's name and unit).
    code_interpreter_cost_per_session: money.optional(),
    ...TIER_PRICE_SCHEMA,
    access_groups: z.array(z.string().regex(NAME, NAME_RULE)).max(100).optional(),
    aliases: z.array(name).max(40).optional(),
  })
  .strict();

/** LiteLLM's default upstream for an OpenAI model with no `api_base`. */
const DEFAULT_API_BASE = 'https://api.openai.com/v1';

const aliasTaken = (alias: string, what: string) =>
  new ConflictError('model_alias_taken', `alias \`${alias}\` is already ${what}`, 'model_info.aliases');
const modelChangedMeanwhile = (modelName: string) => () =>
  new ConflictError('concurrent_update', `model \`${modelName}\` changed meanwhile (or is gone); retry`, 'model_name');
const audit = (verb: string, modelName: string, changes?: Record<string, unknown>): AuditEntry => ({
  action: `model.${verb}`,
  entity_type: 'model',
  entity_id: modelName,
  ...(changes ? { changes } : {}),
});

/**
 * `/model/update` also takes null for the upstream base and the input and output prices: back to
 * what `/model/new` gives when they are left out (the default base; the price library's price).
 */
const updateParams = litellmParams.partial().extend({ api_base: httpUrl.nullable().optional() }).strict();
const updateInfo = modelInfo
  .extend({
    input_cost_per_token: money.nullable().optional(),
    output_cost_per_token: money.nullable().optional(),
    input_cost_per_million: money.nullable().optional(),
    output_cost_per_million: money.nullable().optional(),
  })
  .strict();

type Params = Partial<z.output<typeof litellmParams>>;
type Info = z.output<typeof modelInfo>;
type UpdateInfo = z.output<typeof updateInfo>;

/** The secret name the request gives, undefined when it gives none; a literal key is refused. */
function keySecretOf(p: Pick<Params, 'api_key' | 'api_key_secret'> | undefined): string | null | undefined {
  if (p?.api_key === undefined) return p?.api_key_secret;
  const env = /^os\.environ\/([A-Za-z0-9_./-]{1,256})$/.exec(p.api_key);
  if (!env) {
    // The message never repeats the value.
    throw new InvalidRequestError(
      "`litellm_params.api_key`: a literal upstream key is never stored; put it in a secret (Secrets Manager, or TOLLGATE_LOCAL_SECRETS in local mode) and pass the secret's name as `litellm_params.api_key_secret` (or `os.environ/<NAME>`)",
      'literal_api_key',
      'litellm_params.api_key',
    );
  }
  // `os.environ/<a key>`: the key pasted where its variable's name belongs (never repeated).
  if (looksLikeKeyNotName(env[1] as string))
    throw new InvalidRequestError(
      `\`litellm_params.api_key\`: the name after os.environ/ ${KEY_AS_NAME}`,
      'literal_api_key',
      'litellm_params.api_key',
    );
  if (p.api_key_secret !== undefined) {
    throw new InvalidRequestError(
      'give `litellm_params.api_key` (os.environ/<NAME>) or `litellm_params.api_key_secret`, not both',
      'invalid_field',
      'litellm_params.api_key',
    );
  }
  return env[1];
}

/** One side's price per 1M tokens from either form; undefined when the request gives none. */
const priceOf = (info: Info | undefined, side: 'input' | 'output'): number | undefined =>
  perMillionOf(info, `${side}_cost_per_token`, `${side}_cost_per_million`);

/**
 * A price per 1M from either of its forms (per token, LiteLLM's; per 1M); undefined when not
 * given; both given is a 400 naming the per-token field.
 */
function perMillionOf(info: Info | undefined, perTokenField: keyof Info, perMillionField: keyof Info): number | undefined {
  const perToken = info?.[perTokenField] as number | undefined;
  const perMillion = info?.[perMillionField] as number | undefined;
  if (perToken !== undefined && perMillion !== undefined) {
    throw new InvalidRequestError(
      `give \`model_info.${perTokenField}\` or \`model_info.${perMillionField}\`, not both`,
      'invalid_field',
      `model_info.${perTokenField}`,
    );
  }
  // Rounded to nano-dollars per 1M so 0.0000025/token is exactly 2.5, not 2.4999999999999996.
  return perMillion ?? (perToken === undefined ? undefined : Number((perToken * 1e6).toFixed(9)));
}

/**
 * Dollars per search as given: the number, or the dearest of LiteLLM's context sizes (Anthropic's
 * are all one price; OpenAI's differ, and a call's size is not known: never charged below it).
 */
function searchPriceOf(info: Info | undefined): number | undefined {
  const given = info?.search_context_cost_per_query;
  if (given === undefined || typeof given === 'number') return given;
  const sizes = Object.values(given).filter((v): v is number => v !== undefined);
  if (sizes.length === 0)
    throw new InvalidRequestError(
      '`model_info.search_context_cost_per_query` gives no price: give a number, or `search_context_size_medium`',
      'invalid_field',
      'model_info.search_context_cost_per_query',
    );
  return Math.max(...sizes);
}

/** The audio and image prices per 1M, each with LiteLLM's per-token name (taken as input, shown beside it). */
const MEDIA_PRICES = [
  ['input_audio_cost_per_million', 'input_cost_per_audio_token'],
  ['output_audio_cost_per_million', 'output_cost_per_audio_token'],
  ['input_image_cost_per_million', 'input_cost_per_image_token'],
  ['output_image_cost_per_million', 'output_cost_per_image_token'],
  ['cache_read_image_cost_per_million', 'cache_read_input_image_token_cost'],
] as const satisfies readonly (readonly [keyof ModelRecord & keyof Info, keyof Info])[];

/** The audio and image prices per 1M given in either form (per 1M, or LiteLLM's per token); undefined when not given. */
const mediaPricesOf = (info: Info | undefined) =>
  Object.fromEntries(MEDIA_PRICES.map(([million, token]) => [million, perMillionOf(info, token, million)])) as Partial<
    Record<(typeof MEDIA_PRICES)[number][0], number>
  >;

/** The given prices beside input and output: cache, audio, image, per-search, file search and service-tier prices. */
const otherPricesOf = (info: Info | undefined) => ({
  cache_read_cost_per_million: info?.cache_read_cost_per_million,
  cache_write_cost_per_million: info?.cache_write_cost_per_million,
  cache_write_1h_cost_per_million: info?.cache_write_1h_cost_per_million,
  ...mediaPricesOf(info),
  search_context_cost_per_query: searchPriceOf(info),
  file_search_cost_per_1k_calls: info?.file_search_cost_per_1k_calls,
  code_interpreter_cost_per_session: info?.code_interpreter_cost_per_session,
  ...Object.fromEntries(TIER_PRICE_FIELDS.map((f) => [f, info?.[f]])),
});

/**
 * The request's prices with the cleared ones (null) taken out, and which sides were cleared (`*_cost_per_million`
 * or LiteLLM's `*_cost_per_token`). A cleared side given in its other form too is refused as both forms are.
 */
function clearedPrices(given: UpdateInfo | undefined): { info: Info | undefined; cleared: ('input' | 'output')[] } {
  if (!given) return { info: undefined, cleared: [] };
  const cleared = (['input', 'output'] as const).filter(
    (side) => given[`${side}_cost_per_million`] === null || given[`${side}_cost_per_token`] === null,
  );
  for (const side of cleared) {
    const perToken = given[`${side}_cost_per_token`];
    const perMillion = given[`${side}_cost_per_million`];
    if (perToken !== undefined && perMillion !== undefined)
      throw new InvalidRequestError(
        `give \`model_info.${side}_cost_per_token\` or \`model_info.${side}_cost_per_million\`, not both`,
        'invalid_field',
        `model_info.${side}_cost_per_token`,
      );
  }
  const info = Object.fromEntries(Object.entries(given).filter(([, v]) => v !== null)) as Info;
  return { info, cleared };
}

/**
 * The model's input and output prices with the cleared sides back to the price library's, priced
 * as /model/new prices them: a side neither given nor cleared keeps its price (given again when it
 * is not the library's, so an admin's price stays an admin's); both sides the library's is the
 * library's source and its long-context tiers. The other prices given are set as usual, the rest kept.
 * A model the library does not know cannot go back to it: a 400 naming the cleared price.
 */
function libraryPricesAgain(
  info: Info | undefined,
  cleared: readonly ('input' | 'output')[],
  current: ModelRecord,
  now: Date,
): Partial<PriceFields> {
  const known = knownPrice(current.provider ?? 'openai', current.upstream_model, now);
  if (!known) {
    const side = cleared[0] as 'input' | 'output';
    throw new InvalidRequestError(
      `\`model_info.${side}_cost_per_million\` cannot go back to the price library's: the price library does not know \`${litellmModel(current)}\`, and a model without a price would be free to call`,
      'missing_field',
      `model_info.${side}_cost_per_million`,
    );
  }
  const kept = (side: 'input' | 'output') => {
    const field = `${side}_cost_per_million` as const;
    return cleared.includes(side) || priceOf(info, side) !== undefined || current[field] === known[field]
      ? {}
      : { [field]: current[field] };
  };
  const repriced = pricesFor({ ...info, ...kept('input'), ...kept('output') }, current, now);
  return definedFields({
    input_cost_per_million: repriced.input_cost_per_million,
    output_cost_per_million: repriced.output_cost_per_million,
    price_source: repriced.price_source,
    price_tiers: repriced.price_tiers,
    ...otherPricesOf(info),
  });
}

/**
 * A service tier is priced by its input and output price together: one without the other is a
 * 400 naming the missing one (a tier half priced would charge its tokens at nothing we know).
 */
function requireTierPairs(m: Partial<ModelRecord>): void {
  for (const tier of PRICED_SERVICE_TIERS) {
    const input = m[`input_cost_per_million_${tier}`];
    const output = m[`output_cost_per_million_${tier}`];
    const cacheRead = m[`cache_read_cost_per_million_${tier}`];
    if ((input === undefined) === (output === undefined) && (cacheRead === undefined || input !== undefined)) continue;
    const missing = input === undefined ? `input_cost_per_million_${tier}` : `output_cost_per_million_${tier}`;
    throw new InvalidRequestError(
      `\`model_info.${missing}\` is required with the model's other ${tier} prices: a ${tier} call is priced by its input and output price together`,
      'missing_field',
      `model_info.${missing}`,
    );
  }
}

function checkAliases(modelName: string, aliases: readonly string[] | undefined): void {
  if (!aliases) return;
  const seen = new Set<string>();
  for (const a of aliases) {
    if (a === modelName) throw new InvalidRequestError(`alias \`${a}\` is the model's own name`, 'invalid_field', 'model_info.aliases');
    if (seen.has(a)) throw new InvalidRequestError(`alias \`${a}\` is listed twice`, 'invalid_field', 'model_info.aliases');
    seen.add(a);
  }
}

/**
 * A name a key's `models` may list means one thing: a model (by its name or an alias) or an access
 * group, never both. An alias named like a group would hand every key allowing the group that
 * alias's model (found by review: group `cheap`, alias `cheap -> o1-pro`); refused, naming the field.
 */
async function requireNamesApart(
  modelName: string,
  aliases: readonly string[],
  groups: readonly string[],
  checkName: boolean,
): Promise<void> {
  const others = (await queryAll<ModelRecord>(listings.all('model'))).filter((m) => m.model_name !== modelName);
  const otherGroups = new Set(others.flatMap((m) => m.access_groups ?? []));
  const ownGroups = new Set(groups);
  const modelNames = new Set([modelName, ...aliases, ...others.flatMap((m) => [m.model_name, ...(m.aliases ?? [])])]);
  const clash = (field: string, what: string, n: string) =>
    new InvalidRequestError(`\`${n}\` is ${what}: a name is a model or an access group, not both`, 'invalid_field', field);
  if (checkName && otherGroups.has(modelName)) throw clash('model_name', "another model's access group", modelName);
  for (const a of aliases) if (otherGroups.has(a) || ownGroups.has(a)) throw clash('model_info.aliases', 'an access group', a);
  for (const g of groups) if (modelNames.has(g)) throw clash('model_info.access_groups', 'the name or an alias of a model', g);
}

/** Claims new aliases: each must be free and not a model's name, checked now for the message and held by the transaction. */
async function claimAliases(modelName: string, added: readonly string[]): Promise<TxOp[]> {
  const ops: TxOp[] = [];
  for (const a of added) {
    const owner = await find('model_alias', a);
    if (owner && owner.model_name !== modelName) throw aliasTaken(a, `an alias of model \`${owner.model_name}\``);
    if (await find('model', a)) throw aliasTaken(a, 'the name of a model');
    ops.push(putNew(refs.modelAlias(a), encode.modelAlias(a, modelName), () => aliasTaken(a, 'taken')));
    ops.push(requireAbsent(refs.model(a), () => aliasTaken(a, 'the name of a model')));
  }
  return ops;
}

/** Where the model is served, from LiteLLM's `litellm_params` (a clear 400 naming the field otherwise). */
function upstreamOf(
  p: Params & { model: string },
): Pick<ModelRecord, 'provider' | 'upstream_model' | 'upstream_base_url' | 'aws_region_name' | 'api_version'> {
  let parsed: ReturnType<typeof parseProviderModel>;
  try {
    parsed = parseProviderModel(p.model);
  } catch (e) {
    if (e instanceof InvalidRequestError) throw new InvalidRequestError(e.message, e.code as InvalidRequestCode, 'litellm_params.model');
    throw e;
  }
  const { provider, upstreamModel } = parsed;
  const refuse = (field: string, why: string) => {
    throw new InvalidRequestError(`\`litellm_params.${field}\` ${why}`, 'invalid_field', `litellm_params.${field}`);
  };
  if (p.aws_region_name !== undefined && provider !== 'bedrock') refuse('aws_region_name', 'is for `bedrock/` models only');
  if (p.api_version !== undefined && provider !== 'azure') refuse('api_version', 'is for `azure/` models only');
  if (provider === 'bedrock' && p.api_base !== undefined)
    refuse('api_base', 'is not used for `bedrock/` models: they are reached through the AWS SDK in `aws_region_name`');
  const record = {
    provider,
    upstream_model: upstreamModel,
    ...(provider === 'openai'
      ? { upstream_base_url: p.api_base ?? DEFAULT_API_BASE }
      : p.api_base
        ? { upstream_base_url: p.api_base }
        : {}),
    ...(p.aws_region_name ? { aws_region_name: p.aws_region_name } : {}),
    ...(p.api_version ? { api_version: p.api_version } : {}),
  };
  if (provider === 'azure') {
    const problem = azureConfigProblem(record);
    if (problem) {
      const field = problem.startsWith('api_base') ? 'api_base' : problem.startsWith('api_version') ? 'api_version' : 'model';
      throw new InvalidRequestError(`\`litellm_params.${field}\`: ${problem}`, 'invalid_field', `litellm_params.${field}`);
    }
  }
  return record;
}

type PriceFields = Pick<
  ModelRecord,
  | 'input_cost_per_million'
  | 'output_cost_per_million'
  | 'cache_read_cost_per_million'
  | 'cache_write_cost_per_million'
  | 'cache_write_1h_cost_per_million'
  | 'input_audio_cost_per_million'
  | 'output_audio_cost_per_million'
  | 'input_image_cost_per_million'
  | 'output_image_cost_per_million'
  | 'cache_read_image_cost_per_million'
  | 'price_tiers'
  | 'price_source'
  | 'search_context_cost_per_query'
  | 'file_search_cost_per_1k_calls'
  | 'code_interpreter_cost_per_session'
  | TierPriceField
>;

/**
 * The model's prices: the ones given, the rest from the price library when it knows the model
 * (the registry's own prices override it). Undefined sides stay undefined: the caller refuses them.
 */
function pricesFor(
  info: Info | undefined,
  upstream: Pick<ModelRecord, 'provider' | 'upstream_model' | 'upstream_base_url'>,
  now: Date,
): Partial<PriceFields> {
  const others = otherPricesOf(info);
  const given = {
    input_cost_per_million: priceOf(info, 'input'),
    output_cost_per_million: priceOf(info, 'output'),
    ...others,
    // OpenAI's list price for the tool, whoever prices the tokens (found by review: a model given
    // its token prices had none, so its sessions went unbilled and strict callers were refused).
    code_interpreter_cost_per_session: others.code_interpreter_cost_per_session ?? defaultSessionPrice(upstream),
  };
  if (given.input_cost_per_million !== undefined && given.output_cost_per_million !== undefined)
    return { ...definedFields(given), price_source: 'registry' };
  const known = knownPrice(upstream.provider ?? 'openai', upstream.upstream_model, now);
  if (!known) return definedFields(given);
  return {
    input_cost_per_million: given.input_cost_per_million ?? known.input_cost_per_million,
    output_cost_per_million: given.output_cost_per_million ?? known.output_cost_per_million,
    ...definedFields({
      ...given,
      input_cost_per_million: undefined,
      output_cost_per_million: undefined,
      search_context_cost_per_query: given.search_context_cost_per_query ?? known.search_context_cost_per_query,
      file_search_cost_per_1k_calls: given.file_search_cost_per_1k_calls ?? known.file_search_cost_per_1k_calls,
      cache_read_cost_per_million: given.cache_read_cost_per_million ?? known.cache_read_cost_per_million,
      cache_write_cost_per_million: given.cache_write_cost_per_million ?? known.cache_write_cost_per_million,
      cache_write_1h_cost_per_million: given.cache_write_1h_cost_per_million ?? known.cache_write_1h_cost_per_million,
      input_audio_cost_per_million: given.input_audio_cost_per_million ?? known.input_audio_cost_per_million,
      output_audio_cost_per_million: given.output_audio_cost_per_million ?? known.output_audio_cost_per_million,
      input_image_cost_per_million: given.input_image_cost_per_million ?? known.input_image_cost_per_million,
      output_image_cost_per_million: given.output_image_cost_per_million ?? known.output_image_cost_per_million,
      cache_read_image_cost_per_million: given.cache_read_image_cost_per_million ?? known.cache_read_image_cost_per_million,
      // The library's long-context tiers hold every price: dropped when an input or output price is
      // given (as /model/update on the same model), kept when only a cache price is (never the base price past 200k).
      price_tiers:
        given.input_cost_per_million === undefined && given.output_cost_per_million === undefined && known.tiers?.length
          ? known.tiers
          : undefined,
    }),
    price_source: `${known.source.name}@${known.source.version}`,
  };
}

/** Prices a model may lack (then charged at the input price, or the write price for 1-hour writes). */
const OPTIONAL_PRICES = [
  'cache_read_cost_per_million',
  'cache_write_cost_per_million',
  'cache_write_1h_cost_per_million',
  'input_audio_cost_per_million',
  'output_audio_cost_per_million',
  'input_image_cost_per_million',
  'output_image_cost_per_million',
  'cache_read_image_cost_per_million',
  'price_tiers',
  'search_context_cost_per_query',
  'file_search_cost_per_1k_calls',
  'code_interpreter_cost_per_session',
  ...TIER_PRICE_FIELDS,
] as const;

function requirePrices(p: Partial<PriceFields>): asserts p is PriceFields {
  for (const side of ['input', 'output'] as const) {
    if (p[`${side}_cost_per_million`] === undefined) {
      throw new InvalidRequestError(
        `\`model_info.${side}_cost_per_million\` (or \`${side}_cost_per_token\`) is required: the price library does not know this model, and a model without a price would be free to call`,
        'missing_field',
        `model_info.${side}_cost_per_million`,
      );
    }
  }
}

/** LiteLLM's model string for a record: `bedrock/<id>`; an OpenAI-compatible model's id as given. */
const litellmModel = (m: ModelRecord): string =>
  m.provider && m.provider !== 'openai' ? `${m.provider}/${m.upstream_model}` : m.upstream_model;

/** LiteLLM's `/model/info` entry; admins also see where the model points and which secret it uses. */
function modelView(m: ModelRecord, admin: boolean) {
  return {
    model_name: m.model_name,
    litellm_params: {
      model: litellmModel(m),
      ...(admin
        ? {
            api_base: m.upstream_base_url ?? null,
            api_key_secret: m.api_key_secret ?? null,
            ...(m.aws_region_name ? { aws_region_name: m.aws_region_name } : {}),
            ...(m.api_version ? { api_version: m.api_version } : {}),
          }
        : {}),
      ...(m.rpm != null ? { rpm: m.rpm } : {}),
      ...(m.tpm != null ? { tpm: m.tpm } : {}),
    },
    model_info: {
      id: m.model_name,
      input_cost_per_million: m.input_cost_per_million,
      output_cost_per_million: m.output_cost_per_million,
      input_cost_per_token: m.input_cost_per_million / 1e6,
      output_cost_per_token: m.output_cost_per_million / 1e6,
      cache_read_cost_per_million: m.cache_read_cost_per_million ?? null,
      cache_write_cost_per_million: m.cache_write_cost_per_million ?? null,
      cache_write_1h_cost_per_million: m.cache_write_1h_cost_per_million ?? null,
      ...Object.fromEntries(
        MEDIA_PRICES.flatMap(([million, token]) => {
          const price = m[million];
          return [
            [million, price ?? null],
            [token, price == null ? null : price / 1e6],
          ];
        }),
      ),
      price_tiers: m.price_tiers ?? null,
      // LiteLLM's shape: one price per search whatever the context size.
      search_context_cost_per_query:
        m.search_context_cost_per_query === undefined
          ? null
          : {
              search_context_size_low: m.search_context_cost_per_query,
              search_context_size_medium: m.search_context_cost_per_query,
              search_context_size_high: m.search_context_cost_per_query,
            },
      file_search_cost_per_1k_calls: m.file_search_cost_per_1k_calls ?? null,
      code_interpreter_cost_per_session: m.code_interpreter_cost_per_session ?? null,
      ...Object.fromEntries(TIER_PRICE_FIELDS.map((f) => [f, m[f] ?? null])),
      price_source: m.price_source ?? 'registry',
      price_source_version: priceSourceVersion(m.price_source),
      litellm_provider: m.provider ?? 'openai',
      access_groups: m.access_groups ?? [],
      aliases: m.aliases ?? [],
      ...(admin ? { created_at: m.created_at, updated_at: m.updated_at ?? null } : {}),
    },
  };
}

/** The version part of `name@version`; null for registry prices. */
const priceSourceVersion = (source: string | undefined): string | null => {
  const at = source?.lastIndexOf('@') ?? -1;
  return source && at > 0 ? source.slice(at + 1) : null;
};

const isRestriction = (r: unknown): r is ModelRestriction =>
  !!r &&
  typeof (r as ModelRestriction).entity === 'string' &&
  Array.isArray((r as ModelRestriction).models) &&
  (r as ModelRestriction).models.every((m) => typeof m === 'string');

/**
 * Which models the caller may use (by name or by one of its aliases, as the checks allow a
 * request), from the authorizer's restrictions; unreadable restrictions allow nothing.
 */
function usableBy(actor: Actor, catalog: ModelCatalog): (m: ModelRecord) => boolean {
  if (isProxyAdmin(actor) || !actor.models) return () => true;
  let restrictions: ModelRestriction[];
  try {
    const parsed: unknown = JSON.parse(actor.models);
    if (!Array.isArray(parsed) || !parsed.every(isRestriction)) throw new TypeError('not a restriction list');
    restrictions = parsed;
  } catch {
    logger().warn('unreadable model restrictions in the authorizer context');
    return () => false;
  }
  return (m) => [m.model_name, ...(m.aliases ?? [])].some((n) => firstRefusal(restrictions, n, catalog) === undefined);
}

/** Commits a model change; this instance's registry forgets its list (others refresh within the cache TTL). */
async function commit(ops: TxOp[], actor: Actor, entry: AuditEntry, now: Date): Promise<void> {
  try {
    await transact(ops, actor, entry, now);
  } finally {
    modelRegistry().invalidate();
  }
}

/** The audit view of a model's fields: secret names are redacted by the audit log itself. */
const auditFields = (m: Partial<ModelRecord>) => definedFields({ ...m, created_at: undefined, updated_at: undefined });

export const modelActions: Actions = {
  new: action(
    z.object({ model_name: name, litellm_params: litellmParams, model_info: modelInfo.optional() }).strict(),
    async (input, { actor, now }) => {
      requireProxyAdmin(actor, 'add models');
      const modelName = input.model_name;
      const apiKeySecret = keySecretOf(input.litellm_params);
      const upstream = upstreamOf(input.litellm_params);
      const prices = pricesFor(input.model_info, upstream, now);
      requirePrices(prices);
      requireTierPairs(prices);
      const aliases = input.model_info?.aliases;
      checkAliases(modelName, aliases);
      const record: ModelRecord = {
        model_name: modelName,
        ...upstream,
        ...(apiKeySecret ? { api_key_secret: apiKeySecret } : {}),
        ...prices,
        access_groups: input.model_info?.access_groups ?? [],
        aliases: aliases ?? [],
        ...definedFields({ rpm: input.litellm_params.rpm ?? undefined, tpm: input.litellm_params.tpm ?? undefined }),
        created_at: now.toISOString(),
      };
      await requireNamesApart(modelName, record.aliases ?? [], record.access_groups ?? [], true);
      const aliasOwner = await find('model_alias', modelName);
      const nameTaken = () =>
        new ConflictError(
          'model_name_taken',
          `\`${modelName}\` is already an alias of model \`${aliasOwner?.model_name ?? '?'}\``,
          'model_name',
        );
      if (aliasOwner) throw nameTaken();
      const ops: TxOp[] = [
        putNew(
          refs.model(modelName),
          encode.model(record),
          () => new ConflictError('model_exists', `model \`${modelName}\` already exists`, 'model_name'),
        ),
        requireAbsent(refs.modelAlias(modelName), nameTaken),
        ...(await claimAliases(modelName, record.aliases ?? [])),
      ];
      await commit(ops, actor, audit('new', modelName, auditFields(record)), now);
      return modelView(record, true);
    },
  ),

  update: action(
    z.object({ model_name: name, litellm_params: updateParams.optional(), model_info: updateInfo.optional() }).strict(),
    async (input, { actor, now }) => {
      requireProxyAdmin(actor, 'update models');
      const modelName = input.model_name;
      const p = input.litellm_params;
      const current = await load('model', modelName);
      const { info, cleared } = clearedPrices(input.model_info);
      // A changed model string, region, version or base is read again whole, as /model/new reads it.
      const upstream =
        p && (p.model !== undefined || p.api_base !== undefined || p.aws_region_name !== undefined || p.api_version !== undefined)
          ? upstreamOf({
              model: p.model ?? litellmModel(current),
              // null: no base given, as /model/new takes it (OpenAI's default for an OpenAI model).
              api_base: p.api_base === null ? undefined : (p.api_base ?? current.upstream_base_url),
              aws_region_name: p.aws_region_name ?? current.aws_region_name,
              api_version: p.api_version ?? current.api_version,
            })
          : undefined;
      const modelChanged =
        upstream !== undefined &&
        (upstream.provider !== (current.provider ?? 'openai') || upstream.upstream_model !== current.upstream_model);
      const givenPrices = pricesFor(info, upstream ?? current, now);
      // Another model is priced again (its known price, or the prices given); the old model's prices never carry over.
      // A cleared input or output price is the library's again (libraryPricesAgain).
      const prices: Partial<PriceFields> = modelChanged
        ? givenPrices
        : cleared.length > 0
          ? libraryPricesAgain(info, cleared, current, now)
          : definedFields({
              input_cost_per_million: priceOf(info, 'input'),
              output_cost_per_million: priceOf(info, 'output'),
              ...otherPricesOf(info),
            });
      if (modelChanged) requirePrices(prices);
      const set = definedFields({
        ...(upstream ?? {}),
        api_key_secret: keySecretOf(p),
        rpm: p?.rpm,
        tpm: p?.tpm,
        ...prices,
        ...(!modelChanged &&
        cleared.length === 0 &&
        (prices.input_cost_per_million !== undefined || prices.output_cost_per_million !== undefined)
          ? { price_source: 'registry' }
          : {}),
        access_groups: info?.access_groups,
        aliases: info?.aliases,
      });
      if (Object.keys(set).length === 0)
        throw new InvalidRequestError('nothing to update: give `litellm_params` or `model_info` fields', 'nothing_to_update');
      // A record made before the per-search or file search prices were kept takes the library's
      // with any update: until then its searches are charged nothing (and a strict caller may
      // not search on it). Its image prices too, while its
      // prices are the library's: until then its images cost the text price. An admin's own
      // prices (`registry`) are never joined by the library's image prices, which could be below
      // them (found by review: a marked-up model's images got the library's lower price with an
      // unrelated update).
      const source = set.price_source ?? current.price_source;
      const libraryPriced = source !== undefined && source !== 'registry';
      const unkept = (
        [
          'search_context_cost_per_query',
          'file_search_cost_per_1k_calls',
          ...(libraryPriced
            ? (['input_image_cost_per_million', 'output_image_cost_per_million', 'cache_read_image_cost_per_million'] as const)
            : []),
        ] as const
      ).filter((f) => !modelChanged && current[f] === undefined && set[f] === undefined);
      const known = unkept.length > 0 ? knownPrice(current.provider ?? 'openai', current.upstream_model, now) : undefined;
      for (const f of unkept) if (known?.[f] !== undefined) set[f] = known[f];
      // And OpenAI's code interpreter price, which the registry charges it at until then.
      if (!modelChanged && current.code_interpreter_cost_per_session === undefined && set.code_interpreter_cost_per_session === undefined) {
        const session = defaultSessionPrice({ ...current, ...set });
        if (session !== undefined) set.code_interpreter_cost_per_session = session;
      }
      checkAliases(modelName, set.aliases as string[] | undefined);
      if (set.aliases !== undefined || set.access_groups !== undefined) {
        await requireNamesApart(
          modelName,
          (set.aliases as string[] | undefined) ?? current.aliases ?? [],
          (set.access_groups as string[] | undefined) ?? current.access_groups ?? [],
          false,
        );
      }
      requireTierPairs(modelChanged ? prices : { ...current, ...prices });
      const problem = modelRecordProblem({ ...current, ...set } as ModelRecord);
      if (problem) throw new InvalidRequestError(`the updated model would be unusable: ${problem}`, 'invalid_field', 'litellm_params');
      // Another model's prices replace the old model's whole: a cache price it has none of is removed, never kept.
      // Prices given for the same model replace the library's, its tiers too.
      const given = prices.input_cost_per_million !== undefined || prices.output_cost_per_million !== undefined;
      const dropped: string[] = modelChanged
        ? OPTIONAL_PRICES.filter((f) => prices[f] === undefined && current[f] !== undefined)
        : given && prices.price_tiers === undefined && current.price_tiers !== undefined
          ? ['price_tiers']
          : [];
      // A base cleared on a model that takes none by default (not OpenAI's) is removed.
      if (upstream && upstream.upstream_base_url === undefined && current.upstream_base_url !== undefined)
        dropped.push('upstream_base_url');
      const ops: TxOp[] = [
        updateFields(
          refs.model(modelName),
          { ...set, ...rateChangeStamp(current, set, now), updated_at: now.toISOString() },
          dropped,
          set.aliases ? modelChangedMeanwhile(modelName) : notFound('model', modelName),
          // Its alias markers are written from the aliases read: an alias change landing meanwhile
          // would leave a marker no model lists (found by review). Held to the model as read.
          set.aliases ? unchangedSince(current) : undefined,
        ),
      ];
      if (set.aliases) {
        const before = new Set(current.aliases ?? []);
        const after = new Set(set.aliases);
        for (const a of before) if (!after.has(a)) ops.push(deleteAny(refs.modelAlias(a)));
        ops.push(
          ...(await claimAliases(
            modelName,
            set.aliases.filter((a) => !before.has(a)),
          )),
        );
      }
      await commit(ops, actor, audit('update', modelName, auditFields(set)), now);
      return modelView(await load('model', modelName), true);
    },
  ),

  delete: action(z.object({ model_name: name.optional(), id: name.optional() }).strict(), async (input, { actor, now }) => {
    requireProxyAdmin(actor, 'delete models');
    if (input.model_name && input.id && input.model_name !== input.id) {
      throw new InvalidRequestError('`model_name` and `id` name different models; give one', 'invalid_field', 'id');
    }
    const modelName = input.model_name ?? input.id;
    if (!modelName) throw new InvalidRequestError("`model_name` (or LiteLLM's `id`) is required", 'missing_field', 'model_name');
    const current = await load('model', modelName);
    const ops: TxOp[] = [
      // The markers deleted are those of the aliases read: held to that read, an alias change meanwhile refuses it.
      deleteExisting(refs.model(modelName), modelChangedMeanwhile(modelName), unchangedSince(current)),
      ...(current.aliases ?? []).map((a) => deleteAny(refs.modelAlias(a))),
    ];
    await commit(ops, actor, audit('delete', modelName), now);
    return { deleted_model_name: modelName };
  }),

  info: action(z.object({ model_name: name.optional(), litellm_model_id: name.optional() }).strict(), async (q, { actor }) => {
    const wanted = q.model_name ?? q.litellm_model_id;
    const records = await queryAll<ModelRecord>(listings.all('model'));
    const usable = usableBy(actor, buildSnapshot(records).catalog);
    const admin = isProxyAdmin(actor);
    const visible = records.filter((m) => usable(m) && (wanted === undefined || m.model_name === wanted));
    // A model the caller may not use is as unknown to it as a model that does not exist.
    if (wanted !== undefined && visible.length === 0) throw notFound('model', wanted)();
    return { data: visible.map((m) => modelView(m, admin)) };
  }),
};
