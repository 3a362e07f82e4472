// Reads an image template file: YAML with line numbers, types checked against
// the schema, unknown keys refused (all of them at once), repository entries
// put in their parsed form.
import { lstat, readFile, realpath } from 'node:fs/promises';
import path from 'node:path';
import { isMap } from 'yaml';
import { UserError } from '../errors.js';
import { parseYaml, shownName } from '../yaml.js';
import { type TemplateVars, TemplateReader } from './reader.js';
import { REPO_DEFAULTS, TEMPLATE_SHAPE } from './schema.js';
import { locate } from './origin.js';
import type { ImageTemplate } from './types.js';

export { shownName } from '../yaml.js';
export type { TemplateVars } from './reader.js';

export interface LoadedTemplate {
  template: ImageTemplate;
  warnings: string[];
  /** Line a field path (`disk.partitions[0].end`) was written on, if it was. */
  lines: (fieldPath: string) => number | undefined;
}

/** Load an image template; `vars` fill ${mirror} and ${security_mirror} in repository URLs. */
export async function loadTemplate(file: string, vars: TemplateVars = {}): Promise<LoadedTemplate> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? String(err);
    throw new UserError(`cannot read image template ${shownName(file)}: ${code}`, 'Check the template path.');
  }
  return parseTemplate(text, file, vars);
}

/** The longest extends chain: deeper is surely a mistake. */
export const EXTENDS_DEPTH = 16;

export interface TemplateChain {
  /** Root first, the file asked for last. */
  files: string[];
  templates: ImageTemplate[];
  warnings: string[];
}

/**
 * Load `file` and the parents its `extends` names, root first. A parent is a
 * .yml or .yaml file inside the folder of the template that names it, reached
 * without a symbolic link; it must have the child's target. A cycle, a missing
 * parent or a different target is a UserError naming the chain.
 */
export async function loadTemplateChain(file: string, vars: TemplateVars = {}): Promise<TemplateChain> {
  const files: string[] = [];
  const templates: ImageTemplate[] = [];
  const warnings: string[] = [];
  const seen: string[] = [];
  let current = path.resolve(file);
  for (;;) {
    const real = await realpath(current).catch(() => current);
    const chain = () => [...files.slice().reverse(), current].map(shownName).join(' -> ');
    if (seen.includes(real)) throw new UserError(`extends makes a cycle: ${chain()}`, 'A template may not extend itself, directly or through its parents.');
    if (seen.length >= EXTENDS_DEPTH) throw new UserError(`extends chain is longer than ${EXTENDS_DEPTH} templates: ${chain()}`, 'Shorten the chain.');
    seen.push(real);
    const loaded = await loadTemplate(current, vars);
    const child = templates[0];
    if (child) checkSameTarget(loaded.template, current, child, files[0] as string);
    files.unshift(current);
    templates.unshift(loaded.template);
    warnings.unshift(...loaded.warnings);
    const parent = loaded.template.extends;
    if (parent === undefined) return { files, templates, warnings };
    current = await parentFile(parent, current, loaded.template);
  }
}

/** The parent an `extends` names, checked: relative, inside the child's folder, no symbolic link on the way, .yml or .yaml. */
async function parentFile(name: string, childFile: string, child: ImageTemplate): Promise<string> {
  const loc = locate(child, 'extends');
  const at = `${shownName(loc?.file ?? childFile)}:${loc?.line ?? 1}: extends`;
  const normal = path.posix.normalize(name);
  if (name === '' || name.includes('\0') || path.posix.isAbsolute(name) || normal === '..' || normal.startsWith('../'))
    throw new UserError(
      `${at} must name a file inside the template's folder, not "${shownName(name)}"`,
      'Put the parent template in the same folder or below it.',
    );
  if (!/\.ya?ml$/.test(name)) throw new UserError(`${at} "${shownName(name)}" is not a .yml or .yaml file`, 'Name the parent template file.');
  const dir = path.dirname(childFile);
  const file = path.resolve(dir, normal);
  // Every component below the folder, the file too, must be what it says: a link is refused, not followed.
  let walked = dir;
  for (const part of path.relative(dir, file).split(path.sep)) {
    walked = path.join(walked, part);
    const st = await lstat(walked).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT' || err.code === 'ENOTDIR')
        throw new UserError(`${at}: ${shownName(name)} does not exist (looked for ${shownName(file)})`, 'The path is relative to the template that names it.');
      throw err;
    });
    if (st.isSymbolicLink()) throw new UserError(`${at}: ${shownName(walked)} is a symbolic link; extends does not follow links`, 'Name the file itself.');
  }
  if (!(await lstat(file)).isFile()) throw new UserError(`${at}: ${shownName(file)} is not a regular file`, 'Name the parent template file.');
  return file;
}

/** A parent must build for the child's target: os, dist, arch and imageType alike. */
function checkSameTarget(parent: ImageTemplate, parentFile: string, child: ImageTemplate, childFile: string): void {
  for (const k of ['os', 'dist', 'arch', 'imageType'] as const) {
    const [p, c] = [parent.target?.[k], child.target?.[k]];
    if (p !== c) {
      const loc = locate(parent.target ?? parent, k);
      throw new UserError(
        `${shownName(loc?.file ?? parentFile)}:${loc?.line ?? 1}: target.${k} is ${p === undefined ? 'missing' : `"${p}"`}, but ${shownName(childFile)}, which extends it, has ${c === undefined ? 'none' : `"${c}"`}`,
        'A parent template must have the same target (os, dist, arch, imageType) as the templates that extend it.',
      );
    }
  }
}

/** Parse template text read from `file` (exported for tests). */
export function parseTemplate(text: string, file: string, vars: TemplateVars = {}): LoadedTemplate {
  const shown = shownName(file);
  const { doc, lines: counter } = parseYaml(text, shown);
  const reader: TemplateReader = new TemplateReader(path.resolve(file), shown, text, counter, vars, doc);
  const root = doc.contents;
  if (!isMap(root)) reader.fail(root, 'document', 'must be a mapping (image, target, disk, packageRepositories, systemConfig)');
  const raw = reader.object(root, '', TEMPLATE_SHAPE);
  if (reader.errors.length > 0) {
    const [first, ...more] = reader.errors;
    throw new UserError(
      more.length === 0 ? (first as string) : `image template ${shown} has ${reader.errors.length} problems:\n  ${reader.errors.join('\n  ')}`,
      'Fix the image template and run again; a key the toolkit does not know is never ignored.',
    );
  }
  for (const repo of (raw.packageRepositories ?? []) as Array<Record<string, unknown>>) fillRepoDefaults(repo);
  return { template: raw as ImageTemplate, warnings: reader.warnings, lines: (p) => reader.lines.get(p) };
}

/**
 * Give a repository entry its parsed form (RepoTemplate) in place, so its
 * recorded origin stays; a missing codename or url stays empty for
 * validation to report with the other problems.
 */
function fillRepoDefaults(r: Record<string, unknown>): void {
  r.codename ??= '';
  // Without trailing slashes, so `${mirror}` and `${mirror}/` name the same repository when merging.
  r.url = ((r.url as string | undefined) ?? '').replace(/\/+$/, '');
  r.component ??= [...REPO_DEFAULTS.component];
  r.priority ??= REPO_DEFAULTS.priority;
  r.trusted ??= REPO_DEFAULTS.trusted;
}
