/**
 * `npm run bench`: runs every `bench/*.bench.ts` (each default-exports a function returning a
 * section), prints the sections and writes them to docs/benchmarks.md with the command, the
 * machine and the date. Figures are measured here, never asserted by timed tests.
 */
import { readdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export interface BenchSection {
  title: string;
  /** What was measured and how, in a sentence or two. */
  method: string;
  rows: { metric: string; value: string; target?: string }[];
  notes?: string[];
}

const dir = fileURLToPath(new URL('.', import.meta.url));
const only = process.argv.slice(2);
const files = readdirSync(dir)
  .filter((f) => f.endsWith('.bench.ts'))
  .filter((f) => only.length === 0 || only.some((o) => f.includes(o)))
  .sort();

const sections: BenchSection[] = [];
for (const f of files) {
  const mod = (await import(pathToFileURL(join(dir, f)).href)) as { default: () => Promise<BenchSection | BenchSection[]> };
  const out = await mod.default();
  for (const s of Array.isArray(out) ? out : [out]) {
    sections.push(s);
    console.log(`\n## ${s.title}`);
    for (const r of s.rows) console.log(`  ${r.metric}: ${r.value}${r.target ? `   (target ${r.target})` : ''}`);
  }
}

const cpu = cpus()[0]?.model ?? 'unknown CPU';
const md = [
  '# Benchmarks',
  '',
  `Made by \`npm run bench\` on ${new Date().toISOString().slice(0, 10)}: Node ${process.version}, ${cpus().length} × ${cpu}, ${Math.round(totalmem() / 2 ** 30)} GiB.`,
  'Every figure below comes from that command; rerun it to refresh this file.',
  '',
  ...sections.flatMap((s) => [
    `## ${s.title}`,
    '',
    s.method,
    '',
    '| metric | value | target |',
    '|---|---|---|',
    ...s.rows.map((r) => `| ${r.metric} | ${r.value} | ${r.target ?? ''} |`),
    '',
    ...(s.notes?.length ? [...s.notes.map((n) => `- ${n}`), ''] : []),
  ]),
].join('\n');
if (only.length === 0) {
  writeFileSync(join(dir, '..', 'docs', 'benchmarks.md'), md);
  console.log('\nwrote docs/benchmarks.md');
} else {
  console.log('\n(partial run: docs/benchmarks.md left unchanged)');
}
