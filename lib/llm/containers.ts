/**
 * Code interpreter sessions (found by review: never charged). OpenAI bills the Responses API's
 * `code_interpreter` tool per container, when the container is made ($0.03 for 1 GB, a larger one
 * at its multiple), whatever runs in it while it lives. A call is billed the containers its answer
 * shows the tool ran in that were made for it: not one its request named by id, nor one an
 * earlier call showed (Tollgate records every container an answer shows as its maker's object,
 * so its owner record is older than this call). Each is counted in 1 GB sessions, at the size its
 * tool asked (`container.memory_limit`).
 */
import type { ObjectOwner } from '../domain/tenancy.js';
import { logger } from '../telemetry.js';
import { containerSessions, isCodeInterpreterTool } from './estimate.js';
import { MAX_ID_LENGTH } from './objects.js';

/** The most containers one answer is looked up for (each id a read): more are billed as new. */
const MAX_LOOKUPS = 100;

/** The containers a request's code interpreter tools name by id: made (and billed) before. */
function namedContainers(json: Record<string, unknown> | undefined): Set<string> {
  const tools = Array.isArray(json?.tools) ? json.tools.filter(isCodeInterpreterTool) : [];
  return new Set(tools.flatMap((t) => (typeof t.container === 'string' ? [t.container] : [])));
}

/**
 * The size, in 1 GB sessions, of a container made for a request: the largest its tools ask for
 * (they may run in any of them); 1 GB, OpenAI's default, when it names no such tool (a stored
 * prompt's tools).
 */
export function containerSize(json: Record<string, unknown> | undefined): number {
  const tools = Array.isArray(json?.tools) ? json.tools.filter(isCodeInterpreterTool) : [];
  return Math.max(1, ...tools.map(containerSessions));
}

/**
 * The sessions to bill for the containers an answer showed: those neither named by the request
 * nor recorded before `since` (the call's start; a deferred bill's, its object's making), times
 * `size`. A lookup that fails bills them all: a session is never lost for a read that failed.
 */
export async function newSessions(
  owners: { getMany(ids: readonly string[]): Promise<ReadonlyMap<string, Pick<ObjectOwner, 'created_at'>>> },
  seen: Iterable<string>,
  request: Record<string, unknown> | undefined,
  since: Date,
  size: number,
): Promise<number> {
  const named = namedContainers(request);
  const candidates = [...new Set(seen)].filter((id) => !named.has(id) && id.length <= MAX_ID_LENGTH);
  if (candidates.length === 0) return 0;
  const looked = candidates.slice(0, MAX_LOOKUPS);
  let found: ReadonlyMap<string, Pick<ObjectOwner, 'created_at'>>;
  try {
    found = await owners.getMany(looked);
  } catch (e) {
    logger().warn('containers not looked up: each is billed as new', { containers: candidates.length, error: (e as Error)?.name });
    return candidates.length * size;
  }
  const before = since.toISOString();
  const fresh = looked.filter((id) => {
    const owner = found.get(id);
    return !owner || owner.created_at >= before;
  });
  return (fresh.length + candidates.length - looked.length) * size;
}
