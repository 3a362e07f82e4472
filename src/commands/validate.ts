// The `validate` command: load a target's image template, merge it over the
// default template of its provider and check the result.
import { findTarget } from '../catalogue/load.js';
import type { Settings } from '../config/load.js';
import { UserError } from '../errors.js';
import type { Emit } from '../log/events.js';
import { loadTargetTemplate } from '../template/target.js';
import { originsOf } from '../template/origin.js';
import { shownName } from '../yaml.js';
import type { ImageTemplate } from '../template/types.js';
import { openCatalogue } from '../catalogue/open.js';
import { openInitramfsTarget } from '../packages/initramfs-target.js';

export interface ValidateOptions {
  settings: Settings;
  target: string;
  /** Return the merged template instead of the user's own. */
  merged: boolean;
  emit: Emit;
}

export interface ValidateResult {
  target: string;
  /** The user template, absolute. */
  file: string;
  providerId: string;
  /** Also emitted as warning events. */
  warnings: string[];
  template: ImageTemplate;
  /** The extends chain, root first, the target's template last (one file when it extends nothing). */
  chain: string[];
  /** With merged: for each value of the merged template, the file and line it came from. */
  origins?: Record<string, string>;
  /** The ISO's initramfs template (systemConfig.initramfs), validated too: its derived target and file. */
  initramfs?: { target: string; file: string };
}

/** Validate a target's template; problems are a UserError listing each with file:line. */
export async function validate(opts: ValidateOptions): Promise<ValidateResult> {
  const s = opts.settings;
  const cat = await openCatalogue(s, opts.emit);
  const target = findTarget(cat, opts.target);
  if (target.template === undefined) {
    throw new UserError(
      `target ${target.name} has no template, so there is nothing to validate`,
      `Add \`template: <file>.yml\` to targets.${target.name} in ${cat.file}.`,
    );
  }
  const t = await loadTargetTemplate({
    catalogueFile: cat.file,
    target,
    projectRoot: s.projectRoot,
    vars: { mirror: s.mirror, security_mirror: s.securityMirror, work_dir: s.workDir },
  });
  for (const w of t.warnings) opts.emit({ type: 'warning', message: w });
  const derived = await openInitramfsTarget(s, cat, { target, template: t.merged as ImageTemplate, templateFile: t.file }, opts.emit);
  return {
    target: target.name,
    file: t.file,
    providerId: t.providerId,
    warnings: t.warnings,
    template: opts.merged ? t.merged : t.user,
    chain: t.chain,
    ...(opts.merged ? { origins: originsOf(t.merged, shownName) } : {}),
    ...(derived ? { initramfs: { target: derived.target.name, file: derived.templateFile } } : {}),
  };
}
