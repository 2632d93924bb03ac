import { describe, expect, it } from 'vitest';
import { containerSizes, newSessions, sessionsOf } from '../../../lib/llm/containers.js';

/** An owner store holding containers, each first shown in the response given (none: a record made before it was kept). */
const owners = (recorded: Record<string, string | null>) => ({
  getMany: async (ids: readonly string[]) =>
    new Map(ids.flatMap((id) => (id in recorded ? [[id, { made_in: recorded[id] }] as const] : []))),
});

describe('code interpreter containers billed as sessions', () => {
  it('a container with no record yet is new; one first shown in this response is its; one first shown in another, or recorded before, is not', async () => {
    const store = owners({ other: 'resp_other', mine: 'resp_1', legacy: null });
    expect(await newSessions(store, ['fresh', 'other', 'mine', 'legacy'], undefined, 'resp_1', [])).toBe(2);
    // No response known (an upstream without ids): only those no record has yet.
    expect(await newSessions(store, ['fresh', 'mine'], undefined, undefined, [])).toBe(1);
  });

  it('found by review: a background response chained before it was read is billed its container once, by whichever was shown it first', async () => {
    // B (chained to A) is shown A's container first: it records it as B's and is billed it.
    const store = owners({});
    expect(await newSessions(store, ['cntr_a'], undefined, 'resp_b', [1])).toBe(1);
    // A's bill, later, finds it recorded as B's: not billed again.
    expect(await newSessions(owners({ cntr_a: 'resp_b' }), ['cntr_a'], undefined, 'resp_a', [1])).toBe(0);
  });

  it('a container the request names by id is never new', async () => {
    const request = { tools: [{ type: 'code_interpreter', container: 'named' }] };
    expect(await newSessions(owners({}), ['named', 'fresh', 'fresh'], request, 'resp_1', [4])).toBe(4);
    expect(await newSessions(owners({}), [], request, 'resp_1', [4])).toBe(0);
  });

  it('a lookup that fails bills them all: a session is never lost for a read that failed', async () => {
    const failing = { getMany: async () => Promise.reject(new Error('ProvisionedThroughputExceededException')) };
    expect(await newSessions(failing, ['a', 'b'], undefined, 'resp_1', [])).toBe(2);
  });

  it('sizes: one per auto tool, largest first; each new container at the next size (found by review: all at the largest)', () => {
    expect(containerSizes(undefined)).toEqual([]);
    const tools = [
      { type: 'code_interpreter', container: { type: 'auto', memory_limit: '4g' } },
      { type: 'code_interpreter', container: 'cntr_1' },
      { type: 'code_interpreter', container: { type: 'auto' } },
      { type: 'code_interpreter', container: { type: 'auto', memory_limit: '16g' } },
    ];
    expect(containerSizes({ tools })).toEqual([16, 4, 1]);
    expect(sessionsOf(1, [16, 4, 1])).toBe(16);
    expect(sessionsOf(3, [16, 4, 1])).toBe(21);
    // Beyond the tools (a container made again): at the largest; none asked: 1 GB.
    expect(sessionsOf(4, [16, 4, 1])).toBe(37);
    expect(sessionsOf(2, [])).toBe(2);
  });
});
