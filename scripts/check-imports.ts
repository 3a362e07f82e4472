// The import rules of src/, checked by `npm run lint`:
// - no cycle between files, and none between the top-level folders of src/;
// - layers import only downward (entry points -> hooks -> cli -> pipeline ->
//   commands -> stages -> core); a folder not placed in a layer is an error;
// - the entry points (builder.ts, hooks/main.ts) reach the library only
//   through src/cli/ and src/hooks/;
// - a module of src/commands/ never imports another one (a command is
//   orchestration; what two commands share lives in a stage below);
// - no folder of src/ holds more than MAX_FILES files at one level.
// Imports are read with TypeScript's own pre-processor, so type-only imports,
// re-exports and dynamic imports all count.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

/** From the top down; a folder may import its own layer (without cycles) and every layer below. */
export const LAYERS: readonly (readonly string[])[] = [
  ['hooks'],
  ['cli'],
  ['pipeline'],
  ['commands'],
  // The stages, roughly in pipeline order from the top.
  ['inventory', 'inspect', 'baseline', 'compose', 'cache', 'packages', 'lock', 'provider', 'template', 'catalogue'],
  // The core: '.' is the files directly in src/ (errors, exec, env, yaml, ...).
  ['layout', 'registry', 'docker', 'diskimage', 'repo', 'resolve', 'deb', 'config', 'log', 'net', 'fs', '.', 'units', 'text'],
];

/** The most files a folder of src/ may hold at one level. */
export const MAX_FILES = 14;

/** Folders whose modules never import each other. */
export const ISOLATED: readonly string[] = ['commands'];

const ENTRY_POINTS = ['builder.ts', 'hooks/main.ts'];
const ENTRY_MAY_IMPORT = ['cli', 'hooks'];

interface Edge {
  from: string;
  to: string;
  line: number;
}

function walk(dir: string, out: string[]): void {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) walk(p, out);
    else if (e.isFile() && e.name.endsWith('.ts')) out.push(p);
  }
}

/** The relative imports of one file, resolved to project-relative .ts paths. */
function importsOf(root: string, rel: string): Edge[] {
  const text = readFileSync(path.join(root, rel), 'utf8');
  const info = ts.preProcessFile(text, true, true);
  const edges: Edge[] = [];
  for (const ref of info.importedFiles) {
    if (!ref.fileName.startsWith('.')) continue;
    let target = path.normalize(path.join(path.dirname(rel), ref.fileName));
    target = target.replace(/\.js$/, '.ts');
    if (!target.endsWith('.ts')) target += '.ts';
    const line = text.slice(0, ref.pos).split('\n').length;
    edges.push({ from: rel, to: target, line });
  }
  return edges;
}

/** The top-level folder of src/ a file belongs to ('.' for files directly in src/), or undefined outside src/. */
export function folderOf(rel: string): string | undefined {
  const parts = rel.split(path.sep);
  if (parts[0] !== 'src') return undefined;
  return parts.length > 2 ? (parts[1] as string) : '.';
}

/** Strongly connected components with more than one member (or a self-loop): the cycles. */
function cycles(nodes: Iterable<string>, next: (n: string) => Iterable<string>): string[][] {
  let counter = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, counter);
    low.set(v, counter);
    counter++;
    stack.push(v);
    onStack.add(v);
    let selfLoop = false;
    for (const w of next(v)) {
      if (w === v) selfLoop = true;
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v) as number, low.get(w) as number));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v) as number, index.get(w) as number));
    }
    if (low.get(v) === index.get(v)) {
      const c: string[] = [];
      let w: string;
      do {
        w = stack.pop() as string;
        onStack.delete(w);
        c.push(w);
      } while (w !== v);
      if (c.length > 1 || selfLoop) found.push(c.sort());
    }
  };
  for (const n of nodes) if (!index.has(n)) visit(n);
  return found;
}

