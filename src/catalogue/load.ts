// Reads and validates a target catalogue, naming file, line and field path
// for every problem.
import { readFile } from 'node:fs/promises';
import { isMap, isScalar, type Node, type YAMLMap } from 'yaml';
import { UserError } from '../errors.js';
import { suggest } from '../suggest.js';
import { parseYaml, shownName, type UrlVars } from '../yaml.js';
import { readArtifacts } from './artifacts.js';
import { isEmpty, Reader } from './reader.js';
import { readTargetKey, TARGET_KEYS, type TypedKey } from './target-keys.js';
import { shownTarget, targetNameProblem } from './target-name.js';
import type { Catalogue, Target } from './types.js';

const TOP_KEYS = ['targets'];

export type { UrlVars };

/** Load a catalogue file; `vars` fill ${...} in URLs. */
export async function loadCatalogue(file: string, vars: UrlVars = {}): Promise<Catalogue> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new UserError(`cannot read target catalogue ${file}: ${(err as NodeJS.ErrnoException).code ?? err}`, 'Pass --targets FILE or set G3_TARGETS.');
  }
  return parseCatalogue(text, file, vars);
}

/** Parse catalogue text (exported for tests). */
export function parseCatalogue(text: string, file: string, vars: UrlVars = {}): Catalogue {
  const display = shownName(file);
  const { doc, lines } = parseYaml(text, display);
  const r: Reader = new Reader(display, lines, vars);
  const root = doc.contents;
  if (!isMap(root)) r.fail(root, 'document', 'must be a mapping with a "targets" key');
  r.knownKeys(root, '', TOP_KEYS, 'a top-level catalogue');
  const targetsNode = root.get('targets', true) as Node | undefined;
  if (!isMap(targetsNode)) r.fail(targetsNode ?? root, 'targets', 'must be a mapping of target names to targets');
  const targets = new Map<string, Target>();
  for (const pair of targetsNode.items) {
    const nameNode = pair.key as Node;
    const name = isScalar(nameNode) ? String(nameNode.value) : '';
    const problem = targetNameProblem(name);
    if (problem) r.fail(nameNode, `targets.${shownTarget(name)}`, problem);
    targets.set(name, readTarget(r, name, pair.value as Node));
  }
  return { file, targets, warnings: r.warnings };
}

function readTarget(r: Reader, name: string, node: Node | null): Target {
  const field = `targets.${name}`;
  const target: Target = { name, artifacts: [] };
  if (isEmpty(node)) return target;
  if (!isMap(node)) r.fail(node, field, 'must be a mapping');
  r.knownKeys(node, field, TARGET_KEYS, 'a target');
  for (const pair of (node as YAMLMap).items) {
    const keyNode = pair.key as Node;
    const key = (isScalar(keyNode) ? String(keyNode.value) : '') as (typeof TARGET_KEYS)[number];
    const value = pair.value as Node | null;
    if (key === 'artifacts') target.artifacts = readArtifacts(r, `${field}.artifacts`, value);
    else if (key === 'description') target.description = isScalar(value) ? String(value.value) : r.fail(value, `${field}.description`, 'must be a string');
    else setKey(target, key, readTargetKey(r, name, key, keyNode, value));
  }
  return target;
}

/** Set one typed key (a helper, so the key and its value keep one type). */
function setKey<K extends TypedKey>(target: Target, key: K, value: Target[K]): void {
  if (value !== undefined) target[key] = value;
}

/** The named target, or a UserError listing the known ones (a name that breaks the target-name rule is refused as such). */
export function findTarget(cat: Catalogue, name: string): Target {
  const t = cat.targets.get(name);
  if (!t) {
    const problem = targetNameProblem(name);
    if (problem) throw new UserError(`target ${shownTarget(name)} ${problem}`, `Give the name of a target in ${cat.file}.`);
    const known = [...cat.targets.keys()].sort();
    const near = suggest(name, known);
    throw new UserError(`unknown target "${name}" in ${cat.file}`, `${near ? `Did you mean "${near}"? ` : ''}Known targets: ${known.join(', ') || '(none)'}.`);
  }
  return t;
}
