// biome-ignore-all lint/suspicious/noTemplateCurlyInString: the fake sources hold template literals written as text.
/**
 * The layers of lib/ (docs/architecture.md), checked on the source: an import that runs up a
 * layer fails here, naming the file and the import; so does a table key name outside lib/store.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../..');
const LIB = join(ROOT, 'lib');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sourceFiles(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

/** The lib-relative module every relative import of a file names (`store/keys.ts`, `errors.ts`). */
function importsOf(file: string, source: string): string[] {
  const out: string[] = [];
  for (const m of source.matchAll(/(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s*['"](\.{1,2}\/[^'"]+)['"]/g)) {
    out.push(relative(LIB, resolve(dirname(file), (m[1] as string).replace(/\.js$/, '.ts'))));
  }
  return out;
}

/** The room a lib-relative path lives in: its first folder, or the file itself at the top. */
const roomOf = (path: string): string => path.split('/')[0] as string;

/** Which rooms each lower room may import from (itself always). */
const ALLOWED: Readonly<Record<string, readonly string[]>> = {
  'errors.ts': ['domain'],
  domain: ['errors.ts'],
  'config.ts': ['domain', 'errors.ts'],
  store: ['domain', 'errors.ts', 'config.ts', 'telemetry.ts'],
  checks: ['domain', 'errors.ts', 'routes.ts'],
};

function violations(files: readonly { file: string; source: string }[]): string[] {
  const out: string[] = [];
  for (const { file, source } of files) {
    const room = roomOf(relative(LIB, file));
    const allowed = ALLOWED[room];
    if (!allowed) continue;
    for (const target of importsOf(file, source)) {
      const to = roomOf(target);
      if (to !== room && !allowed.includes(to)) out.push(`lib/${relative(LIB, file)} imports lib/${target}`);
    }
  }
  return out;
}

const files = sourceFiles(LIB).map((file) => ({ file, source: readFileSync(file, 'utf8') }));

describe('no import runs up a layer', () => {
  it('lib/store, lib/domain, lib/errors, lib/config and lib/checks import only what lies below them', () => {
    expect(violations(files)).toEqual([]);
  });

  it('the check itself fails on a store module importing the llm function, or the domain importing the store', () => {
    const fake = [
      { file: join(LIB, 'store/fake.ts'), source: "import { handleLlmEvent } from '../llm/handle.js';" },
      {
        file: join(LIB, 'domain/fake.ts'),
        source: "import type { Item } from '../store/codec.js';\nexport { x } from '../admin/actions/keys.js';",
      },
      { file: join(LIB, 'config.ts'), source: "import { settle } from './spend/targets.js';" },
      { file: join(LIB, 'errors.ts'), source: "import type { Caller } from './domain/caller.js';" },
    ];
    expect(violations(fake)).toEqual([
      'lib/store/fake.ts imports lib/llm/handle.ts',
      'lib/domain/fake.ts imports lib/store/codec.ts',
      'lib/domain/fake.ts imports lib/admin/actions/keys.ts',
      'lib/config.ts imports lib/spend/targets.ts',
    ]);
  });
});

/** A table key name: a quoted PK/SK/GSIn, a `PK:`/`SK:` property, an index attribute, or a key prefix like `KEY#`. */
const TABLE_KEY = /['"`](PK|SK|GSI[0-9](PK|SK)?)['"`]|\b(PK|SK):|\bGSI[0-9](PK|SK)\b|['"`][A-Z_]{3,}#/;

function keyNameLeaks(files: readonly { file: string; source: string }[]): string[] {
  return files
    .filter(({ file }) => !relative(LIB, file).startsWith('store/'))
    .flatMap(({ file, source }) =>
      source.split('\n').flatMap((line, i) => (TABLE_KEY.test(line) ? [`lib/${relative(LIB, file)}:${i + 1}: ${line.trim()}`] : [])),
    );
}

describe('lib/store owns the table layout', () => {
  it('no file outside lib/store names a table key, an index attribute or a key prefix', () => {
    expect(keyNameLeaks(files)).toEqual([]);
  });

  it('the check itself finds each kind of leak', () => {
    const leaks = keyNameLeaks([
      { file: join(LIB, 'admin/fake.ts'), source: "const a = { PK: x };\nconst b = 'GSI1PK';\nconst c = `TEAM#${id}`;\nconst d = 'ok';" },
      { file: join(LIB, 'store/keys.ts'), source: "const a = { PK: `KEY#${h}`, SK: 'KEY' };" },
    ]);
    expect(leaks).toEqual([
      'lib/admin/fake.ts:1: const a = { PK: x };',
      "lib/admin/fake.ts:2: const b = 'GSI1PK';",
      'lib/admin/fake.ts:3: const c = `TEAM#${id}`;',
    ]);
  });
});
