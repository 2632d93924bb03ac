/**
 * Code interpreter sessions (found by review: never charged). OpenAI bills the Responses API's
 * `code_interpreter` tool per container, when the container is made ($0.03 for 1 GB, a larger one
 * at its multiple), whatever runs in it while it lives. A response is billed the containers its
 * answer shows the tool ran in that were made for it: not one its request named by id, nor one
 * another response was shown in first. Tollgate records every container an answer shows as its
 * maker's object, with the response it was first shown in (`made_in`): a container is this
 * response's when it has no record yet, or its record names this response. Each is counted in
 * 1 GB sessions, at the sizes its tools asked (`container.memory_limit`).
 */
import type { ObjectOwner } from '../domain/tenancy.js';
import { logger } from '../telemetry.js';
import { codeInterpreterTools, containerSessions } from './estimate.js';
import { MAX_ID_LENGTH } from './objects.js';

/** The most containers one answer is looked up for (each id a read): more are billed as new. */
const MAX_LOOKUPS = 100;

/** The containers a request's code interpreter tools name by id: made (and billed) before. */
const namedContainers = (json: Record<string, unknown> | undefined): Set<string> =>
  new Set(codeInterpreterTools(json).flatMap((t) => (typeof t.container === 'string' ? [t.container] : [])));

/**
 * The sizes, in 1 GB sessions, largest first, of the containers a request's tools have made for
 * it: one per tool whose container is `auto` (strict mode reserves their sum).
 */
export const containerSizes = (json: Record<string, unknown> | undefined): number[] =>
  codeInterpreterTools(json)
    .map(containerSessions)
    .filter((n) => n > 0)
    .sort((a, b) => b - a);

/**
 * The sessions `count` containers made for a call are billed: the sizes its tools asked, largest
 * first, one container each (within strict mode's reservation, their sum); a container beyond
 * them (one made again in a response that outlived its first) at the largest, else 1 GB
 * (OpenAI's default: a stored prompt's tools, an object recorded before sizes were kept).
 */
export function sessionsOf(count: number, sizes: readonly number[]): number {
  let sessions = 0;
  for (let i = 0; i < count; i++) sessions += sizes[i] ?? sizes[0] ?? 1;
  return sessions;
}

/**
 * The sessions to bill for the containers an answer showed: those neither named by the request
 * nor first shown in another response (`made_in`) than `response` (none known: those no record
 * has yet). A lookup that fails bills them all: a session is never lost for a read that failed.
 */
export async function newSessions(
  owners: { getMany(ids: readonly string[]): Promise<ReadonlyMap<string, Pick<ObjectOwner, 'made_in'>>> },
  seen: Iterable<string>,
  request: Record<string, unknown> | undefined,
  response: string | undefined,
  sizes: readonly number[],
): Promise<number> {
  const named = namedContainers(request);
  const candidates = [...new Set(seen)].filter((id) => !named.has(id) && id.length <= MAX_ID_LENGTH);
  if (candidates.length === 0) return 0;
  const looked = candidates.slice(0, MAX_LOOKUPS);
  let found: ReadonlyMap<string, Pick<ObjectOwner, 'made_in'>>;
  try {
    found = await owners.getMany(looked);
  } catch (e) {
    logger().warn('containers not looked up: each is billed as new', { containers: candidates.length, error: (e as Error)?.name });
    return sessionsOf(candidates.length, sizes);
  }
  const fresh = looked.filter((id) => {
    const owner = found.get(id);
    return !owner || (response !== undefined && owner.made_in === response);
  });
  return sessionsOf(fresh.length + candidates.length - looked.length, sizes);
}
