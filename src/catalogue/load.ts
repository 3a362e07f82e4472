// Reads and validates a target catalogue, naming file, line and field path
// for every problem.
import { readFile } from 'node:fs/promises';
import { isMap, isScalar, isSeq, type LineCounter, type Node, type YAMLMap } from 'yaml';
import { reservedSectionReason, unsafeNameReason, unsafeUrlReason } from '../workspace/names.js';
import { UserError } from '../errors.js';
import { suggest } from '../suggest.js';
import { escapeInline } from '../text/untrusted.js';
import { expandVars, parseYaml, shownName, type UrlVars } from '../yaml.js';
import { shownTarget, targetNameProblem } from './target-name.js';
import type { Artifact, Catalogue, Target } from './types.js';

const TOP_KEYS = ['targets'];
/** Every key a target may have; the commands that read them: cache, lock, build (template, tools), push (image, registry, tags). */
const TARGET_KEYS = ['description', 'artifacts', 'template', 'tools', 'image', 'registry', 'tags'];
const ARTIFACT_KEYS = ['section', 'file', 'url', 'urls', 'sha256', 'size'];

export type { UrlVars };

class Reader {
  readonly warnings: string[] = [];
  constructor(
    readonly file: string,
    readonly lines: LineCounter,
    readonly vars: UrlVars,
  ) {}

  line(node: Node | null | undefined): number {
    const offset = node?.range?.[0];
    return offset === undefined ? 1 : this.lines.linePos(offset).line;
  }

  fail(node: Node | null | undefined, field: string, problem: string): never {
    throw new UserError(`${this.file}:${this.line(node)}: ${field} ${problem}`, 'Fix the target catalogue and run again.');
  }

  /** Fail on the first key of `node` that is not one of `known`, naming the nearest known key. */
  knownKeys(node: YAMLMap, field: string, known: readonly string[], what: string): void {
    for (const pair of node.items) {
      const key = isScalar(pair.key) ? String(pair.key.value) : '';
      if (known.includes(key)) continue;
      const near = suggest(key, known);
      const shown = escapeInline(key);
      const hint = near ? `did you mean "${near}"?` : `known keys: ${known.join(', ')}`;
      this.fail(pair.key as Node, field ? `${field}.${shown}` : shown, `is not ${what} key (${hint})`);
    }
  }

  /** ${name} substitution; an unknown or unset variable is an error. */
  expand(node: Node, field: string, value: string): string {
    return expandVars(value, this.vars, (problem) => this.fail(node, field, problem));
  }
}

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
  if (node === null || (isScalar(node) && node.value === null)) return { name, artifacts: [], extra: {} };
  if (!isMap(node)) r.fail(node, field, 'must be a mapping');
  r.knownKeys(node, field, TARGET_KEYS, 'a target');
  const extra: Record<string, unknown> = {};
  let description: string | undefined;
  let artifacts: Artifact[] = [];
  for (const pair of (node as YAMLMap).items) {
    const key = isScalar(pair.key) ? String(pair.key.value) : '';
    const value = pair.value as Node;
    if (key === 'artifacts') artifacts = readArtifacts(r, `${field}.artifacts`, value);
    else if (key === 'description') description = isScalar(value) ? String(value.value) : r.fail(value, `${field}.description`, 'must be a string');
    else extra[key] = value && 'toJSON' in value ? (value as { toJSON(): unknown }).toJSON() : value;
  }
  return { name, description, artifacts, extra };
}

function readArtifacts(r: Reader, field: string, node: Node | null): Artifact[] {
  if (node === null || (isScalar(node) && node.value === null)) return [];
  if (!isSeq(node)) r.fail(node, field, 'must be a list of artifacts');
  const seen = new Map<string, Artifact>();
  node.items.forEach((item, i) => {
    const a = readArtifact(r, `${field}[${i}]`, item as Node);
    const key = `${a.section}/${a.file}`;
    const prior = seen.get(key);
    if (prior && prior.sha256 !== a.sha256)
      r.fail(item as Node, `${field}[${i}]`, `declares ${key} again with another sha256 (first at line ${prior.origin.line})`);
    if (!prior) seen.set(key, a);
  });
  return [...seen.values()];
}

function readArtifact(r: Reader, field: string, node: Node): Artifact {
  if (!isMap(node)) r.fail(node, field, 'must be a mapping with section, file, url(s) and sha256');
  const get = (k: string) => node.get(k, true) as Node | undefined;
  r.knownKeys(node, field, ARTIFACT_KEYS, 'an artifact');
  const str = (k: string): string => {
    const n = get(k);
    if (!isScalar(n) || typeof n.value !== 'string') r.fail(n ?? node, `${field}.${k}`, n ? 'must be a string' : 'is required');
    return n.value as string;
  };
  const section = str('section');
  const sectionProblem = reservedSectionReason(section);
  if (sectionProblem) r.fail(get('section'), `${field}.section`, sectionProblem);
  const file = str('file');
  const fileProblem = unsafeNameReason(file);
  if (fileProblem) r.fail(get('file'), `${field}.file`, fileProblem);
  const sha256 = str('sha256').toLowerCase();
  if (!/^[0-9a-f]{64}$/.test(sha256)) r.fail(get('sha256'), `${field}.sha256`, 'must be 64 hexadecimal digits');
  let size: number | undefined;
  const sizeNode = get('size');
  if (sizeNode !== undefined) {
    const v = isScalar(sizeNode) ? sizeNode.value : undefined;
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) r.fail(sizeNode, `${field}.size`, 'must be a whole number of bytes');
    size = v;
  }
  const urls = readUrls(r, field, get('url'), get('urls'), node);
  return { section, file, urls, sha256, size, origin: { file: r.file, line: r.line(node) } };
}

function readUrls(r: Reader, field: string, one: Node | undefined, many: Node | undefined, at: Node): string[] {
  if (one && many) r.fail(many, `${field}.urls`, 'cannot be given together with url');
  const raw: Array<[Node, string]> = [];
  if (one) {
    if (!isScalar(one) || typeof one.value !== 'string') r.fail(one, `${field}.url`, 'must be a string');
    raw.push([one, `${field}.url`]);
  } else if (many) {
    if (!isSeq(many) || many.items.length === 0) r.fail(many, `${field}.urls`, 'must be a non-empty list of URLs');
    many.items.forEach((n, i) => {
      if (!isScalar(n) || typeof n.value !== 'string') r.fail(n as Node, `${field}.urls[${i}]`, 'must be a string');
      raw.push([n as Node, `${field}.urls[${i}]`]);
    });
  } else {
    r.fail(at, `${field}.url`, 'is required (or urls: [...])');
  }
  return raw.map(([n, f]) => {
    const url = r.expand(n, f, String((n as { value: unknown }).value));
    const problem = unsafeUrlReason(url);
    if (problem) r.fail(n, f, problem);
    return url;
  });
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
