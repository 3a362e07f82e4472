// The template of a catalogue target: the user's file merged over the default
// template of its provider and image type, validated as a whole.
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Target } from '../catalogue/types.js';
import { UserError } from '../errors.js';
import { ignoreNotFound } from '../fs/safe.js';
import { shownName } from '../yaml.js';
import { loadTemplate, loadTemplateChain, type TemplateVars } from './load.js';
import { additionalFileSource, declaringDir, localPathProblem, resolveKeyFile } from './local-files.js';
import { mergeChain, mergeOverDefaults } from './merge.js';
import { locate } from './origin.js';
import { providerId } from './provider.js';
import type { ImageTemplate } from './types.js';
import { validateTemplate } from './validate.js';

export { additionalFilePath } from './local-files.js';

export interface TargetTemplate {
  /** The user template, absolute. */
  file: string;
  /** The user template with the parents its extends chain names merged in (child over parent). */
  user: ImageTemplate;
  /** The extends chain, root first; the user template last. */
  chain: string[];
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
  const chain = await loadTemplateChain(file, opts.vars);
  const user = { template: mergeChain(chain.templates), warnings: chain.warnings };
  const defaultsFile = await defaultTemplateFile(user.template, file, opts.projectRoot);
  const defaults = await loadTemplate(defaultsFile, opts.vars);
  const merged = mergeOverDefaults(defaults.template, user.template);
  const result = validateTemplate(merged, `${shownName(file)} (merged with ${shownName(defaultsFile)})`);
  result.errors.push(...(await hostFileProblems(merged, file, chain.files, opts.projectRoot)));
  if (result.errors.length > 0) {
    const count = result.errors.length === 1 ? '1 problem' : `${result.errors.length} problems`;
    throw new UserError(`image template of target ${opts.target.name} has ${count}:\n  ${result.errors.join('\n  ')}`, 'Fix the template and run again.');
  }
  return {
    file,
    chain: chain.files,
    user: user.template,
    defaults: defaults.template,
    merged,
    providerId: providerId(merged),
    warnings: [...defaults.warnings, ...user.warnings, ...result.warnings],
  };
}

/** The target's template path (a non-empty string: the catalogue loader checks it), resolved against the catalogue's directory. */
async function templateFile(catalogueFile: string, target: Target): Promise<string> {
  const raw = target.template?.value;
  if (raw === undefined) {
    throw new UserError(
      `target ${target.name} in ${shownName(catalogueFile)} has no template`,
      'Add `template: <file>.yml` to the target (a path relative to the catalogue).',
    );
  }
  const file = path.resolve(path.dirname(path.resolve(catalogueFile)), raw);
  if (!(await exists(file))) {
    throw new UserError(
      `template of target ${target.name} not found: ${raw} (looked for ${file})`,
      `The path is relative to ${shownName(path.dirname(path.resolve(catalogueFile)))}/.`,
    );
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
      throw new UserError(
        `${at}: target.${k} ${why}: it selects the default template`,
        'Set target {os, dist, arch, imageType}, e.g. debian / debian13 / x86_64 / raw.',
      );
    }
  }
  const dir = path.join(projectRoot, 'defaults', 'templates');
  const name = `${parts.map(([, v]) => v).join('-')}.yml`;
  const found = path.join(dir, name);
  if (await exists(found)) return found;
  const available = ((await ignoreNotFound(readdir(dir))) ?? []).filter((n) => n.endsWith('.yml')).map((n) => n.slice(0, -4));
  throw new UserError(
    `${at}: no default template for target ${parts.map(([, v]) => v).join('/')} (looked for ${shownName(found)})`,
    `Available os-dist-arch-imageType: ${available.sort().join(', ') || '(none)'}.`,
  );
}

/**
 * Problems with the host files the template names, found the way the build
 * finds them (the same functions): additionalFiles that are missing, not
 * regular files, or outside their template's folder after links are resolved;
 * keyrings missing or outside the template's folder and the toolkit's keyrings.
 */
async function hostFileProblems(t: ImageTemplate, file: string, chain: readonly string[], projectRoot: string): Promise<string[]> {
  const errors: string[] = [];
  const collect = async (check: Promise<unknown>) => {
    try {
      await check;
    } catch (err) {
      if (!(err instanceof UserError)) throw err;
      errors.push(err.message);
    }
  };
  const at = (obj: object, key: string, fallback: string) => {
    const loc = locate(obj, key);
    return loc ? `${shownName(loc.file)}:${loc.line}: ${loc.path}` : fallback;
  };
  for (const [i, f] of (t.systemConfig?.additionalFiles ?? []).entries()) {
    // Paths validation already refused (absolute, escaping) are not looked up.
    if (!f.local || localPathProblem(f.local)) continue;
    await collect(additionalFileSource(f, path.dirname(file), at(f, 'local', `systemConfig.additionalFiles[${i}].local`)));
  }
  for (const [i, r] of (t.packageRepositories ?? []).entries()) {
    // No keyring is read for a trusted repository without one; a URL is refused by validation.
    if ((r.trusted && !r.pkey) || (r.pkey && /^[a-z]+:\/\//i.test(r.pkey))) continue;
    await collect(resolveKeyFile(r.pkey, declaringDir(r, chain, file), projectRoot, at(r, 'pkey', `packageRepositories[${i}].pkey`).replace(/\.pkey$/, '')));
  }
  return errors;
}

async function exists(file: string): Promise<boolean> {
  return (await ignoreNotFound(stat(file))) !== undefined;
}
