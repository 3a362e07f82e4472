// The import checker `npm run lint` runs: each rule on a small tree that breaks
// it, and the project itself.
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { checkImports } from '../../scripts/check-imports.js';
import { useTempDirs } from './tmpdir.js';

const PROJECT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const LAYERS = [['cli'], ['commands'], ['cache', 'template'], ['fs', '.']];

const tempDir = useTempDirs('g3-imports-');

/** A project with `files` (path -> source) under a fresh temporary folder. */
async function tree(files: Record<string, string>): Promise<string> {
  const dir = await tempDir();
  for (const [rel, text] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(dir, rel)), { recursive: true });
    await writeFile(path.join(dir, rel), text);
  }
  return dir;
}

describe('import rules', () => {
  it('accepts a tree whose layers import downward', async () => {
    const root = await tree({
      'builder.ts': "import { main } from './src/cli/main.js';\n",
      'src/cli/main.ts': "import { run } from '../commands/run.js';\nexport const main = run;\n",
      'src/commands/run.ts': "import { fill } from '../cache/fill.js';\nexport const run = fill;\n",
      'src/cache/fill.ts': "import type { T } from '../template/t.js';\nimport { write } from '../fs/write.js';\nexport const fill = (t?: T) => write(t);\n",
      'src/template/t.ts': "import { E } from '../errors.js';\nexport type T = E;\n",
      'src/fs/write.ts': "import { E } from '../errors.js';\nexport const write = (x: unknown) => new E(String(x));\n",
      'src/errors.ts': 'export class E extends Error {}\n',
    });
    expect(checkImports(root, LAYERS)).toEqual([]);
  });

  it('finds a cycle between two files, type-only imports included', async () => {
    const root = await tree({
      'src/cache/a.ts': "import type { B } from './b.js';\nexport type A = B;\n",
      'src/cache/b.ts': "export type { A as B } from './a.js';\n",
    });
    expect(checkImports(root, LAYERS)).toEqual(['import cycle between files: src/cache/a.ts <-> src/cache/b.ts']);
  });

  it('finds a cycle between folders of one layer and names the imports that make it', async () => {
    const root = await tree({
      'src/cache/a.ts': "import { t } from '../template/t.js';\nexport const a = t;\n",
      'src/template/t.ts': 'export const t = 1;\n',
      'src/template/u.ts': "import { a } from '../cache/a.js';\nexport const u = a;\n",
    });
    const problems = checkImports(root, LAYERS);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^import cycle between folders of src\/: cache <-> template\n/);
    expect(problems[0]).toContain('src/template/u.ts:1 -> src/cache/a.ts');
    expect(problems[0]).toContain('src/cache/a.ts:1 -> src/template/t.ts');
  });

  it('refuses an import from a higher layer, with the line, dynamic imports included', async () => {
    const root = await tree({
      'src/cli/main.ts': 'export const main = 1;\n',
      'src/fs/write.ts': "// a comment\nexport async function w() {\n  return import('../cli/main.js');\n}\n",
    });
    expect(checkImports(root, LAYERS)).toEqual([
      'src/fs/write.ts:3: imports src/cli/main.ts from a higher layer (src/cli/ is above src/fs/); move the shared part down',
    ]);
  });

  it('refuses a command that imports another command', async () => {
    const root = await tree({
      'src/commands/build.ts': "import { cache } from './cache.js';\nexport const build = cache;\n",
      'src/commands/cache.ts': 'export const cache = 1;\n',
    });
    expect(checkImports(root, LAYERS)).toEqual([
      'src/commands/build.ts:1: imports src/commands/cache.ts: a command never calls another; move what both need into a stage',
    ]);
  });

  it('refuses an entry point that reaches past the CLI, and a folder in no layer', async () => {
    const root = await tree({
      'builder.ts': "import { w } from './src/fs/write.js';\nw();\n",
      'src/fs/write.ts': 'export const w = () => 1;\n',
      'src/extra/x.ts': 'export const x = 1;\n',
    });
    expect(checkImports(root, LAYERS)).toEqual([
      'src/extra/ is in no layer: add it to LAYERS in scripts/check-imports.ts',
      'builder.ts:1: an entry point imports src/fs/write.ts; it may only use src/cli/ and src/hooks/',
    ]);
  });

  it('refuses a folder with too many files at one level', async () => {
    const files: Record<string, string> = {};
    for (let i = 0; i < 4; i++) files[`src/cache/f${i}.ts`] = 'export {};\n';
    const root = await tree(files);
    expect(checkImports(root, LAYERS, 3)).toEqual(['src/cache/ holds 4 files at one level (at most 3): split it into folders named for what they hold']);
  });
});

describe('this project', () => {
  it('keeps the import rules', () => {
    expect(checkImports(PROJECT)).toEqual([]);
  });
});
