/** Metrics as tests read them: the EMF records (one JSON log line each) written to stdout. */
import { vi } from 'vitest';

/** What `run` returned, and the values of one metric in the EMF records written while it ran. */
export async function metricValues<T>(name: string, run: () => Promise<T>): Promise<{ result: T; values: number[] }> {
  const lines: string[] = [];
  const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    lines.push(String(chunk));
    return true;
  });
  let result: T;
  try {
    result = await run();
  } finally {
    spy.mockRestore();
  }
  const values = lines
    .flatMap((l) => l.split('\n'))
    .filter((l) => l.includes(`"${name}"`))
    .map((l) => (JSON.parse(l) as Record<string, number>)[name] as number);
  return { result, values };
}
