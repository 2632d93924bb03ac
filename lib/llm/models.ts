/**
 * `GET /models` and `GET /models/{model}`: the registry seen through the caller's model access,
 * in OpenAI's shapes. A listed model is one the caller may call: the same checkModelAccess that
 * guards the call decides the listing. Aliases are not listed (they are other names for listed models).
 */
import { type CheckInput, checkModelAccess } from '../checks/checks.js';
import type { ModelRecord } from '../domain/records.js';
import { NotFoundError } from '../errors.js';
import type { RegistrySnapshot } from '../registry/registry.js';

export interface OpenAiModel {
  id: string;
  object: 'model';
  created: number;
  owned_by: string;
}

export const modelObject = (m: ModelRecord): OpenAiModel => ({
  id: m.model_name,
  object: 'model',
  created: Math.floor((Date.parse(m.created_at) || 0) / 1000),
  owned_by: 'tollgate',
});

/** The models the caller may use, by public name. */
export function allowedModels(registry: RegistrySnapshot, input: Omit<CheckInput, 'body' | 'pathModel' | 'catalog'>): ModelRecord[] {
  return registry.models.filter(
    (m) => checkModelAccess({ ...input, pathModel: undefined, body: { models: [m.model_name] }, catalog: registry.catalog }) === undefined,
  );
}

export const listModelsBody = (models: readonly ModelRecord[]) => ({ object: 'list' as const, data: models.map(modelObject) });

/** One model by name or alias; access was checked with the path model before this runs. */
export function retrieveModelBody(registry: RegistrySnapshot, name: string): OpenAiModel {
  const m = registry.resolve(name);
  if (!m) throw new NotFoundError('model', name);
  return modelObject(m);
}
