/**
 * Model access. Lists hold exact names, globs (`openai/*`, `gpt-4o*`; `*` is the only pattern
 * character), access groups from the model registry, or the specials below. An empty list
 * means no restriction from that entity; the effective set is the intersection of every
 * restricting entity's list.
 */

export const ALL_PROXY_MODELS = 'all-proxy-models';
export const ALL_TEAM_MODELS = 'all-team-models';

/** What the model registry knows, for resolving aliases and access groups. */
export interface ModelCatalog {
  /** alias -> public model name (a Map: a model or group named `constructor` is just a name). */
  aliases: ReadonlyMap<string, string>;
  /** access group -> public model names */
  accessGroups: ReadonlyMap<string, readonly string[]>;
}

export const emptyCatalog: ModelCatalog = { aliases: new Map(), accessGroups: new Map() };

/**
 * Glob match where `*` matches any run of characters (slashes included) and nothing else is special.
 * With `*` the only pattern character, the text between stars can be found leftmost, in order:
 * no backtracking, so a hostile pattern against a hostile name costs a few searches, not (name
 * length x pattern length) steps (found by review: a key update comparing 1,000 such pairs by
 * 1,000 ran for minutes).
 */
export function globMatch(pattern: string, name: string): boolean {
  if (!pattern.includes('*')) return pattern === name;
  const parts = pattern.split('*');
  const head = parts[0] as string;
  const tail = parts[parts.length - 1] as string;
  if (name.length < head.length + tail.length || !name.startsWith(head) || !name.endsWith(tail)) return false;
  const end = name.length - tail.length;
  let at = head.length;
  for (let i = 1; i < parts.length - 1; i++) {
    const part = parts[i] as string;
    if (part.length === 0) continue;
    const found = name.indexOf(part, at);
    if (found < 0 || found + part.length > end) return false;
    at = found + part.length;
  }
  return true;
}

/** True when the list places no restriction on models. */
export function isUnrestricted(list: readonly string[] | null | undefined): boolean {
  return !list || list.length === 0 || list.includes(ALL_PROXY_MODELS) || list.includes('*');
}

/** Whether `list` allows `model` (a public name, already resolved from any alias). */
export function listAllows(list: readonly string[] | null | undefined, model: string, catalog: ModelCatalog = emptyCatalog): boolean {
  if (isUnrestricted(list)) return true;
  for (const entry of list as readonly string[]) {
    if (globMatch(entry, model)) return true;
    const group = catalog.accessGroups.get(entry);
    if (group?.includes(model)) return true;
  }
  return false;
}

/** The public name a requested model stands for. */
export const resolveAlias = (model: string, catalog: ModelCatalog = emptyCatalog): string => catalog.aliases.get(model) ?? model;

/** The aliases that resolve to a public model name. */
export const aliasesOf = (model: string, catalog: ModelCatalog = emptyCatalog): string[] =>
  [...catalog.aliases].filter(([, target]) => target === model).map(([alias]) => alias);

/** Splits a requested `model` value: a comma-separated list names several models, each checked. */
export function requestedModels(model: unknown): string[] {
  if (typeof model !== 'string') return [];
  return model
    .split(',')
    .map((m) => m.trim())
    .filter((m) => m.length > 0);
}

export interface ModelRestriction {
  /** Who restricts: `key \`sk-...abcd\``, `team \`t-1\``. */
  entity: string;
  models: readonly string[];
}

/**
 * Whether a key's own list restricts nothing: unrestricted, or naming `all-team-models` (the key
 * defers to its team, whatever else it lists). One rule for the checks and for the admin API's
 * "only tighter" comparison of a key's models.
 */
export function keyUnrestricted(list: readonly string[] | null | undefined): boolean {
  return isUnrestricted(list) || (list ?? []).includes(ALL_TEAM_MODELS);
}

/**
 * The restricting lists that apply, in order. A key's `all-team-models` defers to the team: the
 * key then adds no restriction of its own.
 */
export function restrictionsOf(entities: {
  key?: { name: string; models?: readonly string[] | undefined } | undefined;
  team?: { id: string; models?: readonly string[] | undefined } | undefined;
  user?: { id: string; models?: readonly string[] | undefined } | undefined;
  org?: { id: string; models?: readonly string[] | undefined } | undefined;
}): ModelRestriction[] {
  const out: ModelRestriction[] = [];
  const add = (entity: string, models: readonly string[] | undefined) => {
    if (!isUnrestricted(models)) out.push({ entity, models: models as readonly string[] });
  };
  if (entities.key && !keyUnrestricted(entities.key.models)) add(`key \`${entities.key.name}\``, entities.key.models);
  if (entities.team) add(`team \`${entities.team.id}\``, entities.team.models);
  if (entities.user) add(`user \`${entities.user.id}\``, entities.user.models);
  if (entities.org) add(`organization \`${entities.org.id}\``, entities.org.models);
  return out;
}

/** The first restriction that refuses the model, or undefined when every one allows it. */
export function firstRefusal(
  restrictions: readonly ModelRestriction[],
  requested: string,
  catalog: ModelCatalog = emptyCatalog,
): ModelRestriction | undefined {
  const resolved = resolveAlias(requested, catalog);
  return restrictions.find((r) => !listAllows(r.models, resolved, catalog) && !listAllows(r.models, requested, catalog));
}

/**
 * The models a caller may use under these restrictions, as one list: the entries of the first
 * restricting list that every other one allows (an access group or a glob counts as allowed when
 * the other list covers all it stands for). No restriction: `all-proxy-models`.
 */
export function effectiveModels(restrictions: readonly ModelRestriction[], catalog: ModelCatalog = emptyCatalog): string[] {
  const [first, ...rest] = restrictions;
  if (!first) return [ALL_PROXY_MODELS];
  return first.models.filter((entry) => rest.every((r) => covers(r.models, entry, catalog)));
}

/** Whether `list` allows everything `entry` stands for: itself, its alias target, every model of its group. */
function covers(list: readonly string[], entry: string, catalog: ModelCatalog): boolean {
  if (isUnrestricted(list) || list.some((p) => globMatch(p, entry))) return true;
  const group = catalog.accessGroups.get(entry);
  if (group && group.length > 0) return group.every((m) => listAllows(list, m, catalog));
  return listAllows(list, resolveAlias(entry, catalog), catalog);
}
