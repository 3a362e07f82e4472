// Reads an image template file: YAML with line numbers, types checked against
// the schema, unknown keys refused (all of them at once), repository entries
// put in their parsed form.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { isMap } from 'yaml';
import { UserError } from '../errors.js';
import { parseYaml, shownName } from '../yaml.js';
import { type TemplateVars, TemplateReader } from './reader.js';
import { REPO_DEFAULTS, TEMPLATE_SHAPE } from './schema.js';
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