/** Every broken rule under `root`, one line each; empty when the imports are in order. */
export function checkImports(root: string, layers: readonly (readonly string[])[] = LAYERS, maxFiles = MAX_FILES): string[] {
  const problems: string[] = [];
  const files: string[] = [];
  walk(path.join(root, 'src'), files);
  const rels = files.map((f) => path.relative(root, f)).sort();
  const entries = ENTRY_POINTS.filter((e) => rels.includes(e) || safeExists(path.join(root, e)));
  const edges = [...rels, ...entries].flatMap((r) => importsOf(root, r));
  const rank = new Map<string, number>();
  layers.forEach((names, i) => {
    for (const n of names) rank.set(n, i);
  });

  // Files at one level.
  const perFolder = new Map<string, number>();
  for (const r of rels) perFolder.set(path.dirname(r), (perFolder.get(path.dirname(r)) ?? 0) + 1);
  for (const [dir, n] of [...perFolder].sort())
    if (n > maxFiles) problems.push(`${dir}/ holds ${n} files at one level (at most ${maxFiles}): split it into folders named for what they hold`);

  // Every folder in a layer.
  for (const f of new Set(rels.map((r) => folderOf(r) as string)))
    if (!rank.has(f)) problems.push(`src/${f === '.' ? '' : `${f}/`} is in no layer: add it to LAYERS in scripts/check-imports.ts`);

  const byFile = new Map<string, Set<string>>();
  const byFolder = new Map<string, Set<string>>();
  for (const e of edges) {
    if (!byFile.has(e.from)) byFile.set(e.from, new Set());
    byFile.get(e.from)?.add(e.to);
    const a = folderOf(e.from);
    const b = folderOf(e.to);
    if (a === undefined) {
      // An entry point.
      if (b === undefined || !ENTRY_MAY_IMPORT.includes(b))
        problems.push(`${e.from}:${e.line}: an entry point imports ${e.to}; it may only use ${ENTRY_MAY_IMPORT.map((x) => `src/${x}/`).join(' and ')}`);
      continue;
    }
    if (b === undefined) {
      problems.push(`${e.from}:${e.line}: imports ${e.to}, outside src/`);
      continue;
    }
    if (a === b) {
      if (ISOLATED.includes(a) && path.dirname(e.from) === path.join('src', a) && path.dirname(e.to) === path.join('src', a))
        problems.push(`${e.from}:${e.line}: imports ${e.to}: a command never calls another; move what both need into a stage`);
      continue;
    }
    if (!byFolder.has(a)) byFolder.set(a, new Set());
    byFolder.get(a)?.add(b);
    const ra = rank.get(a);
    const rb = rank.get(b);
    if (ra !== undefined && rb !== undefined && rb < ra)
      problems.push(`${e.from}:${e.line}: imports ${e.to} from a higher layer (src/${b}/ is above src/${a === '.' ? '' : `${a}/`}); move the shared part down`);
  }

  for (const c of cycles(byFile.keys(), (n) => byFile.get(n) ?? [])) problems.push(`import cycle between files: ${c.join(' <-> ')}`);
  for (const c of cycles(byFolder.keys(), (n) => byFolder.get(n) ?? [])) {
    const inCycle = new Set(c);
    const witness = edges
      .filter((e) => {
        const a = folderOf(e.from);
        const b = folderOf(e.to);
        return a !== undefined && b !== undefined && a !== b && inCycle.has(a) && inCycle.has(b);
      })
      .map((e) => `${e.from}:${e.line} -> ${e.to}`);
    problems.push(`import cycle between folders of src/: ${c.join(' <-> ')}\n  ${witness.join('\n  ')}`);
  }
  return problems;
}

function safeExists(p: string): boolean {
  try {
    readFileSync(p);
    return true;
  } catch {
    return false;
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
  const problems = checkImports(root);
  for (const p of problems) process.stderr.write(`check-imports: ${p}\n`);
  if (problems.length > 0) process.exitCode = 1;
  else process.stdout.write('check-imports: no import cycles, layers import downward, folders within size\n');
}
