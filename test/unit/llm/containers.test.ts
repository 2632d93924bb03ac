import { describe, expect, it } from 'vitest';
import { containerSize, newSessions } from '../../../lib/llm/containers.js';

const at = new Date('2026-12-07T10:00:00.000Z');
/** An owner store holding containers recorded at the given times. */
const owners = (recorded: Record<string, string>) => ({
  getMany: async (ids: readonly string[]) =>
    new Map(ids.flatMap((id) => (recorded[id] ? [[id, { created_at: recorded[id] }] as const] : []))),
});

describe('code interpreter containers billed as sessions', () => {
  it('a container no call recorded before this one is new; one recorded at this call’s start is this call’s', async () => {
    const store = owners({ old: '2026-12-07T09:59:59.999Z', mine: at.toISOString() });
    expect(await newSessions(store, ['fresh', 'old', 'mine'], undefined, at, 1)).toBe(2);
  });

  it('a container the request names by id is never new; each new one counts at the size given', async () => {
    const request = { tools: [{ type: 'code_interpreter', container: 'named' }] };
    expect(await newSessions(owners({}), ['named', 'fresh', 'fresh'], request, at, 4)).toBe(4);
    expect(await newSessions(owners({}), [], request, at, 4)).toBe(0);
  });

  it('a lookup that fails bills them all: a session is never lost for a read that failed', async () => {
    const failing = { getMany: async () => Promise.reject(new Error('ProvisionedThroughputExceededException')) };
    expect(await newSessions(failing, ['a', 'b'], undefined, at, 1)).toBe(2);
  });

  it('the size of a container made for a request: the largest its tools ask, else 1 GB', () => {
    expect(containerSize(undefined)).toBe(1);
    expect(containerSize({ tools: [{ type: 'code_interpreter', container: 'cntr_1' }] })).toBe(1);
    const tools = [
      { type: 'code_interpreter', container: { type: 'auto', memory_limit: '4g' } },
      { type: 'code_interpreter', container: { type: 'auto', memory_limit: '16g' } },
    ];
    expect(containerSize({ tools })).toBe(16);
  });
});
