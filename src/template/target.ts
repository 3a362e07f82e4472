// The template of a catalogue target: the user's file merged over the default
// template of its provider and image type, validated as a whole.
import { access, readdir } from 'node:fs/promises';
import path from 'node:path';
import type { Target } from '../catalogue/types.js';
import { UserError } from '../errors.js';
import { loadTemplate, type TemplateVars } from './load.js';
import { mergeTemplates } from './merge.js';
import { shownName } from '../yaml.js';
import { locate } from './origin.js';
import { providerId } from './provider.js';
import type { AdditionalFile, ImageTemplate } from './types.js';
import { validateTemplate } from './validate.js';

export interface TargetTemplate {
  /** The user template, absolute. */
  file: string;
  user: ImageTemplate;
  defaults: ImageTemplate;
  merged: ImageTemplate;
  /** `{os}-{dist}-{arch}`. */
  providerId: string;
  warnings: string[];
}

export interface TargetTemplateOptions {
  catalogueFile: string;
  target: Target;
  projectRoot: string;
  vars: TemplateVars;
}

const NAME_PART = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** Load, merge and validate a target's template; any error is one UserError listing every problem. */
export async function loadTargetTemplate(opts: TargetTemplateOptions): Promise<TargetTemplate> {
  const file = await templateFile(opts.catalogueFile, opts.target);
  const user = await loadTemplate(file, opts.vars);
  const defaultsFile = await defaultTemplateFile(user.template, file, opts.projectRoot);
  const defaults = await loadTemplate(defaultsFile, opts.vars);
  const merged = mergeTemplates(defaults.template, user.template);
  const result = validateTemplate(merged, `${shownName(file)} (merged with ${shownName(defaultsFile)})`);
  result.errors.push(...(await missingLocalFiles(merged)));
  if (result.errors.length > 0) {
    const count = result.errors.length === 1 ? '1 problem' : `${result.errors.length} problems`;
    throw new UserError(`image template of target ${opts.target.name} has ${count}:\n  ${result.errors.join('\n  ')}`, 'Fix the template and run again.');
  }
  return {
    file,
    user: user.template,
    defaults: defaults.template,
    merged,
    providerId: providerId(merged),
    warnings: [...defaults.warnings, ...user.warnings, ...result.warnings],
  };
}

/** Where an additionalFiles entry's `local` file is: beside the template that named it. */
export function additionalFilePath(f: AdditionalFile, fallbackDir: string): string | undefined {
  if (!f.local) return undefined;
  const from = locate(f)?.file;
  return path.resolve(from ? path.dirname(from) : fallbackDir, f.local);
}

/** The target's template path, resolved against the catalogue's directory. */
async function templateFile(catalogueFile: string, target: Target): Promise<string> {
  const raw = target.extra.template;
  if (raw === undefined || raw === null) {
    throw new UserError(`target ${target.name} in ${shownName(catalogueFile)} has no template`, 'Add `template: <file>.yml` to the target (a path relative to the catalogue).');
  }
  if (typeof raw !== 'string' || raw.trim() === '') {
    throw new UserError(`${shownName(catalogueFile)}: targets.${target.name}.template must be a file path`, 'For example: template: templates/minimal.yml');
  }
  const file = path.resolve(path.dirname(path.resolve(catalogueFile)), raw);
  if (!(await exists(file))) {
    throw new UserError(`template of target ${target.name} not found: ${raw} (looked for ${file})`, `The path is relative to ${shownName(path.dirname(path.resolve(catalogueFile)))}/.`);
  }
  return file;
}

/** `<projectRoot>/defaults/templates/{os}-{dist}-{arch}-{imageType}.yml` for the user template's target. */
async function defaultTemplateFile(t: ImageTemplate, file: string, projectRoot: string): Promise<string> {
  const target = t.target ?? {};
  const parts = (['os', 'dist', 'arch', 'imageType'] as const).map((k) => [k, target[k]] as const);
  const where = locate(t.target ?? t) ?? { file, line: 1 };
  const at = `${shownName(where.file)}:${where.line}`;
  for (const [k, v] of parts) {
    if (v === undefined || !NAME_PART.test(v)) {
      const why = v === undefined ? 'is required' : `"${v}" is not a valid name`;
      throw new UserError(`${at}: target.${k} ${why}: it selects the default template`, 'Set target {os, dist, arch, imageType}, e.g. debian / debian13 / x86_64 / raw.');
    }
  }
  const dir = path.join(projectRoot, 'defaults', 'templates');
  const name = `${parts.map(([, v]) => v).join('-')}.yml`;
  const found = path.join(dir, name);
  if (await exists(found)) return found;
  const available = (await readdir(dir).catch(() => [] as string[])).filter((n) => n.endsWith('.yml')).map((n) => n.slice(0, -4));
  throw new UserError(
    `${at}: no default template for target ${parts.map(([, v]) => v).join('/')} (looked for ${shownName(found)})`,
    `Available os-dist-arch-imageType: ${available.sort().join(', ') || '(none)'}.`,
  );
}

/** Errors for additionalFiles whose local file does not exist. */
async function missingLocalFiles(t: ImageTemplate): Promise<string[]> {
  const errors: string[] = [];
  for (const [i, f] of (t.systemConfig?.additionalFiles ?? []).entries()) {
    // Paths validation already refused (absolute, escaping) are not looked up.
    if (!f.local || path.isAbsolute(f.local) || path.normalize(f.local).split(path.sep)[0] === '..') continue;
    const local = additionalFilePath(f, '.') as string;
    if (await exists(local)) continue;
    const loc = locate(f, 'local');
    const at = loc ? `${shownName(loc.file)}:${loc.line}: ${loc.path}` : `systemConfig.additionalFiles[${i}].local`;
    errors.push(`${at} names ${f.local}, which does not exist (looked for ${local})`);
  }
  return errors;
}

async function exists(file: string): Promise<boolean> {
  return access(file).then(
    () => true,
    () => false,
  );
}
