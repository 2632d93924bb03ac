/**
 * Models a request's tools name (found by review): the Responses API's `image_generation` tool
 * runs an image model of its own (`model`, by default `gpt-image-1`), which the caller's model
 * lists never saw. Each such model is checked as a model the body names, must be one of the
 * registry's, and goes to the upstream as the registry's upstream id for it.
 */
import { isValidPrice, type Prices } from '../domain/cost.js';
import { isObject } from '../domain/json.js';
import { InvalidRequestError, NotFoundError } from '../errors.js';
import type { RegistrySnapshot } from '../registry/index.js';
import type { LlmRequest } from './request.js';

/** Tools that run a model of their own, and the one the upstream runs when the tool names none. */
const TOOL_DEFAULT_MODELS: Readonly<Record<string, string>> = { image_generation: 'gpt-image-1' };

interface ToolModel {
  /** The tool's index in `tools`. */
  index: number;
  /** The model as named (or the tool's default). */
  name: string;
  /** The tool's type, when it is one that runs a model of its own (`image_generation`). */
  type?: string | undefined;
}

/** The models a JSON body's `tools` run: a tool's `model` (a string, else a 400), or its type's default. */
export function toolModelsOf(req: Pick<LlmRequest, 'body'>): ToolModel[] {
  if (req.body.kind !== 'json' || !Array.isArray(req.body.value.tools)) return [];
  const out: ToolModel[] = [];
  req.body.value.tools.forEach((tool: unknown, index) => {
    if (!isObject(tool)) return;
    const named = tool.model;
    if (named !== undefined && (typeof named !== 'string' || named.length === 0))
      throw new InvalidRequestError(`\`tools[${index}].model\` must be a model name`, 'invalid_field', `tools[${index}].model`);
    const type = typeof tool.type === 'string' && Object.hasOwn(TOOL_DEFAULT_MODELS, tool.type) ? tool.type : undefined;
    const name = named ?? (type ? TOOL_DEFAULT_MODELS[type] : undefined);
    if (name) out.push({ index, name, type });
  });
  return out;
}

/**
 * The request with each tool's model as the registry's upstream id for it; a model the registry
 * does not have is a 404 naming the tool (the caller's lists were checked before).
 */
export function withToolModels(req: LlmRequest, tools: readonly ToolModel[], registry: RegistrySnapshot): LlmRequest {
  if (tools.length === 0 || req.body.kind !== 'json') return req;
  return { ...req, body: { kind: 'json', value: bodyWithToolModels(req.body.value, tools, registry) } };
}

/** A JSON body (a request's, a batch line's) with each of its tools' models as the registry's upstream id. */
export function bodyWithToolModels(
  body: Record<string, unknown>,
  tools: readonly ToolModel[],
  registry: RegistrySnapshot,
): Record<string, unknown> {
  if (tools.length === 0) return body;
  const given = body.tools as unknown[];
  const rewritten = [...given];
  for (const { index, name } of tools) {
    const model = registry.resolve(name);
    if (!model) throw new NotFoundError('model', name);
    rewritten[index] = { ...(given[index] as Record<string, unknown>), model: model.upstream_model };
  }
  return { ...body, tools: rewritten };
}

/** The registry names of the image models a request's image generation tools run (its tools' models or the default). */
export const imageModelsOf = (tools: readonly ToolModel[]): string[] => [
  ...new Set(tools.flatMap((t) => (t.type === 'image_generation' ? [t.name] : []))),
];

/**
 * The prices the image generation tool's tokens are charged at (OpenAI reports them apart from
 * the call's, in `tool_usage.image_gen`): its image model's registry record. Tools naming several
 * image models report their tokens together, so those are priced at the dearest of each price.
 * Undefined without an image model the registry has (a deferred bill's, since removed).
 */
export function imageToolPrices(names: readonly string[], registry: RegistrySnapshot): Prices | undefined {
  const models = names.flatMap((name) => registry.resolve(name) ?? []);
  const distinct = new Set(models.map((m) => m.model_name));
  if (distinct.size <= 1) return models[0];
  const most = (price: (m: Prices) => number) => Math.max(...models.map(price));
  // A cache read or an image without a price of its own is charged at the input (or output) price.
  const or = (own: number | undefined, text: number) => (isValidPrice(own) ? own : text);
  return {
    input_cost_per_million: most((m) => m.input_cost_per_million),
    output_cost_per_million: most((m) => m.output_cost_per_million),
    cache_read_cost_per_million: most((m) => or(m.cache_read_cost_per_million, m.input_cost_per_million)),
    input_image_cost_per_million: most((m) => or(m.input_image_cost_per_million, m.input_cost_per_million)),
    output_image_cost_per_million: most((m) => or(m.output_image_cost_per_million, m.output_cost_per_million)),
  };
}
