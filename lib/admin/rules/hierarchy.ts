/**
 * The hierarchy rules, stated once for every pair (key within team, team within organization,
 * member within team): a child's models must lie within its parent's, and a child's max_budget
 * must not be above its parent's. A violation is a 400 `hierarchy_violation` naming both sides.
 */
import {
  ALL_TEAM_MODELS,
  emptyCatalog,
  globMatch,
  isUnrestricted,
  keyUnrestricted,
  listAllows,
  type ModelCatalog,
  resolveAlias,
} from '../../checks/models.js';
import type { ModelRecord } from '../../domain/records.js';
import { HierarchyViolationError, money } from '../../errors.js';
import { buildSnapshot } from '../../registry/registry.js';
import { listings } from '../../store/listings.js';
import { queryAll } from '../persistence.js';

export interface Side {
  /** How messages name it: "team `t-1`". */
  label: string;
  models?: readonly string[] | null | undefined;
  max_budget?: number | null | undefined;
}

/** Whether the parent's list allows everything one child entry can stand for. */
function covers(parent: readonly string[], entry: string, catalog: ModelCatalog): boolean {
  if (isUnrestricted(parent)) return true;
  // A literal `*` in the pattern matches a literal `*` in the entry, so glob-within-glob works.
  if (parent.some((p) => globMatch(p, entry))) return true;
  const group = catalog.accessGroups.get(entry);
  if (group && group.length > 0 && group.every((m) => listAllows(parent, m, catalog))) return true;
  const resolved = resolveAlias(entry, catalog);
  return listAllows(parent, resolved, catalog);
}

/** Whether an entry names models an admin may change later: an access group (models join it) or an alias (it is re-pointed). */
export const modelGrowable = (entry: string, catalog: ModelCatalog): boolean =>
  catalog.accessGroups.has(entry) || catalog.aliases.has(entry);

/**
 * How an actor with less authority than a key's setter may change its models (lib/domain/limits
 * compareModels): a new access group or alias loosens (an admin may grow it later), and an entry
 * is within the old list only as the old list names it (the name, or a wildcard), not through what
 * an access group or alias of the old list holds now: a model named in place of the group a proxy
 * admin set would stay allowed once that admin took it out of the group (found by review), as one
 * named in place of an alias would once it was re-pointed.
 */
export const keyModelRules = (catalog: ModelCatalog) => ({
  unrestricted: keyUnrestricted,
  outside: (child: readonly string[] | null | undefined, parent: readonly string[] | null | undefined) => modelOutside(child, parent),
  growable: (entry: string) => modelGrowable(entry, catalog),
});

/**
 * The first child entry the parent does not cover, or undefined. An unrestricted child (empty
 * list, `all-proxy-models`) adds no models of its own: it gets the parent's, so it is within.
 */
export function modelOutside(
  child: readonly string[] | null | undefined,
  parent: readonly string[] | null | undefined,
  catalog: ModelCatalog = emptyCatalog,
): string | undefined {
  if (isUnrestricted(child) || isUnrestricted(parent)) return undefined;
  return (child as readonly string[]).find((e) => e !== ALL_TEAM_MODELS && !covers(parent as readonly string[], e, catalog));
}

/** Every model's aliases and access groups, read fresh (an admin write must not act on a stale catalog). */
export async function loadCatalog(): Promise<ModelCatalog> {
  return buildSnapshot(await queryAll<ModelRecord>(listings.all('model'))).catalog;
}

/**
 * Throws when the child's models are not within the parent's. The catalog is read only when a
 * plain comparison fails (aliases and access groups can still make it fit).
 */
export async function requireModelsWithin(
  child: Side,
  parent: Side,
  param = 'models',
  catalog?: () => Promise<ModelCatalog>,
): Promise<void> {
  if (modelOutside(child.models, parent.models) === undefined) return;
  const outside = modelOutside(child.models, parent.models, await (catalog ?? loadCatalog)());
  if (outside === undefined) return;
  throw new HierarchyViolationError(
    `${child.label} has model \`${outside}\`, which ${parent.label} does not allow (${parent.label} models: ${(parent.models ?? []).join(', ')})`,
    param,
  );
}

/** Throws when the child's max_budget is above the parent's. A child without one is capped by the parent anyway. */
export function requireBudgetWithin(child: Side, parent: Side, param = 'max_budget'): void {
  const c = child.max_budget;
  const p = parent.max_budget;
  if (c === null || c === undefined || p === null || p === undefined || c <= p) return;
  throw new HierarchyViolationError(`${child.label} max_budget ${money(c)} is above ${parent.label} max_budget ${money(p)}`, param);
}
